"""Fixtures for materializing the workflows on an ephemeral instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg
import pytest

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenant_resources import build_resources


@pytest.fixture
def tenant() -> TenantConfig:
    """The default tenant (its home is the test's KLIKKFLOW_HOME)."""
    return load_tenant("default")


@pytest.fixture
def defs(tenant: TenantConfig) -> dg.Definitions:
    """The default tenant's Definitions."""
    return build_definitions(tenant)


@pytest.fixture
def resources(tenant: TenantConfig) -> dict[str, object]:
    """The default tenant's resources (SQLite warehouse in the test home)."""
    return build_resources(tenant)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A real ephemeral Dagster instance."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def group_assets(defs: dg.Definitions) -> Callable[[str], list[dg.AssetsDefinition]]:
    """Returns the assets definitions of one group."""

    def _of_group(group: str) -> list[dg.AssetsDefinition]:
        return [
            a
            for a in defs.assets
            if isinstance(a, dg.AssetsDefinition) and group in a.group_names_by_key.values()
        ]

    return _of_group
