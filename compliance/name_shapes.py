"""How names are written: the value shapes the classifier weighs next to NER for people and places."""

from __future__ import annotations

import re

import polars as pl

# Names may open with lower-case particles: van de Eerenbeemt, de la Cruz, da Silva.
NAME_SHAPE = r"^\s*(?:\p{Ll}{1,3}\s+){0,2}\p{Lu}[\p{L}'.\-]*(?:\s+[\p{L}'.\-]+){0,4}\s*$"
FULL_NAME_SHAPE = r"^\s*\p{Lu}[\p{L}'.\-]+(?:\s+(?:(?:\p{Ll}{1,3}|'t)\s+){0,2}\p{Lu}[\p{L}'.\-]+){1,3}\s*$"
# "Doe, Jane" and "Doe, Jane Ann": a surname, a comma and given names, as many exports write people.
_LAST_COMMA_FIRST = r"^(\p{Lu}[\p{L}'\-]+),\s*(\p{Lu}[\p{L}'\-]+(?:\s\p{Lu}[\p{L}'\-]+)?)$"
# "DOE/JANE MRS": surname, slash, given names and an optional title, upper case (passenger lists).
_LAST_SLASH_FIRST = re.compile(r"^([A-Z][A-Z'\-]+)/([A-Z][A-Z'\- ]*?)(?: (?:MR|MRS|MS|MISS|MSTR|DR))?$")


def _slash_name(value: str) -> str:
    match = _LAST_SLASH_FIRST.match(value)
    return f"{match.group(2).title()} {match.group(1).title()}" if match else value


def given_name_first(values: pl.Series) -> pl.Series:
    """``Doe, Jane`` and ``DOE/JANE MRS`` (travel and airline systems) read as ``Jane Doe``."""
    values = values.str.replace(_LAST_COMMA_FIRST, "$2 $1")
    return pl.Series(values.name, [_slash_name(v) for v in values], dtype=pl.String)
