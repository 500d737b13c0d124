"""Progress of long commands: shown on a terminal's standard error, silent when piped, never on stdout."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from klikkflow_pipelines.cli.progress import progress_steps
from klikkflow_pipelines.paths import PROJECT_ROOT

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROWS = 20_000


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "80", "TERM": "xterm-256color"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "KLIKKFLOW_TENANT"):
        env.pop(name, None)
    return {**env, **extra}


def _klikkflow(*argv: str) -> list[str]:
    return [sys.executable, "-m", "klikkflow_pipelines.cli", *argv]


def run_on_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
    """Run with standard error on a pseudo-terminal and standard output on a pipe:
    (exit code, stdout, what the terminal showed without its escape codes)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env
    ) as proc:
        os.close(slave)
        out, _ = proc.communicate(timeout=timeout)
    reader.join(timeout=10)
    os.close(master)
    terminal = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return proc.returncode, out.decode(), terminal


def run_piped(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run with standard output and error on pipes."""
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def large_csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    pl.DataFrame(
        {
            "email": [f"person{i}@example.com" for i in range(ROWS)],
            "note": [f"note {i}" for i in range(ROWS)],
            "amount": [i * 1.5 for i in range(ROWS)],
        }
    ).write_csv(path)
    return path


def test_steps_render_only_on_a_terminal_console() -> None:
    terminal = io.StringIO()
    with progress_steps("reading a.csv", total=2, console=Console(file=terminal, force_terminal=True)) as s:
        s.step("classifying a.csv")
        s.advance()
    assert "reading a.csv" in ANSI.sub("", terminal.getvalue())
    assert "1/2" in ANSI.sub("", terminal.getvalue())
    piped = io.StringIO()
    with progress_steps("reading a.csv", console=Console(file=piped, force_terminal=False)) as s:
        s.step("classifying a.csv")
        s.advance()
    assert piped.getvalue() == ""
    assert s.done == 1


def test_plain_steps_are_lines_when_not_a_terminal() -> None:
    piped = io.StringIO()
    console = Console(file=piped, force_terminal=False, width=40)
    with progress_steps("demo for tenant [acme]", plain=True, console=console) as s:
        s.step("run 1: customer_onboarding_job [customers_000.csv@1796701542653601630]")
    lines = piped.getvalue().splitlines()
    assert lines == [
        "demo for tenant [acme]",
        "run 1: customer_onboarding_job [customers_000.csv@1796701542653601630]",
    ]  # whole, markup printed as written, no escape codes
    silent = io.StringIO()
    with progress_steps("x", plain=True, enabled=False, console=Console(file=silent, force_terminal=True)):
        pass
    assert silent.getvalue() == ""


def test_classify_shows_its_steps_on_a_terminal_and_keeps_json_clean(large_csv: Path) -> None:
    code, out, terminal = run_on_terminal(_klikkflow("classify", str(large_csv), "--format", "json"), _env())
    assert code == 0, terminal
    assert "reading people.csv" in terminal
    assert f"classifying 3 columns of {ROWS:,} rows" in terminal
    assert json.loads(out)["columns"]["email"]["entity"] == "EMAIL_ADDRESS"
    assert "\x1b" not in out


def test_classify_piped_prints_no_progress(large_csv: Path) -> None:
    done = run_piped(_klikkflow("classify", str(large_csv), "--format", "json"), _env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == ROWS
    assert "reading" not in done.stderr and "classifying" not in done.stderr and "\x1b" not in done.stderr


def test_classify_evaluate_counts_files_on_a_terminal(large_csv: Path) -> None:
    labels = large_csv.parent / "labels.yaml"
    labels.write_text("version: 1\nfiles:\n  people.csv:\n    email: EMAIL_ADDRESS\n    note: null\n")
    code, out, terminal = run_on_terminal(
        _klikkflow("classify", "--evaluate", str(labels), "--format", "json"), _env()
    )
    assert code == 0, terminal
    assert "loading the NER model" in terminal and "0/1" in terminal
    assert "classifying people.csv" in terminal
    assert json.loads(out)["overall"]["tp"] == 1


@pytest.fixture
def acme_log(klikkflow_home: Path) -> None:
    from compliance.audit import audit_log_for_tenant

    log = audit_log_for_tenant("acme")
    for n in range(50):
        log.append(actor="tester", action="probe", target=str(n), outcome="success")
    log.engine.dispose()


def test_audit_export_and_verify_show_progress_on_a_terminal(acme_log: None, tmp_path: Path) -> None:
    target = tmp_path / "audit.jsonl"
    code, out, terminal = run_on_terminal(
        _klikkflow("audit", "export", "--tenant", "acme", "-o", str(target)), _env()
    )
    assert code == 0, terminal
    assert "exporting the audit log of acme" in terminal and "exported 50 entries" in terminal
    assert len(target.read_text().splitlines()) == 50 and out == ""
    code, _, terminal = run_on_terminal(_klikkflow("audit", "verify", "--tenant", "acme"), _env())
    assert code == 0, terminal
    assert "verifying the audit log of acme" in terminal and "ok 50 entries" in terminal


def test_audit_export_to_stdout_stays_parseable_when_piped(acme_log: None) -> None:
    done = run_piped(_klikkflow("audit", "export", "--tenant", "acme"), _env())
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["target"] for line in done.stdout.splitlines()] == [str(n) for n in range(50)]
    assert "exporting" not in done.stderr and "exported 50 entries" in done.stderr


def test_tenant_create_shows_provisioning_on_a_terminal(tmp_path: Path, klikkflow_home: Path) -> None:
    tenants, deploy = tmp_path / "tenants", tmp_path / "deploy"
    tenants.mkdir()
    env = _env(KLIKKFLOW_DEPLOY_DIR=str(deploy), KLIKKFLOW_TENANTS_DIR=str(tenants))
    code, out, terminal = run_on_terminal(_klikkflow("tenant", "create", "newco"), env)
    assert code == 0, terminal + out
    assert "provisioning tenant newco: storage, tenant file, instance config" in terminal
    assert "Tenant newco is ready" in " ".join(out.split())
    assert (deploy / "k8s" / "newco" / "manifests.yaml").exists()
    assert "provisioning" not in out


def test_demo_shows_each_run_and_a_summary_that_fits_80_columns(klikkflow_home: Path) -> None:
    code, out, terminal = run_on_terminal(_klikkflow("demo", "--tenant", "acme"), _env(), timeout=300)
    assert code == 0, terminal + out
    assert "run 1: customer_onboarding_job [" in terminal
    assert "claims_processing_job" in terminal and "operations_report_job" in terminal
    assert "run 1:" not in out and "\x1b" not in out  # progress only on the terminal
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in out
    runs = re.findall(r"run: ([0-9a-f-]{36})$", out, flags=re.MULTILINE)
    assert len(runs) == 5  # every run id whole
    assert re.search(r"partition: customers_000\.csv@\d+$", out, flags=re.MULTILINE)
