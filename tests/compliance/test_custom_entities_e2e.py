"""End to end: a tenant's custom entities are classified, enforced and redacted like built-in ones.

These tests need the classifier side of custom entities (issue 13): ``classify_frame(...,
recognizers=...)`` labelling columns and counting free-text spans with the policy's
recognizers (validated, with the recognizer's sensitivity), and ``enforce`` redacting the
policy's custom spans in free text. Until that lands they fail; they are not skipped.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
from stdnum import luhn
from typer.testing import CliRunner

from compliance.classify import classify_frame
from compliance.crypto import Keys, hash_series
from compliance.enforce import enforce
from compliance.events import read_events
from compliance.files import read_frame
from compliance.guard import FrameGuard, UrlEvents
from compliance.nlp import build_engines
from compliance.policy import Policy, load_policy
from klikkflow_pipelines.cli.compliance import policy_app
from resources.secrets import SecretsResource
from resources.sql_engine import create_storage_engine

KEY_HEX = "5f" * 32
ROWS = 60
POLICY = r"""
entities:
  - name: ACME_EMPLOYEE_ID
    regex: 'EMP-\d{6}'
    validator: luhn
    column_words: [ansattnr]
    sensitivity: restricted
  - name: ACME_BADGE
    regex: '[0-9]{8}'
    column_words: [badge]
    needs_column_word: true
rules:
  - name: hash-staff
    match: {entities: [ACME_EMPLOYEE_ID], free_text: false}
    action: hash
  - name: mask-badges
    match: {entities: [ACME_BADGE]}
    action: mask
    keep_last: 2
  - name: redact-notes
    match: {free_text: true}
    action: redact
"""


def _employee_id(rng: random.Random, valid: bool = True) -> str:
    body = f"{rng.randrange(10**5):05d}"
    check = int(luhn.calc_check_digit(body))
    return f"EMP-{body}{check if valid else (check + 1) % 10}"


def _staff(rows: int = ROWS) -> pl.DataFrame:
    rng = random.Random(13)
    badges = [f"{rng.randrange(10**7, 10**8)}" for _ in range(rows)]
    return pl.DataFrame(
        {
            "staff": [_employee_id(rng) for _ in range(rows)],  # the name says nothing
            "legacy_ref": [_employee_id(rng, valid=False) for _ in range(rows)],
            "badge_no": badges,
            "ref_code": badges,  # the same eight digits, but no badge word in the name
            "notes": [
                f"Payroll ticket for {_employee_id(rng)}: salary corrected, please confirm by Friday."
                for _ in range(rows)
            ],
            "old_notes": [
                f"Payroll ticket for {_employee_id(rng, valid=False)}: salary corrected, confirm by Friday."
                for _ in range(rows)
            ],
        }
    )


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "acme.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return load_policy(path)


@pytest.fixture(scope="module")
def keys() -> Keys:
    keys = SecretsResource(tenant_key=KEY_HEX).compliance_keys()
    assert keys is not None
    return keys


def test_columns_are_labelled_by_validated_values_and_column_words(policy: Policy) -> None:
    report = classify_frame(_staff(), engines=build_engines(""), recognizers=policy.recognizers)
    staff = report.columns["staff"]
    assert (staff.entity, staff.sensitivity) == ("ACME_EMPLOYEE_ID", "restricted")
    assert report.columns["legacy_ref"].entity is None  # right shape, wrong Luhn check digit
    badge = report.columns["badge_no"]
    assert (badge.entity, badge.sensitivity) == ("ACME_BADGE", "confidential")
    assert "ACME_BADGE" not in report.columns["ref_code"].carried  # needs_column_word
    notes, old_notes = report.columns["notes"], report.columns["old_notes"]
    assert notes.free_text and "ACME_EMPLOYEE_ID" in notes.carried
    assert notes.sensitivity == "restricted"
    assert "ACME_EMPLOYEE_ID" not in old_notes.entities  # free-text spans must validate too


def test_enforce_hashes_masks_and_redacts_custom_entities(policy: Policy, keys: Keys) -> None:
    frame = _staff()
    report = classify_frame(frame, engines=build_engines(""), recognizers=policy.recognizers)
    result = enforce(frame, policy, report, asset="hr/staff", keys=keys, engines=build_engines(""))
    out = result.frame
    # old_notes is free text too, so the free-text rule redacts it (whatever it holds)
    assert result.actions() == {"staff": "hash", "badge_no": "mask", "notes": "redact", "old_notes": "redact"}
    assert out["staff"].to_list() == hash_series(frame["staff"], keys.hash_key).to_list()
    assert all(m == "******" + b[-2:] for m, b in zip(out["badge_no"], frame["badge_no"], strict=True))
    assert out["legacy_ref"].to_list() == frame["legacy_ref"].to_list()
    assert out["ref_code"].to_list() == frame["ref_code"].to_list()
    for before, after in zip(frame["notes"], out["notes"], strict=True):
        assert after == "Payroll ticket for <ACME_EMPLOYEE_ID>: " + before.split(": ", 1)[1]


def test_the_guard_classifies_with_the_tenant_policys_entities(tmp_path: Path, keys: Keys) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(POLICY, encoding="utf-8")
    events_url = f"sqlite:///{tmp_path / 'events.db'}"
    guard = FrameGuard("acme", str(path), UrlEvents(events_url), keys=lambda: keys, spacy_model="")
    frame = _staff()
    guarded = guard.protect(frame, asset="hr/staff", destination="storage", region="")
    assert guarded.frame["staff"].to_list() == hash_series(frame["staff"], keys.hash_key).to_list()
    columns = {c.name: c for c in guarded.metadata()["dagster/column_schema"].columns}
    assert columns["staff"].tags["pii/entity"] == "ACME_EMPLOYEE_ID"
    assert columns["staff"].tags["pii/sensitivity"] == "restricted"
    events = read_events(create_storage_engine(events_url), tenant="acme")
    staff = [e for e in events if e["column"] == "staff"]
    assert [e["action"] for e in staff] == ["classify", "hash"]
    assert staff[0]["details"]["entity"] == "ACME_EMPLOYEE_ID"


def test_policy_apply_cli_hashes_a_custom_entity_column(
    tmp_path: Path, policy: Policy, keys: Keys, tenant_key: str
) -> None:
    source, target = tmp_path / "staff.parquet", tmp_path / "out.parquet"
    frame = _staff()
    frame.write_parquet(source)
    result = CliRunner().invoke(policy_app, ["apply", str(policy.source), str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert "staff: hash (rule hash-staff)" in result.output
    written = read_frame(target)
    assert written["staff"].to_list() == hash_series(frame["staff"], keys.hash_key).to_list()
