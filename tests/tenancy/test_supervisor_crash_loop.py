"""A process that dies right after starting, again and again, is given up with its last lines."""

from __future__ import annotations

import io
import sys
import time

from klikkflow_pipelines.tenancy.supervisor import ProcessSpec, Supervisor


def test_crash_loop_is_given_up_with_its_last_lines() -> None:
    crash = ProcessSpec(
        "acme/daemon", [sys.executable, "-c", "print('\\x1b[31mboom: bad config\\x1b[0m'); exit(3)"], {}
    )
    steady = ProcessSpec("platform/checkpointer", [sys.executable, "-c", "import time; time.sleep(60)"], {})
    output = io.StringIO()
    supervisor = Supervisor([crash, steady], output=output, min_backoff=0.05, max_backoff=0.1)
    supervisor.start()
    try:
        deadline = time.monotonic() + 20
        while not supervisor.given_up and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.05)
        assert supervisor.given_up == ["acme/daemon"]
        assert supervisor.processes["acme/daemon"].restarts == 2  # three starts, then no more
        for _ in range(10):
            supervisor.check()
            time.sleep(0.05)
        assert supervisor.processes["acme/daemon"].popen is None
        assert supervisor.processes["platform/checkpointer"].popen.poll() is None  # the others run on
    finally:
        supervisor.stop()
    text = output.getvalue()
    assert "GIVEN UP: exited with code 3" in text
    assert "  | boom: bad config" in text
    assert "\x1b" not in text  # not a terminal: colour codes stripped
