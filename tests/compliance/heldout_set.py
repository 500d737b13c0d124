"""A held-out labelled set: tables the classifier was never tuned on.

Built without reading the classifier's column vocabularies, patterns or its
tuning set (``labelled_set.py``, of which only the ``LabelledTable`` type is
used). The tables are exports of other domains than patients, customers,
employees and orders, with their columns named the way such systems name
them in their language, and values from Faker plus the generators of
``heldout_values.py`` (every identifier valid per python-stdnum).

Labelling rules:
- A column is labelled with one of the 23 entities when every non-blank cell
  holds that entity; free-text columns are ``None`` (their "contains" rates
  are not scored).
- City columns are ``LOCATION`` (a place a person lives); a postcode alone,
  a country or a tax office is ``None``.
- Data that is personal under GDPR but is none of the 23 entities is
  ``None``: licence plates, VINs, GPS positions, IMEIs, MAC and bank account
  numbers without IBAN, and other countries' person numbers (Dutch BSN,
  Portuguese NIF, UK pupil numbers). A label of another entity on them is a
  false claim that a policy would act on.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import polars as pl
from faker import Faker

from tests.compliance import heldout_tables_en as en
from tests.compliance import heldout_tables_eu as eu
from tests.compliance.heldout_values import Column
from tests.compliance.labelled_set import LabelledTable

Builder = Callable[[Faker, random.Random, int], list[Column]]


TABLES: list[tuple[str, str, Builder]] = [
    ("us_claims", "en_US", en.us_claims),
    ("gb_payroll", "en_GB", en.gb_payroll),
    ("de_tax_cases", "de_DE", eu.de_tax),
    ("at_hotel_bookings", "de_AT", eu.at_hotel),
    ("fr_rental_applications", "fr_FR", eu.fr_rental),
    ("es_gym_members", "es_ES", eu.es_gym),
    ("it_telematics", "it_IT", eu.it_telematics),
    ("nl_municipal_cases", "nl_NL", eu.nl_cases),
    ("pl_loyalty", "pl_PL", eu.pl_loyalty),
    ("se_crm_leads", "sv_SE", eu.se_leads),
    ("fi_travel_cards", "fi_FI", eu.fi_travelcard),
    ("in_sim_kyc", "en_IN", en.in_kyc),
    ("us_tax_efile", "en_US", en.us_taxprep),
    ("gb_school_pupils", "en_GB", en.gb_school),
    ("no_ev_charging", "no_NO", eu.no_charging),
    ("pt_enrolments", "pt_PT", eu.pt_enrolments),
]


def heldout_frames(rows: int = 300, seed: int = 101) -> list[LabelledTable]:
    """The held-out tables, generated offline and reproducibly from ``seed``."""
    tables = []
    for index, (name, locale, build) in enumerate(TABLES):
        fake = Faker(locale)
        fake.seed_instance(seed + index)
        rng = random.Random(seed * 1000 + index)
        columns = build(fake, rng, rows)
        frame = pl.DataFrame({column: values for column, _, values in columns}, strict=False)
        tables.append(LabelledTable(name, locale, frame, {column: label for column, label, _ in columns}))
    return tables
