"""Every policy action on real frames: allow, mask, hash, tokenize + detokenize, redact, drop, block."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from faker import Faker

from compliance.classify import classify_frame
from compliance.crypto import KeyMaterialError, derive_keys
from compliance.detokenize import InvalidToken, detokenize_values
from compliance.enforce import (
    PolicyBlocked,
    ResidencyViolation,
    check_residency,
    enforce,
    mask_expr,
    redact_text,
)
from compliance.nlp import build_engines
from compliance.policy import policy_from_mapping
from resources.secrets import SecretsResource, decode_key

KEY_HEX = "5f" * 32
#: The tenant's detokenize key pair: the gateway holds the private half, runs the public half.
DETOKENIZE_KEY = X25519PrivateKey.from_private_bytes(bytes.fromhex("3c" * 32))
PUBLIC_HEX = DETOKENIZE_KEY.public_key().public_bytes_raw().hex()


def _policy(action: str, entity: str, **extra: object):  # type: ignore[no-untyped-def]
    rule = {"name": f"{action}-it", "match": {"entities": [entity]}, "action": action, **extra}
    return policy_from_mapping({"rules": [rule]})


def _customers(rows: int = 40) -> pl.DataFrame:
    fake = Faker("en_US")
    Faker.seed(21)
    return pl.DataFrame(
        {
            "email": [fake.email() for _ in range(rows)],
            "phone": [fake.phone_number() for _ in range(rows)],
            "ssn": [fake.ssn() for _ in range(rows)],
            "amount": [round(fake.pyfloat(3, 2, positive=True), 2) for _ in range(rows)],
            "notes": [
                f"Spoke to {fake.name()} at {fake.email()} or {fake.phone_number()} about the claim."
                for _ in range(rows)
            ],
        }
    )


@pytest.fixture(scope="module")
def keys():  # type: ignore[no-untyped-def]
    return SecretsResource(tenant_key=KEY_HEX, token_public_key=PUBLIC_HEX).compliance_keys()


def test_allow_leaves_the_frame_unchanged(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    result = enforce(frame, _policy("allow", "EMAIL_ADDRESS"), classify_frame(frame), asset="a", keys=keys)
    assert result.frame.equals(frame)
    assert result.actions() == {}


def test_mask_keeps_the_last_n_characters_and_separators(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    result = enforce(
        frame, _policy("mask", "PHONE_NUMBER", keep_last=4), classify_frame(frame), asset="a", keys=keys
    )
    for before, after in zip(frame["phone"], result.frame["phone"], strict=True):
        assert len(after) == len(before) and after[-4:] == before[-4:]
        assert not any(ch.isalnum() for ch in after[:-4])
    masked = (
        pl.DataFrame({"x": ["ab", "123-45-6789", None, "ÆØÅ-æøå"]}).select(mask_expr("x", 3))["x"].to_list()
    )
    assert masked == ["ab", "***-**-*789", None, "***-æøå"]


def test_hash_is_keyed_and_deterministic_across_runs(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    policy = _policy("hash", "EMAIL_ADDRESS")
    first = enforce(frame, policy, classify_frame(frame), asset="a", keys=keys).frame["email"]
    script = textwrap.dedent(
        f"""
        import polars as pl
        from compliance.classify import classify_frame
        from compliance.enforce import enforce
        from compliance.nlp import build_engines
        from compliance.policy import policy_from_mapping
        from resources.secrets import SecretsResource

        frame = pl.DataFrame({{"email": {frame["email"].to_list()!r}}})
        rule = {{"name": "h", "match": {{"entities": ["EMAIL_ADDRESS"]}}, "action": "hash"}}
        policy = policy_from_mapping({{"rules": [rule]}})
        keys = SecretsResource(tenant_key="{KEY_HEX}").compliance_keys()
        report = classify_frame(frame, engines=build_engines(""))
        print(",".join(enforce(frame, policy, report, asset="a", keys=keys).frame["email"]))
        """
    )
    other_process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip().split(",") == first.to_list()
    assert all(len(h) == 64 and h not in frame["email"].to_list() for h in first)
    other_key = derive_keys(bytes(32))
    assert (
        enforce(frame, policy, classify_frame(frame), asset="a", keys=other_key).frame["email"][0] != first[0]
    )


def test_hash_maps_equal_values_to_equal_hashes_so_joins_work(keys) -> None:  # type: ignore[no-untyped-def]
    left = pl.DataFrame({"email": ["a@x.no", "b@x.no", "a@x.no", None]})
    out = enforce(left, _policy("hash", "EMAIL_ADDRESS"), classify_frame(left), asset="a", keys=keys).frame[
        "email"
    ]
    assert out[0] == out[2] != out[1] and out[3] is None


def test_tokenize_round_trips_only_with_the_private_key(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    result = enforce(frame, _policy("tokenize", "US_SSN"), classify_frame(frame), asset="a", keys=keys)
    tokens = result.frame["ssn"].to_list()
    assert all(t.startswith("tok2_") for t in tokens) and tokens[0] != frame["ssn"][0]
    assert detokenize_values(tokens, DETOKENIZE_KEY) == frame["ssn"].to_list()
    with pytest.raises(InvalidToken, match="token 0: not made for this tenant"):
        detokenize_values(tokens[:1], X25519PrivateKey.generate())
    with pytest.raises(InvalidToken, match="token 1: not made for this tenant"):
        detokenize_values([tokens[0], tokens[0][:-2] + "AA"], DETOKENIZE_KEY)
    with pytest.raises(InvalidToken, match="legacy tok1_"):
        detokenize_values(["tok1_AAAA"], DETOKENIZE_KEY)


def test_tokenize_without_the_public_key_is_a_clear_error() -> None:
    """A careless deployment: the run has the master key but no token public key."""
    frame = pl.DataFrame({"ssn": ["536-90-4399"]})
    no_public = SecretsResource(tenant_key=KEY_HEX).compliance_keys()
    with pytest.raises(KeyMaterialError, match="KLIKKFLOW_TOKEN_PUBLIC_KEY"):
        enforce(frame, _policy("tokenize", "US_SSN"), classify_frame(frame), asset="a", keys=no_public)
    with pytest.raises(KeyMaterialError, match="KLIKKFLOW_TOKEN_PUBLIC_KEY: not a detokenize public key"):
        SecretsResource(tenant_key=KEY_HEX, token_public_key="ab" * 8).compliance_keys()


def test_redact_replaces_pattern_spans_and_names_in_free_text(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    policy = policy_from_mapping({"rules": [{"name": "r", "match": {"free_text": True}, "action": "redact"}]})
    notes = enforce(frame, policy, classify_frame(frame), asset="a", keys=keys).frame["notes"]
    for after in notes:
        assert "<EMAIL_ADDRESS>" in after and "@" not in after
        assert after.endswith("about the claim.")  # the surrounding text survives
    # Formatted numbers are redacted; bare 10-digit numbers are indistinguishable from ids in prose.
    assert sum("<PHONE_NUMBER>" in n for n in notes) >= len(notes) * 0.8
    assert sum("<PERSON>" in n for n in notes) >= len(notes) * 0.6


def test_redact_pattern_entities_without_ner() -> None:
    texts = pl.Series(
        "t", ["mail ola@nordmann.no, card 4111 1111 1111 1111, ip 10.0.0.1", None, "ssn 536-90-4399"]
    )
    out = redact_text(texts, ("EMAIL_ADDRESS", "CREDIT_CARD", "IP_ADDRESS", "US_SSN"), build_engines(""))
    assert out.to_list() == [
        "mail <EMAIL_ADDRESS>, card <CREDIT_CARD>, ip <IP_ADDRESS>",
        None,
        "ssn <US_SSN>",
    ]


def test_redact_on_a_structured_column_replaces_whole_values(keys) -> None:  # type: ignore[no-untyped-def]
    frame = pl.DataFrame({"email": ["a@b.no", None, "c@d.no"]})
    out = enforce(
        frame, _policy("redact", "EMAIL_ADDRESS"), classify_frame(frame), asset="a", keys=keys
    ).frame
    assert out["email"].to_list() == ["<EMAIL_ADDRESS>", None, "<EMAIL_ADDRESS>"]


def test_drop_removes_the_column(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    out = enforce(frame, _policy("drop", "US_SSN"), classify_frame(frame), asset="a", keys=keys).frame
    assert "ssn" not in out.columns and out.height == frame.height


def test_block_raises_before_anything_is_changed(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    with pytest.raises(PolicyBlocked, match="ssn") as err:
        enforce(frame, _policy("block", "US_SSN"), classify_frame(frame), asset="claims", keys=keys)
    assert err.value.asset == "claims" and [d.column for d in err.value.decisions] == ["ssn"]


def test_default_action_applies_to_pii_no_rule_matches(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    policy = policy_from_mapping({"default_action": "drop", "rules": []})
    out = enforce(frame, policy, classify_frame(frame), asset="a", keys=keys).frame
    assert out.columns == ["amount"]


def test_asset_and_column_globs_narrow_a_rule(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers()
    rule = {"name": "r", "match": {"entities": ["EMAIL_ADDRESS"], "assets": ["claims/*"]}, "action": "drop"}
    policy = policy_from_mapping({"rules": [rule]})
    report = classify_frame(frame)
    assert "email" not in enforce(frame, policy, report, asset="claims/raw", keys=keys).frame.columns
    assert "email" in enforce(frame, policy, report, asset="onboarding/raw", keys=keys).frame.columns


def test_hash_without_keys_is_a_clear_error() -> None:
    frame = _customers()
    with pytest.raises(KeyMaterialError, match="tenant key"):
        enforce(frame, _policy("hash", "EMAIL_ADDRESS"), classify_frame(frame), asset="a", keys=None)


def test_pandas_in_pandas_frames_are_enforced(keys) -> None:  # type: ignore[no-untyped-def]
    frame = _customers().to_pandas()
    assert isinstance(frame, pd.DataFrame)
    out = enforce(frame, _policy("hash", "EMAIL_ADDRESS"), classify_frame(frame), asset="a", keys=keys).frame
    assert out["email"].str.len_chars().min() == 64


def test_residency_rule_rejects_a_disallowed_region() -> None:
    frame = _customers(5)
    policy = policy_from_mapping(
        {"residency": [{"destinations": ["warehouse"], "allowed_regions": ["eu-north-1"]}]}
    )
    report = classify_frame(frame)
    check_residency(policy, "warehouse", "eu-north-1", report)
    with pytest.raises(ResidencyViolation, match="us-east-1"):
        check_residency(policy, "warehouse", "us-east-1", report)


def test_keys_decode_from_hex_and_base64_and_reject_short_or_garbage() -> None:
    assert decode_key(KEY_HEX) == bytes.fromhex(KEY_HEX)
    assert decode_key("X" * 43 + "=") == decode_key("X" * 43)
    from compliance.crypto import KeyMaterialError

    with pytest.raises(KeyMaterialError, match="32 bytes"):
        SecretsResource(tenant_key="00" * 8).compliance_keys()
    with pytest.raises(KeyMaterialError, match="KLIKKFLOW_TENANT_KEY"):
        SecretsResource().compliance_keys()
    with pytest.raises(KeyMaterialError, match="neither hex nor base64"):
        decode_key("not a key!")
    assert "5f" not in repr(SecretsResource(tenant_key=KEY_HEX).compliance_keys())


def test_redact_handles_one_megabyte_texts_and_invalid_utf8(keys) -> None:  # type: ignore[no-untyped-def]
    big = ("the quick brown fox jumps over the lazy dog " * 25_000)[:1_100_000]
    frame = pd.DataFrame(
        {
            "notes": [
                big + " Mail Jane Smith at jane@example.com.",
                b"\xffbad bytes, mail ola@example.no",
                None,
            ]
        }
    )
    rule = {
        "name": "r",
        "match": {"free_text": True},
        "action": "redact",
        "redact_entities": ["EMAIL_ADDRESS"],
    }
    out = enforce(frame, policy_from_mapping({"rules": [rule]}), classify_frame(frame), asset="a", keys=keys)
    notes = out.frame["notes"].to_list()
    assert notes[0].startswith("the quick brown fox") and len(notes[0]) > 1_000_000
    assert notes[0].endswith("at <EMAIL_ADDRESS>.") and "jane@" not in notes[0]
    assert notes[1] == "\ufffdbad bytes, mail <EMAIL_ADDRESS>" and notes[2] is None


def test_texts_longer_than_the_ner_limit_are_redacted_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    import compliance.redact as enforce_module

    monkeypatch.setattr(enforce_module, "NER_CHUNK", 120)
    text = "Yesterday John Smith called about the roof. " * 6 + "Then Mary Johnson wrote to us again."
    [out] = enforce_module.redact_names([text], ["PERSON"], build_engines())
    assert "John Smith" not in out and "Mary Johnson" not in out
    assert out.count("<PERSON>") >= 6 and out.endswith("wrote to us again.")


def test_ner_windows_cover_capitalised_words_with_context_and_skip_lowercase_text() -> None:
    from compliance.redact import ner_windows

    assert ner_windows("all lower case words, no names here at all") == []
    assert ner_windows("<EMAIL_ADDRESS> wrote again") == []
    text = "we spoke to Kari Nordmann yesterday about the claim and the roof in the old house"
    [(low, high)] = ner_windows(text, context=2)
    assert text[low:high] == "spoke to Kari Nordmann yesterday about"
    two = ner_windows("Anna " + "x " * 20 + "Per", context=1)
    assert len(two) == 2  # far-apart capitals give separate windows


@pytest.mark.parametrize("key", [b"k" * 32, b"q" * 64, b"long key " * 12])
def test_column_hashing_gives_the_digests_of_hmac_sha256(key: bytes) -> None:
    import hmac

    from compliance.crypto import hash_distinct

    values = ["a", "", "ø€ and 漢字", "x" * 5000]
    expected = [hmac.new(key, v.encode(), "sha256").hexdigest() for v in values]
    assert hash_distinct(pl.Series(values), key).to_list() == expected


@pytest.mark.parametrize("action", ["hash", "tokenize", "mask", "redact", "drop"])
def test_a_column_named_like_a_pattern_is_protected_as_itself(keys, action: str) -> None:  # type: ignore[no-untyped-def]
    """``^e.*$`` is a column regex to ``pl.col``; it must protect that column, not ``extra``."""
    emails = [f"person{i}@example.com" for i in range(20)]
    extra = [f"e-{i}" for i in range(20)]  # its name matches the pattern ``^e.*$``
    plain = pl.DataFrame({"email": emails, "extra": extra})
    odd = plain.rename({"email": "^e.*$"})
    policy = _policy(action, "EMAIL_ADDRESS")
    expected = enforce(plain, policy, classify_frame(plain), asset="a", keys=keys).frame
    out = enforce(odd, policy, classify_frame(odd), asset="a", keys=keys).frame
    assert out["extra"].to_list() == extra
    if action == "drop":
        assert out.columns == ["extra"]
    elif action == "tokenize":  # randomised: equal shape, never the value
        assert all(t.startswith("tok2_") for t in out["^e.*$"]) and set(out["^e.*$"]).isdisjoint(emails)
    else:
        assert out["^e.*$"].to_list() == expected["email"].to_list() != emails


def test_free_text_named_like_a_pattern_is_redacted(keys) -> None:  # type: ignore[no-untyped-def]
    notes = [f"Write to person{i}@example.com about the claim." for i in range(20)]
    frame = pl.DataFrame({"^n.*$": notes, "note_id": [str(i) for i in range(20)]})
    out = enforce(
        frame, _policy("redact", "EMAIL_ADDRESS"), classify_frame(frame), asset="a", keys=keys
    ).frame
    assert out["note_id"].to_list() == frame["note_id"].to_list()
    assert not any("@example.com" in text for text in out["^n.*$"])
