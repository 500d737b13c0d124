"""Tenant files with their own code locations, written into a scratch tenants folder."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

GOOD_MODULE = """
import dagster as dg


@dg.asset
def {asset}() -> int:
    return 1


defs = dg.Definitions(assets=[{asset}])
"""


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tenants folder that ``$KLIKKFLOW_TENANTS_DIR`` points at (no ``$KLIKKFLOW_TENANT``)."""
    directory = tmp_path / "tenants"
    directory.mkdir()
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(directory))
    monkeypatch.delenv("KLIKKFLOW_TENANT", raising=False)
    return directory


@pytest.fixture
def write_code(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write_code(relative path, source)``: a file of tenant code under ``tmp_path``."""

    def write(relative: str, source: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture(autouse=True)
def restore_imports() -> Iterator[None]:
    """Tenant code imported by a test leaves ``sys.path`` and ``sys.modules`` as they were."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]
