"""Masked samples: enough of a value's shape to recognise what matched, never the value itself.

``jane.doe@example.com`` -> ``j*******@e******.com``; ``4111 1111 1111 1111``
-> ``4*** **** **** 1111``; ``Jane Doe`` -> ``J*** D**``. Separators and the
top-level domain stay; at most the first and (for long identifiers) the last
few letters or digits do. A value of one or two characters shows no character;
control characters (a terminal escape sequence in the data) become ``?``.
"""

from __future__ import annotations

import re

MAX_SHOWN = 40  # longer masked samples are cut with an ellipsis
_EMAIL = re.compile(r"([\w.+\-]+)@([\w\-]+(?:\.[\w\-]+)*)\.([A-Za-z]{2,})")
_WORD = re.compile(r"[^\W\d_]+")


def _stars(text: str, keep_first: int = 0, keep_last: int = 0) -> str:
    """``text`` with its letters and digits starred, except the first and last ones asked for."""
    positions = [i for i, ch in enumerate(text) if ch.isalnum()]
    shown = set(positions[:keep_first]) | set(positions[len(positions) - keep_last :] if keep_last else ())
    return "".join(ch if i in shown or not ch.isalnum() else "*" for i, ch in enumerate(text))


def _identifier(text: str) -> str:
    """A value with digits (a card, an IBAN, a phone number): first and, when long, last characters."""
    count = sum(ch.isalnum() for ch in text)
    first = 1 if count >= 4 else 0
    last = 4 if count >= 12 else 2 if count >= 8 else 0
    return _stars(text, first, last)


def _words(text: str) -> str:
    """Words (names, places, prose): each keeps its first letter when it has three letters or more."""
    return _WORD.sub(lambda m: _stars(m.group(0), 1 if len(m.group(0)) >= 3 else 0), _stars_digits(text))


def _stars_digits(text: str) -> str:
    return re.sub(r"\d", "*", text)


def _email(match: re.Match[str]) -> str:
    local, domain, tld = match.groups()
    labels = ".".join(_stars(label, 1 if len(label) >= 3 else 0) for label in domain.split("."))
    return f"{_stars(local, 1 if len(local) >= 3 else 0)}@{labels}.{tld}"


def mask_sample(value: str) -> str:
    """A masked form of ``value`` that keeps its shape and a few characters, never the whole value."""
    value = "".join(ch if ch.isprintable() else "?" for ch in " ".join(value.split()))  # no terminal codes
    if _EMAIL.search(value):
        out, end = "", 0
        for match in _EMAIL.finditer(value):
            out += _words(value[end : match.start()]) + _email(match)
            end = match.end()
        out += _words(value[end:])
    elif any(ch.isdigit() for ch in value):
        out = _identifier(value)
    else:
        out = _words(value)
    if out == value:  # nothing left to hide (no letters or digits): show the shape only
        out = re.sub(r"\S", "*", value)
    return out if len(out) <= MAX_SHOWN else out[: MAX_SHOWN - 1] + "…"
