"""Materialize assets of ``object_store_location`` for one tenant in this process, as a run worker does.

``python object_store_run.py <tenant> <asset,asset> [partition]`` prints one JSON line:
``{"success": ..., "paths": {asset: path metadata}, "error": ...}``. When ``KLIKKFLOW_TENANT``
names the tenant (as in a tenant's code server and run workers) the path guard is installed first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).parent))

from object_store_location import defs

from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.governance.path_guard import install_path_guard
from klikkflow_pipelines.tenancy.config import load_tenant


def main(tenant_id: str, assets: str, partition: str | None) -> dict[str, object]:
    """Run the selection; what happened as a JSON-able dict."""
    guarded = install_path_guard(tenant_id)
    governed = govern_definitions(defs, load_tenant(tenant_id), "object_store_location.py")
    job = governed.resolve_implicit_global_asset_job_def()
    selection = [dg.AssetKey.from_user_string(a) for a in assets.split(",")]
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=selection, partition_key=partition, raise_on_error=False
        )
    paths = {
        m.asset_key.to_user_string(): m.materialization.metadata["path"].value
        for m in result.get_asset_materialization_events()
        if "path" in m.materialization.metadata
    }
    errors = [str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]
    return {"success": result.success, "paths": paths, "error": "\n".join(errors), "guarded": guarded}


if __name__ == "__main__":
    outcome = main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    print(json.dumps(outcome))
