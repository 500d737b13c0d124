"""The warehouse table ``customers``: one row per (hashed) e-mail address, the latest signup winning."""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa

from resources.warehouse import WarehouseResource

metadata = sa.MetaData()

CUSTOMERS = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_ref", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("phone", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("signup_date", sa.Text),
    sa.Column("source_file", sa.Text),
    sa.Index("customers_email_key", "email", unique=True),
)
"""``email`` is the key; ``signup_date`` is ISO text, so text order is date order."""

LATEST_WINS = ("signup_date", "source_file", "customer_ref")
"""The order in which rows for one e-mail win: latest signup, then the later drop file, then the ref."""


def customer_rows(clean: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``customers`` for a frame of cleaned customers."""
    frame = clean.with_columns(pl.col("signup_date").cast(pl.String)).select(
        [c.name for c in CUSTOMERS.columns]
    )
    return frame.to_dicts()


def upsert_customers(warehouse: WarehouseResource, clean: pl.DataFrame) -> int:
    """Upsert cleaned customers: a stored row is replaced only by a later-ranked one (``LATEST_WINS``)."""
    return warehouse.upsert_latest(CUSTOMERS, customer_rows(clean), key="email", rank=LATEST_WINS)
