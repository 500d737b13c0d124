"""Which of dagster-webserver's file routes a tenant member may use.

dagster-webserver 1.13 serves files on ``/logs/{path}`` (anything below the
compute-log directory: ``[*log_key, extension]`` becomes ``<dir>/<key...>.<extension>``),
``/download_debug/{run_id}`` (a run's debug export), and ``/notebook`` and
``/dagit/notebook`` (a notebook file read through the code server). The
gateway lets through only:

- ``/logs/<run_id>/compute_logs/<file key>/<out|err>``, the compute log of a
  run that exists in the tenant's instance, to every role (viewers read
  their tenant's runs);
- ``/download_debug/<run_id>`` of an existing run, to admins;

and answers everything else below those routes with 403 (another file)
or 404 (no such run). Static UI assets are not file routes in this sense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from klikkflow_pipelines.gateway.roles import role_at_least

COMPUTE_LOG_EXTENSIONS = frozenset({"out", "err"})
_FILE_PREFIXES = ("/logs/", "/logs", "/download_debug/", "/download_debug", "/notebook", "/dagit/notebook")


@dataclass(frozen=True)
class FileVerdict:
    """The gateway's answer for a file route: allowed, or a status and a message."""

    allowed: bool
    status: int = 200
    message: str = ""


def is_file_route(rest: str) -> bool:
    """True when ``rest`` (the path below ``/t/<tenant>``) is one of Dagster's file routes."""
    return any(rest == p or rest.startswith(p.rstrip("/") + "/") for p in _FILE_PREFIXES)


def _run_exists(instance: Any, run_id: str) -> bool:
    if instance is None or not run_id or len(run_id) > 64:
        return False
    try:
        return instance.get_run_by_id(run_id) is not None
    except Exception:  # a malformed id some storages reject
        return False


def file_route_verdict(rest: str, role: str, instance: Any) -> FileVerdict:
    """Decide a file route request; queries the tenant's run storage (call it off the event loop)."""
    parts = rest.strip("/").split("/")
    if parts[0] == "logs":
        key = parts[1:]
        if len(key) != 4 or key[1] != "compute_logs" or key[3] not in COMPUTE_LOG_EXTENSIONS or not key[2]:
            return FileVerdict(False, 403, "forbidden: only compute logs of runs can be downloaded")
        if not _run_exists(instance, key[0]):
            return FileVerdict(False, 404, "no such run")
        return FileVerdict(True)
    if parts[0] == "download_debug" and len(parts) == 2:
        if not _run_exists(instance, parts[1]):
            return FileVerdict(False, 404, "no such run")
        if not role_at_least(role, "admin"):
            return FileVerdict(False, 403, "forbidden: run debug files need the admin role")
        return FileVerdict(True)
    return FileVerdict(False, 403, "forbidden: this file route is not served through the gateway")
