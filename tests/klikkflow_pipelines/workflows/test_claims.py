"""Claims processing: validation, transparent scoring, routing and recorded outcomes."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl
import pytest

from klikkflow_pipelines.workflows.claims.rules import route, score, validate
from klikkflow_pipelines.workflows.claims.sample_data import claims_for


def _claim(**overrides: object) -> dict[str, object]:
    base = {
        "claim_id": "CLM-1",
        "policy_id": "POL-1",
        "claim_type": "home",
        "amount": 1234.5,
        "policy_limit": 100_000.0,
        "policy_start": date(2024, 1, 1),
        "incident_date": date(2026, 11, 20),
        "reported_date": date(2026, 11, 25),
        "prior_claims_12m": 0,
        "police_report": True,
        "description": "Water leak in kitchen",
    }
    return {**base, **overrides}


def test_rules_score_and_route_each_claim_for_stated_reasons() -> None:
    claims = pl.DataFrame(
        [
            _claim(claim_id="clean"),
            _claim(
                claim_id="theft", description="Burglary, laptop stolen", police_report=False, amount=9123.0
            ),
            _claim(claim_id="fraudy", amount=90_500.0, policy_start=date(2026, 11, 1), prior_claims_12m=4),
            _claim(claim_id="big", amount=50_500.0),
            _claim(claim_id="negative", amount=-10.0),
            _claim(claim_id="future", incident_date=date(2026, 12, 1)),
        ]
    )
    routed = route(
        score(validate(claims)), review_threshold=40, fraud_threshold=70, auto_approve_limit=20_000
    )
    by_id = {r["claim_id"]: r for r in routed.iter_rows(named=True)}
    assert by_id["clean"]["risk_score"] == 0 and by_id["clean"]["queue"] == "auto_approve"
    assert by_id["theft"]["risk_reasons"] == ["THEFT_WITHOUT_POLICE_REPORT"]
    assert by_id["theft"]["risk_score"] == 25 and by_id["theft"]["queue"] == "auto_approve"
    assert by_id["fraudy"]["risk_reasons"] == ["HIGH_SHARE_OF_LIMIT", "EARLY_IN_POLICY", "FREQUENT_CLAIMANT"]
    assert by_id["fraudy"]["risk_score"] == 70 and by_id["fraudy"]["queue"] == "fraud_check"
    assert by_id["big"]["queue"] == "review"  # above the auto-approve limit despite score 0
    assert by_id["negative"]["validation_errors"] == ["amount must be positive"]
    assert by_id["negative"]["queue"] == "rejected"
    assert by_id["future"]["validation_errors"] == ["incident after reported date"]


def test_sample_claims_are_deterministic_per_business_date() -> None:
    assert claims_for(date(2026, 11, 25)).equals(claims_for(date(2026, 11, 25)))
    assert not claims_for(date(2026, 11, 25)).equals(claims_for(date(2026, 11, 26)))


def test_claims_workflow_materializes_and_records_outcomes(defs, group_assets, resources, instance) -> None:
    result = dg.materialize(
        [*group_assets("claims"), *defs.asset_checks],
        resources=resources,
        instance=instance,
        partition_key="2026-11-25",
        selection=dg.AssetSelection.groups("claims"),
    )
    assert result.success
    routed = result.output_for_node("routed_claims")
    expected = route(score(validate(claims_for(date(2026, 11, 25)))), 40, 70, 20_000)
    assert routed["queue"].to_list() == expected["queue"].to_list()
    assert set(routed["queue"]) <= {"auto_approve", "review", "fraud_check", "rejected"}
    assert routed.filter(~pl.col("is_valid"))["queue"].unique().to_list() == ["rejected"]
    checks = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert {c.check_name: c.passed for c in checks} == {
        "routed_claims_all_routed": True,
        "routed_claims_quality": True,
    }

    stored = resources["warehouse"].read_frame(
        "SELECT claim_id, queue, risk_score FROM claim_outcomes ORDER BY claim_id"
    )
    assert stored.height == 500
    assert dict(stored.select("claim_id", "queue").iter_rows()) == dict(
        routed.select("claim_id", "queue").iter_rows()
    )

    # Re-running the same business date replaces that day's rows instead of duplicating them.
    assert dg.materialize(
        group_assets("claims"), resources=resources, instance=instance, partition_key="2026-11-25"
    ).success
    assert resources["warehouse"].read_frame("SELECT count(*) AS n FROM claim_outcomes").item() == 500


def test_a_date_outside_the_business_calendar_is_refused(group_assets, resources, instance) -> None:
    with pytest.raises(dg.DagsterUnknownPartitionError, match=r"25\.11\.2026"):
        dg.materialize(
            group_assets("claims"),
            resources=resources,
            instance=instance,
            partition_key="25.11.2026",
            selection=["raw_claims"],
        )


def test_rerunning_a_business_date_replaces_only_that_dates_rows(group_assets, resources, instance) -> None:
    def run(day: str, count: int) -> None:
        config = {"ops": {"raw_claims": {"config": {"claim_count": count}}}}
        assert dg.materialize(
            group_assets("claims"),
            resources=resources,
            instance=instance,
            partition_key=day,
            run_config=config,
        ).success

    run("2026-11-25", 500)
    run("2026-11-26", 500)
    run("2026-11-25", 300)  # the intake feed of the 25th was corrected
    stored = resources["warehouse"].read_frame(
        "SELECT reported_date, count(*) AS n FROM claim_outcomes GROUP BY reported_date ORDER BY 1"
    )
    assert stored.rows() == [("2026-11-25", 300), ("2026-11-26", 500)]
