"""The shipped example ``deploy/tenants/events/acme.yaml``: loaded as is, and its commented template valid.

The active settings are the defaults (the demo behaves the same with or without the
file); the commented blocks, uncommented, must validate and name real workflows of acme.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from klikkflow_pipelines.events.config import EventsConfig, events_config_path, load_events_config
from klikkflow_pipelines.events.definitions import build_event_definitions
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenant_definitions import build_workflows

EXAMPLE = PROJECT_ROOT / "deploy" / "tenants" / "events" / "acme.yaml"
_COMMENTED_YAML = re.compile(r"^# ([a-z_]+:.*|\s+\S.*)$")


def _uncommented(path: Path) -> str:
    """The file with its commented YAML blocks uncommented (prose comments stay out)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(m.group(1) if (m := _COMMENTED_YAML.match(line)) else line for line in lines)


@pytest.fixture
def shipped_tenants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLIKKFLOW_TENANTS_DIR", raising=False)


def test_example_is_where_the_loader_looks_and_changes_nothing(shipped_tenants) -> None:
    assert events_config_path("acme") == EXAMPLE
    assert load_events_config("acme") == EventsConfig()


def test_commented_template_validates_and_names_real_workflows(shipped_tenants, monkeypatch) -> None:
    text = _uncommented(EXAMPLE)
    raw = yaml.safe_load(text)
    assert {"webhooks", "rabbitmq", "notifier", "alerts"} <= set(raw)  # every block was uncommented
    config = EventsConfig.model_validate(raw)
    assert config.alerts.levels[1].after_failures == 3
    acme = load_tenant("acme")
    jobs = [job for workflow in build_workflows(acme) for job in workflow.jobs]
    monkeypatch.setenv("KLIKKFLOW_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    events = build_event_definitions(acme, jobs, config)
    outbox = {s.name for s in events.sensors if s.name.endswith("_outbox_sensor")}
    assert outbox == {"customer_onboarding_job_outbox_sensor", "claims_processing_job_outbox_sensor"}
    assert any(s.name.endswith("_rabbitmq_acme_claims_sensor") for s in events.sensors)
