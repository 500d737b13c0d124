"""Filesystem locations of a KlikkFlow installation.

Everything KlikkFlow writes locally lives under ``KLIKKFLOW_HOME`` (default:
``.klikkflow/`` in the checkout). Each tenant gets its own directory below it.
"""

from __future__ import annotations

import os
from pathlib import Path

from compliance.home import PROJECT_ROOT, klikkflow_home

__all__ = ["PROJECT_ROOT", "klikkflow_home", "tenant_home", "tenants_config_dir"]


def tenant_home(tenant_id: str, create: bool = True) -> Path:
    """Return the local directory of one tenant (its SQLite storage, warehouse, inbox); ``create``:
    make it if missing."""
    path = klikkflow_home(create) / "tenants" / tenant_id
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def tenants_config_dir() -> Path:
    """Return the directory holding one ``<tenant>.yaml`` per tenant.

    ``$KLIKKFLOW_TENANTS_DIR`` overrides the default ``deploy/tenants``.
    """
    return Path(os.environ.get("KLIKKFLOW_TENANTS_DIR") or PROJECT_ROOT / "deploy" / "tenants")
