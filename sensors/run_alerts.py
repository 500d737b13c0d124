"""Run-outcome sensors: failure notifications with escalation, dead letters, resolution and delivery retries.

* ``run_failure_alert_sensor`` notifies through the notifier (policy:
  de-duplication, rate limit, escalation) and, when the failed run was started
  by an event and Dagster will not retry it any more (``dagster/will_retry``
  is not ``true``), moves that event to the dead-letter table with the reason.
* ``run_success_resolve_sensor`` resolves the workflow's open incident.
* ``alert_delivery_sensor`` retries due deliveries with backoff and escalates
  incidents that stayed unresolved for ``after_minutes``.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import RETRY_NUMBER_TAG, WILL_RETRY_TAG

from klikkflow_pipelines.events.alerting import Alerter, AlertPolicy
from klikkflow_pipelines.events.resources import EventStoreResource
from klikkflow_pipelines.workflows.template import run_workflow
from resources.notifier import NotifierResource
from sensors.outbox_events import EVENT_ID_TAG


def _failure_reason(context: dg.RunFailureSensorContext) -> str:
    """The root causes of the failed steps ("step: ErrorClass: message"), else the run's failure message."""
    reasons = []
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        if error is None:
            continue
        while error.cause is not None:
            error = error.cause
        reasons.append(f"{event.step_key}: {error.cls_name}: {error.message.strip()}")
    return "; ".join(reasons) or context.failure_event.message or "run failed"


def build_alert_sensors(
    *, tenant: str, policy: AlertPolicy, minimum_interval_seconds: int = 30
) -> list[dg.SensorDefinition]:
    """The failure, success and delivery sensors of one tenant's code location."""

    def alerter(event_store: EventStoreResource, notifier: NotifierResource) -> Alerter:
        return Alerter(event_store.engine(), policy, notifier, tenant=tenant)

    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies about failed runs (with escalation) and dead-letters events out of retries.",
    )
    def run_failure_alert_sensor(
        context: dg.RunFailureSensorContext, event_store: EventStoreResource, notifier: NotifierResource
    ) -> None:
        run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run
        reason = _failure_reason(context)
        will_retry = run.tags.get(WILL_RETRY_TAG) == "true"
        event_id = run.tags.get(EVENT_ID_TAG)
        workflow = run_workflow(run)
        if event_id and not will_retry:
            event = event_store.outbox().get(event_id)
            if event is not None:
                entry = event_store.dead_letters().add(
                    event,
                    failed_run_id=run.run_id,
                    reason=reason,
                    attempts=int(run.tags.get(RETRY_NUMBER_TAG, "0")) + 1,
                )
                context.log.info(f"event {event_id} moved to the dead-letter queue as entry {entry.id}")
        alerter(event_store, notifier).record_failure(
            workflow=workflow,
            job_name=run.job_name,
            run_id=run.run_id,
            error=reason,
            event_id=event_id,
            will_retry=will_retry,
        )

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="run_success_resolve_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Resolves a workflow's open failure incident when one of its runs succeeds.",
    )
    def run_success_resolve_sensor(
        context: dg.RunStatusSensorContext, event_store: EventStoreResource, notifier: NotifierResource
    ) -> None:
        run = context.dagster_run
        alerter(event_store, notifier).record_success(run_workflow(run))

    @dg.sensor(
        name="alert_delivery_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Retries failed notification deliveries and escalates long-unresolved incidents.",
    )
    def alert_delivery_sensor(
        context: dg.SensorEvaluationContext, event_store: EventStoreResource, notifier: NotifierResource
    ) -> dg.SkipReason:
        active = alerter(event_store, notifier)
        escalated = active.escalate_unresolved()
        retried = active.retry_due_deliveries()
        return dg.SkipReason(f"{len(escalated)} escalation(s), {retried} delivery retry(ies)")

    return [run_failure_alert_sensor, run_success_resolve_sensor, alert_delivery_sensor]
