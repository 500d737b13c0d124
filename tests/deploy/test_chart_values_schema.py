"""Every rendered tenant values file passes the Dagster Helm chart's own ``values.schema.json``.

Helm validates the *merged* values, the chart's defaults (``values.yaml``) coalesced with the
values file, against ``values.schema.json``; a subchart gets its own defaults coalesced with the
parent's ``dagster-user-deployments`` section (and the parent's ``global``) and is validated
against its own schema. Both are vendored under ``tests/deploy/dagster_chart`` (see SOURCE.md);
the schemas' references to ``kubernetesjsonschema.dev/v1.18.0`` resolve offline to the
``_definitions.json`` that kubernetes-validate bundles for Kubernetes 1.25 (non-strict, as the
chart references it). Deliberately wrong values fail, so the check is known to bite.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from klikkflow_pipelines.config_errors import validate_mapping
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.helm_values import helm_values_yaml

CHART = Path(__file__).with_name("dagster_chart")
SUBCHART = "dagster-user-deployments"
K8S_DEFINITIONS_URI = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
K8S_DEFINITIONS = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / "v1.25.0-local"
    / "_definitions.json"
)
TENANTS, _ = load_all_tenants()


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """Helm's coalescing of a values file over chart defaults: maps merge key by key, a ``null``
    removes the key, anything else (lists included) replaces the default."""
    if not isinstance(defaults, dict) or not isinstance(overrides, dict):
        return copy.deepcopy(overrides)
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _no_network(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)


def _kubernetes_definitions() -> dict[str, Any]:
    """The bundled Kubernetes definitions, addressed as the chart addresses kubernetesjsonschema.dev's:
    kubernetes-validate files them under ``$defs`` (JSON Schema 2020-12), the chart refers to
    ``#/definitions/...`` (draft 7); the same schemas under the draft-7 name."""
    text = K8S_DEFINITIONS.read_text(encoding="utf-8").replace('"#/$defs/', '"#/definitions/')
    bundled = json.loads(text)
    return {"definitions": bundled["$defs"]}


def _validator(schema_file: str) -> jsonschema.Draft7Validator:
    definitions = _kubernetes_definitions()
    registry = Registry(retrieve=_no_network).with_resource(
        K8S_DEFINITIONS_URI, Resource.from_contents(definitions, default_specification=DRAFT7)
    )
    schema = json.loads((CHART / schema_file).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry)


PARENT = _validator("values.schema.json")
CHILD = _validator(f"{SUBCHART}.values.schema.json")
PARENT_DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
CHILD_DEFAULTS = yaml.safe_load((CHART / f"{SUBCHART}.values.yaml").read_text(encoding="utf-8"))


def chart_errors(values: dict[str, Any]) -> list[str]:
    """What Helm would refuse in ``values`` (a values file's content), as ``path: message`` lines."""
    merged = helm_merge(PARENT_DEFAULTS, values)
    errors = [
        f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in PARENT.iter_errors(merged)
    ]
    sub = helm_merge(CHILD_DEFAULTS, merged[SUBCHART])
    sub["global"] = helm_merge(sub.get("global", {}), merged.get("global", {}))
    errors += [
        f"{SUBCHART}.{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in CHILD.iter_errors(sub)
    ]
    return errors


def _tenant_with_locations_and_pool() -> TenantConfig:
    data = {
        "id": "initech-eu",
        "name": "Initech",
        "node_pool": {
            "node_selector": {"klikkflow.io/pool": "initech"},
            "tolerations": [{"key": "dedicated", "value": "initech", "effect": "NoSchedule"}],
        },
        "network": {"egress": [{"cidr": "192.0.2.0/28", "ports": [443, 8443]}]},
        "code_locations": [
            {
                "name": "shop",
                "module": "initech_shop.definitions",
                "image": "registry.example/initech/shop:2.0.1",
            },
            {"name": "ledger_v2", "project": "../ledger"},
        ],
    }
    return validate_mapping("initech-eu.yaml", data, TenantConfig)


def test_helm_merge_is_helms() -> None:
    defaults = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 1, "g": 2}
    merged = helm_merge(defaults, {"a": {"c": [3], "d": {"x": 2}}, "g": None, "h": []})
    assert merged == {"a": {"b": 1, "c": [3], "d": {"e": 1, "x": 2}}, "f": 1, "h": []}
    assert defaults["a"]["c"] == [1, 2]  # the defaults are left as they were


def test_the_chart_defaults_alone_pass_the_schema() -> None:
    """The vendored defaults and schemas belong together (else every check below is meaningless)."""
    assert chart_errors({}) == []


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_committed_values_files_pass_the_chart_schema(tenant_id: str) -> None:
    values = yaml.safe_load((PROJECT_ROOT / "deploy" / "k8s" / tenant_id / "helm-values.yaml").read_text())
    assert chart_errors(values) == []


def test_values_of_a_tenant_with_code_locations_and_a_node_pool_pass() -> None:
    settings = DeploySettings(kube_api_cidr="10.96.0.1/32", object_store_cidr="10.60.0.0/24")
    values = yaml.safe_load(helm_values_yaml(_tenant_with_locations_and_pool(), settings))
    assert len(values[SUBCHART]["deployments"]) == 3
    assert chart_errors(values) == []


@pytest.mark.parametrize(
    ("mistake", "path"),
    [
        (lambda v: v["dagsterWebserver"].update(enabled=False), "dagsterWebserver"),
        # the values shipped before this check carried this key, which the chart does not know
        (lambda v: v["dagsterDaemon"].update(checkDbReadyInitContainer=False), "dagsterDaemon"),
        (
            lambda v: v["runLauncher"]["config"]["k8sRunLauncher"].update(envSecret=[{"name": "x"}]),
            "runLauncher.config.k8sRunLauncher",
        ),
        (lambda v: v["dagsterWebserver"].update(replicaCount="0"), "dagsterWebserver.replicaCount"),
        (  # a null in a values file deletes the default, so a required key goes missing
            lambda v: v["runLauncher"]["config"]["k8sRunLauncher"].update(envVars=None),
            "runLauncher.config.k8sRunLauncher",
        ),
        (
            lambda v: v["dagsterDaemon"]["runCoordinator"]["config"].pop("customRunCoordinator"),
            "dagsterDaemon.runCoordinator.config",
        ),
        (lambda v: v[SUBCHART]["deployments"][0].pop("port"), f"{SUBCHART}.deployments.0"),
        (
            lambda v: v[SUBCHART]["deployments"][0]["resources"].update(limits=["1"]),
            f"{SUBCHART}.deployments.0.resources.limits",
        ),
    ],
    ids=[
        "webserver-enabled",
        "daemon-unknown-key",
        "misspelt-run-launcher-key",
        "replica-count-string",
        "run-launcher-required-key-nulled",
        "custom-coordinator-missing",
        "deployment-without-port",
        "k8s-typed-field-wrong",
    ],
)
def test_wrong_values_fail_the_chart_schema(mistake: Any, path: str) -> None:
    values = yaml.safe_load((PROJECT_ROOT / "deploy" / "k8s" / "acme" / "helm-values.yaml").read_text())
    mistake(values)
    errors = chart_errors(values)
    assert errors, "the schema check let a wrong values file through"
    assert any(error.startswith(path) for error in errors), errors
