"""``classify`` and ``policy check|apply`` through typer's CliRunner on real files."""

import json
from pathlib import Path

import polars as pl
import pytest
import typer
from faker import Faker
from typer.testing import CliRunner

from klikkflow_pipelines.cli.compliance import classify, policy_app
from klikkflow_pipelines.paths import PROJECT_ROOT

DEFAULT_POLICY = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"
app = typer.Typer()
app.command()(classify)
app.add_typer(policy_app, name="policy")
runner = CliRunner()


def _frame(rows: int = 50) -> pl.DataFrame:
    fake = Faker()
    Faker.seed(12)
    return pl.DataFrame(
        {
            "customer_email": [fake.email() for _ in range(rows)],
            "order_id": list(range(rows)),
            "amount": [float(i) * 1.5 for i in range(rows)],
            "comment": [f"Please call me on {fake.phone_number()} regarding order {i}" for i in range(rows)],
        }
    )


@pytest.fixture(params=["csv", "parquet", "jsonl"])
def data_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"customers.{request.param}"
    frame = _frame()
    {"csv": frame.write_csv, "parquet": frame.write_parquet, "jsonl": frame.write_ndjson}[request.param](path)
    return path


def test_classify_json_has_exactly_the_documented_shape(data_file: Path) -> None:
    result = runner.invoke(app, ["classify", str(data_file), "--format", "json", "--sample", "500"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"rows", "columns"} and out["rows"] == 50
    for column in out["columns"].values():
        assert set(column) == {"entity", "score", "sensitivity", "entities"}
        assert isinstance(column["score"], float)
        assert all(isinstance(rate, float) for rate in column["entities"].values())
    assert out["columns"]["customer_email"]["entity"] == "EMAIL_ADDRESS"
    assert out["columns"]["order_id"] == {
        "entity": None,
        "score": 0.0,
        "sensitivity": "internal",
        "entities": {},
    }
    assert out["columns"]["comment"]["entity"] is None
    assert out["columns"]["comment"]["entities"]["PHONE_NUMBER"] > 0.5


def test_classify_table_output(data_file: Path) -> None:
    result = runner.invoke(app, ["classify", str(data_file)])
    assert result.exit_code == 0
    assert (
        "customer_email" in result.stdout
        and "EMAIL_ADDRESS" in result.stdout
        and "free text" in result.stdout
    )


def test_classify_invalid_utf8_csv(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"email,n\nola@example.no,1\n\xff\xfekari@example.no,2\nper@example.no,3\n")
    result = runner.invoke(app, ["classify", str(path), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["columns"]["email"]["entity"] == "EMAIL_ADDRESS"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.xlsx", b"x", "unsupported file type '.xlsx'"),
        ("missing.csv", None, "file not found"),
        ("broken.parquet", b"not parquet", "cannot read as parquet"),
    ],
)
def test_classify_bad_input_exits_non_zero_with_file_and_fix(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["classify", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr and "Fix:" in result.stderr


def test_policy_check_accepts_the_default_policy() -> None:
    result = runner.invoke(app, ["policy", "check", str(DEFAULT_POLICY)])
    assert result.exit_code == 0 and "OK (11 rules" in result.stdout


def test_policy_check_reports_file_rule_field_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("rules:\n  - name: mails\n    match: {entities: [EMAIL_ADDRESS]}\n    action: shred\n")
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}: rules[0] (rule 'mails').action" in result.stderr and "Fix:" in result.stderr


def test_policy_apply_writes_the_protected_file(tmp_path: Path, tenant_key: str) -> None:
    source, target = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    _frame().write_parquet(source)
    result = runner.invoke(app, ["policy", "apply", str(DEFAULT_POLICY), str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert "customer_email: hash (rule hash-emails)" in result.stdout
    out = pl.read_ndjson(target)
    assert out["customer_email"].str.len_chars().unique().to_list() == [64]
    assert (
        sum("<PHONE_NUMBER>" in c for c in out["comment"]) >= 40
    )  # formatted numbers; bare digits look like ids
    assert out["order_id"].to_list() == list(range(50))


def test_policy_apply_block_writes_no_file(tmp_path: Path, tenant_key: str) -> None:
    fake = Faker()
    source, target = tmp_path / "cards.csv", tmp_path / "out.csv"
    pl.DataFrame({"card": [fake.credit_card_number() for _ in range(20)]}).write_csv(source)
    result = runner.invoke(app, ["policy", "apply", str(DEFAULT_POLICY), str(source), str(target)])
    assert result.exit_code == 3
    assert "block-card-numbers" in result.stderr and "Nothing was written" in result.stderr
    assert not target.exists() and list(tmp_path.iterdir()) == [source]


def test_policy_apply_without_a_key_explains_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLIKKFLOW_TENANT_KEY", raising=False)
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    _frame().write_csv(source)
    result = runner.invoke(app, ["policy", "apply", str(DEFAULT_POLICY), str(source), str(target)])
    assert result.exit_code == 2 and "KLIKKFLOW_TENANT_KEY" in result.stderr
    assert not target.exists()
