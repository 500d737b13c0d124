"""Custom entities in a tenant's policy file: validation errors, recognizers, checksums, CLI and tenants.

Classifying and enforcing with custom entities is in test_custom_entities_e2e.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from compliance.checksums import VALIDATORS
from compliance.custom_entities import span_pattern
from compliance.decisions import plan
from compliance.entities import ENTITIES, ENTITY_SENSITIVITY
from compliance.policy import load_policy, policy_from_mapping
from compliance.reports import ColumnReport, FrameReport
from klikkflow_pipelines.cli.compliance import policy_app
from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.validation import validate_project

NATIONAL_IDS = (
    "UK_NINO", "UK_NHS", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE", "PL_PESEL", "FI_PERSONAL_IDENTITY_CODE",
    "SE_PERSONNUMMER", "DE_TAX_ID", "US_PASSPORT", "US_ITIN", "US_DRIVER_LICENSE", "IN_AADHAAR", "IN_PAN",
)  # fmt: skip

VALID = r"""
version: 1
entities:
  - name: ACME_EMPLOYEE_ID
    description: staff number on HR exports
    regex: 'EMP-\d{6}'
    validator: luhn
    column_words: [employee_id, ansattnr]
    column_substrings: [personalnummer]
    sensitivity: restricted
  - name: ACME_BADGE
    regex: '[0-9]{8}'
    column_words: [badge]
    needs_column_word: true
rules:
  - name: hash-staff
    match: {entities: [ACME_EMPLOYEE_ID]}
    action: hash
  - name: redact-notes
    match: {free_text: true}
    action: redact
    redact_entities: [ACME_EMPLOYEE_ID, EMAIL_ADDRESS]
"""


def _write(tmp_path: Path, text: str, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _entity_error(tmp_path: Path, entity: str) -> str:
    """The message of loading a policy whose only custom entity is ``entity`` (YAML lines)."""
    path = _write(tmp_path, "entities:\n" + textwrap.indent(textwrap.dedent(entity).strip(), "  "))
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert str(path) in str(err.value)
    return str(err.value)


def test_a_valid_policy_loads_and_round_trips(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    policy = load_policy(path)
    assert [e.name for e in policy.entities] == ["ACME_EMPLOYEE_ID", "ACME_BADGE"]
    assert policy.entities[1].sensitivity == "confidential"  # the default
    dumped = policy.model_dump(mode="json")
    again = load_policy(_write(tmp_path, yaml.safe_dump(dumped), "again.yaml"))
    assert again.model_dump(mode="json") == dumped
    assert policy_from_mapping(dumped) == policy.model_copy(update={"source": None})


def test_recognizers_carry_the_declared_entity(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    staff, badge = load_policy(path).recognizers
    assert (staff.entity, staff.sensitivity) == ("ACME_EMPLOYEE_ID", "restricted")
    assert staff.full == r"^(?:EMP-\d{6})$"
    assert staff.span == r"\b{start-half}(?:EMP-\d{6})\b{end-half}"
    assert staff.words == ("ansattnr",)
    assert staff.substrings == ("employee_id", "personalnummer")
    assert not staff.needs_name
    assert staff.valid("EMP-000018") and not staff.valid("EMP-000017")
    assert str(path) in staff.rule and "Luhn" in staff.rule
    assert badge.needs_name and badge.validator is None and badge.valid("12345678")
    assert badge.words == ("badge",) and "in columns whose name contains badge" in badge.rule


def test_full_and_span_patterns_in_polars() -> None:
    staff = policy_from_mapping({"entities": [{"name": "ACME_STAFF", "regex": r"EMP-\d{6}"}]}).recognizers[0]
    cells = pl.Series(["EMP-123456", " EMP-123456", "EMP-1234567", "xEMP-123456"])
    assert cells.str.contains(staff.full).to_list() == [True, False, False, False]
    assert staff.span is not None
    texts = pl.Series(["from EMP-123456.", "see XEMP-123456", "EMP-1234567", "EMP-123456_b", "(EMP-123456)"])
    assert texts.str.contains(staff.span).to_list() == [True, False, False, False, True]
    hashes = pl.Series(["ID #123456 here", "order#123456", "#1234567"])
    assert hashes.str.contains(span_pattern(r"#\d{6}")).to_list() == [True, False, False]
    folded = pl.Series(["emp-123456"]).str.contains(span_pattern(r"(?i)EMP-\d{6}"))
    assert folded.to_list() == [True]


def test_custom_entities_carry_their_sensitivity_and_identifiers_are_restricted(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, VALID))
    sensitivity = {r.entity: r.sensitivity for r in policy.recognizers}
    assert sensitivity == {"ACME_EMPLOYEE_ID": "restricted", "ACME_BADGE": "confidential"}
    assert all(ENTITY_SENSITIVITY[name] == "restricted" for name in NATIONAL_IDS)


def test_rules_match_custom_entities_and_a_bare_redact_removes_them(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, VALID))
    rule = policy.rule_for("hr/staff", "emp", {"ACME_EMPLOYEE_ID"}, "restricted", False)
    assert rule is not None and rule.name == "hash-staff"
    bare = policy_from_mapping(
        {
            "entities": [{"name": "ACME_STAFF", "regex": r"EMP-\d{6}"}],
            "rules": [{"name": "redact-text", "match": {"free_text": True}, "action": "redact"}],
        }
    )
    assert "ACME_STAFF" in bare.default_redact and "EMAIL_ADDRESS" in bare.default_redact
    notes = ColumnReport("notes", None, 0.4, "confidential", {"ACME_STAFF": 0.4}, free_text=True)
    (decision,) = plan(bare, FrameReport(rows=10, columns={"notes": notes}), "hr/notes")
    assert decision.action == "redact" and "ACME_STAFF" in decision.redact_entities


def test_rules_may_name_the_national_identifiers() -> None:
    rule = {"name": "ids", "match": {"entities": list(NATIONAL_IDS)}, "action": "tokenize"}
    assert policy_from_mapping({"rules": [rule]}).rules[0].match.entities == list(NATIONAL_IDS)
    assert set(NATIONAL_IDS) <= set(ENTITIES)


def _case(name: str, lines: str, field: str, words: str, case: str) -> object:
    return pytest.param(name, lines, field, words, id=case)


ERRORS = [
    _case("X", "regex: 'A1'", "name", "UPPER_SNAKE", "short-name"),
    _case("acme_staff", "regex: 'A1'", "name", "UPPER_SNAKE", "lower-case-name"),
    _case("US_SSN", "regex: 'A1'", "name", "name of a built-in entity", "built-in"),
    _case("IN_AADHAAR", "regex: 'A1'", "name", "name of a built-in entity", "national-built-in"),
    _case("ACME_A", "regex: '(?<=ID )\\d{6}'", "regex", "look-around", "look-behind"),
    _case("ACME_A", "regex: '\\d{6}(?!0)'", "regex", "look-around", "look-ahead"),
    _case("ACME_A", "regex: '(\\d)\\1{5}'", "regex", "backreferences", "backreference"),
    _case("ACME_A", "regex: 'EMP-(\\d{6}'", "regex", "Python's re", "unbalanced"),
    _case("ACME_A", "regex: '\\p{Lu}{3}'", "regex", "bad escape", "rust-only-class"),
    _case("ACME_A", "regex: '\\d*'", "regex", "empty string", "empty-star"),
    _case("ACME_A", "regex: 'EMP|'", "regex", "empty string", "empty-alternative"),
    _case("ACME_A", "regex: '\\b'", "regex", "empty string", "zero-width"),
    _case("ACME_A", "regex: ''", "regex", "at least 1 character", "blank"),
    _case("ACME_A", f"regex: '{'A' * 501}'", "regex", "501 characters long; at most 500", "too-long"),
    _case("ACME_A", "regex: '(?:\\w{50}){50}'", "regex", "too large", "catastrophic-size"),
    _case("ACME_A", "regex: '^EMP\\d+$'", "regex", "anchored", "anchors"),
    _case(
        "ACME_A",
        "regex: E1\nvalidator: luhn10",
        "validator",
        "known validators: luhn, verhoeff, damm, mod_11_10, mod_11_2, mod_97_10, mod_37_2",
        "unknown-validator",
    ),
    _case(
        "ACME_A",
        "regex: E1\nsensitivity: secret",
        "sensitivity",
        "'public', 'internal', 'confidential' or 'restricted'",
        "unknown-sensitivity",
    ),
    _case("ACME_A", "regex: E1\ncolumn_word: [x]", "column_word", "check its spelling", "unknown-key"),
    _case("ACME_A", "regex: E1\ncolumn_words: [EmployeeID]", "column_words", "employee_id", "word-form"),
    _case("ACME_A", "regex: E1\ncolumn_substrings: [nr]", "column_substrings", "too short", "substring"),
    _case("ACME_A", "regex: E1\nneeds_column_word: true", "needs_column_word", "no column", "no-words"),
    _case("ACME_A", "description: no regex", "regex", "add the field", "missing-regex"),
]


@pytest.mark.parametrize(("name", "lines", "field", "words"), ERRORS)
def test_each_mistake_names_file_entity_field_and_fix(
    tmp_path: Path, name: str, lines: str, field: str, words: str
) -> None:
    message = _entity_error(tmp_path, f"- name: {name}\n" + textwrap.indent(lines, "  "))
    where = f"entities[0] (entity '{name}').{field}: "
    line = next((line for line in message.splitlines() if where in line), message)
    assert where in line and words in line and "Fix: " in line


def test_user_text_with_braces_is_shown_as_written() -> None:
    with pytest.raises(ConfigError) as err:
        policy_from_mapping({"entities": [{"name": "ACME_A", "regex": "A1", "validator": "x{1}"}]})
    assert "unknown validator 'x{1}'" in str(err.value)


def test_a_duplicate_name_points_at_the_second_declaration(tmp_path: Path) -> None:
    message = _entity_error(
        tmp_path, "- {name: ACME_STAFF, regex: 'EMP-\\d{6}'}\n- {name: ACME_STAFF, regex: 'E-\\d{6}'}"
    )
    assert "entities[1] (entity 'ACME_STAFF').name: entity name 'ACME_STAFF' is declared twice" in message
    assert "first as entities[0]" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    message = _entity_error(
        tmp_path, "- {name: ACME_A, regex: '(?=x)'}\n- {name: ACME_B, regex: 'B1', validator: crc}"
    )
    assert "(entity 'ACME_A').regex" in message and "(entity 'ACME_B').validator" in message


def test_an_unknown_entity_in_a_rule_lists_built_in_and_custom_ones(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        entities:
          - {name: ACME_STAFF, regex: 'EMP-\\d{6}'}
        rules:
          - name: hash-staff
            match: {entities: [ACME_STAF]}
            action: hash
          - name: redact-notes
            match: {free_text: true}
            action: redact
            redact_entities: [ACME_STAFF, ACME_NOTE]
        """,
    )
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    lines = str(err.value).splitlines()
    assert lines[0].startswith(
        f"{path}: rules[0] (rule 'hash-staff').match.entities: unknown entity 'ACME_STAF'"
    )
    assert "EMAIL_ADDRESS" in lines[0] and "IN_PAN" in lines[0]
    assert "custom entities of this policy: ACME_STAFF" in lines[0]
    assert lines[1].startswith(
        f"{path}: rules[1] (rule 'redact-notes').redact_entities: unknown entity 'ACME_NOTE'"
    )


def test_a_rule_naming_a_custom_entity_of_another_file_is_refused() -> None:
    rule = {"name": "r", "match": {"entities": ["ACME_STAFF"]}, "action": "hash"}
    with pytest.raises(ConfigError, match="custom entities of this policy: none"):
        policy_from_mapping({"rules": [rule]})


@pytest.mark.parametrize(
    ("name", "valid", "wrong"),
    [
        ("luhn", "EMP-7992-7398-713", "EMP-7992-7398-710"),
        ("verhoeff", "2363", "2364"),
        ("damm", "572-4", "572-5"),
        ("mod_11_10", "HR 94577403194", "HR 94577403195"),
        ("mod_11_2", "0000-0002-1694-233X", "0000-0002-1694-2330"),
        ("mod_11_2", "0000-0002-1825-0097", "0000-0002-1825-0098"),
        ("mod_97_10", "9999 1234 5678 9012 1414 90", "9999 1234 5678 9012 1414 91"),
        ("mod_37_2", "a12425-gabc1234002-5", "a12425-gabc1234002-6"),
    ],
)
def test_checksums_read_their_characters_and_ignore_separators(name: str, valid: str, wrong: str) -> None:
    check = VALIDATORS[name]
    assert check(valid) and not check(wrong)


@pytest.mark.parametrize("name", list(VALIDATORS))
def test_checksums_refuse_placeholders_and_single_characters(name: str) -> None:
    check = VALIDATORS[name]
    assert not check("0000000000") and not check("EMP-0") and not check("")


def test_policy_check_cli_reports_the_error_and_exits_non_zero(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = _write(tmp_path, "entities:\n  - {name: ACME_A, regex: '(\\d)\\1'}\n", "bad.yaml")
    result = runner.invoke(policy_app, ["check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: entities[0] (entity 'ACME_A').regex: " in result.output
    assert "backreferences are not supported" in result.output
    good = runner.invoke(policy_app, ["check", str(_write(tmp_path, VALID))])
    assert good.exit_code == 0 and "2 custom entities" in good.output


def test_a_bad_custom_entity_stops_only_its_own_tenant(tmp_path: Path) -> None:
    """`klikkflow validate` over two tenants: acme's look-behind regex is acme's problem alone."""
    (tmp_path / "tenants").mkdir()
    _write(tmp_path, "entities:\n  - {name: ACME_STAFF, regex: '(?<=ID )\\d{6}'}\n", "acme-policy.yaml")
    _write(tmp_path, VALID.replace("ACME_", "GLOBEX_"), "globex-policy.yaml")
    for tenant in ("acme", "globex"):
        data = {"id": tenant, "name": tenant, "policy": f"../{tenant}-policy.yaml"}
        (tmp_path / "tenants" / f"{tenant}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    report = validate_project(tmp_path / "tenants")
    assert report.tenants_ok == ["globex"]
    acme = [p for p in report.problems if p.file.endswith("acme-policy.yaml")]
    assert acme and all(p.field == "entities[0] (entity 'ACME_STAFF').regex" for p in acme)
    assert "look-around" in acme[0].message
    assert not [p for p in report.problems if "globex" in p.file]
