"""Customer onboarding ETL: ingest CSV/JSON drops, clean and de-duplicate, load the warehouse.

No ``from __future__ import annotations`` here: Dagster resolves config annotations at definition time.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from klikkflow_pipelines.events.drop_inbox import find_drop_version
from klikkflow_pipelines.workflows.onboarding.cleaning import REQUIRED_COLUMNS, split_clean_and_rejected
from klikkflow_pipelines.workflows.onboarding.customers_table import CUSTOMERS, upsert_customers
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER
from resources.confined_paths import PathOutsideRoot, confine
from resources.warehouse import WarehouseResource

GROUP = "customer_onboarding"
DROP_SUFFIXES = (".csv", ".json", ".jsonl")


CUSTOMER_DROPS = dg.DynamicPartitionsDefinition(name="customer_drops")
"""One partition per drop file version: ``<file name>@<modification time in ns>``."""


def drop_partition_key(name: str, mtime_ns: int) -> str:
    """The partition of one version of a drop file (characters Dagster refuses in keys become ``_``)."""
    printable = "".join(c if c.isprintable() else "_" for c in name)
    return f"{printable.replace('...', '_')}@{mtime_ns}"


def drop_file_name(partition_key: str) -> str:
    """The inbox file name a partition key stands for."""
    return partition_key.rsplit("@", 1)[0]


def drop_version(partition_key: str) -> tuple[str, int] | None:
    """The file name and modification time (ns) a drop partition key stands for; None if it names none."""
    name, _, stamp = partition_key.rpartition("@")
    return (name, int(stamp)) if name and stamp.isdigit() else None


class DropConfig(dg.Config):
    """Which drop files this partition ingests; empty means the file named by the partition key.

    Each path must resolve (symlinks and ``..`` followed) inside the tenant's inbox;
    a relative path is taken relative to the inbox.
    """

    paths: list[str] = []


PATHS_FIELD = "ops.raw_customer_drops.config.paths"
DROP_PROBLEM_METADATA = "drop_problem"
"""Failure metadata of a run whose drop content cannot be read (retrying cannot help): the problem."""


def drop_paths(config: DropConfig, inbox: Path, partition_key: str) -> list[Path]:
    """The drop files a run may read: the configured ones, else the partition's file, confined to ``inbox``.

    The partition's own file is looked up by version, so it is found in ``processed/`` too.

    Raises ``dg.Failure`` naming the config field (or the partition key) and the allowed root
    when a path leads outside the inbox.
    """
    try:
        if config.paths:
            paths = [confine(raw, [inbox], f"{PATHS_FIELD}[{i}]") for i, raw in enumerate(config.paths)]
        else:
            paths = [confine(drop_file_name(partition_key), [inbox], f"partition key {partition_key!r}")]
        return [_partition_version(path, inbox, partition_key) for path in paths]
    except PathOutsideRoot as exc:
        raise dg.Failure(description=f"run config {exc}; nothing was read.") from None


def _partition_version(path: Path, inbox: Path, partition_key: str) -> Path:
    """``path``, or (for the partition's own file) that file's version wherever it now is: still in
    the inbox, or under ``processed/<run id>/`` after an earlier run succeeded."""
    version = drop_version(partition_key)
    if version is None or path.parent != inbox.resolve() or path.name != version[0]:
        return path
    found = find_drop_version(inbox, *version)
    return confine(found, [inbox], f"partition key {partition_key!r}") if found else path


def read_drop(path: Path) -> pl.DataFrame:
    """Read one CSV or JSON Lines drop with every field as text, plus its source file name."""
    if path.suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    else:
        frame = pl.read_ndjson(path, infer_schema_length=None)
        frame = frame.with_columns(pl.all().cast(pl.String))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {', '.join(missing)}")
    return frame.select(*REQUIRED_COLUMNS).with_columns(pl.lit(path.name).alias("source_file"))


def build_onboarding_assets(inbox: Path) -> list[dg.AssetsDefinition]:
    """The three onboarding assets, partitioned by drop, reading drops from ``inbox``."""

    @dg.asset(
        group_name=GROUP,
        kinds={"polars"},
        io_manager_key=GOVERNED_IO_MANAGER,
        partitions_def=CUSTOMER_DROPS,
    )
    def raw_customer_drops(context: dg.AssetExecutionContext, config: DropConfig) -> pl.DataFrame:
        """Every customer record of this partition's drop, as text, with the file it came from.

        A file that cannot be read (bad encoding, broken JSON, missing columns)
        is reported by name in the metadata and skipped; the others load.
        """
        paths = drop_paths(config, inbox, context.partition_key)
        frames, unreadable, bad_content = [], {}, []
        for path in paths:
            try:
                frames.append(read_drop(path))
            except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
                unreadable[str(path)] = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                context.log.error(f"drop {path} skipped: {unreadable[str(path)]}")
                if not isinstance(exc, OSError):
                    bad_content.append(f"{path.name}: {unreadable[str(path)]}")
        if not frames:
            detail = f" ({len(unreadable)} unreadable)" if unreadable else ""
            metadata: dict = {"unreadable": unreadable}
            if bad_content and len(bad_content) == len(unreadable):  # no I/O error: a retry cannot help
                metadata[DROP_PROBLEM_METADATA] = "; ".join(bad_content)
            raise dg.Failure(f"No readable customer drops in {inbox}{detail}", metadata=metadata)
        raw = pl.concat(frames, how="vertical")
        context.add_output_metadata(
            {
                "files": [p.name for p in paths],
                "unreadable_files": unreadable,
                "dagster/row_count": raw.height,
            }
        )
        return raw

    @dg.multi_asset(
        group_name=GROUP,
        partitions_def=CUSTOMER_DROPS,
        outs={
            "clean_customers": dg.AssetOut(kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER),
            "customer_rejects": dg.AssetOut(kinds={"polars"}, io_manager_key=GOVERNED_IO_MANAGER),
        },
    )
    def clean_customers(raw_customer_drops: pl.DataFrame):
        """Normalise names, e-mails, phones, countries and dates; reject bad rows with a reason;
        keep one row per e-mail address (latest signup)."""
        clean, rejected = split_clean_and_rejected(raw_customer_drops)
        reasons = rejected.group_by("reject_reason").len().sort("reject_reason")
        yield dg.Output(
            clean,
            output_name="clean_customers",
            metadata={
                "dagster/row_count": clean.height,
                "duplicates_removed": raw_customer_drops.height - rejected.height - clean.height,
            },
        )
        yield dg.Output(
            rejected,
            output_name="customer_rejects",
            metadata={
                "dagster/row_count": rejected.height,
                "reasons": {r["reject_reason"]: r["len"] for r in reasons.iter_rows(named=True)},
            },
        )

    @dg.asset(group_name=GROUP, kinds={"sqlalchemy"}, partitions_def=CUSTOMER_DROPS)
    def warehouse_customers(
        warehouse: WarehouseResource, clean_customers: pl.DataFrame
    ) -> dg.MaterializeResult:
        """Upsert this drop's cleaned customers into the warehouse table ``customers`` (key: e-mail).

        One transaction per drop; a stored customer is replaced only by a later signup, so
        drops loaded concurrently or out of order give the same table.
        """
        loaded = upsert_customers(warehouse, clean_customers)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": loaded,
                "rows_loaded": loaded,
                "table_rows": warehouse.count_rows(CUSTOMERS),
                "table": CUSTOMERS.name,
            }
        )

    return [raw_customer_drops, clean_customers, warehouse_customers]


@dg.asset_check(
    asset="clean_customers",
    blocking=True,
    description="One row per e-mail address.",
    partitions_def=CUSTOMER_DROPS,
)
def clean_customers_unique_email(clean_customers: pl.DataFrame) -> dg.AssetCheckResult:
    """Blocks the warehouse load if de-duplication left two rows with one e-mail."""
    duplicates = clean_customers.height - clean_customers["email"].n_unique()
    return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_emails": duplicates})
