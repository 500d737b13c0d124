"""A small tenant code location for the object-store tests: frames, a pickled object, partitions.

It binds no IO manager, so governance puts the tenant's default store underneath: frames as
Parquet, other objects pickled, both in the tenant's storage (``KLIKKFLOW_STORAGE_URL``);
``customer_count`` writes through KlikkFlow's ``governed_io_manager`` (the built-in workflows' way).
``daily_signups`` waits at a barrier when ``KF_TEST_BARRIER`` names a directory, so two
processes materializing different partitions write at the same moment.
"""

import os
import time
from pathlib import Path

import dagster as dg
import polars as pl

EMAILS = ["ada@example.com", "grace@example.org", "linus@example.net"]
DAYS = dg.StaticPartitionsDefinition(["2026-01-01", "2026-01-02"])
ESCAPES = dg.StaticPartitionsDefinition(["../other", "../../globex/frames/customers"])
BARRIER_PARTIES = 2


def _barrier(name: str) -> None:
    folder = os.environ.get("KF_TEST_BARRIER")
    if not folder:
        return
    Path(folder, f"{name}.ready").write_text("ready")
    deadline = time.monotonic() + 60
    while len(list(Path(folder).glob("*.ready"))) < BARRIER_PARTIES:
        if time.monotonic() > deadline:
            raise TimeoutError("the other writer never reached the barrier")
        time.sleep(0.01)


@dg.asset
def customers() -> pl.DataFrame:
    """Customers with raw e-mails (the policy hashes them before storage)."""
    return pl.DataFrame({"email": EMAILS, "score": [1, 2, 3]})


@dg.asset(io_manager_key="governed_io_manager")
def customer_count(customers: pl.DataFrame) -> pl.DataFrame:
    """Reads the stored (protected) customers back; written through KlikkFlow's governed IO manager."""
    return pl.DataFrame({"customers": [customers.height], "first_email": [customers["email"][0]]})


@dg.asset
def note() -> dict[str, int]:
    """Not a frame: pickled into the tenant's object storage."""
    return {"answer": 42}


@dg.asset
def note_answer(note: dict[str, int]) -> int:
    """Reads the pickled object back."""
    return note["answer"]


@dg.asset(partitions_def=DAYS)
def daily_signups(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """One frame per day, written by whichever process materializes that day."""
    day = context.partition_key
    _barrier(day)
    return pl.DataFrame({"day": [day, day], "email": [f"{day}-a@example.com", f"{day}-b@example.com"]})


@dg.asset
def signups_total(daily_signups: pl.DataFrame) -> pl.DataFrame:
    """Every day's signups read back (all partitions)."""
    return pl.DataFrame({"rows": [daily_signups.height], "days": [daily_signups["day"].n_unique()]})


@dg.asset(partitions_def=ESCAPES)
def escapes(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """Partition keys that try to climb out of the storage prefix."""
    return pl.DataFrame({"key": [context.partition_key]})


@dg.asset(key=["..", "..", "globex", "frames", "planted"])
def planted() -> pl.DataFrame:
    """An asset key whose prefix tries to climb into another tenant's storage."""
    return pl.DataFrame({"x": [1]})


defs = dg.Definitions(
    assets=[customers, customer_count, note, note_answer, daily_signups, signups_total, escapes, planted]
)
