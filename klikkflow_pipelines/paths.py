"""Filesystem locations of a KlikkFlow installation.

Everything KlikkFlow writes locally lives under ``KLIKKFLOW_HOME`` (default:
``.klikkflow/`` in the checkout). Each tenant gets its own directory below it.
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


def tenant_home(tenant_id: str) -> Path:
    """Return the local directory of one tenant (its SQLite storage, warehouse, inbox)."""
    path = klikkflow_home() / "tenants" / tenant_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def tenants_config_dir() -> Path:
    """Return the directory holding one ``<tenant>.yaml`` per tenant.

    ``$KLIKKFLOW_TENANTS_DIR`` overrides the default ``deploy/tenants``.
    """
    return Path(os.environ.get("KLIKKFLOW_TENANTS_DIR") or PROJECT_ROOT / "deploy" / "tenants")
