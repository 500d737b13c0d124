"""Checksum validators a tenant's custom entity may name (``validator:`` in its policy file).

:data:`VALIDATORS` maps each name to a function that takes a regex candidate
(a whole cell, or a span found in free text) and says whether its check
characters are right. Every function is one of python-stdnum's generic
algorithms, applied to the characters that algorithm reads with everything
else (prefixes such as ``EMP-``, spaces, dashes, dots) removed:

- digit algorithms (``luhn``, ``verhoeff``, ``damm``, ``mod_11_10``) read the digits;
- ``mod_11_2`` reads the digits and a final ``X`` check character;
- alphanumeric algorithms (``mod_97_10``, ``mod_37_2``) read letters and digits, upper-cased
  (``mod_37_2`` also a ``*`` check character).

Fewer than two characters, or one character repeated (``0000000000``: a
placeholder, and valid under most checksums), never validate. The list is
documented in POLICY.md ("Custom entities"); a name not in it is a policy error.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import damm, luhn, verhoeff
from stdnum.iso7064 import mod_11_2, mod_11_10, mod_37_2, mod_97_10

_NOT_DIGIT = re.compile(r"[^0-9]")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NOT_MOD_37 = re.compile(r"[^0-9A-Z*]")


def _checkable(chars: str) -> bool:
    return len(chars) >= 2 and len(set(chars)) > 1


def _digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def luhn_digits(value: str) -> bool:
    """Luhn mod 10 (card numbers, IMEIs, many staff and customer numbers) on the digits."""
    digits = _digits(value)
    return _checkable(digits) and luhn.is_valid(digits)


def verhoeff_digits(value: str) -> bool:
    """Verhoeff (catches every single-digit error and adjacent swap; Aadhaar uses it) on the digits."""
    digits = _digits(value)
    return _checkable(digits) and verhoeff.is_valid(digits)


def damm_digits(value: str) -> bool:
    """Damm (catches every single-digit error and adjacent swap) on the digits."""
    digits = _digits(value)
    return _checkable(digits) and damm.is_valid(digits)


def mod_11_10_digits(value: str) -> bool:
    """ISO 7064 Mod 11,10 (German tax ID, Croatian OIB) on the digits."""
    digits = _digits(value)
    return _checkable(digits) and mod_11_10.is_valid(digits)


def mod_11_2_digits(value: str) -> bool:
    """ISO 7064 Mod 11,2 (ISNI, ORCID: the check character may be X) on the digits and a final X."""
    chars = _digits(value)
    if value.rstrip()[-1:] in ("X", "x"):
        chars += "X"
    return _checkable(chars) and mod_11_2.is_valid(chars)


def mod_97_10_alnum(value: str) -> bool:
    """ISO 7064 Mod 97,10 (two check digits; letters count 10-35, as in IBAN and RF references) on letters and digits."""  # noqa: E501
    chars = _NOT_ALNUM.sub("", value.upper())
    return _checkable(chars) and mod_97_10.is_valid(chars)


def mod_37_2_alnum(value: str) -> bool:
    """ISO 7064 Mod 37,2 (alphanumeric codes; the check character may be *) on letters, digits and *."""
    chars = _NOT_MOD_37.sub("", value.upper())
    return _checkable(chars) and mod_37_2.is_valid(chars)


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn_digits,
    "verhoeff": verhoeff_digits,
    "damm": damm_digits,
    "mod_11_10": mod_11_10_digits,
    "mod_11_2": mod_11_2_digits,
    "mod_97_10": mod_97_10_alnum,
    "mod_37_2": mod_37_2_alnum,
}
"""Validator name (as written in a policy file) -> the check run on each regex candidate."""


def describe(name: str) -> str:
    """One line saying what validator ``name`` checks (the first line of its docstring)."""
    return (VALIDATORS[name].__doc__ or name).splitlines()[0].rstrip(".")
