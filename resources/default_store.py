"""The storage under a tenant's default ``io_manager`` when its code location binds none.

Frames (Polars, pandas, Polars lazy frames, Arrow tables) go to KlikkFlow's
Parquet frame storage; any other object is pickled, both in the tenant's storage
(its home, or its object store under ``KLIKKFLOW_STORAGE_URL``). Never Dagster's default
``fs_io_manager``, whose directory is the instance's storage dir (shared, and served
by the webserver).
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager
from pydantic import Field

from resources.frame_io import MissingFrames, ParquetFrameIOManager, safe_name
from resources.storage_location import StorageLocation, join_key, storage_options

if TYPE_CHECKING:
    from upath import UPath


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


class PickleStore(PickledObjectFilesystemIOManager):
    """Dagster's pickle IO manager (local directory or fsspec URL), with every write atomic for
    readers and every asset key part one safe path component (no ``..`` out of the root)."""

    def __init__(self, base_dir: str, folder: str = ""):
        base = join_key(base_dir, folder)
        super().__init__(base_dir=base, **storage_options(base))

    def get_asset_relative_path(self, context: dg.InputContext | dg.OutputContext) -> UPath:
        """``<part>/<part>/...`` of the asset key, each part made safe."""
        from upath import UPath

        return UPath(*map(safe_name, context.asset_key.path))

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        """Pickle ``obj`` to ``path``: a temp file and rename locally, one PUT on an object store."""
        try:
            data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        except (AttributeError, RecursionError, ImportError, TypeError, pickle.PicklingError) as error:
            raise dg.Failure(
                f"Output of type {type(obj).__name__} cannot be pickled into the tenant's storage: "
                f"{error}. Fix: return a frame (Polars, pandas, Arrow) or a picklable value, or bind "
                "an IO manager that stores this type"
            ) from error
        StorageLocation(path.fs, path.path).write_atomically(path.path, lambda file: file.write(data))


class TenantDefaultIOManager(dg.ConfigurableIOManager):
    """Frames as Parquet under ``frames_dir``, other objects pickled under ``objects_dir``.

    Each ``*_dir`` is a local directory or an fsspec URL, possibly a ``dg.EnvVar`` (resolved in the
    run's environment); each ``*_folder`` is a folder below it.
    """

    frames_dir: str
    objects_dir: str
    frames_folder: str = Field(default="", description="Folder under frames_dir.")
    objects_folder: str = Field(default="", description="Folder under objects_dir.")

    def _frames(self) -> ParquetFrameIOManager:
        return ParquetFrameIOManager(base_dir=self.frames_dir, folder=self.frames_folder)

    def _objects(self) -> PickleStore:
        return PickleStore(self.objects_dir, self.objects_folder)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write a frame to the Parquet storage, anything else to the pickle store."""
        frame = _as_stored_frame(obj)
        if frame is not None:
            self._frames().handle_output(context, frame)
        elif obj is not None:
            self._objects().handle_output(context, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        """Read the upstream value from whichever store holds it (Parquet first)."""
        try:
            stored = self._frames().stored_frame(context)
        except MissingFrames as missing:
            try:
                return self._objects().load_input(context)
            except (
                FileNotFoundError
            ):  # stored nowhere: the frame storage's failure names where and what to do
                raise missing from None
        wanted = str(getattr(context.dagster_type, "typing_type", ""))
        if "pyarrow" in wanted:
            return stored.to_arrow()
        if "LazyFrame" in wanted:
            return stored.lazy()
        return stored.to_pandas() if "pandas" in wanted else stored
