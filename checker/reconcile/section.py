"""The checker's own section of an issue or merge request description, and what people wrote
around it.

A description the checker writes is ``marker line``, a blank line, the body, and an end line::

    <!-- zendesk-drift-checker kind=org org=global/1 drift=… body=… -->

    …the body…

    <!-- zendesk-drift-checker end -->

People may add text above the marker or below the end line, move the section, or edit the
title: the checker finds its section by the marker wherever it sits (a line of its own, at
column 0: outside text rendered inert is always indented or inside a code span, so it can never
form such a line), rewrites only what lies between the marker and the end line, and keeps the
rest byte for byte. A description without an end line (written before it existed) is the
checker's from the marker on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["END_LINE", "Sections", "compose", "split"]

END_LINE = "<!-- zendesk-drift-checker end -->"


@dataclass(frozen=True, slots=True)
class Sections:
    """A description cut around the checker's section."""

    before: str
    marker: str
    body: str
    after: str


def split(description: str, marker_re: re.Pattern[str]) -> Sections | None:
    """Cut ``description`` at the first line that is exactly a marker (``marker_re``); None
    when there is none."""
    lines = description.split("\n")
    start = next(
        (i for i, line in enumerate(lines) if marker_re.fullmatch(line.rstrip("\r\t "))), None
    )
    if start is None:
        return None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].rstrip("\r\t ") == END_LINE),
        None,
    )
    inner = lines[start + 1 : end] if end is not None else lines[start + 1 :]
    body = "\n".join(inner).lstrip("\n")
    if end is not None:
        body = body[:-1] if body.endswith("\n\n") else body  # the blank line before the end
    return Sections(
        before="\n".join(lines[:start]),
        marker=lines[start].rstrip("\r\t "),
        body=body,
        after="\n".join(lines[end + 1 :]) if end is not None else "",
    )


def compose(marker: str, body: str, before: str = "", after: str = "") -> str:
    """A description: people's text above, the checker's section, people's text below."""
    ours = f"{marker}\n\n{body}{'' if body.endswith(chr(10)) else chr(10)}\n{END_LINE}"
    head = f"{before}\n" if before else ""
    tail = f"\n{after}" if after else ""
    return head + ours + tail
