"""The storage IO manager for data frames: Parquet, one file (or object) per asset or asset partition.

An unpartitioned asset is stored at ``<base>/<asset key path>.parquet``; a partition
at ``<base>/<asset key path>/<partition key>.parquet``, so concurrent runs of
different partitions never write, or read, each other's files. ``<base>`` is a local
directory or any fsspec URL (``s3://bucket/prefix``, see :mod:`resources.storage_location`).
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import dagster as dg
import polars as pl
from pydantic import Field

from resources.storage_location import StorageLocation


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


def safe_name(name: str) -> str:
    """``name`` (a partition key, an asset key part) percent-encoded into one safe path component:
    no ``/``, never ``.``, ``..`` or a hidden file, so no key leads outside the storage root."""
    safe = quote(name, safe="-_.@=+,")
    return "%2E" + safe[1:] if safe.startswith(".") else safe


def partition_file_name(partition_key: str) -> str:
    """The file name of one partition: the key as one safe path component."""
    return f"{safe_name(partition_key)}.parquet"


class MissingFrames(dg.Failure):
    """An input's frame (or one of its partitions) is not stored; the message names where and the fix."""


class ParquetFrameIOManager(dg.ConfigurableIOManager):
    """Stores Polars (and pandas) frames as Parquet under ``base_dir`` (a directory or fsspec URL).

    Downstream assets receive a Polars frame, or a pandas frame when their
    input is annotated with ``pandas.DataFrame``.
    """

    base_dir: str = Field(
        description="Local directory or fsspec URL (s3://bucket/prefix); may be a dg.EnvVar."
    )
    folder: str = Field(default="", description="Folder under base_dir (so base_dir can be a whole URL).")

    def location(self) -> StorageLocation:
        """The opened storage location (fsspec filesystem and root path)."""
        return StorageLocation.open(self.base_dir, self.folder)

    def _asset_path(self, where: StorageLocation, context: dg.OutputContext | dg.InputContext) -> str:
        key = context.asset_key if context.has_asset_key else dg.AssetKey([*context.get_identifier()])
        return where.path(*map(safe_name, key.path))

    def _output_path(self, where: StorageLocation, context: dg.OutputContext) -> str:
        base = self._asset_path(where, context)
        if context.has_asset_partitions:
            return f"{base}/{partition_file_name(context.asset_partition_key)}"
        return f"{base}.parquet"

    def _input_paths(self, where: StorageLocation, context: dg.InputContext) -> list[str]:
        """The files an input reads: the upstream's partitions this step depends on, else its one file."""
        source = context.upstream_output or context
        base = self._asset_path(where, source)
        if context.has_asset_key and context.has_asset_partitions:
            return [f"{base}/{partition_file_name(key)}" for key in context.asset_partition_keys]
        return [f"{base}.parquet"]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the frame atomically (locally a temp file of this writer, then rename; remotely one PUT)."""
        if obj is None:
            return
        frame = to_polars(obj)
        where = self.location()
        path = self._output_path(where, context)
        where.write_atomically(path, frame.write_parquet)
        context.add_output_metadata(
            {"dagster/row_count": frame.height, "path": dg.MetadataValue.path(where.url(path))}
        )

    def stored_frame(self, context: dg.InputContext) -> pl.DataFrame:
        """The upstream frame as Polars (its partitions concatenated), read once; raises
        :class:`MissingFrames` naming what is not stored."""
        where = self.location()
        frames, missing = [], []
        for path in self._input_paths(where, context):
            try:
                frames.append(_read(where, path))
            except FileNotFoundError:
                missing.append(where.url(path))
        if missing:
            raise MissingFrames(
                f"No stored output at {', '.join(missing)}: materialize the upstream asset "
                f"{context.asset_key.to_user_string() if context.has_asset_key else ''} first."
            )
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")

    def load_input(self, context: dg.InputContext) -> Any:
        """Read the upstream frame (its partitions concatenated) as Polars, or pandas when asked."""
        frame = self.stored_frame(context)
        if getattr(context.dagster_type, "typing_type", None) is not None and "pandas" in str(
            context.dagster_type.typing_type
        ):
            return frame.to_pandas()
        return frame


def _read(where: StorageLocation, path: str) -> pl.DataFrame:
    """One stored Parquet file (a local file read in place, an object fetched whole)."""
    if where.is_local:
        return pl.read_parquet(path)
    return pl.read_parquet(io.BytesIO(where.read_bytes(path)))
