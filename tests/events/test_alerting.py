"""Alert policy on real storage and a real HTTP receiver: dedupe, rate limit, escalation, retries."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from klikkflow_pipelines.events.alerting import Alerter, AlertPolicy, EscalationLevel
from klikkflow_pipelines.tenancy.storage import create_storage_engine
from resources.notifier import NotifierResource


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _alerter(store_url: str, base: str, policy: AlertPolicy, clock: Clock) -> Alerter:
    notifier = NotifierResource(slack_webhook_url=f"{base}/slack", teams_webhook_url=f"{base}/teams")
    return Alerter(create_storage_engine(store_url), policy, notifier, tenant="acme", clock=clock)


def _fail(alerter: Alerter, run: int, error: str = "ledger unavailable", workflow: str = "orders") -> None:
    alerter.record_failure(
        workflow=workflow,
        job_name=workflow,
        run_id=f"run-{run}",
        error=error,
        event_id=None,
        will_retry=False,
    )


def test_repeated_identical_failures_are_deduplicated_and_rate_limited(store_url, receiver) -> None:
    received, base = receiver
    clock = Clock()
    policy = AlertPolicy(
        levels=[EscalationLevel(channels=["slack"])], dedupe_window_seconds=300, rate_limit_count=2
    )
    alerter = _alerter(store_url, base, policy, clock)
    _fail(alerter, 1)
    clock.now += 10
    _fail(alerter, 2)  # same error within the window: suppressed
    assert len(received.bodies("slack")) == 1
    clock.now += 10
    _fail(alerter, 3, error="schema mismatch in column 7")  # a different error is news
    clock.now += 10
    _fail(alerter, 4, error="timeout after 30 s")  # but the workflow's rate limit (2) is reached
    assert len(received.bodies("slack")) == 2
    statuses = [(d["status"], d["last_error"]) for d in alerter.deliveries("orders")]
    assert [s for s, _ in statuses] == ["delivered", "suppressed", "delivered", "suppressed"]
    assert "de-duplication" in statuses[1][1] and "rate limit" in statuses[3][1]
    # Other workflows have their own budget.
    _fail(alerter, 5, workflow="invoices")
    assert len(received.bodies("slack")) == 3


def test_unresolved_incident_escalates_after_minutes_and_success_resolves(store_url, receiver) -> None:
    received, base = receiver
    clock = Clock()
    policy = AlertPolicy(
        levels=[EscalationLevel(channels=["slack"]), EscalationLevel(channels=["teams"], after_minutes=30)]
    )
    alerter = _alerter(store_url, base, policy, clock)
    _fail(alerter, 1)
    clock.now += 29 * 60
    assert alerter.escalate_unresolved() == []
    clock.now += 2 * 60
    assert len(alerter.escalate_unresolved()) == 1
    assert alerter.escalate_unresolved() == []  # escalates once per level
    (card,) = [json.loads(b) for b in received.bodies("teams")]
    assert card["title"].startswith("[ESCALATED]") and "unresolved for 31 minutes" in card["text"]
    assert alerter.record_success("orders") is True
    clock.now += 3600
    _fail(alerter, 2)  # a new incident starts at level 0 again
    assert len(received.bodies("slack")) == 2 and len(received.bodies("teams")) == 1


def test_failed_delivery_is_retried_with_backoff_until_delivered(store_url, receiver) -> None:
    received, base = receiver
    received.fail_next["slack"] = 2
    clock = Clock()
    policy = AlertPolicy(levels=[EscalationLevel(channels=["slack"])], backoff_base_seconds=60)
    alerter = _alerter(store_url, base, policy, clock)
    _fail(alerter, 1)
    (delivery,) = alerter.deliveries()
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert delivery["next_attempt_at"] == pytest.approx(clock.now + 60)
    assert "503" in delivery["last_error"]
    assert alerter.retry_due_deliveries() == 0  # backoff not over yet
    clock.now += 61
    assert alerter.retry_due_deliveries() == 1
    (delivery,) = alerter.deliveries()
    assert delivery["next_attempt_at"] == pytest.approx(clock.now + 120)  # doubled
    clock.now += 121
    alerter.retry_due_deliveries()
    (delivery,) = alerter.deliveries()
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    assert len(received.bodies("slack")) == 1


def test_delivery_gives_up_after_max_attempts(store_url, receiver) -> None:
    received, base = receiver
    received.fail_next["slack"] = 100
    clock = Clock()
    policy = AlertPolicy(
        levels=[EscalationLevel(channels=["slack"])], max_delivery_attempts=2, backoff_base_seconds=1
    )
    alerter = _alerter(store_url, base, policy, clock)
    _fail(alerter, 1)
    clock.now += 5
    alerter.retry_due_deliveries()
    (delivery,) = alerter.deliveries()
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)


def test_policy_rejects_unknown_channels_and_untriggered_escalations() -> None:
    with pytest.raises(ValidationError, match="unknown channel"):
        EscalationLevel(channels=["pager"])
    with pytest.raises(ValidationError, match="after_failures or after_minutes"):
        AlertPolicy(levels=[EscalationLevel(channels=["slack"]), EscalationLevel(channels=["teams"])])
