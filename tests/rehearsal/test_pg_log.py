"""Reading the private cluster's log: connections by role and database, DDL with its table."""

from __future__ import annotations

from pathlib import Path

from klikkflow_pipelines.rehearsal.pg_log import ddl_table, read_activity

T = "2026-12-07 21:57:25.884 UTC"
LOG = f"""\
{T} [32720] [unknown]@[unknown] LOG:  connection received: host=127.0.0.1
{T} [32720] klikkflow_acme@klikkflow_acme LOG:  connection authorized: user=klikkflow_acme \
database=klikkflow_acme
{T} [32721] klikkflow_acme@klikkflow_acme LOG:  statement: CREATE TABLE IF NOT EXISTS claim_outcomes (
\t\tclaim_id TEXT NOT NULL,
\t\tamount FLOAT
\t)
{T} [32721] klikkflow_acme@klikkflow_acme LOG:  statement: CREATE UNIQUE INDEX IF NOT EXISTS k \
ON claim_outcomes (claim_id)
{T} [32722] kf_gateway@klikkflow_acme LOG:  connection authorized: user=kf_gateway \
database=klikkflow_acme
{T} [32723] klikkflow_acme@klikkflow_acme ERROR:  permission denied for table audit_log
{T} [32723] klikkflow_acme@klikkflow_acme STATEMENT:  DROP TRIGGER audit_log_no_truncate \
ON audit_log
"""


def test_connections_and_multi_line_ddl_are_read_from_an_offset(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    log.write_text(
        "2026-12-07 21:00:00.000 UTC [1] postgres@postgres LOG:  statement: CREATE DATABASE x\n" + LOG
    )
    activity = read_activity(log, offset=len(log.read_text().splitlines(keepends=True)[0]))
    assert activity.connections == {
        ("klikkflow_acme", "klikkflow_acme"): 1,
        ("kf_gateway", "klikkflow_acme"): 1,
    }
    assert [(d.user, d.table) for d in activity.ddl] == [("klikkflow_acme", "claim_outcomes")] * 2
    assert (
        activity.ddl[0].sql
        == "CREATE TABLE IF NOT EXISTS claim_outcomes ( claim_id TEXT NOT NULL, amount FLOAT )"
    )


def test_the_table_of_a_ddl_statement() -> None:
    assert ddl_table("CREATE INDEX idx ON public.runs (a)") == "runs"
    assert ddl_table('ALTER TABLE "audit_log" DISABLE TRIGGER ALL') == "audit_log"
    assert ddl_table("DROP TRIGGER t ON audit_log") == "audit_log"
    assert ddl_table("CREATE SCHEMA IF NOT EXISTS warehouse") == "warehouse"
    assert ddl_table("COMMENT 1") == ""
