"""What a launch mutation asked Dagster for and what Dagster created, for the audit log.

For every launch field of a mutation (``launchRun``, ``launchPipelineExecution``,
``launchMultipleRuns``, ``launchRunReexecution``, ``launchPipelineReexecution``,
``launchPartitionBackfill``) :func:`launch_requests` reads the job, tags,
asset selection and re-execution parent from the arguments (inline or in
variables) and :func:`launch_outcomes` adds the run ids or backfill id from
Dagster's answer, so an auditor can say who launched which run. Values are
bounded so a hostile request cannot blow up an audit row.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.utilities import value_from_ast_untyped

LAUNCH_FIELDS = frozenset(
    {
        "launchRun",
        "launchPipelineExecution",
        "launchMultipleRuns",
        "launchRunReexecution",
        "launchPipelineReexecution",
        "launchPartitionBackfill",
    }
)
_MAX_ITEMS = 50
_MAX_TEXT = 200


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:_MAX_TEXT]


def _launch_fields(document: DocumentNode, operation_name: str | None) -> list[FieldNode]:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found: list[FieldNode] = []

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value in LAUNCH_FIELDS:
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    walk(fragments[name].selection_set, seen | {name})

    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation != OperationType.MUTATION:
            continue
        if operation_name and definition.name and definition.name.value != operation_name:
            continue
        walk(definition.selection_set, frozenset())
    return found[:_MAX_ITEMS]


def _tags(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    pairs = [t for t in items if isinstance(t, dict)][:_MAX_ITEMS]
    return {str(t.get("key"))[:_MAX_TEXT]: _text(t.get("value")) or "" for t in pairs}


def _assets(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    keys = [item.get("path") for item in items if isinstance(item, dict)][:_MAX_ITEMS]
    return ["/".join(map(str, path))[:_MAX_TEXT] for path in keys if isinstance(path, list)]


def _execution(params: Any) -> dict[str, Any]:
    params = params if isinstance(params, dict) else {}
    selector = params.get("selector") if isinstance(params.get("selector"), dict) else {}
    metadata = params.get("executionMetadata") if isinstance(params.get("executionMetadata"), dict) else {}
    return {
        "job": _text(selector.get("jobName") or selector.get("pipelineName")),
        "location": _text(selector.get("repositoryLocationName")),
        "asset_selection": _assets(selector.get("assetSelection")),
        "asset_check_selection": _assets(
            [c.get("assetKey") for c in selector.get("assetCheckSelection") or [] if isinstance(c, dict)]
        ),
        "tags": _tags(metadata.get("tags")),
        "parent_run_id": _text(metadata.get("parentRunId")),
    }


def _describe(field: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in field.arguments or ()}
    name = field.name.value
    entry: dict[str, Any] = {"mutation": name, "response_key": (field.alias or field.name).value}
    if name == "launchMultipleRuns":
        launches = args.get("executionParamsList") or []
        described = [_execution(p) for p in launches[:_MAX_ITEMS]] if isinstance(launches, list) else []
        entry["job"] = ",".join(sorted({d["job"] for d in described if d["job"]}))[:_MAX_TEXT] or None
        entry["launches"] = described
    elif name == "launchPartitionBackfill":
        params = args.get("backfillParams") if isinstance(args.get("backfillParams"), dict) else {}
        selector = params.get("selector") if isinstance(params.get("selector"), dict) else {}
        partitions = params.get("partitionNames") if isinstance(params.get("partitionNames"), list) else []
        entry |= {
            "job": _text(selector.get("partitionSetName")),
            "asset_selection": _assets(params.get("assetSelection")),
            "tags": _tags(params.get("tags")),
            "partitions": [_text(p) for p in partitions[:_MAX_ITEMS]],
            "partition_count": len(partitions),
            "all_partitions": bool(params.get("allPartitions")),
        }
    else:
        entry |= _execution(args.get("executionParams"))
        reexecution = args.get("reexecutionParams")
        if isinstance(reexecution, dict):
            entry["parent_run_id"] = _text(reexecution.get("parentRunId"))
            entry["strategy"] = _text(reexecution.get("strategy"))
            entry["tags"] = {**entry.get("tags", {}), **_tags(reexecution.get("extraTags"))}
    return entry


def launch_requests(
    document: DocumentNode | None, variables: Any, operation_name: str | None
) -> list[dict[str, Any]]:
    """One description per launch field of the executed mutation (empty when it launches nothing)."""
    if document is None:
        return []
    if isinstance(variables, str):
        try:
            variables = json.loads(variables)
        except json.JSONDecodeError:
            variables = None
    return [
        _describe(f, variables if isinstance(variables, dict) else {})
        for f in _launch_fields(document, operation_name)
    ]


def _run_ids(result: Any) -> list[str]:
    """Run ids in one launch result (LaunchRunSuccess, LaunchMultipleRunsResult, LaunchBackfillSuccess)."""
    if not isinstance(result, dict):
        return []
    ids: list[str] = []
    run = result.get("run")
    if isinstance(run, dict) and (run.get("runId") or run.get("id")):
        ids.append(str(run.get("runId") or run.get("id")))
    for item in result.get("launchMultipleRunsResult") or []:
        ids.extend(_run_ids(item))
    ids.extend(str(r) for r in result.get("launchedRunIds") or [] if isinstance(r, str))
    return ids[:_MAX_ITEMS]


def launch_outcomes(launches: list[dict[str, Any]], answer: Any) -> list[dict[str, Any]]:
    """``launches`` completed with what Dagster answered: result type, run ids, backfill id, error."""
    data = answer.get("data") if isinstance(answer, dict) else None
    data = data if isinstance(data, dict) else {}
    completed = []
    for launch in launches:
        result = data.get(launch["response_key"])
        entry = dict(launch)
        if isinstance(result, dict):
            entry["result"] = _text(result.get("__typename"))
            entry["run_ids"] = _run_ids(result)
            if result.get("backfillId"):
                entry["backfill_id"] = _text(result["backfillId"])
            if result.get("message"):
                entry["error"] = _text(result["message"])
        else:
            entry["result"] = None if result is None else _text(type(result).__name__)
            entry["run_ids"] = []
        if not entry["run_ids"] and "backfill_id" not in entry:
            entry["note"] = (
                "Dagster's answer names no run or backfill (not selected by the client, or failed)"
            )
        completed.append(entry)
    return completed
