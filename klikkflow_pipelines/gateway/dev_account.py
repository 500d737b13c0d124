"""The laptop sign-in of ``klikkflow dev``: one local account, platform owner, created on first start.

The account (``dev``) is a platform owner in the gateway store (admin of every tenant the
gateway serves, tenants added later included) — no tenant file is edited. Its random password
is written once to ``$KLIKKFLOW_HOME/dev-credentials`` (mode 0600, readable by you only);
later starts read it from there and print where it is. Delete that file and the account
(or the whole ``$KLIKKFLOW_HOME``) to get a new one. ``klikkflow dev`` refuses to listen on
a non-loopback address while this account exists unless told ``--allow-remote``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from klikkflow_pipelines.gateway.accounts import Accounts
from klikkflow_pipelines.gateway.store import GatewayStore

DEV_USER = "dev"
CREDENTIALS_FILE = "dev-credentials"


@dataclass(frozen=True)
class DevAccount:
    """The dev sign-in: name, password (None when the account was made by hand), where it is kept, and
    whether this start created it."""

    username: str
    password: str | None
    path: Path
    created: bool


def read_credentials(path: Path) -> tuple[str, str]:
    """``(username, password)`` from a credentials file (``user: ...`` and ``password: ...`` lines)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        values[key.strip()] = value.strip()
    if not values.get("user") or not values.get("password"):
        raise ValueError(
            f"{path}: no 'user:' and 'password:' lines. "
            "Fix: delete the file; the next start makes a new account"
        )
    return values["user"], values["password"]


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 (never readable by others, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def ensure_dev_account(store: GatewayStore, home: Path) -> DevAccount:
    """The dev account, created (with a random password saved under ``home``) when it does not exist.

    With a credentials file, the account is (re)created from it if the gateway database lost it.
    Without one, an existing ``dev`` account (made with ``klikkflow gateway add-user``) is left
    as it is and its password is not known here.
    """
    path = home / CREDENTIALS_FILE
    accounts = Accounts(store)
    if path.exists():
        os.chmod(path, 0o600)
        username, password = read_credentials(path)
        user = store.get_user(username)
        if user is None or not user["is_owner"]:
            accounts.create_user(username, password, owner=True)
        return DevAccount(username, password, path, created=False)
    if store.get_user(DEV_USER) is not None:
        return DevAccount(DEV_USER, None, path, created=False)
    password = secrets.token_urlsafe(18)
    # The file first: a crash before the account exists is mended by the next start (above).
    _write_private(path, f"user: {DEV_USER}\npassword: {password}\n")
    accounts.create_user(DEV_USER, password, owner=True)
    return DevAccount(DEV_USER, password, path, created=True)
