"""A tenant's resources, chosen per environment (shared by its code location and workflow components)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from compliance.events import ComplianceEvent
from compliance.guard import UrlEvents
from compliance.io_manager import CompliantIOManager
from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.instance import is_production
from klikkflow_pipelines.tenancy.storage import tenant_storage_url
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER
from resources.default_store import TenantDefaultIOManager
from resources.frame_io import ParquetFrameIOManager
from resources.secrets import (
    TENANT_KEY_ENV,
    SecretsResource,
    local_tenant_key_file,
    local_token_public_key_file,
)
from resources.storage_location import location_problem
from resources.warehouse import WarehouseResource

DEFAULT_POLICY = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"
STORAGE_URL_ENV = "KLIKKFLOW_STORAGE_URL"
STORAGE_DIR_ENV = "KLIKKFLOW_STORAGE_DIR"


@dataclass(frozen=True)
class TenantEvents:
    """The tenant's own ``compliance_events`` table (a :class:`compliance.guard.EventSink`)."""

    tenant_id: str

    def record(self, events: Sequence[ComplianceEvent]) -> None:
        """Append ``events`` in one transaction (the storage URL resolved now, in the run's environment)."""
        UrlEvents(tenant_storage_url(self.tenant_id)).record(events)


def tenant_storage(tenant: TenantConfig) -> tuple[ParquetFrameIOManager, TenantDefaultIOManager]:
    """The tenant's frame storage and its default store (frames, and other objects pickled).

    With ``KLIKKFLOW_STORAGE_URL`` set (any fsspec URL, ``s3://bucket/prefix`` in production)
    frames go to ``<url>/frames`` and other objects to ``<url>/objects``; the URL is a
    ``dg.EnvVar``, resolved in the run's environment, never stored in the definitions or run
    config. Unset: local files in the tenant's home (``frames/``, ``objects/``), frames moved
    by ``KLIKKFLOW_STORAGE_DIR``. Raises :class:`ConfigError` for a URL that cannot work.
    """
    url = os.environ.get(STORAGE_URL_ENV)
    if url:
        problem = location_problem(url)
        if problem:
            fix = (
                f"set it to an fsspec URL like s3://<bucket>/<prefix> (in production: in the tenant "
                f"Secret kf-{tenant.id}-env), or unset it for local files in the tenant's home"
            )
            raise ConfigError([ConfigProblem("environment", STORAGE_URL_ENV, problem, fix)])
        root = dg.EnvVar(STORAGE_URL_ENV)
        frames = ParquetFrameIOManager(base_dir=root, folder="frames")
        store = TenantDefaultIOManager(
            frames_dir=root, frames_folder="frames", objects_dir=root, objects_folder="objects"
        )
        return frames, store
    home = tenant_home(tenant.id)
    # Not under the instance's storage/ (compute logs), which the webserver serves as files.
    frames_dir = os.environ.get(STORAGE_DIR_ENV) or str(home / "frames")
    store = TenantDefaultIOManager(frames_dir=frames_dir, objects_dir=str(home / "objects"))
    return ParquetFrameIOManager(base_dir=frames_dir), store


def tenant_secrets(home: Path) -> SecretsResource:
    """The tenant's keys as its runs get them (``klikkflow policy apply --tenant`` uses the same).

    ``KLIKKFLOW_TENANT_KEY`` when set; in production nothing else (hash and tokenize rules then
    fail with "set KLIKKFLOW_TENANT_KEY"); locally the key file in the tenant's ``home``.
    The token public key: from the environment, else the file the platform publishes (local).
    """
    public: dict[str, object] = (
        {"token_public_key": dg.EnvVar(TOKEN_PUBLIC_KEY_ENV)}
        if os.environ.get(TOKEN_PUBLIC_KEY_ENV)
        else {"token_public_key_file": str(local_token_public_key_file(home))}
    )
    if os.environ.get(TENANT_KEY_ENV):
        return SecretsResource(tenant_key=dg.EnvVar(TENANT_KEY_ENV), **public)
    if is_production():
        return SecretsResource(**public)
    return SecretsResource(tenant_key_file=str(local_tenant_key_file(home)), **public)


def build_resources(tenant: TenantConfig) -> dict[str, object]:
    """Resources for the tenant, chosen per environment.

    Frames of governed assets pass the compliance layer (classification and
    the tenant's policy) before the Parquet storage writes them.

    ``KLIKKFLOW_WAREHOUSE_URL`` (read by Dagster at run time through
    ``dg.EnvVar``, so no URL or password is stored in code or run config)
    selects the production warehouse; without it the warehouse is a SQLite
    file in the tenant's home. Frames and other stored objects: see :func:`tenant_storage`.
    ``KLIKKFLOW_WAREHOUSE_REGION`` and ``KLIKKFLOW_STORAGE_REGION`` name the
    regions of the warehouse and of frame storage (default: the tenant's
    region); the policy's residency rules are checked against them on every write.
    """
    home = tenant_home(tenant.id)
    warehouse_url = (
        dg.EnvVar("KLIKKFLOW_WAREHOUSE_URL")
        if os.environ.get("KLIKKFLOW_WAREHOUSE_URL")
        else f"sqlite:///{home / 'warehouse.db'}"
    )
    frames, default_store = tenant_storage(tenant)
    secrets = tenant_secrets(home)
    policy_path = str(tenant.policy_path() or DEFAULT_POLICY)
    events = TenantEvents(tenant.id)
    governed = CompliantIOManager(
        inner=frames,
        secrets=secrets,
        tenant_id=tenant.id,
        policy_path=policy_path,
        destination="storage",
        region=os.environ.get("KLIKKFLOW_STORAGE_REGION") or tenant.region,
        events=events,
    )
    warehouse = WarehouseResource(
        url=warehouse_url,
        region=os.environ.get("KLIKKFLOW_WAREHOUSE_REGION") or tenant.region,
        tenant_id=tenant.id,
        policy_path=policy_path,
        secrets=secrets,
        events=events,
    )
    return {
        "warehouse": warehouse,
        "io_manager": default_store,
        GOVERNED_IO_MANAGER: governed,
        "secrets": secrets,
    }
