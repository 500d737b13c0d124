"""Where KlikkFlow keeps its local state: ``$KLIKKFLOW_HOME`` (default ``.klikkflow/`` in the checkout).

A building block every package may use (``compliance/``, ``resources/`` and
``klikkflow_pipelines/`` alike), so none of them reaches up for a path.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def klikkflow_home(create: bool = True) -> Path:
    """Return ``$KLIKKFLOW_HOME`` (default ``<checkout>/.klikkflow``); ``create``: make it if missing."""
    home = Path(os.environ.get("KLIKKFLOW_HOME") or PROJECT_ROOT / ".klikkflow").resolve()
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return home


def platform_home() -> Path:
    """The platform's own directory (``$KLIKKFLOW_HOME/platform``, mode 0700): what no tenant process reads.

    The audit checkpointer keeps its signing key and the witness copies of the
    checkpoints here on a local install.
    """
    path = klikkflow_home() / "platform"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
