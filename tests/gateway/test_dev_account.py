"""The dev sign-in account of ``klikkflow dev``: created once, kept in a 0600 file, mended after a crash."""

from __future__ import annotations

import stat
from pathlib import Path

from klikkflow_pipelines.gateway.accounts import Accounts
from klikkflow_pipelines.gateway.dev_account import CREDENTIALS_FILE, DEV_USER, ensure_dev_account
from klikkflow_pipelines.gateway.store import GatewayStore


def _store(tmp_path: Path) -> GatewayStore:
    return GatewayStore(f"sqlite:///{tmp_path / 'gateway.db'}")


def test_first_start_creates_an_owner_and_a_private_file_later_starts_reuse_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = ensure_dev_account(store, tmp_path)
    assert first.created and first.username == DEV_USER and first.password
    assert stat.S_IMODE((tmp_path / CREDENTIALS_FILE).stat().st_mode) == 0o600
    assert store.get_user(DEV_USER)["is_owner"]
    assert Accounts(store).check_password(DEV_USER, first.password).status == "ok"
    again = ensure_dev_account(store, tmp_path)
    assert (again.created, again.password) == (False, first.password)


def test_a_crash_after_the_file_was_written_is_mended_by_the_next_start(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (tmp_path / CREDENTIALS_FILE).write_text("user: dev\npassword: left-by-a-crash\n", encoding="utf-8")
    assert store.get_user(DEV_USER) is None  # the crash came before the account was created
    account = ensure_dev_account(store, tmp_path)
    assert account.password == "left-by-a-crash" and not account.created
    assert Accounts(store).check_password(DEV_USER, "left-by-a-crash").status == "ok"


def test_a_hand_made_dev_account_is_left_alone(tmp_path: Path) -> None:
    store = _store(tmp_path)
    Accounts(store).create_user(DEV_USER, "chosen-by-hand-123")
    account = ensure_dev_account(store, tmp_path)
    assert account.password is None and not (tmp_path / CREDENTIALS_FILE).exists()
    assert Accounts(store).check_password(DEV_USER, "chosen-by-hand-123").status == "ok"
