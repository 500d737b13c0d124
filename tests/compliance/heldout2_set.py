"""A second held-out labelled set: 18 tables in 18 locales, domains no earlier set used.

Written without reading the classifier's vocabularies, patterns, tuning set
or first held-out set, from the entity definitions alone:

- labels are the 23 entities or ``None``; DATE_OF_BIRTH only under a column
  name that says birth, US_PASSPORT and US_DRIVER_LICENSE only under a name
  that says so; national identifiers of other countries (Belgian national
  number, Brazilian CPF, Polish NIP) are none of the 23, hence ``None``;
  free-text columns are ``None`` too (only their "contains" rates would count);
- every identifier is valid per python-stdnum (NINO: HMRC's prefix rules) and
  every phone number valid for its region per phonenumbers;
- each ``None`` column carries a comment in its table module saying why.
"""

from __future__ import annotations

from tests.compliance.heldout2_tables_a import TABLES_A
from tests.compliance.heldout2_tables_b import TABLES_B
from tests.compliance.heldout2_tables_c import TABLES_C
from tests.compliance.labelled_set import LabelledTable

TABLES = (*TABLES_A, *TABLES_B, *TABLES_C)


def heldout2_frames(rows: int = 250, seed: int = 2027) -> list[LabelledTable]:
    """Every table of the set, ``rows`` rows each, reproducible from ``seed``."""
    return [make(rows, seed * 100 + i).table() for i, make in enumerate(TABLES)]
