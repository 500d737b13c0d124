"""End to end: webhook event → run → failure → notifications → escalation → dead letter → replay → success.

Real pieces: the webhook app under uvicorn, the tenant's SQLite storage, a
persistent Dagster instance with run retries, the sensors evaluated with
Dagster's context builders, runs executed with ``execute_in_process``, a local
HTTP receiver for Slack/Teams/webhook and an aiosmtpd server for email.
The automatic retries are re-executions of the failed run (``dg.execute_job`` with
``ReexecutionOptions``) carrying the tags Dagster's retry daemon gives them
(parent's tags plus ``dagster/parent_run_id``, ``dagster/root_run_id``, ``dagster/retry_number``).
"""

from __future__ import annotations

import json

import dagster as dg
import httpx
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, RETRY_NUMBER_TAG, ROOT_RUN_ID_TAG, WILL_RETRY_TAG
from typer.testing import CliRunner

from klikkflow_pipelines.cli.dlq import dlq_app
from klikkflow_pipelines.events.alerting import AlertPolicy, EscalationLevel
from klikkflow_pipelines.events.resources import EventStoreResource, TriggerEventResource
from klikkflow_pipelines.events.signing import secret_env_name, signature_matches, signed_headers
from klikkflow_pipelines.events.webhook_app import create_webhook_app
from klikkflow_pipelines.tenancy.storage import tenant_storage_url
from resources.notifier import NotifierResource
from sensors.outbox_events import REPLAY_OF_RUN_TAG, build_outbox_sensor
from sensors.run_alerts import build_alert_sensors

from .event_jobs import order_job

POLICY = AlertPolicy(
    levels=[
        EscalationLevel(channels=["slack"]),
        EscalationLevel(channels=["teams", "webhook"], after_failures=2),
        EscalationLevel(channels=["oncall_email"], after_failures=3, after_minutes=30),
    ],
    dedupe_window_seconds=600,
)


def _failure_event(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent:
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return records[-1].dagster_event


def test_event_to_failure_to_escalation_to_dead_letter_to_replay(
    tmp_path, monkeypatch, receiver, smtp_server, serve_app
) -> None:
    monkeypatch.setenv("KLIKKFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(secret_env_name("acme", "order_job"), "orders-secret")
    received, base = receiver
    mails, smtp_port = smtp_server
    store = EventStoreResource(url=tenant_storage_url("acme"))
    notifier = NotifierResource(
        slack_webhook_url=f"{base}/slack",
        teams_webhook_url=f"{base}/teams",
        webhook_url=f"{base}/webhook",
        webhook_secret="alerts-secret",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_starttls=False,
        oncall_email_to=["oncall@acme.example"],
        run_link_base="https://dagster.acme.example/t/acme",
    )
    resources = {"event_store": store, "notifier": notifier}
    outbox_sensor = build_outbox_sensor(order_job, tags={"klikkflow/tenant": "acme"})
    failure_sensor, success_sensor, _delivery_sensor = build_alert_sensors(tenant="acme", policy=POLICY)
    defs = dg.Definitions(
        jobs=[order_job],
        sensors=[outbox_sensor, failure_sensor, success_sensor],
        resources={**resources, "trigger_event": TriggerEventResource()},
    )
    job = defs.resolve_job_def("order_job")
    ledger = tmp_path / "ledger"  # missing: every run fails until it exists

    # 1. A signed webhook is accepted by the real HTTP app (default per-tenant storage resolver).
    with serve_app(create_webhook_app()) as hooks:
        body = json.dumps({"order_id": 17, "ledger": str(ledger)}).encode()
        accepted = httpx.post(
            f"{hooks}/acme/order_job", content=body, headers=signed_headers(b"orders-secret", body)
        )
    assert accepted.status_code == 202
    event_id = accepted.json()["event_id"]

    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 2}}) as instance:
        # 2. The outbox sensor turns it into a run request (run_key = event id).
        tick = outbox_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        (request,) = tick.run_requests
        assert request.run_key == event_id

        # 3. The run and its two automatic retries fail; the failure sensor sees each one.
        run_ids: list[str] = []
        for attempt in range(3):
            tags = dict(request.tags)
            if attempt:
                tags |= {
                    PARENT_RUN_ID_TAG: run_ids[-1],
                    ROOT_RUN_ID_TAG: run_ids[0],
                    RETRY_NUMBER_TAG: str(attempt),
                }
            result = dg.execute_job(
                dg.reconstructable(order_job),
                instance=instance,
                run_config=request.run_config,
                tags=tags,
                reexecution_options=dg.ReexecutionOptions(run_ids[-1]) if attempt else None,
            )
            assert not result.success
            run = instance.get_run_by_id(result.run_id)
            assert run.tags[WILL_RETRY_TAG] == ("true" if attempt < 2 else "false")
            run_ids.append(run.run_id)
            context = dg.build_run_status_sensor_context(
                sensor_name=failure_sensor.name,
                dagster_event=_failure_event(instance, run.run_id),
                dagster_instance=instance,
                dagster_run=run,
                resources=resources,
            ).for_run_failure()
            failure_sensor(context)

        # First failure → Slack with the run link; second → escalated to Teams and signed webhook;
        # third → on-call email.
        slack = [json.loads(b)["text"] for b in received.bodies("slack")]
        assert len(slack) == 1
        assert f"https://dagster.acme.example/t/acme/runs/{run_ids[0]}" in slack[0]
        assert "ledger" in slack[0] and "will retry" in slack[0]
        teams = [json.loads(b) for b in received.bodies("teams")]
        assert len(teams) == 1 and teams[0]["title"].startswith("[ESCALATED]")
        (webhook_call,) = [(h, b) for c, h, b in received.received if c == "webhook"]
        headers, payload = webhook_call
        assert signature_matches(
            b"alerts-secret", headers["x-klikkflow-timestamp"], payload, headers["x-klikkflow-signature"]
        )
        assert json.loads(payload)["consecutive_failures"] == 2
        assert len(mails) == 1
        recipients, mail = mails[0]
        assert recipients == ["oncall@acme.example"]
        assert "3x in a row" in mail["Subject"]
        assert "dead-letter queue" in mail.get_payload(decode=True).decode()

        # 4. Only the last failure (no retries left) dead-lettered the event, with the reason.
        cli = CliRunner(env={"COLUMNS": "300"})
        listed = cli.invoke(dlq_app, ["list", "--tenant", "acme"])
        assert listed.exit_code == 0, listed.output
        assert event_id in listed.output and "1 dead letter(s)" in listed.output
        entry = store.dead_letters().list()[0]
        assert entry.failed_run_id == run_ids[-1] and entry.attempts == 3
        assert "ledger" in entry.reason and "unavailable" in entry.reason
        shown = cli.invoke(dlq_app, ["show", str(entry.id), "--tenant", "acme"])
        assert json.loads(shown.output)["payload"] == {"order_id": 17, "ledger": str(ledger)}

        # 5. Fix the outage, replay: a new run linked to the failed one succeeds.
        ledger.mkdir()
        replayed = cli.invoke(dlq_app, ["replay", str(entry.id), "--tenant", "acme"])
        assert replayed.exit_code == 0, replayed.output
        tick = outbox_sensor(
            dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources=resources)
        )
        (replay_request,) = tick.run_requests
        assert replay_request.tags[REPLAY_OF_RUN_TAG] == run_ids[-1]
        assert replay_request.run_key != event_id
        result = job.execute_in_process(
            run_config=replay_request.run_config, instance=instance, tags=replay_request.tags
        )
        assert result.success
        assert json.loads((ledger / "17.json").read_text())["order_id"] == 17
        success_sensor(
            dg.build_run_status_sensor_context(
                sensor_name=success_sensor.name,
                dagster_event=instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[
                    0
                ].dagster_event,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(result.run_id),
                resources=resources,
            )
        )

    # The replayed entry left the default listing; the incident is resolved.
    assert "0 dead letter(s)" in cli.invoke(dlq_app, ["list", "--tenant", "acme"]).output
    from klikkflow_pipelines.events.alerting import Alerter

    alerter = Alerter(store.engine(), POLICY, notifier, tenant="acme")
    assert alerter.record_success("order_job") is False  # nothing left open
    assert {d["status"] for d in alerter.deliveries()} == {"delivered"}
    purged = cli.invoke(dlq_app, ["purge", "--replayed", "--tenant", "acme"])
    assert "purged 1" in purged.output
