"""Compliance decisions made while materializing reach the tenant's verified audit chain."""

from __future__ import annotations

import dagster as dg
import pytest

from compliance.audit.log import audit_log_for_tenant
from compliance.audit.verify import verify_log
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import load_tenant


def test_sensor_chains_compliance_events_into_the_audit_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "audit-key-for-tests-" + "k" * 32)
    defs = build_definitions(load_tenant("default"))
    sensor = defs.resolve_sensor_def("compliance_audit_chain")
    with dg.DagsterInstance.ephemeral() as instance:
        assert (
            defs.resolve_job_def("claims_processing_job")
            .execute_in_process(instance=instance, partition_key="2026-11-25")
            .success
        )
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    log = audit_log_for_tenant("default")
    entries = list(log.entries())
    assert entries, "the classification decisions of the claims run were chained"
    assert {e.tenant for e in entries} == {"default"}
    assert any("routed_claims" in e.target for e in entries)
    assert "chained 0 compliance events" in again.skip_message
    assert first.skip_message != again.skip_message
    assert verify_log(log).ok
