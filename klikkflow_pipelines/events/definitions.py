"""``build_event_definitions``: the sensors and resources that make a tenant's jobs event-driven."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.events.config import (
    EventsConfig,
    NotifierSettings,
    events_config_path,
    load_events_config,
)
from klikkflow_pipelines.events.resources import EventStoreResource, TriggerEventResource
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.run_tags import WORKFLOW_TAG, tenant_run_tags
from resources.notifier import NotifierResource
from resources.rabbitmq import RabbitMQResource
from sensors.event_partitions import DropSource
from sensors.outbox_events import build_outbox_sensor
from sensors.rabbitmq_events import build_rabbitmq_sensor
from sensors.run_alerts import build_alert_sensors


def notifier_resource(settings: NotifierSettings) -> NotifierResource:
    """The notifier with every secret bound to its environment variable (``dg.EnvVar``)."""

    def env(name: str | None) -> Any:
        return dg.EnvVar(name) if name else None

    return NotifierResource(
        slack_webhook_url=env(settings.slack_webhook_url_env),
        teams_webhook_url=env(settings.teams_webhook_url_env),
        webhook_url=env(settings.webhook_url_env),
        webhook_secret=env(settings.webhook_secret_env),
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_username=env(settings.smtp_username_env),
        smtp_password=env(settings.smtp_password_env),
        smtp_starttls=settings.smtp_starttls,
        email_from=settings.email_from,
        email_to=list(settings.email_to),
        oncall_email_to=list(settings.oncall_email_to),
        run_link_base=settings.run_link_base,
    )


def job_workflow_name(job: Any) -> str:
    """The workflow a job belongs to: its ``klikkflow/workflow`` tag (a template's job), else its name."""
    declared = (getattr(job, "tags", None) or {}).get(WORKFLOW_TAG)
    return declared if isinstance(declared, str) and declared else job.name


def _jobs_by_name(tenant_id: str, config: EventsConfig, jobs: Sequence[Any]) -> dict[str, Any]:
    """Each job by its workflow's name and by its own; the config's names must be one of them."""
    by_name = {name: job for job in jobs for name in (job.name, job_workflow_name(job))}
    problems = []
    known = sorted({job_workflow_name(job) for job in jobs})
    fix = f"use one of the tenant's workflows: {', '.join(known) or '(none)'}"
    named = [(f"webhooks[{i}]", name) for i, name in enumerate(config.webhooks or [])]
    named += [
        (f"rabbitmq.queues[{i}].workflow", binding.workflow)
        for i, binding in enumerate(config.rabbitmq.queues if config.rabbitmq else [])
    ]
    for field, name in named:
        if name not in by_name:
            problems.append(
                ConfigProblem(str(events_config_path(tenant_id)), field, f"no workflow {name!r}", fix)
            )
    if problems:
        raise ConfigError(problems)
    return by_name


def build_event_definitions(
    tenant: TenantConfig,
    jobs: Sequence[Any],
    config: EventsConfig | None = None,
    drop_sources: Mapping[str, DropSource] | None = None,
) -> dg.Definitions:
    """Sensors and resources making ``jobs`` event-driven for ``tenant`` (merge into its Definitions).

    * one outbox sensor per webhook/queue workflow (``run_key`` = event id); ``webhooks`` and
      queue bindings name a workflow (``customer_onboarding``) or its job (``customer_onboarding_job``),
    * one RabbitMQ sensor per configured queue,
    * the failure-alert, success-resolve and delivery-retry sensors,
    * resources ``event_store``, ``trigger_event``, ``notifier`` and, with queues, ``rabbitmq``.

    ``config`` defaults to the tenant's ``events/<tenant>.yaml``; ``drop_sources`` (by dynamic
    partitions definition name) lets an event name the drop file of a dynamically partitioned job.
    """
    config = config or load_events_config(tenant.id)
    by_name = _jobs_by_name(tenant.id, config, jobs)
    queues = config.rabbitmq.queues if config.rabbitmq else []
    names = list(config.webhooks) if config.webhooks is not None else [job.name for job in jobs]
    triggered = {by_name[n].name: by_name[n] for n in [*names, *(b.workflow for b in queues)]}
    run_tags = tenant_run_tags(tenant)
    sensors: list[dg.SensorDefinition] = [
        build_outbox_sensor(
            job,
            # Events are recorded by workflow name; ones recorded by job name (a queue binding
            # naming the job, events from before webhook paths took workflow names) count too.
            workflows=list(dict.fromkeys([job_workflow_name(job), job.name])),
            tags=run_tags,
            minimum_interval_seconds=config.sensor_interval_seconds,
            drop_sources=drop_sources,
        )
        for job in triggered.values()
    ]
    sensors += [
        build_rabbitmq_sensor(
            tenant=tenant.id,
            queue=binding.queue,
            workflow=binding.workflow,
            minimum_interval_seconds=config.sensor_interval_seconds,
            max_messages=config.rabbitmq.max_messages_per_tick,
        )
        for binding in queues
    ]
    sensors += build_alert_sensors(
        tenant=tenant.id, policy=config.alerts, minimum_interval_seconds=config.alert_sensor_interval_seconds
    )
    resources: dict[str, Any] = {
        "event_store": EventStoreResource(tenant=tenant.id),
        "trigger_event": TriggerEventResource(),
        "notifier": notifier_resource(config.notifier),
    }
    if queues:
        resources["rabbitmq"] = RabbitMQResource(url=dg.EnvVar(config.rabbitmq.url_env))
    return dg.Definitions(sensors=sensors, resources=resources)
