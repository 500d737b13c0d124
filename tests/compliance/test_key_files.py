"""Key files under a race: many real processes create the same key at once (item: key-file races).

Each child blocks on a shared pipe and is released at the same instant, then
asks for the key through the public entry point that creates it on first use.
They must all get the same, non-empty key and none may crash.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from klikkflow_pipelines.paths import PROJECT_ROOT

PROCESSES = 8
ROUNDS = 40

# entry point -> (what the child imports before the race, the expression that yields the key in ``home``)
ENTRY_POINTS = {
    "audit writer key": ("from compliance.audit.keys import audit_key", "audit_key().decode()"),
    "gateway cookie secret": (
        "from klikkflow_pipelines.gateway.settings import settings_from_env",
        "settings_from_env().secret_key",
    ),
    "tenant master key": (
        "from resources.secrets import local_tenant_key_file",
        "local_tenant_key_file(home).read_text().strip()",
    ),
    "shared helper": (
        "from compliance.keyfiles import read_or_create_key_file",
        "read_or_create_key_file(home / 'secrets' / 'x.key')",
    ),
}

CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    ready, go, base, rounds, setup, expression = sys.argv[1:]
    exec(setup)
    os.write(int(ready), b"r")
    os.read(int(go), 1)  # blocks until the parent closes the pipe: every child starts at once
    for round_ in range(int(rounds)):
        home = Path(base) / str(round_)
        os.environ["KLIKKFLOW_HOME"] = str(home)
        try:
            print(round_, repr(eval(expression)), flush=True)
        except Exception as exc:
            print(round_, "CRASH", type(exc).__name__, repr(str(exc))[:300], flush=True)
    """
)


def _race(base: Path, setup: str, expression: str) -> dict[int, list[str]]:
    """Run the children; return round -> what each child got (a key's repr or ``CRASH ...``)."""
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for name in ("KLIKKFLOW_GATEWAY_SECRET", "KLIKKFLOW_AUDIT_KEY"):
        env.pop(name, None)
    argv = [str(ready_write), str(go_read), str(base), str(ROUNDS), setup, expression]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *argv],
            pass_fds=(ready_write, go_read),
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    os.close(ready_write)
    os.close(go_read)
    for _ in range(PROCESSES):  # every child has imported everything and waits on the pipe
        assert os.read(ready_read, 1) == b"r", "a child died before the race"
    os.close(go_write)
    results: dict[int, list[str]] = {}
    for child in children:
        out, _ = child.communicate(timeout=120)
        for line in out.splitlines():
            round_, got = line.split(" ", 1)
            results.setdefault(int(round_), []).append(got)
    os.close(ready_read)
    return results


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_concurrent_processes_creating_a_key_file_all_get_the_same_nonempty_key(
    tmp_path: Path, entry_point: str
) -> None:
    results = _race(tmp_path, *ENTRY_POINTS[entry_point])
    assert sorted(results) == list(range(ROUNDS))
    for round_, got in results.items():
        assert len(got) == PROCESSES, f"round {round_}: only {len(got)} of {PROCESSES} answered"
        crashes = [g for g in got if g.startswith("CRASH")]
        assert not crashes, f"round {round_}: {len(crashes)} processes crashed: {crashes[0]}"
        assert len(set(got)) == 1, f"round {round_}: processes got different keys: {set(got)}"
        assert len(eval(got[0])) >= 32, f"round {round_}: processes got a short or empty key {got[0]}"


def test_key_file_is_private_and_kept(tmp_path: Path) -> None:
    from compliance.keyfiles import read_or_create_key_file

    path = tmp_path / "secrets" / "a.key"
    first = read_or_create_key_file(path)
    assert read_or_create_key_file(path, create=lambda: "other" * 10) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["a.key"], "no temporary file is left behind"


def test_empty_key_file_left_by_a_crash_is_a_clear_error(tmp_path: Path) -> None:
    from compliance.keyfiles import KeyFileError, read_or_create_key_file

    path = tmp_path / "gateway.key"
    path.write_text("")
    with pytest.raises(KeyFileError, match=r"gateway\.key: holds 0 characters.*Fix: delete the file"):
        read_or_create_key_file(path)
