"""What governance adds to loading a tenant's own code location.

A tenant project of 200 assets is generated into a temporary directory (frame
assets on the default IO manager, an archive layer on the project's own IO
manager, daily-partitioned raw and staging assets, inputs and ``deps``
between layers, export assets that need the warehouse resource, asset checks,
two asset jobs and a schedule). It leaves ``io_manager`` and ``warehouse`` to
the platform, as tenant projects do.

Each measurement is a fresh Python process (as every code server and run
worker is): import the project module, bind its resources, build the
repository (``dg.Definitions.validate_loadable``) and the repository snapshot
the code server sends to the webserver (``RepositorySnap.from_def``).

  governed   ``govern_definitions(defs, tenant, location)`` for a tenant file in a
             scratch ``KLIKKFLOW_TENANTS_DIR`` (scratch ``KLIKKFLOW_HOME``)
  baseline   the same ``defs`` merged with the plain resources a competent user
             binds: ``ParquetFrameIOManager`` (same storage) and ``WarehouseResource``
             (SQLite), no KlikkFlow governance imported

Both run the same generated module with its bytecode already cached (one
unmeasured warm-up of each first), alternating order each round. Wall and CPU
seconds of each process are printed (phases are wall); on a busy machine the
CPU ratio is the steadier one, and the load average is printed. The process
exits non-zero if Presidio, spaCy or Great Expectations is in ``sys.modules``
after the governed load.

    python benchmarks/governed_load.py [--runs 7] [--assets 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("presidio_analyzer", "presidio_anonymizer", "spacy", "great_expectations")
TARGET = 1.2
TENANT = "benchcorp"
MODULE = "tenant_project"

# --------------------------------------------------------------------------- the tenant project

HEADER = '''\
"""Benchcorp's data platform: raw intake, staging, marts, archive and warehouse exports."""

import os

import dagster as dg
import polars as pl

from resources.warehouse import WarehouseResource

daily = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Oslo")


class ArchiveIOManager(dg.ConfigurableIOManager):
    """Newline-delimited JSON files, one per asset, for the audit archive."""

    base_dir: str

    def _path(self, context) -> str:
        return os.path.join(self.base_dir, *context.asset_key.path) + ".ndjson"

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        path = self._path(context)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        obj.write_ndjson(path)
        context.add_output_metadata({"dagster/row_count": obj.height})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        return pl.read_ndjson(self._path(context.upstream_output))

'''

DOMAINS = ("orders", "customers", "payments", "claims", "shipments", "invoices", "tickets", "products")


def _raw(i: int) -> str:
    domain = DOMAINS[i % len(DOMAINS)]
    part = "\n    partitions_def=daily," if i % 4 == 0 else ""
    return f'''
@dg.asset(
    group_name="raw",
    kinds={{"polars"}},
    owners=["team:intake"],
    tags={{"domain": "{domain}"}},{part}
    metadata={{"source": "sftp://intake/{domain}/{i}"}},
)
def raw_{domain}_{i}(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """Raw {domain} drop {i} as delivered."""
    frame = pl.read_csv(os.path.join(os.environ.get("INTAKE_DIR", "intake"), "{domain}_{i}.csv"))
    context.log.info("read %d rows", frame.height)
    return frame.with_columns(pl.lit({i}).alias("batch"))
'''


def _staging(j: int, raw: list[str], partitioned: set[str]) -> str:
    a, b = raw[j % len(raw)], raw[(j * 7 + 3) % len(raw)]
    part = "\n    partitions_def=daily," if a in partitioned and b in partitioned else ""
    return f'''
@dg.asset(group_name="staging", kinds={{"polars"}}, owners=["team:data-eng"],{part}
          code_version="v{1 + j % 3}")
def stg_{j}({a}: pl.DataFrame, {b}: pl.DataFrame) -> pl.DataFrame:
    """Cleaned and de-duplicated rows of {a} joined with {b}."""
    left = {a}.unique().filter(pl.col("batch").is_not_null())
    return left.join({b}.select("batch").unique(), on="batch", how="left")
'''


def _mart(k: int, staging: list[str]) -> str:
    ups = sorted({staging[(k * s + 1) % len(staging)] for s in (1, 5, 11)})
    params = ", ".join(f"{u}: pl.DataFrame" for u in ups)
    first = ups[0]
    return f'''
@dg.asset(group_name="marts", kinds={{"polars"}}, owners=["team:analytics"],
          automation_condition=dg.AutomationCondition.eager())
def mart_{k}({params}) -> pl.DataFrame:
    """Mart {k}: daily figures from {", ".join(ups)}."""
    return pl.concat([{", ".join(f"{u}.select('batch')" for u in ups)}]).group_by("batch").len().join(
        {first}.select("batch").unique(), on="batch", how="left"
    )
'''


def _archive(m: int, marts: list[str]) -> str:
    up = marts[(m * 3) % len(marts)]
    return f'''
@dg.asset(group_name="archive", io_manager_key="archive_io_manager", owners=["team:compliance"])
def archive_{m}({up}: pl.DataFrame) -> pl.DataFrame:
    """Monthly archive copy of {up}."""
    return {up}.with_columns(pl.lit("archived").alias("state"))
'''


def _export(e: int, marts: list[str]) -> str:
    ups = [marts[(e * 2) % len(marts)], marts[(e * 2 + 1) % len(marts)]]
    deps = ", ".join(f'"{u}"' for u in ups)
    return f'''
@dg.asset(group_name="exports", deps=[{deps}], kinds={{"sql"}}, owners=["team:analytics"])
def export_{e}(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Publishes {", ".join(ups)} to the warehouse table export_{e}."""
    context.log.info("exporting to %s", "export_{e}")
    return dg.MaterializeResult(metadata={{"table": "export_{e}"}})
'''


def _check(c: int, mart: str) -> str:
    return f'''
@dg.asset_check(asset={mart}, blocking={c % 2 == 0})
def {mart}_not_empty_{c}({mart}: pl.DataFrame) -> dg.AssetCheckResult:
    """{mart} has rows."""
    return dg.AssetCheckResult(passed={mart}.height > 0, metadata={{"rows": {mart}.height}})
'''


def project_source(assets: int) -> str:
    """Source of a tenant project module with ``assets`` assets in five layers and a few checks."""
    n_raw, n_stg, n_archive, n_export = assets // 5, assets * 3 // 10, assets // 10, assets // 10
    n_mart = assets - n_raw - n_stg - n_archive - n_export
    raw = [f"raw_{DOMAINS[i % len(DOMAINS)]}_{i}" for i in range(n_raw)]
    partitioned = {name for i, name in enumerate(raw) if i % 4 == 0}
    staging = [f"stg_{j}" for j in range(n_stg)]
    marts = [f"mart_{k}" for k in range(n_mart)]
    parts = [HEADER]
    parts += [_raw(i) for i in range(n_raw)]
    parts += [_staging(j, raw, partitioned) for j in range(n_stg)]
    parts += [_mart(k, staging) for k in range(n_mart)]
    parts += [_archive(m, marts) for m in range(n_archive)]
    parts += [_export(e, marts) for e in range(n_export)]
    checked = marts[:: max(1, n_mart // 10)][:10]
    parts += [_check(c, mart) for c, mart in enumerate(checked)]
    names = raw + staging + marts + [f"archive_{m}" for m in range(n_archive)]
    names += [f"export_{e}" for e in range(n_export)]
    checks = [f"{mart}_not_empty_{c}" for c, mart in enumerate(checked)]
    parts.append(
        textwrap.dedent(f"""
        daily_job = dg.define_asset_job("daily_refresh", selection=dg.AssetSelection.groups("raw", "staging"),
                                        partitions_def=daily)
        marts_job = dg.define_asset_job("marts_and_exports",
                                        selection=dg.AssetSelection.groups("marts", "archive", "exports"))

        defs = dg.Definitions(
            assets=[{", ".join(names)}],
            asset_checks=[{", ".join(checks)}],
            jobs=[daily_job, marts_job],
            schedules=[dg.ScheduleDefinition(job=marts_job, cron_schedule="0 6 * * *",
                                             execution_timezone="Europe/Oslo")],
            resources={{"archive_io_manager": ArchiveIOManager(
                base_dir=os.path.join(os.environ.get("KLIKKFLOW_HOME", "."), "archive"))}},
        )
        """)
    )
    return "".join(parts)


# --------------------------------------------------------------------------- one measured load

PROBE = """
import json, sys, time
start, cpu = time.perf_counter(), time.process_time()
import dagster as dg
import {module} as project
imported = time.perf_counter()
if {governed!r}:
    from klikkflow_pipelines.governance import govern_definitions
    from klikkflow_pipelines.tenancy.config import load_tenant
    defs = govern_definitions(project.defs, load_tenant({tenant!r}), {module!r})
else:
    from resources.frame_io import ParquetFrameIOManager
    from resources.warehouse import WarehouseResource
    import os
    home = os.environ["KLIKKFLOW_HOME"]
    plain = {{"io_manager": ParquetFrameIOManager(base_dir=os.path.join(home, "frames")),
              "warehouse": WarehouseResource(url="sqlite:///" + os.path.join(home, "warehouse.db"))}}
    defs = dg.Definitions.merge(project.defs, dg.Definitions(resources=plain))
bound = time.perf_counter()
dg.Definitions.validate_loadable(defs)
repo = defs.get_repository_def()
built = time.perf_counter()
from dagster._core.remote_representation.external_data import RepositorySnap
RepositorySnap.from_def(repo)
done, cpu = time.perf_counter(), time.process_time() - cpu
resources = {{k: type(v).__name__ + (f"(inner={{type(v.inner).__name__}})" if hasattr(v, "inner") else "")
             for k, v in defs.resources.items()}}
print(json.dumps({{
    "import": imported - start, "bind": bound - imported, "build": built - bound,
    "snapshot": done - built, "total": done - start, "cpu": cpu,
    "assets": len(repo.asset_graph.get_all_asset_keys()),
    "heavy": [m for m in {heavy!r} if m in sys.modules],
    "resources": resources,
}}))
"""

PHASES = ("import", "bind", "build", "snapshot", "total", "cpu")


def _load(governed: bool, env: dict[str, str]) -> dict[str, object]:
    code = PROBE.format(module=MODULE, governed=governed, tenant=TENANT, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        kind = "governed" if governed else "baseline"
        raise SystemExit(f"{kind} load failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _scratch(tmp: Path, assets: int) -> dict[str, str]:
    """Write the project and the tenant file; the environment both loads run with."""
    project = tmp / "project"
    project.mkdir()
    (project / f"{MODULE}.py").write_text(project_source(assets))
    tenants = tmp / "tenants"
    tenants.mkdir()
    (tenants / f"{TENANT}.yaml").write_text(
        f"id: {TENANT}\nname: Bench Corporation\nregion: eu-north-1\ntimezone: Europe/Oslo\n"
        "members:\n  - user: admin@benchcorp.example\n    role: admin\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("KLIKKFLOW_")}
    pythonpath = os.pathsep.join(p for p in (str(project), str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(
        PYTHONPATH=pythonpath,
        KLIKKFLOW_HOME=str(tmp / "home"),
        KLIKKFLOW_TENANTS_DIR=str(tenants),
        DAGSTER_HOME=str(tmp / "dagster_home"),
        PYTHONWARNINGS="ignore",
    )
    (tmp / "dagster_home").mkdir()
    return env


def _row(name: str, results: list[dict[str, object]]) -> str:
    cells = [f"{statistics.median(float(r[p]) for r in results):>9.3f}" for p in PHASES]  # type: ignore[arg-type]
    totals = [float(r["total"]) for r in results]  # type: ignore[arg-type]
    return f"{name:<10} {' '.join(cells)} {min(totals):>8.3f} {max(totals):>8.3f}"


def main() -> None:
    """Generate the project, time both loads interleaved, print medians, spread and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--assets", type=int, default=200)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="governed_load_") as name:
        env = _scratch(Path(name), args.assets)
        for governed in (False, True):  # warm-up, unmeasured: the project's bytecode is compiled once
            _load(governed, env)
        runs: dict[bool, list[dict[str, object]]] = {False: [], True: []}
        for i in range(args.runs):
            for governed in (False, True) if i % 2 == 0 else (True, False):
                runs[governed].append(_load(governed, env))
    plain, governed = runs[False], runs[True]
    print(
        f"\ncode-location load of a {plain[0]['assets']}-asset tenant project, {args.runs} fresh processes "
        f"each (interleaved), {os.cpu_count()} CPUs"
    )
    head = f"{'load':<10} " + " ".join(f"{p + ' s':>9}" for p in PHASES) + f" {'wall min':>8} {'wall max':>8}"
    print(head + "\n" + "-" * len(head))
    print(_row("baseline", plain))
    print(_row("governed", governed))
    print("\nresources bound (governed):", json.dumps(governed[0]["resources"]))
    print("resources bound (baseline):", json.dumps(plain[0]["resources"]))
    print(f"load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    for measure, label in (("total", "wall"), ("cpu", "CPU")):
        base = statistics.median(float(r[measure]) for r in plain)  # type: ignore[arg-type]
        mine = statistics.median(float(r[measure]) for r in governed)  # type: ignore[arg-type]
        ratio = mine / base
        verdict = "OK" if ratio <= TARGET else "OVER TARGET"
        print(
            f"governed / baseline, {label}: {ratio:.2f}x ({mine - base:+.3f} s; "
            f"target <= {TARGET}x): {verdict}"
        )
    heavy = sorted({m for r in governed for m in r["heavy"]})  # type: ignore[attr-defined]
    if heavy:
        raise SystemExit(f"FAIL: the governed load imported {', '.join(heavy)} (must stay lazy)")
    print("heavy modules after the governed load: none")


if __name__ == "__main__":
    main()
