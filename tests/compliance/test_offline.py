"""The compliance suite runs offline: the autouse fixture refuses every network connection."""

import socket

import polars as pl
import pytest
from faker import Faker

from compliance.classify import classify_frame
from compliance.nlp import build_engines
from compliance.quality import ExpectationSpec, run_suite


def test_tcp_connections_are_refused() -> None:
    with pytest.raises(OSError, match="network access blocked"):
        socket.create_connection(("127.0.0.1", 5432), timeout=1)


def test_model_loading_classification_and_gx_work_without_network() -> None:
    build_engines.cache_clear()  # load the spaCy model and Presidio again, under the block
    engines = build_engines()
    assert engines.has_ner
    fake = Faker()
    frame = pl.DataFrame({"who": [fake.name() for _ in range(50)], "mail": [fake.email() for _ in range(50)]})
    assert {c.entity for c in classify_frame(frame, engines=engines).columns.values()} == {
        "PERSON",
        "EMAIL_ADDRESS",
    }
    passed, _ = run_suite(
        frame, "offline", [ExpectationSpec(expectation="expect_column_to_exist", column="who")]
    )
    assert passed
