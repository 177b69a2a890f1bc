"""Files the commands write (reports, plans, org files): one way to write, one error."""

from __future__ import annotations

from pathlib import Path


class OutputError(Exception):
    """A file could not be written: its one-line reason (the CLI's usage error, exit 2)."""


def write_text(path: Path, content: str) -> None:
    """Write ``content`` to ``path``, making its folder; an OSError becomes an OutputError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
