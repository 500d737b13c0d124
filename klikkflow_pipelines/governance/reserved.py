"""Resource keys that belong to KlikkFlow and are bound to the tenant a location serves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.governance.io_managers import TENANT_INNER_SUFFIX
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER

RESERVED_KEYS = frozenset({"warehouse", "secrets", GOVERNED_IO_MANAGER})
"""KlikkFlow's storage, keys and compliance IO manager: always this tenant's, never the location's own."""


def reserved_problems(file: str, where: str, keys: Iterable[str], tenant_id: str) -> list[ConfigProblem]:
    """One problem per key of ``keys`` (bound at ``where``) that a tenant location may not define."""
    problems = []
    for key in sorted(keys):
        if key in RESERVED_KEYS:
            problems.append(
                ConfigProblem(
                    file,
                    f"{where}.{key}",
                    f"resource key {key!r} is reserved: KlikkFlow binds it to tenant {tenant_id!r}",
                    f"remove it (assets get KlikkFlow's {key!r} by naming it) or use another key",
                )
            )
        elif key.endswith(TENANT_INNER_SUFFIX):
            problems.append(
                ConfigProblem(
                    file,
                    f"{where}.{key}",
                    f"resource keys ending in {TENANT_INNER_SUFFIX!r} are reserved for KlikkFlow",
                    "rename the resource key",
                )
            )
    return problems


def refuse_reserved(file: str, bindings: Mapping[str, Mapping[str, Any]], tenant_id: str) -> None:
    """Raise :class:`ConfigError` when any of ``bindings`` (where -> resources) uses a reserved key."""
    problems = [
        p
        for where, resources in bindings.items()
        for p in reserved_problems(file, where, resources, tenant_id)
    ]
    if problems:
        raise ConfigError(problems)
