"""Exporting audit entries as JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from compliance.audit.log import AuditLog

EXPORT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "seq",
    "time",
    "actor",
    "tenant",
    "action",
    "target",
    "outcome",
    "source",
    "details",
    "prev_hash",
    "hash",
)


def export_entries(
    log: AuditLog, out: TextIO, fmt: str = "jsonl", since: str | None = None, until: str | None = None
) -> int:
    """Write entries with ``since <= time < until`` to ``out``; return how many were written."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    count = 0
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for entry in log.entries(since=since, until=until):
        if writer:
            writer.writerow({column: getattr(entry, column) for column in CSV_COLUMNS})
        else:
            out.write(json.dumps(entry.as_record(), sort_keys=True, ensure_ascii=False) + "\n")
        count += 1
    return count
