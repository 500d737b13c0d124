"""Tokenization cost per distinct value: legacy ``tok1_`` (AES-SIV) against ``tok2_`` (X25519 ECIES).

Tokenize works once per distinct value (``compliance.crypto._per_distinct``), so
the cost that matters is per distinct value. Also measured: ``tok2_`` spread
over a thread pool (the ``cryptography`` X25519 calls hold the GIL, so it does
not help), and a whole column through ``tokenize_series``.

    python benchmarks/token_bench.py [--distinct 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from compliance.crypto import derive_keys, legacy_token_key, tokenize_series, tokenizer


def _per_value(func: Callable[[str], str], values: list[str]) -> float:
    started = time.perf_counter()
    for value in values:
        func(value)
    return (time.perf_counter() - started) / len(values) * 1e6


def main() -> None:
    """Print microseconds per distinct value for each variant."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--distinct", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="rows per distinct value in the column run")
    args = parser.parse_args()
    master = bytes(range(32))
    public = X25519PrivateKey.generate().public_key().public_bytes_raw()
    keys = derive_keys(master, public)
    values = [f"{i % 900 + 100:03d}-{i % 90 + 10:02d}-{i:06d}" for i in range(args.distinct)]
    siv = AESSIV(legacy_token_key(master))

    def tok1(value: str) -> str:
        sealed = siv.encrypt(value.encode(), [b"klikkflow-token-v1"])
        return "tok1_" + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    tok2 = tokenizer(keys.token_key, public)
    print(f"tok1_ AES-SIV:          {_per_value(tok1, values):7.1f} us/distinct value")
    print(f"tok2_ X25519 + AES-GCM: {_per_value(tok2, values):7.1f} us/distinct value")
    for workers in (2, 4):
        with ThreadPoolExecutor(workers) as pool:
            started = time.perf_counter()
            list(pool.map(tok2, values, chunksize=500))
            per = (time.perf_counter() - started) / len(values) * 1e6
        print(f"tok2_ on {workers} threads:      {per:7.1f} us/distinct value")
    column = pl.Series("ssn", values * args.repeat)
    started = time.perf_counter()
    tokenize_series(column, keys.token_key, public)
    elapsed = time.perf_counter() - started
    print(f"tokenize_series: {column.len()} rows, {args.distinct} distinct: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
