"""What the private cluster's log says the running processes did: who connected where, and their DDL.

The cluster logs connections and DDL with ``log_line_prefix = '%m [%p] %u@%d '``
(:data:`~klikkflow_pipelines.rehearsal.database.LOG_SETTINGS`); a statement spanning lines continues
on lines starting with a tab. Read from the offset where the operator's provisioning ended, the log
covers only the running processes (and the rehearsal's own reads with the gateway's and tenants'
logins).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \S+ \S+ \[\d+\] (?P<user>[^@\s]*)@(?P<db>\S*) (?P<level>[A-Z]+):\s+(?P<message>.*)$"
)
_CONNECTION = re.compile(r"connection authorized: user=(?P<user>\S+) database=(?P<db>\S+)")
_STATEMENT = re.compile(r"^statement: (?P<sql>.*)$", re.DOTALL)
_TARGET = re.compile(
    r"\b(?:TABLE|INDEX|VIEW|SEQUENCE|SCHEMA|TRIGGER|FUNCTION)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    r"(?:\S+\s+ON\s+)?(?P<name>[\w.\"]+)",
    re.IGNORECASE,
)
_INDEX_ON = re.compile(r"\bINDEX\b.*?\bON\s+(?:ONLY\s+)?(?P<name>[\w.\"]+)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Ddl:
    """One DDL statement: who ran it where, on which table, and its text (whitespace collapsed)."""

    user: str
    database: str
    table: str
    sql: str


@dataclass
class DatabaseActivity:
    """Connections by (user, database), and the DDL statements."""

    connections: Counter = field(default_factory=Counter)
    ddl: list[Ddl] = field(default_factory=list)


def ddl_table(sql: str) -> str:
    """The table a DDL statement creates, changes or indexes (unqualified, unquoted); ``""`` if unknown."""
    match = _INDEX_ON.search(sql) or _TARGET.search(sql)
    return match["name"].split(".")[-1].strip('"') if match else ""


def _records(text: str) -> list[str]:
    records: list[str] = []
    for line in text.splitlines():
        if _RECORD.match(line):
            records.append(line)
        elif records and line.startswith("\t"):
            records[-1] += "\n" + line
    return records


def read_activity(log: Path, offset: int = 0) -> DatabaseActivity:
    """Parse the cluster's log from byte ``offset`` on."""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    activity = DatabaseActivity()
    for record in _records(text):
        head = _RECORD.match(record.split("\n", 1)[0])
        assert head is not None
        message = head["message"] + record[len(record.split("\n", 1)[0]) :]
        if connection := _CONNECTION.search(message):
            activity.connections[(connection["user"], connection["db"])] += 1
        elif head["level"] == "LOG" and (statement := _STATEMENT.match(message)):
            sql = " ".join(statement["sql"].split())
            activity.ddl.append(Ddl(head["user"], head["db"], ddl_table(sql), sql[:160]))
    return activity
