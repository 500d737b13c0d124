"""GraphQL authorization rules, checked against Dagster's real schema (no server needed)."""

from __future__ import annotations

import pytest
from dagster_graphql.schema import create_schema

from klikkflow_pipelines.gateway.graphql_authz import MUTATION_ROLES, authorize_document
from klikkflow_pipelines.gateway.roles import RANK, ROLES


def schema_mutations() -> list[str]:
    """Every mutation field of the installed Dagster GraphQL schema."""
    return sorted(create_schema().graphql_schema.mutation_type.fields)


def test_every_dagster_mutation_has_a_role() -> None:
    mutations = schema_mutations()
    assert len(mutations) > 30
    assert set(mutations) == set(MUTATION_ROLES), "update MUTATION_ROLES for this Dagster version"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_mutations_at_or_below_it(role: str) -> None:
    for field in schema_mutations():
        decision = authorize_document(f"mutation {{ {field} {{ __typename }} }}", role)
        assert decision.allowed == (RANK[MUTATION_ROLES[field]] <= RANK[role]), (field, role)


def test_examples_of_the_role_ladder() -> None:
    assert MUTATION_ROLES["launchRun"] == "launcher"
    assert MUTATION_ROLES["terminateRun"] == "launcher"
    assert MUTATION_ROLES["startSchedule"] == "editor"
    assert MUTATION_ROLES["wipeAssets"] == "editor"
    assert MUTATION_ROLES["setConcurrencyLimit"] == "admin"


def test_queries_and_subscriptions_need_viewer_only() -> None:
    assert authorize_document("{ runsOrError { __typename } }", "viewer").allowed
    assert authorize_document("subscription { locationStateChangeEvents { __typename } }", "viewer").allowed
    assert not authorize_document("{ runsOrError { __typename } }", None).allowed


@pytest.mark.parametrize(
    "document",
    [
        # the mutation hidden in a fragment on the root type
        "mutation { ...F } fragment F on Mutation { wipeAssets(assetPartitionRanges: []) { __typename } }",
        "mutation { ... on Mutation { wipeAssets(assetPartitionRanges: []) { __typename } } }",
        # an alias does not rename the field
        "mutation { harmless: wipeAssets(assetPartitionRanges: []) { __typename } }",
        # a second operation is checked even when operationName selects the first
        "query Q { version } mutation M { wipeAssets(assetPartitionRanges: []) { __typename } }",
        # two root fields: the stronger one counts
        "mutation { setNuxSeen launchRun(executionParams: {}) { __typename } }",
    ],
)
def test_hidden_mutations_are_found(document: str) -> None:
    decision = authorize_document(document, "viewer")
    assert not decision.allowed
    assert authorize_document(document, "editor").allowed


def test_unknown_mutations_and_bad_documents_are_denied() -> None:
    assert "not allowed" in authorize_document("mutation { dropEverything }", "admin").reason
    assert not authorize_document("mutation { ...Missing }", "admin").allowed
    assert not authorize_document("mutation { ...A } fragment A on Mutation { ...A }", "admin").allowed
    assert "unparseable" in authorize_document("mutation {", "admin").reason
    assert not authorize_document("", "admin").allowed
    assert not authorize_document(None, "admin").allowed  # type: ignore[arg-type]


def test_doubling_fragments_are_counted_never_expanded() -> None:
    """Attack: ``mutation { ...F60 }`` where each fragment spreads the one below twice (2^60 fields)."""
    import time

    from klikkflow_pipelines.gateway.graphql_limits import GraphQLLimits, measure, parse_bounded

    levels = " ".join(f"fragment F{i} on Mutation {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 61))
    document = f"mutation {{ ...F60 }} fragment F0 on Mutation {{ setNuxSeen }} {levels}"
    unbounded = GraphQLLimits(max_fields=2**62, max_repeats=2**62)
    started = time.perf_counter()
    cost = measure(parse_bounded(document, unbounded), unbounded)
    assert cost.fields == 2**60 and cost.depth == 1
    assert time.perf_counter() - started < 0.1
    decision = authorize_document(document, "admin")
    assert decision.too_costly and not decision.allowed and "limit" in decision.reason


@pytest.mark.parametrize(
    ("document", "limit"),
    [
        ("{ " + "a " * 20 + "}", {"max_repeats": 10}),
        ("{ " + " ".join(f"x{i}: a" for i in range(20)) + " }", {"max_aliases": 10}),
        ("{ a { b { c { d } } } }", {"max_depth": 3}),
        ("{ a b c d e f }", {"max_fields": 5}),
        ("{ a b c d e f }", {"max_tokens": 5}),
        ("{ a b c d e f }", {"max_bytes": 10}),
    ],
)
def test_each_limit_refuses_with_a_clear_reason(document: str, limit: dict[str, int]) -> None:
    from klikkflow_pipelines.gateway.graphql_limits import GraphQLLimits

    assert authorize_document(document, "viewer", GraphQLLimits()).allowed
    decision = authorize_document(document, "viewer", GraphQLLimits(**limit))
    assert decision.too_costly and "limit" in decision.reason, decision
