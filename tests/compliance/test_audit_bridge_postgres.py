"""Chaining compliance events concurrently, and the audit schema's one-time setup, on real PostgreSQL.

Attacks on correctness, not on security: two sensor ticks (or a tick and the
CLI) chaining the same events at once must chain each event exactly once; the
first callers on a fresh database must not crash on table creation; and a
database that is set up must see no DDL (no table locks) when an
:class:`AuditLog` is constructed again, e.g. on every sensor tick.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from compliance.audit import AuditLog, verify_log
from compliance.events import ComplianceEvent, record_events
from klikkflow_pipelines.tenancy.storage import create_storage_engine

pytestmark = pytest.mark.postgres
WRITER_KEY = "writer-key-for-bridge-tests-" + "b" * 32
DDL = re.compile(r"^\s*(CREATE|DROP|ALTER|LOCK)\b", re.IGNORECASE)

CHAIN = """
from compliance.audit import AuditLog
from compliance.audit.compliance_bridge import chain_compliance_events
from klikkflow_pipelines.tenancy.storage import create_storage_engine
engine = create_storage_engine({url!r})
wait_for_release()
log = AuditLog(engine, "acme")
print(chain_compliance_events(log))
"""

RunTogether = Callable[..., list[tuple[int, str, str]]]


@pytest.fixture
def events_db(
    fresh_database: Callable[[str], AbstractContextManager[str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh database holding only a ``compliance_events`` table with 200 events (no audit tables yet)."""
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", WRITER_KEY)
    with fresh_database("kf_bridge") as url:
        engine = create_storage_engine(url)
        record_events(
            engine,
            [
                ComplianceEvent(actor=f"run:{i}", tenant="acme", action="mask", asset=f"t{i}")
                for i in range(200)
            ],
        )
        engine.dispose()
        yield url


def _chain_concurrently(run_together: RunTogether, url: str, processes: int) -> list[int]:
    results = run_together(
        CHAIN.format(url=url), processes, {**os.environ, "KLIKKFLOW_AUDIT_KEY": WRITER_KEY}
    )
    crashed = [
        [line for line in err.splitlines() if "Error" in line][-1:] for code, _, err in results if code
    ]
    assert not crashed, f"{len(crashed)} of {processes} concurrent callers crashed: {crashed}"
    return [int(out.strip()) for _, out, _ in results]


def test_two_processes_chaining_the_same_200_events_chain_each_exactly_once(
    events_db: str, run_together: RunTogether
) -> None:
    engine = create_storage_engine(events_db)
    AuditLog(engine, "acme")  # schema set up before: this test is about the chaining itself
    counts = _chain_concurrently(run_together, events_db, 2)
    assert sorted(counts) == [0, 200]
    log = AuditLog(engine, "acme")
    entries = list(log.entries())
    assert len(entries) == 200
    chained_ids = [json.loads(e.details)["compliance_event"]["id"] for e in entries]
    assert chained_ids == list(range(1, 201))
    report = verify_log(log)
    assert report.ok, report.problems
    engine.dispose()


def test_first_concurrent_calls_on_a_fresh_database_do_not_crash(
    events_db: str, run_together: RunTogether
) -> None:
    counts = _chain_concurrently(run_together, events_db, 4)
    assert sum(counts) == 200
    engine = create_storage_engine(events_db)
    assert len(list(AuditLog(engine, "acme").entries())) == 200
    engine.dispose()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_constructing_the_audit_log_again_issues_no_ddl(backend: str, events_db: str, tmp_path: Path) -> None:
    url = events_db if backend == "postgres" else f"sqlite:///{tmp_path / 'audit.db'}"
    first_engine = create_storage_engine(url)
    first = _statements(first_engine)
    AuditLog(first_engine, "acme")
    assert any(DDL.match(s) for s in first), "the first construction sets the schema up"
    first_engine.dispose()
    for _ in range(2):  # a new engine each time, as each sensor tick has
        engine = create_storage_engine(url)
        seen = _statements(engine)
        AuditLog(engine, "acme")
        assert [s for s in seen if DDL.match(s)] == []
        assert len(seen) == 1, seen  # one catalog read
        engine.dispose()
