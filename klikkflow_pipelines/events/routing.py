"""Which workflow a webhook path names, and its secret: ``/hooks/<tenant>/<workflow>``.

A tenant's webhooks are its enabled workflow templates (``workflows:`` in its
tenant file), narrowed by ``webhooks:`` in its events config. The path takes the
workflow's name (``customer_onboarding``); the name of its job
(``customer_onboarding_job``) still works as an alias of the same workflow, so
senders configured before the path took workflow names keep working. Either way
the event is recorded for the workflow and checked with the workflow's one
secret, ``KLIKKFLOW_WEBHOOK_SECRET__<TENANT>__<WORKFLOW>``; a secret still named
after the job is read only when the workflow's is not set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.events.config import EventsConfig, events_config_path, load_events_config
from klikkflow_pipelines.events.signing import webhook_secret
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.template import workflow_job_name

log = logging.getLogger("klikkflow.events")


def webhook_names(workflows: Sequence[str], allowed: Sequence[str] | None) -> dict[str, str]:
    """Path name -> workflow for ``workflows`` narrowed by ``allowed`` (workflow or job names; None: all).

    Each workflow answers to its own name and, as an alias, to its job's name.
    """
    by_name = {name: w for w in workflows for name in (w, workflow_job_name(w))}
    chosen = set(workflows) if allowed is None else {by_name[n] for n in allowed if n in by_name}
    return {name: w for name, w in by_name.items() if w in chosen}


def workflow_secret(tenant: str, workflow: str) -> bytes | None:
    """The webhook secret of ``tenant``/``workflow``; one named after its job only when that is unset."""
    return webhook_secret(tenant, workflow) or webhook_secret(tenant, workflow_job_name(workflow))


class TenantWebhooks:
    """Resolves ``/hooks/<tenant>/<name>`` against the served tenants' configs (re-read when changed).

    ``tenants`` returns the current tenant configs by id (the gateway's, which it
    re-reads on change). An events config that does not validate closes the
    tenant's webhooks (logged) until it is fixed: the tenant's code location does
    not load with it either.
    """

    def __init__(self, tenants: Callable[[], Mapping[str, TenantConfig]]) -> None:
        self._tenants = tenants
        self._configs: dict[str, tuple[tuple[int, int] | None, EventsConfig | None]] = {}

    def _events_config(self, tenant_id: str) -> EventsConfig | None:
        path = events_config_path(tenant_id)
        try:
            stat = os.stat(path)
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        cached = self._configs.get(tenant_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            config: EventsConfig | None = load_events_config(tenant_id)
        except ConfigError as error:
            log.error("events config of tenant %s is invalid; its webhooks are closed:\n%s", tenant_id, error)
            config = None
        self._configs[tenant_id] = (stamp, config)
        return config

    def workflow(self, tenant_id: str, name: str) -> str | None:
        """The workflow ``name`` (a workflow or job name) stands for at ``tenant_id``, or None."""
        tenant = self._tenants().get(tenant_id)
        if tenant is None:
            return None
        config = self._events_config(tenant_id)
        if config is None:
            return None
        enabled = [w for w, settings in tenant.workflows.items() if settings.enabled]
        return webhook_names(enabled, config.webhooks).get(name)

    def secret(self, tenant_id: str, workflow: str) -> bytes | None:
        """The secret of a served tenant's workflow (see :func:`workflow_secret`), or None."""
        return workflow_secret(tenant_id, workflow) if tenant_id in self._tenants() else None
