"""``$KLIKKFLOW_EXECUTOR`` (set by ``klikkflow dev``) reaches the jobs of the code locations the code
servers load (``tenant_code.locations``), not only ``klikkflow_pipelines.definitions``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import dagster as dg
import pytest

from klikkflow_pipelines.executor_choice import with_chosen_executor

PROBE = textwrap.dedent(
    """
    from klikkflow_pipelines.tenant_code import locations
    from klikkflow_pipelines.tenant_code.targets import location_attribute

    defs = getattr(locations, location_attribute("default", "default"))
    job = defs.get_job_def("customer_onboarding_job")
    print(job.executor_def.name)
    """
)


def _executor_of_the_built_in_location(value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "KLIKKFLOW_EXECUTOR"}
    env["KLIKKFLOW_TENANT"] = "default"
    if value is not None:
        env["KLIKKFLOW_EXECUTOR"] = value
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_code_server_location_runs_in_process_when_dev_asks() -> None:
    assert _executor_of_the_built_in_location("in_process") == "in_process"
    assert _executor_of_the_built_in_location(None) == "multi_or_in_process_executor"


def test_a_location_with_its_own_executor_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_EXECUTOR", "in_process")

    @dg.asset
    def one() -> int:
        return 1

    own = dg.Definitions(assets=[one], executor=dg.multiprocess_executor)
    assert with_chosen_executor(own) is own
    chosen = with_chosen_executor(dg.Definitions(assets=[one]))
    assert chosen.executor is dg.in_process_executor


def test_an_unknown_executor_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_EXECUTOR", "threads")
    with pytest.raises(ValueError, match="KLIKKFLOW_EXECUTOR='threads': use one of"):
        with_chosen_executor(dg.Definitions())
