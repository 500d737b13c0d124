"""Assembling and serving the gateway: one Dagster app per tenant, each on its own instance."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.settings import GatewaySettings, settings_from_env
from klikkflow_pipelines.gateway.store import GatewayStore
from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants
from klikkflow_pipelines.tenancy.instance import tenant_instance

log = logging.getLogger("klikkflow.gateway")


@contextmanager
def open_gateway(
    settings: GatewaySettings | None = None,
    tenants: Mapping[str, TenantConfig] | None = None,
    workspace_for: Callable[[TenantConfig], Path] | None = None,
) -> Iterator[Gateway]:
    """Open every tenant's instance and workspace and yield the gateway; close them all on exit.

    ``workspace_for(tenant)`` chooses each tenant's workspace file (``klikkflow dev``: the
    ``grpc_server`` workspace of the code servers it shares with the tenant's daemon). Without it, when
    ``KLIKKFLOW_GATEWAY_WORKSPACES_DIR`` is set (production), it is ``<dir>/<tenant id>.yaml``
    there: ``grpc_server`` entries of the tenant's running code servers
    (:mod:`klikkflow_pipelines.tenancy.grpc_workspace`); a tenant without that file is not
    served. Otherwise it is the ``workspace.yaml`` in the tenant's home, rewritten from the
    tenant file: the built-in location plus one per tenant code
    location, each a code server subprocess of the gateway. A tenant whose config, workspace or
    instance fails to load is logged and left out; a tenant location that fails to load is logged
    and shown with its error; the others serve. Tenants are opened side by side (threads). On a
    local install each tenant's detokenize public key is published to its home (the private key
    stays in the platform directory, :mod:`compliance.token_keys`).
    """
    from compliance.audit.log import audit_log_for_tenant
    from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV, publish_public_key
    from klikkflow_pipelines.gateway.dagster_mount import (
        location_load_errors,
        open_tenant_workspace,
        tenant_dagster_app,
    )
    from klikkflow_pipelines.paths import tenant_home
    from klikkflow_pipelines.tenancy.grpc_workspace import gateway_workspace_file
    from klikkflow_pipelines.tenancy.provisioning import write_workspace
    from resources.secrets import local_token_public_key_file

    settings = settings or settings_from_env()
    if tenants is None:
        loaded, errors = load_all_tenants()
        for tenant_id, error in errors.items():
            log.error("tenant %s is not served: %s", tenant_id, error)
        tenants = loaded

    def load(tenant_id: str) -> tuple[ExitStack, Any, Any, Any] | None:
        """Open one tenant's instance, workspace and app; ``None`` (logged) when it cannot be served."""
        tenant = tenants[tenant_id]
        opened = ExitStack()
        try:
            if workspace_for:
                workspace = workspace_for(tenant)
            else:
                workspace = gateway_workspace_file(tenant_id) or write_workspace(
                    tenant, tenant_home(tenant_id) / "workspace.yaml"
                )
            instance = opened.enter_context(tenant_instance(tenant))
            context = opened.enter_context(open_tenant_workspace(instance, workspace))
            for location, error in location_load_errors(context).items():
                log.error("tenant %s: code location %s failed to load: %s", tenant_id, location, error)
            app = tenant_dagster_app(context, tenant_id)
            audit = audit_log_for_tenant(tenant_id)
            if not os.environ.get(TOKEN_PUBLIC_KEY_ENV):  # local: the tenant's runs read it there
                publish_public_key(tenant_id, local_token_public_key_file(tenant_home(tenant_id)))
        except Exception:
            opened.close()
            log.exception("tenant %s is not served: its instance or workspace failed to load", tenant_id)
            return None
        return opened, context, app, audit

    with ExitStack() as stack:
        apps, audits, workspaces = {}, {}, {}
        # Tenants load side by side (each mostly waits for its code servers); one failing does not
        # stop the others.
        with ThreadPoolExecutor(max(1, min(8, len(tenants))), thread_name_prefix="tenant-load") as pool:
            results = list(pool.map(load, tenants))
        for tenant_id, result in zip(tenants, results, strict=True):
            if result is not None:
                opened, workspaces[tenant_id], apps[tenant_id], audits[tenant_id] = result
                stack.enter_context(opened)
        yield Gateway(settings, tenants, apps, audits, GatewayStore(settings.database_url), workspaces)


def serve(host: str = "127.0.0.1", port: int = 3000, settings: GatewaySettings | None = None) -> None:
    """Run the gateway with uvicorn until interrupted.

    Websocket frames larger than the gateway's GraphQL request limit are refused by
    uvicorn before they are buffered (its default would take 16 MiB).
    """
    import uvicorn

    from klikkflow_pipelines.gateway.gate import MAX_GRAPHQL_BODY

    with open_gateway(settings) as gateway:
        uvicorn.run(
            gateway,
            host=host,
            port=port,
            log_level="info",
            proxy_headers=False,
            ws_max_size=MAX_GRAPHQL_BODY + 64 * 1024,
        )
