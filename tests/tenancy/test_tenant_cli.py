"""`klikkflow tenant create|list|show|delete` against a temporary tenants directory."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from klikkflow_pipelines.cli.tenant import tenant_app
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant_file
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.secret_files import read_env_file

runner = CliRunner()


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tenants directory holding copies of the demo tenants; rendered k8s files go under tmp_path."""
    monkeypatch.setenv("KLIKKFLOW_DEPLOY_DIR", str(tmp_path / "deploy"))
    directory = tmp_path / "tenants"
    directory.mkdir()
    for name in ("acme.yaml", "globex.yaml"):
        shutil.copy(PROJECT_ROOT / "deploy" / "tenants" / name, directory / name)
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(directory))
    return directory


def _invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(tenant_app, list(args), input=input, catch_exceptions=False)


def test_create_sqlite_tenant_provisions_everything(
    tenants_dir: Path, klikkflow_home: Path, tmp_path: Path
) -> None:
    result = _invoke(
        "create", "initech", "--name", "Initech", "--max-concurrent-runs", "3", "--run-priority", "5"
    )
    assert result.exit_code == 0, result.output
    tenant = load_tenant_file(tenants_dir / "initech.yaml")
    assert (tenant.name, tenant.plan.max_concurrent_runs, tenant.plan.run_priority) == ("Initech", 3, 5)
    home = klikkflow_home / "tenants" / "initech"
    instance_config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert "sqlite" in instance_config["storage"]
    assert instance_config["concurrency"]["runs"]["max_concurrent_runs"] == 3
    location = yaml.safe_load((home / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    assert (location["module_name"], location["attribute"], location["location_name"]) == (
        "klikkflow_pipelines.tenant_code.locations",
        "initech__initech",  # the built-in location, named after the tenant
        "initech",
    )
    k8s = tmp_path / "deploy" / "k8s" / "initech"
    try:
        kinds = [doc["kind"] for doc in yaml.safe_load_all((k8s / "manifests.yaml").read_text())]
        assert kinds[0] == "Namespace" and "NetworkPolicy" in kinds
        values = yaml.safe_load((k8s / "helm-values.yaml").read_text())
        assert values["runLauncher"]["config"]["k8sRunLauncher"]["jobNamespace"] == "kf-initech"
    finally:
        result = _invoke("delete", "initech", "--confirm", "initech")
    assert result.exit_code == 0, result.output
    assert not k8s.exists() and not home.exists() and not (tenants_dir / "initech.yaml").exists()


def test_create_refuses_to_overwrite_a_different_tenant(tenants_dir: Path) -> None:
    before = (tenants_dir / "acme.yaml").read_text()
    result = _invoke("create", "acme", "--name", "Another Acme")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "fix:" in result.output
    assert (tenants_dir / "acme.yaml").read_text() == before


def test_invalid_options_are_reported_with_field_and_fix(tenants_dir: Path) -> None:
    result = _invoke("create", "Bad_Id")
    assert result.exit_code == 1
    assert "id" in result.output and "fix:" in result.output
    assert not list(tenants_dir.glob("Bad_Id*"))


def test_list_shows_every_tenant_and_a_broken_file_loudly(tenants_dir: Path) -> None:
    (tenants_dir / "broken.yaml").write_text("id: broken\nname: Broken\nplan:\n  max_concurrent_runs: lots\n")
    result = _invoke("list")
    assert result.exit_code == 1
    assert "acme" in result.output and "globex" in result.output
    assert "BROKEN" in result.output
    assert "plan.max_concurrent_runs" in result.output and "fix: give a whole number" in result.output


def test_show_prints_plan_paths_and_namespace(tenants_dir: Path) -> None:
    result = _invoke("show", "acme")
    assert result.exit_code == 0, result.output
    for expected in ("enterprise", "kf-acme", "klikkflow_acme", "sftp.acme.example:22", "acme-batch"):
        assert expected in result.output


def test_delete_asks_and_keeps_everything_on_a_wrong_answer(tenants_dir: Path) -> None:
    assert _invoke("create", "globex").exit_code == 0  # provision the existing file
    try:
        result = _invoke("delete", "globex", input="acme\n")
        assert result.exit_code == 1
        assert "does not match" in result.output
        assert (tenants_dir / "globex.yaml").exists() and (tenants_dir / "acme.yaml").exists()
    finally:
        result = _invoke("delete", "globex", input="globex\n")
    assert result.exit_code == 0, result.output
    assert not (tenants_dir / "globex.yaml").exists()
    assert (tenants_dir / "acme.yaml").exists()


@pytest.mark.postgres
def test_create_and_delete_a_postgres_tenant_leaves_other_databases(
    tenants_dir: Path, klikkflow_home: Path, tmp_path: Path
) -> None:
    server = PostgresServer.from_env()
    tenant_id = f"pg-{uuid.uuid4().hex[:8]}"
    neighbour = f"pg-{uuid.uuid4().hex[:8]}"
    url = f"postgresql://{server.user}@{server.host}:{server.port}/"
    outputs = {}
    for name in (tenant_id, neighbour):
        result = _invoke(
            "create", name, "--storage", "postgres", "--pg-url", url, "--pod-pg-host", "db.internal"
        )
        assert result.exit_code == 0, result.output
        assert server.database_exists(tenant_database_name(name))
        outputs[name] = " ".join(result.output.split())
    try:
        # the operator is told where the secrets are, how to make the Secrets, and what to fill in: no values
        secrets = klikkflow_home / "platform" / "secrets"
        env_file, pg_file = secrets / f"kf-{tenant_id}-env.env", secrets / f"kf-{tenant_id}-postgresql.env"
        output = outputs[tenant_id]
        assert (
            f"kubectl -n kf-{tenant_id} create secret generic kf-{tenant_id}-env --from-env-file={env_file}"
            in (output)
        )
        assert f"--from-env-file={pg_file}" in output
        assert "fill in: KLIKKFLOW_STORAGE_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in output
        values = read_env_file(env_file)
        assert "@db.internal:5432/" in values["KLIKKFLOW_WAREHOUSE_URL"]
        rendered = "".join(path.read_text() for path in (tmp_path / "deploy").rglob("*") if path.is_file())
        for key in ("KLIKKFLOW_PG_PASSWORD", "KLIKKFLOW_TENANT_KEY", "KLIKKFLOW_AUDIT_TENANT_WRITER_KEY"):
            assert values[key] and values[key] not in output and values[key] not in rendered

        result = _invoke("migrate", tenant_id, "--pg-url", url)
        assert result.exit_code == 0, result.output
        assert f"migrated {tenant_database_name(tenant_id)}" in result.output

        result = _invoke("delete", tenant_id, "--confirm", tenant_id, "--drop-database", "--pg-url", url)
        assert result.exit_code == 0, result.output
        assert not server.database_exists(tenant_database_name(tenant_id))
        assert not env_file.exists() and not pg_file.exists()
        assert server.database_exists(tenant_database_name(neighbour))
        assert (tenants_dir / f"{neighbour}.yaml").exists()
        assert (secrets / f"kf-{neighbour}-env.env").exists()
    finally:
        _invoke("delete", neighbour, "--confirm", neighbour, "--drop-database", "--pg-url", url)
    assert not server.database_exists(tenant_database_name(neighbour))


@pytest.mark.postgres
def test_migrate_without_a_database_says_how_to_create_it(tenants_dir: Path) -> None:
    tenant_id = f"pg-{uuid.uuid4().hex[:8]}"
    (tenants_dir / f"{tenant_id}.yaml").write_text(f"id: {tenant_id}\nname: No database\n")
    result = _invoke("migrate", tenant_id, "--pg-url", "postgresql://postgres@127.0.0.1:5432/")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"database {tenant_database_name(tenant_id)} does not exist on 127.0.0.1:5432" in output
    assert f"Fix: `klikkflow tenant create {tenant_id} --storage postgres`" in output


@pytest.mark.parametrize("reserved", ["gateway", "platform", "system"])
def test_platform_names_are_reserved_tenant_ids(tenants_dir: Path, reserved: str) -> None:
    result = _invoke("create", reserved)
    assert result.exit_code == 1
    assert f"tenant id '{reserved}' is reserved for the platform" in " ".join(result.output.split())
    assert "fix:" in result.output
    assert not (tenants_dir / f"{reserved}.yaml").exists()
