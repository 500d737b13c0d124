"""Identifier columns for ``pii_bench_data.py``: random digits with computed check digits, vectorized.

Luhn (cards, order numbers, personnummer), mod-97 (IBAN), Verhoeff (Aadhaar),
the Spanish NIF letter, the Italian codice fiscale check letter and the PESEL
weights, each over a numpy matrix of digits so a million values take seconds.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# IBAN layouts (n digits, a upper-case letters) of countries whose national check stdnum does not verify.
_IBAN_LAYOUT = {"DE": "18n", "GB": "4a14n", "NL": "4a10n", "FR": "23n", "IT": "1a22n", "PL": "24n",
                "SE": "20n", "FI": "14n", "AT": "16n", "PT": "21n", "DK": "14n", "IE": "4a14n"}  # fmt: skip
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
UPPER = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def text_rows(codes: np.ndarray) -> np.ndarray:
    """Rows of ASCII codes (n x k) as an array of strings."""
    width = codes.shape[1]
    return np.ascontiguousarray(codes, dtype=np.uint8).view(f"S{width}")[:, 0].astype(f"U{width}")


def letters(rng: np.random.Generator, n: int, k: int, alphabet: np.ndarray = UPPER) -> np.ndarray:
    """``n`` random strings of ``k`` characters of ``alphabet`` (ASCII codes)."""
    return text_rows(alphabet[rng.integers(0, len(alphabet), (n, k))])


def group(values: np.ndarray, sizes: tuple[int, ...], sep: str) -> np.ndarray:
    """Insert ``sep`` between groups of ``sizes`` characters."""
    series, parts, start = pl.Series(values), [], 0
    for size in sizes:
        parts.append(series.str.slice(start, size))
        start += size
    return pl.select(pl.concat_str(parts, separator=sep)).to_series().to_numpy().astype(str)


def luhn_digit(digits: np.ndarray) -> np.ndarray:
    """Luhn check digit for each row of ``digits`` (n x k, values 0-9)."""
    doubled = digits[:, ::-1].copy()
    doubled[:, ::2] *= 2
    doubled[doubled > 9] -= 9
    return (10 - doubled.sum(axis=1) % 10) % 10


_VERHOEFF_D = np.array([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
])  # fmt: skip
_VERHOEFF_P = np.array([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
])  # fmt: skip
_VERHOEFF_INV = np.array([0, 4, 3, 2, 1, 5, 6, 7, 8, 9])


def verhoeff_digit(digits: np.ndarray) -> np.ndarray:
    """Verhoeff check digit for each row of ``digits`` (n x k, values 0-9)."""
    check = np.zeros(len(digits), dtype=np.int64)
    for index, column in enumerate(digits[:, ::-1].T):
        check = _VERHOEFF_D[check, _VERHOEFF_P[(index + 1) % 8, column]]
    return _VERHOEFF_INV[check]


def either(rng: np.random.Generator, share: float, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row, ``first`` with probability ``share``, else ``second``."""
    return np.where(rng.random(len(first)) < share, first, second)


def ibans(rng: np.random.Generator, n: int) -> np.ndarray:
    """IBANs of 12 countries with mod-97 check digits; 40% printed in groups of four."""
    which = rng.integers(0, len(_IBAN_LAYOUT), n)
    out = np.empty(n, dtype="U40")
    for index, (country, layout) in enumerate(_IBAN_LAYOUT.items()):
        rows = np.flatnonzero(which == index)
        parts = [
            (UPPER if kind == "a" else DIGITS)[
                rng.integers(0, 26 if kind == "a" else 10, (len(rows), int(size)))
            ]
            for size, kind in (
                (part[:-1], part[-1]) for part in layout.replace("a", "a ").replace("n", "n ").split()
            )
        ]
        bban = np.hstack(parts)
        tail = np.frombuffer(f"{country}00".encode(), dtype=np.uint8)
        remainder = np.zeros(len(rows), dtype=np.int64)
        for column in np.hstack([bban, np.tile(tail, (len(rows), 1))]).T.astype(np.int64):
            remainder = np.where(
                column >= 65, (remainder * 100 + column - 55) % 97, (remainder * 10 + column - 48) % 97
            )
        check = 98 - remainder
        head = np.column_stack([np.tile(tail[:2], (len(rows), 1)), DIGITS[check // 10], DIGITS[check % 10]])
        out[rows] = text_rows(np.hstack([head, bban]))
    printed = pl.Series(out).str.replace_all(r"(.{4})", "$1 ").str.strip_chars().to_numpy().astype(str)
    return either(rng, 0.4, printed, out)


def cards(rng: np.random.Generator, n: int) -> np.ndarray:
    """Visa, Mastercard, Discover (16 digits) and Amex (15) with Luhn digits; mostly in spaced groups."""
    digits = rng.integers(0, 10, (n, 15))
    brand = rng.integers(0, 4, n)
    digits[brand == 0, 0] = 4
    digits[brand == 1, 0], digits[brand == 1, 1] = 5, rng.integers(1, 6, (brand == 1).sum())
    digits[brand == 2, :4] = [6, 0, 1, 1]
    long = np.column_stack([digits, luhn_digit(digits)])
    compact16 = text_rows(DIGITS[long])
    sixteen = np.where(
        rng.random(n) < 0.85, group(compact16, (4, 4, 4, 4), " "), group(compact16, (4, 4, 4, 4), "-")
    )
    amex = digits[:, :14].copy()
    amex[:, 0], amex[:, 1] = 3, rng.choice([4, 7], n)
    compact15 = text_rows(DIGITS[np.column_stack([amex, luhn_digit(amex)])])
    fifteen = either(rng, 0.8, group(compact15, (4, 6, 5), " "), compact15)
    cards = np.where(brand == 3, fifteen, either(rng, 0.75, sixteen, compact16))
    return cards


def ssns(rng: np.random.Generator, n: int) -> np.ndarray:
    """US SSNs under SSA rules (no area 000, 666, 900+; no group 00, serial 0000); 10% without dashes."""
    area = rng.integers(1, 900, n)
    area[area == 666] = 667
    parts = [
        np.char.zfill(v.astype(str), w)
        for v, w in ((area, 3), (rng.integers(1, 100, n), 2), (rng.integers(1, 10_000, n), 4))
    ]
    dashed = np.char.add(np.char.add(np.char.add(np.char.add(parts[0], "-"), parts[1]), "-"), parts[2])
    return either(rng, 0.9, dashed, np.char.add(np.char.add(parts[0], parts[1]), parts[2]))


def ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """IPv4 (85%) and full-form IPv6 addresses."""
    first = rng.choice(np.setdiff1d(np.arange(1, 224), [10, 127]), n)
    octets = np.column_stack([first, rng.integers(0, 256, (n, 3))]).astype(str)
    v4 = pl.DataFrame(octets.T.tolist()).select(pl.concat_str(pl.all(), separator=".")).to_series().to_numpy()
    groups = np.char.mod(
        "%x", np.column_stack([rng.integers(0x2000, 0x4000, n), rng.integers(0, 0x10000, (n, 7))])
    )
    v6 = pl.DataFrame(groups.T.tolist()).select(pl.concat_str(pl.all(), separator=":")).to_series().to_numpy()
    return either(rng, 0.85, v4.astype(str), v6.astype(str))


def _birth_dates(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rng.integers(1940, 2010, n), rng.integers(1, 13, n), rng.integers(1, 29, n)


def _two(values: np.ndarray) -> np.ndarray:
    return np.column_stack([values // 10 % 10, values % 10])


def ninos(rng: np.random.Generator, n: int) -> np.ndarray:
    """UK National Insurance numbers (valid prefixes, suffix A-D), half spaced as ``AB 12 34 56 C``."""
    first = letters(rng, n, 1, np.frombuffer(b"ABCEGHJKLMNOPRSTWXYZ", dtype=np.uint8))
    second = letters(rng, n, 1, np.frombuffer(b"ABCEGHJKLMNPRSTWXYZ", dtype=np.uint8))
    prefix = np.char.add(first, second)
    prefix[np.isin(prefix, ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"])] = "AB"
    digits = text_rows(DIGITS[rng.integers(0, 10, (n, 6))])
    suffix = letters(rng, n, 1, np.frombuffer(b"ABCD", dtype=np.uint8))
    compact = np.char.add(np.char.add(prefix, digits), suffix)
    return either(rng, 0.5, group(compact, (2, 2, 2, 2, 1), " "), compact)


def nifs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Spanish NIFs of residents (DNI): eight digits and the mod-23 letter, 15% as ``12345678-Z``."""
    number = rng.integers(0, 100_000_000, n)
    letter = np.array(list("TRWAGMYFPDXBNJZSQVHLCKE"))[number % 23]
    digits = np.char.zfill(number.astype(str), 8)
    return np.char.add(either(rng, 0.85, digits, np.char.add(digits, "-")), letter)


_CF_ODD = np.array(
    [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
)


def fiscal_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Italian codici fiscali: consonant codes, birth date (+40 for women), municipality, check letter."""
    consonants = np.frombuffer(b"BCDFGHJKLMNPQRSTVZ", dtype=np.uint8)
    year, month, day = _birth_dates(rng, n)
    day = day + 40 * rng.integers(0, 2, n)
    codes = np.column_stack([
        consonants[rng.integers(0, len(consonants), (n, 6))], DIGITS[_two(year)],
        np.frombuffer(b"ABCDEHLMPRST", dtype=np.uint8)[month - 1], DIGITS[_two(day)],
        UPPER[rng.integers(0, 13, n)], DIGITS[rng.integers(0, 10, (n, 3))],
    ]).astype(np.int64)  # fmt: skip
    value = np.where(codes >= 65, codes - 65, codes - 48)  # A=0 ... and 0=0 ...
    total = _CF_ODD[value[:, 0::2]].sum(axis=1) + value[:, 1::2].sum(axis=1)
    return text_rows(np.column_stack([codes, UPPER[total % 26]]))


def pesels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Polish PESELs: birth date (month + 20 after 1999), serial and the weighted check digit."""
    year, month, day = _birth_dates(rng, n)
    month = month + 20 * (year >= 2000)
    digits = np.column_stack([_two(year), _two(month), _two(day), rng.integers(0, 10, (n, 4))])
    check = (10 - (digits * np.array([1, 3, 7, 9, 1, 3, 7, 9, 1, 3])).sum(axis=1) % 10) % 10
    return text_rows(DIGITS[np.column_stack([digits, check])])


def personnummers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Swedish personnummer with Luhn digit: ``YYMMDD-NNNC`` (70%), ``YYYYMMDD-NNNC`` or 12 digits."""
    year, month, day = _birth_dates(rng, n)
    digits = np.column_stack([_two(year), _two(month), _two(day), rng.integers(0, 10, (n, 3))])
    ten = text_rows(DIGITS[np.column_stack([digits, luhn_digit(digits)])])
    century = np.char.add((year // 100).astype(str), ten)
    short = group(ten, (6, 4), "-")
    return np.where(rng.random(n) < 0.7, short, either(rng, 0.5, group(century, (8, 4), "-"), century))


def aadhaars(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indian Aadhaar numbers (first digit 2-9, Verhoeff check, no palindrome), 70% as ``2345 6789 0123``."""
    digits = np.column_stack([rng.integers(2, 10, n), rng.integers(0, 10, (n, 10))])
    full = np.column_stack([digits, verhoeff_digit(digits)])
    while (palindrome := (full == full[:, ::-1]).all(axis=1)).any():  # never issued
        digits[palindrome, 5] = (digits[palindrome, 5] + 1) % 10
        full = np.column_stack([digits, verhoeff_digit(digits)])
    compact = text_rows(DIGITS[full])
    return either(rng, 0.7, group(compact, (4, 4, 4), " "), compact)


def order_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """16-digit order numbers that pass the Luhn check (they look like card numbers, and are not)."""
    digits = np.column_stack([rng.integers(1, 10, n), rng.integers(0, 10, (n, 14))])
    return text_rows(DIGITS[np.column_stack([digits, luhn_digit(digits)])])
