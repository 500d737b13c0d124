"""The rehearsal's two tenants: the shipped ``acme`` and ``globex`` files with fast triggers.

Everything of ``deploy/tenants/<id>.yaml`` is kept (plan, region, time zone, node pool, members,
policy, workflow parameters) except what would make the rehearsal wait: the operations report runs
every minute, the onboarding and claims schedules are off (their runs come from a file drop and a
webhook), the file-arrival sensor looks every 5 s and takes files older than half a second. One
local account per tenant (``rehearsal-<id>``, editor) is added to ``members``: it launches a run
and stops the every-minute schedule after its first run, through the gateway. Each tenant's events
file enables the claims webhook, looks at the outbox every 2 s and chains compliance events into
the audit log every 5 s. The files are written into the rehearsal's tenants directory; the
checkout's ``deploy/`` is never written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from klikkflow_pipelines.paths import PROJECT_ROOT

TENANTS = ("acme", "globex")
SCHEDULE_JOB, SCHEDULE_NAME = "operations_report_job", "operations_report_daily"
WEBHOOK_WORKFLOW, WEBHOOK_JOB = "claims_processing", "claims_processing_job"
DROP_JOB, DROP_SENSOR = "customer_onboarding_job", "customer_drop_arrival"
LAUNCH_JOB = "operations_report_job"
EVERY_MINUTE = "* * * * *"
PLAN = {
    "acme": ("webhook", "gateway launch", "schedule"),
    "globex": ("file drop", "schedule"),
}
"""Which triggers each tenant gets: every kind once at least, the schedule for both. Each run costs a
run worker and a process per step on a 2-core machine, so no more runs than that; the gateway writes
entries to both tenants' audit logs anyway (each member stops its tenant's every-minute schedule
through GraphQL after the first scheduled run)."""
EVENTS = {
    "sensor_interval_seconds": 2,
    "audit_chain_interval_seconds": 5,
    "webhooks": [WEBHOOK_WORKFLOW],
}


def member_name(tenant_id: str) -> str:
    """The rehearsal's local account in ``tenant_id`` (role ``editor``)."""
    return f"rehearsal-{tenant_id}"


def rehearsal_tenant(shipped: dict[str, Any], source_dir: Path) -> dict[str, Any]:
    """A shipped tenant file's content with the rehearsal's fast triggers and its local member (a
    relative policy path made absolute: the copy lives elsewhere)."""
    tenant = dict(shipped)
    if tenant.get("policy") and not Path(tenant["policy"]).is_absolute():
        tenant["policy"] = str((source_dir / tenant["policy"]).resolve())
    workflows = {name: dict(settings or {}) for name, settings in tenant.get("workflows", {}).items()}
    for name, settings in workflows.items():
        params = dict(settings.get("params") or {})
        if name == "operations_report":
            params["schedule"] = EVERY_MINUTE
        else:
            params["schedule_enabled"] = False
        if name == "customer_onboarding":
            params.update(sensor_interval_seconds=5, min_file_age_seconds=0.5)
        settings["params"] = params
    tenant["workflows"] = workflows
    tenant["members"] = [*tenant.get("members", []), {"user": member_name(tenant["id"]), "role": "editor"}]
    return tenant


def write_rehearsal_tenants(tenants_dir: Path, source_dir: Path | None = None) -> list[Path]:
    """Write the rehearsal's tenant files and events files into ``tenants_dir``; return the tenant files."""
    source_dir = source_dir or PROJECT_ROOT / "deploy" / "tenants"
    (tenants_dir / "events").mkdir(parents=True, exist_ok=True)
    written = []
    for tenant_id in TENANTS:
        shipped = yaml.safe_load((source_dir / f"{tenant_id}.yaml").read_text(encoding="utf-8"))
        path = tenants_dir / f"{tenant_id}.yaml"
        header = f"# Rehearsal copy of {source_dir / f'{tenant_id}.yaml'} with fast triggers.\n"
        path.write_text(
            header + yaml.safe_dump(rehearsal_tenant(shipped, source_dir), sort_keys=False), encoding="utf-8"
        )
        events = tenants_dir / "events" / f"{tenant_id}.yaml"
        events.write_text(yaml.safe_dump(EVENTS, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written
