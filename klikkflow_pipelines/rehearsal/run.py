"""``rehearse()``: the production rehearsal from an empty working directory to its checks.

1. The servers, the operator's provisioning and the processes (:mod:`.startup`): each process with
   its pod's environment only (:mod:`.pod_env`), every one of them watched by the environment scan.
2. Triggers (:mod:`.triggers`): file drops, signed webhooks, launches through the gateway and the
   every-minute schedule; the rehearsal waits for each run to finish, for the compliance events to be
   chained and for a witnessed checkpoint to cover each audit log.
3. The checks (:mod:`.verdict`); everything is stopped, also on Ctrl-C, SIGTERM or an error.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from klikkflow_pipelines.events.signing import secret_env_name
from klikkflow_pipelines.rehearsal import checks, triggers
from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.observe import audit_settled, tenant_instance_as
from klikkflow_pipelines.rehearsal.stage import Stage
from klikkflow_pipelines.rehearsal.startup import (
    close_database,
    provision_stage,
    start_processes,
    start_servers,
)
from klikkflow_pipelines.rehearsal.tenants import (
    DROP_JOB,
    LAUNCH_JOB,
    PLAN,
    SCHEDULE_JOB,
    SCHEDULE_NAME,
    TENANTS,
    WEBHOOK_JOB,
    WEBHOOK_WORKFLOW,
    member_name,
    write_rehearsal_tenants,
)
from klikkflow_pipelines.rehearsal.verdict import run_checks
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class RehearsalOptions:
    """``klikkflow rehearse`` options: where to work, whether to keep it, which Postgres, how long to wait."""

    workdir: Path | None = None
    keep: bool = False
    pg_admin_url: str | None = None
    run_timeout: float = 300.0
    output: TextIO | None = None


@dataclass
class RehearsalResult:
    """The summary rows, the checks and where everything was."""

    workdir: Path
    runs: list[checks.RunRow] = field(default_factory=list)
    checks: list[checks.Check] = field(default_factory=list)
    seconds: float = 0.0
    kept: bool = False

    @property
    def ok(self) -> bool:
        """True when every check passed (and there were checks)."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    def check(self, name: str) -> checks.Check | None:
        """The check named ``name``."""
        return next((c for c in self.checks if c.name == name), None)


def _progress(output: TextIO, started: float) -> Callable[[str], None]:
    def say(message: str) -> None:
        output.write(f"{time.monotonic() - started:6.1f} s  {message}\n")
        output.flush()

    return say


def _fire(stage: Stage, say: Callable[[str], None]) -> tuple[list[triggers.Trigger], dict]:
    """Fire each tenant's triggers (:data:`PLAN`); the triggers and the signed-in gateway clients."""
    fired: list[triggers.Trigger] = []
    clients = {}
    for tenant in stage.tenants:
        client = clients[tenant.id] = triggers.signed_in_client(
            stage.gateway_url, member_name(tenant.id), stage.passwords[tenant.id]
        )
        plan = PLAN[tenant.id]
        if "file drop" in plan:
            path = triggers.drop_file(
                stage.layout.onboarding_inbox(tenant.id), stage.layout.drops_dir / tenant.id
            )
            fired.append(triggers.drop_trigger(tenant.id, DROP_JOB, path))
        if "webhook" in plan:
            secret = stage.webhook_secrets[secret_env_name(tenant.id, WEBHOOK_WORKFLOW)]
            payload = {"business_date": triggers.business_date(tenant)}
            event = triggers.post_webhook(stage.gateway_url, tenant.id, WEBHOOK_WORKFLOW, secret, payload)
            fired.append(triggers.webhook_trigger(tenant.id, WEBHOOK_JOB, event))
        if "gateway launch" in plan:
            run_id = triggers.gateway_launch(client, tenant.id, LAUNCH_JOB)
            fired.append(triggers.launch_trigger(tenant.id, LAUNCH_JOB, run_id))
        if "schedule" in plan:
            fired.append(triggers.schedule_trigger(tenant.id, SCHEDULE_JOB, SCHEDULE_NAME))
    say(f"fired {len(fired)} triggers: " + "; ".join(f"{t}: {', '.join(kinds)}" for t, kinds in PLAN.items()))
    return fired, clients


def _wait_for_runs(
    stage: Stage, fired: list[triggers.Trigger], clients: dict, timeout: float, say: Callable[[str], None]
) -> list[checks.RunRow]:
    """Poll each tenant's instance until every trigger's run has finished (or ``timeout``); a schedule
    is stopped through the gateway as soon as its first run exists."""
    assert stage.gateway_login is not None
    deadline = time.monotonic() + timeout
    by_tenant = {t.id: t for t in stage.tenants}
    stopped: set[str] = set()
    with ExitStack() as stack:
        instances = {
            t: stack.enter_context(tenant_instance_as(by_tenant[t], stage.gateway_login)) for t in TENANTS
        }
        rows: list[checks.RunRow] = []
        while True:
            rows = [checks.run_row(instances[trigger.tenant], trigger) for trigger in fired]
            for trigger, row in zip(fired, rows, strict=True):
                if trigger.kind == "schedule" and row.run_id and trigger.tenant not in stopped:
                    triggers.stop_schedule(clients[trigger.tenant], trigger.tenant, SCHEDULE_NAME)
                    stopped.add(trigger.tenant)
            if all(row.status in TERMINAL for row in rows) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        for trigger, row in zip(fired, rows, strict=True):
            if row.status == "SUCCESS":
                row.frames = checks.run_frames(instances[trigger.tenant], row.run_id)
    done = sum(1 for row in rows if row.status in TERMINAL)
    say(f"{done}/{len(rows)} runs finished ({sum(r.status == 'SUCCESS' for r in rows)} succeeded)")
    return rows


def _wait_for_audit(stage: Stage, say: Callable[[str], None], timeout: float = 60.0) -> None:
    assert stage.gateway_login is not None
    deadline, missing = time.monotonic() + timeout, ["?"]
    while time.monotonic() < deadline:
        missing = [
            m for t in TENANTS if (m := audit_settled(t, stage.gateway_login, stage.layout.witness_dir))
        ]
        if not missing:
            say("compliance events chained and every audit log covered by a witnessed checkpoint")
            return
        time.sleep(1.0)
    say(f"audit logs not settled after {timeout:.0f} s: {'; '.join(missing)}")


def _make_workdir(workdir: Path | None) -> Path:
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix="klikkflow-rehearsal-"))
        root.chmod(0o711)  # the private cluster's OS user must reach <root>/postgres; nothing is listable
        return root
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, a CI runner stopping ``make``) stops the rehearsal like Ctrl-C: every process
    it started is stopped too (in the main thread only; elsewhere signals are the caller's)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def rehearse(options: RehearsalOptions = RehearsalOptions()) -> RehearsalResult:
    """Run the rehearsal (see the module docstring); the result holds the summary rows and checks.

    An error stops the rehearsal and is reported as the failed check ``rehearsal completes``
    (with the end of the processes' log). The working directory is removed afterwards unless
    ``keep`` or a failure (it is kept, for its logs).
    """
    started = time.monotonic()
    say = _progress(options.output or sys.stdout, started)
    layout = Layout(_make_workdir(options.workdir)).create()
    result = RehearsalResult(layout.root)
    write_rehearsal_tenants(layout.tenants_dir)
    with _sigterm_interrupts(), ExitStack() as stack:
        try:
            database, s3 = start_servers(options.pg_admin_url, layout)
            stack.callback(close_database, database, layout, options.keep)
            stack.callback(s3.stop)
            say(f"{database.description}; S3-compatible server (moto) on {s3.endpoint_url}")
            settings = DeploySettings(postgres_host=database.server.host, postgres_port=database.server.port)
            stage = Stage(layout, database, s3, [], settings)
            provision_stage(stage, say)
            scanner = start_processes(stage, stack, say)
            fired, clients = _fire(stage, say)
            stack.callback(lambda: [client.close() for client in clients.values()])
            result.runs = _wait_for_runs(stage, fired, clients, options.run_timeout, say)
            _wait_for_audit(stage, say)
            result.checks = run_checks(stage, result.runs, scanner, clients)
        except (Exception, KeyboardInterrupt) as error:
            tail = layout.log_file.read_text(errors="replace")[-4000:] if layout.log_file.exists() else ""
            detail = f"{type(error).__name__}: {error}\n--- end of {layout.log_file} ---\n{tail}"
            result.checks.append(checks.Check("rehearsal completes", False, detail))
            if isinstance(error, KeyboardInterrupt):
                say("interrupted")
        say("stopping every process")
    result.seconds = time.monotonic() - started
    result.kept = options.keep or not result.ok
    if not result.kept:
        shutil.rmtree(layout.root, ignore_errors=True)
    return result
