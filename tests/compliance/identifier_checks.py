"""The verdict the labelled sets trust for their identifier labels: python-stdnum, and HMRC's NINO rules.

Independent of the classifier's own validators (compliance/identifiers.py), so a label is checked by
something other than the code it measures.
"""

from __future__ import annotations

from collections.abc import Callable

from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import nie, nif
from stdnum.fi import hetu
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.us import itin, ssn

_NINO_BAD_FIRST = set("DFIQUV")
_NINO_BAD_SECOND = set("DFIQUVO")
_NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def nino_valid(value: str) -> bool:
    """HMRC's NINO rules (python-stdnum has none): allocatable prefix letters, six digits, suffix A-D."""
    v = value.replace(" ", "").upper()
    return (
        len(v) == 9
        and v[:2].isalpha()
        and v[0] not in _NINO_BAD_FIRST
        and v[1] not in _NINO_BAD_SECOND
        and v[:2] not in _NINO_BAD_PREFIX
        and v[2:8].isdigit()
        and v[8] in "ABCD"
    )


def _card_valid(value: str) -> bool:
    """Luhn over the card's digits (spaces and dashes ignored; an airline ``.../MMYY`` suffix dropped)."""
    return luhn.is_valid("".join(c for c in value.split("/")[0] if c.isdigit()))


STDNUM_CHECKS: dict[str, Callable[[str], bool]] = {
    "CREDIT_CARD": _card_valid,
    "IBAN_CODE": iban.is_valid,
    "US_SSN": ssn.is_valid,
    "US_ITIN": itin.is_valid,
    "UK_NHS": nhs.is_valid,
    "UK_NINO": nino_valid,
    "DE_TAX_ID": idnr.is_valid,
    "ES_NIF": nif.is_valid,
    "ES_NIE": nie.is_valid,
    "IT_FISCAL_CODE": codicefiscale.is_valid,
    "PL_PESEL": pesel.is_valid,
    "FI_PERSONAL_IDENTITY_CODE": hetu.is_valid,
    "SE_PERSONNUMMER": personnummer.is_valid,
    "IN_AADHAAR": aadhaar.is_valid,
    "IN_PAN": pan.is_valid,
}
