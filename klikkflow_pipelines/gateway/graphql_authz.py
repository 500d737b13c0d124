"""Authorizing GraphQL documents: every mutation field needs a minimum tenant role.

Documents are parsed with graphql-core. Every operation in the document is
checked (not only the one ``operationName`` selects), fragment spreads and
inline fragments on the root type are followed, and a mutation field that
is not in :data:`MUTATION_ROLES` is denied. Queries and subscriptions need
``viewer``. Before any of that, the document must stay within the
:class:`~klikkflow_pipelines.gateway.graphql_limits.GraphQLLimits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
)

from klikkflow_pipelines.gateway.graphql_limits import (
    DocumentTooCostly,
    GraphQLLimits,
    measure,
    parse_bounded,
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


DEFAULT_LIMITS = GraphQLLimits()


@dataclass(frozen=True)
class Decision:
    """The outcome of authorizing one document.

    ``too_costly`` marks a document refused by the :class:`GraphQLLimits`
    (answered 400, not 403); ``document`` is the parsed document when it parsed.
    """

    allowed: bool
    required_role: str
    mutations: tuple[str, ...]
    reason: str = ""
    too_costly: bool = False
    document: DocumentNode | None = field(default=None, compare=False, repr=False)


def _root_fields(document: DocumentNode) -> tuple[str, ...]:
    """Distinct mutation root fields of every mutation operation, fragments followed once each."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, tuple[str, ...]] = {}

    def of_fragment(name: str, active: frozenset[str]) -> tuple[str, ...]:
        if name in active or name not in fragments:
            return (f"<fragment {name}>",)  # unknown or cyclic: forces a denial below
        if name not in memo:
            memo[name] = of_selection_set(fragments[name].selection_set, active | {name})
        return memo[name]

    def of_selection_set(selection_set: SelectionSetNode, active: frozenset[str]) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names[selection.name.value] = None
            elif isinstance(selection, InlineFragmentNode):
                names.update(dict.fromkeys(of_selection_set(selection.selection_set, active)))
            elif isinstance(selection, FragmentSpreadNode):
                names.update(dict.fromkeys(of_fragment(selection.name.value, active)))
        return tuple(names)

    found: dict[str, None] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.operation == OperationType.MUTATION:
            found.update(dict.fromkeys(of_selection_set(definition.selection_set, frozenset())))
    return tuple(found)


@lru_cache(maxsize=256)
def _analyse(query: str, limits: GraphQLLimits) -> tuple[DocumentNode | None, tuple[str, ...], str, bool]:
    """(document, mutation fields, problem, too costly) of a document, cached by text and limits."""
    try:
        document = parse_bounded(query, limits)
        measure(document, limits)
    except DocumentTooCostly as exc:
        return None, (), f"GraphQL document too costly: {exc}", True
    except GraphQLError as exc:
        return None, (), f"unparseable GraphQL document: {exc.message}", False
    return document, _root_fields(document), "", False


def authorize_document(query: str, role: str | None, limits: GraphQLLimits = DEFAULT_LIMITS) -> Decision:
    """Decide whether a user with tenant ``role`` may run ``query`` (within ``limits``).

    CPU-bound for large documents: the gateway calls it in a worker thread.
    """
    if not isinstance(query, str) or not query.strip():
        return Decision(False, "viewer", (), "no GraphQL query in the request")
    if len(query) > limits.max_bytes:  # before hashing it for the cache
        size = len(query.encode("utf-8"))
        if size > limits.max_bytes:
            reason = f"the document has {size} bytes; the limit is {limits.max_bytes}"
            return Decision(False, "viewer", (), f"GraphQL document too costly: {reason}", too_costly=True)
    document, mutations, error, too_costly = _analyse(query, limits)
    if error:
        return Decision(False, "viewer", (), error, too_costly=too_costly)
    required = "viewer"
    for name in mutations:
        if name == "__typename":
            continue
        needed = MUTATION_ROLES.get(name)
        if needed is None:
            return Decision(
                False,
                "admin",
                mutations,
                f"mutation {name!r} is not allowed through the gateway",
                document=document,
            )
        if RANK[needed] > RANK[required]:
            required = needed
    if not role_at_least(role, required):
        return Decision(False, required, mutations, f"requires the {required} role", document=document)
    return Decision(True, required, mutations, document=document)
