"""The operator's part of the rehearsal, done with the ``klikkflow`` CLI as an operator would.

1. ``klikkflow platform init`` and ``klikkflow tenant create <id> --storage postgres`` (subprocesses,
   on the admin connection ``KLIKKFLOW_PG_ADMIN_URL``): roles, databases, migrations, the Secrets'
   env files, the rendered manifests and Helm values, the detokenize and signing keys.
2. The object-store keys the CLI listed as "fill in" are filled into each tenant's env file (one
   bucket and one pair of credentials per tenant), as an operator fills the Secret.
3. The file Secrets are "mounted": the detokenize private keys into the gateway's folder, the
   signing key into the checkpointer's (copies, like ``kubectl create secret --from-file``).
4. ``klikkflow gateway add-user`` makes each tenant's local account, with the gateway's Secret.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.pod_env import FROM_HOST, secret_env_file
from klikkflow_pipelines.tenancy.deploy_settings import (
    AUDIT_SIGNING_KEY_FILE,
    GATEWAY_ENV_SECRET,
    tenant_env_secret,
)
from klikkflow_pipelines.tenancy.secret_files import read_env_file

CLI = [sys.executable, "-m", "klikkflow_pipelines.cli"]


class OperatorCommandFailed(RuntimeError):
    """An operator command exited non-zero (the message holds its output)."""


def operator_env(layout: Layout, admin_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The operator's shell: the rehearsal's folders and the admin connection, nothing else inherited."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(layout.operator_home),
        "KLIKKFLOW_HOME": str(layout.operator_home),
        "KLIKKFLOW_TENANTS_DIR": str(layout.tenants_dir),
        "KLIKKFLOW_DEPLOY_DIR": str(layout.deploy_dir),
        "KLIKKFLOW_PG_ADMIN_URL": admin_url,
        "KLIKKFLOW_ENV": "production",
        **{name: os.environ[name] for name in FROM_HOST if os.environ.get(name)},
    }
    return {**env, **(extra or {})}


def run_cli(args: list[str], env: Mapping[str, str], log: Path, cwd: Path, stdin: str | None = None) -> str:
    """Run ``klikkflow <args>`` (``stdin`` on its standard input: secrets never go in ``args``);
    its output goes to ``log`` and is returned; raise if it fails."""
    result = subprocess.run(
        [*CLI, *args], env=dict(env), cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"[operator] $ klikkflow {' '.join(args)}\n")
        handle.writelines(f"[operator] {line}\n" for line in output.splitlines())
    if result.returncode != 0:
        raise OperatorCommandFailed(f"`klikkflow {' '.join(args)}` exited {result.returncode}:\n{output}")
    return output


def provision(layout: Layout, admin_url: str, tenant_ids: list[str], pg_port: int) -> list[str]:
    """``platform init`` and ``tenant create --storage postgres`` for each tenant; their outputs."""
    env = operator_env(layout, admin_url)
    pod_db = ["--pod-pg-host", "127.0.0.1", "--pod-pg-port", str(pg_port)]
    outputs = [run_cli(["platform", "init", *pod_db], env, layout.log_file, layout.root)]
    for tenant_id in tenant_ids:
        args = ["tenant", "create", tenant_id, "--storage", "postgres", *pod_db]
        outputs.append(run_cli(args, env, layout.log_file, layout.root))
    return outputs


def fill_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Set ``values`` in an env file (keys it already lists are replaced in place, others appended),
    keeping its comments and mode 0600: what an operator does with an editor before ``kubectl``."""
    lines, seen = [], set()
    for line in path.read_text(encoding="utf-8").splitlines():
        key = line.partition("=")[0].strip()
        if not line.lstrip().startswith("#") and "=" in line and key in values:
            line = f"{key}={values[key]}"
            seen.add(key)
        lines.append(line)
    lines += [f"{key}={value}" for key, value in values.items() if key not in seen]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def fill_object_store(layout: Layout, tenant_id: str, values: Mapping[str, str]) -> None:
    """Fill the object-store keys of the tenant's Secret ``kf-<id>-env``."""
    fill_env_file(secret_env_file(layout, tenant_env_secret(tenant_id)), values)


def mount_file_secrets(layout: Layout, tenant_ids: list[str]) -> None:
    """Copy the detokenize keys (gateway) and the signing key (checkpointer) into their pods' folders."""
    detokenize = layout.pod("gateway") / "detokenize"
    signing = layout.pod("checkpointer") / "signing"
    for directory in (detokenize, signing):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for tenant_id in tenant_ids:
        shutil.copy2(layout.detokenize_dir / f"{tenant_id}.key", detokenize / f"{tenant_id}.key")
    shutil.copy2(layout.signing_key_file, signing / AUDIT_SIGNING_KEY_FILE)


def add_local_account(layout: Layout, admin_url: str, username: str, password: str) -> None:
    """``klikkflow gateway add-user`` with the gateway's Secret (its database and cookie secret)."""
    gateway_secret = read_env_file(secret_env_file(layout, GATEWAY_ENV_SECRET))
    env = operator_env(layout, admin_url, gateway_secret)
    args = ["gateway", "add-user", username, "--password-stdin"]
    run_cli(args, env, layout.log_file, layout.root, stdin=f"{password}\n")
