"""The allow-list of a tenant's code environment, the launcher script, and ``klikkflow validate``'s child.

Attacks: a careless operator exports platform secrets and another tenant's key in the process that
starts tenant code; a tenant id that is a suffix of another's tries to pick up that tenant's values.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine

from compliance.audit.keys import TENANT_WRITER_KEY_ENV
from compliance.audit.log import AuditLog
from klikkflow_pipelines.tenancy.config import load_tenant_file
from klikkflow_pipelines.tenant_code.check import check_location
from klikkflow_pipelines.tenant_code.environment import tenant_environment
from klikkflow_pipelines.tenant_code.launch import launcher_text

PLATFORM = {
    "PATH": "/usr/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "KLIKKFLOW_HOME": "/srv/klikkflow",
    "KLIKKFLOW_TENANT": "globex",
    "DAGSTER_HOME": "/srv/platform-instance",
    "KLIKKFLOW_OIDC_CLIENT_SECRET": "oidc-secret",
    "KLIKKFLOW_AUDIT_KEY": "b" * 40,
    "KLIKKFLOW_AUDIT_SIGNING_KEY_FILE": "/secrets/signing.key",
    "KLIKKFLOW_DETOKENIZE_KEY_DIR": "/secrets/detokenize",
    "KLIKKFLOW_PG_USER": "postgres",
    "KLIKKFLOW_PG_PASSWORD": "platform-pw",
    "KLIKKFLOW_PG_HOST": "db.internal",
    "KLIKKFLOW_TENANT_KEY": "unsuffixed-key",
    "KLIKKFLOW_TENANT_KEY__ACME_CORP": "acme-corp-key",
    "KLIKKFLOW_PG_PASSWORD__ACME_CORP": "acme-corp-pw",
    "KLIKKFLOW_TENANT_KEY__GLOBEX": "globex-key",
}


def test_the_tenant_gets_the_allow_list_and_its_own_suffixed_values() -> None:
    env = tenant_environment("acme-corp", PLATFORM, Path("/srv/klikkflow/tenants/acme-corp"))
    writer = env.pop(TENANT_WRITER_KEY_ENV)
    assert env == {
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "KLIKKFLOW_HOME": "/srv/klikkflow",
        "KLIKKFLOW_PG_HOST": "db.internal",
        "KLIKKFLOW_TENANT_KEY": "acme-corp-key",
        "KLIKKFLOW_PG_PASSWORD": "acme-corp-pw",
        "KLIKKFLOW_TENANT": "acme-corp",
        "DAGSTER_HOME": "/srv/klikkflow/tenants/acme-corp",
        "HOME": "/srv/klikkflow/tenants/acme-corp",
    }
    assert writer.startswith("acme-corp:") and "b" * 40 not in writer


def test_a_tenant_whose_id_ends_another_tenants_gets_none_of_its_values() -> None:
    env = tenant_environment("corp", PLATFORM, Path("/h"))
    assert "acme-corp-key" not in env.values() and "KLIKKFLOW_TENANT_KEY" not in env


def test_the_tenant_writer_key_chains_only_its_own_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A run holding acme's chain key appends entries the platform (holding the base key) accepts."""
    base = b"b" * 40
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setenv(
        TENANT_WRITER_KEY_ENV,
        tenant_environment("acme", {"KLIKKFLOW_AUDIT_KEY": base.decode()}, tmp_path)[TENANT_WRITER_KEY_ENV],
    )
    monkeypatch.delenv("KLIKKFLOW_AUDIT_KEY", raising=False)
    monkeypatch.setenv("KLIKKFLOW_HOME", str(tmp_path / "home"))
    assert AuditLog(engine, "acme").key == AuditLog(engine, "acme", key=base).key
    assert AuditLog(engine, "globex").key != AuditLog(engine, "globex", key=base).key


def test_the_launcher_runs_python_in_the_tenant_environment(tmp_path: Path) -> None:
    launcher = tmp_path / "launcher"
    launcher.write_text(launcher_text("acme"))
    launcher.chmod(0o700)
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    env = {"PATH": "/usr/bin:/bin", "KLIKKFLOW_HOME": str(tmp_path), "KLIKKFLOW_OIDC_CLIENT_SECRET": "s"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    done = subprocess.run([str(launcher), "-c", code], env=env, capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert "KLIKKFLOW_OIDC_CLIENT_SECRET" not in seen
    assert seen["KLIKKFLOW_TENANT"] == "acme" and seen["DAGSTER_HOME"] == str(tmp_path / "tenants" / "acme")


def test_validate_checks_a_location_in_the_code_server_environment(
    tenants_dir: Path, write_code: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``klikkflow validate``'s child process gets what the code server gets, not the platform's secrets."""
    write_code(
        "code/nosy.py",
        textwrap.dedent(
            """
            import os
            import dagster as dg

            platform = {"KLIKKFLOW_OIDC_CLIENT_SECRET", "KLIKKFLOW_TENANT_KEY"}
            leaked = sorted(k for k in os.environ if k in platform)
            if leaked:
                raise RuntimeError(f"tenant code sees {leaked}")


            @dg.asset
            def nosy_asset() -> int:
                return 1


            defs = dg.Definitions(assets=[nosy_asset])
            """
        ),
    )
    entry = {"name": "nosy", "module": "nosy", "path": "../code"}
    (tenants_dir / "acme.yaml").write_text(
        yaml.safe_dump({"id": "acme", "name": "Acme", "code_locations": [entry]})
    )
    monkeypatch.setenv("KLIKKFLOW_OIDC_CLIENT_SECRET", "platform-oidc-secret")
    monkeypatch.setenv("KLIKKFLOW_TENANT_KEY", "not-acmes-key")
    report = check_location(load_tenant_file(tenants_dir / "acme.yaml"), "nosy")
    messages = [problem.message for problem in report.errors]
    # The module imported (its governance findings are checked after it; not asserted here).
    assert not any("tenant code sees" in m or "does not load" in m for m in messages), messages


def test_every_workspace_entry_starts_through_the_tenants_launcher(
    tenants_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``write_workspace`` writes the launcher (0700, outside the tenant home) that each entry names."""
    from klikkflow_pipelines.tenancy.provisioning import write_workspace

    monkeypatch.setenv("KLIKKFLOW_HOME", str(tmp_path / "home"))
    entry = {"name": "shop", "module": "shop", "path": "../code"}
    (tenants_dir / "acme.yaml").write_text(
        yaml.safe_dump({"id": "acme", "name": "Acme", "code_locations": [entry]})
    )
    tenant = load_tenant_file(tenants_dir / "acme.yaml")
    workspace = write_workspace(tenant, tmp_path / "home/tenants/acme/workspace.yaml")
    paths = {
        e["python_module"]["executable_path"] for e in yaml.safe_load(workspace.read_text())["load_from"]
    }
    assert len(paths) == 1
    launcher = Path(paths.pop())
    assert launcher.read_text() == launcher_text("acme") and launcher.stat().st_mode & 0o777 == 0o700
    assert not launcher.is_relative_to(tmp_path / "home/tenants/acme")
    before = launcher.stat().st_mtime_ns
    write_workspace(tenant, workspace)
    assert launcher.stat().st_mtime_ns == before  # unchanged launcher is not rewritten
