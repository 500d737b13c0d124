"""Reading an audit log for the audit viewer: filters from a query string, a page of entries newest
first, the chain check of the shown range, and exports (CSV with formula cells neutralised, JSON).

Every filter value is checked before it reaches the database; a bad one raises :class:`FilterError`
naming the field and the fix. Values are bound parameters (LIKE patterns escaped), never SQL text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from compliance.audit.chain import GENESIS_HASH, entry_hash
from compliance.audit.export import CSV_COLUMNS
from compliance.audit.log import OUTCOMES, AuditEntry, AuditLog
from compliance.audit.tables import audit_log_table

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_ACTOR = 255
MAX_ACTION = 128
EXPORT_LIMIT = 50_000
VERIFY_LIMIT = 5_000
ACTION_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TIME_HELP = "use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC), e.g. 2026-01-31T14:30"


class FilterError(ValueError):
    """A filter value the viewer cannot use (the message names the field and the fix)."""


@dataclass(frozen=True)
class AuditFilters:
    """What the viewer shows: substring of the actor, prefix of the action, outcome, time range."""

    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: str = ""  # as entered
    until: str = ""
    page: int = 1
    bounds: tuple[str | None, str | None] = field(default=(None, None), compare=False)

    def query_items(self) -> dict[str, str]:
        """The filters as query parameters (empty ones left out), for links and export forms."""
        items = {"actor": self.actor, "action": self.action, "outcome": self.outcome}
        items |= {"from": self.since, "to": self.until}
        return {k: v for k, v in items.items() if v}

    def described(self) -> dict[str, str]:
        """The filters for an audit record of an export."""
        return self.query_items()


def _time_bound(name: str, value: str, end: bool) -> str | None:
    """An ISO-8601 UTC bound comparable with the stored times; a date alone as ``to`` covers that day."""
    if not value:
        return None
    if len(value) > 40:
        raise FilterError(f"{name}: too long. Fix: {TIME_HELP}")
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise FilterError(f"{name}: {value!r} is not a date or time. Fix: {TIME_HELP}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if end and "T" not in value and " " not in value:
        parsed += timedelta(days=1)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


def parse_filters(params: Mapping[str, str]) -> AuditFilters:
    """Filters from query or form parameters; raises :class:`FilterError` for a bad value."""
    actor = str(params.get("actor", "")).strip()
    action = str(params.get("action", "")).strip()
    outcome = str(params.get("outcome", "")).strip()
    if len(actor) > MAX_ACTOR or CONTROL.search(actor):
        raise FilterError(f"actor: at most {MAX_ACTOR} characters, no control characters. Fix: shorten it")
    if len(action) > MAX_ACTION or not ACTION_PATTERN.match(action):
        raise FilterError(
            "action: letters, digits and . _ : - only, at most "
            f"{MAX_ACTION} characters. Fix: use an action such as signin or graphql.mutation"
        )
    if outcome and outcome not in OUTCOMES:
        raise FilterError(f"outcome: {outcome[:40]!r} is not one of {', '.join(OUTCOMES)}. Fix: pick one")
    since, until = str(params.get("from", "")).strip(), str(params.get("to", "")).strip()
    bounds = (_time_bound("from", since, end=False), _time_bound("to", until, end=True))
    if bounds[0] and bounds[1] and bounds[0] >= bounds[1]:
        raise FilterError("to: must be later than from. Fix: swap them or widen the range")
    raw_page = str(params.get("page", "1")).strip() or "1"
    if not (raw_page.isascii() and raw_page.isdigit()) or not 1 <= int(raw_page[:7]) <= MAX_PAGE:
        raise FilterError(f"page: a whole number from 1 to {MAX_PAGE}. Fix: use the page links")
    return AuditFilters(actor, action, outcome, since, until, int(raw_page), bounds)


def as_entered(params: Mapping[str, str]) -> AuditFilters:
    """The filters as entered (cut to a form field's length), to show a form with a bad value again."""
    values = [str(params.get(name, ""))[:MAX_ACTOR] for name in ("actor", "action", "outcome", "from", "to")]
    return AuditFilters(*values)


def _filtered(filters: AuditFilters) -> Select:
    table = audit_log_table
    query = select(table).order_by(table.c.seq.desc())
    if filters.actor:
        query = query.where(table.c.actor.contains(filters.actor, autoescape=True))
    if filters.action:
        query = query.where(table.c.action.startswith(filters.action, autoescape=True))
    if filters.outcome:
        query = query.where(table.c.outcome == filters.outcome)
    since, until = filters.bounds
    if since:
        query = query.where(table.c.time >= since)
    if until:
        query = query.where(table.c.time < until)
    return query


def page_of(log: AuditLog, filters: AuditFilters) -> tuple[list[AuditEntry], bool]:
    """The filtered entries of the page, newest first, and whether an older page exists."""
    query = _filtered(filters).limit(PAGE_SIZE + 1).offset((filters.page - 1) * PAGE_SIZE)
    with log.engine.connect() as conn:
        rows = [AuditEntry(**row._asdict()) for row in conn.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def export_rows(log: AuditLog, filters: AuditFilters) -> list[AuditEntry]:
    """Every filtered entry (at most ``EXPORT_LIMIT``, the newest), newest first."""
    with log.engine.connect() as conn:
        return [AuditEntry(**row._asdict()) for row in conn.execute(_filtered(filters).limit(EXPORT_LIMIT))]


def verify_range(log: AuditLog, entries: list[AuditEntry]) -> tuple[str, str]:
    """(status, message) of the chain from the oldest to the newest shown entry: each HMAC under the
    writer key, each link to the entry before, no gap. Status ``ok``, ``broken`` or ``unchecked``."""
    if not entries:
        return "unchecked", "no entries shown"
    low, high = min(e.seq for e in entries), max(e.seq for e in entries)
    if high - low >= VERIFY_LIMIT:
        return "unchecked", f"range too long to check here; run klikkflow audit verify --tenant {log.tenant}"
    table = audit_log_table
    query = select(table).where(table.c.seq >= low - 1, table.c.seq <= high).order_by(table.c.seq)
    with log.engine.connect() as conn:
        chain = [AuditEntry(**row._asdict()) for row in conn.execute(query)]
    prev_seq, prev_hash = (low - 1, GENESIS_HASH) if low == 1 else (None, None)
    for entry in chain:
        if entry.seq == low - 1:
            prev_seq, prev_hash = entry.seq, entry.hash
            continue
        if prev_seq is None or entry.seq != prev_seq + 1:
            return "broken", f"entries before {entry.seq} are missing"
        if (
            entry.prev_hash != prev_hash
            or entry_hash(log.key, entry.prev_hash, entry.hashed_fields()) != entry.hash
        ):
            return "broken", f"entry {entry.seq} was changed or is out of order"
        prev_seq, prev_hash = entry.seq, entry.hash
    return "ok", f"entries {low} to {high} are intact (HMAC chain checked)"


def neutral_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` (or tab, CR) gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_csv(entries: list[AuditEntry]) -> str:
    """The entries as CSV (the columns of ``klikkflow audit export``), formula cells neutralised."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for entry in entries:
        writer.writerow({column: neutral_cell(getattr(entry, column)) for column in CSV_COLUMNS})
    return out.getvalue()


def as_json(entries: list[AuditEntry]) -> str:
    """The entries as a JSON array of records (details decoded)."""
    return json.dumps([entry.as_record() for entry in entries], ensure_ascii=False, indent=1)
