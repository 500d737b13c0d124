"""Authorizing GraphQL documents: every mutation field needs a minimum tenant role.

Documents are parsed with graphql-core. Every operation in the document is
checked (not only the one ``operationName`` selects), fragment spreads and
inline fragments on the root type are followed, and a mutation field that
is not in :data:`MUTATION_ROLES` is denied. Queries and subscriptions need
``viewer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

from klikkflow_pipelines.gateway.roles import RANK, role_at_least

_LAUNCHER = (
    "launchRun",
    "launchPipelineExecution",
    "launchMultipleRuns",
    "launchRunReexecution",
    "launchPipelineReexecution",
    "terminateRun",
    "terminatePipelineExecution",
    "terminateRuns",
)
_EDITOR = (
    "startSchedule",
    "stopRunningSchedule",
    "resetSchedule",
    "scheduleDryRun",
    "startSensor",
    "stopSensor",
    "resetSensor",
    "sensorDryRun",
    "setSensorCursor",
    "launchPartitionBackfill",
    "cancelPartitionBackfill",
    "resumePartitionBackfill",
    "reexecutePartitionBackfill",
    "addDynamicPartition",
    "deleteDynamicPartitions",
    "wipeAssets",
    "reportRunlessAssetEvents",
    "reportAssetCheckEvaluations",
    "setAutoMaterializePaused",
    "deleteRun",
    "deletePipelineRun",
    "reloadRepositoryLocation",
    "reloadWorkspace",
    "refreshComponentState",
)
_ADMIN = (
    "setConcurrencyLimit",
    "deleteConcurrencyLimit",
    "freeConcurrencySlots",
    "freeConcurrencySlotsForRun",
    "shutdownRepositoryLocation",
    "setAppManagedComponent",
    "deleteAppManagedComponent",
)
#: The minimal tenant role for each mutation field of Dagster 1.13's GraphQL schema.
MUTATION_ROLES: dict[str, str] = {
    "logTelemetry": "viewer",
    "setNuxSeen": "viewer",
    **dict.fromkeys(_LAUNCHER, "launcher"),
    **dict.fromkeys(_EDITOR, "editor"),
    **dict.fromkeys(_ADMIN, "admin"),
}


@dataclass(frozen=True)
class Decision:
    """The outcome of authorizing one document."""

    allowed: bool
    required_role: str
    mutations: tuple[str, ...]
    reason: str = ""


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> list[str]:
    names: list[str] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.append(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names.extend(_root_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                names.append(f"<fragment {name}>")  # unknown or cyclic: forces a denial below
                continue
            names.extend(_root_fields(fragments[name].selection_set, fragments, seen | {name}))
    return names


@lru_cache(maxsize=512)
def _analyse(query: str) -> tuple[tuple[str, ...], str | None]:
    """Mutation fields of a document and a parse error, cached by document text."""
    try:
        document: DocumentNode = parse(query, no_location=True)
    except GraphQLError as exc:
        return (), f"unparseable GraphQL document: {exc.message}"
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    mutations: list[str] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.operation == OperationType.MUTATION:
            mutations.extend(_root_fields(definition.selection_set, fragments, frozenset()))
    return tuple(mutations), None


def authorize_document(query: str, role: str | None) -> Decision:
    """Decide whether a user with tenant ``role`` may run ``query``."""
    if not isinstance(query, str) or not query.strip():
        return Decision(False, "viewer", (), "no GraphQL query in the request")
    mutations, error = _analyse(query)
    if error:
        return Decision(False, "viewer", (), error)
    required = "viewer"
    for field in mutations:
        if field == "__typename":
            continue
        needed = MUTATION_ROLES.get(field)
        if needed is None:
            return Decision(
                False, "admin", mutations, f"mutation {field!r} is not allowed through the gateway"
            )
        if RANK[needed] > RANK[required]:
            required = needed
    if not role_at_least(role, required):
        return Decision(False, required, mutations, f"requires the {required} role")
    return Decision(True, required, mutations)
