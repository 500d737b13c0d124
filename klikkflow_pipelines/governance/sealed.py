"""Resources bound at definition time whose config no run config can change.

A Pythonic resource given to ``dg.Definitions`` keeps its fields as *defaults* of
its config schema, so Dagster 1.13 lets any run config replace them at launch
(``resources: {io_manager: {config: {policy_path: ...}}}``): a launching user or a
sensor could point a tenant's compliance IO manager at an allow-all policy, at
another tenant or at another tenant's key file. :func:`sealed` binds the resource
with an empty config schema instead, so run config for it is refused, and runs it
with the values it was built with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

import dagster as dg
from dagster._config import process_config
from dagster._core.definitions.resource_requirement import ResourceRequirement
from dagster._core.execution.build_resources import wrap_resource_for_execution


def bound_config(definition: dg.ResourceDefinition) -> Any:
    """The config a resource definition runs with when run config gives none (its bound values)."""
    schema = definition.config_schema
    if not schema.default_provided:
        return {}
    result = process_config({"config": schema.config_type}, {"config": schema.default_value})
    if not result.success:
        raise dg.DagsterInvalidConfigError(
            "Bound resource config is invalid", result.errors, schema.default_value
        )
    return cast("dict", result.value)["config"]


class _Sealed:
    """What both sealed kinds share: the original's run-time dependencies, its bound config."""

    _original: dg.ResourceDefinition

    def get_required_resource_keys(self, resource_defs: Mapping[str, dg.ResourceDefinition]) -> Any:
        return self._original.get_required_resource_keys(resource_defs)

    def get_resource_requirements(self, source_key: str) -> Iterator[ResourceRequirement]:
        yield from self._original.get_resource_requirements(source_key)


def _runner(original: dg.ResourceDefinition) -> Any:
    config = bound_config(original)

    def run(context: dg.InitResourceContext) -> Any:
        return original.resource_fn(context.replace_config(config))

    return run


class SealedResourceDefinition(_Sealed, dg.ResourceDefinition):
    """A resource that takes no run config and runs ``original`` with its bound config."""

    def __init__(self, original: dg.ResourceDefinition):
        super().__init__(
            resource_fn=_runner(original),
            config_schema={},
            description=original.description,
            required_resource_keys=original.required_resource_keys,
            version=original.version,
        )
        self._original = original


class SealedIOManagerDefinition(_Sealed, dg.IOManagerDefinition):
    """An IO manager that takes no run config and runs ``original`` with its bound config."""

    def __init__(self, original: dg.IOManagerDefinition):
        super().__init__(
            resource_fn=_runner(original),
            config_schema={},
            description=original.description,
            required_resource_keys=original.required_resource_keys,
            version=original.version,
            input_config_schema=original.input_config_schema,
            output_config_schema=original.output_config_schema,
        )
        self._original = original


def sealed(resource: Any) -> dg.ResourceDefinition:
    """``resource`` (Pythonic resource, IO manager or definition) bound so run config cannot change it."""
    definition = wrap_resource_for_execution(resource)
    if isinstance(definition, _Sealed):
        return definition
    if isinstance(definition, dg.IOManagerDefinition):
        return SealedIOManagerDefinition(definition)
    return SealedResourceDefinition(definition)
