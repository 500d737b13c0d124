"""Paths a run is given (run config, sensor, event) confined to the tenant's own roots.

A path is resolved the way the operating system will open it (``..`` collapsed,
every symlink followed) and accepted only when the result lies inside one of
the allowed roots. Relative paths are taken relative to the first root. So a
launcher of one tenant cannot point a run at another tenant's inbox, at
``/etc/passwd``, or at a symlink planted in its own inbox that leads elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class PathOutsideRoot(ValueError):
    """A configured path resolves outside every allowed root; the message names the field and the fix."""


def is_inside(path: Path, roots: Sequence[Path]) -> bool:
    """True when ``path`` (resolved, symlinks followed) lies inside one of ``roots`` (resolved)."""
    try:
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError, ValueError):  # symlink loop, embedded NUL byte
        return False
    return any(resolved.is_relative_to(root.resolve()) for root in roots)


def confine(raw: str | Path, roots: Sequence[Path], field: str) -> Path:
    """The resolved path of ``raw`` when it lies inside one of ``roots``, else :class:`PathOutsideRoot`.

    ``field`` names where ``raw`` came from (e.g. ``ops.raw_customer_drops.config.paths[0]``),
    so the error tells the user which setting to fix.
    """
    if not roots:
        raise ValueError("confine() needs at least one allowed root")
    allowed = ", ".join(str(r.resolve()) for r in roots)
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    if "\0" in str(raw) or not is_inside(candidate, roots):
        where = _describe(candidate)
        raise PathOutsideRoot(
            f"{field}: {str(raw)!r} {where}, outside the allowed root {allowed}. "
            f"Fix: give a file inside {allowed} (a name relative to it, or an absolute path under it)"
        )
    return candidate.resolve()


def _describe(candidate: Path) -> str:
    try:
        return f"resolves to {candidate.resolve(strict=False)}"
    except (OSError, RuntimeError, ValueError):
        return "cannot be resolved"
