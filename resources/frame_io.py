"""The storage IO manager for data frames: Parquet files, one per asset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    """Convert a pandas frame to Polars (Polars frames pass through)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if type(frame).__module__.startswith("pandas"):
        return pl.from_pandas(frame)
    raise TypeError(f"expected a Polars or pandas DataFrame, got {type(frame).__name__}")


class ParquetFrameIOManager(dg.ConfigurableIOManager):
    """Stores Polars (and pandas) frames as Parquet files under ``base_dir``.

    Downstream assets receive a Polars frame, or a pandas frame when their
    input is annotated with ``pandas.DataFrame``.
    """

    base_dir: str

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key if context.has_asset_key else dg.AssetKey([*context.get_identifier()])
        return Path(self.base_dir).joinpath(*key.path).with_suffix(".parquet")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the frame atomically (temp file, then rename)."""
        if obj is None:
            return
        frame = to_polars(obj)
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        frame.write_parquet(tmp)
        tmp.replace(path)
        context.add_output_metadata(
            {"dagster/row_count": frame.height, "path": dg.MetadataValue.path(str(path))}
        )

    def load_input(self, context: dg.InputContext) -> Any:
        """Read the upstream frame as Polars, or pandas when the input asks for it."""
        path = self._path(context.upstream_output) if context.upstream_output else self._path(context)
        if not path.exists():
            raise dg.Failure(
                f"No stored output at {path}: materialize the upstream asset "
                f"{context.asset_key.to_user_string() if context.has_asset_key else ''} first."
            )
        frame = pl.read_parquet(path)
        if getattr(context.dagster_type, "typing_type", None) is not None and "pandas" in str(
            context.dagster_type.typing_type
        ):
            return frame.to_pandas()
        return frame
