"""The storage IO manager for data frames: Parquet files, one per asset, or one per asset partition.

An unpartitioned asset is stored at ``<base>/<asset key path>.parquet``; a partition
at ``<base>/<asset key path>/<partition key>.parquet``, so concurrent runs of
different partitions never write, or read, each other's files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg
import polars as pl


def frame_row_count(frame: Any) -> int | None:
    """Row count of a Polars or pandas frame, ``None`` for anything else."""
    if isinstance(frame, pl.DataFrame):
        return frame.height
    if type(frame).__module__.startswith("pandas") and hasattr(frame, "shape"):
        return int(frame.shape[0])
    return None


def to_polars(frame: Any) -> pl.DataFrame:
    """Convert a pandas frame or an Arrow table/record batch to Polars (Polars frames pass through)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    module = type(frame).__module__
    if module.startswith("pandas"):
        return pl.from_pandas(frame)
    if module.startswith("pyarrow") and type(frame).__name__ in ("Table", "RecordBatch"):
        return pl.from_arrow(frame)  # type: ignore[return-value]
    raise TypeError(f"expected a Polars, pandas or Arrow frame, got {type(frame).__name__}")


def partition_file_name(partition_key: str) -> str:
    """The file name of one partition: the key, percent-encoded so it is one safe path component."""
    name = quote(partition_key, safe="-_.@=+,")
    if name.startswith("."):  # never "." / ".." / a hidden file
        name = "%2E" + name[1:]
    return f"{name}.parquet"


class ParquetFrameIOManager(dg.ConfigurableIOManager):
    """Stores Polars (and pandas) frames as Parquet files under ``base_dir``.

    Downstream assets receive a Polars frame, or a pandas frame when their
    input is annotated with ``pandas.DataFrame``.
    """

    base_dir: str

    def _asset_path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key if context.has_asset_key else dg.AssetKey([*context.get_identifier()])
        return Path(self.base_dir).joinpath(*key.path)

    def _output_path(self, context: dg.OutputContext) -> Path:
        base = self._asset_path(context)
        if context.has_asset_partitions:
            return base / partition_file_name(context.asset_partition_key)
        return base.with_suffix(".parquet")

    def _input_paths(self, context: dg.InputContext) -> list[Path]:
        """The files an input reads: the upstream's partitions this step depends on, else its one file."""
        source = context.upstream_output or context
        base = self._asset_path(source)
        if context.has_asset_key and context.has_asset_partitions:
            return [base / partition_file_name(key) for key in context.asset_partition_keys]
        return [base.with_suffix(".parquet")]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the frame atomically (a temp file of this writer only, then rename)."""
        if obj is None:
            return
        frame = to_polars(obj)
        path = self._output_path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            frame.write_parquet(tmp)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        context.add_output_metadata(
            {"dagster/row_count": frame.height, "path": dg.MetadataValue.path(str(path))}
        )

    def load_input(self, context: dg.InputContext) -> Any:
        """Read the upstream frame (its partitions concatenated) as Polars, or pandas when asked."""
        paths = self._input_paths(context)
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise dg.Failure(
                f"No stored output at {', '.join(map(str, missing))}: materialize the upstream asset "
                f"{context.asset_key.to_user_string() if context.has_asset_key else ''} first."
            )
        frames = [pl.read_parquet(p) for p in paths]
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
        if getattr(context.dagster_type, "typing_type", None) is not None and "pandas" in str(
            context.dagster_type.typing_type
        ):
            return frame.to_pandas()
        return frame
