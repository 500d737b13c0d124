"""A tenant's resources, chosen per environment (shared by its code location and workflow components)."""

from __future__ import annotations

import os

import dagster as dg

from compliance.io_manager import CompliantIOManager
from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.instance import is_production
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER
from resources.frame_io import ParquetFrameIOManager
from resources.secrets import (
    TENANT_KEY_ENV,
    SecretsResource,
    local_tenant_key_file,
    local_token_public_key_file,
)
from resources.warehouse import WarehouseResource

DEFAULT_POLICY = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"


def build_resources(tenant: TenantConfig) -> dict[str, object]:
    """Resources for the tenant, chosen per environment.

    Frames of governed assets pass the compliance layer (classification and
    the tenant's policy) before the Parquet storage writes them.

    ``KLIKKFLOW_WAREHOUSE_URL`` (read by Dagster at run time through
    ``dg.EnvVar``, so no URL or password is stored in code or run config)
    selects the production warehouse; without it the warehouse is a SQLite
    file in the tenant's home. ``KLIKKFLOW_STORAGE_DIR`` moves frame storage.
    """
    home = tenant_home(tenant.id)
    warehouse_url = (
        dg.EnvVar("KLIKKFLOW_WAREHOUSE_URL")
        if os.environ.get("KLIKKFLOW_WAREHOUSE_URL")
        else f"sqlite:///{home / 'warehouse.db'}"
    )
    # Not under the instance's storage/ (compute logs), which the webserver serves as files.
    storage_dir = os.environ.get("KLIKKFLOW_STORAGE_DIR") or str(home / "frames")
    frames = ParquetFrameIOManager(base_dir=storage_dir)
    # The token public key: from the run environment, else the file the platform publishes (local).
    public: dict[str, object] = (
        {"token_public_key": dg.EnvVar(TOKEN_PUBLIC_KEY_ENV)}
        if os.environ.get(TOKEN_PUBLIC_KEY_ENV)
        else {"token_public_key_file": str(local_token_public_key_file(home))}
    )
    if os.environ.get(TENANT_KEY_ENV):
        secrets = SecretsResource(tenant_key=dg.EnvVar(TENANT_KEY_ENV), **public)
    elif is_production():
        secrets = SecretsResource(**public)  # hash/tokenize rules then fail with "set KLIKKFLOW_TENANT_KEY"
    else:
        secrets = SecretsResource(tenant_key_file=str(local_tenant_key_file(home)), **public)
    governed = CompliantIOManager(
        inner=frames,
        secrets=secrets,
        tenant_id=tenant.id,
        policy_path=str(tenant.policy_path() or DEFAULT_POLICY),
        destination="storage",
        region=tenant.region,
    )
    return {
        "warehouse": WarehouseResource(url=warehouse_url),
        "io_manager": frames,
        GOVERNED_IO_MANAGER: governed,
        "secrets": secrets,
    }
