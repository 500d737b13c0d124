"""Validation and transparent scoring rules for insurance claims.

Every rule is a named Polars expression with a fixed number of points, so a
claim's score is the sum of the rules it triggered and the reasons column
lists exactly those rules: an adjuster can see why a claim was routed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

VALIDATIONS: dict[str, pl.Expr] = {
    "missing policy_id": pl.col("policy_id").is_null(),
    "amount must be positive": pl.col("amount") <= 0,
    "incident after reported date": pl.col("incident_date") > pl.col("reported_date"),
    "incident before policy start": pl.col("incident_date") < pl.col("policy_start"),
}


@dataclass(frozen=True)
class ScoringRule:
    """One transparent fraud/risk signal."""

    rule_id: str
    points: int
    condition: pl.Expr
    explanation: str


SCORING_RULES: tuple[ScoringRule, ...] = (
    ScoringRule(
        "HIGH_SHARE_OF_LIMIT",
        30,
        pl.col("amount") > 0.8 * pl.col("policy_limit"),
        "amount above 80% of the policy limit",
    ),
    ScoringRule(
        "EARLY_IN_POLICY",
        20,
        (pl.col("incident_date") - pl.col("policy_start")).dt.total_days() < 30,
        "incident within 30 days of policy start",
    ),
    ScoringRule(
        "LATE_REPORT",
        15,
        (pl.col("reported_date") - pl.col("incident_date")).dt.total_days() > 30,
        "reported more than 30 days after the incident",
    ),
    ScoringRule(
        "FREQUENT_CLAIMANT", 20, pl.col("prior_claims_12m") >= 3, "three or more claims in 12 months"
    ),
    ScoringRule(
        "THEFT_WITHOUT_POLICE_REPORT",
        25,
        pl.col("description").str.contains("(?i)stolen|burglary|theft") & ~pl.col("police_report"),
        "theft claimed without a police report",
    ),
    ScoringRule(
        "ROUND_AMOUNT", 10, (pl.col("amount") % 1000 == 0) & (pl.col("amount") >= 5000), "large round amount"
    ),
)


def validate(claims: pl.DataFrame) -> pl.DataFrame:
    """Adds ``validation_errors`` (list of failed checks) and ``is_valid``."""
    errors = pl.concat_list(
        [
            pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(None)
            for name, cond in VALIDATIONS.items()
        ]
    ).list.drop_nulls()
    return claims.with_columns(errors.alias("validation_errors")).with_columns(
        (pl.col("validation_errors").list.len() == 0).alias("is_valid")
    )


def score(claims: pl.DataFrame) -> pl.DataFrame:
    """Adds ``risk_score`` (0-100, sum of triggered rule points) and ``risk_reasons`` (rule ids)."""
    points = pl.sum_horizontal(
        [pl.when(r.condition.fill_null(False)).then(r.points).otherwise(0) for r in SCORING_RULES]
    )
    reasons = pl.concat_list(
        [pl.when(r.condition.fill_null(False)).then(pl.lit(r.rule_id)).otherwise(None) for r in SCORING_RULES]
    ).list.drop_nulls()
    return claims.with_columns(points.clip(0, 100).alias("risk_score"), reasons.alias("risk_reasons"))


def route(
    claims: pl.DataFrame, review_threshold: int, fraud_threshold: int, auto_approve_limit: float
) -> pl.DataFrame:
    """Adds ``queue``: rejected / fraud_check / review / auto_approve."""
    queue = (
        pl.when(~pl.col("is_valid"))
        .then(pl.lit("rejected"))
        .when(pl.col("risk_score") >= fraud_threshold)
        .then(pl.lit("fraud_check"))
        .when((pl.col("risk_score") >= review_threshold) | (pl.col("amount") > auto_approve_limit))
        .then(pl.lit("review"))
        .otherwise(pl.lit("auto_approve"))
    )
    return claims.with_columns(queue.alias("queue"))
