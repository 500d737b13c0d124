"""Shared fixtures: an isolated KLIKKFLOW_HOME per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def klikkflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own KLIKKFLOW_HOME, so nothing touches the checkout's .klikkflow/."""
    home = tmp_path / "klikkflow_home"
    monkeypatch.setenv("KLIKKFLOW_HOME", str(home))
    monkeypatch.delenv("KLIKKFLOW_ENV", raising=False)
    monkeypatch.delenv("KLIKKFLOW_WAREHOUSE_URL", raising=False)
    return home
