"""The client's address behind trusted reverse proxies (``X-Forwarded-For``).

Behind an ingress every connection comes from the proxy, so sign-in throttles,
rate limits and the audit log would see one address for everybody: one client
failing passwords would hold off all others. :class:`TrustedProxies` replaces
the connection's peer address (``scope["client"]``) by the client's, so every
later reader (:func:`klikkflow_pipelines.gateway.gate.source_address`, the sign-in
pages, the tenant apps) sees it, but only when the peer is one of the trusted
proxies (``KLIKKFLOW_GATEWAY_TRUSTED_PROXIES``, CIDR networks). The header is then
read from the right: each proxy appends the address it was connected from, so
the right-most entry that is not itself a trusted proxy is the client; what a
client wrote further left is never believed. Without trusted proxies the header
is ignored (and ``klikkflow gateway serve`` turns off uvicorn's own handling).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = b"x-forwarded-for"


def parse_trusted_proxies(entries: Iterable[str], where: str) -> tuple[str, ...]:
    """The networks of ``entries`` (addresses or CIDR networks) in canonical form; ValueError naming
    ``where`` (the setting) and the bad entry otherwise."""
    networks = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(str(ipaddress.ip_network(entry)))
        except ValueError as error:
            raise ValueError(
                f"{where}: {entry!r} is not an IP address or CIDR network ({error}). "
                "Fix: list the reverse proxies' addresses or networks, comma-separated, "
                "e.g. 10.0.0.0/8,192.168.1.5"
            ) from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.0.0.1 is 10.0.0.1
    return mapped or address


def source_network(address: str) -> str:
    """What the sign-in throttle and rate limits count as one source: an IPv4 address, or the /64
    network of an IPv6 address (one subscriber's usual allocation: its 2^64 addresses are one
    client, not a fresh source per try)."""
    ip = _address(address)
    if ip is None or ip.version == 4:
        return str(ip or address)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy, else the right-most entry of the
    ``X-Forwarded-For`` values that is not a trusted proxy (a malformed entry ends the walk at the
    last hop known; all trusted: the left-most)."""

    def is_trusted(address: Address) -> bool:
        return any(address in network for network in trusted)

    current = _address(peer)
    if current is None or not is_trusted(current):
        return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    for entry in reversed(entries):
        hop = _address(entry)
        if hop is None:
            break
        current = hop
        if not is_trusted(hop):
            break
    return str(current)


class TrustedProxies:
    """ASGI middleware: ``scope["client"]`` becomes the client behind trusted proxies (see above)."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(network) for network in trusted]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and client and scope["type"] in ("http", "websocket"):
            values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == FORWARDED_FOR]
            address = client_address(client[0], values, self.trusted) if values else client[0]
            if address != client[0]:
                scope = {**scope, "client": (address, 0)}
        await self.app(scope, receive, send)
