"""Insurance claims processing: validate, score with transparent rules, route, write outcomes.

No ``from __future__ import annotations`` here: Dagster resolves config annotations at definition time.
"""

from datetime import date

import dagster as dg
import polars as pl

from klikkflow_pipelines.workflows.claims.outcomes_table import CLAIM_OUTCOMES, replace_business_date
from klikkflow_pipelines.workflows.claims.rules import SCORING_RULES, route, score, validate
from klikkflow_pipelines.workflows.claims.sample_data import claims_for
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER
from resources.warehouse import WarehouseResource

GROUP = "claims"
FIRST_BUSINESS_DATE = "2025-01-01"


def claims_partitions(timezone: str) -> dg.DailyPartitionsDefinition:
    """One partition per business date in the tenant's time zone, up to and including today there."""
    return dg.DailyPartitionsDefinition(start_date=FIRST_BUSINESS_DATE, timezone=timezone, end_offset=1)


class ClaimsIntakeConfig(dg.Config):
    """How many claims the bundled intake feed reports per business date."""

    claim_count: int = 500


def build_claims_assets(
    review_threshold: int,
    fraud_threshold: int,
    auto_approve_limit: float,
    partitions: dg.DailyPartitionsDefinition,
) -> list[dg.AssetsDefinition]:
    """The claims assets with the tenant's routing thresholds, one partition per business date."""

    @dg.asset(
        group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER, partitions_def=partitions
    )
    def raw_claims(context: dg.AssetExecutionContext, config: ClaimsIntakeConfig) -> pl.DataFrame:
        """Claims reported on the partition's business date (bundled deterministic intake feed)."""
        day = date.fromisoformat(context.partition_key)
        claims = claims_for(day, config.claim_count)
        context.add_output_metadata({"business_date": day.isoformat(), "dagster/row_count": claims.height})
        return claims

    @dg.asset(
        group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER, partitions_def=partitions
    )
    def validated_claims(raw_claims: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        """Claims with their validation errors; invalid claims are kept and routed to ``rejected``."""
        checked = validate(raw_claims)
        invalid = checked.filter(~pl.col("is_valid")).height
        return dg.Output(checked, metadata={"dagster/row_count": checked.height, "invalid": invalid})

    @dg.asset(
        group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER, partitions_def=partitions
    )
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

    @dg.asset(
        group_name=GROUP, kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER, partitions_def=partitions
    )
    def routed_claims(scored_claims: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        """Each claim's queue: auto_approve, review, fraud_check or rejected."""
        routed = route(scored_claims, review_threshold, fraud_threshold, auto_approve_limit)
        counts = dict(routed.group_by("queue").len().iter_rows())
        return dg.Output(routed, metadata={"dagster/row_count": routed.height, "queues": counts})

    @dg.asset(group_name=GROUP, kinds={"sqlalchemy"}, partitions_def=partitions)
    def claim_outcomes(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, routed_claims: pl.DataFrame
    ) -> dg.MaterializeResult:
        """Write routing outcomes to the warehouse table ``claim_outcomes``: this business date's rows
        are replaced in one transaction, other dates' rows are untouched."""
        written = replace_business_date(warehouse, context.partition_key, routed_claims)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": written,
                "table": CLAIM_OUTCOMES.name,
                "table_rows": warehouse.count_rows(CLAIM_OUTCOMES),
            }
        )

    return [raw_claims, validated_claims, scored_claims, routed_claims, claim_outcomes]


def build_routed_claims_check(partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """The blocking check that every claim of a business date has exactly one known queue."""

    @dg.asset_check(
        asset="routed_claims",
        blocking=True,
        description="Every claim has exactly one known queue.",
        partitions_def=partitions,
    )
    def routed_claims_all_routed(routed_claims: pl.DataFrame) -> dg.AssetCheckResult:
        """Blocks the outcome write if any claim is unrouted or its id repeats."""
        known = {"auto_approve", "review", "fraud_check", "rejected"}
        unrouted = routed_claims.filter(~pl.col("queue").is_in(known) | pl.col("queue").is_null()).height
        repeated = routed_claims.height - routed_claims["claim_id"].n_unique()
        return dg.AssetCheckResult(
            passed=unrouted == 0 and repeated == 0, metadata={"unrouted": unrouted, "repeated_ids": repeated}
        )

    return routed_claims_all_routed
