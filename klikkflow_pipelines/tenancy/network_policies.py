"""The NetworkPolicies of a tenant namespace and of the platform namespace: who may reach whom.

Both namespaces deny all traffic first; each rule below then opens one path
of the production topology, and nothing else:

- the gateway (platform) is reached only from the ingress controller's
  namespace; it reaches every tenant's code servers (gRPC 3030), Postgres,
  DNS, its OIDC provider and the Kubernetes API (terminating runs);
- a tenant's code servers accept only the gateway and their own namespace's
  daemon; no rule admits anything to a tenant's Dagster webserver;
- a tenant's pods reach DNS, their Postgres database, the object store and
  the egress the tenant file declares; only the daemon reaches the Kubernetes
  API (it creates run Jobs) and its own code servers; no pod reaches another
  tenant's pods;
- the audit checkpointer reaches Postgres and DNS only; in-cluster Postgres
  accepts the gateway, the checkpointer and pods of tenant namespaces.

Pods are selected by the labels Dagster's Helm chart and dagster-k8s put on
them (``component: dagster-daemon``, ``component: user-deployments``,
``app.kubernetes.io/component: run_worker``) and by the platform's own labels.
tests/deploy/test_network_policies.py evaluates these rules as data.
"""

from __future__ import annotations

from typing import Any

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.grpc_workspace import USER_CODE_GRPC_PORT

Rule = dict[str, Any]
TENANT_LABEL = "klikkflow.io/tenant"
DAEMON_POD = {"component": "dagster-daemon"}
CODE_SERVER_POD = {"component": "user-deployments"}
GATEWAY_POD = {"app.kubernetes.io/name": "klikkflow-gateway"}
CHECKPOINTER_POD = {"app.kubernetes.io/name": "klikkflow-audit-checkpointer"}
POSTGRES_POD = {"app.kubernetes.io/name": "postgresql"}
GATEWAY_PORT = 8080
KUBE_API_PORTS = (443, 6443)


def _ns(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _cidr(cidr: str) -> dict[str, Any]:
    return {"ipBlock": {"cidr": cidr}}


def tenant_namespaces_selector() -> dict[str, Any]:
    """Selects every tenant namespace (labelled ``klikkflow.io/tenant``), never the platform's."""
    return {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}


def _spec(pods: dict[str, str], ingress: list[Rule] | None = None, egress: list[Rule] | None = None) -> Rule:
    spec: Rule = {"podSelector": {"matchLabels": pods} if pods else {}, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return spec


def _default_deny() -> Rule:
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def _dns() -> Rule:
    kube_dns = {
        "namespaceSelector": _ns("kube-system"),
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return _spec({}, egress=[{"to": [kube_dns], "ports": ports}])


def platform_postgres_rule(settings: DeploySettings) -> Rule:
    """Egress to the platform's Postgres: its CIDR when set, else its pods in the platform namespace."""
    if settings.postgres_cidr:
        peer = _cidr(settings.postgres_cidr)
    else:
        peer = {
            "namespaceSelector": _ns(settings.platform_namespace),
            "podSelector": {"matchLabels": POSTGRES_POD},
        }
    return {"to": [peer], "ports": _tcp(settings.postgres_port)}


def tenant_database_rule(tenant: TenantConfig, settings: DeploySettings) -> Rule:
    """Egress to the tenant's database: ``network.database_cidr`` when the tenant file names one."""
    net = tenant.network
    if net.database_cidr:
        return {"to": [_cidr(net.database_cidr)], "ports": _tcp(net.database_port)}
    return platform_postgres_rule(settings)


def tenant_policy_specs(tenant: TenantConfig, settings: DeploySettings) -> dict[str, Rule]:
    """Every NetworkPolicy spec of the tenant's namespace, by policy name."""
    gateway_peer = {
        "namespaceSelector": _ns(settings.platform_namespace),
        "podSelector": {"matchLabels": GATEWAY_POD},
    }
    specs = {
        "default-deny-all": _default_deny(),
        "allow-dns": _dns(),
        "allow-tenant-database": _spec({}, egress=[tenant_database_rule(tenant, settings)]),
        "allow-code-server-from-gateway-and-daemon": _spec(
            CODE_SERVER_POD,
            ingress=[
                {
                    "from": [gateway_peer, {"podSelector": {"matchLabels": DAEMON_POD}}],
                    "ports": _tcp(USER_CODE_GRPC_PORT),
                }
            ],
        ),
        "allow-daemon-to-code-servers": _spec(
            DAEMON_POD,
            egress=[
                {
                    "to": [{"podSelector": {"matchLabels": CODE_SERVER_POD}}],
                    "ports": _tcp(USER_CODE_GRPC_PORT),
                }
            ],
        ),
    }
    if settings.object_store_cidr:
        specs["allow-object-store"] = _spec(
            {},
            egress=[{"to": [_cidr(settings.object_store_cidr)], "ports": _tcp(settings.object_store_port)}],
        )
    if settings.kube_api_cidr:
        specs["allow-daemon-kube-api"] = _spec(
            DAEMON_POD, egress=[{"to": [_cidr(settings.kube_api_cidr)], "ports": _tcp(*KUBE_API_PORTS)}]
        )
    if tenant.network.egress:
        specs["allow-declared-egress"] = _spec(
            {},
            egress=[
                {
                    "to": [_cidr(rule.cidr)],
                    "ports": [{"protocol": rule.protocol, "port": port} for port in rule.ports],
                }
                for rule in tenant.network.egress
            ],
        )
    return specs


def _database_rules(tenants: list[TenantConfig], settings: DeploySettings) -> list[Rule]:
    """Egress rules to every database the platform's processes open: the platform's Postgres and each
    tenant's own ``database_cidr`` (deduplicated)."""
    rules = [platform_postgres_rule(settings)]
    for tenant in tenants:
        rule = tenant_database_rule(tenant, settings)
        if rule not in rules:
            rules.append(rule)
    return rules


def platform_policy_specs(tenants: list[TenantConfig], settings: DeploySettings) -> dict[str, Rule]:
    """Every NetworkPolicy spec of the platform namespace, by policy name."""
    code_servers = {
        "namespaceSelector": tenant_namespaces_selector(),
        "podSelector": {"matchLabels": CODE_SERVER_POD},
    }
    gateway_egress = [
        {"to": [code_servers], "ports": _tcp(USER_CODE_GRPC_PORT)},
        *_database_rules(tenants, settings),
    ]
    if settings.oidc_cidr:
        gateway_egress.append({"to": [_cidr(settings.oidc_cidr)], "ports": _tcp(443)})
    if settings.kube_api_cidr:
        gateway_egress.append({"to": [_cidr(settings.kube_api_cidr)], "ports": _tcp(*KUBE_API_PORTS)})
    specs = {
        "default-deny-all": _default_deny(),
        "allow-dns": _dns(),
        "allow-gateway-from-ingress": _spec(
            GATEWAY_POD,
            ingress=[
                {
                    "from": [{"namespaceSelector": _ns(settings.ingress_namespace)}],
                    "ports": _tcp(GATEWAY_PORT),
                }
            ],
        ),
        "allow-gateway-egress": _spec(GATEWAY_POD, egress=gateway_egress),
        "allow-checkpointer-to-databases": _spec(CHECKPOINTER_POD, egress=_database_rules(tenants, settings)),
    }
    if not settings.postgres_cidr:
        specs["allow-postgres-from-platform-and-tenants"] = _spec(
            POSTGRES_POD,
            ingress=[
                {
                    "from": [
                        {"podSelector": {"matchLabels": GATEWAY_POD}},
                        {"podSelector": {"matchLabels": CHECKPOINTER_POD}},
                        {"namespaceSelector": tenant_namespaces_selector()},
                    ],
                    "ports": _tcp(settings.postgres_port),
                }
            ],
        )
    return specs
