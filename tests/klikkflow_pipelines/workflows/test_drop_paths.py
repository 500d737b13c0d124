"""Attack: an ``acme`` run reads another tenant's (or the host's) files through a drop path.

Every path a run takes from run config (``ops.raw_customer_drops.config.paths``) or
from the file-arrival sensor must resolve inside acme's own inbox; otherwise the run
fails naming the field and the allowed root, and nothing is loaded.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenant_resources import build_resources
from klikkflow_pipelines.workflows.onboarding.assets import CUSTOMER_DROPS

FIELDS = ["customer_ref", "first_name", "last_name", "email", "phone", "country", "signup_date", "channel"]
SECRET_ROW = {
    "customer_ref": "D1",
    "first_name": "Kari",
    "last_name": "Default",
    "email": "kari@default.example",
    "phone": "91234567",
    "country": "NO",
    "signup_date": "2026-01-02",
    "channel": "web",
}


def _inbox(tenant: str) -> Path:
    return tenant_home(tenant) / "inbox" / "onboarding"


def _write_drop(path: Path, row: dict[str, str], age_seconds: float = 60) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerow(row)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def _run_acme(paths: list[str], partition: str = "acme.csv@1") -> dg.ExecuteInProcessResult:
    """One real run of acme's onboarding job for one drop partition, ``paths`` in its run config."""
    acme = load_tenant("acme")
    defs = build_definitions(acme)
    job = defs.resolve_job_def("customer_onboarding_job")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(CUSTOMER_DROPS.name, [partition])
        return job.execute_in_process(
            instance=instance,
            partition_key=partition,
            run_config={"ops": {"raw_customer_drops": {"config": {"paths": paths}}}},
            raise_on_error=False,
        )


def _step_failure(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.event_specific_data.error.message


def _acme_customers() -> int:
    warehouse = build_resources(load_tenant("acme"))["warehouse"]
    if not warehouse.has_table("customers"):
        return 0
    return warehouse.read_frame("SELECT count(*) AS n FROM customers").item()


@pytest.fixture
def default_drop() -> Path:
    """A drop with the default tenant's customer, in the default tenant's inbox."""
    return _write_drop(_inbox("default") / "customers.csv", SECRET_ROW)


@pytest.mark.parametrize(
    "attack",
    ["absolute path in default's inbox", "../ traversal to default's inbox", "/etc/passwd", "symlink"],
)
def test_acme_run_config_cannot_read_outside_its_inbox(default_drop: Path, attack: str) -> None:
    acme_inbox = _inbox("acme")
    acme_inbox.mkdir(parents=True, exist_ok=True)
    if attack == "absolute path in default's inbox":
        path = str(default_drop)
    elif attack == "../ traversal to default's inbox":
        path = str(acme_inbox / ".." / ".." / ".." / "default" / "inbox" / "onboarding" / "customers.csv")
    elif attack == "/etc/passwd":
        path = "/etc/passwd"
    else:
        link = acme_inbox / "innocent.csv"
        link.symlink_to(default_drop)
        path = str(link)

    result = _run_acme([path])

    assert not result.success
    message = _step_failure(result)
    assert "ops.raw_customer_drops.config.paths[0]" in message
    assert f"allowed root {acme_inbox.resolve()}" in message
    assert "No readable customer drops" not in message  # refused, not merely unreadable
    assert _acme_customers() == 0


def test_acme_run_config_inside_its_inbox_loads(default_drop: Path) -> None:
    own = _write_drop(_inbox("acme") / "acme.csv", {**SECRET_ROW, "email": "ann@acme.example"})
    relative = _write_drop(_inbox("acme") / "acme2.csv", {**SECRET_ROW, "email": "bo@acme.example"})
    result = _run_acme([str(own), relative.name])
    assert result.success
    assert _acme_customers() == 2


def test_acme_partition_key_naming_a_file_outside_its_inbox_is_refused(default_drop: Path) -> None:
    """An editor can add dynamic partitions by hand (UI/GraphQL); the key is no way out either."""
    result = _run_acme([], partition="../../../default/inbox/onboarding/customers.csv@1")
    assert not result.success
    message = _step_failure(result)
    assert "partition key '../../../default/inbox/onboarding/customers.csv@1'" in message
    assert f"allowed root {_inbox('acme').resolve()}" in message
    assert _acme_customers() == 0


def test_acme_file_sensor_ignores_symlink_to_default_inbox(default_drop: Path) -> None:
    """The sensor path: a symlink planted in acme's inbox never becomes a run request."""
    acme_inbox = _inbox("acme")
    own = _write_drop(acme_inbox / "acme.csv", {**SECRET_ROW, "email": "ann@acme.example"})
    (acme_inbox / "stolen.csv").symlink_to(default_drop)
    (acme_inbox / "passwd.csv").symlink_to("/etc/passwd")
    stamp = time.time() - 60
    for link in ("stolen.csv", "passwd.csv"):
        os.utime(acme_inbox / link, (stamp, stamp), follow_symlinks=False)
    defs = build_definitions(load_tenant("acme"))
    sensor = defs.resolve_sensor_def("customer_drop_arrival")
    with dg.instance_for_test() as instance:
        result = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(), definitions=defs)
        )
    requested = [
        p for r in result.run_requests for p in r.run_config["ops"]["raw_customer_drops"]["config"]["paths"]
    ]
    assert requested == [str(own)]


def test_acme_inbox_dir_pointing_into_default_home_is_refused_at_load(
    default_drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenant file whose onboarding inbox is another tenant's inbox never loads."""
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "tenants" / "acme.yaml").read_text())
    config["workflows"]["customer_onboarding"]["params"]["inbox_dir"] = str(
        _inbox("acme") / ".." / ".." / ".." / "default" / "inbox" / "onboarding"
    )
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "acme.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tmp_path / "tenants"))
    with pytest.raises(ConfigError) as raised:
        build_definitions(load_tenant("acme"))
    assert f"{tmp_path / 'tenants' / 'acme.yaml'}: workflows.customer_onboarding.params.inbox_dir:" in str(
        raised.value
    )
    assert "another tenant's folder" in str(raised.value)
