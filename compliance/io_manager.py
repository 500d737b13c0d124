"""A Dagster IO manager that governs every output before the storage IO manager writes it.

A frame (pandas or Polars) passes :class:`compliance.guard.FrameGuard`:
classified, checked against the policy's data-residency rules for this
destination and region, protected under the policy (``block`` raises
``dg.Failure`` and nothing is written), then handed to the inner storage IO
manager; its column schema with PII tags lands under ``dagster/column_schema``
(the UI catalog shows them) with findings and actions, and one compliance
event is appended per classification and per decision.

A :class:`resources.warehouse.WarehouseTable` (the handle a warehouse write
returns) was governed by that write: its metadata is recorded, nothing is
classified again, and nothing is stored by the inner IO manager (the rows are
in the warehouse). Any other output (dict, str, a custom object) cannot be
governed: it is flagged (event ``ungoverned_output``, metadata
``klikkflow/governed: false``) and refused with ``dg.Failure`` when the policy
sets ``require_governed``. ``None`` passes. Presidio and spaCy load lazily.
"""

# No `from __future__ import annotations`: Dagster reads the resource field annotations at runtime.

from typing import Any

import dagster as dg
from pydantic import Field

from compliance.frames import is_frame, like_input
from compliance.guard import EventSink, FrameGuard, event_sink, policy_for
from resources.secrets import SecretsResource
from resources.warehouse import WarehouseTable, issued_by_warehouse

__all__ = ["CompliantIOManager", "policy_for"]


def _partition(context: dg.OutputContext) -> dict[str, str]:
    """``{"partition": key}`` for a partitioned output (recorded with each event), else ``{}``."""
    return {"partition": context.asset_partition_key} if context.has_asset_partitions else {}


def _run_id(context: dg.OutputContext) -> str | None:
    try:
        return context.run_id
    except dg.DagsterInvariantViolationError:  # an OutputContext built outside a run
        return None


def _asset_name(context: dg.OutputContext) -> str:
    asset = context.asset_key.to_user_string() if context.has_asset_key else context.get_identifier()[-1]
    return asset if isinstance(asset, str) else "/".join(asset)


class CompliantIOManager(dg.ConfigurableIOManager):
    """Govern every output under the tenant policy, then delegate storage of frames to ``inner``."""

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
        description="SQLAlchemy URL of the compliance events table (else the injected ``events`` sink).",
    )
    events: dg.ResourceDependency[EventSink | None] = None
    spacy_model: str | None = Field(default=None, description="spaCy package or path; '' for pattern-only.")
    sample: int = Field(default=1000, ge=10, description="Distinct values per column to classify.")

    def guard(self) -> FrameGuard:
        """The guard of this tenant (events to ``events_url``, else the injected sink)."""
        sink = event_sink(self.events_url, self.events, f"CompliantIOManager of tenant {self.tenant_id!r}")
        secrets = self.secrets
        return FrameGuard(
            tenant_id=self.tenant_id,
            policy_path=self.policy_path,
            events=sink,
            keys=lambda: secrets.compliance_keys() if secrets.has_tenant_key() else None,
            spacy_model=self.spacy_model,
            sample=self.sample,
        )

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Govern ``obj`` (see the module docstring), then let the inner IO manager write frames."""
        if obj is None:
            self.inner.handle_output(context, obj)
            return
        asset, run_id, where = _asset_name(context), _run_id(context), _partition(context)
        if isinstance(obj, WarehouseTable) and issued_by_warehouse(obj):
            context.add_output_metadata(dict(obj.metadata))
            return
        guard = self.guard()
        if not is_frame(obj):
            metadata = guard.flag_ungoverned(obj, asset=asset, run_id=run_id, where=where)
            self.inner.handle_output(context, obj)
            context.add_output_metadata(metadata)
            return
        guarded = guard.protect(
            obj, asset=asset, destination=self.destination, region=self.region, run_id=run_id, where=where
        )
        self.inner.handle_output(context, like_input(guarded.frame, obj))
        context.add_output_metadata(guarded.metadata())

    def load_input(self, context: dg.InputContext) -> Any:
        """Read through the inner IO manager (stored data is already protected)."""
        return self.inner.load_input(context)
