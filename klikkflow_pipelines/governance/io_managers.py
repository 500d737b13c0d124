"""Every IO manager of a tenant location, wrapped by the tenant's compliance IO manager.

The tenant's own IO manager keeps working underneath (it is the ``inner`` of
the :class:`~compliance.io_manager.CompliantIOManager`); the wrapper is
:func:`~klikkflow_pipelines.governance.sealed.sealed`, so no run config can
change its policy, tenant or keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._config.pythonic_config.resource import is_coercible_to_resource
from dagster._core.execution.build_resources import wrap_resource_for_execution

from compliance.io_manager import CompliantIOManager
from klikkflow_pipelines.governance.sealed import bound_config, sealed

DEFAULT_IO_MANAGER_KEY = "io_manager"
TENANT_INNER_SUFFIX = "__tenant"
"""Key suffix under which an inner IO manager that takes launch config stays bound (its config goes there)."""


def output_io_manager_keys(node: dg.NodeDefinition) -> Iterator[str]:
    """The IO manager key of every output of ``node`` and, for a graph, of every op inside it."""
    if isinstance(node, dg.GraphDefinition):
        for op in node.iterate_op_defs():
            yield from (out.io_manager_key for out in op.output_defs)
    else:
        yield from (out.io_manager_key for out in node.output_defs)


def asset_io_manager_keys(assets_def: dg.AssetsDefinition) -> set[str]:
    """Keys of the IO managers an executable asset definition writes (and its ops write) through."""
    if not assets_def.is_executable:
        return set()
    keys = set(output_io_manager_keys(assets_def.node_def))
    keys.update(assets_def.get_io_manager_key_for_asset_key(k) for k in assets_def.keys)
    return keys


def _takes_launch_config(definition: dg.ResourceDefinition) -> bool:
    try:
        bound_config(definition)
    except dg.DagsterInvalidConfigError:
        return True
    return definition.config_schema.is_required and not definition.config_schema.default_provided


@dataclass
class Governed:
    """The outcome of governing one IO manager: the sealed wrapper, or why it could not be wrapped."""

    definition: dg.ResourceDefinition | None
    reason: str = ""
    extra: dict[str, dg.ResourceDefinition] = field(default_factory=dict)


class IOManagerGovernor:
    """Wraps IO managers in the tenant's compliance IO manager, each distinct one once.

    ``template`` is the tenant's built-in compliance IO manager: its policy, tenant,
    keys and region are copied into every wrapper, and it is itself kept as it is.
    """

    def __init__(self, template: CompliantIOManager):
        self._template = template
        self.sealed_template = sealed(template)
        """The built-in compliance IO manager, bound once (never wrapped a second time)."""
        self._settings = {
            name: getattr(template, name) for name in type(template).model_fields if name != "inner"
        }
        self._done: dict[int, Governed] = {}

    def govern(self, key: str, original: Any) -> Governed:
        """The governed IO manager to bind under ``key`` in place of ``original``."""
        cached = self._done.get(id(original))
        if cached is None:
            cached = self._done[id(original)] = self._govern(key, original)
        return cached

    def _govern(self, key: str, original: Any) -> Governed:
        if original is self._template or original is self.sealed_template:
            return Governed(self.sealed_template)
        if not is_coercible_to_resource(original) and not isinstance(original, dg.IOManager):
            return Governed(None, f"IO manager {key!r} is a {type(original).__name__}, not an IO manager")
        definition = wrap_resource_for_execution(original)
        if not isinstance(definition, dg.IOManagerDefinition):
            return Governed(
                None, f"resource {key!r} ({type(original).__name__}) is not an IO manager definition"
            )
        extra = {}
        if _takes_launch_config(definition):
            extra[f"{key}{TENANT_INNER_SUFFIX}"] = definition
        wrapper = CompliantIOManager(inner=definition, **self._settings)
        return Governed(sealed(wrapper), extra=extra)
