"""Nested columns (Struct, List, Map, JSON text) are classified and protected by their leaves.

Columns the classifier cannot read get the policy's ``unclassifiable`` action.
Each test asserts the actual protected values (HMAC hex, ``tok2_`` tokens,
masks) and that the other leaves are untouched. Before this change Struct,
List and JSON columns came out ``allow`` with their e-mails and SSNs in clear,
and Object columns passed silently.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from faker import Faker

from compliance.classify import classify_frame
from compliance.crypto import hash_value
from compliance.detokenize import detokenize_values
from compliance.enforce import PolicyBlocked, ResidencyViolation, check_residency, enforce
from compliance.nlp import build_engines
from compliance.policy import policy_from_mapping
from resources.secrets import SecretsResource

KEY_HEX = "5f" * 32
#: The tenant's detokenize key pair: runs get the public half, the gateway holds the private half.
DETOKENIZE_KEY = X25519PrivateKey.generate()
PUBLIC_HEX = DETOKENIZE_KEY.public_key().public_bytes_raw().hex()
ROWS = 40
POLICY = {
    "rules": [
        {"name": "tokenize-ssn", "match": {"entities": ["US_SSN"]}, "action": "tokenize"},
        {"name": "hash-emails", "match": {"entities": ["EMAIL_ADDRESS"]}, "action": "hash"},
        {"name": "mask-phones", "match": {"entities": ["PHONE_NUMBER"]}, "action": "mask", "keep_last": 4},
    ]
}


@pytest.fixture(scope="module")
def keys():  # type: ignore[no-untyped-def]
    return SecretsResource(tenant_key=KEY_HEX, token_public_key=PUBLIC_HEX).compliance_keys()


@pytest.fixture(scope="module")
def engines():  # type: ignore[no-untyped-def]
    return build_engines("")  # patterns only: the leaves here are e-mails, SSNs, phones


def _people(rows: int = ROWS) -> list[dict[str, Any]]:
    fake = Faker("en_US")
    Faker.seed(5)
    return [
        {"email": fake.unique.email(), "ssn": fake.ssn(), "city": fake.city(), "phone": fake.phone_number()}
        for _ in range(rows)
    ]


def _protect(frame: Any, keys, engines, policy: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    report = classify_frame(frame, engines=engines)
    return report, enforce(
        frame, policy_from_mapping(policy or POLICY), report, asset="crm/people", keys=keys, engines=engines
    )


def test_struct_email_is_hashed_and_ssn_tokenized_inside_the_struct(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame(
        {"id": range(ROWS), "contact": [{k: p[k] for k in ("email", "ssn", "city")} for p in people]}
    )
    report, result = _protect(frame, keys, engines)

    contact = report.columns["contact"]
    assert set(report.columns) == {"id", "contact"}  # keyed by top-level names
    assert contact.entity is None and contact.carried == {
        "EMAIL_ADDRESS",
        "US_SSN",
        "LOCATION",
    }  # the city leaf too
    assert contact.sensitivity == "restricted"
    assert contact.leaves["contact.email"].entity == "EMAIL_ADDRESS"
    assert contact.leaves["contact.ssn"].entity == "US_SSN"

    out = result.frame["contact"].struct.unnest()
    assert out["email"].to_list() == [hash_value(keys.hash_key, p["email"]) for p in people]
    assert all(t.startswith("tok2_") for t in out["ssn"])
    assert detokenize_values(out["ssn"].to_list(), DETOKENIZE_KEY) == [p["ssn"] for p in people]
    assert out["city"].to_list() == [p["city"] for p in people]  # untouched leaf
    assert result.frame["id"].to_list() == list(range(ROWS))

    [_, decision] = result.decisions  # one decision per top-level column
    assert decision.column == "contact" and decision.action == "tokenize"  # the most protective leaf
    assert {d.column: d.action for d in decision.leaves} == {
        "contact.email": "hash",
        "contact.ssn": "tokenize",
        "contact.city": "allow",
    }
    leaves = {leaf["column"]: leaf for leaf in decision.to_json()["leaves"]}
    assert leaves["contact.email"]["rule"] == "hash-emails"


def test_list_of_emails_is_hashed_element_by_element(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    lists = [[p["email"], people[(i + 1) % ROWS]["email"]] for i, p in enumerate(people)] + [None, []]
    frame = pl.DataFrame({"emails": lists}, schema={"emails": pl.List(pl.String)})
    report, result = _protect(frame, keys, engines)
    assert report.columns["emails"].leaves["emails[]"].entity == "EMAIL_ADDRESS"
    expected = [None if v is None else [hash_value(keys.hash_key, e) for e in v] for v in lists]
    assert result.frame["emails"].to_list() == expected


def test_list_of_structs_masks_the_phone_and_keeps_the_city(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    contacts = [[{"phone": p["phone"], "city": p["city"]}] for p in people]
    frame = pl.DataFrame({"contacts": contacts})
    report, result = _protect(frame, keys, engines)
    assert report.columns["contacts"].leaves["contacts[].phone"].entity == "PHONE_NUMBER"
    out = [row[0] for row in result.frame["contacts"].to_list()]
    for got, person in zip(out, people, strict=True):
        assert got["city"] == person["city"]
        assert got["phone"][-4:] == person["phone"][-4:] and got["phone"] != person["phone"]
        assert all(c == "*" or not c.isalnum() for c in got["phone"][:-4])


def test_json_text_column_is_protected_inside_the_json(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    texts = [json.dumps({"email": p["email"], "ids": [i, i + 1], "note": "ok"}) for i, p in enumerate(people)]
    frame = pl.DataFrame({"payload": [*texts, "", None]})
    report, result = _protect(frame, keys, engines)
    payload = report.columns["payload"]
    assert payload.json and set(payload.leaves) == {"payload.email", "payload.ids[]", "payload.note"}
    assert payload.leaves["payload.email"].entity == "EMAIL_ADDRESS"
    out = result.frame["payload"].to_list()
    assert out[-2:] == ["", None]  # empty cells stay as they were
    decoded = [json.loads(t) for t in out[:-2]]
    assert [d["email"] for d in decoded] == [hash_value(keys.hash_key, p["email"]) for p in people]
    assert [d["ids"] for d in decoded] == [[i, i + 1] for i in range(ROWS)]
    assert {d["note"] for d in decoded} == {"ok"}
    assert not any(p["email"] in t for p, t in zip(people, out, strict=False))


def test_json_array_column_hashes_the_emails_in_its_objects(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame({"recipients": [json.dumps([{"to": p["email"], "n": 1}]) for p in people]})
    report, result = _protect(frame, keys, engines)
    assert report.columns["recipients"].leaves["recipients[].to"].entity == "EMAIL_ADDRESS"
    decoded = [json.loads(t) for t in result.frame["recipients"]]
    assert decoded == [[{"to": hash_value(keys.hash_key, p["email"]), "n": 1}] for p in people]


@pytest.mark.parametrize(
    "bad",
    [
        "not json, mail jane@example.com",  # plain text among JSON objects
        '{"email": "broken@example.com"',  # truncated JSON
        '["a@example.com"]',  # an array among objects
    ],
)
def test_mixed_or_invalid_json_is_unclassifiable_and_blocked(keys, engines, bad: str) -> None:  # type: ignore[no-untyped-def]
    texts = [json.dumps({"email": p["email"]}) for p in _people(2000)]
    texts[1777] = bad  # far outside the first rows: the whole column is checked, not only a sample
    frame = pl.DataFrame({"payload": texts, "n": range(2000)})
    report = classify_frame(frame, engines=engines)
    col = report.columns["payload"]
    assert col.unclassifiable and "JSON" in (col.reason or "")
    with pytest.raises(PolicyBlocked, match=r"payload .*rule unclassifiable"):
        enforce(frame, policy_from_mapping(POLICY), report, asset="a", keys=keys, engines=engines)
    dropped = enforce(
        frame, policy_from_mapping({**POLICY, "unclassifiable": "drop"}), report, asset="a", keys=keys
    )
    assert dropped.frame.columns == ["n"]
    assert dropped.decisions[0].rule == "unclassifiable" and dropped.decisions[0].action == "drop"


def test_pandas_dict_and_list_cells_are_protected_and_stay_pandas(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pd.DataFrame(
        {
            "contact": [{"email": p["email"], "city": p["city"]} for p in people],
            "aliases": [[p["email"]] for p in people],
            "amount": [1.5] * ROWS,
        }
    )
    _, result = _protect(frame, keys, engines)
    from compliance.frames import like_input

    out = like_input(result.frame, frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["contact", "aliases", "amount"]
    hashed = [hash_value(keys.hash_key, p["email"]) for p in people]
    assert [c["email"] for c in out["contact"]] == hashed
    assert [c["city"] for c in out["contact"]] == [p["city"] for p in people]
    assert [list(a) for a in out["aliases"]] == [[h] for h in hashed]
    assert out["amount"].tolist() == [1.5] * ROWS


def test_arrow_table_and_record_batch_in_arrow_out(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    table = pa.table(
        {"contact": [{"email": p["email"], "city": p["city"]} for p in people], "n": range(ROWS)}
    )
    from compliance.frames import is_frame, like_input

    for original in (table, table.to_batches()[0]):
        assert is_frame(original)
        _, result = _protect(original, keys, engines)
        out = like_input(result.frame, original)
        assert type(out) is type(original)
        contact = out.column("contact").to_pylist()
        assert [c["email"] for c in contact] == [hash_value(keys.hash_key, p["email"]) for p in people]
        assert [c["city"] for c in contact] == [p["city"] for p in people]
        assert out.column("n").to_pylist() == list(range(ROWS))


class Opaque:
    """A Python object the classifier cannot read (its repr hides an e-mail address)."""

    def __init__(self, email: str) -> None:
        self.email = email


@pytest.mark.parametrize("library", ["polars", "pandas"])
def test_object_column_is_blocked_by_default_dropped_or_allowed_by_policy(
    keys, engines, library: str
) -> None:  # type: ignore[no-untyped-def]
    objects = [Opaque(p["email"]) for p in _people()]
    if library == "polars":
        frame: Any = pl.DataFrame({"blob": pl.Series(objects, dtype=pl.Object), "n": range(ROWS)})
    else:
        frame = pd.DataFrame({"blob": objects, "n": range(ROWS)})
    report = classify_frame(frame, engines=engines)
    blob = report.columns["blob"]
    assert blob.unclassifiable and "Object" in (blob.reason or "")
    assert blob.to_json()["unclassifiable"] is True

    with pytest.raises(PolicyBlocked, match=r"blob .*rule unclassifiable") as blocked:
        enforce(frame, policy_from_mapping(POLICY), report, asset="a", keys=keys)
    assert [d.rule for d in blocked.value.decisions] == ["unclassifiable"]

    dropped = enforce(
        frame, policy_from_mapping({**POLICY, "unclassifiable": "drop"}), report, asset="a", keys=keys
    )
    assert dropped.frame.columns == ["n"] and dropped.actions() == {"blob": "drop"}

    allowed = enforce(
        frame, policy_from_mapping({**POLICY, "unclassifiable": "allow"}), report, asset="a", keys=keys
    )
    assert allowed.decisions[0].rule == "unclassifiable" and allowed.decisions[0].action == "allow"
    from compliance.frames import like_input

    back = like_input(allowed.frame, frame)
    kept = back["blob"].to_list() if library == "polars" else back["blob"].tolist()
    assert kept == objects  # the very objects, unchanged


def test_binary_that_is_not_text_is_unclassifiable_but_text_bytes_are_read(keys, engines) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(1)
    images = [bytes(rng.randrange(256) for _ in range(64)) for _ in range(ROWS)]
    mails = [p["email"].encode() for p in _people()]
    frame = pl.DataFrame(
        {"photo": pl.Series(images, dtype=pl.Binary), "mail": pl.Series(mails, dtype=pl.Binary)}
    )
    report = classify_frame(frame, engines=engines)
    assert report.columns["photo"].unclassifiable and "binary" in (report.columns["photo"].reason or "")
    assert report.columns["mail"].entity == "EMAIL_ADDRESS"


def test_rule_for_contact_email_only_leaves_billing_email_alone(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame(
        {
            "contact": [{"email": p["email"]} for p in people],
            "billing": [{"email": p["email"], "ssn": p["ssn"]} for p in people],
        }
    )
    policy = {
        "rules": [{"name": "hash-contact-mail", "match": {"columns": ["contact.email"]}, "action": "hash"}]
    }
    _, result = _protect(frame, keys, engines, policy)
    assert result.frame["contact"].struct.field("email").to_list() == [
        hash_value(keys.hash_key, p["email"]) for p in people
    ]
    assert result.frame["billing"].to_list() == frame["billing"].to_list()
    assert result.actions() == {"contact": "hash"}


def test_globs_address_leaf_paths_and_parents(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame(
        {
            "contacts": [[{"email": p["email"], "city": p["city"]}] for p in people],
            "emails": [[p["email"]] for p in people],
            "meta": [{"ssn": p["ssn"], "city": p["city"]} for p in people],
        }
    )
    policy = {
        "rules": [
            {"name": "mask-any-email", "match": {"columns": ["*.email"]}, "action": "mask", "keep_last": 0},
            {"name": "drop-email-lists", "match": {"columns": ["emails[]"]}, "action": "drop"},
            {
                "name": "redact-meta",
                "match": {"columns": ["meta"], "entities": ["US_SSN"]},
                "action": "redact",
            },
        ]
    }
    _, result = _protect(frame, keys, engines, policy)
    contacts = [row[0] for row in result.frame["contacts"].to_list()]
    assert {c["email"].replace("*", "") for c in contacts} <= {"@", ".", "@.", "@..", "-@.", "_@.", "@-."}
    assert [c["city"] for c in contacts] == [p["city"] for p in people]
    assert "emails" not in result.frame.columns  # drop on a list's elements removes the list
    meta = result.frame["meta"].struct.unnest()
    assert set(meta["ssn"]) == {"<US_SSN>"} and meta["city"].to_list() == [p["city"] for p in people]


def test_block_on_a_leaf_blocks_the_frame_naming_the_leaf_path(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame({"contact": [{"email": p["email"], "ssn": p["ssn"]} for p in people]})
    policy = {"rules": [{"name": "no-ssn", "match": {"entities": ["US_SSN"]}, "action": "block"}]}
    report = classify_frame(frame, engines=engines)
    with pytest.raises(PolicyBlocked, match=r"contact\.ssn \(US_SSN, rule no-ssn\)") as blocked:
        enforce(frame, policy_from_mapping(policy), report, asset="a", keys=keys)
    assert "contact.email" not in str(blocked.value)


def test_drop_on_a_leaf_removes_only_that_field(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame(
        {"contact": [{"email": p["email"], "ssn": p["ssn"], "city": p["city"]} for p in people]}
    )
    policy = {"rules": [{"name": "drop-ssn", "match": {"entities": ["US_SSN"]}, "action": "drop"}]}
    _, result = _protect(frame, keys, engines, policy)
    assert result.frame["contact"].dtype == pl.Struct({"email": pl.String, "city": pl.String})
    assert result.frame["contact"].struct.field("email").to_list() == [p["email"] for p in people]
    assert result.decisions[0].action == "drop"  # the most protective leaf; the column itself stays


def test_nesting_beyond_the_depth_limit_is_unclassifiable(keys, engines) -> None:  # type: ignore[no-untyped-def]
    value: Any = "jane@example.com"
    for _ in range(12):
        value = {"x": value}
    frame = pl.DataFrame({"deep": [value] * 5, "n": range(5)})
    report = classify_frame(frame, engines=engines)
    assert report.columns["deep"].unclassifiable and "deeper" in (report.columns["deep"].reason or "")
    with pytest.raises(PolicyBlocked, match="deep"):
        enforce(frame, policy_from_mapping(POLICY), report, asset="a", keys=keys)


def test_json_with_data_as_keys_is_unclassifiable(engines) -> None:  # type: ignore[no-untyped-def]
    """Attack: one key per customer ({"jane@example.com": 1, ...}) would make thousands of "fields"."""
    people = _people(700)
    frame = pl.DataFrame({"scores": [json.dumps({p["email"]: 1}) for p in people]})
    col = classify_frame(frame, engines=engines).columns["scores"]
    assert col.unclassifiable and "fields" in (col.reason or "")


def test_columns_and_leaves_missing_from_the_report_are_not_passed_unexamined(keys, engines) -> None:  # type: ignore[no-untyped-def]
    """Attack: a report made from another (smaller) frame is used to enforce this one."""
    people = _people()
    small = pl.DataFrame(
        {
            "contact": [{"city": p["city"]} for p in people],
            "profile": pl.Series([None] * ROWS, dtype=pl.String),
        }
    )
    report = classify_frame(small, engines=engines)
    frame = pl.DataFrame(
        {
            "contact": [{"city": p["city"], "email": p["email"]} for p in people],
            "profile": [{"mail": p["email"]} for p in people],  # flat and empty in the report, a struct here
            "extra": [p["ssn"] for p in people],
        }
    )
    with pytest.raises(PolicyBlocked, match=r"contact\.email .*rule unclassifiable") as blocked:
        enforce(frame, policy_from_mapping(POLICY), report, asset="a", keys=keys)
    assert "profile.mail" in str(blocked.value)
    assert "extra" in str(blocked.value)


def test_unclassifiable_columns_count_as_pii_for_residency(engines) -> None:  # type: ignore[no-untyped-def]
    frame = pl.DataFrame({"blob": pl.Series([Opaque("a@b.c")] * 3, dtype=pl.Object)})
    policy = policy_from_mapping(
        {
            "unclassifiable": "allow",
            "residency": [{"destinations": ["storage"], "allowed_regions": ["eu-north-1"]}],
        }
    )
    with pytest.raises(ResidencyViolation):
        check_residency(policy, "storage", "us-east-1", classify_frame(frame, engines=engines))


def test_map_array_and_json_inside_a_struct_are_protected(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    frame = pl.DataFrame(
        {
            "attrs": pl.Series([{"mail": p["email"]} for p in people], dtype=pl.Map(pl.String, pl.String)),
            "pair": pl.Series([[p["email"], p["email"]] for p in people], dtype=pl.Array(pl.String, 2)),
            "meta": [{"payload": json.dumps({"email": p["email"]}), "city": p["city"]} for p in people],
        }
    )
    report, result = _protect(frame, keys, engines)
    assert set(report.columns["attrs"].leaves) == {"attrs{}.key", "attrs{}.value"}
    assert set(report.columns["meta"].leaves) == {"meta.payload.email", "meta.city"}
    hashed = [hash_value(keys.hash_key, p["email"]) for p in people]
    assert result.frame["attrs"].dtype == frame["attrs"].dtype
    assert [m["mail"] for m in result.frame["attrs"].to_list()] == hashed  # values hashed, keys kept
    assert result.frame["pair"].to_list() == [[h, h] for h in hashed]
    meta = result.frame["meta"].struct.unnest()
    assert [json.loads(t)["email"] for t in meta["payload"]] == hashed
    assert meta["city"].to_list() == [p["city"] for p in people]


def test_pandas_dict_keys_that_appear_late_are_classified_not_lost(keys, engines) -> None:  # type: ignore[no-untyped-def]
    """Attack: the e-mail key only appears after the rows a type inference would look at."""
    people = _people(300)
    cells = [{"id": i} for i in range(200)] + [
        {"id": i, "email": p["email"]} for i, p in enumerate(people[200:])
    ]
    frame = pd.DataFrame({"contact": cells})
    report, result = _protect(frame, keys, engines)
    assert report.columns["contact"].leaves["contact.email"].entity == "EMAIL_ADDRESS"
    emails = result.frame["contact"].struct.field("email").to_list()
    assert emails[:200] == [None] * 200
    assert emails[200:] == [hash_value(keys.hash_key, p["email"]) for p in people[200:]]


def test_free_text_leaf_is_redacted_span_by_span(keys, engines) -> None:  # type: ignore[no-untyped-def]
    people = _people()
    notes = [f"Customer called twice and asked us to write to {p['email']} about the claim." for p in people]
    frame = pl.DataFrame(
        {"ticket": [{"notes": n, "city": p["city"]} for n, p in zip(notes, people, strict=True)]}
    )
    policy = {"rules": [{"name": "redact-text", "match": {"free_text": True}, "action": "redact"}]}
    report, result = _protect(frame, keys, engines, policy)
    assert report.columns["ticket"].leaves["ticket.notes"].free_text
    out = result.frame["ticket"].struct.unnest()
    assert set(out["notes"]) == {
        "Customer called twice and asked us to write to <EMAIL_ADDRESS> about the claim."
    }
    assert out["city"].to_list() == [p["city"] for p in people]
