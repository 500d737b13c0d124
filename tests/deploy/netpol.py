"""A small evaluator of Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), for tests.

It answers "may this connection be made?" for rendered policies, following the API reference:

- a policy applies to the pods its ``podSelector`` selects in the policy's own namespace;
- a pod is isolated for a direction when some policy selecting it lists that direction in
  ``policyTypes`` (default ``["Ingress"]``, plus ``"Egress"`` when the spec has ``egress``); an
  isolated pod allows only what one of those policies' rules allows, a pod no policy isolates
  allows everything in that direction;
- a rule matches when one of its peers (``from``/``to``; absent or empty: everyone) and one of its
  ports (absent or empty: every port) match; peers are OR-ed;
- in one peer, ``podSelector`` alone means pods of the policy's namespace, ``namespaceSelector``
  alone every pod of the matching namespaces, both together pods matching both (AND), and
  ``ipBlock`` addresses in ``cidr`` but not in ``except``. Here ``ipBlock`` matches only
  endpoints outside the cluster's pods (the API leaves pod IPs in ipBlocks to the implementation,
  and the rendered policies use ipBlock only for external services);
- a port entry matches its ``protocol`` (default TCP) and ``port`` (absent: all ports; with
  ``endPort``: the range); named ports are not used by the rendered policies and are refused;
- a connection happens only when the source's egress and the destination's ingress allow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    """A pod: where it runs and its labels."""

    name: str
    namespace: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class External:
    """An address outside the cluster's pods (a managed database, the API server, the internet)."""

    ip: str


Endpoint = Pod | External


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: every ``matchLabels`` pair and every ``matchExpressions`` entry must hold;
    the empty selector matches everything."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
    return True


@dataclass
class Cluster:
    """Namespaces (name -> labels) and the NetworkPolicy manifests applied to them."""

    namespaces: dict[str, dict[str, str]]
    policies: list[dict[str, Any]] = field(default_factory=list)

    def add(self, manifests: Iterable[dict[str, Any]]) -> None:
        """Take the Namespaces (their labels) and NetworkPolicies of ``manifests``; ignore the rest."""
        for manifest in manifests:
            if manifest["kind"] == "Namespace":
                self.namespaces[manifest["metadata"]["name"]] = dict(manifest["metadata"]["labels"])
            elif manifest["kind"] == "NetworkPolicy":
                self.policies.append(manifest)

    def _peer_matches(self, peer: Mapping[str, Any], policy_ns: str, endpoint: Endpoint) -> bool:
        if "ipBlock" in peer:
            if not isinstance(endpoint, External):
                return False
            block, address = peer["ipBlock"], ipaddress.ip_address(endpoint.ip)
            if address not in ipaddress.ip_network(block["cidr"]):
                return False
            return not any(address in ipaddress.ip_network(cidr) for cidr in block.get("except") or [])
        if not isinstance(endpoint, Pod):
            return False
        if "namespaceSelector" in peer:
            namespace_labels = self.namespaces[endpoint.namespace]
            if not selector_matches(peer["namespaceSelector"], namespace_labels):
                return False
        elif endpoint.namespace != policy_ns:
            return False
        return selector_matches(peer.get("podSelector"), endpoint.labels)

    @staticmethod
    def _port_matches(entry: Mapping[str, Any], port: int, protocol: str) -> bool:
        if entry.get("protocol", "TCP") != protocol:
            return False
        if "port" not in entry:
            return True
        if not isinstance(entry["port"], int):
            raise ValueError(f"named ports are not evaluated: {entry['port']!r}")
        return entry["port"] <= port <= entry.get("endPort", entry["port"])

    def _direction_allows(self, pod: Pod, direction: str, other: Endpoint, port: int, protocol: str) -> bool:
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        isolating = []
        for policy in self.policies:
            spec, namespace = policy["spec"], policy["metadata"]["namespace"]
            types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]
            if (
                namespace == pod.namespace
                and direction in types
                and selector_matches(spec["podSelector"], pod.labels)
            ):
                isolating.append(policy)
        if not isolating:
            return True
        for policy in isolating:
            for rule in policy["spec"].get(key) or []:
                peers, ports = rule.get(peers_key) or [], rule.get("ports") or []
                peer_ok = not peers or any(
                    self._peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers
                )
                port_ok = not ports or any(self._port_matches(entry, port, protocol) for entry in ports)
                if peer_ok and port_ok:
                    return True
        return False

    def allows(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
        """Whether ``source`` may open a connection to ``destination`` on ``port``/``protocol``."""
        egress = not isinstance(source, Pod) or self._direction_allows(
            source, "Egress", destination, port, protocol
        )
        ingress = not isinstance(destination, Pod) or self._direction_allows(
            destination, "Ingress", source, port, protocol
        )
        return egress and ingress
