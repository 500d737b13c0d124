"""Great Expectations 1.x suites as blocking Dagster asset checks."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from compliance.quality import SUITES_DIR, gx_asset_check, load_suite, run_suite, suite_asset_check
from klikkflow_pipelines.config_errors import ConfigError
from resources.frame_io import ParquetFrameIOManager

SUITE = [
    {"expectation": "expect_column_values_to_not_be_null", "column": "order_id"},
    {"expectation": "expect_column_values_to_be_between", "column": "amount", "min_value": 0},
]


def _orders_asset(rows: dict[str, list[object]]) -> dg.AssetsDefinition:
    @dg.asset(name="orders")
    def orders() -> pl.DataFrame:
        return pl.DataFrame(rows)

    return orders


@dg.asset(ins={"orders": dg.AssetIn(key="orders")})
def order_totals(orders: pl.DataFrame) -> pl.DataFrame:
    return orders.select(pl.col("amount").sum())


def _run(
    orders: dg.AssetsDefinition, check: dg.AssetChecksDefinition, tmp_path: Path
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [orders, order_totals, check],
        resources={"io_manager": ParquetFrameIOManager(base_dir=str(tmp_path))},
        raise_on_error=False,
    )


def test_failing_error_check_blocks_downstream_assets(tmp_path: Path) -> None:
    orders = _orders_asset({"order_id": [1, None, 3], "amount": [10.0, -5.0, 7.5]})
    result = _run(orders, gx_asset_check("orders", SUITE), tmp_path)
    assert not result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["failed"].value == 2
    by_expectation = {r["expectation"]: r for r in evaluation.metadata["results"].value}
    assert by_expectation["expect_column_values_to_not_be_null"]["unexpected_count"] == 1
    assert result.asset_materializations_for_node("orders")  # the checked asset itself was stored
    assert result.asset_materializations_for_node("order_totals") == []  # downstream did not run
    assert not (tmp_path / "order_totals.parquet").exists()


def test_passing_check_lets_downstream_run(tmp_path: Path) -> None:
    orders = _orders_asset({"order_id": [1, 2], "amount": [10.0, 5.0]})
    result = _run(orders, gx_asset_check("orders", SUITE), tmp_path)
    assert result.success
    assert result.get_asset_check_evaluations()[0].passed
    assert pl.read_parquet(tmp_path / "order_totals.parquet").item() == 15.0


def test_warn_severity_does_not_block(tmp_path: Path) -> None:
    orders = _orders_asset({"order_id": [None], "amount": [1.0]})
    result = _run(orders, gx_asset_check("orders", SUITE, name="soft", severity="WARN"), tmp_path)
    assert result.get_asset_check_evaluations()[0].severity == dg.AssetCheckSeverity.WARN
    assert result.asset_materializations_for_node("order_totals")


def test_checks_are_declared_blocking_per_asset() -> None:
    check = gx_asset_check("orders", SUITE, name="orders_quality")
    [spec] = list(check.check_specs)
    assert spec.blocking and spec.name == "orders_quality" and spec.asset_key == dg.AssetKey("orders")


def test_run_suite_accepts_pandas_and_reports_counts_only() -> None:
    frame = pl.DataFrame({"order_id": [1, None], "amount": [1.0, 2.0]}).to_pandas()
    passed, rows = run_suite(frame, "s", _specs())
    assert not passed
    assert rows[0] == {
        "expectation": "expect_column_values_to_not_be_null",
        "column": "order_id",
        "success": False,
        "unexpected_count": 1,
        "element_count": 2,
        "error": None,
    }


def _specs():  # type: ignore[no-untyped-def]
    from compliance.quality import ExpectationSpec

    return [ExpectationSpec.model_validate(e) for e in SUITE]


def test_unknown_expectation_fails_the_check_with_a_clear_message(tmp_path: Path) -> None:
    orders = _orders_asset({"order_id": [1], "amount": [1.0]})
    check = gx_asset_check("orders", [{"expectation": "expect_column_to_be_purple", "column": "order_id"}])
    result = _run(orders, check, tmp_path)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no expectation 'expect_column_to_be_purple'" in str(failure.step_failure_data.error)


def test_suite_files_load_and_bad_ones_name_file_and_field(tmp_path: Path) -> None:
    good = tmp_path / "orders.yaml"
    good.write_text(
        "name: orders_quality\nexpectations:\n"
        "  - expectation: expect_column_values_to_not_be_null\n    column: order_id\n",
        encoding="utf-8",
    )
    assert load_suite(good).expectations[0].kwargs() == {"column": "order_id"}
    assert suite_asset_check("orders", good).check_specs
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: q\nseverity: FATAL\nexpectations:\n  - expectation: NotNull\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_suite(bad)
    assert f"{bad}: severity" in str(err.value) and "expectations[0].expectation" in str(err.value)


def _protected(frame: pl.DataFrame, asset: str) -> pl.DataFrame:
    from compliance.classify import classify_frame
    from compliance.enforce import enforce
    from compliance.policy import load_policy
    from klikkflow_pipelines.paths import PROJECT_ROOT
    from resources.secrets import SecretsResource

    policy = load_policy(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
    keys = SecretsResource(tenant_key="ab" * 32).compliance_keys()
    return enforce(frame, policy, classify_frame(frame), asset=asset, keys=keys).frame


def test_bundled_onboarding_suite_passes_on_protected_clean_customers_and_catches_raw_emails() -> None:
    from klikkflow_pipelines.workflows.onboarding.cleaning import split_clean_and_rejected
    from klikkflow_pipelines.workflows.onboarding.sample_data import customer_records

    clean, _ = split_clean_and_rejected(
        pl.DataFrame(customer_records(1, 400)).with_columns(source_file=pl.lit("f"))
    )
    suite = load_suite(SUITES_DIR / "clean_customers.yaml")
    passed, rows = run_suite(_protected(clean, "clean_customers"), suite.name, suite.expectations)
    assert passed, [r for r in rows if not r["success"]]
    passed, rows = run_suite(clean, suite.name, suite.expectations)  # unprotected e-mail addresses
    assert not passed and [r["expectation"] for r in rows if not r["success"]] == [
        "expect_column_values_to_match_regex"
    ]


def test_bundled_claims_suite_passes_on_routed_claims_and_catches_unknown_queues() -> None:
    from datetime import date

    from klikkflow_pipelines.workflows.claims.rules import route, score, validate
    from klikkflow_pipelines.workflows.claims.sample_data import claims_for

    routed = route(score(validate(claims_for(date(2026, 11, 2)))), 40, 70, 20_000.0)
    suite = load_suite(SUITES_DIR / "routed_claims.yaml")
    assert run_suite(_protected(routed, "routed_claims"), suite.name, suite.expectations)[0]
    broken = routed.with_columns(pl.lit("lost").alias("queue"))
    passed, rows = run_suite(broken, suite.name, suite.expectations)
    assert not passed and [r["column"] for r in rows if not r["success"]] == ["queue"]
