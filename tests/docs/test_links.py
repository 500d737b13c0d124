"""Every relative link in the repository's documents points at a file (and heading) in the repository.

A clone must be enough to follow the docs: no link may leave the checkout
(``../shared/...``), name a file that is not there, or an anchor no heading makes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from klikkflow_pipelines.paths import PROJECT_ROOT

DOCUMENTS = sorted(
    {
        PROJECT_ROOT / "README.md",
        *(PROJECT_ROOT / "docs").glob("*.md"),
        *(PROJECT_ROOT / "compliance").glob("*.md"),
    }
)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"(?<!!)\[(?:[^\]]|\][^(])*?\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = ("http://", "https://", "mailto:")


def _prose(path: Path) -> str:
    """The document without its fenced code blocks (a ``# comment`` there is no heading or link)."""
    return _FENCE.sub("", path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes for the headings of ``path`` (lower case, no punctuation, ``-`` for space)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in _HEADING.findall(_prose(path)):
        text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def links(path: Path) -> list[str]:
    """The targets of the links in ``path``'s prose that are not external."""
    return [t for t in _LINK.findall(_prose(path)) if not t.startswith(_EXTERNAL)]


def broken(path: Path, target: str) -> str | None:
    """Why ``target`` (linked from ``path``) does not resolve inside the repository, or None."""
    file_part, _, anchor = target.partition("#")
    resolved = (path.parent / file_part).resolve() if file_part else path
    if not resolved.is_relative_to(PROJECT_ROOT):
        return f"{target} leaves the repository"
    if not resolved.exists():
        return f"{target}: no file {resolved.relative_to(PROJECT_ROOT)}"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{target}: no heading makes #{anchor} in {resolved.relative_to(PROJECT_ROOT)}"
    return None


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_relative_links_resolve_in_the_repository(document: Path) -> None:
    problems = [p for target in links(document) if (p := broken(document, target))]
    assert not problems, f"{document.relative_to(PROJECT_ROOT)}: " + "; ".join(problems)


def test_the_checker_catches_what_a_clone_cannot_follow(tmp_path: Path) -> None:
    """The link checker itself: outside links, missing files and missing anchors are caught."""
    assert "docs/DESIGN.md" in links(PROJECT_ROOT / "README.md")
    assert (
        broken(PROJECT_ROOT / "README.md", "../shared/DESIGN.md")
        == "../shared/DESIGN.md leaves the repository"
    )
    assert "no file" in (broken(PROJECT_ROOT / "README.md", "docs/NOPE.md") or "")
    assert "no heading" in (broken(PROJECT_ROOT / "README.md", "#no-such-section") or "")
    assert broken(PROJECT_ROOT / "README.md", "#adding-a-workflow-for-data-engineers") is None
    assert "events-alerts-and-dead-letters" in anchors(PROJECT_ROOT / "README.md")
