"""Who may reach whom under the rendered NetworkPolicies, checked as data with a policy evaluator.

The cluster: the platform namespace (gateway, audit checkpointer, Postgres), tenants ``acme``
(its database outside the cluster at ``network.database_cidr``, declared egress) and ``globex``
(database in the platform's Postgres), kube-dns and an ingress controller. Tenant pods carry the
labels Dagster's Helm chart and dagster-k8s give them (the run pod's are checked against the real
K8sRunLauncher's Job in test_k8s_run_launcher_job.py), the platform pods the labels of their
rendered Deployments. The evaluator (:mod:`tests.deploy.netpol`) is itself tested first, on
hand-written policies.
"""

from __future__ import annotations

from typing import Any

import pytest

from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.helm_values import render_helm_values
from klikkflow_pipelines.tenancy.k8s_manifests import render_manifests
from klikkflow_pipelines.tenancy.platform_manifests import render_platform_manifests

from .netpol import Cluster, External, Pod, selector_matches

TENANTS, _ = load_all_tenants()
SETTINGS = DeploySettings(
    kube_api_cidr="10.96.0.1/32",
    object_store_cidr="10.60.0.0/24",
    oidc_cidr="203.0.113.50/32",
    ingress_cidr="10.244.7.0/24",
)
KUBE_API = External("10.96.0.1")
ACME_DATABASE = External("10.40.0.10")
OBJECT_STORE = External("10.60.0.5")
OIDC = External("203.0.113.50")
INTERNET = External("198.18.0.1")
ACME_SFTP = External("203.0.113.20")  # declared egress, port 22
ACME_API = External("198.51.100.5")  # declared egress (198.51.100.0/28), port 443


# --- the evaluator itself -------------------------------------------------------------------------


def _policy(namespace: str, spec: dict[str, Any], name: str = "p") -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _cluster(*policies: dict[str, Any]) -> Cluster:
    namespaces = {"a": {"team": "a"}, "b": {"team": "b", "trusted": "yes"}, "c": {"team": "c"}}
    return Cluster(namespaces, list(policies))


A_WEB, A_DB = Pod("web", "a", {"app": "web"}), Pod("db", "a", {"app": "db"})
B_WEB, C_WEB = Pod("web", "b", {"app": "web"}), Pod("web", "c", {"app": "web"})


def test_a_pod_no_policy_selects_allows_everything() -> None:
    cluster = _cluster(
        _policy("a", {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]})
    )
    assert cluster.allows(B_WEB, A_WEB, 80) and cluster.allows(A_WEB, INTERNET, 443)
    assert not cluster.allows(A_WEB, A_DB, 5432)  # db is isolated for ingress, no rule admits it
    assert cluster.allows(A_DB, INTERNET, 443)  # and not for egress


def test_default_policy_types_are_ingress_plus_egress_when_egress_rules_exist() -> None:
    ingress_only = _cluster(_policy("a", {"podSelector": {}}))
    assert not ingress_only.allows(B_WEB, A_WEB, 80) and ingress_only.allows(A_WEB, INTERNET, 80)
    with_egress = _cluster(_policy("a", {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}))
    assert with_egress.allows(A_WEB, INTERNET, 53) and not with_egress.allows(A_WEB, INTERNET, 80)
    assert not with_egress.allows(B_WEB, A_WEB, 80)


def test_namespace_and_pod_selector_in_one_peer_are_and_in_two_peers_or() -> None:
    both = {
        "namespaceSelector": {"matchLabels": {"team": "b"}},
        "podSelector": {"matchLabels": {"app": "db"}},
    }
    one_peer = _cluster(
        _policy("a", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [both]}]})
    )
    assert not one_peer.allows(B_WEB, A_WEB, 80)  # right namespace, wrong pod
    assert not one_peer.allows(A_DB, A_WEB, 80)  # right pod, wrong namespace
    assert one_peer.allows(Pod("db", "b", {"app": "db"}), A_WEB, 80)
    either = [{"namespaceSelector": both["namespaceSelector"]}, {"podSelector": both["podSelector"]}]
    two_peers = _cluster(
        _policy("a", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": either}]})
    )
    assert two_peers.allows(B_WEB, A_WEB, 80) and two_peers.allows(A_DB, A_WEB, 80)
    assert not two_peers.allows(C_WEB, A_WEB, 80)
    assert not two_peers.allows(Pod("db", "c", {"app": "db"}), A_WEB, 80)  # podSelector alone: own namespace


def test_namespace_selector_expressions_and_empty_selectors() -> None:
    assert selector_matches(
        {"matchExpressions": [{"key": "trusted", "operator": "Exists"}]}, {"trusted": "x"}
    )
    assert not selector_matches({"matchExpressions": [{"key": "trusted", "operator": "Exists"}]}, {})
    assert selector_matches(
        {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]}, {"team": "b"}
    )
    assert not selector_matches(
        {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["b"]}]}, {"team": "b"}
    )
    assert selector_matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, {"team": "b"})
    assert selector_matches({}, {"any": "thing"})
    peer = {"namespaceSelector": {"matchExpressions": [{"key": "trusted", "operator": "Exists"}]}}
    cluster = _cluster(
        _policy("a", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]})
    )
    assert cluster.allows(B_WEB, A_WEB, 80) and not cluster.allows(C_WEB, A_WEB, 80)
    everyone = _cluster(
        _policy(
            "a",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}]}],
            },
        )
    )
    assert everyone.allows(C_WEB, A_WEB, 80) and not everyone.allows(INTERNET, A_WEB, 80)  # pods only


def test_ip_blocks_with_except_ports_protocols_and_ranges() -> None:
    rule = {
        "to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"port": 8000, "endPort": 8010}],
    }
    cluster = _cluster(_policy("a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}))
    assert cluster.allows(A_WEB, External("10.2.3.4"), 53, "UDP")
    assert not cluster.allows(A_WEB, External("10.2.3.4"), 53, "TCP")
    assert cluster.allows(A_WEB, External("10.2.3.4"), 8005) and not cluster.allows(
        A_WEB, External("10.2.3.4"), 8011
    )
    assert not cluster.allows(A_WEB, External("10.1.3.4"), 53, "UDP")  # in the except block
    assert not cluster.allows(A_WEB, External("11.0.0.1"), 53, "UDP")
    assert not cluster.allows(A_WEB, A_DB, 53, "UDP")  # an ipBlock never names a pod here


def test_policies_add_up_and_both_ends_must_allow() -> None:
    egress_80 = _policy(
        "a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 80}]}]}, "e80"
    )
    egress_443 = _policy(
        "a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 443}]}]}, "e443"
    )
    cluster = _cluster(egress_80, egress_443)
    assert (
        cluster.allows(A_WEB, B_WEB, 80)
        and cluster.allows(A_WEB, B_WEB, 443)
        and not cluster.allows(A_WEB, B_WEB, 22)
    )
    cluster.policies.append(
        _policy("b", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 443}]}]})
    )
    assert not cluster.allows(A_WEB, B_WEB, 80)  # a's egress allows it, b's ingress does not
    assert cluster.allows(A_WEB, B_WEB, 443)


# --- the rendered topology ------------------------------------------------------------------------


def _tenant_pods(tenant: TenantConfig) -> dict[str, Pod]:
    """The tenant's pods with the labels the chart (release ``kf-<id>``) and dagster-k8s give them."""
    values = render_helm_values(tenant, SETTINGS)
    namespace = release = f"kf-{tenant.id}"
    chart = {"app.kubernetes.io/name": "dagster", "app.kubernetes.io/instance": release}
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_labels = {
        "app.kubernetes.io/name": "dagster",
        "app.kubernetes.io/instance": "dagster",
        "app.kubernetes.io/part-of": "dagster",
        "app.kubernetes.io/component": "run_worker",
        **launcher["labels"],
        **launcher["runK8sConfig"]["podTemplateSpecMetadata"]["labels"],
    }
    pods = {
        "daemon": Pod(
            "daemon",
            namespace,
            {
                **chart,
                "component": "dagster-daemon",
                "deployment": "daemon",
                **values["dagsterDaemon"]["labels"],
            },
        ),
        "webserver": Pod(
            "webserver",
            namespace,
            {**chart, "component": "dagster-webserver", **values["dagsterWebserver"]["labels"]},
        ),
        "run": Pod("run", namespace, run_labels),
    }
    for deployment in values["dagster-user-deployments"]["deployments"]:
        labels = {
            "app.kubernetes.io/name": "dagster-user-deployments",
            "app.kubernetes.io/instance": release,
            "component": "user-deployments",
            "deployment": deployment["name"],
            **deployment["labels"],
        }
        pods["code" if deployment["name"] == f"klikkflow-{tenant.id}" else deployment["name"]] = Pod(
            deployment["name"], namespace, labels
        )
    return pods


def _platform_pod(manifests: list[dict[str, Any]], name: str) -> Pod:
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == name]
    return Pod(
        name, deployment["metadata"]["namespace"], deployment["spec"]["template"]["metadata"]["labels"]
    )


@pytest.fixture(scope="module")
def world() -> tuple[Cluster, dict[str, Any]]:
    acme, globex = TENANTS["acme"], TENANTS["globex"]
    assert acme.network.database_cidr == "10.40.0.10/32" and globex.network.database_cidr is None
    platform = render_platform_manifests([acme, globex], SETTINGS)
    cluster = Cluster(
        {
            "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
            "ingress-nginx": {"kubernetes.io/metadata.name": "ingress-nginx"},
        }
    )
    cluster.add(platform)
    for tenant in (acme, globex):
        cluster.add(render_manifests(tenant, SETTINGS))
    pods: dict[str, Any] = {
        "gateway": _platform_pod(platform, "klikkflow-gateway"),
        "checkpointer": _platform_pod(platform, "klikkflow-audit-checkpointer"),
        "postgres": Pod("postgresql-0", "klikkflow-system", {"app.kubernetes.io/name": "postgresql"}),
        "dns": Pod("coredns", "kube-system", {"k8s-app": "kube-dns"}),
        "ingress": Pod("controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        "acme": _tenant_pods(acme),
        "globex": _tenant_pods(globex),
    }
    return cluster, pods


def _endpoint(pods: dict[str, Any], name: str) -> Any:
    if "." in name:
        tenant, pod = name.split(".")
        return pods[tenant][pod]
    return (
        pods.get(name)
        or {
            "kube-api": KUBE_API,
            "acme-database": ACME_DATABASE,
            "object-store": OBJECT_STORE,
            "oidc": OIDC,
            "internet": INTERNET,
            "acme-sftp": ACME_SFTP,
            "acme-api": ACME_API,
        }[name]
    )


CASES = [
    # the gateway reaches every tenant's code servers; nothing else does but their own daemon
    ("gateway", "acme.code", 3030, True),
    ("gateway", "globex.code", 3030, True),
    ("acme.daemon", "acme.code", 3030, True),
    ("globex.run", "acme.code", 3030, False),
    ("acme.run", "acme.code", 3030, False),
    ("acme.webserver", "acme.code", 3030, False),
    ("globex.daemon", "acme.code", 3030, False),
    ("acme.daemon", "globex.code", 3030, False),
    ("checkpointer", "acme.code", 3030, False),
    ("ingress", "acme.code", 3030, False),
    ("gateway", "acme.code", 3000, False),
    # nothing reaches a tenant's webserver
    ("gateway", "acme.webserver", 3000, False),
    ("ingress", "acme.webserver", 3000, False),
    ("acme.daemon", "acme.webserver", 3000, False),
    ("acme.run", "acme.webserver", 3000, False),
    ("internet", "acme.webserver", 3000, False),
    # the gateway reaches only code servers in tenant namespaces
    ("gateway", "acme.daemon", 3030, False),
    ("gateway", "acme.run", 3030, False),
    # the Kubernetes API: the daemon (run Jobs) and the gateway (terminating them), nobody else
    ("acme.daemon", "kube-api", 443, True),
    ("gateway", "kube-api", 443, True),
    ("acme.run", "kube-api", 443, False),
    ("acme.code", "kube-api", 443, False),
    ("checkpointer", "kube-api", 443, False),
    # databases: each tenant's pods reach its own database; the platform's processes reach all
    ("acme.run", "acme-database", 5432, True),
    ("acme.code", "acme-database", 5432, True),
    ("acme.daemon", "acme-database", 5432, True),
    ("acme.run", "postgres", 5432, False),  # acme's database is not the platform's
    ("globex.run", "postgres", 5432, True),
    ("globex.daemon", "postgres", 5432, True),
    ("globex.run", "acme-database", 5432, False),
    ("gateway", "postgres", 5432, True),
    ("gateway", "acme-database", 5432, True),
    ("checkpointer", "postgres", 5432, True),
    ("checkpointer", "acme-database", 5432, True),
    ("ingress", "postgres", 5432, False),
    ("globex.run", "postgres", 22, False),
    # the checkpointer reaches databases and DNS only
    ("checkpointer", "internet", 443, False),
    ("checkpointer", "object-store", 443, False),
    ("checkpointer", "gateway", 8080, False),
    ("checkpointer", "dns", 53, True),
    # object store and declared egress (per port)
    ("acme.run", "object-store", 443, True),
    ("acme.run", "object-store", 80, False),
    ("globex.run", "object-store", 443, True),
    ("acme.run", "acme-sftp", 22, True),
    ("acme.run", "acme-sftp", 443, False),
    ("acme.run", "acme-api", 443, True),
    ("acme.code", "acme-api", 443, True),
    ("globex.run", "acme-sftp", 22, False),
    ("acme.run", "internet", 443, False),
    ("gateway", "acme-sftp", 22, False),
    # no pod of one tenant reaches another tenant's pods
    ("acme.run", "globex.run", 8080, False),
    ("acme.run", "globex.daemon", 3030, False),
    ("acme.code", "globex.code", 3030, False),
    ("globex.daemon", "acme.daemon", 443, False),
    # the gateway is reached from the ingress controller only
    ("ingress", "gateway", 8080, True),
    ("acme.code", "gateway", 8080, False),
    ("acme.run", "gateway", 8080, False),
    ("acme.daemon", "gateway", 8080, False),
    ("internet", "gateway", 8080, False),
    ("ingress", "gateway", 9090, False),
    # the gateway's own egress: OIDC provider yes, anything else no
    ("gateway", "oidc", 443, True),
    ("gateway", "internet", 443, False),
    ("gateway", "object-store", 443, False),
    ("acme.run", "oidc", 443, False),
    # DNS for everyone
    ("acme.run", "dns", 53, True),
    ("gateway", "dns", 53, True),
]


@pytest.mark.parametrize(
    ("source", "destination", "port", "expected"), CASES, ids=[f"{s}->{d}:{p}" for s, d, p, _ in CASES]
)
def test_who_may_reach_whom(
    world: tuple[Cluster, dict[str, Any]], source: str, destination: str, port: int, expected: bool
) -> None:
    cluster, pods = world
    src, dst = _endpoint(pods, source), _endpoint(pods, destination)
    protocol = "UDP" if destination == "dns" else "TCP"
    assert cluster.allows(src, dst, port, protocol) is expected


def test_dns_is_open_over_udp_and_tcp_only_on_53(world: tuple[Cluster, dict[str, Any]]) -> None:
    cluster, pods = world
    run = pods["acme"]["run"]
    assert cluster.allows(run, pods["dns"], 53, "UDP") and cluster.allows(run, pods["dns"], 53, "TCP")
    assert not cluster.allows(run, pods["dns"], 80, "TCP")


def test_without_network_settings_nothing_external_is_open() -> None:
    """Unset platform networks render no rule: the Kubernetes API, object store and OIDC stay closed."""
    acme = TENANTS["acme"]
    cluster = Cluster({"kube-system": {"kubernetes.io/metadata.name": "kube-system"}})
    cluster.add(render_platform_manifests([acme], DeploySettings()))
    cluster.add(render_manifests(acme, DeploySettings()))
    pods = _tenant_pods(acme)
    gateway = _platform_pod(render_platform_manifests([acme], DeploySettings()), "klikkflow-gateway")
    for source in (pods["daemon"], pods["run"], gateway):
        for target in (KUBE_API, OBJECT_STORE, OIDC):
            assert not cluster.allows(source, target, 443)
    assert cluster.allows(gateway, pods["code"], 3030)


def test_every_code_location_is_reachable_by_the_gateway_and_own_daemon_only() -> None:
    """A tenant with its own code locations: each one's server is admitted like the built-in one."""
    tenant = TenantConfig(
        id="initech",
        name="Initech",
        code_locations=[
            {"name": "shop", "module": "initech_shop.defs"},
            {"name": "ledger", "project": "../l"},
        ],
    )
    acme = TENANTS["acme"]
    cluster = Cluster({})
    platform = render_platform_manifests([tenant, acme], SETTINGS)
    cluster.add(platform)
    cluster.add(render_manifests(tenant, SETTINGS))
    cluster.add(render_manifests(acme, SETTINGS))
    gateway = _platform_pod(platform, "klikkflow-gateway")
    pods, acme_pods = _tenant_pods(tenant), _tenant_pods(acme)
    for name in ("code", "kf-initech-shop", "kf-initech-ledger"):
        assert cluster.allows(gateway, pods[name], 3030)
        assert cluster.allows(pods["daemon"], pods[name], 3030)
        assert not cluster.allows(pods["run"], pods[name], 3030)
        assert not cluster.allows(acme_pods["daemon"], pods[name], 3030)
