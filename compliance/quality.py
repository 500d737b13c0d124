"""Data-quality asset checks that run Great Expectations 1.x suites (ephemeral context, no dagster-ge).

Declare a suite per asset; the check is ``blocking`` by default, so a failed
ERROR-severity check stops downstream assets in the same run::

    customers_quality = gx_asset_check(
        "customers",
        [{"expectation": "expect_column_values_to_not_be_null", "column": "customer_id"}],
    )

Suites can live in YAML files (:func:`load_suite`), validated with file/field
errors. Great Expectations is imported only when a check runs.
"""

# No `from __future__ import annotations`: Dagster inspects the check function annotations at runtime.

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from compliance.frames import to_polars
from klikkflow_pipelines.config_errors import load_yaml_model

_EXPECTATION_NAME = re.compile(r"^expect_[a-z0-9_]+$")
SUITES_DIR = Path(__file__).parent / "suites"
"""Bundled suites: ``clean_customers.yaml`` (onboarding) and ``routed_claims.yaml`` (claims)."""


class ExpectationSpec(BaseModel):
    """One expectation: its snake_case GX name plus its keyword arguments (``column``, ``min_value``...)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    expectation: str

    @field_validator("expectation")
    @classmethod
    def _gx_name(cls, value: str) -> str:
        if not _EXPECTATION_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an expectation name; use the snake_case GX name such as "
                "expect_column_values_to_not_be_null"
            )
        return value

    def kwargs(self) -> dict[str, Any]:
        """The expectation's arguments."""
        return dict(self.model_extra or {})


class SuiteConfig(BaseModel):
    """A suite file: name, severity and expectations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    severity: Literal["ERROR", "WARN"] = "ERROR"
    blocking: bool = True
    expectations: list[ExpectationSpec] = Field(min_length=1)


def load_suite(path: Path | str) -> SuiteConfig:
    """Load a suite YAML file, raising ``ConfigError`` that names file, field and fix."""
    return load_yaml_model(Path(path), SuiteConfig)


def _expectation_class(gx: Any, name: str) -> Any:
    class_name = "".join(part.capitalize() for part in name.split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if cls is None:
        raise ValueError(f"Great Expectations has no expectation {name!r} ({class_name})")
    return cls


def run_suite(
    frame: Any, suite_name: str, expectations: Sequence[ExpectationSpec]
) -> tuple[bool, list[dict[str, Any]]]:
    """Validate a pandas or Polars frame with an ephemeral GX context.

    Returns overall success and one result row per expectation.

    Results carry counts only (never the offending values, which may be personal data).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch_definition = (
        context.data_sources.add_pandas("frames")
        .add_dataframe_asset(suite_name)
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = gx.ExpectationSuite(name=suite_name)
    for spec in expectations:
        suite.add_expectation(_expectation_class(gx, spec.expectation)(**spec.kwargs()))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": to_polars(frame).to_pandas()})
    result = batch.validate(suite)
    rows = []
    for res in result.results:
        details = res.result or {}
        rows.append(
            {
                "expectation": res.expectation_config.type,
                "column": res.expectation_config.kwargs.get("column"),
                "success": bool(res.success),
                "unexpected_count": details.get("unexpected_count"),
                "element_count": details.get("element_count"),
                "error": (res.exception_info or {}).get("exception_message") if not res.success else None,
            }
        )
    return bool(result.success), rows


def gx_asset_check(
    asset: dg.AssetsDefinition | dg.AssetKey | str | Sequence[str],
    expectations: Sequence[ExpectationSpec | Mapping[str, Any]],
    *,
    name: str = "gx_suite",
    severity: Literal["ERROR", "WARN"] = "ERROR",
    blocking: bool = True,
    description: str | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetChecksDefinition:
    """An asset check running ``expectations`` against the asset's stored value.

    ``blocking=True`` with ``severity="ERROR"`` means a failure stops the
    downstream assets of the run. The asset is loaded through its IO manager.
    For a partitioned asset give its ``partitions_def``: the check then runs on
    the run's partition only.
    """
    specs = [
        e if isinstance(e, ExpectationSpec) else ExpectationSpec.model_validate(dict(e)) for e in expectations
    ]
    key = asset.key if isinstance(asset, dg.AssetsDefinition) else dg.AssetKey.from_coercible(asset)
    check_severity = dg.AssetCheckSeverity.ERROR if severity == "ERROR" else dg.AssetCheckSeverity.WARN
    suite_name = f"{'_'.join(key.path)}__{name}"

    @dg.asset_check(
        asset=key,
        name=name,
        blocking=blocking,
        description=description or f"Great Expectations suite ({len(specs)} expectations), {severity}",
        partitions_def=partitions_def,
    )
    def _check(context: dg.AssetCheckExecutionContext, asset_value: Any) -> dg.AssetCheckResult:
        passed, rows = run_suite(asset_value, suite_name, specs)
        failed = [r for r in rows if not r["success"]]
        for row in failed:
            context.log.warning(f"expectation failed: {row}")
        return dg.AssetCheckResult(
            passed=passed,
            severity=check_severity,
            metadata={
                "expectations": len(rows),
                "failed": len(failed),
                "results": dg.MetadataValue.json(rows),
            },
        )

    return _check


def suite_asset_check(
    asset: dg.AssetsDefinition | dg.AssetKey | str | Sequence[str],
    path: Path | str,
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetChecksDefinition:
    """An asset check built from a suite YAML file (see :class:`SuiteConfig`), per partition when
    ``partitions_def`` is given."""
    suite = load_suite(path)
    return gx_asset_check(
        asset,
        suite.expectations,
        name=suite.name,
        severity=suite.severity,
        blocking=suite.blocking,
        partitions_def=partitions_def,
    )
