"""``klikkflow classify --explain`` and the ``--policy`` preview, on real CSV, Parquet and JSON Lines files.

The data holds a card column (some numbers fail Luhn), an e-mail column with
a few non-addresses, a first-name column only its German header identifies,
an ``order_id`` of Luhn-valid card-shaped numbers (a counter-signal), free-text
notes and columns whose names are Rich markup. Every share asserted is worked
out from the data by hand; no value of the data may appear in any output.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest
import typer
from stdnum import luhn
from typer.testing import CliRunner

from compliance.classify import classify_frame
from compliance.explain import explain_frame
from compliance.nlp import NlpEngines, build_engines
from compliance.sample_masks import mask_sample
from klikkflow_pipelines.cli.compliance import classify
from klikkflow_pipelines.paths import PROJECT_ROOT
from tests.compliance.heldout2_set import heldout2_frames
from tests.compliance.heldout_set import heldout_frames
from tests.compliance.labelled_set import LabelledTable, labelled_frames

app = typer.Typer()
app.command()(classify)
runner = CliRunner()

ROWS = 50
FIRST_NAMES = (
    "Anneliese", "Gudrun", "Hildegard", "Jürgen", "Wolfgang", "Dieter", "Sieglinde", "Reinhard", "Ulrike",
    "Waltraud", "Gerhard", "Irmgard", "Helmut", "Rosemarie", "Friedhelm", "Brunhilde", "Eberhard",
)  # fmt: skip
MARKUP = "[bold]x[/bold]"
PATTERN = "^[a-z]{2}$"
EXPLANATION_KEYS = {
    "entity", "confidence", "sensitivity", "free_text", "values", "decided_by", "entities", "name_signals",
    "counter_signal", "patterns", "ner", "ner_contains", "measures", "thresholds", "set_aside", "notes",
    "samples", "action", "rule", "unclassifiable", "leaves",
}  # fmt: skip
POLICY = """\
version: 1
default_action: drop
entities:
  - name: ACME_STAFF_ID
    regex: 'STF-\\d{6}'
    sensitivity: restricted
rules:
  - name: tokenize-cards
    match: {entities: [CREDIT_CARD]}
    action: tokenize
  - name: redact-notes
    match: {free_text: true}
    action: redact
  - name: hash-emails
    match: {entities: [EMAIL_ADDRESS]}
    action: hash
  - name: drop-restricted
    match: {sensitivity: [restricted]}
    action: drop
"""


def _card(rng: random.Random, valid: bool) -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    check = int(luhn.calc_check_digit(body))
    digits = body + str(check if valid else (check + 1) % 10)
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def _frame() -> pl.DataFrame:
    rng = random.Random(7)
    cards = [_card(rng, valid=i < 40) for i in range(ROWS)]  # 40 of 50 pass Luhn
    emails = [f"kunde{i:02d}.muster@beispiel{i % 3}.de" for i in range(45)] + [
        f"keine-angabe-{i}" for i in range(5)
    ]  # 45 of 50 are addresses
    orders = [_card(rng, valid=True).replace(" ", "") for _ in range(ROWS)]
    notes = [
        f"Rückruf an {FIRST_NAMES[i % 17]} Brandtner unter kunde{i:02d}.muster@beispiel{i % 3}.de "
        f"wegen der Lieferung am Montag, bitte heute erledigen ({i})"
        for i in range(ROWS)
    ]
    return pl.DataFrame(
        {
            "card_number": cards,
            "email": emails,
            "vorname": [FIRST_NAMES[i % 17] for i in range(ROWS)],
            "order_id": orders,
            "notes": notes,
            "staff_ref": [f"STF-{100000 + i * 7919}" for i in range(ROWS)],
            MARKUP: [i % 5 for i in range(ROWS)],
            PATTERN: ["ab", "cd", "ef", "gh", "ij"] * 10,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return _frame()


@pytest.fixture(scope="module")
def files(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("explain")
    paths = {"csv": root / "people.csv", "parquet": root / "people.parquet", "jsonl": root / "people.jsonl"}
    frame.write_csv(paths["csv"])
    frame.write_parquet(paths["parquet"])
    frame.write_ndjson(paths["jsonl"])
    (root / "policy.yaml").write_text(POLICY)
    paths["policy"] = root / "policy.yaml"
    return paths


@pytest.fixture(scope="module")
def explained(files: dict[str, Path]) -> dict[str, dict]:
    """``--explain --format json`` of each file format, with the policy preview."""
    out = {}
    for fmt in ("csv", "parquet", "jsonl"):
        result = runner.invoke(
            app, [str(files[fmt]), "--explain", "--format", "json", "--policy", str(files["policy"])]
        )
        assert result.exit_code == 0, result.output
        out[fmt] = json.loads(result.stdout)
    return out


def _values(frame: pl.DataFrame) -> set[str]:
    """Every value of the PII-bearing columns, and every address inside the notes."""
    columns = ("card_number", "email", "vorname", "order_id", "notes", "staff_ref")
    found = {str(v) for c in columns for v in frame.get_column(c).to_list()}
    found |= {f"kunde{i:02d}.muster@beispiel{i % 3}.de" for i in range(ROWS)}
    return found | {v.replace(" ", "") for v in found}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_signals_and_shares_per_column(explained: dict[str, dict], fmt: str) -> None:
    cols = explained[fmt]["columns"]
    card = cols["card_number"]
    assert (card["entity"], card["sensitivity"]) == ("CREDIT_CARD", "restricted")
    assert card["name_signals"] == [{"entity": "CREDIT_CARD", "word": "card", "languages": ["en"]}]
    [pattern] = [p for p in card["patterns"] if p["entity"] == "CREDIT_CARD"]
    assert pattern == {
        "entity": "CREDIT_CARD",
        "matched": 1.0,
        "validator": "card prefix + Luhn",
        "passed": 0.8,
    }
    assert card["thresholds"]["CREDIT_CARD pattern share"] == 0.3  # the name lowers the share needed
    assert card["confidence"] == 0.9 and card["decided_by"].startswith("pattern: 80%")

    email = cols["email"]
    assert email["entity"] == "EMAIL_ADDRESS" and email["entities"]["EMAIL_ADDRESS"] == 0.9
    assert email["patterns"][0] == {
        "entity": "EMAIL_ADDRESS",
        "matched": 0.9,
        "validator": None,
        "passed": 0.9,
    }

    name = cols["vorname"]
    assert name["entity"] == "PERSON" and name["patterns"] == []
    assert name["name_signals"] == [{"entity": "PERSON", "word": "vorname", "languages": ["de"]}]
    assert name["values"] == 17 and name["measures"]["name-shape share"] == 1.0

    order = cols["order_id"]
    assert order["entity"] is None and order["counter_signal"] == "order"
    assert order["set_aside"] == ["CREDIT_CARD"] and order["name_signals"] == []
    assert order["patterns"][0]["passed"] == 1.0  # every value is Luhn-valid and card-shaped, yet no label
    assert order["decided_by"].startswith("counter-signal 'order'")

    notes = cols["notes"]
    assert notes["free_text"] is True and notes["entity"] is None
    assert notes["entities"]["EMAIL_ADDRESS"] == 1.0
    assert notes["measures"]["words per value"] >= notes["thresholds"]["free text words per value"]

    assert cols["staff_ref"]["entity"] == "ACME_STAFF_ID"
    assert cols["staff_ref"]["name_signals"] == [] and cols["staff_ref"]["patterns"][0]["passed"] == 1.0
    assert cols[MARKUP]["entity"] is None and cols[PATTERN]["entity"] is None


def test_ner_share_only_when_ner_ran(explained: dict[str, dict]) -> None:
    cols = explained["csv"]["columns"]
    assert cols["card_number"]["ner"] is None and cols["order_id"]["ner"] is None
    if build_engines().analyzer is not None:
        assert set(cols["notes"]["ner_contains"]) == {"PERSON", "LOCATION"}
        assert cols["notes"]["ner_contains"]["PERSON"] == cols["notes"]["entities"].get("PERSON", 0.0)


def test_json_schema_is_stable(explained: dict[str, dict]) -> None:
    for out in explained.values():
        assert set(out) == {"rows", "columns"} and out["rows"] == ROWS
        for column in out["columns"].values():
            assert set(column) == EXPLANATION_KEYS
            assert set(column["samples"]) == {"entity", "values"} and len(column["samples"]["values"]) <= 3
            for pattern in column["patterns"]:
                assert set(pattern) == {"entity", "matched", "validator", "passed"}


def test_samples_are_masked(explained: dict[str, dict], frame: pl.DataFrame) -> None:
    cols = explained["csv"]["columns"]
    assert cols["card_number"]["samples"]["entity"] == "CREDIT_CARD"
    for sample in cols["card_number"]["samples"]["values"]:
        assert sample.startswith("4*** **** **** ") and sample.count("*") == 11
    for sample in cols["email"]["samples"]["values"]:
        assert sample.startswith("k") and sample.endswith(".de") and "@b********." in sample
    assert all(s[0].isupper() and set(s[1:]) == {"*"} for s in cols["vorname"]["samples"]["values"])
    assert cols["order_id"]["samples"]["entity"] == "CREDIT_CARD"  # what it looked like, masked


def test_attack_no_data_value_leaks_into_any_output(files: dict[str, Path], frame: pl.DataFrame) -> None:
    """Attack: read the explanation to recover the data. No full value appears, in table or JSON form."""
    values = _values(frame)
    for args in (["--explain"], ["--explain", "--format", "json"], ["--policy", str(files["policy"])]):
        result = runner.invoke(app, [str(files["csv"]), *args])
        assert result.exit_code == 0, result.output
        leaked = [v for v in values if v in result.stdout]
        assert not leaked, leaked[:3]


@pytest.mark.parametrize(
    "value", ["Al", "J", "12", "--", "Jane Doe", "jd@x.io", "4111 1111 1111 1111", "DE89370400440532013000"]
)
def test_mask_never_returns_the_value(value: str) -> None:
    masked = mask_sample(value)
    assert value not in masked and len(masked) == len(value)


def test_attack_an_oversize_value_is_cut() -> None:
    """Attack: a megabyte cell must not flood the explanation."""
    masked = mask_sample("Jane " * 200_000)
    assert len(masked) == 40 and masked.endswith("…") and "Jane" not in masked


def test_policy_preview_actions(explained: dict[str, dict], files: dict[str, Path]) -> None:
    expected = {
        "card_number": ("tokenize", "tokenize-cards"),
        "email": ("hash", "hash-emails"),
        "vorname": ("drop", None),  # PII no rule matches: the policy's default_action
        "order_id": ("allow", None),
        "notes": ("redact", "redact-notes"),
        "staff_ref": ("drop", "drop-restricted"),  # a custom entity, matched by its sensitivity
        MARKUP: ("allow", None),
    }
    cols = explained["parquet"]["columns"]
    assert {c: (cols[c]["action"], cols[c]["rule"]) for c in expected} == expected
    plain = runner.invoke(app, [str(files["csv"]), "--format", "json", "--policy", str(files["policy"])])
    plain_cols = json.loads(plain.stdout)["columns"]
    assert {c: (plain_cols[c]["action"], plain_cols[c]["rule"]) for c in expected} == expected
    table = runner.invoke(app, [str(files["csv"]), "--policy", str(files["policy"])])
    assert table.exit_code == 0 and "action" in table.stdout
    for action, rule in expected.values():
        assert action in table.stdout and (rule is None or rule in table.stdout)


def test_without_policy_there_is_no_action(files: dict[str, Path]) -> None:
    plain = json.loads(runner.invoke(app, [str(files["csv"]), "--format", "json"]).stdout)
    assert "action" not in plain["columns"]["email"]
    explained = json.loads(runner.invoke(app, [str(files["csv"]), "--explain", "--format", "json"]).stdout)
    assert explained["columns"]["email"]["action"] is None
    table = runner.invoke(app, [str(files["csv"])]).stdout
    assert "action" not in table


def test_markup_in_column_names_prints_as_written_at_80_columns(files: dict[str, Path]) -> None:
    for args in (["--explain"], [], ["--policy", str(files["policy"])]):
        result = runner.invoke(app, [str(files["csv"]), *args])
        assert result.exit_code == 0, result.output
        assert MARKUP in result.stdout and PATTERN in result.stdout, result.stdout
        assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_explain_table_names_each_signal(files: dict[str, Path]) -> None:
    out = runner.invoke(app, [str(files["csv"]), "--explain", "--policy", str(files["policy"])]).stdout
    assert "'vorname' -> PERSON (de)" in out
    assert "'order' says it holds something else: CREDIT_CARD set aside" in out
    assert "CREDIT_CARD: matched 100%, card prefix + Luhn passed 80%" in out
    assert "tokenize (rule tokenize-cards)" in out and "drop (no rule matches)" in out


def test_explain_with_evaluate_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    labels = tmp_path / "labels.yaml"
    labels.write_text("files:\n  people.csv:\n    email: EMAIL_ADDRESS\n")
    result = runner.invoke(app, ["--evaluate", str(labels), "--explain"])
    assert result.exit_code == 2 and "--explain works on one DATA file" in result.output


def test_evaluate_still_takes_the_policy_custom_entities(files: dict[str, Path]) -> None:
    labels = files["csv"].parent / "labels.yaml"
    labels.write_text(
        "version: 1\nfiles:\n  people.csv:\n    staff_ref: ACME_STAFF_ID\n    email: EMAIL_ADDRESS\n"
    )
    args = ["--evaluate", str(labels), "--policy", str(files["policy"]), "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overall"]["f1"] == 1.0


@pytest.fixture(scope="module")
def engines() -> NlpEngines:
    return build_engines()


@pytest.mark.parametrize(
    "tables",
    [lambda: labelled_frames(rows=60), lambda: heldout_frames(rows=60), lambda: heldout2_frames(rows=60)],
    ids=["labelled", "heldout", "heldout2"],
)
def test_explanation_equals_classification_on_the_labelled_sets(tables, engines: NlpEngines) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for table in tables():
        table: LabelledTable
        report = classify_frame(table.frame, engines=engines)
        explained = explain_frame(table.frame, engines=engines)
        for name, col in report.columns.items():
            e = explained.columns[name]
            got = (e.entity, round(e.confidence, 9), e.sensitivity, e.free_text)
            assert got == (col.entity, round(col.score, 9), col.sensitivity, col.free_text), (
                table.name,
                name,
            )
            assert e.entities == col.entities and e.decided_by, (table.name, name)
            if e.decided_by.startswith("pattern:"):
                [p] = [p for p in e.patterns if p.entity == e.entity]
                assert abs(p.passed - col.entities[e.entity]) < 1e-9, (table.name, name)
            checked += 1
    assert checked >= 60


def test_every_name_vocabulary_word_has_a_language() -> None:
    from compliance import column_names

    words = {
        w for table in (column_names._TOKENS, column_names._SUBSTRINGS) for ws in table.values() for w in ws
    }
    assert not [w for w in sorted(words) if not column_names.name_word_languages(w)]
    assert column_names.name_word_languages("Straße") == ("de",)
    assert set(column_names.name_word_languages("telefon")) >= {"de", "pl", "sv", "no", "da"}


def test_readme_sample_is_what_the_command_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's ``--explain`` sample is this data under the default policy, printed as shown."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    command = "$ klikkflow classify customers.csv --explain --policy deploy/policies/default.yaml\n"
    shown = readme.split(command, 1)[1].split("```", 1)[0]
    _frame().select("card_number", "order_id").write_csv(tmp_path / "customers.csv")
    monkeypatch.chdir(tmp_path)
    policy = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"
    result = runner.invoke(app, ["customers.csv", "--explain", "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert result.stdout == shown


def test_nested_leaves_unreadable_columns_and_terminal_codes(tmp_path: Path) -> None:
    """Leaves are explained with their own actions; a binary column is unclassifiable; attack: a terminal
    escape sequence in the data never reaches the output."""
    rows = [
        {
            "contact": {"email": f"person{i}@firma{i % 4}.no", "phone": f"+47 9{i:02d} 12 34{i % 10}"},
            "note": f"\x1b[31mred\x1b[0m call about the delivery today, write to kari{i}@post.no",
            "blob": b"\x00\x01\x02",
        }
        for i in range(30)
    ]
    path = tmp_path / "nested.parquet"
    pl.DataFrame(rows).write_parquet(path)
    policy = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
    args = [str(path), "--explain", "--format", "json", "--policy", policy]
    out = json.loads(runner.invoke(app, args).stdout)
    contact = out["columns"]["contact"]
    assert contact["entity"] is None and set(contact) == EXPLANATION_KEYS
    leaves = contact["leaves"]
    assert (leaves["contact.email"]["entity"], leaves["contact.email"]["action"]) == ("EMAIL_ADDRESS", "hash")
    assert (leaves["contact.phone"]["entity"], leaves["contact.phone"]["action"]) == ("PHONE_NUMBER", "mask")
    assert leaves["contact.email"]["name_signals"][0]["word"] == "email"
    assert contact["action"] == "hash"  # the most protective of its leaves
    blob = out["columns"]["blob"]
    assert blob["unclassifiable"] and blob["action"] == "block" and blob["rule"] == "unclassifiable"
    assert out["columns"]["note"]["free_text"] and out["columns"]["note"]["action"] == "redact"
    for args in (["--explain"], ["--explain", "--format", "json"]):
        result = runner.invoke(app, [str(path), *args, "--policy", policy])
        assert result.exit_code == 0 and "\x1b" not in result.stdout and "kari1@post.no" not in result.stdout
    plain = json.loads(runner.invoke(app, [str(path), "--format", "json", "--policy", policy]).stdout)
    assert plain["columns"]["contact"]["leaves"]["contact.phone"]["action"] == "mask"
    assert (plain["columns"]["blob"]["action"], plain["columns"]["contact"]["action"]) == ("block", "hash")
    masked = mask_sample("\x1b[31mJane Doe\x07")
    assert masked.startswith("?[") and masked.endswith("?") and "Jane" not in masked


def test_asset_option_chooses_the_rules_that_match(files: dict[str, Path]) -> None:
    """The default policy keeps names in ``*customer*`` assets and hashes them elsewhere."""
    policy = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
    actions = {}
    for asset in ("customers", "claims"):
        args = [str(files["csv"]), "--format", "json", "--policy", policy, "--asset", asset]
        actions[asset] = json.loads(runner.invoke(app, args).stdout)["columns"]["vorname"]["rule"]
    assert actions == {"customers": "keep-customer-names", "claims": "hash-names-elsewhere"}
