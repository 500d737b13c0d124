"""Attack: tenant code reads another tenant's key file or the platform directory (embedded default).

Each attack runs in its own Python process (an audit hook cannot be removed, so it must not
leak into the test process), as tenant ``acme``'s code server / run worker does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from compliance.events import read_events
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine

SCRIPT = Path(__file__).with_name("escape_attempts.py")
REFUSED = [
    "open_other_key",
    "open_via_dotdot",
    "open_via_symlink_in_own_home",
    "open_via_planted_dir_link",
    "swap_planted_link_for_a_cached_dir",
    "list_other_home",
    "scandir_tenants_root",
    "copy_other_key",
    "remove_other_key",
    "open_platform_signing_key",
    "rmtree_platform",
]


def _tenant_env(home: Path, tenant: str = "acme") -> dict[str, str]:
    paths = {"KLIKKFLOW_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}
    return {**os.environ, **paths, "KLIKKFLOW_TENANT": tenant}


def _plant(home: Path) -> Path:
    key = home / "tenants" / "globex" / "secrets" / "tenant.key"
    key.parent.mkdir(parents=True)
    key.write_text("globex-secret")
    (home / "platform").mkdir(parents=True)
    (home / "platform" / "audit-signing.key").write_bytes(b"platform-secret")
    (home / "tenants" / "acme").mkdir(parents=True)
    (home / "tenants" / "acme" / "innocent.txt").symlink_to(key)
    (home / "tenants" / "acme" / "mirror").symlink_to(key.parent)
    return key


def test_tenant_code_cannot_reach_another_tenant_or_the_platform_and_each_attempt_is_an_event(
    klikkflow_home: Path,
) -> None:
    other_key = _plant(klikkflow_home)
    out = klikkflow_home / "tenants" / "acme" / "outcomes.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], env=_tenant_env(klikkflow_home), check=True, timeout=300
    )
    outcomes = json.loads(out.read_text())
    for name in REFUSED:
        assert outcomes[name].startswith("PermissionError: KlikkFlow path guard"), (name, outcomes[name])
    assert "home of tenant 'globex'" in outcomes["open_via_symlink_in_own_home"]  # symlink followed
    assert "platform directory" in outcomes["open_platform_signing_key"]
    assert "would name the other tenants" in outcomes["scandir_tenants_root"]
    assert outcomes["own_file"] == outcomes["own_file_after_the_attempts"] == "allowed"
    assert "os.rename" in outcomes["swap_planted_link_for_a_cached_dir"]
    assert other_key.read_text() == "globex-secret"  # not removed
    assert (klikkflow_home / "platform" / "audit-signing.key").exists()  # not removed
    assert not (klikkflow_home / "tenants" / "acme" / "stolen.key").exists()

    events = [e for e in read_events(tenant_storage_engine("acme")) if e["action"] == "path_escape"]
    assert len(events) == len(REFUSED)
    assert {e["details"]["event"] for e in events} >= {"open", "os.listdir", "os.scandir", "os.remove"}
    assert all(e["tenant"] == "acme" for e in events)
    assert not read_events(tenant_storage_engine("globex")), "nothing written into the other tenant"


def test_a_process_that_serves_no_single_tenant_is_not_guarded(klikkflow_home: Path) -> None:
    """The gateway and tests load several tenants in one process: no guard there (it would block them)."""
    other_key = _plant(klikkflow_home)
    code = (
        "from klikkflow_pipelines.governance.path_guard import install_path_guard;"
        f"print(install_path_guard('acme'), open({str(other_key)!r}).read())"
    )
    env = {**_tenant_env(klikkflow_home), "KLIKKFLOW_TENANT": "globex"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "globex-secret"]


def _open_loop(home: Path, guarded: bool, opens: int = 100_000) -> float:
    install = "from klikkflow_pipelines.governance.path_guard import install_path_guard as install\n"
    code = (
        "import time\n"
        + (install + "assert install('acme')\n" if guarded else "")
        + f"path = {str(home / 'tenants' / 'acme' / 'bench.txt')!r}\n"
        + "open(path, 'w').write('x')\n"
        + "start = time.perf_counter()\n"
        + f"for _ in range({opens}):\n"
        + "    with open(path) as f: f.read()\n"
        + "print(time.perf_counter() - start)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_tenant_env(home), capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def test_the_guard_costs_little_on_a_loop_of_100k_opens_of_own_files(klikkflow_home: Path) -> None:
    (klikkflow_home / "tenants" / "acme").mkdir(parents=True)
    runs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(2):  # interleaved, so a busy moment of the machine hits both
        for guard in (False, True):
            runs[guard].append(_open_loop(klikkflow_home, guard))
    plain, guarded = min(runs[False]), min(runs[True])
    print(f"100k opens: {plain:.3f}s unguarded, {guarded:.3f}s guarded, ratio {guarded / plain:.2f}")
    assert guarded / plain < 2, (plain, guarded)
