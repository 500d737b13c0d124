"""A Dagster IO manager that classifies and protects every frame before the storage IO manager writes it.

For each frame an asset returns it: classifies the columns, checks the
policy's data-residency rules, applies the policy (``block`` raises
``dg.Failure`` and nothing is written), hands the protected frame to the
inner storage IO manager, records the column schema with PII tags under
``dagster/column_schema`` (the UI catalog shows them) plus findings and
actions as materialization metadata, and appends one compliance event per
classification and per decision. Presidio and spaCy load lazily on first use.
"""

# No `from __future__ import annotations`: Dagster reads the resource field annotations at runtime.

import functools
import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from compliance.classify import FrameReport, classify_frame
from compliance.crypto import KeyMaterialError
from compliance.enforce import (
    ColumnDecision,
    PolicyBlocked,
    ResidencyViolation,
    check_residency,
    enforce,
)
from compliance.events import ComplianceEvent, record_events
from compliance.frames import is_frame, like_input
from compliance.nlp import build_engines
from compliance.policy import Policy, load_policy
from resources.secrets import SecretsResource


@functools.lru_cache(maxsize=32)
def _cached_policy(path: str, mtime_ns: int) -> Policy:
    return load_policy(Path(path))


def policy_for(path: str) -> Policy:
    """Load the policy file, reloading only when it changed on disk."""
    return _cached_policy(path, os.stat(path).st_mtime_ns)


def _partition(context: dg.OutputContext) -> dict[str, str]:
    """``{"partition": key}`` for a partitioned output (recorded with each event), else ``{}``."""
    return {"partition": context.asset_partition_key} if context.has_asset_partitions else {}


def _run_id(context: dg.OutputContext) -> str | None:
    try:
        return context.run_id
    except dg.DagsterInvariantViolationError:  # an OutputContext built outside a run
        return None


class CompliantIOManager(dg.ConfigurableIOManager):
    """Classify, enforce the tenant policy, then delegate storage to ``inner``."""

    inner: dg.ResourceDependency[dg.IOManager]
    secrets: SecretsResource
    tenant_id: str = Field(description="Tenant whose policy and event table are used.")
    policy_path: str = Field(description="Path of the tenant's compliance policy YAML.")
    destination: str = Field(default="storage", description="Destination name matched by residency rules.")
    region: str = Field(
        default="", description="Region of the destination (residency rules); '' skips the check."
    )
    events_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the compliance events table; default: the tenant's storage.",
    )
    spacy_model: str | None = Field(default=None, description="spaCy package or path; '' for pattern-only.")
    sample: int = Field(default=1000, ge=10, description="Distinct values per column to classify.")

    def _record(self, events: list[ComplianceEvent]) -> None:
        from klikkflow_pipelines.tenancy.storage import create_storage_engine, tenant_storage_engine

        if self.events_url:
            engine = create_storage_engine(self.events_url)
        else:
            engine = tenant_storage_engine(self.tenant_id)
        try:
            record_events(engine, events)
        finally:
            engine.dispose()

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Protect ``obj`` under the policy, then let the inner IO manager write it."""
        if not is_frame(obj):
            self.inner.handle_output(context, obj)
            return
        asset = context.asset_key.to_user_string() if context.has_asset_key else context.get_identifier()[-1]
        asset = asset if isinstance(asset, str) else "/".join(asset)
        run_id = _run_id(context)
        policy = policy_for(self.policy_path)
        report = classify_frame(obj, sample=self.sample, engines=build_engines(self.spacy_model))
        where = _partition(context)
        events = self._classification_events(asset, run_id, report, where)
        try:
            if self.region:
                check_residency(policy, self.destination, self.region, report)
            keys = self.secrets.compliance_keys() if self.secrets.has_tenant_key() else None
            result = enforce(
                obj, policy, report, asset=asset, keys=keys, engines=build_engines(self.spacy_model)
            )
        except PolicyBlocked as exc:
            events += self._decision_events(asset, run_id, exc.decisions, policy, where)
            self._record(events)
            raise dg.Failure(
                description=f"Compliance policy blocked {asset}; nothing was written. {exc}",
                metadata={"compliance/blocked_columns": [d.column for d in exc.decisions]},
            ) from None
        except ResidencyViolation as exc:
            events.append(
                ComplianceEvent(
                    self._actor(run_id),
                    self.tenant_id,
                    "residency_violation",
                    asset,
                    None,
                    run_id,
                    {"destination": exc.destination, "region": exc.region, "allowed": exc.allowed, **where},
                )
            )
            self._record(events)
            raise dg.Failure(description=f"{exc}; nothing was written for {asset}.") from None
        except KeyMaterialError as exc:
            raise dg.Failure(description=f"{exc}; nothing was written for {asset}.") from None
        events += self._decision_events(asset, run_id, result.decisions, policy, where)
        protected = like_input(result.frame, obj)
        self.inner.handle_output(context, protected)
        self._record(events)
        context.add_output_metadata(self._metadata(result.frame, report, result.decisions, policy))

    def load_input(self, context: dg.InputContext) -> Any:
        """Read through the inner IO manager (stored data is already protected)."""
        return self.inner.load_input(context)

    def _actor(self, run_id: str | None) -> str:
        return f"run:{run_id}" if run_id else "klikkflow-compliance"

    def _classification_events(
        self, asset: str, run_id: str | None, report: FrameReport, where: dict[str, str]
    ) -> list[ComplianceEvent]:
        return [
            ComplianceEvent(
                self._actor(run_id),
                self.tenant_id,
                "classify",
                asset,
                name,
                run_id,
                {**col.to_json(), "rows": report.rows, **where},
            )
            for name, col in report.columns.items()
        ]

    def _decision_events(
        self,
        asset: str,
        run_id: str | None,
        decisions: list[ColumnDecision],
        policy: Policy,
        where: dict[str, str],
    ) -> list[ComplianceEvent]:
        return [
            ComplianceEvent(
                self._actor(run_id),
                self.tenant_id,
                d.action,
                asset,
                d.column,
                run_id,
                {**d.to_json(), "policy": policy.source, **where},
            )
            for d in decisions
        ]

    def _metadata(
        self, frame: Any, report: FrameReport, decisions: list[ColumnDecision], policy: Policy
    ) -> dict[str, Any]:
        by_column = {d.column: d for d in decisions}
        columns = []
        for name, dtype in frame.schema.items():
            col, decision = report.columns[name], by_column[name]
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
        acted = {d.column: d.to_json() for d in decisions if d.action != "allow"}
        return {
            "dagster/column_schema": dg.TableSchema(columns=columns),
            "compliance/findings": dg.MetadataValue.json(report.to_json()),
            "compliance/actions": dg.MetadataValue.json(acted),
            "compliance/pii_columns": len(report.pii_columns()),
            "compliance/policy": dg.MetadataValue.path(policy.source or self.policy_path),
        }
