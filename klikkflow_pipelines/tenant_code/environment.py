"""The environment a tenant's code runs in: an allow-list, never the platform's whole environment.

A tenant's code servers (and the run workers and step processes they start) are children of a
platform process — the gateway, ``klikkflow dev``, a local daemon or webserver, ``klikkflow validate`` —
whose environment holds platform secrets (session and OIDC secrets, key directories, database
URLs, other tenants' keys). :func:`tenant_environment` builds the only environment they get:

1. *Platform-wide, not secret* — passed as they are when set: :data:`PASSED` and every
   ``LC_*`` variable.
2. *The tenant's own* — a variable named ``<NAME>__<TENANT>`` in the platform's environment
   (tenant id upper-cased, ``-`` as ``_``: ``KLIKKFLOW_TENANT_KEY__ACME_CORP`` for tenant
   ``acme-corp``) is given to that tenant, and only to it, as ``<NAME>``. This is how one gateway
   serving many tenants hands each its key, warehouse URL, Postgres login
   (``KLIKKFLOW_PG_USER__ACME``, ``KLIKKFLOW_PG_PASSWORD__ACME``) or its code's own secrets.
   An unsuffixed ``KLIKKFLOW_TENANT_KEY`` or ``KLIKKFLOW_WAREHOUSE_URL`` is not any tenant's
   and is never passed.
3. *Set by KlikkFlow* — ``KLIKKFLOW_TENANT`` (the tenant), ``DAGSTER_HOME`` and ``HOME`` (its
   home: libraries that look for credentials under ``~`` — ``~/.pgpass``, ``~/.aws`` — find
   the tenant's, not the platform user's) and,
   when the platform has a base audit writer key, the tenant's own chain key
   (:data:`compliance.audit.keys.TENANT_WRITER_KEY_ENV`), never the base key.

Everything else (``KLIKKFLOW_AUDIT_KEY``, the audit signing key file, detokenize key directories,
the gateway's settings, ``KLIKKFLOW_PG_USER``/``PASSWORD`` of the platform) stays behind.
This module imports nothing heavy: the code-server launcher runs it before Dagster starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from compliance.audit.keys import TENANT_WRITER_KEY_ENV, WRITER_KEY_ENV, tenant_writer_key_value

#: Platform-wide variables a tenant process may see (none of them is a secret).
PASSED = (
    "PATH",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "KLIKKFLOW_HOME",
    "KLIKKFLOW_TENANTS_DIR",
    "KLIKKFLOW_ENV",
    "KLIKKFLOW_EXECUTOR",
    "KLIKKFLOW_SPACY_MODEL",
    "KLIKKFLOW_TOKEN_PUBLIC_KEY",
    "KLIKKFLOW_PG_HOST",
    "KLIKKFLOW_PG_PORT",
)
PASSED_PREFIXES = ("LC_",)


def tenant_suffix(tenant_id: str) -> str:
    """``acme-corp`` -> ``__ACME_CORP``: how a platform variable names the tenant it belongs to."""
    return "__" + tenant_id.upper().replace("-", "_")


def tenant_environment(tenant_id: str, parent: Mapping[str, str], tenant_home: Path) -> dict[str, str]:
    """The environment of a process running ``tenant_id``'s code, built from the platform's ``parent``.

    ``tenant_home`` becomes ``DAGSTER_HOME`` and ``HOME``. See the module docstring for the rules.
    """
    env = {
        name: value for name, value in parent.items() if name in PASSED or name.startswith(PASSED_PREFIXES)
    }
    suffix = tenant_suffix(tenant_id)
    for name, value in parent.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            env[name.removesuffix(suffix)] = value
    if base := parent.get(WRITER_KEY_ENV):
        env[TENANT_WRITER_KEY_ENV] = tenant_writer_key_value(base.encode(), tenant_id)
    env["KLIKKFLOW_TENANT"] = tenant_id
    env["DAGSTER_HOME"] = env["HOME"] = str(tenant_home)
    return env
