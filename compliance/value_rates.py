"""Share of a column's sampled values that are each pattern entity, after validation.

Candidates are found with vectorized Polars regexes over the distinct sample;
validators (checksums, phone-number lengths by region) run on the candidates
only. Every recognizer — the built-in pattern entities, the national
identifiers and a tenant's custom entities — goes through the same path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl
from stdnum import isbn
from stdnum.pl import nip

from compliance import patterns, phones
from compliance.recognizers import Recognizer
from compliance.trace import ColumnTrace, note, record_pattern, validator_name
from compliance.validators import card_valid, iban_valid, ip_valid, ssn_valid

# The built-in pattern entities other than phone numbers (which are checked by region, below).
BASE_RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("EMAIL_ADDRESS", "confidential", patterns.FULL["EMAIL_ADDRESS"],
               patterns.SPAN["EMAIL_ADDRESS"], None,
               rule="an e-mail address, bare, as mailto: or as 'Name <address>'"),
    Recognizer("US_SSN", "restricted", patterns.FULL["US_SSN"], patterns.SPAN["US_SSN"], ssn_valid,
               rule="NNN-NN-NNNN (or spaced) within SSA rules; 9 bare digits only under an SSN column name"),
    Recognizer("CREDIT_CARD", "restricted", patterns.FULL["CREDIT_CARD"], patterns.SPAN["CREDIT_CARD"],
               card_valid, rule="12-19 digits, grouped or not, of a card network's prefix and length, Luhn"),
    Recognizer("IBAN_CODE", "restricted", patterns.FULL["IBAN_CODE"], patterns.SPAN["IBAN_CODE"], iban_valid,
               rule="country code, check digits and BBAN of the country's length, mod-97 = 1"),
    Recognizer("IP_ADDRESS", "confidential", patterns.FULL["IP_ADDRESS"], patterns.SPAN["IP_ADDRESS"],
               ip_valid, rule="an IPv4 or IPv6 address; columns of small dotted numbers are versions"),
)  # fmt: skip
_SSN = next(r for r in BASE_RECOGNIZERS if r.entity == "US_SSN")  # nine bare digits under an SSN name
_ISBN = re.compile(patterns.ISBN)
_NIP = re.compile(r"^\d{3}-\d{3}-\d{2}-\d{2}$|^\d{3}-\d{2}-\d{2}-\d{3}$")
VERSION_SHARE = 0.8  # share of IPv4 values with all parts <= 31 that makes the column versions, not addresses


def _not_personal(value: str) -> bool:
    """True for an identifier of a thing with its own checksum that a phone number can look like.

    Book numbers (ISBN) and company tax numbers written in their national grouping (Polish NIP
    ``312-912-05-72``) are read as phone numbers by a region's length rules alone.
    """
    return (bool(_ISBN.match(value)) and isbn.is_valid(value)) or (
        bool(_NIP.match(value)) and nip.is_valid(value)
    )


def validated(values: pl.Series, mask: pl.Series, recognizer: Recognizer) -> list[str]:
    """The values selected by ``mask`` that pass the recognizer's validator."""
    candidates = values.filter(mask).to_list()
    if recognizer.validator is None:
        return candidates
    return [v for v in candidates if recognizer.validator(v)]


def validated_share(
    values: pl.Series, mask: pl.Series, recognizer: Recognizer, trace: ColumnTrace | None = None
) -> float:
    """Share of ``values`` selected by ``mask`` that pass the recognizer's validator (kept in ``trace``)."""
    found = validated(values, mask, recognizer)
    record_pattern(trace, recognizer.entity, int(mask.sum()), found, validator_name(recognizer.validator))
    return len(found) / values.len() if values.len() else 0.0


def string_rates(
    values: pl.Series,
    signals: set[str],
    recognizers: Sequence[Recognizer],
    region_hints: Sequence[str] = (),
    trace: ColumnTrace | None = None,
) -> dict[str, float]:
    """Share of distinct string values that are each pattern entity (validated), recorded in ``trace``."""
    checked = [r for r in recognizers if not r.needs_name or r.entity in signals]
    frame = pl.DataFrame({"v": values})
    masks = frame.select(
        *[pl.col("v").str.contains(r.full).alias(f"r{i}") for i, r in enumerate(checked)],
        phone=pl.col("v").str.contains(patterns.FULL["PHONE_NUMBER"]),
        date_like=pl.col("v").str.contains(patterns.DATE_LIKE),
        phone_shape=pl.col("v").str.contains(patterns.PHONE_SHAPE),
        version=pl.col("v").str.contains(patterns.VERSION_LIKE),
        digits=pl.col("v").str.count_matches(r"\d"),
    )
    rates: dict[str, float] = {}
    claimed: list[str] = []
    for i, recognizer in enumerate(checked):
        mask = masks[f"r{i}"]
        if (
            recognizer.entity == "IP_ADDRESS"
            and (masks["version"].filter(mask).mean() or 0.0) >= VERSION_SHARE
        ):
            note(trace, f"IP_ADDRESS set aside: {VERSION_SHARE:.0%}+ have parts <= 31 (versions)")
            continue
        found = validated(values, mask, recognizer)
        record_pattern(trace, recognizer.entity, int(mask.sum()), found, validator_name(recognizer.validator))
        if found:
            rates[recognizer.entity] = max(len(found) / values.len(), rates.get(recognizer.entity, 0.0))
            claimed += found
    if "US_SSN" in signals:
        bare = values.str.contains(r"^\d{9}$")
        rates["US_SSN"] = max(rates.get("US_SSN", 0.0), validated_share(values, bare, _SSN, trace))
    phone = masks["phone"] & ~masks["date_like"] & ~values.is_in(claimed)
    phone = phone & ~values.is_in([v for v in values.filter(phone) if _not_personal(v)])
    phone = phone & (masks["digits"] >= 7) & (masks["digits"] <= 15)
    if "PHONE_NUMBER" not in signals:
        phone = phone & masks["phone_shape"]
    candidates = values.filter(phone).to_list()
    if candidates:
        possible = phones.possible_numbers(candidates, region_hints)
        record_pattern(trace, "PHONE_NUMBER", len(candidates), possible, "phonenumbers (by region)")
        rates["PHONE_NUMBER"] = len(possible) / values.len()
    return {e: r for e, r in rates.items() if r > 0}


def integer_rates(
    values: pl.Series,
    signals: set[str],
    recognizers: Sequence[Recognizer],
    trace: ColumnTrace | None = None,
) -> dict[str, float]:
    """Integer columns: ids and amounts unless Luhn-valid cards, or numbers the column name announces.

    Identifiers written without separators (PESEL, Aadhaar, an NHS number) count as well, as do phone
    numbers and SSNs when the name says so (a leading zero is lost in an integer column: SSNs are padded).
    """
    digits = values.str.len_chars()
    rates: dict[str, float] = {}
    for recognizer in recognizers:
        if recognizer.entity in {"EMAIL_ADDRESS", "IP_ADDRESS", "US_SSN"}:
            continue
        if recognizer.needs_name and recognizer.entity not in signals:
            continue
        rate = validated_share(values, values.str.contains(recognizer.full), recognizer, trace)
        if rate:
            rates[recognizer.entity] = rate
    if "PHONE_NUMBER" in signals:
        lengths = (digits >= 7) & (digits <= 15)
        rates["PHONE_NUMBER"] = lengths.mean() or 0.0
        in_range = values.filter(lengths).to_list()
        record_pattern(trace, "PHONE_NUMBER", int(lengths.sum()), in_range, "7-15 digits")
    if "US_SSN" in signals:
        padded = values.str.zfill(9)
        rates["US_SSN"] = validated_share(padded, padded.str.contains(r"^\d{9}$"), _SSN, trace)
    return {e: r for e, r in rates.items() if r > 0}
