"""Gateway overhead: the same requests straight to a tenant's Dagster app and through the gateway.

One server process opens a tenant (its own Dagster instance, a code location
with 10 finished runs) and serves, on two loopback ports:
  * direct  -- baseline: the tenant's Dagster webserver app alone (no auth);
  * gateway -- the KlikkFlow gateway in front of the same app object: session
    cookie lookup, tenant check, rate limits, CSRF, graphql-core parsing and
    RBAC of the document, metrics (audit writes happen for mutations only).

Two requests: the run-list GraphQL query the Runs page sends, and a static UI
asset (favicon.svg). Both targets get byte-identical requests (session cookie
included), so the client side costs the same. Latency is measured with sequential requests, interleaving
blocks of 25 of both targets, in 3 rounds (median of the rounds' p50/p99, which
damps bursts from other work on a shared machine); throughput with
``--concurrency`` keep-alive connections of a lean asyncio client
(``http_load.py``, so the load generator's own CPU cost stays small next to
the server's on this shared machine): 5 rounds, the order of the two targets
alternating, and the median round per target.
Targets: at most +1 ms at p50, +3 ms at p99, throughput >= 0.9x direct.

    python benchmarks/gateway_bench.py [--requests 600] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import yaml
from http_load import free_port, http_request, load

RUN_LIST = """query RunsRoot($limit: Int) {
  runsOrError(limit: $limit) {
    ... on Runs { results { id runId status jobName tags { key value } startTime endTime } }
  }
}"""
STATIC = "/t/acme/favicon.svg"
ROUNDS = 3  # latency percentiles are the median over rounds
ROUND_SCALE = {"runs": 1, "static": 8}  # throughput rounds of a few seconds each (static is ~10x faster)
THROUGHPUT_ROUNDS = 5  # throughput is the median round, targets alternating which goes first
PASSWORD = "benchmark password 123"
CODE_LOCATION = """
import dagster as dg


@dg.asset
def orders() -> int:
    return 42


orders_job = dg.define_asset_job("orders_job", selection=["orders"])
defs = dg.Definitions(assets=[orders], jobs=[orders_job])
"""
TENANT = "id: acme\nname: Acme\nmembers:\n  - user: bench\n    role: viewer\n"


# --- server process -------------------------------------------------------------------------------
def serve(root: Path, gateway_port: int, direct_port: int) -> None:
    """Open the tenant, seed runs, and serve gateway and bare app until killed."""
    import uvicorn
    from dagster import DagsterInstance

    from klikkflow_pipelines.gateway.server import open_gateway
    from klikkflow_pipelines.gateway.settings import GatewaySettings
    from klikkflow_pipelines.tenancy.config import load_all_tenants

    code_file = root / "code_location.py"
    settings = GatewaySettings(
        secret_key="b" * 48,
        database_url=f"sqlite:///{root / 'gateway.db'}",
        public_url=f"http://127.0.0.1:{gateway_port}",
        rate_per_user=1e6,
        burst_per_user=1e6,
        rate_per_tenant=1e6,
        burst_per_tenant=1e6,
    )
    tenants, _ = load_all_tenants()
    workspace = root / "workspace.yaml"
    entry = {"python_file": {"relative_path": str(code_file), "location_name": "acme"}}
    workspace.write_text(yaml.safe_dump({"load_from": [entry]}))
    with open_gateway(settings, tenants, workspace_for=lambda _t: workspace) as gateway:
        gateway.accounts.create_user("bench", PASSWORD)
        instance: DagsterInstance = gateway.workspaces["acme"].instance
        import runpy

        job = runpy.run_path(str(code_file))["defs"].get_job_def("orders_job")
        for _ in range(10):
            job.execute_in_process(instance=instance)

        async def main() -> None:
            servers = [
                uvicorn.Server(
                    uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
                )
                for app, port in ((gateway, gateway_port), (gateway.tenant_apps["acme"], direct_port))
            ]
            await asyncio.gather(*(s.serve() for s in servers))

        asyncio.run(main())


# --- client ---------------------------------------------------------------------------------------
def _wait(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("benchmark server exited early")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("benchmark server did not start")


def _sign_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    token = page[start : page.index('"', start)]
    response = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text
    return client


def _request(client: httpx.Client, kind: str) -> httpx.Response:
    if kind == "runs":
        return client.post("/t/acme/graphql", json={"query": RUN_LIST, "variables": {"limit": 25}})
    return client.get(STATIC)


def _latencies(
    clients: dict[str, httpx.Client], kind: str, total: int, block: int = 50
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(max(1, total // block)):
        for name, client in clients.items():
            for _ in range(block):
                started = time.perf_counter()
                response = _request(client, kind)
                samples[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, kind, response.status_code, response.text[:200])
    return samples


def _throughput_once(base: str, headers: dict[str, str], kind: str, total: int, concurrency: int) -> float:
    if kind == "runs":
        body = json.dumps({"query": RUN_LIST, "variables": {"limit": 25}}).encode()
        request = http_request(
            "POST", base + "/t/acme/graphql", {**headers, "Content-Type": "application/json"}, body
        )
    else:
        request = http_request("GET", base + STATIC, headers)
    seconds, statuses = asyncio.run(load(base, [request] * total, concurrency))
    assert set(statuses) == {200}, (base, kind, set(statuses))
    return total / seconds


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(requests: int, concurrency: int) -> dict:
    """Start the server process, measure both targets, return the results."""
    with tempfile.TemporaryDirectory(prefix="kf-gateway-bench-") as tmp:
        root = Path(tmp)
        (root / "tenants").mkdir()
        (root / "tenants" / "acme.yaml").write_text(TENANT)
        (root / "code_location.py").write_text(textwrap.dedent(CODE_LOCATION))
        env = dict(
            os.environ,
            KLIKKFLOW_HOME=str(root / "home"),
            KLIKKFLOW_TENANTS_DIR=str(root / "tenants"),
            KLIKKFLOW_AUDIT_KEY="a" * 40,
        )
        gateway_port, direct_port = free_port(), free_port()
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(root), str(gateway_port), str(direct_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            gateway_url, direct_url = f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{direct_port}"
            _wait(gateway_url, process)
            _wait(direct_url, process)
            gateway = _sign_in(gateway_url)
            gateway.headers["origin"] = gateway_url
            # The direct client sends the very same request (session cookie and Origin, which the
            # bare app ignores), so the load generator does equal work for both targets and the
            # difference is the gateway's own cost.
            direct = httpx.Client(base_url=direct_url, timeout=30, cookies=gateway.cookies)
            direct.headers["origin"] = gateway_url
            clients = {"direct": direct, "gateway": gateway}
            same_headers = {
                "Cookie": "; ".join(f"{name}={value}" for name, value in gateway.cookies.items()),
                "Origin": gateway_url,
            }
            results: dict = {}
            for kind in ("runs", "static"):
                _latencies(clients, kind, 100)  # warm-up
                rounds = [_latencies(clients, kind, requests, block=25) for _ in range(ROUNDS)]
                samples: dict[str, list[float]] = {name: [] for name in clients}
                targets = [("direct", direct_url), ("gateway", gateway_url)]
                for round_no in range(THROUGHPUT_ROUNDS):
                    for name, base in targets if round_no % 2 == 0 else targets[::-1]:
                        samples[name].append(
                            _throughput_once(
                                base, same_headers, kind, requests * ROUND_SCALE[kind], concurrency
                            )
                        )
                rps = {name: statistics.median(values) for name, values in samples.items()}
                results[kind] = {
                    name: {
                        "p50_ms": statistics.median(statistics.median(r[name]) for r in rounds),
                        "p99_ms": statistics.median(_pct(r[name], 0.99) for r in rounds),
                        "rps": rps[name],
                    }
                    for name in clients
                }
            return results
        finally:
            process.terminate()
            process.wait(timeout=30)


def report(results: dict) -> bool:
    """Print the table and ratios; return True when every target is met."""
    print(f"{'request':8} {'target':8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    ok = True
    for kind, by_target in results.items():
        for name, m in by_target.items():
            print(f"{kind:8} {name:8} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['rps']:8.0f}")
        d, g = by_target["direct"], by_target["gateway"]
        added50, added99, ratio = g["p50_ms"] - d["p50_ms"], g["p99_ms"] - d["p99_ms"], g["rps"] / d["rps"]
        met = added50 <= 1.0 and added99 <= 3.0 and ratio >= 0.9
        ok &= met
        print(
            f"{kind:8} gateway vs direct: +{added50:.2f} ms p50 (target <= 1), +{added99:.2f} ms p99 "
            f"(target <= 3), throughput {ratio:.2f}x (target >= 0.9) -> {'met' if met else 'NOT met'}"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--serve", nargs=3, metavar=("ROOT", "GATEWAY_PORT", "DIRECT_PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), int(args.serve[2]))
        return
    results = run(args.requests, args.concurrency)
    met = report(results)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "gateway_bench.json").write_text(json.dumps(results, indent=2))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
