"""tok2_ tokens: deterministic for joins, different per tenant, and not reversible by anything a run
worker holds - only by the tenant's private detokenize key, which stays with the platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from compliance.crypto import KeyMaterialError, derive_keys, tokenize_series
from compliance.detokenize import detokenize_values
from compliance.token_keys import (
    DETOKENIZE_KEY_DIR_ENV,
    PRIVATE_KEY_ENVS,
    load_detokenize_key,
    public_key_hex,
)
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.supervisor import tenant_process_specs

VALUES = ["536-90-4399", "772-43-2311", "536-90-4399", "ørn@example.no"]

# Runs in the tenant's process environment; tries every key and file the run has as a private key.
WORKER = textwrap.dedent(
    """
    import json, os
    from pathlib import Path
    import polars as pl
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from compliance.crypto import tokenize_series
    from compliance.detokenize import InvalidToken, detokenize_values
    from klikkflow_pipelines.tenancy.config import TenantConfig
    from klikkflow_pipelines.tenant_resources import build_resources

    def materials(raw):
        yield raw
        yield raw.strip()
        try:
            yield bytes.fromhex(raw.decode().strip())
        except ValueError:
            pass

    tenant = TenantConfig.model_validate({"id": "acme", "name": "Acme"})
    keys = build_resources(tenant)["secrets"].compliance_keys()
    token = tokenize_series(pl.Series("v", ["536-90-4399"]), keys.token_key, keys.token_public_key)[0]
    candidates = [keys.hash_key, keys.token_key, keys.token_public_key]
    candidates += [v.encode() for v in os.environ.values()]
    candidates += [
        p.read_bytes() for p in Path(os.environ["DAGSTER_HOME"]).rglob("*")
        if p.is_file() and p.stat().st_size < 1_000_000
    ]
    tried, opened = 0, []
    for raw in candidates:
        for material in materials(raw):
            if len(material) == 32:
                tried += 1
                try:
                    opened.append(detokenize_values([token], X25519PrivateKey.from_private_bytes(material)))
                except InvalidToken:
                    pass
    print(json.dumps({"token": token, "tried": tried, "opened": opened, "env": sorted(os.environ)}))
    """
)


def test_a_run_worker_cannot_reverse_a_token_it_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack: tenant asset code (arbitrary, tenant-brought) tokenizes a value and then tries every key
    and secret file its run holds to get the value back - as it could with tok1_ tokens, whose AES-SIV
    key the run derived from its own master key."""
    gateway_secrets = tmp_path / "gateway-secret"  # the gateway's mounted Secret
    gateway_secrets.mkdir()
    private = X25519PrivateKey.generate()
    (gateway_secrets / "acme.key").write_text(private.private_bytes_raw().hex())
    monkeypatch.setenv(DETOKENIZE_KEY_DIR_ENV, str(gateway_secrets))
    tenant = TenantConfig.model_validate({"id": "acme", "name": "Acme"})
    [spec] = tenant_process_specs(tenant, webserver_port=None)
    assert set(PRIVATE_KEY_ENVS) <= set(spec.unset)
    home = Path(spec.env["DAGSTER_HOME"])
    assert (home / "secrets" / "detokenize.pub").read_text() == public_key_hex(private)
    env = {**{k: v for k, v in os.environ.items() if k not in spec.unset}, **spec.env}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, cwd=spec.cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    worker = json.loads(done.stdout.strip().splitlines()[-1])
    assert worker["token"].startswith("tok2_")
    assert worker["tried"] >= 4 and worker["opened"] == []  # nothing the run holds opens it
    assert not set(PRIVATE_KEY_ENVS) & set(worker["env"])
    private_hex = private.private_bytes_raw().hex()
    for path in home.rglob("*"):
        assert not path.is_file() or private_hex.encode() not in path.read_bytes(), path
    # the gateway's key does
    assert detokenize_values([worker["token"]], load_detokenize_key("acme")) == ["536-90-4399"]


def test_tokens_are_deterministic_across_processes_and_differ_between_tenants() -> None:
    acme, globex = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    master = bytes(range(32))
    acme_keys = derive_keys(master, acme.public_key().public_bytes_raw())
    here = tokenize_series(pl.Series("v", VALUES), acme_keys.token_key, acme_keys.token_public_key).to_list()
    assert here[0] == here[2] != here[1]  # equal values, equal tokens: joins and de-duplication work
    script = textwrap.dedent(
        f"""
        import polars as pl
        from compliance.crypto import derive_keys, tokenize_series
        keys = derive_keys(bytes(range(32)), bytes.fromhex("{acme_keys.token_public_key.hex()}"))
        print(",".join(tokenize_series(pl.Series("v", {VALUES!r}), keys.token_key, keys.token_public_key)))
        """
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip().split(",") == here
    # another tenant: other master key and public key; even a shared master key gives other tokens
    for other_master in (bytes(range(1, 33)), master):
        keys = derive_keys(other_master, globex.public_key().public_bytes_raw())
        theirs = tokenize_series(pl.Series("v", VALUES), keys.token_key, keys.token_public_key).to_list()
        assert not set(theirs) & set(here)
    assert detokenize_values(here, acme) == VALUES


def test_a_missing_production_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A careless deployment: the gateway's Secret lacks one tenant's key; no key is invented."""
    monkeypatch.setenv(DETOKENIZE_KEY_DIR_ENV, str(tmp_path))
    with pytest.raises(KeyMaterialError, match=r"acme\.key: no such file\. Fix: add the tenant's"):
        load_detokenize_key("acme")
    assert not (tmp_path / "acme.key").exists()
    (tmp_path / "acme.key").write_text("zz" * 32)
    with pytest.raises(KeyMaterialError, match="not an X25519 private key"):
        load_detokenize_key("acme")
    with pytest.raises(KeyMaterialError, match="not a tenant id"):
        load_detokenize_key("../acme")


def test_legacy_tok1_tokens_open_only_with_the_configured_master_key(tmp_path: Path) -> None:
    """Data tokenized before tok2_ stays reversible by the gateway when it is given the tenant master key."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    from compliance.crypto import legacy_token_key
    from compliance.detokenize import InvalidToken
    from compliance.token_keys import legacy_key

    master = bytes(range(32))
    sealed = AESSIV(legacy_token_key(master)).encrypt(b"536-90-4399", [b"klikkflow-token-v1"])
    old = "tok1_" + base64.urlsafe_b64encode(sealed).decode().rstrip("=")
    gateway_key = X25519PrivateKey.generate()
    assert legacy_key("acme", str(tmp_path)) is None  # not configured for this tenant
    with pytest.raises(InvalidToken, match="legacy tok1_ token"):
        detokenize_values([old], gateway_key, legacy_key("acme", str(tmp_path)))
    (tmp_path / "acme.key").write_text(master.hex())
    assert detokenize_values([old], gateway_key, legacy_key("acme", str(tmp_path))) == ["536-90-4399"]
