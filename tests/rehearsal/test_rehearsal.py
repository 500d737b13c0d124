"""The production rehearsal, run once for the module (about 2.5 minutes on 2 cores; marked ``slow``).

A private PostgreSQL cluster with password authentication, moto's S3 server, the CLI's provisioning,
then real processes with their pods' environments: two tenants' code servers and daemons, run and
step workers, the gateway and the audit checkpointer. Each test asserts one of its checks; a failure
prints the check's detail (and the end of the processes' log, kept with the working directory).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import psutil
import pytest

from klikkflow_pipelines.rehearsal.run import RehearsalOptions, RehearsalResult, rehearse
from klikkflow_pipelines.rehearsal.tenants import PLAN, TENANTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def rehearsal() -> Iterator[RehearsalResult]:
    progress = io.StringIO()
    result = rehearse(RehearsalOptions(output=progress, run_timeout=420))
    print(progress.getvalue())  # shown with -s or on failure: the phases and their times
    yield result


def _passed(result: RehearsalResult, name: str) -> str:
    failed = result.check("rehearsal completes")
    assert failed is None, failed.detail
    check = result.check(name)
    assert check is not None, f"no check {name!r}: {[c.name for c in result.checks]}"
    assert check.ok, check.detail
    return check.detail


def test_every_triggered_run_succeeds(rehearsal: RehearsalResult) -> None:
    _passed(rehearsal, "runs succeed")
    fired = {(row.tenant, row.trigger) for row in rehearsal.runs}
    assert fired == {(tenant, kind) for tenant, kinds in PLAN.items() for kind in kinds}
    assert {"schedule", "webhook", "file drop", "gateway launch"} <= {kind for _, kind in fired}
    assert all(row.status == "SUCCESS" and row.seconds for row in rehearsal.runs)


def test_frames_are_objects_in_each_tenants_own_bucket(rehearsal: RehearsalResult) -> None:
    _passed(rehearsal, "frames in the object store")
    for tenant in TENANTS:
        rows = [row for row in rehearsal.runs if row.tenant == tenant]
        assert sum(row.frames_found for row in rows) >= 3, rows
        assert all(
            url.startswith("s3://") and f"/{tenant}/frames/" in url for row in rows for url in row.frames
        )
        assert all(row.frames_found == len(row.frames) for row in rows)


@pytest.mark.parametrize("log", [*TENANTS, "the platform"])
def test_audit_verify_passes_with_gateway_daemon_and_run_worker_entries(
    rehearsal: RehearsalResult, log: str
) -> None:
    detail = _passed(rehearsal, f"audit log of {log}")
    assert detail.startswith("ok ")  # the output of `klikkflow audit verify`
    if log == "the platform":
        assert "signin x" in detail
    else:
        launches = sum(1 for row in rehearsal.runs if row.tenant == log and row.trigger == "gateway launch")
        assert "gateway: graphql.mutation" in detail  # stopRunningSchedule (and launchRun)
        assert ("run.launch x1" in detail) == bool(launches)
        runs = sum(1 for row in rehearsal.runs if row.tenant == log)
        assert f"from {runs} run workers: compliance." in detail


def test_no_process_holds_another_tenants_or_the_platforms_secrets(rehearsal: RehearsalResult) -> None:
    detail = _passed(rehearsal, "secrets stay in their pods")
    for tenant in TENANTS:
        runs = sum(1 for row in rehearsal.runs if row.tenant == tenant)
        assert f"{tenant}: 1 daemon, {runs} run worker" in detail, detail


def test_running_processes_use_their_own_roles_and_change_no_platform_table(
    rehearsal: RehearsalResult,
) -> None:
    detail = _passed(rehearsal, "running processes: own roles, no platform DDL")
    assert "klikkflow_acme->klikkflow_acme" in detail and "kf_gateway->klikkflow_globex" in detail


@pytest.mark.parametrize(("tenant", "other"), [("acme", "globex"), ("globex", "acme")])
def test_a_tenant_role_cannot_log_in_to_the_other_tenants_database(
    rehearsal: RehearsalResult, tenant: str, other: str
) -> None:
    detail = _passed(rehearsal, f"klikkflow_{tenant} stays out of klikkflow_{other}")
    assert "does not have CONNECT privilege" in detail and "password authentication failed" in detail


@pytest.mark.parametrize(("tenant", "other"), [("acme", "globex"), ("globex", "acme")])
def test_a_member_of_one_tenant_is_refused_at_the_other_through_the_gateway(
    rehearsal: RehearsalResult, tenant: str, other: str
) -> None:
    detail = _passed(rehearsal, f"rehearsal-{tenant} is refused at /t/{other}")
    assert f"in {other}'s audit log: tenant.access denied by rehearsal-{tenant}" in detail


def test_nothing_is_left_running_or_on_disk(rehearsal: RehearsalResult) -> None:
    _passed(rehearsal, "no process died")
    assert rehearsal.ok and not rehearsal.kept and not rehearsal.workdir.exists()
    root = str(rehearsal.workdir)
    survivors = []
    for process in psutil.process_iter(["pid", "cmdline", "environ"]):
        text = " ".join(process.info["cmdline"] or []) + " ".join((process.info["environ"] or {}).values())
        if root in text:
            survivors.append(process.info["pid"])
    assert survivors == []
