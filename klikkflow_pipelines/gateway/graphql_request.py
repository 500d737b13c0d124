"""Reading the GraphQL document of a request or websocket frame and authorizing it (CPU-bound:
the gate runs these in worker threads), and what the audit keeps of a document."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from klikkflow_pipelines.gateway.asgi_io import graphql_params_of
from klikkflow_pipelines.gateway.graphql_authz import Decision, authorize_document
from klikkflow_pipelines.gateway.graphql_limits import GraphQLLimits

EXCERPT_CHARS = 300


def document_digest(query: Any) -> dict[str, Any]:
    """What the audit keeps of a document: its SHA-256, size and a bounded excerpt."""
    text = query if isinstance(query, str) else ""
    data = text.encode("utf-8", errors="replace")
    return {
        "document_sha256": hashlib.sha256(data).hexdigest(),
        "document_bytes": len(data),
        "document_excerpt": text[:EXCERPT_CHARS],
    }


def inspect_request(
    method: str, content_type: str, query_string: bytes, body: bytes, role: str, limits: GraphQLLimits
) -> tuple[dict[str, Any], str | None, Decision | None]:
    """Read the GraphQL parameters of a request and authorize its document (in a worker thread)."""
    params, problem = graphql_params_of(method, content_type, query_string, body)
    if problem or (params.get("query") is None and method == "GET"):
        return params, problem, None
    return params, None, authorize_document(params.get("query"), role, limits)


def inspect_frame(text: str, role: str, limits: GraphQLLimits) -> tuple[Any, Decision | None]:
    """Decode a graphql-ws frame and authorize the document a ``start`` frame carries (in a worker thread)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, None
    if not isinstance(data, dict) or data.get("type") != "start":
        return data, None
    if not isinstance(data.get("payload"), dict):
        data["payload"] = {}
    return data, authorize_document(data["payload"].get("query"), role, limits)
