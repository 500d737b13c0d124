"""Attack: a viewer downloads raw data files through Dagster's ``/logs/`` route, which serves any file
below the instance's storage folder (``GET /t/acme/logs/raw_customer_drops/parquet`` gave the raw
e-mails and phones). Frames must live elsewhere and the gateway must pass only compute logs of
existing runs; bad run ids answer 404, not 500."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.events import DagsterEventType

from .conftest import LiveGateway

ROLE_USERS = {"viewer": "vera", "launcher": "lars", "editor": "edda", "admin": "ada", "owner": "owner"}
SECRET_EMAIL = "jane.doe.secret@example.com"
LOG_MARKER = "compute-log-marker-7f3a"


@dg.asset(name="raw_customer_drops")
def raw_customer_drops() -> pl.DataFrame:
    """A frame with personal data, as the workflows store them."""
    print(LOG_MARKER)  # goes to the run's compute log
    return pl.DataFrame({"email": [SECRET_EMAIL], "phone": ["+47 912 34 567"]})


@pytest.fixture(scope="module")
def stored_frame(live_gateway: LiveGateway) -> tuple[str, str, Path]:
    """Materialize the frame with the tenant's own frame storage on the tenant's instance.

    Returns the run id, the compute-log file key and the frame's path.
    """
    from klikkflow_pipelines.tenant_resources import build_resources

    mp = pytest.MonkeyPatch()
    mp.setenv("KLIKKFLOW_HOME", str(live_gateway.home))
    mp.delenv("KLIKKFLOW_STORAGE_DIR", raising=False)
    try:
        frames = build_resources(live_gateway.gateway.tenants["acme"])["io_manager"]
        instance = live_gateway.gateway.workspaces["acme"].instance
        result = dg.materialize([raw_customer_drops], resources={"io_manager": frames}, instance=instance)
    finally:
        mp.undo()
    assert result.success
    captured = instance.all_logs(result.run_id, of_type=DagsterEventType.LOGS_CAPTURED)
    file_key = captured[0].dagster_event.logs_captured_data.file_key
    frame = Path(frames.frames_dir) / "raw_customer_drops.parquet"
    assert frame.exists()
    return result.run_id, file_key, frame


def test_frames_do_not_live_where_the_webserver_serves_files(
    live_gateway: LiveGateway, stored_frame: tuple[str, str, Path]
) -> None:
    instance = live_gateway.gateway.workspaces["acme"].instance
    served = Path(instance.compute_log_manager.get_captured_local_path(["x"], "out")).parent
    assert not stored_frame[2].resolve().is_relative_to(served.resolve())


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_no_role_downloads_a_parquet_frame_through_the_logs_route(
    live_gateway: LiveGateway, stored_frame: tuple[str, str, Path], role: str
) -> None:
    client = live_gateway.login(ROLE_USERS[role])
    run_id = stored_frame[0]
    for path in (
        "/t/acme/logs/raw_customer_drops/parquet",
        "/t/acme/frames/raw_customer_drops/parquet",
        "/t/acme/logs/../frames/raw_customer_drops/parquet",
        "/t/acme/logs/%2E%2E/frames/raw_customer_drops/parquet",
        f"/t/acme/logs/{run_id}/raw_customer_drops/parquet",
        "/t/acme/logs/history/runs/db",
        "/t/acme/notebook?path=/etc/x.ipynb&repoLocName=acme",
        "/t/acme/dagit/notebook?path=/etc/x.ipynb&repoLocName=acme",
    ):
        response = client.get(path)
        assert SECRET_EMAIL.encode() not in response.content, (role, path)
        assert b"PAR1" not in response.content, (role, path)
        sent = response.request.url.path  # the client resolves ".." itself
        if "/logs/" in sent or "notebook" in sent:
            assert response.status_code in (403, 404), (role, path, response.status_code)


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_role_downloads_a_real_compute_log(
    live_gateway: LiveGateway, stored_frame: tuple[str, str, Path], role: str
) -> None:
    run_id, file_key, _ = stored_frame
    client = live_gateway.login(ROLE_USERS[role])
    response = client.get(f"/t/acme/logs/{run_id}/compute_logs/{file_key}/out")
    assert response.status_code == 200, response.text
    assert LOG_MARKER in response.text
    assert client.get(f"/t/acme/logs/{run_id}/compute_logs/{file_key}/err").status_code == 200


def test_compute_log_of_a_run_that_does_not_exist_is_404(
    live_gateway: LiveGateway, stored_frame: tuple[str, str, Path]
) -> None:
    client = live_gateway.login("vera")
    response = client.get(
        f"/t/acme/logs/00000000-0000-0000-0000-000000000000/compute_logs/{stored_frame[1]}/out"
    )
    assert response.status_code == 404


def test_bad_run_ids_answer_404_not_500(live_gateway: LiveGateway) -> None:
    for user in ("vera", "ada"):
        client = live_gateway.login(user)
        for path in ("/t/acme/download_debug/not-a-run", "/t/acme/logs/not-a-run/compute_logs/x/out"):
            assert client.get(path).status_code == 404, (user, path)


def test_debug_download_is_for_admins_of_existing_runs(
    live_gateway: LiveGateway, stored_frame: tuple[str, str, Path]
) -> None:
    run_id = stored_frame[0]
    assert live_gateway.login("vera").get(f"/t/acme/download_debug/{run_id}").status_code == 403
    response = live_gateway.login("ada").get(f"/t/acme/download_debug/{run_id}")
    assert response.status_code == 200 and response.content[:2] == b"\x1f\x8b"  # gzip
