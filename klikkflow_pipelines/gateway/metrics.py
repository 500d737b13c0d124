"""Prometheus metrics of the gateway (one registry per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class GatewayMetrics:
    """Requests by tenant/route/status, latency, sign-in failures and denials."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "klikkflow_gateway_requests",
            "Requests served, by tenant, route class and status.",
            ["tenant", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "klikkflow_gateway_request_seconds",
            "Request latency through the gateway.",
            ["tenant", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.signin_failures = Counter(
            "klikkflow_gateway_signin_failures",
            "Failed sign-in attempts, by method and reason.",
            ["method", "reason"],
            registry=self.registry,
        )
        self.denials = Counter(
            "klikkflow_gateway_denials",
            "Requests denied, by tenant and reason.",
            ["tenant", "reason"],
            registry=self.registry,
        )
        self._children: dict[tuple, tuple] = {}

    def observe_request(self, tenant: str, route: str, status: str, seconds: float) -> None:
        """Count one request and record its latency (label children are cached: this is per request)."""
        key = (tenant, route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(tenant, route, status), self.latency.labels(tenant, route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def route_class(path: str) -> str:
    """A bounded label for a path under a tenant mount."""
    if path.endswith("/graphql"):
        return "graphql"
    if "/static/" in path or path.endswith((".js", ".css", ".png", ".svg", ".ico", ".woff2", ".json")):
        return "static"
    return "ui"
