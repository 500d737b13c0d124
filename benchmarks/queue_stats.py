"""What ``queue_bench.py`` measures (queue waits from the event logs, connections, CPU), and its report."""

from __future__ import annotations

import argparse
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import psutil
from dagster import DagsterEventType
from queue_fleet import OBSERVER, POLL_SECONDS, observer_connection

from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

TARGET_RATIO = 1.2
ENQUEUED = DagsterEventType.RUN_ENQUEUED.value
STARTING = DagsterEventType.RUN_STARTING.value


@dataclass(frozen=True)
class Waits:
    """One tenant's runs: enqueue and launch times (epoch seconds) of the launched ones, and the rest."""

    run_ids: list[str]
    enqueued: list[float]
    launched: list[float]
    never_launched: int

    @property
    def waits(self) -> list[float]:
        """Queue wait of every launched run."""
        return [launch - enqueue for enqueue, launch in zip(self.enqueued, self.launched, strict=True)]


def read_waits(server: PostgresServer, database: str, exclude: set[str]) -> Waits:
    """RUN_ENQUEUED and RUN_STARTING times of every run (but ``exclude``), from the tenant's own event log."""
    connection = observer_connection(server, database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT run_id, dagster_event_type, extract(epoch FROM timestamp) FROM event_logs"
                " WHERE dagster_event_type IN (%s, %s)",
                (ENQUEUED, STARTING),
            )
            rows = [row for row in cursor.fetchall() if row[0] not in exclude]
    finally:
        connection.close()
    enqueued = {run: float(at) for run, kind, at in rows if kind == ENQUEUED}
    started = {run: float(at) for run, kind, at in rows if kind == STARTING}
    launched = sorted(run for run in enqueued if run in started)
    return Waits(
        sorted(enqueued),
        [enqueued[run] for run in launched],
        [started[run] for run in launched],
        len(enqueued) - len(launched),
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (None once it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


@dataclass
class Sampler:
    """Samples the tenants' connections, and their Postgres backends' CPU, in pg_stat_activity."""

    server: PostgresServer
    prefix: str
    per_database: dict[str, int] = field(default_factory=dict)
    per_role: dict[str, int] = field(default_factory=dict)
    total: int = 0
    backend_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)
    """pid -> (CPU seconds when the window began or the backend appeared, CPU seconds when last seen)."""

    def sample(self, cursor: Any, first: bool) -> None:
        """One look at pg_stat_activity."""
        cursor.execute(
            "SELECT pid, datname, application_name FROM pg_stat_activity"
            " WHERE left(datname, %s) = %s AND application_name <> %s",
            (len(self.prefix), self.prefix, OBSERVER),
        )
        rows = cursor.fetchall()
        self.total = max(self.total, len(rows))
        counts: dict[tuple[str, str], int] = {}
        for pid, database, app in rows:
            counts[(database, app)] = counts.get((database, app), 0) + 1
            if (cpu := cpu_seconds(pid)) is not None:
                since = self.backend_cpu.get(pid, (cpu if first else 0.0, 0.0))[0]
                self.backend_cpu[pid] = (since, cpu)
        for database in {d for d, _ in counts}:
            held = sum(n for (d, _), n in counts.items() if d == database)
            self.per_database[database] = max(self.per_database.get(database, 0), held)
        for (_, app), held in counts.items():
            self.per_role[app] = max(self.per_role.get(app, 0), held)

    def run(self, stop: threading.Event) -> None:
        """Sample every 0.5 s until ``stop`` is set."""
        with self.server.cursor() as cursor:
            self.sample(cursor, first=True)
            while not stop.wait(POLL_SECONDS):
                self.sample(cursor, first=False)

    def backend_cpu_seconds(self) -> float:
        """CPU seconds the tenants' Postgres backends used while sampled."""
        return sum(last - since for since, last in self.backend_cpu.values())


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class ScenarioResult:
    """What one scenario measured."""

    name: str
    noisy: str
    waits: dict[str, Waits]
    submitted: dict[str, dict[str, float]]
    drained: bool
    window_seconds: float
    load_average: float
    machine_busy: float
    daemon_cpu: dict[str, float]
    backend_cpu: float
    connections_per_database: dict[str, int]
    connections_per_role: dict[str, int]
    connections_total: int

    def run_ids(self) -> set[str]:
        """Every run this scenario submitted."""
        return {run for waits in self.waits.values() for run in waits.run_ids}

    def quiet_waits(self) -> list[float]:
        """Queue waits of all quiet tenants' runs."""
        return [w for tenant, waits in self.waits.items() if tenant != self.noisy for w in waits.waits]

    def quiet_tenants(self) -> list[str]:
        """The quiet tenants' ids, in order."""
        return [tenant for tenant in self.waits if tenant != self.noisy]

    def launches_per_second(self) -> float:
        """Launches of all tenants / (last launch - first enqueue)."""
        enqueued = [t for w in self.waits.values() for t in w.enqueued]
        launched = [t for w in self.waits.values() for t in w.launched]
        return len(launched) / (max(launched) - min(enqueued)) if launched else 0.0

    def noisy_drain(self) -> float | None:
        """Seconds from the noisy tenant's first enqueue to its last launch (None without a flood)."""
        waits = self.waits[self.noisy]
        return max(waits.launched) - min(waits.enqueued) if waits.launched else None

    def overlap(self) -> float:
        """Share of the quiet tenants' runs enqueued while the noisy tenant still had runs to launch."""
        noisy = self.waits[self.noisy]
        if not noisy.launched:
            return 0.0
        end = max(noisy.launched)
        quiet = [t for tenant in self.quiet_tenants() for t in self.waits[tenant].enqueued]
        return sum(t < end for t in quiet) / len(quiet) if quiet else 0.0

    def submitter_cpu(self) -> float:
        """CPU seconds of all submitter processes."""
        return sum(s["cpu"] for s in self.submitted.values())


def _ratio(a: float, b: float) -> str:
    return f"{b / a:.2f}" if a > 0 else "n/a"


def ratio_interval(
    base: list[float], other: list[float], q: float, rounds: int = 2000
) -> tuple[float, float]:
    """95% bootstrap interval of percentile(other, q) / percentile(base, q): how much is sampling noise."""
    rng = random.Random(12)
    ratios = sorted(
        percentile(rng.choices(other, k=len(other)), q) / percentile(rng.choices(base, k=len(base)), q)
        for _ in range(rounds)
    )
    return ratios[int(0.025 * rounds)], ratios[int(0.975 * rounds) - 1]


def print_configuration(
    args: argparse.Namespace, instance_config: dict[str, Any], max_connections: str
) -> None:
    """The settings both scenarios ran with, and what the baseline is."""
    coordinator = instance_config["run_coordinator"]["config"]
    storage = instance_config["storage"]["custom"]["config"]
    runs = instance_config["concurrency"]["runs"]
    interval = coordinator.get("dequeue_interval_seconds")
    interval = f"{interval} s" if interval else "5 s (Dagster's default)"
    print(
        f"\n{args.tenants} tenants on their own databases and dagster-daemon processes: tenant 0 floods, "
        f"{args.tenants - 1} quiet.\n"
        f"quiet tenants: standard plan, max_concurrent_runs {runs['max_concurrent_runs']}, "
        f"submit {args.rate:g} runs/s each for {args.duration:g} s\n"
        f"noisy tenant: max_concurrent_runs {args.noisy_max_concurrent_runs}, submits {args.flood} runs "
        f"at the start (8 threads)\n"
        f"dequeue interval {interval}, dequeue threads: {coordinator.get('dequeue_use_threads') or 'no'}; "
        f"storage pools per storage and process: pool_size {storage['pool_size']}, "
        f"max_overflow {storage['max_overflow']} (3 storages); server max_connections {max_connections}\n"
        "launcher: BenchRunLauncher (records the launch, the run finishes at once), both scenarios\n"
        "baseline: the same quiet tenants, rate and duration with no flood (the noisy tenant's daemon idle)\n"
    )


def print_report(
    args: argparse.Namespace,
    results: list[ScenarioResult],
    instance_config: dict[str, Any],
    max_connections: str,
) -> None:
    """Print the configuration, the noisy-neighbour table and the scenario table."""
    base, flood = results
    print_configuration(args, instance_config, max_connections)
    header = ["quiet tenants' queue wait", "runs", "no flood p50 s", "flood p50 s", "x"]
    header += ["no flood p99 s", "flood p99 s", "x"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rows = [("all quiet tenants", base.quiet_waits(), flood.quiet_waits())]
    for index, tenant in enumerate(base.quiet_tenants(), start=1):
        rows.append((f"tenant {index}", base.waits[tenant].waits, flood.waits[tenant].waits))
    for label, b, f in rows:
        b50, f50, b99, f99 = percentile(b, 0.5), percentile(f, 0.5), percentile(b, 0.99), percentile(f, 0.99)
        print(
            f"| {label} | {len(b)} / {len(f)} | {b50:.2f} | {f50:.2f} | {_ratio(b50, f50)} "
            f"| {b99:.2f} | {f99:.2f} | {_ratio(b99, f99)} |"
        )
    print()
    columns = [
        "scenario",
        "window s",
        "launched",
        "launches/s",
        "noisy submit / drain s",
        "quiet runs in flood",
        "max conns per db",
        "max conns total (one process, by kind)",
        "CPU s daemons / submitters / PG",
        "machine busy, load",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in results:
        drain = r.noisy_drain()
        noisy_submit = r.submitted.get(r.noisy, {}).get("seconds")
        launched = sum(len(w.launched) for w in r.waits.values())
        never = sum(w.never_launched for w in r.waits.values())
        roles = ", ".join(
            f"{role.removeprefix('kf-bench-')} {n}" for role, n in sorted(r.connections_per_role.items())
        )
        cells = [
            r.name + ("" if r.drained else " (NOT drained)"),
            f"{r.window_seconds:.0f}",
            f"{launched}" + (f" ({never} not)" if never else ""),
            f"{r.launches_per_second():.1f}",
            f"{noisy_submit:.1f} / {drain:.1f}" if drain is not None and noisy_submit else "-",
            f"{r.overlap():.0%}",
            ", ".join(f"{db}: {n}" for db, n in sorted(r.connections_per_database.items())),
            f"{r.connections_total} ({roles})",
            f"{sum(r.daemon_cpu.values()):.0f} / {r.submitter_cpu():.0f} / {r.backend_cpu:.0f}",
            f"{r.machine_busy:.0%}, {r.load_average:.1f}",
        ]
        print("| " + " | ".join(cells) + " |")
    base_waits, flood_waits = base.quiet_waits(), flood.quiet_waits()
    ratios = {q: percentile(flood_waits, q) / percentile(base_waits, q) for q in (0.5, 0.99)}
    for q, ratio in ratios.items():
        low, high = ratio_interval(base_waits, flood_waits, q)
        print(
            f"noisy-neighbour ratio p{q * 100:g}: {ratio:.2f}x (95% bootstrap interval {low:.2f}-{high:.2f})"
        )
    verdict = "met" if max(ratios.values()) <= TARGET_RATIO else "NOT met"
    print(f"target <= {TARGET_RATIO}x at p50 and p99: {verdict}")
