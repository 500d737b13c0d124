"""How far the compliance layer governs each asset of a location, and why.

``governed``: the output is a frame the compliance IO manager classifies and
protects (or nothing is written through an IO manager). ``runtime-checked``:
the output type is not declared, so the compliance IO manager checks the value
when it is written. ``ungoverned``: the declared type is not a frame, or the IO
manager cannot be wrapped. :func:`govern_definitions` puts the status on every
asset's definition metadata (the UI shows it); :func:`ungoverned_assets` is what
``klikkflow validate`` lists.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.definitions.dependency import NodeHandle

GOVERNANCE_KEY = "klikkflow/governance"
REASON_KEY = "klikkflow/governance_reason"
FIX_KEY = "klikkflow/governance_fix"

GOVERNED, RUNTIME_CHECKED, UNGOVERNED = "governed", "runtime-checked", "ungoverned"

SUPPORTED_FRAMES = {
    ("polars", "DataFrame"): "polars DataFrame",
    ("polars", "LazyFrame"): "polars LazyFrame",
    ("pandas", "DataFrame"): "pandas DataFrame",
    ("pyarrow", "Table"): "pyarrow Table",
    ("pyarrow", "RecordBatch"): "pyarrow RecordBatch",
    ("resources", "WarehouseTable"): "KlikkFlow warehouse table (governed when written)",
}
"""Output types the compliance layer classifies, by package and class name (pandas/pyarrow not imported)."""

FRAME_FIX = (
    "return a polars or pandas DataFrame, a polars LazyFrame or a pyarrow Table "
    "(for example pl.DataFrame([value])), or write through the KlikkFlow warehouse resource"
)


@dataclass(frozen=True)
class GovernanceFinding:
    """The governance status of one asset: ``governed``, ``runtime-checked`` or ``ungoverned``."""

    asset: str
    status: str
    reason: str
    fix: str

    def as_metadata(self) -> dict[str, str]:
        """The definition metadata that shows the status in the UI."""
        return {GOVERNANCE_KEY: self.status, REASON_KEY: self.reason, FIX_KEY: self.fix}


def _package_and_name(type_: Any) -> tuple[str, str]:
    return str(getattr(type_, "__module__", "")).split(".")[0], str(getattr(type_, "__qualname__", ""))


def _returns_materialize_result(node: dg.NodeDefinition) -> bool:
    fn = getattr(getattr(node, "compute_fn", None), "decorated_fn", None)
    if fn is None:
        return False
    annotation = inspect.signature(fn).return_annotation
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return name.rsplit(".", 1)[-1] == "MaterializeResult"


def _type_finding(asset: str, dagster_type: dg.DagsterType) -> GovernanceFinding:
    if dagster_type.is_nothing:
        return GovernanceFinding(asset, GOVERNED, "output type Nothing: no value is written", "")
    if dagster_type.is_any:
        return GovernanceFinding(
            asset,
            RUNTIME_CHECKED,
            "no output type annotation: the compliance IO manager checks the value when it is written",
            "annotate the return type: a polars or pandas DataFrame, a polars LazyFrame or a pyarrow Table",
        )
    declared = dagster_type.typing_type
    union = typing.get_origin(declared) in (typing.Union, types.UnionType)
    candidates = [a for a in typing.get_args(declared) if a is not type(None)] if union else [declared]
    labels = [SUPPORTED_FRAMES.get(_package_and_name(c)) for c in candidates]
    if all(labels):
        return GovernanceFinding(asset, GOVERNED, f"output type {' | '.join(labels)} is classified", "")  # type: ignore[arg-type]
    return GovernanceFinding(
        asset,
        UNGOVERNED,
        f"output type {dagster_type.display_name} is not a frame the compliance layer can classify",
        FRAME_FIX,
    )


def assess_assets_def(
    assets_def: dg.AssetsDefinition, unwrappable: Mapping[str, str]
) -> dict[dg.AssetKey, GovernanceFinding]:
    """The finding of every asset ``assets_def`` materializes; ``unwrappable`` maps IO manager keys to why."""
    findings = {}
    node = assets_def.node_def
    materialize_result = _returns_materialize_result(node)
    for key in assets_def.keys:
        asset = key.to_user_string()
        io_key = assets_def.get_io_manager_key_for_asset_key(key)
        if io_key in unwrappable:
            findings[key] = GovernanceFinding(
                asset,
                UNGOVERNED,
                unwrappable[io_key],
                f"bind a ConfigurableIOManager or @dg.io_manager under {io_key!r}",
            )
            continue
        output, _ = node.resolve_output_to_origin(
            assets_def.get_output_name_for_asset_key(key), NodeHandle(node.name, parent=None)
        )
        if materialize_result and output.dagster_type.is_any:
            findings[key] = GovernanceFinding(
                asset,
                GOVERNED,
                "returns MaterializeResult: no value passes an IO manager; KlikkFlow's storage "
                "resources (warehouse) enforce the policy on what it writes",
                "",
            )
        else:
            findings[key] = _type_finding(asset, output.dagster_type)
    return findings


def _stamped(assets_def: dg.AssetsDefinition) -> dict[dg.AssetKey, GovernanceFinding] | None:
    findings = {}
    for spec in assets_def.specs:
        status = spec.metadata.get(GOVERNANCE_KEY)
        if status is None:
            return None
        meta = {
            k: getattr(spec.metadata.get(k), "value", spec.metadata.get(k)) for k in (REASON_KEY, FIX_KEY)
        }
        findings[spec.key] = GovernanceFinding(
            spec.key.to_user_string(),
            getattr(status, "value", status),
            meta[REASON_KEY] or "",
            meta[FIX_KEY] or "",
        )
    return findings


def governance_findings(defs: dg.Definitions) -> list[GovernanceFinding]:
    """The finding of every executable asset of ``defs``, sorted by asset.

    Governed definitions carry their findings in metadata; for ungoverned ones they are
    computed the way :func:`govern_definitions` would (IO managers bound to something
    that is not an IO manager count as ones that cannot be wrapped).
    """
    resources = defs.resources or {}
    findings: list[GovernanceFinding] = []
    for assets_def in defs.assets or []:
        if not isinstance(assets_def, dg.AssetsDefinition) or not assets_def.is_executable:
            continue
        stamped = _stamped(assets_def)
        if stamped is None:
            bound = {**resources, **assets_def.resource_defs}
            unwrappable = {
                key: f"IO manager {key!r} is a {type(value).__name__}, not an IO manager"
                for key, value in bound.items()
                if not isinstance(
                    value, dg.IOManagerDefinition | dg.ConfigurableIOManagerFactory | dg.IOManager
                )
            }
            stamped = assess_assets_def(assets_def, unwrappable)
        findings.extend(stamped.values())
    return sorted(findings, key=lambda f: f.asset)


def ungoverned_assets(defs: dg.Definitions) -> list[GovernanceFinding]:
    """Assets of ``defs`` the compliance layer does not fully govern: status ``ungoverned`` or
    ``runtime-checked`` (each with its reason and fix), sorted by asset."""
    return [f for f in governance_findings(defs) if f.status != GOVERNED]
