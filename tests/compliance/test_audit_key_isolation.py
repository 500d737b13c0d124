"""The checkpoint signing key stays with the checkpointer (item: rewritten log, "a key the writer holds").

Before, every writer (gateway, tenant daemon) signed checkpoints with the key
it held, so whoever took over a writer or read its key file could forge them.
Now writers need no private key at all, never open it when it exists, and no
tenant process or deployment config references it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from compliance.audit import audit_log_for_tenant, verify_log
from compliance.audit.checkpointer import checkpoint_log
from compliance.audit.keys import (
    PUBLIC_KEY_ENV,
    SIGNING_KEY_FILE_ENV,
    AuditKeyError,
    load_signing_key,
    public_key_path,
    signing_key_path,
)
from compliance.events import ComplianceEvent, record_events
from compliance.home import platform_home
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.settings import settings_from_env
from klikkflow_pipelines.tenancy.config import load_all_tenants, load_tenant
from klikkflow_pipelines.tenancy.helm_values import helm_values_yaml
from klikkflow_pipelines.tenancy.k8s_manifests import manifests_yaml
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine
from klikkflow_pipelines.tenancy.supervisor import checkpointer_spec, tenant_process_specs

_opened: list[str] | None = None


def _record_opens(event: str, args: tuple[object, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str | Path):
        _opened.append(str(Path(args[0]).resolve()))


sys.addaudithook(_record_opens)  # audit hooks cannot be removed; it records only inside `opened_files`


@pytest.fixture
def opened_files() -> Iterator[list[str]]:
    """Every file this process opens while the fixture is active."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def _write_as_the_gateway_and_the_tenant() -> None:
    """What the writers do: the gateway opens its logs and records events; the tenant's sensor chains."""
    gateway = Gateway(settings_from_env(), {}, {}, {"default": audit_log_for_tenant("default")})
    gateway.platform_audit.append(actor="ada", action="signin", outcome="success", source="192.0.2.1")
    gateway.audit_logs["default"].append(actor="ada", action="graphql.mutation", outcome="allowed")
    record_events(
        tenant_storage_engine("default"),
        [ComplianceEvent(actor="run:1", tenant="default", action="mask", asset="customers")],
    )
    sensor = build_definitions(load_tenant("default")).resolve_sensor_def("compliance_audit_chain")
    with dg.DagsterInstance.ephemeral() as instance:
        result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert "chained 1 compliance events" in (result.skip_message or "")


def test_writers_work_with_no_private_key_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "writer-key-for-tests-" + "w" * 32)
    _write_as_the_gateway_and_the_tenant()
    assert not signing_key_path().exists(), "a writer created the checkpoint signing key"
    assert len(list(audit_log_for_tenant("default").entries())) == 2


def test_writers_never_open_the_private_key(monkeypatch: pytest.MonkeyPatch, opened_files: list[str]) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "writer-key-for-tests-" + "w" * 32)
    checkpoint_log(audit_log_for_tenant("default"), load_signing_key())  # the platform's checkpointer ran
    private = str(signing_key_path().resolve())
    opened_files.clear()
    _write_as_the_gateway_and_the_tenant()
    assert opened_files, "the audit hook records the writers' file opens"
    assert private not in opened_files
    platform = str(platform_home().resolve())
    assert [f for f in opened_files if f.startswith(platform)] == []


def test_no_tenant_process_or_deployment_config_references_the_private_key() -> None:
    forbidden = ("audit-signing", SIGNING_KEY_FILE_ENV, str(platform_home()))
    tenants, _ = load_all_tenants()
    assert tenants
    for tenant in tenants.values():
        configs = [helm_values_yaml(tenant), manifests_yaml(tenant)]
        for spec in tenant_process_specs(tenant, webserver_port=3001):
            configs.append(repr((spec.argv, spec.env, spec.cwd)))
            assert SIGNING_KEY_FILE_ENV in spec.unset, f"{spec.name} would inherit the signing key's location"
        for config in configs:
            for word in forbidden:
                assert word not in config, f"{tenant.id}: a tenant config references {word}"
    # the checkpointer (a platform process) is the one that holds it, and it has no tenant environment
    spec = checkpointer_spec()
    assert "checkpoint" in spec.argv and "--loop" in spec.argv
    assert "KLIKKFLOW_TENANT" not in spec.env and "DAGSTER_HOME" not in spec.env


def test_production_key_file_and_public_key_are_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SIGNING_KEY_FILE_ENV, str(tmp_path / "mounted" / "audit-signing.key"))
    with pytest.raises(AuditKeyError, match=r"audit-signing\.key: no such file\. Fix: mount"):
        load_signing_key()
    monkeypatch.delenv(SIGNING_KEY_FILE_ENV)
    monkeypatch.setenv(PUBLIC_KEY_ENV, "ab" * 32)
    with pytest.raises(AuditKeyError, match=f"{PUBLIC_KEY_ENV}: is not the public half of the signing key"):
        load_signing_key()


def test_a_verifier_needs_only_the_public_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "writer-key-for-tests-" + "w" * 32)
    log = audit_log_for_tenant("default")
    log.append(actor="ada", action="signin", outcome="success")
    checkpoint_log(log, load_signing_key())
    monkeypatch.setenv(PUBLIC_KEY_ENV, public_key_path().read_text().strip())
    signing_key_path().unlink()  # the verifier's machine has no private key
    public_key_path().unlink()
    report = verify_log(log)
    assert report.ok, report.problems
    assert report.checkpoints == 1
