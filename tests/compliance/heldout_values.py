"""Value generators for the held-out labelled set (``tests/compliance/heldout_set.py``).

Written without reading the classifier's vocabularies, patterns or its own
labelled set. Every national identifier is drawn at random and kept only
when python-stdnum validates it (UK NINO: HMRC's allocation rules, stdnum has
none); phone numbers are kept only when ``phonenumbers`` calls them valid for
the country, so a ``PHONE_NUMBER`` label is never put on a number that could
not be dialled. Non-PII "trap" values that carry check digits (IMEI, ICCID,
ABA routing, Swedish organisation numbers, Polish NIP, ...) are valid too,
which is what makes them traps.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable
from datetime import date, datetime, timedelta

import phonenumbers
from faker import Faker
from stdnum import iban, luhn, verhoeff
from stdnum.de import idnr
from stdnum.fi import ytunnus
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.iso7064 import mod_11_10
from stdnum.nl import bsn
from stdnum.pl import nip
from stdnum.pt import nif as pt_nif
from stdnum.se import orgnr
from stdnum.us import itin, ptin, rtn, ssn

from tests.compliance.identifier_checks import STDNUM_CHECKS, nino_valid

Draw = Callable[[], str]


def until_valid(draw: Draw, check: Callable[[str], bool], tries: int = 5000) -> str:
    """The first drawn value that ``check`` accepts."""
    for _ in range(tries):
        value = draw()
        if check(value):
            return value
    raise RuntimeError(f"no valid value after {tries} draws")


def digits(rng: random.Random, n: int, first: str = "0123456789") -> str:
    """``n`` random digits, the first one from ``first``."""
    return rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(n - 1))


def with_blanks(rng: random.Random, values: list[str | None], share: float) -> list[str | None]:
    """``values`` with about ``share`` of the cells blanked (``None``)."""
    return [None if rng.random() < share else v for v in values]


# --- national identifiers (the 23 entities) -------------------------------------------------------


def uk_nino(rng: random.Random) -> str:
    """A UK National Insurance number with an allocatable prefix, written ``AB 12 34 56 C``."""

    def draw() -> str:
        letters = rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase)
        body = digits(rng, 6)
        return f"{letters} {body[:2]} {body[2:4]} {body[4:]} {rng.choice('ABCD')}"

    return until_valid(draw, nino_valid)


def uk_nhs(rng: random.Random) -> str:
    """An NHS number (mod 11) written ``943 476 5919``."""
    value = until_valid(lambda: digits(rng, 10, "3456789"), nhs.is_valid)
    return f"{value[:3]} {value[3:6]} {value[6:]}"


def de_idnr(rng: random.Random) -> str:
    """A German Steuer-Identifikationsnummer (one digit doubled among the first ten, mod 11,10)."""

    def draw() -> str:
        pool = list(string.digits)
        rng.shuffle(pool)
        first_ten = [*pool[:9], rng.choice(pool[:9])]
        rng.shuffle(first_ten)
        body = "".join(first_ten)
        return body + mod_11_10.calc_check_digit(body)

    return until_valid(draw, lambda v: v[0] != "0" and idnr.is_valid(v))


def us_ssn(rng: random.Random, dashes: bool = True) -> str:
    """A US SSN that passes stdnum (area, group and serial rules)."""
    value = until_valid(lambda: digits(rng, 9, "1234567"), ssn.is_valid)
    return f"{value[:3]}-{value[3:5]}-{value[5:]}" if dashes else value


def us_itin(rng: random.Random) -> str:
    """A US ITIN ``9XX-GG-SSSS`` that stdnum accepts."""
    value = until_valid(lambda: "9" + digits(rng, 8), itin.is_valid)
    return f"{value[:3]}-{value[3:5]}-{value[5:]}"


def us_passport(rng: random.Random) -> str:
    """A US passport book number: nine digits, or a letter and eight digits (next generation)."""
    if rng.random() < 0.5:
        return digits(rng, 9, "123456789")
    return rng.choice("ACEFGHJKLMNPRSTUVWXYZ") + digits(rng, 8)


def us_driver_license(rng: random.Random, state: str) -> str:
    """A driver licence number in the format the state prints."""
    if state == "CA":
        return rng.choice(string.ascii_uppercase) + digits(rng, 7)
    if state == "NY":
        d = digits(rng, 9, "123456789")
        return f"{d[:3]} {d[3:6]} {d[6:]}"
    if state == "FL":
        d = digits(rng, 12)
        return f"{rng.choice(string.ascii_uppercase)}{d[:3]}-{d[3:6]}-{d[6:8]}-{d[8:11]}-{d[11]}"
    if state == "IL":
        return rng.choice(string.ascii_uppercase) + digits(rng, 11)
    return digits(rng, 8, "123456789")  # TX, GA, ...


def in_aadhaar(rng: random.Random) -> str:
    """An Aadhaar number (Verhoeff) written ``2341 2341 2346``."""

    def draw() -> str:
        body = digits(rng, 11, "23456789")
        return body + verhoeff.calc_check_digit(body)

    value = until_valid(draw, aadhaar.is_valid)
    return f"{value[:4]} {value[4:8]} {value[8:]}"


def in_pan(rng: random.Random, surname: str) -> str:
    """An individual's PAN: fifth letter is the surname's initial, fourth is ``P``."""
    initial = next((c for c in surname.upper() if c in string.ascii_uppercase), "A")
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(3))
    value = f"{letters}P{initial}{digits(rng, 4, '123456789')}{rng.choice(string.ascii_uppercase)}"
    return until_valid(lambda: value, pan.is_valid, tries=1)


def from_faker(draw: Draw, check: Callable[[str], bool]) -> str:
    """A Faker-generated identifier that python-stdnum accepts."""
    return until_valid(draw, check)


CHECKS = STDNUM_CHECKS
"""python-stdnum's verdict per entity, used by the test that checks the set's own labels."""


# --- contact data ---------------------------------------------------------------------------------


def phone(fake: Faker, region: str) -> str:
    """A Faker phone number of the locale that ``phonenumbers`` calls valid for ``region``."""

    def check(value: str) -> bool:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(value, region))
        except phonenumbers.NumberParseException:
            return False

    return until_valid(fake.phone_number, check)


def in_mobile(rng: random.Random, prefix: str = "") -> str:
    """An Indian mobile number, ten digits starting 6-9, valid per ``phonenumbers``; ``prefix`` ``91``
    gives the MSISDN form operators store."""

    def check(value: str) -> bool:
        return phonenumbers.is_valid_number(phonenumbers.parse(value[-10:], "IN"))

    return prefix + until_valid(lambda: digits(rng, 10, "6789"), check)


def birth_date(fake: Faker, low: int = 18, high: int = 85) -> date:
    """A date of birth of an adult."""
    return fake.date_of_birth(minimum_age=low, maximum_age=high)


def one_line(address: str) -> str:
    """A multi-line Faker address as exports write it: lines joined with commas."""
    return ", ".join(part.strip() for part in address.splitlines() if part.strip())


# --- non-PII traps --------------------------------------------------------------------------------


def imei(rng: random.Random) -> str:
    """A 15-digit IMEI with its Luhn digit (looks like a card number to a naive check)."""
    body = rng.choice(["35", "86", "01", "49"]) + digits(rng, 12)
    return body + luhn.calc_check_digit(body)


def iccid(rng: random.Random) -> str:
    """A 19-digit SIM ICCID (89 + country code 91 + issuer + serial) with its Luhn digit."""
    body = "8991" + digits(rng, 14)
    return body + luhn.calc_check_digit(body)


def aba_routing(rng: random.Random) -> str:
    """A US bank routing transit number (3-7-1 checksum)."""
    return until_valid(lambda: digits(rng, 9, "0123"), rtn.is_valid)


def us_ptin(rng: random.Random) -> str:
    """A tax preparer's PTIN, ``P`` and eight digits."""
    return until_valid(lambda: "P" + digits(rng, 8), ptin.is_valid)


def se_orgnr(rng: random.Random) -> str:
    """A Swedish company organisation number ``556xxx-xxxx`` (Luhn)."""

    def draw() -> str:
        body = "55" + digits(rng, 7)
        return body + luhn.calc_check_digit(body)

    value = until_valid(draw, orgnr.is_valid)
    return f"{value[:6]}-{value[6:]}"


def fi_ytunnus(rng: random.Random) -> str:
    """A Finnish business ID ``1234567-8``."""
    value = until_valid(lambda: digits(rng, 8, "0123"), ytunnus.is_valid)
    return f"{value[:7]}-{value[7]}"


def nl_bsn(rng: random.Random) -> str:
    """A Dutch citizen service number (eleven test)."""
    return until_valid(lambda: digits(rng, 9, "123456"), bsn.is_valid)


def pl_nip(rng: random.Random) -> str:
    """A Polish company tax number written ``123-456-32-18``."""
    value = until_valid(lambda: digits(rng, 10, "123456789"), nip.is_valid)
    return f"{value[:3]}-{value[3:6]}-{value[6:8]}-{value[8:]}"


def pt_contribuinte(rng: random.Random) -> str:
    """A Portuguese NIF (número de contribuinte) of a person."""
    return until_valid(lambda: digits(rng, 9, "12"), pt_nif.is_valid)


def vin(rng: random.Random) -> str:
    """A 17-character vehicle identification number (no I, O, Q)."""
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return rng.choice(["1FT", "1HG", "2T1", "3VW", "5YJ", "WBA"]) + "".join(
        rng.choice(alphabet) for _ in range(14)
    )


def mac(rng: random.Random) -> str:
    """A MAC address ``a4:5e:60:1b:22:9f``."""
    return ":".join(f"{rng.randrange(256):02x}" for _ in range(6))


def sha256(rng: random.Random) -> str:
    """A hex SHA-256 digest."""
    return hashlib.sha256(rng.randbytes(16)).hexdigest()


def version(rng: random.Random) -> str:
    """A four-part firmware version ``4.12.0.3`` (shaped like an IPv4 address)."""
    return f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 250)}"


def ean13(rng: random.Random) -> str:
    """A 13-digit EAN barcode with its check digit (loyalty cards use them)."""
    body = "2" + digits(rng, 11)
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def reference(rng: random.Random, prefix: str, n: int, alphabet: str = string.digits) -> str:
    """A booking/ticket/claim reference such as ``BK-7K2Q9X``."""
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def moment(rng: random.Random, start: datetime, days: int) -> datetime:
    """A timestamp within ``days`` after ``start``, to the minute."""
    return start + timedelta(minutes=rng.randrange(days * 24 * 60))


def day(rng: random.Random, start: date, days: int) -> date:
    """A date within ``days`` after ``start``."""
    return start + timedelta(days=rng.randrange(days))


def gps(rng: random.Random, lat: float, lon: float) -> str:
    """``"59.91387, 10.75225"`` near a point."""
    return f"{lat + rng.uniform(-0.3, 0.3):.5f}, {lon + rng.uniform(-0.3, 0.3):.5f}"


def sentence(rng: random.Random, parts: list[list[str]]) -> str:
    """Free text without PII: one phrase from each list of alternatives."""
    return " ".join(rng.choice(options) for options in parts).strip()


# --- table helpers --------------------------------------------------------------------------------

Column = tuple[str, str | None, list]
"""A generated column: its name, its true entity (``None``: no PII) and its values."""


def n_of(rows: int, draw: Callable[[], object]) -> list:
    """``rows`` values, each drawn anew."""
    return [draw() for _ in range(rows)]


def grouped(value: str) -> str:
    """An IBAN or card number in groups of four, as printed."""
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def iban_of(fake: Faker) -> str:
    """A Faker IBAN of the locale's country that python-stdnum accepts."""
    return from_faker(fake.iban, iban.is_valid)
