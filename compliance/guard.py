"""The compliance guard every governed write passes: classify, check residency, enforce, record.

:class:`FrameGuard` takes one frame bound for one destination (``storage``, or
``warehouse.<table>``) in one region and returns the protected frame with its
column-schema metadata, or raises ``dg.Failure`` after recording why: a
``block`` rule, a residency violation, a missing tenant key. In every refusal
nothing has been written yet, because the caller writes only what ``protect``
returns. The IO manager (:mod:`compliance.io_manager`) and the warehouse
resource (:mod:`resources.warehouse`) both use it, so a frame is governed the
same way whichever path it takes to storage.

Events go to an :class:`EventSink`: :class:`UrlEvents` for a SQLAlchemy URL,
or one the assembling code injects (the tenant's own storage).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import polars as pl

from compliance.classify import FrameReport, classify_frame
from compliance.crypto import KeyMaterialError, Keys
from compliance.enforce import ColumnDecision, PolicyBlocked, ResidencyViolation, check_residency, enforce
from compliance.events import ComplianceEvent, record_events
from compliance.nlp import build_engines
from compliance.phones import country_of_data_region
from compliance.policy import Policy, load_policy
from resources.sql_engine import create_storage_engine

GOVERNED_TAG = "klikkflow/governed"
"""Output metadata key: ``False`` on an output the compliance layer could not govern."""


class EventSink(Protocol):
    """Where compliance events are appended (the tenant's ``compliance_events`` table)."""

    def record(self, events: Sequence[ComplianceEvent]) -> None:
        """Append ``events`` in one transaction."""


@dataclass(frozen=True)
class UrlEvents:
    """The ``compliance_events`` table of the database at ``url``."""

    url: str

    def record(self, events: Sequence[ComplianceEvent]) -> None:
        """Append ``events`` (no connection is opened for none)."""
        if not events:
            return
        engine = create_storage_engine(self.url)
        try:
            record_events(engine, events)
        finally:
            engine.dispose()


def event_sink(url: str | None, injected: EventSink | None, owner: str) -> EventSink:
    """The sink a governed writer records to: the table at ``url``, else ``injected``.

    ``owner`` names the writer in the error raised when it has neither, so no event is ever lost
    silently.
    """
    if url:
        return UrlEvents(url)
    if injected is not None:
        return injected
    raise dg.Failure(
        description=f"{owner}: no compliance events table, so nothing is written. Fix: give "
        "events_url, or an events sink (build_resources injects the tenant's own storage)"
    )


@functools.lru_cache(maxsize=32)
def _cached_policy(path: str, mtime_ns: int) -> Policy:
    return load_policy(Path(path))


def policy_for(path: str) -> Policy:
    """Load the policy file, reloading only when it changed on disk."""
    return _cached_policy(path, os.stat(path).st_mtime_ns)


@dataclass(frozen=True)
class GuardedFrame:
    """A frame protected for one destination, with what the guard found and decided."""

    frame: pl.DataFrame
    report: FrameReport
    decisions: list[ColumnDecision]
    policy: Policy
    destination: str

    def metadata(self) -> dict[str, Any]:
        """Materialization metadata: ``dagster/column_schema`` with PII tags, findings, actions, policy."""
        by_column = {d.column: d for d in self.decisions}
        columns = []
        for name, dtype in self.frame.schema.items():
            col, decision = self.report.columns[name], by_column[name]
            tags = {"pii/sensitivity": col.sensitivity, "pii/action": decision.action}
            if col.entity:
                tags["pii/entity"] = col.entity
            if col.free_text and col.carried:
                tags["pii/contains"] = "+".join(sorted(col.carried))
            description = (
                f"{col.entity or ', '.join(sorted(col.carried)) or 'no PII'} "
                f"(score {col.score:.2f}); action {decision.action}"
                + (f" by rule {decision.rule}" if decision.rule else "")
            )
            columns.append(dg.TableColumn(name=name, type=str(dtype), description=description, tags=tags))
        acted = {d.column: d.to_json() for d in self.decisions if d.action != "allow"}
        return {
            "dagster/column_schema": dg.TableSchema(columns=columns),
            "compliance/findings": dg.MetadataValue.json(self.report.to_json()),
            "compliance/actions": dg.MetadataValue.json(acted),
            "compliance/pii_columns": len(self.report.pii_columns()),
            "compliance/policy": dg.MetadataValue.path(self.policy.source or ""),
            "compliance/destination": self.destination,
        }


@dataclass(frozen=True)
class FrameGuard:
    """Governs frames of one tenant under its policy; one instance per writer, cheap to build.

    ``keys`` returns the tenant's hashing/tokenization keys (``None`` when the
    tenant has no key: hash and tokenize rules then fail with a clear message).
    """

    tenant_id: str
    policy_path: str
    events: EventSink
    keys: Callable[[], Keys | None] = field(default=lambda: None)
    spacy_model: str | None = None
    sample: int = 1000

    def policy(self) -> Policy:
        """The tenant policy (re-read when the file changes)."""
        return policy_for(self.policy_path)

    def protect(
        self,
        frame: Any,
        *,
        asset: str,
        destination: str,
        region: str,
        run_id: str | None = None,
        where: dict[str, str] | None = None,
    ) -> GuardedFrame:
        """Classify ``frame``, check residency of ``destination`` in ``region`` ('' skips), enforce.

        Records one event per classification and per decision. Raises ``dg.Failure``
        (after recording a ``block`` or ``residency_violation`` event) when the frame
        must not be written to ``destination``.
        """
        where = where or {}
        policy = self.policy()
        engines = build_engines(self.spacy_model)
        report = classify_frame(
            frame,
            sample=self.sample,
            engines=engines,
            recognizers=policy.recognizers,
            region=country_of_data_region(region),
        )
        events = [
            self._event(run_id, "classify", asset, name, {**col.to_json(), "rows": report.rows, **where})
            for name, col in report.columns.items()
        ]
        try:
            if region:
                check_residency(policy, destination, region, report)
            result = enforce(frame, policy, report, asset=asset, keys=self.keys(), engines=engines)
        except PolicyBlocked as exc:
            self.events.record(events + self._decisions(run_id, asset, exc.decisions, policy, where))
            raise dg.Failure(
                description=f"Compliance policy blocked {asset}; nothing was written to {destination}. {exc}",
                metadata={"compliance/blocked_columns": [d.column for d in exc.decisions]},
            ) from None
        except ResidencyViolation as exc:
            details = {"destination": exc.destination, "region": exc.region, "allowed": exc.allowed, **where}
            self.events.record([*events, self._event(run_id, "residency_violation", asset, None, details)])
            raise dg.Failure(
                description=f"{exc}; nothing was written for {asset}. Fix: write to a destination in "
                f"{', '.join(exc.allowed)}, or change the residency rules of {policy.source or 'the policy'}"
            ) from None
        except KeyMaterialError as exc:
            raise dg.Failure(description=f"{exc}; nothing was written for {asset}.") from None
        events += self._decisions(run_id, asset, result.decisions, policy, where)
        self.events.record(events)
        return GuardedFrame(result.frame, report, result.decisions, policy, destination)

    def flag_ungoverned(
        self, obj: Any, *, asset: str, run_id: str | None = None, where: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Record an ``ungoverned_output`` event for ``obj`` (not a frame); return the output metadata.

        Raises ``dg.Failure`` instead when the policy sets ``require_governed``: the caller
        then writes nothing.
        """
        policy = self.policy()
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        reason = (
            f"output of type {kind} is not a data frame or warehouse table: the compliance layer "
            "cannot classify or protect it"
        )
        refused = policy.require_governed
        details = {"type": kind, "reason": reason, "refused": refused, **(where or {})}
        self.events.record([self._event(run_id, "ungoverned_output", asset, None, details)])
        if refused:
            raise dg.Failure(
                description=f"{asset}: {reason}; the policy {policy.source or ''} sets require_governed, "
                "so nothing was written. Fix: return a pandas/Polars frame, or write through the "
                "warehouse resource and return its WarehouseTable"
            )
        return {GOVERNED_TAG: False, "klikkflow/ungoverned_reason": reason}

    def _event(
        self, run_id: str | None, action: str, asset: str, column: str | None, details: dict[str, Any]
    ) -> ComplianceEvent:
        actor = f"run:{run_id}" if run_id else "klikkflow-compliance"
        return ComplianceEvent(actor, self.tenant_id, action, asset, column, run_id, details)

    def _decisions(
        self,
        run_id: str | None,
        asset: str,
        decisions: list[ColumnDecision],
        policy: Policy,
        where: dict[str, str],
    ) -> list[ComplianceEvent]:
        return [
            self._event(run_id, d.action, asset, d.column, {**d.to_json(), "policy": policy.source, **where})
            for d in decisions
        ]
