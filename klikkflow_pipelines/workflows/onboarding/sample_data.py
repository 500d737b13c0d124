"""Deterministic sample customer drops (CSV and JSON) for the onboarding workflow.

The drops imitate what partner systems send: inconsistent casing and
whitespace, several phone formats, duplicates across files, and a few
records that must be rejected (no e-mail, malformed e-mail, unknown country).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

FIRST_NAMES = [
    "anna",
    "Lars",
    "INGRID",
    "Ola",
    "marta",
    "Jonas",
    "Sofia",
    "Erik",
    "nora",
    "Henrik",
    "Liv",
    "Omar",
]
LAST_NAMES = ["Hansen", "johansen", "OLSEN", "Berg", "Larsen", "Nilsen", "Haugen", "Dahl", "Lie", "Moen"]
COUNTRIES = ["NO", "SE", "DK", "no", " se ", "FI", "DE"]
CHANNELS = ["web", "branch", "partner", "app"]
DROP_FIELDS = [
    "customer_ref",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "signup_date",
    "channel",
]


def _phone(rng: random.Random) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(8))
    style = rng.randint(0, 3)
    if style == 0:
        return f"+47 {digits[:3]} {digits[3:5]} {digits[5:]}"
    if style == 1:
        return f"0047{digits}"
    if style == 2:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return digits


def customer_records(seed: int, count: int) -> list[dict[str, str]]:
    """``count`` raw customer records, reproducible from ``seed``; ~10% duplicates, ~5% invalid."""
    rng = random.Random(seed)
    records: list[dict[str, str]] = []
    start = date(2026, 1, 1)
    for i in range(count):
        if records and rng.random() < 0.10:
            dup = dict(rng.choice(records))
            dup["email"] = f"  {dup['email'].upper()} "
            dup["signup_date"] = (date.fromisoformat(dup["signup_date"]) + timedelta(days=3)).isoformat()
            records.append(dup)
            continue
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.strip().lower()}.{last.lower()}{seed % 97}{i}@example.com"
        roll = rng.random()
        if roll < 0.02:
            email = ""
        elif roll < 0.04:
            email = email.replace("@", " at ")
        country = rng.choice(COUNTRIES) if rng.random() > 0.01 else "XX"
        records.append(
            {
                "customer_ref": f"C{seed:03d}{i:05d}",
                "first_name": f" {first} ",
                "last_name": last,
                "email": email,
                "phone": _phone(rng),
                "country": country,
                "signup_date": (start + timedelta(days=rng.randint(0, 300))).isoformat(),
                "channel": rng.choice(CHANNELS),
            }
        )
    return records


def write_sample_drops(inbox: Path, drops: int = 3, rows_per_drop: int = 400) -> list[Path]:
    """Write ``drops`` files (alternating CSV and JSON Lines) into ``inbox``; returns their paths."""
    inbox.mkdir(parents=True, exist_ok=True)
    written = []
    previous: list[dict[str, str]] = []
    for n in range(drops):
        records = customer_records(seed=100 + n, count=rows_per_drop)
        # Partners re-send some customers in a later drop with a newer signup date.
        for resent in previous[:20]:
            later = date.fromisoformat(resent["signup_date"]) + timedelta(days=30)
            records.append({**resent, "signup_date": later.isoformat()})
        previous = records
        if n % 2 == 0:
            path = inbox / f"customers_{n:03d}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=DROP_FIELDS)
                writer.writeheader()
                writer.writerows(records)
        else:
            path = inbox / f"customers_{n:03d}.json"
            path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
        written.append(path)
    return written
