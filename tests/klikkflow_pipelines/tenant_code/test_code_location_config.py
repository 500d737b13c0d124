"""TenantConfig.code_locations: each mistake is named with file, field and fix."""

from __future__ import annotations

import pytest

from klikkflow_pipelines.config_errors import ConfigError, validate_mapping
from klikkflow_pipelines.tenancy.config import TenantConfig


def _problems(locations: list[dict[str, object]]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_mapping(
            "acme.yaml", {"id": "acme", "name": "Acme", "code_locations": locations}, TenantConfig
        )
    return [str(problem) for problem in error.value.problems]


def test_a_module_and_a_project_location_are_accepted() -> None:
    tenant = validate_mapping(
        "acme.yaml",
        {
            "id": "acme",
            "name": "Acme",
            "code_locations": [
                {"name": "shop", "module": "acme_shop.definitions", "path": "../code"},
                {"name": "ledger", "project": "../ledger", "image": "registry.example.com/acme/ledger:1.2.0"},
            ],
        },
        TenantConfig,
    )
    assert [location.name for location in tenant.code_locations] == ["shop", "ledger"]
    assert tenant.code_location("ledger") == (1, tenant.code_locations[1])


@pytest.mark.parametrize(
    "module", ["klikkflow_pipelines.definitions", "compliance", "resources.x", "sensors"]
)
def test_klikkflow_own_modules_are_refused(module: str) -> None:
    [problem] = _problems([{"name": "mine", "module": module}])
    assert problem.startswith("acme.yaml: code_locations[0].module: ")
    assert "part of KlikkFlow itself" in problem and "Fix: " in problem


def test_exactly_one_of_module_and_project() -> None:
    assert "exactly one of `module` and `project`" in _problems([{"name": "x"}])[0]
    assert "exactly one" in _problems([{"name": "x", "module": "a", "project": "p"}])[0]
    assert "belong to `module`" in _problems([{"name": "x", "project": "p", "path": "q"}])[0]


def test_names_are_unique_identifiers_apart_from_the_built_in_location() -> None:
    [twice] = _problems([{"name": "shop", "module": "a"}, {"name": "shop", "module": "b"}])
    assert twice.startswith("acme.yaml: code_locations: [1] (shop): the name is used twice")
    [built_in] = _problems([{"name": "acme", "module": "a"}])
    assert "built-in location" in built_in
    assert "code_locations[0].name" in _problems([{"name": "Shop-1", "module": "a"}])[0]
    assert "code_locations[0].name" in _problems([{"name": "s" * 25, "module": "a"}])[0]  # k8s name length


@pytest.mark.parametrize(
    "image", ["registry.example.com/acme/ledger", "acme/ledger:latest", "host:5000/acme"]
)
def test_production_images_need_a_fixed_tag(image: str) -> None:
    [problem] = _problems([{"name": "ledger", "module": "a", "image": image}])
    assert "code_locations[0].image" in problem and "version tag" in problem
