"""Conversion of pandas, Polars and Arrow frames to one Polars representation and back."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import polars as pl


class UnsupportedFrameError(TypeError):
    """The object is not a pandas, Polars or Arrow data frame."""


_ARROW_FRAMES = ("Table", "RecordBatch")
_SCALARS = (str, bytes, bytearray, int, float, decimal.Decimal, dt.date, dt.time, dt.timedelta)
# pandas.api.types.infer_dtype kinds that hold only scalars (read as text, as before)
_SCALAR_KINDS = {
    "string",
    "bytes",
    "integer",
    "floating",
    "mixed-integer-float",
    "decimal",
    "complex",
    "boolean",
    "datetime64",
    "datetime",
    "date",
    "timedelta64",
    "timedelta",
    "time",
    "period",
    "empty",
}


def _is_arrow(obj: Any) -> bool:
    return type(obj).__module__.startswith("pyarrow") and type(obj).__name__ in _ARROW_FRAMES


def is_frame(obj: Any) -> bool:
    """True for pandas and Polars data frames (eager or lazy Polars) and Arrow Tables and RecordBatches."""
    if isinstance(obj, pl.DataFrame | pl.LazyFrame):
        return True
    module = type(obj).__module__
    return (module.startswith("pandas") and type(obj).__name__ == "DataFrame") or _is_arrow(obj)


def to_polars(frame: Any) -> pl.DataFrame:
    """Return ``frame`` as a Polars DataFrame.

    pandas object columns with mixed scalar types (numbers and strings in one
    column) become strings, bytes are decoded as UTF-8 with invalid sequences
    replaced, so that no input crashes the conversion. Object columns of
    dicts and lists become Struct and List columns (classified by their
    leaves); cells of other Python objects stay ``pl.Object``, which the
    classifier reports as unclassifiable. Arrow columns Polars cannot
    represent (extension types) become ``pl.Object`` too.
    """
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if not is_frame(frame):
        raise UnsupportedFrameError(
            f"expected a pandas or Polars DataFrame or an Arrow Table, got {type(frame).__name__}"
        )
    if _is_arrow(frame):
        return _from_arrow(frame)
    import pandas as pd

    frame = frame.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    special: dict[str, pl.Series] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            converted = _object_column(name, column)
            if converted is None:
                frame[name] = column.map(_cell_to_text, na_action="ignore").astype("string")
            else:
                special[name] = converted
    rest = frame.drop(columns=list(special))
    try:
        df = pl.from_pandas(rest)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        df = pl.from_pandas(
            rest.astype({c: "string" for c in rest.columns if rest[c].dtype != pd.StringDtype()})
        )
    if not special:
        return df
    return df.with_columns(list(special.values())).select(frame.columns)


def _object_column(name: str, column: Any) -> pl.Series | None:
    """A pandas object column of containers or arbitrary objects as Polars; ``None`` for scalars (text)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.infer_dtype(column, skipna=True) in _SCALAR_KINDS:  # vectorized: the common case
        return None
    missing = column.isna().to_numpy()
    cells = [None if gone else v for v, gone in zip(column.tolist(), missing, strict=True)]
    present = [v for v in cells if v is not None]
    if all(isinstance(v, (*_SCALARS, np.generic)) for v in present):
        return None
    if all(isinstance(v, dict) for v in present) or all(
        isinstance(v, list | tuple | np.ndarray) for v in present
    ):
        import pyarrow as pa

        try:  # Arrow infers the type from every value (Polars from the first 100 only, dropping later keys)
            return pl.Series(name, pa.array([_plain(v) for v in cells]))
        except (TypeError, ValueError, OverflowError, pa.ArrowException, pl.exceptions.PolarsError):
            pass  # containers of inconsistent types: kept as objects (unclassifiable)
    return pl.Series(name, cells, dtype=pl.Object)


def _plain(value: Any) -> Any:
    """numpy arrays (pandas' list cells read from Parquet) and tuples as lists, recursively."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _from_arrow(frame: Any) -> pl.DataFrame:
    try:
        return pl.DataFrame(pl.from_arrow(frame))
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        pass
    columns = []
    for name, column in zip(frame.column_names, frame.columns, strict=True):
        try:
            columns.append(pl.Series(name, column))
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            columns.append(pl.Series(name, column.to_pylist(), dtype=pl.Object))
    return pl.DataFrame(columns)


def _cell_to_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def like_input(frame: pl.DataFrame, original: Any) -> Any:
    """Return ``frame`` in the same library as ``original`` (pandas in, pandas out; Arrow in, Arrow out).

    ``pl.Object`` columns (never changed by enforcement) are taken back from
    ``original`` unchanged.
    """
    if isinstance(original, pl.LazyFrame):
        return frame.lazy()
    if isinstance(original, pl.DataFrame):
        return frame
    objects = [n for n, t in frame.schema.items() if t == pl.Object]
    if _is_arrow(original):
        import pyarrow as pa

        table = frame.drop(objects).to_arrow()
        arrays = {n: table.column(n) for n in table.column_names}
        arrays.update({n: original.column(n) for n in objects})
        table = pa.table({n: arrays[n] for n in frame.columns})
        if type(original).__name__ == "RecordBatch":
            return pa.RecordBatch.from_arrays(
                [c.combine_chunks() for c in table.columns], schema=table.schema
            )
        return table
    out = frame.drop(objects).to_pandas()
    by_name = {str(c): c for c in original.columns}
    for name in objects:
        out[name] = original[by_name[name]].to_numpy()
    return out[frame.columns] if objects else out
