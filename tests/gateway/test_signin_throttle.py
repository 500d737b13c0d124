"""Sign-in throttling by attack: telling which accounts exist from the lockout, locking someone else's
account from afar, guessing one account's password, spraying one password over many accounts."""

from __future__ import annotations

import re
import threading
import time

import httpx

from klikkflow_pipelines.gateway.store import GatewayStore

from .conftest import LiveGateway
from .helpers import PASSWORD, login_form_csrf, sign_in

WRONG = "wrong password!"


def from_address(live: LiveGateway, address: str) -> httpx.Client:
    """A client whose requests come from ``address`` (another loopback address: another source)."""
    return live.client(transport=httpx.HTTPTransport(local_address=address))


def answer_shape(response: httpx.Response) -> tuple[int, str, str | None]:
    """Status, body without its per-request CSRF token, and Retry-After."""
    body = re.sub(r'value="[^"]{20,}"', 'value="-"', response.text)
    return response.status_code, body, response.headers.get("retry-after")


def test_unknown_and_known_accounts_answer_alike_under_repeated_failures(live_gateway: LiveGateway) -> None:
    """Attack: failing repeatedly on a name showed 401 x4 then 423 for real accounts, 401 forever
    otherwise, so the lockout told which accounts exist."""
    live_gateway.gateway.accounts.create_user("kim", PASSWORD)
    shapes: dict[str, list] = {"kim": [], "kim-nobody": []}
    timings: dict[str, list[float]] = {"kim": [], "kim-nobody": []}
    # each name from its own address, one after the other: Retry-After counts down from the try that
    # started the back-off, so both sequences must run alike for their answers to compare
    for name, address in zip(shapes, ("127.0.0.21", "127.0.0.22"), strict=True):
        client = from_address(live_gateway, address)
        for _ in range(live_gateway.gateway.settings.max_failed_logins + 2):
            started = time.perf_counter()
            response = sign_in(client, name, WRONG)
            timings[name].append(time.perf_counter() - started)
            shapes[name].append(answer_shape(response))
    assert shapes["kim"] == shapes["kim-nobody"]
    assert {status for status, _, _ in shapes["kim"]} == {401, 429}  # throttled alike, not "locked"
    free = live_gateway.gateway.settings.max_failed_logins
    known, unknown = (min(t[:free]) for t in timings.values())  # the fastest real check: least noise
    assert abs(known - unknown) < max(0.03, 0.5 * max(known, unknown)), (known, unknown)


def test_a_stranger_failing_from_elsewhere_cannot_lock_the_owner_out(live_gateway: LiveGateway) -> None:
    """Attack: anyone who knew a user name could lock that account for everyone with 5 bad passwords."""
    live_gateway.gateway.accounts.create_user("omar", PASSWORD)
    stranger = from_address(live_gateway, "127.0.0.31")
    for _ in range(3 * live_gateway.gateway.settings.max_failed_logins):
        assert sign_in(stranger, "omar", WRONG).status_code in (401, 429)
    assert sign_in(stranger, "omar", PASSWORD).status_code == 429  # the stranger is held off
    owner = from_address(live_gateway, "127.0.0.32")
    assert sign_in(owner, "omar", PASSWORD).status_code == 303


def test_guessing_one_password_from_one_source_is_held_off(live_gateway: LiveGateway) -> None:
    """Attack: brute force of one account's password from one address."""
    gw = live_gateway.gateway
    gw.accounts.create_user("bert", PASSWORD)
    client = from_address(live_gateway, "127.0.0.41")
    for _ in range(gw.settings.max_failed_logins):
        assert sign_in(client, "bert", WRONG).status_code == 401
    held = sign_in(client, "bert", PASSWORD)  # even the right password is not tried while held off
    assert held.status_code == 429 and int(held.headers["retry-after"]) >= 1
    assert "kf_session" not in held.headers.get("set-cookie", "")
    actions = [(e.action, e.outcome) for e in gw.platform_audit.entries() if e.actor == "bert"]
    assert ("signin.throttled", "failure") in actions and ("signin", "success") not in actions


def test_spraying_many_accounts_from_one_source_is_held_off(live_gateway: LiveGateway) -> None:
    """Attack: one password tried once against many accounts (no single account sees many failures)."""
    live_gateway.gateway.accounts.create_user("sprayed", PASSWORD)
    client = from_address(live_gateway, "127.0.0.51")
    statuses = [sign_in(client, f"user{i}", WRONG).status_code for i in range(30)]
    assert 429 in statuses and statuses[-1] == 429
    assert sign_in(client, "sprayed", PASSWORD).status_code == 429
    assert sign_in(from_address(live_gateway, "127.0.0.52"), "sprayed", PASSWORD).status_code == 303


def test_back_off_doubles_per_account_and_source_and_a_success_resets_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from klikkflow_pipelines.gateway.signin_throttle import SigninThrottle

    throttle = SigninThrottle(GatewayStore(f"sqlite:///{tmp_path / 'gw.db'}"), free_failures=3)
    now = 1_000_000.0
    for _ in range(3):
        assert throttle.attempt("ann", "10.0.0.1", now) == 0  # tried (and counted as failed)
    waits = []
    for _ in range(4):
        wait = throttle.attempt("ann", "10.0.0.1", now)  # held off: not tried, not counted
        waits.append(wait)
        now += wait
        assert throttle.attempt("ann", "10.0.0.1", now) == 0
    assert waits[0] > 0 and waits[1:] == [2 * w for w in waits[:-1]]
    assert throttle.attempt("ann", "10.0.0.2", now) == 0  # another source is not held off
    now += throttle.attempt("ann", "10.0.0.1", now)
    assert throttle.attempt("ann", "10.0.0.1", now) == 0
    throttle.passed("ann", "10.0.0.1", complete=True, now=now)
    assert throttle.attempt("ann", "10.0.0.1", now) == 0


def test_failures_from_concurrent_processes_are_all_counted(fresh_database) -> None:  # type: ignore[no-untyped-def]
    """Two gateway processes share the platform database: no try is lost between them, and tries at
    the same moment on both get no further than the back-off allows."""
    from klikkflow_pipelines.gateway.signin_throttle import SigninThrottle

    with fresh_database("throttle") as url:
        stores = [GatewayStore(url), GatewayStore(url)]
        throttles = [SigninThrottle(store, free_failures=50, source_failures=1000) for store in stores]
        tried: list[bool] = []

        def hammer(throttle) -> None:  # type: ignore[no-untyped-def]
            for _ in range(30):
                tried.append(throttle.attempt("zed", "10.0.0.9", 1_000_000.0) == 0)

        threads = [threading.Thread(target=hammer, args=(t,)) for t in throttles]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert tried.count(True) == 50  # every try counted once, none past the 50th
        for store in stores:
            store.engine.dispose()


PROXY = "127.0.0.71"  # the reverse proxy (ingress) in front of the gateway, by its loopback address


def via_proxy(live: LiveGateway, client_address: str) -> httpx.Client:
    """A client whose requests reach the gateway through the proxy, which appends the client's address."""
    return httpx.Client(
        base_url=live.url,
        timeout=30,
        transport=httpx.HTTPTransport(local_address=PROXY),
        headers={"x-forwarded-for": client_address},
    )


def test_behind_a_trusted_proxy_one_client_cannot_lock_out_the_others(
    live_gateway: LiveGateway, variant_gateway
) -> None:
    """Attack: behind an ingress every request came from the proxy's address, so one client spraying
    wrong passwords (or failing on one account) held off everybody's sign-in, the owner's too."""
    live_gateway.gateway.accounts.create_user("ingrid", PASSWORD)
    with variant_gateway(trusted_proxies=(f"{PROXY}/32",)) as live:
        attacker = via_proxy(live, "203.0.113.5")
        statuses = [sign_in(attacker, name, WRONG).status_code for name in ["ingrid"] * 6 + ["x"] * 24]
        assert statuses[-1] == 429
        assert sign_in(via_proxy(live, "198.51.100.7"), "ingrid", PASSWORD).status_code == 303
        entries = [e for e in live.gateway.platform_audit.entries() if e.actor == "ingrid"]
        assert {e.source for e in entries} >= {"203.0.113.5", "198.51.100.7"}


def test_forwarded_for_is_honoured_only_from_a_trusted_proxy_and_only_its_own_entry(
    live_gateway: LiveGateway, variant_gateway
) -> None:
    """Attack: X-Forwarded-For spoofing. A client sends a new made-up address with every attempt to
    get a fresh throttle source each time: directly (the peer is no trusted proxy), or through the
    proxy (which appends the real address: only the right-most untrusted entry counts)."""
    gw = live_gateway.gateway
    gw.accounts.create_user("xavier", PASSWORD)
    free = gw.settings.max_failed_logins

    def statuses(client_for) -> list[int]:  # type: ignore[no-untyped-def]
        return [sign_in(client_for(i), "xavier", WRONG).status_code for i in range(free + 2)]

    direct = statuses(lambda i: live_gateway.client(headers={"x-forwarded-for": f"10.9.8.{i}"}))
    assert direct[-1] == 429, direct
    with variant_gateway(trusted_proxies=(f"{PROXY}/32",)) as live:
        spoofed = statuses(lambda i: via_proxy(live, f"10.9.7.{i}, 192.0.2.44"))
        assert spoofed[-1] == 429, spoofed
        assert sign_in(via_proxy(live, "192.0.2.45"), "xavier", PASSWORD).status_code == 303


def test_a_malformed_trusted_proxy_setting_is_refused_with_its_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from klikkflow_pipelines.gateway.settings import settings_from_env

    monkeypatch.setenv("KLIKKFLOW_GATEWAY_SECRET", "k" * 48)
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5 ,fd00::/8")
    assert settings_from_env().trusted_proxies == ("10.0.0.0/8", "192.168.1.5/32", "fd00::/8")
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8,ingress.local")
    try:
        settings_from_env()
    except ValueError as error:
        assert "KLIKKFLOW_GATEWAY_TRUSTED_PROXIES" in str(error) and "ingress.local" in str(error)
    else:
        raise AssertionError("a host name was accepted as a trusted proxy")


def test_concurrent_wrong_passwords_get_no_more_tries_than_the_back_off_allows(
    live_gateway: LiveGateway,
) -> None:
    """Attack (race): send many wrong passwords for one account at the same moment. Each was checked
    against the back-off before any failure had been counted, so all were tried: a burst per back-off
    period instead of one try."""
    gw = live_gateway.gateway
    gw.accounts.create_user("conny", PASSWORD)
    free, burst = gw.settings.max_failed_logins, 16
    clients = [from_address(live_gateway, "127.0.0.81") for _ in range(burst)]
    forms = [login_form_csrf(client) for client in clients]
    start = threading.Barrier(burst)
    statuses: list[int] = []

    def guess(i: int) -> None:
        start.wait()
        data = {"username": "conny", "password": f"guess {i}", "csrf_token": forms[i], "next": "/"}
        statuses.append(clients[i].post("/login", data=data).status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(401) == free and statuses.count(429) == burst - free, sorted(statuses)
    assert sign_in(clients[0], "conny", PASSWORD).status_code == 429


def test_a_name_no_account_can_have_is_answered_like_an_unknown_one_on_postgres(fresh_database) -> None:  # type: ignore[no-untyped-def]
    """Attack: a user name with a NUL character (``%00`` in the form) made PostgreSQL refuse the
    account lookup: a 500 instead of the answer every unknown name gets."""
    from klikkflow_pipelines.gateway.accounts import Accounts

    with fresh_database("gwnul") as url:
        accounts = Accounts(GatewayStore(url), secret_key="n" * 48)
        accounts.create_user("nula", PASSWORD)
        for name in ("nu\x00la", "nula\x00", "\x00"):
            assert accounts.check_password(name, PASSWORD, "10.0.0.7").status == "bad", repr(name)
        assert accounts.check_password("nula", PASSWORD, "10.0.0.8").status == "ok"
        accounts.store.engine.dispose()


def test_rotating_ipv6_addresses_of_one_network_share_one_source(
    live_gateway: LiveGateway, variant_gateway
) -> None:
    """Attack: an IPv6 client owns a whole /64 (2^64 addresses) and uses a new address for every
    wrong password, so each try came from a "new" source that had no back-off."""
    live_gateway.gateway.accounts.create_user("ipsa", PASSWORD)
    free = live_gateway.gateway.settings.max_failed_logins
    with variant_gateway(trusted_proxies=(f"{PROXY}/32",)) as live:
        tries = [sign_in(via_proxy(live, f"2001:db8:1:2::{i:x}"), "ipsa", WRONG) for i in range(free + 2)]
        assert [t.status_code for t in tries][-1] == 429, [t.status_code for t in tries]
        assert sign_in(via_proxy(live, "2001:db8:1:3::5"), "ipsa", PASSWORD).status_code == 303
