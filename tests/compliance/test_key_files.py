"""Key files under a race: many real processes create the same key at once (item: key-file races).

Each child is released at the same instant (``run_together``), then asks for
the key through the public entry point that creates it on first use, in 40
fresh homes one after the other. They must all get the same, non-empty key and
none may crash. (Before the shared helper: empty audit keys, a gateway that
refused its empty secret, and ``FileExistsError`` for the tenant key.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

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
        "from resources.secrets import SecretsResource, local_tenant_key_file",
        "SecretsResource(tenant_key_file=str(local_tenant_key_file(home))).tenant_key_text()",
    ),
    "shared helper": (
        "from compliance.keyfiles import read_or_create_key_file",
        "read_or_create_key_file(home / 'secrets' / 'x.key')",
    ),
}

CHILD = """
from pathlib import Path
{setup}
wait_for_release()
for round_ in range({rounds}):
    home = Path({base!r}) / str(round_)
    os.environ["KLIKKFLOW_HOME"] = str(home)
    try:
        print(round_, repr({expression}), flush=True)
    except Exception as exc:
        print(round_, "CRASH", type(exc).__name__, repr(str(exc))[:300], flush=True)
"""


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_concurrent_processes_creating_a_key_file_all_get_the_same_nonempty_key(
    tmp_path: Path, entry_point: str, run_together: Callable[..., list[tuple[int, str, str]]]
) -> None:
    setup, expression = ENTRY_POINTS[entry_point]
    code = CHILD.format(setup=setup, rounds=ROUNDS, base=str(tmp_path), expression=expression)
    unset = ("KLIKKFLOW_GATEWAY_SECRET", "KLIKKFLOW_AUDIT_KEY")
    processes = run_together(code, PROCESSES, {k: v for k, v in os.environ.items() if k not in unset})
    results: dict[int, list[str]] = {}
    for returncode, out, err in processes:
        assert returncode == 0, err
        for line in out.splitlines():
            round_, got = line.split(" ", 1)
            results.setdefault(int(round_), []).append(got)
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
