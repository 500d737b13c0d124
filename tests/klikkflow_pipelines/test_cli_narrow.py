"""Output at 80 columns: no line wider, no id, path or name cut with "…" (folded or in blocks instead)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from klikkflow_pipelines.cli import app

LONG = "a-directory-with-a-rather-long-name/and-a-second-level-of-nesting-below-it"
COLUMN = "customer_primary_contact_email_address_as_given"
RUN_ID = "3e42b9e4-51d7-4d61-a10a-82c59721329b"


def _narrow(output: str) -> list[str]:
    """The lines of ``output``, after checking that none is over 80 columns or cut."""
    lines = output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in output
    return lines


def _squeezed(output: str) -> str:
    """``output`` without box drawing and white space: a folded value reads whole again."""
    return re.sub(r"[\s│┃║|]", "", output)


def _console() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, width=80, force_terminal=False), text


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    path = tmp_path / LONG
    path.mkdir(parents=True)
    return path


@pytest.fixture
def data(deep: Path) -> Path:
    path = deep / "contacts.csv"
    pl.DataFrame(
        {COLUMN: [f"person{i}@example.com" for i in range(40)], "amount": [float(i) for i in range(40)]}
    ).write_csv(path)
    return path


def test_classify_table(data: Path) -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["classify", str(data)])
    assert result.exit_code == 0, result.output
    lines = _narrow(result.stdout)
    assert any(line.startswith(COLUMN) for line in lines)  # the column name whole on its line
    assert str(data) in _squeezed(result.stdout)  # the path folded, never cut


def test_classify_evaluate_tables(data: Path) -> None:
    labels = data.parent / "labels.yaml"
    labels.write_text(f"version: 1\nfiles:\n  contacts.csv:\n    {COLUMN}: EMAIL_ADDRESS\n")
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["classify", "--evaluate", str(labels)])
    assert result.exit_code == 0, result.output
    lines = _narrow(result.stdout)
    assert any(COLUMN in line for line in lines)  # the column name whole on its row
    assert str(data) in _squeezed(result.stdout)  # the file path folded, never cut
    assert "precision 1.000, recall 1.000, F1 1.000 (tp 1, fp 0, fn 0)" in lines


def test_demo_summary_is_a_table_when_wide_and_blocks_at_80() -> None:
    from klikkflow_pipelines.cli.demo_output import print_summary
    from klikkflow_pipelines.demo import JobSummary

    partition = "customers_000.csv@1796701542653601630"
    summaries = [
        JobSummary("customer_onboarding_job", partition, RUN_ID, True, 4, 1090, 2, 0, 9.2),
        JobSummary("operations_report_job", None, RUN_ID.replace("3e", "4f"), False, 2, 6, 0, 1, 0.8),
    ]
    wide = io.StringIO()
    print_summary(Console(file=wide, width=200), "acme", summaries)
    assert "┃ job" in wide.getvalue() and partition in wide.getvalue()
    console, text = _console()
    print_summary(console, "acme", summaries)
    lines = _narrow(text.getvalue())
    assert "customer_onboarding_job success" in lines and "operations_report_job failed" in lines
    assert f"  partition: {partition}" in lines and f"  run: {RUN_ID}" in lines
    assert "  result: 4 assets, 1,090 rows, checks 2 passed, 0 failed, 9.2 s" in lines


def test_rehearse_runs_keep_whole_run_ids() -> None:
    from klikkflow_pipelines.cli.rehearse import print_result
    from klikkflow_pipelines.rehearsal.checks import Check, RunRow
    from klikkflow_pipelines.rehearsal.run import RehearsalResult

    result = RehearsalResult(
        workdir=Path("/tmp") / LONG,
        runs=[
            RunRow(
                "acme", "webhook", "claims_processing_job", RUN_ID, "SUCCESS", 12.5, ["s3://a", "s3://b"], 2
            ),
            RunRow("globex", "file drop", "customer_onboarding_job", "", "NOT STARTED"),
        ],
        checks=[Check("audit chains verify", False, "acme: " + "x" * 120)],
        seconds=93.0,
        kept=True,
    )
    console, text = _console()
    print_result(console, result)
    lines = _narrow(text.getvalue())
    assert f"  run id: {RUN_ID}" in lines
    assert "globex file drop → customer_onboarding_job NOT STARTED" in lines
    assert "x" * 120 in _squeezed(text.getvalue()) and "rehearsal FAILED in 93 s" in text.getvalue()
    wide = io.StringIO()
    print_result(Console(file=wide, width=200), result)
    assert "┃ run id" in wide.getvalue() and RUN_ID in wide.getvalue()


def test_tenant_show_folds_long_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / LONG / "klikkflow_home"
    monkeypatch.setenv("KLIKKFLOW_HOME", str(home))
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["tenant", "show", "acme"])
    assert result.exit_code == 0, result.output
    _narrow(result.stdout)
    assert f"{home}/tenants/acme(notprovisioned)" in _squeezed(result.stdout)
    assert "alice@acme.example(admin)" in _squeezed(result.stdout)


def test_audit_verify_and_export_lines(klikkflow_home: Path, deep: Path) -> None:
    from compliance.audit import audit_log_for_tenant

    log = audit_log_for_tenant("acme")
    log.append(actor="tester", action="probe", target="t", outcome="success")
    log.engine.dispose()
    runner = CliRunner(env={"COLUMNS": "80"})
    verified = runner.invoke(app, ["audit", "verify", "--tenant", "acme"])
    assert verified.exit_code == 0, verified.output
    _narrow(verified.output)
    assert "ok 1 entries" in verified.output
    exported = runner.invoke(app, ["audit", "export", "--tenant", "acme", "-o", str(deep / "a.jsonl")])
    assert exported.exit_code == 0, exported.output
    assert _narrow(exported.output) == ["exported 1 entries"]
