"""Runs Dagster's own sensor-daemon iteration over one code location file until killed.

``python sensor_daemon.py <defs.py>`` with ``DAGSTER_HOME`` set: this is the
daemon process the crash test and the benchmark SIGKILL and restart. It uses
``dagster._daemon.sensor.execute_sensor_iteration`` (the code ``dagster-daemon``
runs) with the code location loaded in-process instead of over gRPC, and honours
the instance's ``sensors: use_threads / num_workers / num_submit_workers`` settings
the way ``dagster-daemon`` does.
"""

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.daemon import get_default_daemon_logger
from dagster._daemon.sensor import execute_sensor_iteration


def main(defs_file: str, pause_seconds: float = 0.1) -> None:
    """Evaluate every running sensor of ``defs_file`` forever, submitting their runs to the instance."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            python_file=defs_file,
            attribute="defs",
            working_directory=str(Path(defs_file).parent),
        ),
        location_name="events",
    )
    instance = DagsterInstance.get()
    logger = get_default_daemon_logger("SensorDaemon")
    settings = instance.get_settings("sensors")
    threaded = settings.get("use_threads", False)
    workers = ThreadPoolExecutor(settings.get("num_workers", 4)) if threaded else None
    submitters = (
        ThreadPoolExecutor(settings["num_submit_workers"]) if settings.get("num_submit_workers") else None
    )
    futures: dict = {}
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        print("daemon ready", flush=True)
        while True:
            list(execute_sensor_iteration(context, logger, workers, submitters, futures))
            time.sleep(pause_seconds)


if __name__ == "__main__":
    main(sys.argv[1])
