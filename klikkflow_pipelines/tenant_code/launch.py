"""The launcher every tenant code server starts through: the tenant's allow-listed environment, then Python.

Dagster starts a workspace entry's code server as ``<executable_path> -m dagster api grpc ...``
with the environment of whichever process opened the workspace (the gateway, a dev daemon or
webserver). Each tenant workspace entry therefore names as ``executable_path`` a small script,
written by :func:`write_launcher` into the platform directory (not the tenant's home, the folder
its code is meant to write)::

    #!/bin/sh
    exec <this interpreter> -m klikkflow_pipelines.tenant_code.launch <tenant> "$@"

and this module replaces itself (``execve``) with the same interpreter, the given arguments and
:func:`~klikkflow_pipelines.tenant_code.environment.tenant_environment`. The code server — and
every run worker and step process it starts — never holds the platform's environment.

This separates environments, not OS users: on one machine under one user (``klikkflow dev``, a
local gateway) tenant code can still read whatever that user may read, files and other processes'
``/proc/<pid>/environ`` included. Production runs tenant code servers under their own identity
in the tenant's namespace.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from pathlib import Path

from compliance.home import klikkflow_home, platform_home
from klikkflow_pipelines.tenant_code.environment import tenant_environment


def launcher_path(tenant_id: str) -> Path:
    """Where :func:`write_launcher` puts ``tenant_id``'s launcher (the platform's ``code-servers/``)."""
    return klikkflow_home(create=False) / "platform" / "code-servers" / tenant_id


def launcher_text(tenant_id: str, python: str = sys.executable) -> str:
    """The launcher script of ``tenant_id`` (runs ``python``; see the module docstring)."""
    command = shlex.join([python, "-m", __name__, tenant_id])
    comment = f"# Written by KlikkFlow: tenant {tenant_id}'s code servers start here."
    return f'#!/bin/sh\n{comment}\nexec {command} "$@"\n'


def write_launcher(tenant_id: str) -> Path:
    """Write ``tenant_id``'s launcher (mode 0700) if it differs from the current one; return its path.

    Written to a temporary file and renamed, so a code server starting meanwhile never runs half a script.
    """
    path = launcher_path(tenant_id)
    text = launcher_text(tenant_id)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path
    platform_home()  # creates the platform directory with mode 0700
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False) as out:
        out.write(text)
    os.chmod(out.name, 0o700)
    os.replace(out.name, path)
    return path


def exec_in_tenant_environment(tenant_id: str, argv: list[str]) -> None:
    """Replace this process with ``python <argv>`` in ``tenant_id``'s environment (never returns)."""
    home = klikkflow_home(create=False) / "tenants" / tenant_id
    os.execve(sys.executable, [sys.executable, *argv], tenant_environment(tenant_id, os.environ, home))


if __name__ == "__main__":
    exec_in_tenant_environment(sys.argv[1], sys.argv[2:])
