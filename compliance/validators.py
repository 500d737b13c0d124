"""Checksum and structure validators that turn regex candidates into confident matches."""

from __future__ import annotations

import ipaddress
import re

_NON_DIGIT = re.compile(r"\D")
_SSN = re.compile(r"^(\d{3})[- ]?(\d{2})[- ]?(\d{4})$")
# IBAN lengths per country (ISO 13616 registry, the countries in common use).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(value: str) -> bool:
    """True when the digits of ``value`` (12-19 of them, Maestro has 12) pass the Luhn checksum."""
    digits = _NON_DIGIT.sub("", value)
    if not 12 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    return _luhn_sum(digits) % 10 == 0


_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}
_DIGIT = {str(d): d for d in range(10)}


def _luhn_sum(digits: str) -> int:
    """The Luhn sum of a string of digits: every second digit from the right doubled (minus 9 over 9)."""
    backwards = digits[::-1]
    return sum(map(_DIGIT.__getitem__, backwards[0::2])) + sum(map(_DOUBLED.__getitem__, backwards[1::2]))


# Card networks by issuer prefix (IIN) and the lengths they issue (ISO/IEC 7812 as the networks publish it).
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({16, 17, 18, 19})),
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset(range(12, 20))),  # Maestro
    (56, 69, frozenset(range(12, 20))),
)


_CARD_RANGES_BY_WIDTH = tuple((low, high, lengths, len(str(low))) for low, high, lengths in _CARD_RANGES)


def card_valid(value: str) -> bool:
    """True when ``value`` is a payment card number: a network's prefix and length, and the Luhn checksum.

    IMEIs (15 digits, Luhn) and SIM ICCIDs (19 digits from 89, Luhn) pass Luhn but no card network
    issues them, so the prefix check keeps device and SIM numbers out.
    """
    digits = _NON_DIGIT.sub("", value)
    if not any(
        low <= int(digits[:width]) <= high and len(digits) in lengths
        for low, high, lengths, width in _CARD_RANGES_BY_WIDTH
    ):
        return False
    return luhn_valid(digits)


def iban_valid(value: str) -> bool:
    """True when ``value`` is an IBAN of the right length for its country with mod-97 remainder 1."""
    compact = value.replace(" ", "").replace("-", "").upper()
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def ssn_valid(value: str) -> bool:
    """True when ``value`` is a US SSN under SSA rules.

    Area 000, 666 and 900-999, group 00 and serial 0000 are never issued; the
    advertising numbers 078-05-1120 and 219-09-9999 are rejected too.
    """
    match = _SSN.match(value.strip())
    if not match:
        return False
    area, group, serial = match.groups()
    if area in {"000", "666"} or area >= "900" or group == "00" or serial == "0000":
        return False
    return f"{area}-{group}-{serial}" not in {"078-05-1120", "219-09-9999", "123-45-6789"}


def ip_valid(value: str) -> bool:
    """True when ``value`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True
