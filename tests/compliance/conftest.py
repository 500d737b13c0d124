"""Compliance test fixtures. The network is blocked: only Unix-domain sockets may connect.

This proves that classification (spaCy/Presidio), enforcement, the IO
manager and the Great Expectations checks never download anything. The
PostgreSQL tests reach the real server through its Unix socket.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import polars as pl
import pytest
from faker import Faker

PG_SOCKET_DIR = os.environ.get("KLIKKFLOW_TEST_PG_SOCKET_DIR", "/var/run/postgresql")
TEST_KEY = "5f" * 32


class NetworkBlocked(OSError):
    """Raised when a compliance test tries to open a network connection."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every non-Unix socket connection for the duration of the test."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def guarded(method):  # type: ignore[no-untyped-def]
        def _connect(self: socket.socket, address: object) -> object:
            if self.family != socket.AF_UNIX:
                raise NetworkBlocked(f"network access blocked in compliance tests: {address!r}")
            return method(self, address)

        return _connect

    monkeypatch.setattr(socket.socket, "connect", guarded(original_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(original_connect_ex))


@pytest.fixture
def tenant_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A tenant master key in ``KLIKKFLOW_TENANT_KEY``."""
    monkeypatch.setenv("KLIKKFLOW_TENANT_KEY", TEST_KEY)
    return TEST_KEY


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the real PostgreSQL server, reached through its Unix socket."""
    if not os.path.exists(os.path.join(PG_SOCKET_DIR, ".s.PGSQL.5432")):
        pytest.skip(f"no PostgreSQL Unix socket in {PG_SOCKET_DIR}")
    import psycopg2

    name = f"kf_compliance_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=PG_SOCKET_DIR, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@/{name}?host={PG_SOCKET_DIR}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


# The labelled column set of the classification benchmark test.

LOCALES = ("en_US", "de_DE", "fr_FR", "no_NO", "en_GB", "es_ES")


def labelled_columns(rows: int = 300, seed: int = 7) -> tuple[pl.DataFrame, dict[str, str | None]]:
    """A frame of ``rows`` rows and the true entity of each column."""
    rng = random.Random(seed)
    Faker.seed(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    us = fakers["en_US"]
    columns: dict[str, list[object]] = {}
    labels: dict[str, str | None] = {}

    def add(name: str, entity: str | None, make) -> None:  # type: ignore[no-untyped-def]
        columns[name] = [make(i) for i in range(rows)]
        labels[name] = entity

    for loc, f in fakers.items():
        tag = loc.split("_")[0]
        add(f"email_{tag}", "EMAIL_ADDRESS", lambda i, f=f: f.email())
        add(f"telefon_{tag}", "PHONE_NUMBER", lambda i, f=f: f.phone_number())
        add(f"iban_{tag}", "IBAN_CODE", lambda i, f=f: f.iban())
    add("kunde", "PERSON", lambda i: fakers["de_DE"].name())
    add("nom", "PERSON", lambda i: fakers["fr_FR"].name())
    add("full_name", "PERSON", lambda i: us.name())
    add("navn", "PERSON", lambda i: fakers["no_NO"].name())
    add("contact", "PERSON", lambda i: fakers["en_GB"].name())
    add("col_17", "PERSON", lambda i: us.name())  # no name signal: values alone
    add("value_a", "EMAIL_ADDRESS", lambda i: us.email())  # no name signal
    add("ssn", "US_SSN", lambda i: us.ssn())
    add("tax_ref", "US_SSN", lambda i: us.ssn())
    add("card_number", "CREDIT_CARD", lambda i: us.credit_card_number())
    add("payment_ref", "CREDIT_CARD", lambda i: us.credit_card_number(card_type="visa16"))
    add("client_ip", "IP_ADDRESS", lambda i: us.ipv4())
    add("host_v6", "IP_ADDRESS", lambda i: us.ipv6())
    add("address", "LOCATION", lambda i: us.address().replace("\n", ", "))
    add("adresse", "LOCATION", lambda i: fakers["de_DE"].address().replace("\n", ", "))
    add("adresse_fr", "LOCATION", lambda i: fakers["fr_FR"].address().replace("\n", ", "))
    add("date_of_birth", "DATE_OF_BIRTH", lambda i: us.date_of_birth().isoformat())
    add("geburtsdatum", "DATE_OF_BIRTH", lambda i: fakers["de_DE"].date_of_birth())
    # Tricky non-PII columns.
    add("order_id", None, lambda i: 100_000_000 + rng.randrange(899_999_999))  # 9-digit ids
    add("account_no", None, lambda i: str(rng.randrange(10**8, 10**9)))  # 9-digit id strings
    add("big_id", None, lambda i: rng.randrange(10**15, 10**16))  # 16-digit ids, 10% pass Luhn
    add("amount", None, lambda i: round(rng.uniform(1, 99_999), 2))
    add("amount_text", None, lambda i: f"{rng.uniform(1, 9_999_999):.2f}")
    add("total_cents", None, lambda i: rng.randrange(100, 10**10))
    add("created_at", None, lambda i: us.date_time().isoformat(sep=" "))
    add("event_date", None, lambda i: us.date())
    add("request_id", None, lambda i: us.uuid4())
    add("sha256", None, lambda i: hashlib.sha256(str(i).encode()).hexdigest())
    add("md5", None, lambda i: hashlib.md5(str(i).encode()).hexdigest())
    add("sku", None, lambda i: us.bothify("SKU-####-??").upper())
    add("product_code", None, lambda i: us.bothify("??-####-###").upper())
    add("status", None, lambda i: rng.choice(["active", "suspended", "closed", "pending"]))
    add("country_code", None, lambda i: rng.choice(["NO", "DE", "FR", "US", "GB", "ES"]))
    add("licence_class", None, lambda i: rng.choice(["A1", "B", "BE", "C1", "D"]))
    add("description", None, lambda i: us.sentence(nb_words=12))
    add("comment", None, lambda i: fakers["en_GB"].paragraph(nb_sentences=3))
    add("product_name", None, lambda i: us.catch_phrase())
    add("version", None, lambda i: f"{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(100)}")
    add("percentage", None, lambda i: f"{rng.uniform(0, 100):.1f}%")
    add("latency_ms", None, lambda i: rng.randrange(1, 5000))
    add("flag", None, lambda i: rng.random() < 0.5)
    frame = pl.DataFrame({name: pl.Series(name, values, strict=False) for name, values in columns.items()})
    return frame, labels


@pytest.fixture(scope="session")
def labelled() -> object:
    """The :func:`labelled_columns` generator."""
    return labelled_columns


_RELEASE_PREAMBLE = """
import os, sys
def wait_for_release():
    # tell the parent this process is ready, then block until it releases every child at once
    os.write(int(sys.argv[1]), b"r")
    os.read(int(sys.argv[2]), 1)
"""


def _run_together(code: str, count: int, env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    project_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child_env = {**(os.environ if env is None else env), "PYTHONPATH": project_root}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _RELEASE_PREAMBLE + code, str(ready_write), str(go_read)],
            pass_fds=(ready_write, go_read),
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    os.close(ready_write)
    os.close(go_read)
    try:
        for _ in range(count):  # a child that dies before it is ready closes its end: read returns b""
            if os.read(ready_read, 1) != b"r":
                break
    finally:
        os.close(go_write)  # release every child at the same instant
        os.close(ready_read)
    results = []
    for child in children:
        out, err = child.communicate(timeout=300)
        results.append((child.returncode, out, err))
    return results


@pytest.fixture(scope="session")
def run_together() -> Callable[..., list[tuple[int, str, str]]]:
    """``run_together(code, count, env=None)``: ``count`` real Python processes run ``code``.

    Each child blocks in ``wait_for_release()`` until all are ready, then all
    continue at the same instant. ``env`` replaces the environment (default: this
    one). Returns (exit code, stdout, stderr) per child. The children are not
    under this module's network block.
    """
    return _run_together
