"""Frame storage on an object store: ``KLIKKFLOW_STORAGE_URL=s3://<bucket>/<prefix>`` against moto's
standalone S3 server (a real subprocess on loopback, see ``klikkflow_pipelines.devtools.s3_server``).

Governed tenant assets are materialized with Dagster's real execution APIs, in this process or in
run-worker-like subprocesses (path guard installed); what landed is read back with s3fs and pyarrow,
independently of the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import s3fs
import yaml

from compliance.crypto import hash_value
from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.devtools.s3_server import S3Server
from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenant_code.environment import tenant_environment
from klikkflow_pipelines.tenant_resources import build_resources
from resources.storage_location import StorageLocation

HERE = Path(__file__).parent
RUNNER = HERE / "object_store_run.py"
_spec = importlib.util.spec_from_file_location("object_store_location", HERE / "object_store_location.py")
location = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(location)  # type: ignore[union-attr]

POLICY = {
    "version": 1,
    "default_action": "allow",
    "rules": [{"name": "hash-emails", "match": {"entities": ["EMAIL_ADDRESS"]}, "action": "hash"}],
}


@pytest.fixture(scope="module")
def bucket(s3_server: S3Server) -> str:
    """One bucket for this module (each test writes under its own random prefix)."""
    return s3_server.create_bucket("kf-frames")


@pytest.fixture
def s3(s3_server: S3Server) -> s3fs.S3FileSystem:
    """An independent S3 client on the server, to read back what the runs stored."""
    env = s3_server.env()
    return s3fs.S3FileSystem(
        key=env["AWS_ACCESS_KEY_ID"],
        secret=env["AWS_SECRET_ACCESS_KEY"],
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": env["AWS_DEFAULT_REGION"]},
        skip_instance_cache=True,
    )


@pytest.fixture
def tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, TenantConfig]:
    """Tenants ``acme`` and ``globex``, each with a policy that hashes e-mails."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(folder))
    (folder / "policy.yaml").write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    for tenant in ("acme", "globex"):
        config = {"id": tenant, "name": tenant.title(), "policy": "policy.yaml"}
        (folder / f"{tenant}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return {t: load_tenant(t) for t in ("acme", "globex")}


@pytest.fixture
def storage_url(s3_server: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """``storage_url(name)``: point this process at the S3 server and at ``s3://<bucket>/<name>-<random>``."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)

    def _point(name: str) -> str:
        url = f"s3://{bucket}/{name}-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("KLIKKFLOW_STORAGE_URL", url)
        return url

    return _point


def hashed(tenant: TenantConfig, values: list[str]) -> list[str]:
    """``values`` as the tenant's policy stores them (keyed HMAC with the tenant's own key)."""
    key = build_resources(tenant)["secrets"].compliance_keys().hash_key
    return [hash_value(key, v) for v in values]


def _materialize(
    tenant: TenantConfig, assets: list[str], partition: str | None = None
) -> dg.ExecuteInProcessResult:
    governed = govern_definitions(location.defs, tenant, "object_store_location.py")
    job = governed.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey.from_user_string(a) for a in assets],
            partition_key=partition,
            raise_on_error=False,
        )


def _paths(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        m.asset_key.to_user_string(): m.materialization.metadata["path"].value
        for m in result.get_asset_materialization_events()
    }


def _failure(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure)


def _table(s3: s3fs.S3FileSystem, key: str) -> dict[str, list[object]]:
    s3.invalidate_cache()
    with s3.open(key, "rb") as file:
        return pq.read_table(file).to_pydict()


def _keys(s3: s3fs.S3FileSystem, bucket: str) -> list[str]:
    s3.invalidate_cache()
    return sorted(s3.find(bucket))


def _start_runs(runs: list[tuple[dict[str, str], list[str]]]) -> list[dict[str, object]]:
    """Start every ``(env, args)`` run of the runner at once; their JSON outcomes in order."""
    processes = [
        subprocess.Popen(
            [sys.executable, str(RUNNER), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for env, args in runs
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-3000:]
        outcomes.append(json.loads(out.decode().strip().splitlines()[-1]))
    return outcomes


def _worker_env(**extra: str) -> dict[str, str]:
    """This process's environment for a run worker of tenant acme (pattern-only PII detection: fast)."""
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "KLIKKFLOW_SPACY_MODEL": "", **extra}


def test_governed_frames_and_objects_land_in_the_object_store_protected_and_are_read_back(
    tenants: dict[str, TenantConfig], storage_url: Callable[[str], str], s3: s3fs.S3FileSystem
) -> None:
    acme = tenants["acme"]
    url = storage_url("acme")
    result = _materialize(acme, ["customers", "customer_count", "note", "note_answer"])
    assert result.success, _failure(result)

    root = url.removeprefix("s3://")
    stored = _table(s3, f"{root}/frames/customers.parquet")
    assert stored["email"] == hashed(acme, location.EMAILS)
    assert not set(location.EMAILS) & set(stored["email"]), "raw e-mails in the object store"
    assert stored["score"] == [1, 2, 3]
    downstream = _table(s3, f"{root}/frames/customer_count.parquet")  # read the stored frame back
    assert downstream == {"customers": [3], "first_email": [hashed(acme, location.EMAILS)[:1][0]]}
    assert pickle.loads(s3.cat(f"{root}/objects/note")) == {"answer": 42}
    assert pickle.loads(s3.cat(f"{root}/objects/note_answer")) == 42

    paths = _paths(result)
    assert paths["customers"] == f"{url}/frames/customers.parquet"  # the UI shows where the frame is
    assert paths["note"] == f"{url}/objects/note"
    home = tenant_home("acme")
    assert not (home / "frames").exists() and not (home / "objects").exists(), "nothing stored locally"


def test_two_processes_writing_different_partitions_at_once_both_land_under_their_own_keys(
    tenants: dict[str, TenantConfig],
    storage_url: Callable[[str], str],
    s3: s3fs.S3FileSystem,
    tmp_path: Path,
) -> None:
    """Both run workers pass a barrier inside the asset, then write; each key holds its own day."""
    url = storage_url("acme")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = _worker_env(KF_TEST_BARRIER=str(barrier), KLIKKFLOW_TENANT="acme")
    days = location.DAYS.get_partition_keys()
    outcomes = _start_runs([(env, ["acme", "daily_signups", day]) for day in days])

    for day, outcome in zip(days, outcomes, strict=True):
        assert outcome["success"] and outcome["guarded"], outcome["error"]  # path guard on: S3 unaffected
        assert outcome["paths"] == {"daily_signups": f"{url}/frames/daily_signups/{day}.parquet"}
    root = url.removeprefix("s3://")
    assert _keys(s3, root) == [f"{root}/frames/daily_signups/{day}.parquet" for day in days]
    for day in days:
        stored = _table(s3, f"{root}/frames/daily_signups/{day}.parquet")
        assert stored["day"] == [day, day]
        assert stored["email"] == hashed(tenants["acme"], [f"{day}-a@example.com", f"{day}-b@example.com"])

    total = _materialize(tenants["acme"], ["signups_total"])  # reads every partition back
    assert total.success, _failure(total)
    assert _table(s3, f"{root}/frames/signups_total.parquet") == {"rows": [4], "days": [2]}


def test_attack_partition_keys_and_asset_keys_with_dotdot_stay_inside_the_prefix(
    tenants: dict[str, TenantConfig],
    storage_url: Callable[[str], str],
    s3: s3fs.S3FileSystem,
    bucket: str,
) -> None:
    url = storage_url("acme")
    for partition in location.ESCAPES.get_partition_keys():
        result = _materialize(tenants["acme"], ["escapes"], partition)
        assert result.success, _failure(result)
    planted = _materialize(tenants["acme"], ["../../globex/frames/planted"])
    assert planted.success, _failure(planted)

    root = url.removeprefix("s3://")
    keys = _keys(s3, bucket)
    written = [k for k in keys if k.startswith(f"{root}/")]
    assert len(written) == 3
    assert all(k.startswith(f"{root}/frames/") and "/../" not in k for k in written), written
    assert not [k for k in keys if "globex" in k.split("/")[1]], "a key climbed into another prefix"
    assert _table(s3, f"{root}/frames/escapes/%2E.%2Fother.parquet") == {"key": ["../other"]}


def test_each_tenant_run_uses_only_its_own_storage_url(
    tenants: dict[str, TenantConfig],
    s3_server: S3Server,
    bucket: str,
    s3: s3fs.S3FileSystem,
    klikkflow_home: Path,
) -> None:
    """The platform holds both tenants' URLs and credentials (``<NAME>__<TENANT>``) and one of its own;
    each tenant's run worker, started in the environment tenant code gets, writes only its prefix."""
    platform = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KLIKKFLOW_STORAGE"))}
    platform |= {"PYTHONPATH": str(PROJECT_ROOT), "KLIKKFLOW_SPACY_MODEL": ""}
    platform |= {**s3_server.env(), "KLIKKFLOW_STORAGE_URL": f"s3://{bucket}/platform-own"}
    prefixes = {t: f"{t}-{uuid.uuid4().hex[:8]}" for t in tenants}
    for tenant, prefix in prefixes.items():
        suffix = f"__{tenant.upper()}"
        platform[f"KLIKKFLOW_STORAGE_URL{suffix}"] = f"s3://{bucket}/{prefix}"
        platform |= {f"{name}{suffix}": value for name, value in s3_server.env().items()}
    runs = [
        (tenant_environment(t, platform, tenant_home(t)), [t, "customers,customer_count"]) for t in tenants
    ]
    outcomes = _start_runs(runs)

    keys = _keys(s3, bucket)
    for tenant, outcome in zip(tenants, outcomes, strict=True):
        assert outcome["success"] and outcome["guarded"], outcome["error"]
        root = f"{bucket}/{prefixes[tenant]}"
        assert [k for k in keys if k.startswith(f"{root}/")] == [
            f"{root}/frames/customer_count.parquet",
            f"{root}/frames/customers.parquet",
        ]
        stored = _table(s3, f"{root}/frames/customers.parquet")
        assert stored["email"] == hashed(tenants[tenant], location.EMAILS)  # with its own tenant key
    assert not [k for k in keys if k.startswith(f"{bucket}/platform-own")]


def test_the_url_is_resolved_in_the_runs_environment_not_stored_in_the_definitions(
    tenants: dict[str, TenantConfig], storage_url: Callable[[str], str], s3: s3fs.S3FileSystem
) -> None:
    """Definitions loaded under one URL, the run under another: the run's own URL wins."""
    at_load = storage_url("at-load")
    governed = govern_definitions(location.defs, tenants["acme"], "object_store_location.py")
    at_run = storage_url("at-run")
    job = governed.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("note")])
    assert _paths(result) == {"note": f"{at_run}/objects/note"}
    assert s3.exists(f"{at_run.removeprefix('s3://')}/objects/note")
    assert not _keys(s3, at_load.removeprefix("s3://"))


def test_reading_a_missing_upstream_fails_naming_its_url(
    tenants: dict[str, TenantConfig], storage_url: Callable[[str], str]
) -> None:
    url = storage_url("acme")
    result = _materialize(tenants["acme"], ["customer_count"])
    assert not result.success
    assert (
        f"No stored output at {url}/frames/customers.parquet: materialize the upstream asset customers first"
        in _failure(result)
    )


def test_attack_local_storage_in_another_tenants_home_is_still_refused_by_the_path_guard(
    tenants: dict[str, TenantConfig], klikkflow_home: Path
) -> None:
    """A file:// URL and a storage dir inside globex's home: acme's guarded run worker writes neither."""
    globex = klikkflow_home / "tenants" / "globex"
    guarded = {"KLIKKFLOW_TENANT": "acme"}
    runs = [
        (_worker_env(**guarded, KLIKKFLOW_STORAGE_URL=f"file://{globex}/stolen"), ["acme", "customers"]),
        (_worker_env(**guarded, KLIKKFLOW_STORAGE_DIR=str(globex / "frames")), ["acme", "customers"]),
    ]
    for outcome in _start_runs(runs):
        assert not outcome["success"]
        assert "KlikkFlow path guard" in str(outcome["error"]) and "home of tenant 'globex'" in str(
            outcome["error"]
        )
    assert not list(globex.rglob("*.parquet"))


def test_local_default_is_unchanged(
    tenants: dict[str, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL: frames and objects in the tenant's home, ``KLIKKFLOW_STORAGE_DIR`` moves the frames."""
    acme = tenants["acme"]
    result = _materialize(acme, ["customers", "note"])
    assert result.success, _failure(result)
    home = tenant_home("acme")
    assert _paths(result) == {
        "customers": str(home / "frames" / "customers.parquet"),
        "note": str(home / "objects" / "note"),
    }
    assert pq.read_table(home / "frames" / "customers.parquet")["email"].to_pylist() == hashed(
        acme, location.EMAILS
    )
    assert pickle.loads((home / "objects" / "note").read_bytes()) == {"answer": 42}

    moved = home / "elsewhere"
    monkeypatch.setenv("KLIKKFLOW_STORAGE_DIR", str(moved))
    again = _materialize(acme, ["customers"])
    assert again.success, _failure(again)
    assert (moved / "customers.parquet").is_file()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_writer_dying_mid_write_leaves_the_previous_frame_whole(
    kind: str, storage_url: Callable[[str], str], tmp_path: Path
) -> None:
    """Readers see the old bytes or the new ones: a write that fails half-way stores nothing."""
    where = StorageLocation.open(storage_url("atomic") if kind == "s3" else str(tmp_path / "store"))
    path = where.path("frame.parquet")
    where.write_atomically(path, lambda file: file.write(b"old and whole"))

    def half_then_die(file: object) -> None:
        file.write(b"new but ha")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # the process is told to stop in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        where.write_atomically(path, half_then_die)
    assert where.read_bytes(path) == b"old and whole"
    if kind == "local":
        assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["frame.parquet"]  # no temp left


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix-without-bucket", "://nothing", "s3://b/p?region=x"])
def test_an_unusable_storage_url_names_the_variable_and_the_fix(
    url: str, tenants: dict[str, TenantConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLIKKFLOW_STORAGE_URL", url)
    with pytest.raises(ConfigError) as error:
        build_resources(tenants["acme"])
    [problem] = error.value.problems
    assert problem.field == "KLIKKFLOW_STORAGE_URL"
    assert "s3://<bucket>/<prefix>" in problem.fix and "kf-acme-env" in problem.fix


def test_loading_definitions_with_a_storage_url_imports_no_s3_client(
    tenants: dict[str, TenantConfig],
) -> None:
    """s3fs, aiobotocore and botocore load when a run touches the store, never with the definitions."""
    code = (
        "import sys, json; from klikkflow_pipelines.definitions import defs;"
        "print(json.dumps([m for m in ('s3fs', 'aiobotocore', 'botocore', 'boto3', 'fsspec') "
        "if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "KLIKKFLOW_STORAGE_URL": "s3://b/acme"}
    env["KLIKKFLOW_TENANT"] = "acme"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
