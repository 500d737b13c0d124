"""The storage under a tenant's default ``io_manager`` when its code location binds none.

Frames (Polars, pandas, Polars lazy frames, Arrow tables) go to KlikkFlow's
Parquet frame storage in the tenant's home; any other object is pickled into
the tenant's home as well. Never Dagster's default ``fs_io_manager``, whose
directory is the instance's storage dir (shared, and served by the webserver).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

from resources.frame_io import ParquetFrameIOManager


def _as_stored_frame(obj: Any) -> Any | None:
    """``obj`` as a frame the Parquet storage writes (lazy and Arrow frames collected), else ``None``."""
    module = type(obj).__module__
    if module.startswith("polars"):
        import polars as pl

        if isinstance(obj, pl.LazyFrame):
            return obj.collect()
        return obj if isinstance(obj, pl.DataFrame) else None
    if module.startswith("pandas") and type(obj).__name__ == "DataFrame":
        return obj
    if module.startswith("pyarrow") and type(obj).__name__ == "Table":
        import polars as pl

        return pl.from_arrow(obj)
    return None


class TenantDefaultIOManager(dg.ConfigurableIOManager):
    """Frames as Parquet under ``frames_dir``, other objects pickled under ``objects_dir``."""

    frames_dir: str
    objects_dir: str

    def _frames(self) -> ParquetFrameIOManager:
        return ParquetFrameIOManager(base_dir=self.frames_dir)

    def _objects(self) -> PickledObjectFilesystemIOManager:
        return PickledObjectFilesystemIOManager(base_dir=self.objects_dir)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write a frame to the Parquet storage, anything else to the pickle store."""
        frame = _as_stored_frame(obj)
        if frame is not None:
            self._frames().handle_output(context, frame)
        elif obj is not None:
            self._objects().handle_output(context, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        """Read the upstream value from whichever store holds it (Parquet first)."""
        frames = self._frames()
        if all(Path(p).exists() for p in frames._input_paths(context)):
            stored = frames.load_input(context)
            wanted = str(getattr(context.dagster_type, "typing_type", ""))
            if "pyarrow" in wanted:
                return stored.to_arrow()
            return stored.lazy() if "LazyFrame" in wanted else stored
        return self._objects().load_input(context)
