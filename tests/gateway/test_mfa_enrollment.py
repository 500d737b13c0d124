"""Two-factor enrolment by attack: a cross-site GET that turned MFA off, activation without CSRF or
without a code from the new secret, re-enrolment by someone holding only the session, and TOTP
secrets readable from a copy of the platform database."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pyotp
from sqlalchemy import inspect, text

from .conftest import LiveGateway
from .helpers import (
    PASSWORD,
    enroll_totp,
    hidden_fields,
    page_csrf,
    sign_in,
    sign_in_with_totp,
    totp_of_page,
)


def account_rows(live: LiveGateway, username: str) -> dict[str, list[tuple]]:
    """Every platform-database row that names ``username`` (users, secrets, codes, sessions, tokens)."""
    engine = live.gateway.store.engine
    rows = {}
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            columns = [c["name"] for c in inspect(engine).get_columns(table)]
            if "username" in columns:
                query = text(f"SELECT * FROM {table} WHERE username = :u ORDER BY 1")
                rows[table] = [tuple(r) for r in conn.execute(query, {"u": username})]
    return rows


def database_dump(live: LiveGateway) -> str:
    """Every value in every table of the platform database, as one text."""
    engine = live.gateway.store.engine
    with engine.connect() as conn:
        return "\n".join(
            repr(tuple(row))
            for table in inspect(engine).get_table_names()
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )


def test_get_of_the_mfa_page_does_not_turn_mfa_off(live_gateway: LiveGateway) -> None:
    """Attack: a link from another site opens /account/mfa in the victim's session (SameSite=Lax
    cookies go along); the next sign-in then needed only the password."""
    live_gateway.gateway.accounts.create_user("gabe", PASSWORD)
    client = live_gateway.login("gabe")
    enroll_totp(client)
    before = account_rows(live_gateway, "gabe")
    for _ in range(2):
        assert client.get("/account/mfa").status_code == 200
    assert account_rows(live_gateway, "gabe") == before  # a GET changed nothing
    pending = sign_in(live_gateway.client(), "gabe", PASSWORD)
    assert pending.status_code == 303 and pending.headers["location"] == "/login/mfa"


def test_new_secret_needs_csrf_a_code_from_it_and_a_current_code(live_gateway: LiveGateway) -> None:
    """Attack: someone with the victim's session (or a forged form) swaps in their own authenticator."""
    live_gateway.gateway.accounts.create_user("hugo", PASSWORD)
    client = live_gateway.login("hugo")
    old, recovery = enroll_totp(client)
    page = client.get("/account/mfa")
    form, new = hidden_fields(page.text), totp_of_page(page.text)
    assert new.secret != old.secret
    now = time.time()
    before = account_rows(live_gateway, "hugo")
    no_csrf = {k: v for k, v in form.items() if k != "csrf_token"}
    tampered = form.get("pending", "")[:-4] + "AAAA"
    attempts = {
        "no CSRF token": ({**no_csrf, "code": new.at(now), "current_code": old.at(now)}, 403),
        "forged CSRF token": ({**form, "csrf_token": "x" * 43, "code": new.at(now)}, 403),
        "wrong code": ({**form, "code": "000000" if new.at(now) != "000000" else "111111"}, 400),
        "code of the old secret": ({**form, "code": old.at(now), "current_code": old.at(now)}, 400),
        "no current code": ({**form, "code": new.at(now)}, 400),
        "wrong current code": ({**form, "code": new.at(now), "current_code": "12345"}, 400),
        "tampered sealed secret": ({**form, "pending": tampered, "code": new.at(now)}, 400),
    }
    for attack, (data, status) in attempts.items():
        answer = client.post("/account/mfa", data=data)
        assert answer.status_code == status, (attack, answer.status_code, answer.text)
        assert account_rows(live_gateway, "hugo") == before, attack

    # With a current code (here a recovery code) and a code of the new secret it is replaced.
    done = client.post("/account/mfa", data={**form, "code": new.at(now), "current_code": recovery[0]})
    assert done.status_code == 200, done.text
    assert sign_in_with_totp(live_gateway.client(), "hugo", old, time.time() + 30).status_code == 401
    assert sign_in_with_totp(live_gateway.client(), "hugo", new, time.time() + 30).status_code == 303


def test_totp_secrets_are_encrypted_at_rest(live_gateway: LiveGateway) -> None:
    """Attack: a copy of the platform database (a backup, a read-only SQL account) yields every
    account's second factor."""
    live_gateway.gateway.accounts.create_user("sara", PASSWORD)
    totp, _ = enroll_totp(live_gateway.login("sara"))
    dump = database_dump(live_gateway)
    assert totp.secret not in dump and totp.secret.lower() not in dump
    assert sign_in_with_totp(live_gateway.client(), "sara", totp, time.time()).status_code == 303


def test_clear_totp_secret_of_an_old_database_is_encrypted_at_the_next_sign_in(
    live_gateway: LiveGateway,
) -> None:
    """A row written before encryption keeps working; the sign-in POST (never a GET) encrypts it."""
    gw = live_gateway.gateway
    gw.accounts.create_user("olga", PASSWORD)
    secret = pyotp.random_base32()
    gw.store.upsert_user("olga", totp_secret=secret, totp_enabled=True)  # as the old code stored it
    client = live_gateway.client()
    assert sign_in(client, "olga", PASSWORD).headers["location"] == "/login/mfa"
    page = client.get("/login/mfa")
    assert secret in database_dump(live_gateway)  # neither the password step nor a GET rewrote it
    code = pyotp.TOTP(secret).at(time.time())
    done = client.post("/login/mfa", data={"csrf_token": page_csrf(page.text), "code": code})
    assert done.status_code == 303
    assert secret not in database_dump(live_gateway)
    again = sign_in_with_totp(live_gateway.client(), "olga", pyotp.TOTP(secret), time.time() + 30)
    assert again.status_code == 303


def test_two_gateway_processes_on_postgres_accept_a_code_once(fresh_database) -> None:  # type: ignore[no-untyped-def]
    """Attack: replaying a just-used code to another gateway replica (shared Postgres platform database);
    re-enrolling twice at once leaves one encrypted secret."""
    from klikkflow_pipelines.gateway.accounts import Accounts
    from klikkflow_pipelines.gateway.store import GatewayStore

    with fresh_database("gwtotp") as url:
        one, two = (Accounts(GatewayStore(url), secret_key="p" * 48) for _ in range(2))
        one.create_user("pia", PASSWORD)
        now = time.time()
        offer = one.offer_enrollment("pia", "session-1")
        totp = totp_of_page(f'<code id="totp-uri">{offer.uri}</code>')
        one.complete_enrollment("pia", "session-1", offer.sealed, totp.at(now - 30), "", "10.0.0.1")
        code = totp.at(now)
        assert two.verify_totp("pia", code, now=now)
        assert not one.verify_totp("pia", code, now=now)  # used once, on any replica
        # re-enrolled on one replica, then on the other: one row, encrypted, no code usable twice
        codes = one.complete_enrollment("pia", "session-1", offer.sealed, code, totp.at(now + 30), "10.0.0.1")
        two.complete_enrollment("pia", "session-1", offer.sealed, code, codes[0], "10.0.0.1")
        assert not two.verify_totp("pia", totp.at(now + 30), now=now)
        with one.store.engine.connect() as conn:
            rows = conn.execute(text("SELECT ciphertext FROM gateway_totp_secrets")).all()
        assert len(rows) == 1 and totp.secret not in rows[0][0]
        for accounts in (one, two):
            accounts.store.engine.dispose()


def confirm_twice_at_once(client: httpx.Client) -> tuple[list[str], list[httpx.Response]]:
    """Open the enrolment page twice, then post both forms (each with a code of its own secret) at once."""
    pages = [client.get("/account/mfa").text for _ in range(2)]
    forms = [{**hidden_fields(page), "code": totp_of_page(page).now()} for page in pages]
    answers: list = [None, None]
    start = threading.Barrier(2)

    def confirm(i: int) -> None:
        start.wait()
        answers[i] = client.post("/account/mfa", data=forms[i])

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pages, answers


def test_two_enrolment_posts_at_once_activate_one_secret_and_show_only_its_codes(
    live_gateway: LiveGateway,
) -> None:
    """Attack (race): two confirmations of the enrolment page at once (two tabs, or a double submit)
    both answered "enrolled" with recovery codes, but only the later secret and codes were kept: the
    user was shown ten recovery codes that do not work, and possibly scanned the secret that lost."""
    gw = live_gateway.gateway
    for attempt in range(4):  # a race: tried a few times, it must hold every time
        username = f"twin{attempt}"
        gw.accounts.create_user(username, PASSWORD)
        pages, answers = confirm_twice_at_once(live_gateway.login(username))
        enrolled = [i for i in range(2) if answers[i].status_code == 200]
        assert len(enrolled) == 1, [a.status_code for a in answers]
        assert answers[1 - enrolled[0]].status_code == 400
        codes = re.findall(r"<code>([0-9a-f]{8}-[0-9a-f]{8})</code>", answers[enrolled[0]].text)
        assert len(codes) == 10 and gw.accounts.use_recovery_code(username, codes[0])
        totp = totp_of_page(pages[enrolled[0]])
        assert sign_in_with_totp(live_gateway.client(), username, totp, time.time() + 30).status_code == 303
