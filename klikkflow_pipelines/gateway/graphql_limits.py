"""Cost limits for GraphQL documents, checked before anything expands them.

A document is refused when its text is too long, it has too many tokens
(graphql-core's ``parse(max_tokens=...)`` stops lexing at the limit), its
selections nest too deeply, it uses too many aliases, or it would select
too many fields once its fragment spreads are expanded. Expanded sizes are
*counted*, never built: each fragment's depth and field count is computed
once and reused by every spread of it, so ``mutation { ...F20 }`` with
fragments that double at each level costs twenty small sums, not 2^20
copies. The defaults (see :class:`GraphQLLimits`) leave a wide margin over
the largest queries the Dagster 1.13 UI sends (``tests/gateway/dagster_ui_queries.json``).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)


@dataclass(frozen=True)
class GraphQLLimits:
    """Bounds for one GraphQL document; the gateway settings carry the values in force.

    The largest documents the Dagster 1.13 UI sends (asset page, launchpad,
    asset graph, run list, schedules, sensors) have under 8 KB, 800 tokens,
    depth 10, 3 aliases, 800 expanded fields and a field repeated 6 times in
    one selection; the defaults allow about ten times that. ``max_repeats``
    bounds graphql-core's overlapping-fields validation, which is quadratic
    in the repeats of one response name (500 repeats take 0.35 s).
    """

    max_bytes: int = 100_000
    max_tokens: int = 10_000
    max_depth: int = 30
    max_aliases: int = 100
    max_fields: int = 10_000
    max_repeats: int = 50


class DocumentTooCostly(Exception):
    """A document exceeds one of the :class:`GraphQLLimits`; the message names the limit."""


@dataclass(frozen=True)
class DocumentCost:
    """What a document would cost once expanded."""

    depth: int
    fields: int
    aliases: int


def parse_bounded(query: str, limits: GraphQLLimits) -> DocumentNode:
    """Parse ``query`` within the size and token limits (raises :class:`DocumentTooCostly`
    for those, :class:`graphql.GraphQLError` for syntax errors)."""
    size = len(query.encode("utf-8"))
    if size > limits.max_bytes:
        raise DocumentTooCostly(f"the document has {size} bytes; the limit is {limits.max_bytes}")
    try:
        return parse(query, no_location=True, max_tokens=limits.max_tokens, max_comments=limits.max_tokens)
    except RecursionError:
        raise DocumentTooCostly(
            f"selections nest deeper than {limits.max_depth} levels (the limit)"
        ) from None
    except GraphQLError as error:
        if "nested too deeply" in error.message:
            raise DocumentTooCostly(
                f"selections nest deeper than {limits.max_depth} levels (the limit)"
            ) from None
        if "more than" in error.message and ("tokens" in error.message or "comments" in error.message):
            raise DocumentTooCostly(
                f"the document has more than {limits.max_tokens} tokens or comments (the limit)"
            ) from None
        raise


def measure(document: DocumentNode, limits: GraphQLLimits) -> DocumentCost:
    """Depth, fragment-expanded field count and alias count of every operation in ``document``.

    Raises :class:`DocumentTooCostly` when a limit is exceeded or fragments
    spread each other in a cycle.
    """
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, tuple[int, int, dict[str, int]]] = {}
    active: set[str] = set()
    aliases = 0

    def of_fragment(name: str) -> tuple[int, int, dict[str, int]]:
        if name in memo:
            return memo[name]
        if name in active:
            raise DocumentTooCostly(f"fragment {name!r} spreads itself (a fragment cycle)")
        fragment = fragments.get(name)
        if fragment is None:
            return 0, 0, {}  # unknown fragment: Dagster's validation answers it
        active.add(name)
        memo[name] = of_selection_set(fragment.selection_set)
        active.discard(name)
        return memo[name]

    def of_selection_set(selection_set: SelectionSetNode) -> tuple[int, int, dict[str, int]]:
        """(depth, expanded field count, response names of this level with their repeat counts)."""
        depth, fields, names = 0, 0, {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = of_selection_set(selection.selection_set) if selection.selection_set else (0, 0, {})
                depth, fields = max(depth, inner[0] + 1), fields + 1 + inner[1]
                name = (selection.alias or selection.name).value
                names[name] = names.get(name, 0) + 1
            else:
                if isinstance(selection, InlineFragmentNode):
                    inner = of_selection_set(selection.selection_set)
                else:
                    inner = of_fragment(selection.name.value)
                depth, fields = max(depth, inner[0]), fields + inner[1]
                for name, count in inner[2].items():
                    names[name] = names.get(name, 0) + count
            if fields > limits.max_fields:
                raise DocumentTooCostly(
                    f"the document selects more than {limits.max_fields} fields once its fragments "
                    "are expanded (the limit)"
                )
        if depth > limits.max_depth:
            raise DocumentTooCostly(f"selections nest deeper than {limits.max_depth} levels (the limit)")
        repeated = max(names.values(), default=0)
        if repeated > limits.max_repeats:
            raise DocumentTooCostly(
                f"one selection repeats a field {repeated} times once its fragments are expanded; "
                f"the limit is {limits.max_repeats}"
            )
        return depth, fields, names

    def count_aliases(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        found = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found += (selection.alias is not None) + count_aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                found += count_aliases(selection.selection_set)
        return found

    depth, fields = 0, 0
    try:
        for definition in document.definitions:
            if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode)):
                aliases += count_aliases(definition.selection_set)
                if aliases > limits.max_aliases:
                    raise DocumentTooCostly(
                        f"the document uses more than {limits.max_aliases} aliases (the limit)"
                    )
            if isinstance(definition, OperationDefinitionNode):
                op_depth, op_fields, _names = of_selection_set(definition.selection_set)
                depth, fields = max(depth, op_depth), fields + op_fields
                if fields > limits.max_fields:
                    raise DocumentTooCostly(
                        f"the document selects more than {limits.max_fields} fields once its "
                        "fragments are expanded (the limit)"
                    )
    except RecursionError:
        raise DocumentTooCostly(
            f"fragments or selections nest deeper than {limits.max_depth} levels (the limit)"
        ) from None
    return DocumentCost(depth=depth, fields=fields, aliases=aliases)
