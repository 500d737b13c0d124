"""``klikkflow classify --evaluate LABELS.yaml DATA...`` through typer's CliRunner on real files.

The example is hand-checkable: the columns are ones any version of the
classifier labels surely (e-mails, IBANs, IPv4 addresses, UUIDs), and the
mistakes are in the labels, so the expected numbers below follow from the
labels alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from faker import Faker
from typer.testing import CliRunner

from compliance.evaluate import ColumnOutcome, evaluate
from klikkflow_pipelines.cli.main import app

runner = CliRunner()
ROWS = 60

LABELS = """\
version: 1
files:
  customers.csv:
    email: EMAIL_ADDRESS     # right
    iban: IBAN_CODE          # right
    ip: null                 # the classifier says IP_ADDRESS: a false positive
    request_id: EMAIL_ADDRESS  # UUIDs: a false negative
  orders.jsonl:
    contact.email: EMAIL_ADDRESS  # a nested leaf, right
    contact.iban: US_SSN          # the classifier says IBAN_CODE: wrong entity
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """customers.csv, orders.jsonl and labels.yaml in ``tmp_path``."""
    fake = Faker()
    fake.seed_instance(3)
    pl.DataFrame(
        {
            "email": [fake.email() for _ in range(ROWS)],
            "iban": [fake.iban() for _ in range(ROWS)],
            "ip": [fake.ipv4_public() for _ in range(ROWS)],
            "request_id": [fake.uuid4() for _ in range(ROWS)],
            "amount": [i * 1.25 for i in range(ROWS)],
        }
    ).write_csv(tmp_path / "customers.csv")
    pl.DataFrame(
        {
            "contact": [{"email": fake.email(), "iban": fake.iban()} for _ in range(ROWS)],
            "total": [i * 2.5 for i in range(ROWS)],
        }
    ).write_ndjson(tmp_path / "orders.jsonl")
    (tmp_path / "labels.yaml").write_text(LABELS)
    return tmp_path


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["classify", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_numbers_are_right_on_a_hand_checked_example(files: Path) -> None:
    code, out, err = _run(
        "--evaluate",
        files / "labels.yaml",
        files / "customers.csv",
        files / "orders.jsonl",
        "--format",
        "json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"overall", "entities", "columns", "confusions", "unlabelled"}
    # tp: email, iban, contact.email; fp: ip (IP_ADDRESS), contact.iban (IBAN_CODE);
    # fn: request_id (EMAIL_ADDRESS), contact.iban (US_SSN); 5 columns expected to hold PII.
    assert doc["overall"] == {
        "precision": 0.6,
        "recall": 0.6,
        "f1": 0.6,
        "support": 5,
        "tp": 3,
        "fp": 2,
        "fn": 2,
    }
    entities = doc["entities"]
    assert entities["EMAIL_ADDRESS"] == {
        "precision": 1.0,
        "recall": 0.6667,
        "f1": 0.8,
        "support": 3,
        "tp": 2,
        "fp": 0,
        "fn": 1,
    }
    assert entities["IBAN_CODE"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": 0.6667,
        "support": 1,
        "tp": 1,
        "fp": 1,
        "fn": 0,
    }
    assert entities["IP_ADDRESS"] == {  # never expected: recall undefined
        "precision": 0.0,
        "recall": None,
        "f1": 0.0,
        "support": 0,
        "tp": 0,
        "fp": 1,
        "fn": 0,
    }
    assert entities["US_SSN"] == {  # never predicted: precision undefined
        "precision": None,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "tp": 0,
        "fp": 0,
        "fn": 1,
    }
    assert {(c["expected"], c["predicted"], c["count"]) for c in doc["confusions"]} == {
        (None, "IP_ADDRESS", 1),
        ("EMAIL_ADDRESS", None, 1),
        ("US_SSN", "IBAN_CODE", 1),
    }
    columns = {(c["file"], c["column"]): c for c in doc["columns"]}
    assert len(columns) == 6
    ip = columns[(str(files / "customers.csv"), "ip")]
    assert ip["expected"] is None and ip["predicted"] == "IP_ADDRESS" and ip["ok"] is False
    assert isinstance(ip["score"], float) and ip["score"] > 0.5
    leaf = columns[(str(files / "orders.jsonl"), "contact.email")]
    assert leaf["predicted"] == "EMAIL_ADDRESS" and leaf["ok"] is True
    assert doc["unlabelled"] == {
        str(files / "customers.csv"): ["amount"],
        str(files / "orders.jsonl"): ["total"],
    }


def test_human_tables_and_data_defaulting_to_the_labelled_files(files: Path) -> None:
    code, out, err = _run("--evaluate", files / "labels.yaml")  # DATA: the files listed, next to labels.yaml
    assert code == 0, err
    for text in ("Columns", "Entities", "Confusions", "contact.iban", "US_SSN", "IBAN_CODE", "amount"):
        assert text in out
    assert "precision 0.600, recall 0.600, F1 0.600 (tp 3, fp 2, fn 2)" in out


def test_min_f1_sets_the_exit_code(files: Path) -> None:
    labels, data = files / "labels.yaml", files / "customers.csv"
    code, _, err = _run("--evaluate", labels, data, "--min-f1", "0.5", "--format", "json")
    assert code == 0, err  # customers.csv alone: tp 2, fp 1, fn 1 -> F1 0.667
    assert "note: labels not evaluated" in err and "orders.jsonl" in err
    code, out, err = _run("--evaluate", labels, data, "--min-f1", "0.7", "--format", "json")
    assert code == 1 and "column F1 0.6667 is below --min-f1 0.7" in err
    assert json.loads(out)["overall"]["f1"] == 0.6667  # the report is printed before failing


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            "version: 1\nfiles:\n  customers.csv:\n    email: EMAL\n",
            ["files.customers.csv.email: unknown entity 'EMAL'; known entities: ", "EMAIL_ADDRESS, "],
        ),
        (
            "version: 1\nfiles:\n  customers.csv:\n    email: email_address\n",
            ["files.customers.csv.email: unknown entity", "Fix: write 'EMAIL_ADDRESS'"],
        ),
        ("files:\n  customers.csv:\n    email: EMAIL_ADDRESS\n", ["version: expected 1, got None"]),
        ("version: 1\nfile: {}\n", ["file: unknown field", "files: expected a mapping"]),
        (
            "version: 1\nfiles:\n  customers.csv:\n    emial: EMAIL_ADDRESS\n",
            ["files.customers.csv.emial: no column 'emial' in", "(columns: email, iban, ip,"],
        ),
        (
            "version: 1\nfiles:\n  orders.jsonl:\n    contact: null\n",
            ["label its leaves instead: contact.email"],
        ),
    ],
)
def test_label_errors_name_file_and_field(files: Path, labels: str, expected: list[str]) -> None:
    path = files / "bad.yaml"
    path.write_text(labels)
    data = files / ("orders.jsonl" if "orders" in labels else "customers.csv")
    code, out, err = _run("--evaluate", path, data)
    assert code == 2 and not out
    assert err.startswith(f"{path}: ") and "Fix:" in err
    for text in expected:
        assert text in err


def test_data_without_labels_and_misuse_are_errors(files: Path) -> None:
    stray = files / "stray.csv"
    stray.write_text("a\n1\n")
    code, _, err = _run("--evaluate", files / "labels.yaml", files / "customers.csv", stray)
    assert code == 2
    assert f"no labels for DATA file {stray} (labelled: customers.csv, orders.jsonl)" in err and "Fix:" in err
    code, _, err = _run("--evaluate", files / "missing.yaml", files / "customers.csv")
    assert code == 2 and "missing.yaml: (file): file not found" in err
    code, _, err = _run(files / "customers.csv", "--min-f1", "0.9")
    assert code == 2 and "--min-f1 needs --evaluate" in err
    code, _, err = _run(files / "customers.csv", files / "orders.jsonl")
    assert code == 2 and "give one DATA file" in err


def test_scores_with_nothing_to_find() -> None:
    nothing = evaluate([ColumnOutcome("a.csv", "amount", None, None, 0.0)])
    assert (nothing.overall.precision, nothing.overall.recall, nothing.overall.f1) == (None, None, 1.0)
    assert nothing.entities == {} and nothing.confusions == []


def test_a_policys_custom_entities_are_classified_and_may_be_labels(tmp_path: Path) -> None:
    from stdnum import luhn

    bodies = [f"{100000 + i * 37}" for i in range(ROWS)]
    pl.DataFrame({"staff": [f"EMP-{b}{luhn.calc_check_digit(b)}" for b in bodies]}).write_csv(
        tmp_path / "staff.csv"
    )
    (tmp_path / "labels.yaml").write_text("version: 1\nfiles:\n  staff.csv:\n    staff: ACME_EMPLOYEE_ID\n")
    (tmp_path / "policy.yaml").write_text(
        "version: 1\nentities:\n  - name: ACME_EMPLOYEE_ID\n    regex: 'EMP-\\d{7}'\n    validator: luhn\n"
        "    sensitivity: restricted\nrules: []\n"
    )
    labels, data, policy = (str(tmp_path / n) for n in ("labels.yaml", "staff.csv", "policy.yaml"))
    without = runner.invoke(app, ["classify", "--evaluate", labels, data])
    assert without.exit_code == 2 and "ACME_EMPLOYEE_ID" in without.output  # unknown without the policy
    result = runner.invoke(
        app, ["classify", "--evaluate", labels, data, "--policy", policy, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["overall"]["f1"] == 1.0
    single = runner.invoke(app, ["classify", data, "--policy", policy, "--format", "json"])
    assert json.loads(single.output)["columns"]["staff"]["entity"] == "ACME_EMPLOYEE_ID"
