"""Value generators of the labelled evaluation set (:mod:`tests.compliance.labelled_set`).

Identifiers Faker gets wrong are generated here with their real check digits:
UK National Insurance numbers (Faker's ``en_GB`` ``ssn()`` uses the ZZ
prefix, which is never issued), NHS numbers (mod 11), German tax ids (IdNr:
ISO 7064 mod 11,10 and the digit-repetition rule), Aadhaar numbers (Verhoeff;
Faker's are mostly invalid), PAN numbers and Swedish IBANs (Faker's
``sv_SE`` IBANs are British); Finnish and Swedish identity codes too,
because Faker derives their birth dates from today's date and the set must
not change from one day to the next. Phone numbers are Faker draws kept only when
``phonenumbers`` says they are valid for the locale's region, as a real
export's would be. Tricky non-PII values (Luhn-valid order ids, SSN-shaped
tracking numbers, IP-shaped firmware versions...) are here too.
"""

from __future__ import annotations

import random
from datetime import date

import phonenumbers
from faker import Faker
from stdnum import iban, luhn, verhoeff
from stdnum.de import idnr
from stdnum.in_ import aadhaar, pan
from stdnum.iso7064 import mod_11_10

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"  # not D F I Q U V
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"  # not D F I O Q U V
_NINO_BANNED_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_PAN_HOLDER = "PCHFATBLJG"
_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"

DATE_FORMATS: dict[str, str] = {
    "en_US": "%m/%d/%Y",
    "en_GB": "%d/%m/%Y",
    "en_IN": "%d/%m/%Y",
    "de_DE": "%d.%m.%Y",
    "fr_FR": "%d/%m/%Y",
    "es_ES": "%d/%m/%Y",
    "it_IT": "%d/%m/%Y",
    "nl_NL": "%d-%m-%Y",
    "pl_PL": "%d.%m.%Y",
    "pt_PT": "%d/%m/%Y",
    "sv_SE": "%Y-%m-%d",
    "fi_FI": "%d.%m.%Y",
    "no_NO": "%d.%m.%Y",
}


def nino(rng: random.Random) -> str:
    """A UK National Insurance number with a valid prefix, spaced (``AB 12 34 56 C``) or not."""
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in _NINO_BANNED_PREFIXES:
            break
    digits = f"{rng.randrange(10**6):06d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def nhs_number(rng: random.Random) -> str:
    """A 10-digit NHS number with its mod-11 check digit, as ``943 476 5919`` or plain."""
    while True:
        body = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(body)) % 11
        if check == 10:
            continue
        digits = "".join(map(str, body)) + str(0 if check == 11 else check)
        if rng.random() < 0.6:
            return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        return digits


def de_tax_id(rng: random.Random) -> str:
    """A German Steuer-IdNr: 11 digits, one digit repeated in the first ten, mod 11,10 check digit."""
    while True:
        head = str(rng.randrange(1, 10)) + "".join(str(rng.randrange(10)) for _ in range(9))
        number = head + mod_11_10.calc_check_digit(head)
        if idnr.is_valid(number):
            return number if rng.random() < 0.7 else f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:]}"


def aadhaar_number(rng: random.Random) -> str:
    """An Aadhaar number (Verhoeff check digit), as ``2345 6789 0123`` or plain."""
    while True:
        head = str(rng.randrange(2, 10)) + "".join(str(rng.randrange(10)) for _ in range(10))
        number = head + verhoeff.calc_check_digit(head)
        if aadhaar.is_valid(number):
            return number if rng.random() < 0.5 else f"{number[:4]} {number[4:8]} {number[8:]}"


def pan_number(rng: random.Random) -> str:
    """An Indian PAN: ``AAAPL1234C`` (fourth letter the holder type)."""
    while True:
        letters = "".join(rng.choice(_UPPER) for _ in range(3))
        number = f"{letters}{rng.choice(_PAN_HOLDER)}{rng.choice(_UPPER)}{rng.randrange(1, 10000):04d}"
        number += rng.choice(_UPPER)
        if pan.is_valid(number):
            return number


def fi_hetu(f: Faker, rng: random.Random) -> str:
    """A Finnish henkilötunnus ``DDMMYY-NNNC`` (mod-31 check character) of a fixed-range birth date."""
    born = f.date_between(date(1935, 1, 1), date(2006, 12, 31))
    digits = born.strftime("%d%m%y") + f"{rng.randrange(2, 900):03d}"
    sign = "-" if born.year < 2000 else "A"
    return born.strftime("%d%m%y") + sign + digits[6:] + _HETU_CHECK[int(digits) % 31]


def se_personnummer(f: Faker, rng: random.Random) -> str:
    """A Swedish personnummer ``YYMMDD-NNNC`` (Luhn check digit) of a fixed-range birth date."""
    born = f.date_between(date(1935, 1, 1), date(2006, 12, 31))
    digits = born.strftime("%y%m%d") + f"{rng.randrange(1000):03d}"
    return f"{digits[:6]}-{digits[6:]}{luhn.calc_check_digit(digits)}"


def iban_for(country: str, bban_digits: int, rng: random.Random) -> str:
    """A valid IBAN of ``country`` with an all-digit BBAN of ``bban_digits`` digits."""
    bban = "".join(str(rng.randrange(10)) for _ in range(bban_digits))
    return country + iban.calc_check_digits(country + "00" + bban) + bban


def spaced(value: str, group: int = 4) -> str:
    """``value`` in groups of ``group`` characters separated by spaces."""
    return " ".join(value[i : i + group] for i in range(0, len(value), group))


def card_number(f: Faker, rng: random.Random) -> str:
    """A Luhn-valid card number, plain or (16 digits) in groups of four."""
    number = f.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "discover"]))
    return spaced(number) if rng.random() < 0.5 else number


def us_driver_license(rng: random.Random) -> str:
    """A US driver's licence number in one of several state shapes (CA, NY, FL, TX, IL, WA)."""
    letter = rng.choice(_UPPER)
    d = "".join(str(rng.randrange(10)) for _ in range(13))
    shapes = [
        f"{letter}{d[:7]}",  # CA
        d[:9],  # NY
        f"{letter}{d[:3]}-{d[3:6]}-{d[6:8]}-{d[8:11]}-{d[11]}",  # FL
        d[:8],  # TX
        f"{letter}{d[:3]}-{d[3:7]}-{d[7:11]}",  # IL
        f"{letter}{rng.choice(_UPPER)}{rng.choice(_UPPER)}{d[:2]}{letter}{d[2:5]}",  # old WA style
    ]
    return rng.choice(shapes)


def phone(f: Faker, region: str, *, international: bool = False) -> str:
    """A Faker phone number of the locale that ``phonenumbers`` accepts for ``region``."""
    while True:
        raw = f.phone_number()
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            if international:
                return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            return raw


def birth_date(f: Faker, fmt: str | None) -> str | date:
    """A date of birth as a ``date`` (``fmt`` None) or a string in ``fmt``."""
    born = f.date_of_birth(minimum_age=18, maximum_age=95)
    return born if fmt is None else born.strftime(fmt)


def contact(f: Faker) -> str:
    """A ``Jane Doe <jane@example.org>`` contact cell."""
    return f"{f.name()} <{f.email()}>"


# Tricky non-PII values.


def luhn_order_id(rng: random.Random) -> str:
    """A 16-digit order id that passes Luhn (a card number shape, not a card)."""
    head = "4" + str(rng.randrange(10**13, 10**14))  # 15 digits, starting like a Visa card
    return head + luhn.calc_check_digit(head)


def tracking_number(rng: random.Random) -> str:
    """A parcel tracking number shaped like a US SSN (``247-79-2929``)."""
    return f"{rng.randrange(100, 899):03d}-{rng.randrange(10, 99):02d}-{rng.randrange(1000, 9999):04d}"


def firmware_version(rng: random.Random) -> str:
    """A dotted four-part version (``2.3.9.7``) that also parses as an IPv4 address."""
    return ".".join(str(rng.randrange(n)) for n in (12, 40, 120, 250))


def product_name(f: Faker, rng: random.Random) -> str:
    """A product named after a place or a person-like word (``Paris Blend Coffee``)."""
    kind = rng.choice(["Blend Coffee", "Roast", "Green Tea", "Chocolate", "Gin", "Honey", "Sourdough"])
    return f"{f.city()} {kind}" if rng.random() < 0.6 else f"{f.last_name()}'s {kind}"


def internal_ref(rng: random.Random, country: str) -> str:
    """An IBAN-shaped internal reference that fails the IBAN mod-97 check."""
    while True:
        ref = f"{country}{rng.randrange(100):02d}REF{rng.randrange(10**12):012d}"
        if not iban.is_valid(ref):
            return ref


def sku(rng: random.Random) -> str:
    """A stock-keeping unit such as ``KX-4821-07B``."""
    letters = rng.choice(_UPPER) + rng.choice(_UPPER)
    return f"{letters}-{rng.randrange(10000):04d}-{rng.randrange(100):02d}{rng.choice(_UPPER)}"
