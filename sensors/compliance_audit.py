"""Chains the compliance layer's events into the tenant's hash-chained audit log."""

from __future__ import annotations

import dagster as dg


def build_compliance_audit_sensor(tenant_id: str, interval_seconds: int = 60) -> dg.SensorDefinition:
    """A sensor that appends new ``compliance_events`` rows to the tenant's audit log each tick."""

    @dg.sensor(
        name="compliance_audit_chain",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Appends new compliance decisions to the tamper-evident audit log.",
    )
    def _chain(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        from compliance.audit.compliance_bridge import chain_compliance_events
        from compliance.audit.log import audit_log_for_tenant

        log = audit_log_for_tenant(tenant_id)
        try:
            chained = chain_compliance_events(log)
        finally:
            log.engine.dispose()  # a tick's connections end with the tick
        context.log.info(f"chained {chained} compliance events into the audit log of {tenant_id}")
        return dg.SkipReason(f"chained {chained} compliance events; this sensor launches no runs")

    return _chain
