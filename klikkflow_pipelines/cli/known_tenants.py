"""Refuse an unknown ``--tenant`` before a command opens, creates or reports anything for it.

A typo in a tenant id must not give a green result for an empty, freshly created
tenant (``audit verify --tenant nosuch`` used to print ``ok 0 entries`` and make
``.klikkflow/tenants/nosuch/``). Known tenants are the ``<id>.yaml`` files of
the tenants directory; the check only reads that directory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import typer

from klikkflow_pipelines.paths import tenants_config_dir


def known_tenant_ids(tenants_dir: Path | None = None) -> list[str]:
    """Ids of the tenant files in ``tenants_dir`` (default: the tenants directory), sorted."""
    directory = tenants_dir or tenants_config_dir()
    return sorted(path.stem for path in directory.glob("*.yaml") if path.is_file())


def require_known_tenant(
    tenant: str, *, tenants_dir: Path | None = None, also_allowed: Iterable[str] = ()
) -> str:
    """Return ``tenant`` if a tenant file (or ``also_allowed``) has that id; else print why and exit 2."""
    extra = list(also_allowed)
    known = known_tenant_ids(tenants_dir)
    if tenant in known or tenant in extra:
        return tenant
    directory = tenants_dir or tenants_config_dir()
    listed = ", ".join(known) or "none"
    others = f" (or {', '.join(repr(name) for name in extra)})" if extra else ""
    typer.echo(
        f"unknown tenant {tenant!r}. Known tenants: {listed}{others}. "
        f"Fix: pass one of them with --tenant, or create it with `klikkflow tenant create {tenant}` "
        f"(tenant files are read from {directory}).",
        err=True,
    )
    raise typer.Exit(code=2)
