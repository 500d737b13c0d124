"""Assembling and serving the gateway: one Dagster app per tenant, each on its own instance."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

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
    code_file_for: Callable[[str], Path] | None = None,
) -> Iterator[Gateway]:
    """Open every tenant's instance and workspace and yield the gateway; close them all on exit.

    ``code_file_for(tenant_id)`` chooses each tenant's code-location file; the
    default is the generated file in the tenant's home that builds the tenant's
    Definitions with ``build_definitions(load_tenant(id))``. On a local install each
    tenant's detokenize public key is published to its home (the private key stays
    in the platform directory, :mod:`compliance.token_keys`). A tenant whose
    config or workspace fails to load is logged and left out; the others serve.
    """
    from compliance.audit.log import audit_log_for_tenant
    from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV, publish_public_key
    from klikkflow_pipelines.gateway.dagster_mount import (
        open_tenant_workspace,
        tenant_code_file,
        tenant_dagster_app,
    )
    from klikkflow_pipelines.paths import tenant_home
    from resources.secrets import local_token_public_key_file

    settings = settings or settings_from_env()
    if tenants is None:
        loaded, errors = load_all_tenants()
        for tenant_id, error in errors.items():
            log.error("tenant %s is not served: %s", tenant_id, error)
        tenants = loaded
    with ExitStack() as stack:
        apps, audits, workspaces = {}, {}, {}
        for tenant_id, tenant in tenants.items():
            try:
                instance = stack.enter_context(tenant_instance(tenant))
                code_file = (
                    code_file_for(tenant_id)
                    if code_file_for
                    else tenant_code_file(tenant_id, tenant_home(tenant_id))
                )
                context = stack.enter_context(open_tenant_workspace(instance, code_file, tenant_id))
                workspaces[tenant_id] = context
                apps[tenant_id] = tenant_dagster_app(context, tenant_id)
                audits[tenant_id] = audit_log_for_tenant(tenant_id)
                if not os.environ.get(TOKEN_PUBLIC_KEY_ENV):  # local: the tenant's runs read it there
                    publish_public_key(tenant_id, local_token_public_key_file(tenant_home(tenant_id)))
            except Exception:
                log.exception("tenant %s is not served: its instance or workspace failed to load", tenant_id)
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
