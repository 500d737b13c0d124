"""Reading and writing data files (CSV, Parquet, JSON Lines) for the compliance CLI."""

from __future__ import annotations

from pathlib import Path

import polars as pl

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class DataFileError(ValueError):
    """A data file cannot be read or written; the message names the file and the fix."""


def file_format(path: Path) -> str:
    """The format of ``path`` from its extension, or :class:`DataFileError`."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}. "
            "Fix: use a .csv, .parquet or .jsonl (JSON Lines) file"
        )
    return fmt


def read_frame(path: Path) -> pl.DataFrame:
    """Read a CSV (invalid UTF-8 replaced), Parquet or JSON Lines file into Polars."""
    fmt = file_format(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found. Fix: check the path")
    try:
        if fmt == "csv":
            return pl.read_csv(path, encoding="utf8-lossy", infer_schema_length=10_000)
        if fmt == "parquet":
            return pl.read_parquet(path)
        return pl.read_ndjson(path, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataFileError(
            f"{path}: cannot read as {fmt}: {first}. Fix: check that the file is valid {fmt}"
        ) from None


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` in the format named by ``path``'s extension, atomically (temp file, then rename)."""
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        if fmt == "csv":
            frame.write_csv(tmp)
        elif fmt == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_ndjson(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
