"""``build_event_definitions``: a tenant's event sensors and resources; config errors that name the fix."""

from __future__ import annotations

import dagster as dg
import pytest

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.events.config import load_events_config
from klikkflow_pipelines.events.definitions import build_event_definitions
from klikkflow_pipelines.tenancy.config import TenantConfig

from .event_jobs import intake_job, order_job

TENANT = TenantConfig(id="acme", name="Acme")


def _write_events_config(tmp_path, monkeypatch, text: str) -> None:
    (tmp_path / "events").mkdir(exist_ok=True)
    (tmp_path / "events" / "acme.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tmp_path))


def test_tenant_gets_outbox_rabbitmq_and_alert_sensors(tmp_path, monkeypatch) -> None:
    _write_events_config(
        tmp_path,
        monkeypatch,
        """
sensor_interval_seconds: 2
webhooks: [order_job]
rabbitmq:
  queues:
    - {queue: intake, workflow: intake_job}
notifier:
  slack_webhook_url_env: ACME_SLACK_URL
alerts:
  levels:
    - channels: [slack]
""",
    )
    monkeypatch.setenv("ACME_SLACK_URL", "http://127.0.0.1:9/slack")
    monkeypatch.setenv("KLIKKFLOW_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    events = build_event_definitions(TENANT, [order_job, intake_job])
    defs = dg.Definitions.merge(dg.Definitions(jobs=[order_job, intake_job]), events)
    repo = defs.get_repository_def()
    names = {s.name for s in repo.sensor_defs}
    assert names == {
        "order_job_outbox_sensor",
        "intake_job_outbox_sensor",
        "intake_job_rabbitmq_intake_sensor",
        "run_failure_alert_sensor",
        "run_success_resolve_sensor",
        "alert_delivery_sensor",
    }
    outbox_sensor = repo.get_sensor_def("order_job_outbox_sensor")
    assert outbox_sensor.minimum_interval_seconds == 2
    assert outbox_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert {"event_store", "trigger_event", "notifier", "rabbitmq"} <= set(repo.get_top_level_resources())
    # The notifier's secret is bound to its environment variable (resolved at run time), not copied.
    notifier = events.resources["notifier"]
    assert isinstance(notifier.slack_webhook_url, dg.EnvVar)
    assert notifier.process_config_and_initialize().slack_webhook_url == "http://127.0.0.1:9/slack"


def test_without_a_config_every_job_gets_an_outbox_sensor(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tmp_path))
    defs = build_event_definitions(TENANT, [order_job])
    names = {s.name for s in defs.get_repository_def().sensor_defs}
    assert "order_job_outbox_sensor" in names and "run_failure_alert_sensor" in names


def test_unknown_workflow_names_file_field_and_fix(tmp_path, monkeypatch) -> None:
    _write_events_config(
        tmp_path, monkeypatch, "rabbitmq:\n  queues:\n    - {queue: intake, workflow: no_such_job}\n"
    )
    with pytest.raises(ConfigError) as error:
        build_event_definitions(TENANT, [order_job])
    (problem,) = error.value.problems
    assert problem.file.endswith("events/acme.yaml")
    assert problem.field == "rabbitmq.queues[0].workflow"
    assert "order_job" in problem.fix


def test_invalid_alert_policy_is_a_config_error(tmp_path, monkeypatch) -> None:
    _write_events_config(tmp_path, monkeypatch, "alerts:\n  levels:\n    - channels: [pager]\n")
    with pytest.raises(ConfigError) as error:
        load_events_config("acme")
    assert "alerts.levels" in str(error.value) and "pager" in str(error.value)


def test_the_audit_chain_interval_comes_from_the_events_file(tmp_path, monkeypatch) -> None:
    """``audit_chain_interval_seconds`` sets how often the tenant's compliance events are chained."""
    from klikkflow_pipelines.tenant_definitions import build_definitions

    _write_events_config(tmp_path, monkeypatch, "audit_chain_interval_seconds: 5\n")
    repo = build_definitions(TENANT).get_repository_def()
    assert repo.get_sensor_def("compliance_audit_chain").minimum_interval_seconds == 5
    (tmp_path / "events" / "acme.yaml").unlink()
    repo = build_definitions(TENANT).get_repository_def()
    assert repo.get_sensor_def("compliance_audit_chain").minimum_interval_seconds == 60


@pytest.mark.parametrize("named", ["orders", "orders_job"])
def test_webhooks_name_a_workflow_or_its_job_and_its_sensor_takes_both(tmp_path, monkeypatch, named) -> None:
    """A template's job (``workflow_job``) is triggered by events of its workflow, also under the job name."""
    from klikkflow_pipelines.events.outbox import Outbox
    from klikkflow_pipelines.events.resources import EventStoreResource
    from klikkflow_pipelines.workflows.template import workflow_job

    _write_events_config(tmp_path, monkeypatch, f"webhooks: [{named}]\n")
    job = workflow_job(TENANT, "orders", "orders_group", "Orders.")
    events = build_event_definitions(TENANT, [job, order_job])
    assert {s.name for s in events.sensors if "outbox" in s.name} == {"orders_job_outbox_sensor"}
    store = EventStoreResource(url=f"sqlite:///{tmp_path / 'events.db'}")
    outbox: Outbox = store.outbox()
    ids = {
        workflow: outbox.record(
            tenant="acme", workflow=workflow, source="webhook", payload={}, dedupe_key=workflow
        ).event_id
        for workflow in ("orders", "orders_job", "order_job", "other")
    }
    sensor = next(s for s in events.sensors if s.name == "orders_job_outbox_sensor")
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, resources={"event_store": store}))
    assert [r.run_key for r in result.run_requests] == [ids["orders"], ids["orders_job"]]
