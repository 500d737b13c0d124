"""Defect: the business date came from the host's clock and zone, not the tenant's.

A tenant far from the host's time zone (UTC here) is already on another calendar
day for half of every day. Its claims must be processed for *its* today.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from klikkflow_pipelines.demo import run_demo
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant


@pytest.fixture
def host_in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host process runs in UTC (as containers do)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _far_zone() -> str:
    """A zone whose date differs from the UTC date right now (+14 h after noon UTC, -12 h before)."""
    return "Pacific/Kiritimati" if datetime.now(UTC).hour >= 12 else "Etc/GMT+12"


def test_demo_processes_claims_of_today_in_the_tenants_zone_not_the_hosts(
    host_in_utc: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = _far_zone()
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "tenants" / "default.yaml").read_text())
    config["policy"] = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
    config["timezone"] = zone
    config["workflows"] = {"claims_processing": {"params": {}}}
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "default.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tmp_path / "tenants"))
    tenant_today = datetime.now(ZoneInfo(zone)).date().isoformat()
    assert tenant_today != date.today().isoformat()  # the host is on another day

    with dg.instance_for_test() as instance:
        summaries = run_demo(load_tenant("default"), instance)
        assert [s.success for s in summaries] == [True]
        event = instance.get_latest_materialization_event(dg.AssetKey("raw_claims"))
    materialization = event.asset_materialization
    assert materialization.metadata["business_date"].value == tenant_today
    assert materialization.partition == tenant_today
