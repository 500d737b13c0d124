"""The warehouse table ``claim_outcomes``: each claim's queue, replaced one business date at a time."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from resources.warehouse import WarehouseResource

metadata = sa.MetaData()

CLAIM_OUTCOMES = sa.Table(
    "claim_outcomes",
    metadata,
    sa.Column("claim_id", sa.Text, nullable=False),
    sa.Column("policy_id", sa.Text),
    sa.Column("claim_type", sa.Text),
    sa.Column("amount", sa.Float),
    sa.Column("reported_date", sa.Text, nullable=False),
    sa.Column("risk_score", sa.Integer),
    sa.Column("risk_reasons", sa.Text),
    sa.Column("validation_errors", sa.Text),
    sa.Column("queue", sa.Text),
    sa.Index("claim_outcomes_claim_id_key", "claim_id", unique=True),
    sa.Index("claim_outcomes_reported_date", "reported_date"),
)


def outcome_rows(routed: pl.DataFrame) -> pl.DataFrame:
    """The ``claim_outcomes`` columns of routed claims (lists joined with commas, dates as ISO text)."""
    return routed.select(
        "claim_id",
        "policy_id",
        "claim_type",
        "amount",
        pl.col("reported_date").cast(pl.String),
        "risk_score",
        pl.col("risk_reasons").list.join(",").alias("risk_reasons"),
        pl.col("validation_errors").list.join(",").alias("validation_errors"),
        "queue",
    )


def replace_business_date(warehouse: WarehouseResource, business_date: str, routed: pl.DataFrame) -> int:
    """Replace the outcomes of ``business_date`` by those of ``routed`` in one transaction.

    Rows of other dates are untouched; a claim not reported on ``business_date`` is refused.
    """
    outcomes = outcome_rows(routed)
    strays = outcomes.filter(pl.col("reported_date") != business_date).height
    if strays:
        raise ValueError(f"{strays} claim(s) are not reported on the business date {business_date}")
    return warehouse.replace_rows_where(
        CLAIM_OUTCOMES, "reported_date", business_date, outcomes.to_dicts(), key="claim_id"
    )
