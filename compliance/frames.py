"""Conversion of pandas and Polars frames to one Polars representation and back."""

from __future__ import annotations

from typing import Any

import polars as pl


class UnsupportedFrameError(TypeError):
    """The object is not a pandas or Polars data frame."""


def is_frame(obj: Any) -> bool:
    """True for pandas and Polars data frames (eager or lazy Polars)."""
    if isinstance(obj, pl.DataFrame | pl.LazyFrame):
        return True
    module = type(obj).__module__
    return module.startswith("pandas") and type(obj).__name__ == "DataFrame"


def to_polars(frame: Any) -> pl.DataFrame:
    """Return ``frame`` as a Polars DataFrame.

    pandas object columns with mixed types (numbers and strings in one
    column) become strings, bytes are decoded as UTF-8 with invalid sequences
    replaced, so that no input crashes the conversion.
    """
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if not is_frame(frame):
        raise UnsupportedFrameError(f"expected a pandas or Polars DataFrame, got {type(frame).__name__}")
    import pandas as pd

    frame = frame.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            frame[name] = column.map(_cell_to_text, na_action="ignore").astype("string")
    try:
        return pl.from_pandas(frame)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        return pl.from_pandas(
            frame.astype({c: "string" for c in frame.columns if frame[c].dtype != pd.StringDtype()})
        )


def _cell_to_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def like_input(frame: pl.DataFrame, original: Any) -> Any:
    """Return ``frame`` in the same library as ``original`` (pandas in, pandas out)."""
    if isinstance(original, pl.LazyFrame):
        return frame.lazy()
    if isinstance(original, pl.DataFrame):
        return frame
    return frame.to_pandas()
