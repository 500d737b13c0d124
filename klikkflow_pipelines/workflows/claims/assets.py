"""Insurance claims processing: validate, score with transparent rules, route, write outcomes.

No ``from __future__ import annotations`` here: Dagster resolves config annotations at definition time.
"""

from datetime import date

import dagster as dg
import polars as pl

from klikkflow_pipelines.workflows.claims.rules import SCORING_RULES, route, score, validate
from klikkflow_pipelines.workflows.claims.sample_data import claims_for
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER
from resources.warehouse import WarehouseResource

GROUP = "claims"


class ClaimsIntakeConfig(dg.Config):
    """The business date whose claims are processed (default: today)."""

    business_date: str | None = None
    claim_count: int = 500


def build_claims_assets(
    review_threshold: int, fraud_threshold: int, auto_approve_limit: float
) -> list[dg.AssetsDefinition]:
    """The claims assets with the tenant's routing thresholds."""

    @dg.asset(group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER)
    def raw_claims(context: dg.AssetExecutionContext, config: ClaimsIntakeConfig) -> pl.DataFrame:
        """Claims reported on the business date (bundled deterministic intake feed)."""
        try:
            day = date.fromisoformat(config.business_date) if config.business_date else date.today()
        except ValueError:
            raise dg.Failure(
                f"business_date {config.business_date!r} is not a date; give it as YYYY-MM-DD"
            ) from None
        claims = claims_for(day, config.claim_count)
        context.add_output_metadata({"business_date": day.isoformat(), "dagster/row_count": claims.height})
        return claims

    @dg.asset(group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER)
    def validated_claims(raw_claims: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        """Claims with their validation errors; invalid claims are kept and routed to ``rejected``."""
        checked = validate(raw_claims)
        invalid = checked.filter(~pl.col("is_valid")).height
        return dg.Output(checked, metadata={"dagster/row_count": checked.height, "invalid": invalid})

    @dg.asset(group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER)
    def scored_claims(validated_claims: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        """Risk score and the rules behind it for every claim."""
        scored = score(validated_claims)
        triggered = {
            r.rule_id: int(scored["risk_reasons"].list.contains(r.rule_id).sum()) for r in SCORING_RULES
        }
        return dg.Output(
            scored,
            metadata={
                "dagster/row_count": scored.height,
                "rules_triggered": triggered,
                "rules": dg.MetadataValue.md(
                    "\n".join(f"- **{r.rule_id}** (+{r.points}): {r.explanation}" for r in SCORING_RULES)
                ),
            },
        )

    @dg.asset(group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER)
    def routed_claims(scored_claims: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        """Each claim's queue: auto_approve, review, fraud_check or rejected."""
        routed = route(scored_claims, review_threshold, fraud_threshold, auto_approve_limit)
        counts = dict(routed.group_by("queue").len().iter_rows())
        return dg.Output(routed, metadata={"dagster/row_count": routed.height, "queues": counts})

    @dg.asset(group_name=GROUP, kinds={"sqlalchemy"})
    def claim_outcomes(warehouse: WarehouseResource, routed_claims: pl.DataFrame) -> dg.MaterializeResult:
        """Write routing outcomes to the warehouse table ``claim_outcomes`` (replacing the day's rows)."""
        outcomes = routed_claims.select(
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
        days = outcomes["reported_date"].unique().to_list()
        if warehouse.has_table("claim_outcomes"):
            kept = warehouse.read_frame("SELECT * FROM claim_outcomes").filter(
                ~pl.col("reported_date").is_in(days)
            )
            outcomes_all = pl.concat([kept.cast(dict(outcomes.schema), strict=False), outcomes])
        else:
            outcomes_all = outcomes
        warehouse.write_frame("claim_outcomes", outcomes_all)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": outcomes.height,
                "table": "claim_outcomes",
                "table_rows": outcomes_all.height,
            }
        )

    return [raw_claims, validated_claims, scored_claims, routed_claims, claim_outcomes]


@dg.asset_check(asset="routed_claims", blocking=True, description="Every claim has exactly one known queue.")
def routed_claims_all_routed(routed_claims: pl.DataFrame) -> dg.AssetCheckResult:
    """Blocks the outcome write if any claim is unrouted or its id repeats."""
    known = {"auto_approve", "review", "fraud_check", "rejected"}
    unrouted = routed_claims.filter(~pl.col("queue").is_in(known) | pl.col("queue").is_null()).height
    repeated = routed_claims.height - routed_claims["claim_id"].n_unique()
    return dg.AssetCheckResult(
        passed=unrouted == 0 and repeated == 0, metadata={"unrouted": unrouted, "repeated_ids": repeated}
    )
