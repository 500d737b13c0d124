"""`klikkflow validate` and `klikkflow tenant show` on tenants' own code locations.

Each location is loaded in its own child process: a location that raises at import, or ends its
process (sys.exit), is reported with file, field and error, and every other location and tenant is
still checked. Ungoverned assets are warnings, errors when the tenant's policy sets require_governed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from klikkflow_pipelines.paths import PROJECT_ROOT

KLIKKFLOW = [sys.executable, "-m", "klikkflow_pipelines.cli"]

OWN_IO = """
import dagster as dg


@dg.asset(io_manager_key="own_io")
def {asset}() -> int:
    return 1


defs = dg.Definitions(assets=[{asset}], resources={{"own_io": dg.FilesystemIOManager(base_dir="own-io")}})
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("validate")
    _write(root / "acme-code/val_shop.py", OWN_IO.format(asset="acme_orders"))
    _write(root / "acme-code/val_broken.py", "raise RuntimeError('acme broke this on purpose')\n")
    _write(root / "acme-code/val_quitter.py", "import sys\nsys.exit(3)\n")
    _write(root / "acme-code/lib/val_borrowed.py", OWN_IO.format(asset="borrowed"))
    _write(root / "globex-code/val_ledger.py", OWN_IO.format(asset="globex_entries"))
    _write(root / "policies/acme.yaml", "version: 1\nrequire_governed: true\n")
    locations = {
        "acme": [
            ("shop", "val_shop", "../acme-code"),
            ("broken", "val_broken", "../acme-code"),
            ("quitter", "val_quitter", "../acme-code"),
        ],
        "globex": [("ledger", "val_ledger", "../globex-code")],
        "umbrella": [("borrowed", "val_borrowed", "../acme-code/lib")],
    }
    (root / "tenants").mkdir()
    for tenant_id, entries in locations.items():
        data = {
            "id": tenant_id,
            "name": tenant_id,
            "code_locations": [{"name": n, "module": m, "path": p} for n, m, p in entries],
        }
        if tenant_id == "acme":
            data["policy"] = "../policies/acme.yaml"
        (root / "tenants" / f"{tenant_id}.yaml").write_text(yaml.safe_dump(data))
    return root / "tenants"


def _klikkflow(tenants: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KLIKKFLOW_TENANT"}
    env |= {
        "KLIKKFLOW_HOME": str(tenants.parent / "home"),
        "KLIKKFLOW_TENANTS_DIR": str(tenants),
        "COLUMNS": "250",
    }
    return subprocess.run(
        [*KLIKKFLOW, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def validated(tenants: Path) -> subprocess.CompletedProcess[str]:
    return _klikkflow(tenants, "validate")


def test_a_location_that_raises_is_named_with_file_field_and_error(
    tenants: Path, validated: subprocess.CompletedProcess[str]
) -> None:
    assert validated.returncode == 1
    assert (
        f"{tenants / 'acme.yaml'}: code_locations[1] (broken): does not load: "
        "RuntimeError: acme broke this on purpose (at " in validated.stderr
    )
    assert "code location broken: does not load" in validated.stdout


def test_a_location_that_ends_its_process_stops_only_its_own_check(
    tenants: Path, validated: subprocess.CompletedProcess[str]
) -> None:
    assert f"{tenants / 'acme.yaml'}: code_locations[2] (quitter): its check process exited with code 3" in (
        validated.stderr
    )
    assert "tenant globex code location ledger: ok (1 assets)" in validated.stdout
    assert "tenants OK: globex;" in validated.stdout


def test_ungoverned_assets_warn_and_fail_under_require_governed(
    tenants: Path, validated: subprocess.CompletedProcess[str]
) -> None:
    acme = [line for line in validated.stderr.splitlines() if "asset 'acme_orders' of" in line]
    assert acme and not acme[0].startswith("warning:")
    assert acme[0].startswith(f"{tenants / '..' / 'policies' / 'acme.yaml'}: require_governed: ")
    globex = [line for line in validated.stderr.splitlines() if "(ledger) asset globex_entries" in line]
    assert globex and globex[0].startswith(f"warning: {tenants / 'globex.yaml'}")


def test_a_tenant_importing_another_tenants_folder_is_refused(
    tenants: Path, validated: subprocess.CompletedProcess[str]
) -> None:
    """Hostile tenant: umbrella's location imports from inside acme's code folder."""
    assert f"{tenants / 'umbrella.yaml'}: code_locations[0] (borrowed): its folder" in validated.stderr
    assert "the code of tenant 'acme'" in validated.stderr
    victim = [line for line in validated.stderr.splitlines() if line.startswith(str(tenants / "acme.yaml"))]
    assert not any(
        "its folder" in line for line in victim
    )  # the tenant whose folder is borrowed is not blamed


def test_tenant_show_names_the_broken_location(tenants: Path) -> None:
    shown = _klikkflow(tenants, "tenant", "show", "acme")
    assert shown.returncode == 1
    assert "shop (module val_shop)" in shown.stdout
    assert "code location broken does not load" in shown.stderr
    assert "code_locations[1] (broken)" in shown.stderr and "acme broke this on purpose" in shown.stderr
