"""Value makers and validity checks of the second held-out set (``heldout2_set.py``).

Written from the entity definitions and python-stdnum/phonenumbers only, not
from the classifier's vocabularies, patterns or tuning sets. Every identifier
is made valid by construction and checked again by :data:`CHECKS`.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from typing import Any

import phonenumbers
import polars as pl
from faker import Faker
from stdnum import ean, iban, imei, isbn
from stdnum.de import idnr
from stdnum.es import nie, nif
from stdnum.gb import nhs
from stdnum.in_ import aadhaar

from tests.compliance.identifier_checks import STDNUM_CHECKS, nino_valid
from tests.compliance.labelled_set import LabelledTable

UPPER = string.ascii_uppercase


def _us_passport_ok(value: str) -> bool:
    v = value.strip()
    return len(v) == 9 and (v.isdigit() or (v[0].isalpha() and v[1:].isdigit()))


CHECKS: dict[str, Callable[[str], bool]] = {**STDNUM_CHECKS, "US_PASSPORT": _us_passport_ok}


class TableBuilder:
    """Columns of one table, their labels, and a seeded Faker and ``random.Random`` to make them."""

    def __init__(self, name: str, locale: str, rows: int, seed: int) -> None:
        self.name, self.locale, self.rows = name, locale, rows
        self.fake = Faker(locale)
        self.fake.seed_instance(seed)
        self.rng = random.Random(seed)
        self.columns: dict[str, list[Any]] = {}
        self.labels: dict[str, str | None] = {}

    def many(self, make: Callable[[], Any]) -> list[Any]:
        """``make()`` once per row."""
        return [make() for _ in range(self.rows)]

    def mask(self, share: float) -> list[bool]:
        """Per row, True with probability ``share`` (which rows of a column are blank)."""
        return [self.rng.random() < share for _ in range(self.rows)]

    def add(
        self,
        column: str,
        entity: str | None,
        values: Sequence[Any] | Callable[[], Any],
        blanks: float | Sequence[bool] = 0.0,
    ) -> None:
        """Add a column: values (or a maker), with a share of blank cells or an explicit blank mask."""
        cells = list(values) if not callable(values) else self.many(values)
        blank = self.mask(blanks) if isinstance(blanks, float) else list(blanks)
        self.columns[column] = [None if b else v for v, b in zip(cells, blank, strict=True)]
        self.labels[column] = entity

    def table(self) -> LabelledTable:
        """The finished table."""
        frame = pl.DataFrame({c: pl.Series(c, v, strict=False) for c, v in self.columns.items()})
        return LabelledTable(self.name, self.locale, frame, dict(self.labels))


# Phone numbers: only numbers phonenumbers says are valid for their region are kept.


def _valid_for(number: phonenumbers.PhoneNumber, region: str) -> bool:
    return phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == region


_STYLES = {
    "national": phonenumbers.PhoneNumberFormat.NATIONAL,
    "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    "e164": phonenumbers.PhoneNumberFormat.E164,
}


def phone(make: Callable[[], str], region: str, style: str = "raw") -> str:
    """A number from ``make`` valid for ``region`` (no extension), as made or in a phonenumbers style."""
    for _ in range(500):
        raw = make()
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if _valid_for(number, region) and not number.extension:
            return raw if style == "raw" else phonenumbers.format_number(number, _STYLES[style])
    raise RuntimeError(f"no valid {region} number from the maker")


def digits(rng: random.Random, n: int) -> str:
    """``n`` random decimal digits."""
    return "".join(rng.choice(string.digits) for _ in range(n))


def letters(rng: random.Random, n: int) -> str:
    """``n`` random capital letters."""
    return "".join(rng.choice(UPPER) for _ in range(n))


def _complete(body: str, alphabet: str, is_valid: Callable[[str], bool]) -> str | None:
    """``body`` plus the check character from ``alphabet`` that makes it valid, if one does."""
    return next((body + c for c in alphabet if is_valid(body + c)), None)


def checked(make_body: Callable[[], str], alphabet: str, is_valid: Callable[[str], bool]) -> str:
    """A valid identifier: a body from ``make_body`` completed with its check character."""
    while (value := _complete(make_body(), alphabet, is_valid)) is None:
        pass
    return value


# National identifiers, each valid per python-stdnum (NINO: HMRC's prefix rules).


def uk_nhs(rng: random.Random) -> str:
    """An NHS number written 3-3-4 with spaces."""
    v = checked(lambda: rng.choice("456789") + digits(rng, 8), string.digits, nhs.is_valid)
    return f"{v[:3]} {v[3:6]} {v[6:]}"


def uk_nino(rng: random.Random) -> str:
    """A National Insurance number written ``AB 12 34 56 C``."""
    while True:
        prefix = rng.choice(UPPER) + rng.choice(UPPER)
        d = digits(rng, 6)
        value = f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {rng.choice('ABCD')}"
        if nino_valid(value):
            return value


def es_dni(rng: random.Random, dash: bool) -> str:
    """A Spanish DNI (the NIF of a citizen): eight digits and the control letter."""
    v = checked(lambda: digits(rng, 8), UPPER, nif.is_valid)
    return f"{v[:8]}-{v[8]}" if dash else v


def es_nie(rng: random.Random) -> str:
    """A Spanish NIE: X, Y or Z, seven digits and the control letter."""
    return checked(lambda: rng.choice("XYZ") + digits(rng, 7), UPPER, nie.is_valid)


def de_idnr(rng: random.Random, spaced: bool) -> str:
    """A German Steuer-IdNr (11 digits), optionally written ``12 345 678 901``."""
    v = checked(lambda: rng.choice("123456789") + digits(rng, 9), string.digits, idnr.is_valid)
    return idnr.format(v) if spaced else v


def in_aadhaar(rng: random.Random) -> str:
    """An Aadhaar number written in groups of four (Verhoeff check digit)."""
    v = checked(lambda: rng.choice("23456789") + digits(rng, 10), string.digits, aadhaar.is_valid)
    return f"{v[:4]} {v[4:8]} {v[8:]}"


def in_pan(rng: random.Random, surname: str) -> str:
    """An individual's PAN: three letters, P, the surname's initial, a serial and a letter."""
    initial = next((c for c in surname.upper() if c in UPPER), "K")
    serial = f"{rng.randrange(1, 10_000):04d}"
    return "".join(rng.choice(UPPER) for _ in range(3)) + "P" + initial + serial + rng.choice(UPPER)


def us_passport(rng: random.Random) -> str:
    """A US passport book number: nine digits (older books) or a letter and eight digits."""
    return digits(rng, 9) if rng.random() < 0.5 else rng.choice(UPPER) + digits(rng, 8)


def us_driver_license(rng: random.Random) -> str:
    """A US driver's licence number in one of a few states' formats."""
    kind = rng.randrange(5)
    if kind == 0:  # California: a letter and seven digits
        return rng.choice(UPPER) + digits(rng, 7)
    if kind == 1:  # Texas, Pennsylvania: eight digits
        return digits(rng, 8)
    if kind == 2:  # Florida: a letter and twelve digits, dashed
        d = digits(rng, 12)
        return f"{rng.choice(UPPER)}{d[:3]}-{d[3:6]}-{d[6:8]}-{d[8:11]}-{d[11]}"
    if kind == 3:  # New York: nine digits
        return digits(rng, 9)
    d = digits(rng, 11)  # Illinois: a letter and eleven digits, dashed
    return f"{rng.choice(UPPER)}{d[:3]}-{d[3:7]}-{d[7:]}"


def card(fake: Faker, kind: str) -> str:
    """A card number of network ``kind`` written in groups (Amex 4-6-5, others by four)."""
    number = fake.credit_card_number(card_type=kind)
    if len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def spaced_iban(fake: Faker) -> str:
    """The locale's IBAN written in groups of four, as printed on statements."""
    return iban.format(fake.iban())


# Non-PII values that look like identifiers.


def ean13(rng: random.Random) -> str:
    """A valid EAN-13 product barcode."""
    return checked(lambda: rng.choice("4789") + digits(rng, 11), string.digits, ean.is_valid)


def isbn13(rng: random.Random) -> str:
    """A valid ISBN-13, hyphenated the way catalogues print it."""
    v = checked(lambda: "97884" + digits(rng, 7), string.digits, isbn.is_valid)
    return isbn.format(v)


def device_imei(rng: random.Random) -> str:
    """A valid 15-digit IMEI (Luhn check digit)."""
    return checked(lambda: rng.choice(["35", "86", "01"]) + digits(rng, 12), string.digits, imei.is_valid)


def pick(rng: random.Random, options: Sequence[Any], weights: Sequence[float] | None = None) -> Any:
    """One of ``options`` (optionally weighted)."""
    return rng.choices(list(options), weights=weights)[0]
