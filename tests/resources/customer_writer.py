"""``python customer_writer.py <warehouse url> <writer> <go file> <events url>``: one concurrent loader.

Waits until ``<go file>`` exists (so both writers start together), then upserts its
batches of customers (see :func:`batches`) one transaction per batch, through the
governed warehouse (default policy, ``KLIKKFLOW_TENANT_KEY``): e-mails are hashed
before they reach the table, so the key of the upsert is the hashed e-mail.
"""

import os
import random
import sys
import time
from pathlib import Path

import polars as pl

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.workflows.onboarding.customers_table import upsert_customers
from resources.secrets import SecretsResource
from resources.warehouse import WarehouseResource

BATCHES = 15
ROWS_PER_BATCH = 120
EMAILS = 400


def _date(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def batches(writer: int) -> list[pl.DataFrame]:
    """The drops one writer loads: customers from one shared pool of e-mails, random signup dates."""
    rng = random.Random(writer)
    out = []
    for batch in range(BATCHES):
        emails = rng.sample(range(EMAILS), ROWS_PER_BATCH)
        out.append(
            pl.DataFrame(
                {
                    "customer_ref": [f"W{writer}-B{batch:02d}-{e}" for e in emails],
                    "first_name": ["Ola"] * ROWS_PER_BATCH,
                    "last_name": [f"Writer{writer}"] * ROWS_PER_BATCH,
                    "email": [f"c{e}@example.com" for e in emails],
                    "phone": ["+4791234567"] * ROWS_PER_BATCH,
                    "country": ["NO"] * ROWS_PER_BATCH,
                    "signup_date": [_date(rng) for _ in emails],
                    "source_file": [f"drop_w{writer}_{batch:02d}.csv"] * ROWS_PER_BATCH,
                }
            )
        )
    return out


def governed_warehouse(url: str, events_url: str) -> WarehouseResource:
    """The warehouse at ``url`` governed by the default policy (pattern-only classification)."""
    return WarehouseResource(
        url=url,
        region="eu-north-1",
        tenant_id="default",
        policy_path=str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml"),
        secrets=SecretsResource(tenant_key=os.environ["KLIKKFLOW_TENANT_KEY"]),
        events_url=events_url,
        spacy_model="",
    )


def main(url: str, writer: int, go: Path, events_url: str) -> None:
    """Load this writer's batches once ``go`` exists."""
    warehouse = governed_warehouse(url, events_url)
    work = batches(writer)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    for batch in work:
        upsert_customers(warehouse, batch)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
