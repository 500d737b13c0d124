"""Custom entities: the identifiers a tenant declares in its policy file under ``entities:``.

A custom entity is a name, a regular expression for the value's shape, an
optional checksum (:mod:`compliance.checksums`), column-name words and a
sensitivity. :meth:`CustomEntity.recognizer` turns it into a
:class:`~compliance.recognizers.Recognizer`, which the classifier and the
redactor use exactly like a built-in identifier's.

The regex is checked where the policy is loaded, so a mistake is a policy
error naming the file, the entity and the field rather than a failed run: it
must compile in Python's ``re`` *and* in the Rust engine Polars runs (no
look-around, no backreferences, no ``\\p{..}`` classes), stay within 500
characters and within Polars' compiled-size limit, carry no anchors (they are
added for you), and never match the empty string. Rust's engine runs in time
linear in the text, so no regex can backtrack catastrophically on the data.
"""

from __future__ import annotations

import re
import warnings
from re import _parser  # the parser behind re.compile: gives a regex's shortest match width

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from compliance.checksums import VALIDATORS, describe
from compliance.entities import ENTITIES, Sensitivity
from compliance.recognizers import Recognizer

MAX_REGEX_CHARS = 500
_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_WORD = re.compile(r"[^\W_]+(?:_[^\W_]+)*")  # lower-case tokens, joined by _ in a phrase
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_MIN_SUBSTRING = 4
_REGEX_FIX = (
    "correct the regex; it must be valid for both Python's re and Rust's regex: no \\p{..} classes "
    "(list the characters, [A-Za-zÀ-ÿ]), no possessive quantifiers or atomic groups"
)


def invalid(message: str, fix: str, **values: str) -> PydanticCustomError:
    """A validation error that reaches the user as ``FIELD: message. Fix: fix``.

    User text (a regex, a name) goes in ``values`` and into the message through
    ``{placeholders}``, so braces in it (``\\d{6}``) are shown as written; the fix
    is shown as given.
    """
    return PydanticCustomError("value_error", message, {"fix": fix, **values})


def full_pattern(regex: str) -> str:
    """The whole-cell form of ``regex`` (structured columns; cells are stripped first)."""
    return f"^(?:{regex})$"


def span_pattern(regex: str) -> str:
    """The free-text form of ``regex``: a match is never glued to a letter, digit or ``_``.

    Rust's half word boundaries (``\\b{start-half}``: no word character just
    before; ``\\b{end-half}``: none just after) hold whether the regex starts
    and ends with a word character (``EMP-\\d{6}``) or not (``#\\d{6}``), where
    a plain ``\\b`` would demand a word character next to the ``#``.
    """
    return rf"\b{{start-half}}(?:{regex})\b{{end-half}}"


def _rust_problem(pattern: str) -> PydanticCustomError | None:
    """Why Polars' Rust regex engine refuses ``pattern``, or ``None``."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        text = str(exc)
        if "size limit" in text:
            return invalid(
                "regex is too large once compiled (over Polars' 10 MiB limit): counted repetitions "
                "multiply, and \\w, \\d and . stand for thousands of Unicode characters",
                "use smaller repetition counts and ASCII classes such as [0-9] or [A-Za-z0-9]",
            )
        lines = [line.strip() for line in text.splitlines()]
        reasons = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
        return invalid(
            "regex is not accepted by Polars' regex engine (Rust), which classifies the data: {reason}",
            "remove look-around ((?=...), (?!...), (?<=...), (?<!...)) and backreferences (\\1): "
            "describe the value itself; word edges in free text are added for you",
            reason=reasons[0] if reasons else lines[0],
        )
    return None


def regex_problem(regex: str) -> PydanticCustomError | None:
    """Why ``regex`` cannot be a custom entity's value shape, or ``None`` when it can."""
    if len(regex) > MAX_REGEX_CHARS:
        return invalid(
            "regex is {length} characters long; at most {limit} are allowed",
            "describe the value's shape more compactly (character classes, repetition counts)",
            length=str(len(regex)),
            limit=str(MAX_REGEX_CHARS),
        )
    if regex.startswith(("^", "\\A")) or re.search(r"(?<!\\)(?:\\\\)*(?:\$|\\z)$", regex):
        return invalid(
            "regex is anchored with ^, $, \\A or \\z",
            "remove the anchors: the regex is matched against the whole cell in columns and between "
            "word edges in free text",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": Rust reads [[ as nesting
            re.compile(regex)
    except re.error as exc:
        where = "" if exc.pos is None else f" (at character {exc.pos})"
        return invalid("regex is not valid for Python's re: {reason}", _REGEX_FIX, reason=exc.msg + where)
    for pattern in (full_pattern(regex), span_pattern(regex)):
        problem = _rust_problem(pattern)
        if problem is not None:
            return problem
    if _parser.parse(regex).getwidth()[0] == 0:
        return invalid(
            "regex can match the empty string, so every blank cell and every position in a text would match",
            "require at least one character: use + rather than *, and no empty alternative (A|)",
        )
    return None


def _token_form(word: str) -> str:
    """``word`` written as column-name tokens: ``EmployeeID`` -> ``employee_id``."""
    return "_".join(t for t in re.split(r"[\W_]+", _CAMEL.sub("_", word).lower()) if t)


class CustomEntity(BaseModel):
    """One entity a tenant declares: its name, value shape, checksum, column words and sensitivity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    regex: str = Field(min_length=1)
    validator: str | None = None
    column_words: list[str] = Field(default_factory=list)
    column_substrings: list[str] = Field(default_factory=list)
    sensitivity: Sensitivity = "confidential"
    needs_column_word: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not (3 <= len(name) <= 40 and _NAME.fullmatch(name)):
            raise invalid(
                "entity name {name} is not UPPER_SNAKE_CASE of 3 to 40 characters",
                "use upper-case letters, digits and _, starting with a letter, e.g. ACME_EMPLOYEE_ID",
                name=repr(name),
            )
        if name in ENTITIES:
            raise invalid(
                "{name} is the name of a built-in entity",
                "choose another name, prefixed with your organisation (ACME_...) so that it never "
                "collides with an entity KlikkFlow adds",
                name=repr(name),
            )
        return name

    @field_validator("regex")
    @classmethod
    def _usable_regex(cls, regex: str) -> str:
        problem = regex_problem(regex)
        if problem is not None:
            raise problem
        return regex

    @field_validator("validator")
    @classmethod
    def _known_validator(cls, name: str | None) -> str | None:
        if name is not None and name not in VALIDATORS:
            raise invalid(
                "unknown validator {name}; known validators: {known}",
                "use one of the known validators, or leave validator out to let the regex decide",
                name=repr(name),
                known=", ".join(VALIDATORS),
            )
        return name

    @field_validator("column_words", "column_substrings")
    @classmethod
    def _token_words(cls, words: list[str], info: ValidationInfo) -> list[str]:
        wrong = [w for w in words if w != w.lower() or not _WORD.fullmatch(w)]
        if wrong:
            raise invalid(
                "{words} not in column-name token form",
                "write lower-case words, with _ between the words of a phrase: "
                + ", ".join(_token_form(w) or "(drop it)" for w in wrong),
                words=", ".join(map(repr, wrong)),
            )
        short = [w for w in words if len(w) < _MIN_SUBSTRING]
        if info.field_name == "column_substrings" and short:
            raise invalid(
                "{words} too short to look for inside column names (it would match too many)",
                "give substrings of at least 4 characters, or list short words under column_words",
                words=", ".join(map(repr, short)),
            )
        return words

    @field_validator("needs_column_word")
    @classmethod
    def _has_words(cls, needs: bool, info: ValidationInfo) -> bool:
        words = info.data.get("column_words"), info.data.get("column_substrings")
        if needs and words == ([], []):
            raise invalid(
                "needs_column_word is true but the entity lists no column_words or column_substrings",
                "list the words a column's name must contain, or set needs_column_word: false",
            )
        return needs

    @property
    def full(self) -> str:
        """The whole-cell regex (Rust dialect)."""
        return full_pattern(self.regex)

    @property
    def span(self) -> str:
        """The free-text regex (Rust dialect)."""
        return span_pattern(self.regex)

    def rule(self, source: str | None) -> str:
        """One sentence saying how this entity is detected (``source``: the policy file)."""
        text = f"Custom entity of {source or 'the tenant policy'}: values matching {self.regex}"
        if self.validator:
            text += f" that pass {describe(self.validator)}"
        words = [*self.column_words, *self.column_substrings]
        if self.needs_column_word:
            text += f", in columns whose name contains {' or '.join(words)}"
        elif words:
            text += f"; a column named with {' or '.join(words)} needs fewer matching values"
        return text + "."

    def recognizer(self, source: str | None = None) -> Recognizer:
        """This entity as the classifier's and redactor's :class:`Recognizer`.

        Single-token ``column_words`` are whole name tokens; phrases
        (``employee_id``) and ``column_substrings`` are looked for inside names.
        """
        return Recognizer(
            entity=self.name,
            sensitivity=self.sensitivity,
            full=self.full,
            span=self.span,
            validator=VALIDATORS[self.validator] if self.validator else None,
            words=tuple(w for w in self.column_words if "_" not in w),
            substrings=(*(w for w in self.column_words if "_" in w), *self.column_substrings),
            needs_name=self.needs_column_word,
            rule=self.rule(source),
        )
