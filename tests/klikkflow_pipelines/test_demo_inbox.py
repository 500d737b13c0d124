"""The demo leaves the onboarding inbox as it found it, so a following `klikkflow dev` runs nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.demo import run_demo
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant

HEADER = "customer_ref,first_name,last_name,email,phone,country,signup_date,channel"


@pytest.fixture(autouse=True)
def onboarding_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenant ``default`` with only the onboarding workflow (the demo's inbox user), to stay fast."""
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "tenants" / "default.yaml").read_text())
    config["policy"] = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
    config["workflows"] = {"customer_onboarding": {"params": {}}}
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "default.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tmp_path / "tenants"))


def _inbox() -> Path:
    return tenant_home("default") / "inbox" / "onboarding"


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
        for p in sorted(root.rglob("*"))
    }


def _requests_at_start() -> list[dg.RunRequest]:
    """What the file sensor would request on the first tick of a fresh `klikkflow dev`."""
    defs = build_definitions(load_tenant("default"))
    sensor = defs.resolve_sensor_def("customer_drop_arrival")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, instance_ref=instance.get_ref(), definitions=defs
        )
        return list(sensor.evaluate_tick(context).run_requests or [])


def test_demo_on_an_empty_inbox_removes_its_sample_drops() -> None:
    home = tenant_home("default")
    home.mkdir(parents=True, exist_ok=True)
    assert not (home / "inbox").exists()
    with dg.instance_for_test() as instance:
        summaries = run_demo(load_tenant("default"), instance)
    onboarding = [s for s in summaries if s.job == "customer_onboarding_job"]
    assert len(onboarding) == 3 and all(s.success and s.rows > 0 for s in onboarding)
    assert not (home / "inbox").exists()
    assert _requests_at_start() == []


def test_demo_never_touches_a_users_own_files() -> None:
    inbox = _inbox()
    (inbox / "processed" / "run-1").mkdir(parents=True)
    (inbox / "processed" / "run-1" / "old.csv").write_text(f"{HEADER}\n")
    (inbox / "notes.md").write_text("the user's own notes\n")
    before = _snapshot(inbox)
    with dg.instance_for_test() as instance:  # no drop in the inbox: the demo seeds and cleans up
        summaries = run_demo(load_tenant("default"), instance)
    assert len(summaries) == 3 and all(s.success for s in summaries)
    assert _snapshot(inbox) == before

    mine = inbox / "mine.csv"
    mine.write_text(f"{HEADER}\nC1,Ola,Nordmann,ola@example.com,91234567,NO,2026-01-02,web\n")
    os.utime(mine, (time.time() - 60,) * 2)
    before = _snapshot(inbox)
    with dg.instance_for_test() as instance:  # a drop of the user's: run, never moved or deleted
        summaries = run_demo(load_tenant("default"), instance)
    assert [s.partition.split("@")[0] for s in summaries] == ["mine.csv"]
    assert _snapshot(inbox) == before
