"""Phone numbers checked with Google's libphonenumber (the ``phonenumbers`` package), by region.

A regex finds phone-shaped candidates (vectorized, :mod:`compliance.patterns`);
this module decides which of them are numbers that can exist. International
numbers (``+47 ...``, ``0047 ...``) carry their region. National numbers
(``0521 833786``, ``08-982 597 91``) are read in the region inferred for the
column, in this order: the regions of the column's own international numbers,
the country column of the same frame, the tenant's region, then whichever of
the regions KlikkFlow's tenants live in reads most of the values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import phonenumbers
from phonenumbers import NumberParseException

# Regions tried last, when neither the values, a country column nor the tenant say where numbers are from.
FALLBACK_REGIONS: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "PT", "SE", "FI", "NO", "DK", "IE", "AT", "CH", "BE",
    "IN",
)  # fmt: skip
REGION_PROBE = 200  # national numbers tried per candidate region
_COUNTRY_NAMES: dict[str, str] = {
    "united states": "US", "usa": "US", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
    "germany": "DE", "deutschland": "DE", "france": "FR", "spain": "ES", "españa": "ES", "italy": "IT",
    "italia": "IT", "netherlands": "NL", "nederland": "NL", "poland": "PL", "polska": "PL", "portugal": "PT",
    "sweden": "SE", "sverige": "SE", "finland": "FI", "suomi": "FI", "norway": "NO", "norge": "NO",
    "denmark": "DK", "danmark": "DK", "ireland": "IE", "austria": "AT", "österreich": "AT",
    "switzerland": "CH", "schweiz": "CH", "belgium": "BE", "india": "IN",
}  # fmt: skip


def _international(value: str) -> bool:
    stripped = value.lstrip("( ")
    return stripped.startswith("+") or stripped.startswith("00")


def _parse(value: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    text = value.strip()
    if text.lstrip("( ").startswith("00"):
        text = "+" + text.lstrip("( ")[2:]
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def possible(value: str, region: str | None) -> bool:
    """True when ``value`` has a possible length for its country (``region`` for national numbers).

    Eleven or more digits that are no national number are tried as an international number written
    without its ``+`` (``917131145919``, as telecom exports write MSISDNs).
    """
    international = _international(value)
    number = _parse(value, None if international else region)
    if number is not None and phonenumbers.is_possible_number(number):
        return True
    digits = "".join(c for c in value if c.isdigit())
    if international or len(digits) < 11:
        return False
    number = _parse("+" + digits, None)
    return number is not None and phonenumbers.is_valid_number(number)


# Cloud data regions (AWS, GCP, Azure) and the country whose numbers a tenant there most likely holds.
_DATA_REGION_COUNTRY: dict[str, str] = {
    "eu-north-1": "SE", "eu-west-1": "IE", "eu-west-2": "GB", "eu-west-3": "FR", "eu-central-1": "DE",
    "eu-central-2": "CH", "eu-south-1": "IT", "eu-south-2": "ES", "us-east-1": "US", "us-east-2": "US",
    "us-west-1": "US", "us-west-2": "US", "ap-south-1": "IN", "ap-south-2": "IN", "europe-north1": "FI",
    "europe-north2": "SE", "europe-west1": "BE", "europe-west2": "GB", "europe-west3": "DE",
    "europe-west4": "NL", "europe-west6": "CH", "europe-west8": "IT", "europe-west9": "FR",
    "europe-southwest1": "ES", "europe-central2": "PL", "norwayeast": "NO", "norwaywest": "NO",
    "swedencentral": "SE", "germanywestcentral": "DE", "francecentral": "FR", "italynorth": "IT",
    "spaincentral": "ES", "polandcentral": "PL", "uksouth": "GB", "ukwest": "GB", "westeurope": "NL",
    "northeurope": "IE", "centralindia": "IN",
}  # fmt: skip


def country_of_data_region(region: str | None) -> str | None:
    """The country a tenant's cloud data region points to (``eu-north-1`` -> ``SE``), or None."""
    return _DATA_REGION_COUNTRY.get((region or "").strip().lower())


def country_region(value: str) -> str | None:
    """The ISO 3166 alpha-2 region of a country cell (``NO`` or a name such as ``Norway``), or None."""
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        code = text.upper()
        return code if phonenumbers.country_code_for_region(code) else None
    return _COUNTRY_NAMES.get(text.lower())


def regions_of_column(values: Iterable[str]) -> list[str]:
    """Regions named by a country column, most common first (empty when it names none)."""
    counts = Counter(r for r in (country_region(v) for v in values) if r)
    return [region for region, _ in counts.most_common()]


def infer_region(values: Sequence[str], hints: Sequence[str] = ()) -> str | None:
    """The region to read the national numbers among ``values`` in.

    ``hints`` (a frame's country column, then the tenant's region) are tried
    after the regions of the column's own international numbers; the first
    region that reads at least half of the national numbers wins, else the
    best of :data:`FALLBACK_REGIONS`.
    """
    national = [v for v in values if not _international(v)][:REGION_PROBE]
    if not national:
        return None
    own = Counter(
        phonenumbers.region_code_for_number(n)
        for n in (_parse(v, None) for v in values if _international(v))
        if n is not None
    )
    ordered = [r for r, _ in own.most_common(3) if r and r != "ZZ"] + [h for h in hints if h]
    for region in dict.fromkeys(ordered):
        if _possible_share(national, region) >= 0.5:
            return region
    shares = {region: _possible_share(national, region) for region in FALLBACK_REGIONS}
    best = max(shares, key=shares.__getitem__)
    return best if shares[best] > 0 else None


def _possible_share(values: Sequence[str], region: str) -> float:
    return sum(possible(v, region) for v in values) / len(values)


def possible_numbers(values: Sequence[str], hints: Sequence[str] = ()) -> list[str]:
    """The ``values`` that are possible phone numbers, national ones read in the inferred region."""
    if not values:
        return []
    region = infer_region(values, hints)
    return [v for v in values if possible(v, region)]
