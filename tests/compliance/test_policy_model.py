"""Policy files: the sample policy loads, and mistakes are reported with file, rule, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.policy import Policy, load_policy, policy_from_mapping
from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.paths import PROJECT_ROOT

DEFAULT_POLICY = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_tenant_policy_is_valid() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert {r.action for r in policy.rules} >= {
        "block",
        "redact",
        "tokenize",
        "hash",
        "mask",
        "drop",
        "allow",
    }
    assert policy.source == str(DEFAULT_POLICY)
    assert policy.allowed_regions("warehouse-eu", has_pii=True) == ["eu-north-1", "eu-west-1", "eu-central-1"]


def test_first_matching_rule_wins_and_globs_narrow_rules() -> None:
    policy = load_policy(DEFAULT_POLICY)
    onboarding = policy.rule_for("clean_customers", "first_name", {"PERSON"}, "confidential", False)
    claims = policy.rule_for("claims/claims", "name", {"PERSON"}, "confidential", False)
    assert onboarding is not None and onboarding.action == "allow"
    assert claims is not None and claims.action == "hash"
    notes = policy.rule_for("claims/claims", "notes", {"EMAIL_ADDRESS"}, "confidential", True)
    assert notes is not None and notes.name == "redact-free-text"


def test_unknown_action_names_file_rule_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "rules:\n  - name: hash-mails\n    match: {entities: [EMAIL_ADDRESS]}\n    action: shred\n"
    )
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    message = str(err.value)
    assert str(path) in message
    assert "rules[0] (rule 'hash-mails').action" in message
    assert "Fix:" in message and "mask" in message


def test_unknown_entity_lists_the_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "rules:\n  - name: r1\n    match: {entities: [EMAIL]}\n    action: hash\n")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert "rules[0] (rule 'r1').match.entities" in str(err.value)
    assert "EMAIL_ADDRESS" in str(err.value)


@pytest.mark.parametrize(
    ("yaml_text", "field", "words"),
    [
        (
            "rules:\n  - name: a\n    match: {}\n    action: drop\n",
            "rules[0] (rule 'a').match",
            "selects nothing",
        ),
        (
            "rules:\n  - name: a\n    match: {columns: [x]}\n    action: hash\n    keep_last: 2\n",
            "rule 'a'",
            "keep_last",
        ),
        (
            "rules:\n  - name: a\n    match: {columns: [x]}\n    action: mask\n    keep_last: -1\n",
            "keep_last",
            "larger",
        ),
        (
            "rules:\n  - name: a\n    match: {columns: [x]}\n    action: drop\n    colour: red\n",
            "colour",
            "spelling",
        ),
        ("rules:\n  - match: {columns: [x]}\n    action: drop\n", "rules[0].name", "add the field"),
        (
            "residency:\n  - destinations: [s3]\n    allowed_regions: []\n",
            "residency[0].allowed_regions",
            "at least",
        ),
        ("version: 2\n", "version", "allowed values"),
        ("hash_key: abc\n", "hash_key", "remove the field"),
    ],
)
def test_validation_messages_name_the_field_and_a_fix(
    tmp_path: Path, yaml_text: str, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_policy(_write(tmp_path, yaml_text))
    assert field in str(err.value) and words in str(err.value)


def test_duplicate_rule_names_are_rejected() -> None:
    rule = {"name": "same", "match": {"columns": ["x"]}, "action": "drop"}
    with pytest.raises(ConfigError, match="used twice"):
        policy_from_mapping({"rules": [rule, rule]})


def test_keys_are_not_accepted_in_a_policy() -> None:
    with pytest.raises(ConfigError, match="tenant_key: Extra inputs are not permitted"):
        policy_from_mapping({"tenant_key": "00" * 32})


def test_broken_yaml_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_policy(_write(tmp_path, "rules: [\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_policy(tmp_path / "missing.yaml")


def test_residency_rules_apply_to_pii_by_default() -> None:
    policy = Policy.model_validate(
        {"residency": [{"destinations": ["warehouse*"], "allowed_regions": ["eu-north-1"]}]}
    )
    assert policy.allowed_regions("warehouse-main", has_pii=True) == ["eu-north-1"]
    assert policy.allowed_regions("warehouse-main", has_pii=False) is None
    assert policy.allowed_regions("s3", has_pii=True) is None


def test_raw_intake_keeps_contact_data_but_not_restricted_data() -> None:
    policy = load_policy(DEFAULT_POLICY)
    email = policy.rule_for("raw_customer_drops", "email", {"EMAIL_ADDRESS"}, "confidential", False)
    ssn = policy.rule_for("raw_customer_drops", "ssn", {"US_SSN"}, "restricted", False)
    later = policy.rule_for("clean_customers", "email", {"EMAIL_ADDRESS"}, "confidential", False)
    assert email is not None and email.name == "allow-raw-intake"
    assert ssn is not None and ssn.action == "tokenize"
    assert later is not None and later.action == "hash"
