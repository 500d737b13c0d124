"""``klikkflow validate`` checks every tenant whatever ``KLIKKFLOW_TENANT`` says, reports a broken
tenant's workflow and code errors as ``FILE: FIELD: problem. Fix: ...`` lines (no traceback), still
checks the others, and creates nothing (not even ``KLIKKFLOW_HOME``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from klikkflow_pipelines.paths import PROJECT_ROOT

BROKEN_CODE = """
import dagster as dg


@dg.asset
def ledger() -> int:
    return 1


raise ValueError("globex ledger broke on purpose")
"""


def test_validate_reports_another_tenants_errors_read_only(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_ROOT / "deploy" / "tenants", tmp_path / "tenants")
    shutil.copytree(PROJECT_ROOT / "deploy" / "policies", tmp_path / "policies")
    (tmp_path / "globex-code").mkdir()
    (tmp_path / "globex-code" / "gx_ledger.py").write_text(BROKEN_CODE)
    globex = tmp_path / "tenants" / "globex.yaml"
    text = globex.read_text().replace("lookback_hours: 168", 'lookback_hours: "lots"')
    globex.write_text(
        text + "code_locations:\n  - name: ledger\n    module: gx_ledger\n    path: ../globex-code\n"
    )
    home = tmp_path / "home"
    env = {**os.environ, "KLIKKFLOW_TENANT": "acme", "KLIKKFLOW_HOME": str(home)}
    env |= {
        "KLIKKFLOW_TENANTS_DIR": str(tmp_path / "tenants"),
        "COLUMNS": "80",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    done = subprocess.run(
        [sys.executable, "-m", "klikkflow_pipelines.cli", "validate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert (
        f"{globex}: workflows.operations_report.params.lookback_hours: Input should be a valid integer, "
        "unable to parse string as an integer. Fix: give a whole number"
    ) in lines
    code = [line for line in lines if line.startswith(f"{globex}: code_locations[0] (ledger): does not load")]
    assert len(code) == 1, done.stderr
    assert "ValueError: globex ledger broke on purpose" in code[0] and ". Fix: " in code[0]
    assert "tenants OK: acme, default;" in done.stdout
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not home.exists(), "validate created KLIKKFLOW_HOME"
