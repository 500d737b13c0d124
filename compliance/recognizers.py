"""Pattern recognizers: one per entity found by a regular expression and a validator.

A :class:`Recognizer` is what the classifier and the redactor need to know
about a pattern entity: the whole-cell regex (structured columns), the span
regex (free text), the validator that turns a regex candidate into a
confident match, its sensitivity and the column-name words that point to it.
Built-in national identifiers live in :mod:`compliance.identifiers`; a
tenant's policy may declare its own (custom entities), built into the same
type. Regexes are in the Rust dialect Polars runs vectorized.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # compliance.entities lists the identifiers built from this type
    from compliance.entities import Sensitivity


@dataclass(frozen=True)
class Recognizer:
    """How one pattern entity is recognised.

    ``full`` must match a whole (stripped) cell; ``span`` finds the entity
    inside free text (``None``: not looked for in free text). ``validator``
    is called on each distinct regex candidate (``None``: the regex decides).
    ``words`` are whole column-name tokens and ``substrings`` parts of
    compound names (``steuernummer``) that point to the entity. With
    ``needs_name`` the value shape is too weak to stand alone (nine digits
    of a passport number): the column is labelled only when its name points
    to the entity. ``rule`` says in one sentence how the entity is detected.
    """

    entity: str
    sensitivity: Sensitivity
    full: str
    span: str | None
    validator: Callable[[str], bool] | None
    words: tuple[str, ...] = ()
    substrings: tuple[str, ...] = ()
    needs_name: bool = False
    rule: str = ""

    def valid(self, value: str) -> bool:
        """True when ``value`` passes this recognizer's validator (always, without one)."""
        return self.validator is None or self.validator(value)
