"""The labelled evaluation set is what it claims: valid identifiers, locales, columns, blanks, variety."""

from __future__ import annotations

import random

import polars as pl
import pytest
from stdnum import iban, luhn

from tests.compliance.identifier_checks import STDNUM_CHECKS
from tests.compliance.labelled_set import LOCALE_OF_TABLE, LabelledTable, labelled_frames
from tests.compliance.labelled_values import internal_ref

VALIDATORS = STDNUM_CHECKS


@pytest.fixture(scope="module")
def tables() -> list[LabelledTable]:
    return labelled_frames()


def _cells(table: LabelledTable, column: str) -> list[object]:
    return [c for c in table.frame.get_column(column).to_list() if c is not None and c != ""]


def test_generation_is_deterministic(tables: list[LabelledTable]) -> None:
    again = labelled_frames()
    assert all(a.frame.equals(b.frame) for a, b in zip(tables, again, strict=True))
    assert not labelled_frames(rows=50, seed=1)[0].frame.equals(labelled_frames(rows=50, seed=2)[0].frame)


def test_every_identifier_passes_its_validator(tables: list[LabelledTable]) -> None:
    checked = set()
    for table in tables:
        for column, entity in table.labels.items():
            check = VALIDATORS.get(entity or "")
            if check is None:
                continue
            bad = [c for c in _cells(table, column) if not check(str(c))]
            assert not bad, f"{table.name}.{column} ({entity}): {bad[:5]}"
            checked.add(entity)
    assert checked == set(VALIDATORS)


def test_tricky_non_pii_looks_like_pii_but_is_not() -> None:
    tables = {t.name: t for t in labelled_frames(rows=200)}
    orders = _cells(tables["customers_us"], "order_id") + _cells(tables["orders_us"], "order_number")
    assert all(len(str(o)) == 16 and luhn.is_valid(str(o)) for o in orders)  # card-shaped, Luhn-valid
    assert not any(iban.is_valid(internal_ref(random.Random(i), "DE")) for i in range(200))
    firmware = _cells(tables["employees_us"], "firmware")
    assert all(len(f.split(".")) == 4 and all(0 <= int(p) < 256 for p in f.split(".")) for f in firmware)
    assert all(len(t) == 11 and t[3] == t[6] == "-" for t in _cells(tables["customers_us"], "tracking_no"))


def test_set_size_locales_blanks_and_unnamed_columns(tables: list[LabelledTable]) -> None:
    labels = [(t, c, e) for t in tables for c, e in t.labels.items()]
    assert len(set(LOCALE_OF_TABLE.values())) >= 8
    assert len(labels) >= 60
    unnamed = [c for _, c, e in labels if c.startswith(("Unnamed:", "col_", "column_"))]
    assert len(unnamed) >= 10
    blank_heavy = [(t.name, c) for t, c, _ in labels if 0.3 <= 1 - len(_cells(t, c)) / t.frame.height <= 0.7]
    assert len(blank_heavy) >= 10
    assert {e for _, _, e in labels if e} >= set(VALIDATORS) | {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "LOCATION",
        "DATE_OF_BIRTH",
        "IP_ADDRESS",
        "US_PASSPORT",
        "US_DRIVER_LICENSE",
    }
    assert any(t.frame.schema[c] == pl.Date for t, c, e in labels if e == "DATE_OF_BIRTH")


def test_identifier_values_are_high_cardinality(tables: list[LabelledTable]) -> None:
    for table in tables:
        for column, entity in table.labels.items():
            if entity in VALIDATORS or entity in {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS"}:
                cells = _cells(table, column)
                assert len(set(cells)) >= 0.9 * len(cells), f"{table.name}.{column}"
