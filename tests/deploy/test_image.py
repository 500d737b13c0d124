"""The image builds and runs a tenant's workflows the way the pods run it.

Opt-in (``KLIKKFLOW_TEST_IMAGE=1``, and a Docker engine that answers); skipped otherwise, so
``make test`` never builds an image. ``make image-test`` runs it. The module builds
``deploy/Dockerfile`` with ``deploy/image/build_image.sh`` (on the debootstrapped base unless
``PYTHON_IMAGE`` names another; an unchanged tree rebuilds from cache in seconds, a cold build
takes minutes and needs the package index), then starts containers as the Helm values run pods:
uid 10001, read-only root filesystem, a tmpfs on /tmp, every capability dropped, no privilege
escalation. Production runs use the host's PostgreSQL through the host network, each on a fresh
``klikkflow_img_<random>`` database of a throwaway tenant ``img-<random>``, dropped afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV, public_key_hex
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.deploy_settings import RUN_USER_ID
from klikkflow_pipelines.tenancy.helm_values import render_helm_values
from klikkflow_pipelines.tenancy.instance import render_instance_config, tenant_database_name
from resources.secrets import TENANT_KEY_ENV

IMAGE = os.environ.get("KLIKKFLOW_TEST_IMAGE_TAG", "klikkflow:dev")
DOCKER = os.environ.get("DOCKER", "docker")
TENANTS_MOUNT = "/etc/klikkflow/tenants"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # where the chart mounts the instance ConfigMap
DEMO_RUNS = 5  # three onboarding drops, one claims business date, one operations report


def _skip_reason() -> str | None:
    if os.environ.get("KLIKKFLOW_TEST_IMAGE") != "1":
        return "builds and runs the image only with KLIKKFLOW_TEST_IMAGE=1 (make image-test)"
    try:
        subprocess.run([DOCKER, "version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"KLIKKFLOW_TEST_IMAGE=1 but the Docker engine does not answer `{DOCKER} version`: {exc}"
    return None


SKIP_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


@pytest.fixture(scope="module")
def image() -> str:
    """The image of this tree: built by ``build_image.sh`` (from cache when nothing changed)."""
    subprocess.run(
        [str(PROJECT_ROOT / "deploy" / "image" / "build_image.sh"), IMAGE],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    return IMAGE


def run_container(
    image: str,
    *command: str,
    env: dict[str, str] | None = None,
    env_file: Path | None = None,
    mounts: tuple[tuple[Path, str], ...] = (),
    read_only: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a new container shaped like a tenant pod; it is removed afterwards."""
    name = f"kf-image-test-{uuid.uuid4().hex[:10]}"
    args = [DOCKER, "run", "--rm", "--name", name, "--user", f"{RUN_USER_ID}:{RUN_USER_ID}"]
    args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp"]
    args += ["--network", "host", "-e", "COLUMNS=200"]  # host network: the host's PostgreSQL
    args += ["--read-only"] if read_only else []
    args += ["--env-file", str(env_file)] if env_file else []
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    for source, target in mounts:
        args += ["-v", f"{source}:{target}:ro"]
    try:
        return subprocess.run([*args, image, *command], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True, timeout=60)
        raise


@dataclass(frozen=True)
class ImageTenant:
    """A throwaway tenant whose files are mounted into the container and whose database is fresh."""

    id: str
    database_url: str
    tenants_dir: Path
    env_file: Path

    def env(self) -> dict[str, str]:
        """The non-secret settings of the tenant's pods."""
        return {
            "KLIKKFLOW_ENV": "production",
            "KLIKKFLOW_TENANT": self.id,
            "KLIKKFLOW_TENANTS_DIR": TENANTS_MOUNT,
        }

    def query(self, statement: str, **params: object) -> list[sa.Row]:
        """Rows of ``statement`` on the tenant's database, read from the host."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(statement), params))
        finally:
            engine.dispose()


@pytest.fixture
def image_tenant(
    fresh_database: Callable[[str], AbstractContextManager[str]], tmp_path: Path
) -> Iterator[ImageTenant]:
    """Tenant ``img-<random>`` on a fresh ``klikkflow_img_<random>`` database with a ``warehouse`` schema.

    Its tenant file is the default tenant's under the new id; its secrets are an env file shaped
    like the tenant Secret ``kf-<id>-env`` (PostgreSQL settings, tenant key, token public key,
    warehouse URL), passed with ``--env-file``.
    """
    with fresh_database("klikkflow_img") as url:
        database = url.rsplit("/", 1)[1]
        tenant_id = database.removeprefix("klikkflow_").replace("_", "-")
        assert tenant_database_name(tenant_id) == database
        with sa.create_engine(url).begin() as connection:
            connection.execute(sa.text("CREATE SCHEMA warehouse"))
        tenants_dir = tmp_path / "tenants"
        tenants_dir.mkdir(mode=0o755)
        tenant = yaml.safe_load((PROJECT_ROOT / "deploy" / "tenants" / "default.yaml").read_text())
        tenant |= {"id": tenant_id, "policy": "/opt/klikkflow/deploy/policies/default.yaml"}
        (tenants_dir / f"{tenant_id}.yaml").write_text(yaml.safe_dump(tenant, sort_keys=False))
        (tenants_dir / f"{tenant_id}.yaml").chmod(0o644)
        env_file = tmp_path / f"kf-{tenant_id}-env.env"
        env_file.write_text(
            "KLIKKFLOW_PG_HOST=127.0.0.1\nKLIKKFLOW_PG_PORT=5432\nKLIKKFLOW_PG_USER=postgres\n"
            "KLIKKFLOW_PG_PASSWORD=\n"
            f"{TENANT_KEY_ENV}={secrets.token_hex(32)}\n"
            f"{TOKEN_PUBLIC_KEY_ENV}={public_key_hex(X25519PrivateKey.generate())}\n"
            f"KLIKKFLOW_WAREHOUSE_URL={url}?options=-csearch_path%3Dwarehouse\n"
        )
        env_file.chmod(0o600)
        yield ImageTenant(tenant_id, url, tenants_dir, env_file)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(
        (
            f"exit {result.returncode}",
            "--- stdout",
            result.stdout[-6000:],
            "--- stderr",
            result.stderr[-6000:],
        )
    )


def test_runs_as_the_pods_user_and_a_run_cannot_rewrite_the_image(image: str) -> None:
    """Attack: code in a run rewrites the code or tenant files the next run loads.

    With the root filesystem read-only (the pods' setting) nothing outside /tmp is writable; even
    where a cluster forgets readOnlyRootFilesystem, uid 10001 owns none of the code. The CA bundle
    handed to pip at build time is a build secret, in no layer of the image.
    """
    probe = textwrap.dedent(
        """
        import os, pathlib
        print("uid", os.getuid(), os.getgid())
        for target in (
            "/opt/klikkflow/klikkflow_pipelines/definitions.py",
            "/opt/klikkflow/deploy/tenants/x.yaml",
            "/opt/venv/lib/python3.11/site-packages/x.pth",
            "/opt/venv/bin/x",
            "/etc/x",
        ):
            try:
                pathlib.Path(target).write_text("")
                print("WROTE", target)
            except OSError as exc:
                print("refused", target, exc.strerror)
        pathlib.Path("/tmp/ok").write_text("ok")
        print("pip_ca", os.path.exists("/run/secrets/pip_ca"), "PIP_CERT" in os.environ)
        """
    )
    for read_only in (True, False):
        result = run_container(image, "python", "-c", probe, read_only=read_only, timeout=120)
        assert result.returncode == 0, _output(result)
        assert f"uid {RUN_USER_ID} {RUN_USER_ID}" in result.stdout
        assert "WROTE" not in result.stdout, _output(result)
        assert result.stdout.count("refused") == 5
        assert "pip_ca False False" in result.stdout


def test_demo_on_the_embedded_instance(image: str) -> None:
    """``klikkflow demo`` inside the container: every sample workflow on SQLite under /tmp."""
    result = run_container(image, "klikkflow", "demo", env={"KLIKKFLOW_ENV": "local"})
    assert result.returncode == 0, _output(result)
    assert result.stdout.count(" success ") == DEMO_RUNS, _output(result)


def test_demo_in_production_on_the_tenants_database(image: str, image_tenant: ImageTenant) -> None:
    """Every sample workflow with KLIKKFLOW_ENV=production: runs, events and warehouse in Postgres."""
    result = run_container(
        image,
        *("klikkflow", "demo", "--tenant", image_tenant.id),
        env=image_tenant.env(),
        env_file=image_tenant.env_file,
        mounts=((image_tenant.tenants_dir, TENANTS_MOUNT),),
    )
    assert result.returncode == 0, _output(result)
    assert f"warehouse {image_tenant.database_url}?options=" in result.stdout, _output(result)
    runs = image_tenant.query(
        "SELECT r.status, t.value FROM runs r JOIN run_tags t"
        " ON t.run_id = r.run_id AND t.key = 'klikkflow/tenant'"
    )
    assert runs == [("SUCCESS", image_tenant.id)] * DEMO_RUNS
    assert image_tenant.query("SELECT count(*) FROM warehouse.customers")[0][0] > 0
    assert image_tenant.query("SELECT count(*) FROM compliance_events")[0][0] > 0


def test_one_run_as_a_run_worker_with_the_charts_instance(
    image: str, image_tenant: ImageTenant, tmp_path: Path
) -> None:
    """One run of the image's code location module with the instance where the chart mounts it.

    The instance is the tenant's production config with the Helm values' compute log manager
    (a read-only root filesystem has nowhere to write compute logs), mounted read-only at
    DAGSTER_HOME as the chart mounts its ConfigMap.
    """
    tenant = load_tenant(image_tenant.id, image_tenant.tenants_dir)
    instance = render_instance_config(tenant, production=True)
    assert render_helm_values(tenant)["computeLogManager"]["type"] == "NoOpComputeLogManager"
    instance["compute_logs"] = {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
    instance_file = tmp_path / "dagster.yaml"
    instance_file.write_text(yaml.safe_dump(instance, sort_keys=False))
    instance_file.chmod(0o644)
    result = run_container(
        image,
        *("dagster", "job", "execute", "-m", "klikkflow_pipelines.definitions", "-a", "defs"),
        *("-j", "operations_report_job"),
        env=image_tenant.env(),
        env_file=image_tenant.env_file,
        mounts=(
            (image_tenant.tenants_dir, TENANTS_MOUNT),
            (instance_file, f"{DAGSTER_HOME}/dagster.yaml"),
        ),
    )
    assert result.returncode == 0, _output(result)
    logs = result.stdout + result.stderr
    assert "Traceback" not in logs, _output(result)
    success = re.search(r"operations_report_job - ([0-9a-f-]{36}) - \d+ - RUN_SUCCESS", logs)
    assert success, _output(result)
    rows = image_tenant.query(
        "SELECT r.status, t.value FROM runs r JOIN run_tags t"
        " ON t.run_id = r.run_id AND t.key = 'klikkflow/tenant' WHERE r.run_id = :run_id",
        run_id=success.group(1),
    )
    assert rows == [("SUCCESS", image_tenant.id)]
    assert image_tenant.query("SELECT count(*) FROM warehouse.operations_report")[0][0] == 1
