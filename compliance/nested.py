"""Nested columns (Struct, List, Array, Map and JSON text) read as leaves, and rebuilt with protected leaves.

A column is read into a tree of :class:`Node` whose leaves are the scalar
values, each named by a *leaf path*:

- ``contact.email``: field ``email`` of Struct column ``contact``;
- ``emails[]``: the elements of List (or Array) column ``emails``;
- ``contacts[].email``: field ``email`` of the structs inside List ``contacts``;
- ``attrs{}.key`` / ``attrs{}.value``: the keys and values of Map column ``attrs``;
- ``payload.email``, ``payload.ids[]``: a text column holding JSON objects is
  decoded, so its keys are fields like those of a Struct.

:func:`read_column` returns the tree and every leaf's values (flattened, for
classification and for the per-distinct-value crypto); :func:`rebuild`
returns one Polars expression that rebuilds the column with some leaves
replaced or removed (``struct`` / ``list.eval`` / JSON decode, protect,
encode), so enforcement stays vectorized. Columns the classifier cannot read
raise :class:`Unreadable`, and :func:`unreadable_reason` names leaf types it
cannot read; the policy's ``unclassifiable`` action decides about both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

MAX_DEPTH = 8  # nesting levels (struct, list, map, JSON) below the column
MAX_LEAVES = 500  # leaves per column; more usually means data used as keys ({"user_123": ...})
JSON_SHARE = 0.5  # share of sampled values that look like JSON objects/arrays for a text column to be JSON
JSON_PROBE = 1000  # values sampled to decide whether a text column holds JSON
BINARY_PROBE = 200  # binary values sampled to decide whether they are text
BINARY_MAX_BAD = 0.1  # share of undecodable or control characters above which binary is not text
_NULL_TEXT = ("", "null")


class Unreadable(Exception):
    """The column cannot be read by the classifier; ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Node:
    """One level of a column: ``kind`` is leaf, struct, list, array, map or json."""

    kind: str
    path: str
    dtype: pl.DataType
    children: tuple[tuple[str, Node], ...] = ()

    def leaves(self) -> list[Node]:
        """The leaf nodes below (or at) this node, in field order."""
        if self.kind == "leaf":
            return [self]
        return [leaf for _, child in self.children for leaf in child.leaves()]


class Drop:
    """Marker returned by :func:`rebuild` when the whole column is to be removed."""


DROP = Drop()
LeafExpr = Callable[[pl.Expr], pl.Expr]


def read_column(name: str, series: pl.Series) -> tuple[Node, dict[str, pl.Series]]:
    """The column's tree and the values of each leaf path (a flat column is one leaf named ``name``).

    Raises :class:`Unreadable` for nesting deeper than :data:`MAX_DEPTH`, more
    than :data:`MAX_LEAVES` leaves, or text that is partly JSON and partly not.
    """
    values: dict[str, pl.Series] = {}
    _check_shape(series.dtype, name, 0)
    node = _read(name, series, 0, values)
    if len(values) > MAX_LEAVES:
        raise Unreadable(f"more than {MAX_LEAVES} nested fields (keys that are data, not names?)")
    return node, values


def _read(path: str, series: pl.Series, depth: int, values: dict[str, pl.Series]) -> Node:
    # Polars reads a name like ``^[a-z]{2}$`` as a column regex in Series methods: work under a plain one.
    series = series.alias("value")
    dtype = series.dtype
    nested = isinstance(dtype, pl.Struct | pl.List | pl.Array | pl.Map)
    if not nested and dtype == pl.String:
        decoded = _decode_json(path, series)
        if decoded is not None:
            if decoded.dtype == pl.Null:  # only nulls and blanks
                return _leaf(path, series, values)
            _check_shape(decoded.dtype, path, depth + 1, len(values))
            return Node("json", path, decoded.dtype, (("", _read(path, decoded, depth + 1, values)),))
    if not nested:
        return _leaf(path, series, values)
    if isinstance(dtype, pl.Struct):
        children = tuple(
            (f.name, _read(f"{path}.{f.name}", series.struct.field(f.name), depth + 1, values))
            for f in dtype.fields
        )
        return Node("struct", path, dtype, children)
    if isinstance(dtype, pl.Map):
        entries = series.cast(pl.List(pl.Struct({"key": dtype.key, "value": dtype.value}))).explode()
        return Node("map", path, dtype, (("", _read(f"{path}{{}}", entries, depth, values)),))
    flat = series.explode() if isinstance(dtype, pl.List) else series.arr.explode()
    kind = "list" if isinstance(dtype, pl.List) else "array"
    return Node(kind, path, dtype, (("", _read(f"{path}[]", flat, depth + 1, values)),))


def _check_shape(dtype: pl.DataType, path: str, depth: int, seen: int = 0) -> None:
    """Raise :class:`Unreadable` before reading a type nested too deep or with too many leaves."""
    pending, leaves = [(dtype, depth)], seen
    while pending:
        current, level = pending.pop()
        inner = _inner_types(current)
        if inner is None:
            leaves += 1
            if leaves > MAX_LEAVES:
                raise Unreadable(f"more than {MAX_LEAVES} nested fields (keys that are data, not names?)")
        elif level >= MAX_DEPTH:
            raise Unreadable(f"nested deeper than {MAX_DEPTH} levels at {path}")
        else:
            pending.extend((t, level + 1) for t in inner)


def _inner_types(dtype: pl.DataType) -> list[pl.DataType] | None:
    if isinstance(dtype, pl.Struct):
        return [f.dtype for f in dtype.fields]
    if isinstance(dtype, pl.List | pl.Array):
        return [dtype.inner]  # type: ignore[list-item]
    if isinstance(dtype, pl.Map):
        return [dtype.key, dtype.value]
    return None


def _leaf(path: str, series: pl.Series, values: dict[str, pl.Series]) -> Node:
    values[path] = series.alias(path)
    return Node("leaf", path, series.dtype)


def _null_blank(expr: pl.Expr) -> pl.Expr:
    """Blank and ``null`` texts as nulls (a JSON column's empty cells)."""
    return pl.when(expr.str.strip_chars().is_in(_NULL_TEXT)).then(None).otherwise(expr)


def _json_text(series: pl.Series) -> pl.Series:
    return pl.select(_null_blank(pl.lit(series))).to_series().alias(series.name)


def _decode_json(path: str, series: pl.Series) -> pl.Series | None:
    """The decoded values when the text column holds JSON objects or arrays, ``None`` for plain text."""
    probe = series.drop_nulls()
    if probe.len() > JSON_PROBE:
        probe = probe.sample(JSON_PROBE, seed=0)
    probe = probe.str.strip_chars()
    probe = probe.filter(~probe.is_in(_NULL_TEXT))
    if probe.len() == 0 or probe.str.contains(r"^[\[{]").mean() < JSON_SHARE:  # type: ignore[operator]
        return None
    text = _json_text(series)
    stripped = text.str.strip_chars()
    starts = stripped.str.slice(0, 1)
    valid = stripped.str.json_path_match("$").is_not_null()
    bad = text.is_not_null() & ~(starts.is_in(["{", "["]) & valid)
    if bad.any():
        raise Unreadable(
            f"text column {path} mixes JSON with other values ({int(bad.sum())} of "
            f"{text.len() - text.null_count()} values are not JSON objects or arrays)"
        )
    if starts.drop_nulls().n_unique() > 1:
        raise Unreadable(f"text column {path} mixes JSON objects and JSON arrays")
    try:
        return text.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise Unreadable(f"text column {path} holds JSON Polars cannot decode: {str(exc)[:120]}") from None


def unreadable_reason(series: pl.Series) -> str | None:
    """Why the classifier cannot read this leaf's values, or ``None`` when it can."""
    dtype = series.dtype
    if dtype == pl.Object:
        return "Python objects (Object dtype) cannot be read by the classifier"
    if dtype == pl.Binary:
        return _binary_reason(series)
    readable = (
        dtype in (pl.String, pl.Boolean, pl.Null, pl.Categorical)
        or isinstance(dtype, pl.Enum)
        or dtype.is_numeric()
        or dtype.is_decimal()
        or dtype.is_temporal()
    )
    return None if readable else f"values of type {dtype} cannot be read by the classifier"


def _binary_reason(series: pl.Series) -> str | None:
    """Binary values are text when almost every character decodes as printable UTF-8."""
    probe = series.drop_nulls()
    if probe.len() > BINARY_PROBE:
        probe = probe.sample(BINARY_PROBE, seed=0)
    text = "".join(b.decode("utf-8", errors="replace") for b in probe)
    if not text:
        return None
    bad = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r"))
    if bad / len(text) > BINARY_MAX_BAD:
        return f"binary data that is not UTF-8 text ({bad / len(text):.0%} undecodable or control bytes)"
    return None


def container_paths(path: str) -> tuple[str, ...]:
    """The paths that contain a leaf: ``contacts[].email`` -> ``contacts[]``, ``contacts``."""
    found: list[str] = []
    for index, char in enumerate(path):
        if char in ".[{" and index > 0:
            found.append(path[:index])
        if char in "]}":
            found.append(path[: index + 1])
    return tuple(dict.fromkeys(p for p in reversed(found) if p != path))


def rebuild(
    expr: pl.Expr, node: Node, leaf_exprs: Mapping[str, LeafExpr], dropped: set[str]
) -> pl.Expr | Drop | None:
    """The column rebuilt with ``leaf_exprs`` applied and the ``dropped`` leaves removed.

    Returns ``None`` when nothing changes and :data:`DROP` when nothing is
    left (a dropped list element or map entry removes the list or map).
    """
    if node.kind == "leaf":
        if node.path in dropped:
            return DROP
        change = leaf_exprs.get(node.path)
        return None if change is None else change(expr)
    if node.kind == "struct":
        return _rebuild_struct(expr, node, leaf_exprs, dropped)
    child = node.children[0][1]
    if node.kind == "json":
        decoded = _null_blank(expr).str.json_decode(node.dtype)
        inner = rebuild(decoded, child, leaf_exprs, dropped)
        if inner is None or isinstance(inner, Drop):
            return inner
        if isinstance(node.dtype, pl.Struct):
            encoded = inner.struct.json_encode()
        else:  # a JSON array: encoded inside {"v": ...}, then unwrapped
            encoded = pl.struct(inner.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")
        return pl.when(decoded.is_null()).then(expr).otherwise(encoded)  # empty cells stay as they were
    inner = rebuild(pl.element(), child, leaf_exprs, dropped)
    if inner is None or isinstance(inner, Drop):
        return inner
    if node.kind == "list":
        return expr.list.eval(inner)
    if node.kind == "array":
        return expr.arr.eval(inner)
    entry = pl.List(pl.Struct({"key": node.dtype.key, "value": node.dtype.value}))  # type: ignore[attr-defined]
    return expr.cast(entry).list.eval(inner).list.to_map()


def _rebuild_struct(
    expr: pl.Expr, node: Node, leaf_exprs: Mapping[str, LeafExpr], dropped: set[str]
) -> pl.Expr | Drop | None:
    fields = [
        (name, rebuild(expr.struct.field(name), child, leaf_exprs, dropped)) for name, child in node.children
    ]
    if all(new is None for _, new in fields):
        return None
    kept = [
        (new if new is not None else expr.struct.field(name)).alias(name)
        for name, new in fields
        if not isinstance(new, Drop)
    ]
    if not kept or (node.path.endswith("{}") and len(kept) < len(fields)):  # a map entry needs key and value
        return DROP
    return pl.when(expr.is_null()).then(None).otherwise(pl.struct(kept))
