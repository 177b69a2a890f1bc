"""Placeholders: the one owner of the tokens that stand for something created later in a run.

The planner cannot know the web URL of an issue or merge request it has yet to create, so a body
that links it holds :func:`placeholder` instead; the renderer lets exactly such a token through
(:data:`PLACEHOLDER_RE`, in :mod:`checker.render.tracker`), and the writer fills every token in
once the thing exists (:func:`fill`). NUL never occurs in rendered outside text (inert shows it
as ␀), so a token cannot be forged by text from YAML or Zendesk. Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["PLACEHOLDER_RE", "fill", "placeholder"]

#: one token: ``NUL pending:<kind>:<instance/org or -> NUL``
PLACEHOLDER_RE = re.compile(r"\x00pending:[a-z]+:[^\x00]*\x00")


def placeholder(kind: str, org: tuple[str, int] | None) -> str:
    """Stands for the web URL of the ``kind`` thing of ``org`` (or of the dashboard) created
    earlier in the same run."""
    return f"\x00pending:{kind}:{f'{org[0]}/{org[1]}' if org else '-'}\x00"


def fill(
    text: str,
    urls: Mapping[str, str],
    fallback: str,
    show: Callable[[str], str] = lambda url: url,
) -> str:
    """``text`` with every token replaced by ``show`` of its URL (``fallback`` when the thing
    was not created, e.g. its create failed)."""
    return PLACEHOLDER_RE.sub(lambda m: show(urls.get(m.group(), fallback)), text)
