"""``python escape_attempts.py <out.json>``: tenant ``acme``'s code tries to reach other tenants' files.

Run with ``KLIKKFLOW_TENANT=acme`` and a ``KLIKKFLOW_HOME`` that holds tenant ``globex``'s key,
the platform directory, a symlink ``acme/innocent.txt`` to globex's key and a symlink
``acme/mirror`` to globex's secrets folder. Installs the path guard (as the code-location
entry point does in a tenant's code server and run worker), loads an asset through
:func:`govern_definitions`, runs it in a real Dagster execution, and writes what each attempt
did (``"allowed"`` or the error) to ``<out.json>`` (in acme's own home).
"""

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.governance.path_guard import install_path_guard
from klikkflow_pipelines.tenancy.config import load_tenant

HOME = Path(os.environ["KLIKKFLOW_HOME"])
OWN = HOME / "tenants" / "acme"
OTHER_KEY = HOME / "tenants" / "globex" / "secrets" / "tenant.key"


def attempts() -> dict[str, Callable[[], object]]:
    """Each way in, named."""
    link = OWN / "innocent.txt"  # planted before the guard (e.g. unpacked from an archive)
    own = OWN / "notes" / "mine.txt"
    return {
        "open_other_key": lambda: OTHER_KEY.read_text(),
        "open_via_dotdot": lambda: open(f"{OWN}/../globex/secrets/tenant.key").read(),
        "open_via_symlink_in_own_home": lambda: link.read_text(),
        "open_via_planted_dir_link": lambda: (OWN / "mirror" / "tenant.key").read_text(),
        "swap_planted_link_for_a_cached_dir": lambda: _swap(OWN / "cached"),
        "list_other_home": lambda: os.listdir(OTHER_KEY.parent.parent),
        "scandir_tenants_root": lambda: list(os.scandir(HOME / "tenants")),
        "copy_other_key": lambda: shutil.copyfile(OTHER_KEY, OWN / "stolen.key"),
        "remove_other_key": lambda: os.remove(OTHER_KEY),
        "open_platform_signing_key": lambda: (HOME / "platform" / "audit-signing.key").read_bytes(),
        "rmtree_platform": lambda: shutil.rmtree(HOME / "platform"),
        "own_file": lambda: (own.parent.mkdir(exist_ok=True), own.write_text("ok"), own.read_text())[-1],
        "own_file_after_the_attempts": lambda: own.read_text(),
    }


def _swap(cached: Path) -> None:
    """Make the guard cache ``cached`` as an own folder, then move the planted link into its place."""
    cached.mkdir(exist_ok=True)
    (cached / "warm.txt").write_text("cached")
    shutil.rmtree(cached)
    os.rename(OWN / "mirror", cached)


@dg.asset
def escape(context: dg.AssetExecutionContext) -> None:
    """Try every way in; record the outcomes in the tenant's own home."""
    outcomes = {}
    for name, attempt in attempts().items():
        try:
            attempt()
            outcomes[name] = "allowed"
        except PermissionError as exc:
            outcomes[name] = f"PermissionError: {exc}"
    outcomes["run_id"] = context.run_id
    Path(sys.argv[1]).write_text(json.dumps(outcomes))


if __name__ == "__main__":
    install_path_guard("acme")  # what the code-location entry point does before loading tenant code
    defs = govern_definitions(dg.Definitions(assets=[escape]), load_tenant("acme"), "escape")
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert result.success
