"""``python run_creator.py``: create sensor-style runs (run_key + sensor tags) from 8 threads until killed.

``DAGSTER_HOME`` selects the instance; the kill test SIGKILLs this process in the
middle of run creation and then checks that no run was stored without its tags.
"""

import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG


@dg.op
def noop() -> None:
    """Never executed: the test only creates runs."""


@dg.job
def intake_job() -> None:
    """The job the runs are created for."""
    noop()


def create_forever(instance: dg.DagsterInstance) -> None:
    """Create runs with fresh run keys, one after the other."""
    while True:
        instance.create_run_for_job(
            intake_job,
            run_id=str(uuid.uuid4()),
            tags={RUN_KEY_TAG: f"evt_{uuid.uuid4().hex}", SENSOR_NAME_TAG: "intake_job_outbox_sensor"},
        )


if __name__ == "__main__":
    shared = dg.DagsterInstance.get()
    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(create_forever, shared)
        print("creating runs", flush=True)
        sys.stdout.flush()
