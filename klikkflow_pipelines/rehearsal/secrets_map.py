"""Which secret values each rehearsal process must not hold (what the environment scan looks for).

- a tenant's processes: every other tenant's Secret values, the gateway's secrets, the checkpoint
  signing key and every detokenize private key (their own included: only the gateway holds those);
- the gateway: every tenant's Secret values and the signing key;
- the checkpointer: every tenant's Secret values, the gateway's cookie secret, writers' key and
  webhook secrets, and the detokenize keys.

Values are read from the env files and key files the operator's commands wrote.
"""

from __future__ import annotations

from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.pod_env import secret_env_file
from klikkflow_pipelines.tenancy.deploy_settings import GATEWAY_ENV_SECRET, tenant_env_secret
from klikkflow_pipelines.tenancy.secret_files import read_env_file

TENANT_SECRET_KEYS = (
    "KLIKKFLOW_PG_PASSWORD",
    "KLIKKFLOW_TENANT_KEY",
    "KLIKKFLOW_AUDIT_TENANT_WRITER_KEY",
    "KLIKKFLOW_WAREHOUSE_URL",
    "KLIKKFLOW_STORAGE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
WEBHOOK_SECRET_PREFIX = "KLIKKFLOW_WEBHOOK_SECRET__"
GATEWAY_SECRET_KEYS = (
    "KLIKKFLOW_GATEWAY_SECRET",
    "KLIKKFLOW_PG_PASSWORD",
    "KLIKKFLOW_GATEWAY_DB_URL",
    "KLIKKFLOW_AUDIT_KEY",
)


def tenant_secrets(layout: Layout, tenant_id: str) -> dict[str, str]:
    """The secret values of the tenant's Secret ``kf-<id>-env`` (a writer key by its key part too)."""
    values = read_env_file(secret_env_file(layout, tenant_env_secret(tenant_id)))
    found = {f"{tenant_id} {key}": values.get(key, "") for key in TENANT_SECRET_KEYS}
    found[f"{tenant_id} writer key (hex)"] = found[
        f"{tenant_id} KLIKKFLOW_AUDIT_TENANT_WRITER_KEY"
    ].partition(":")[2]
    return found


def gateway_secrets(layout: Layout) -> dict[str, str]:
    """The secret values of the gateway's Secret (its webhook secrets included)."""
    values = read_env_file(secret_env_file(layout, GATEWAY_ENV_SECRET))
    keys = [*GATEWAY_SECRET_KEYS, *(key for key in values if key.startswith(WEBHOOK_SECRET_PREFIX))]
    return {f"gateway {key}": values.get(key, "") for key in keys}


def file_secrets(layout: Layout, tenant_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the signing key, the detokenize private keys) as the operator's key files hold them."""
    signing = {"audit signing key": layout.signing_key_file.read_text(encoding="utf-8").strip()}
    detokenize = {
        f"{t} detokenize private key": (layout.detokenize_dir / f"{t}.key")
        .read_text(encoding="utf-8")
        .strip()
        for t in tenant_ids
    }
    return signing, detokenize


def forbidden_secrets(layout: Layout, tenant_ids: list[str]) -> dict[str, dict[str, str]]:
    """Owner (tenant id, ``gateway``, ``checkpointer``) -> label -> value it must not hold."""
    tenants = {t: tenant_secrets(layout, t) for t in tenant_ids}
    gateway = gateway_secrets(layout)
    signing, detokenize = file_secrets(layout, tenant_ids)
    every_tenant = {label: value for values in tenants.values() for label, value in values.items()}
    forbidden = {
        tenant: {
            **{
                label: value
                for other, values in tenants.items()
                if other != tenant
                for label, value in values.items()
            },
            **gateway,
            **signing,
            **detokenize,
        }
        for tenant in tenant_ids
    }
    forbidden["gateway"] = {**every_tenant, **signing}
    cookie_and_writer = {
        k: v
        for k, v in gateway.items()
        if k.endswith(("GATEWAY_SECRET", "AUDIT_KEY")) or WEBHOOK_SECRET_PREFIX in k
    }
    forbidden["checkpointer"] = {**every_tenant, **cookie_and_writer, **detokenize}
    return forbidden
