"""A tenant's event-trigger settings: ``<tenants dir>/events/<tenant>.yaml`` (optional).

Example::

    sensor_interval_seconds: 5
    audit_chain_interval_seconds: 60  # how often compliance events are chained into the audit log
    webhooks: [customer_onboarding]   # workflows reachable at POST /hooks/<tenant>/<workflow>; default: all
    rabbitmq:
      url_env: KLIKKFLOW_RABBITMQ_URL
      queues:
        - {queue: claims, workflow: claims_processing}
    notifier:
      slack_webhook_url_env: ACME_SLACK_WEBHOOK_URL
      smtp_host: smtp.acme.example
      smtp_password_env: ACME_SMTP_PASSWORD
      oncall_email_to: [oncall@acme.example]
      run_link_base: https://dagster.acme.example/t/acme
    alerts:
      levels:
        - channels: [slack]
        - {channels: [oncall_email], after_failures: 3, after_minutes: 30}

Secrets are referenced by environment-variable name (``*_env``), never written here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from klikkflow_pipelines.config_errors import load_yaml_model
from klikkflow_pipelines.events.alerting import AlertPolicy
from klikkflow_pipelines.paths import tenants_config_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueBinding(_Strict):
    """A RabbitMQ queue whose messages become events of ``workflow`` (a workflow or its job's name)."""

    queue: str = Field(min_length=1)
    workflow: str = Field(min_length=1)


class RabbitMQSettings(_Strict):
    """Broker connection (URL from an environment variable) and the consumed queues."""

    url_env: str = "KLIKKFLOW_RABBITMQ_URL"
    queues: list[QueueBinding] = Field(default_factory=list)
    max_messages_per_tick: int = Field(default=1000, ge=1)


class NotifierSettings(_Strict):
    """Notifier channels; every secret is the name of an environment variable."""

    slack_webhook_url_env: str | None = None
    teams_webhook_url_env: str | None = None
    webhook_url_env: str | None = None
    webhook_secret_env: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username_env: str | None = None
    smtp_password_env: str | None = None
    smtp_starttls: bool = True
    email_from: str = "klikkflow@localhost"
    email_to: list[str] = Field(default_factory=list)
    oncall_email_to: list[str] = Field(default_factory=list)
    run_link_base: str = "http://localhost:3000"


class EventsConfig(_Strict):
    """Everything event-driven for one tenant."""

    sensor_interval_seconds: int = Field(default=5, ge=1, le=3600)
    alert_sensor_interval_seconds: int = Field(default=30, ge=1, le=3600)
    audit_chain_interval_seconds: int = Field(default=60, ge=1, le=3600)
    webhooks: list[str] | None = None
    rabbitmq: RabbitMQSettings | None = None
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    alerts: AlertPolicy = Field(default_factory=AlertPolicy)


def events_config_path(tenant_id: str) -> Path:
    """Where the tenant's events config lives."""
    return tenants_config_dir() / "events" / f"{tenant_id}.yaml"


def load_events_config(tenant_id: str) -> EventsConfig:
    """The tenant's events config (defaults when the file does not exist); errors name file, field, fix."""
    path = events_config_path(tenant_id)
    if not path.exists():
        return EventsConfig()
    return load_yaml_model(path, EventsConfig)
