"""YAML syntax errors in plain words, at the line where the mistake is.

The parser reports where it gave up, in its own terms ("mapping values are not allowed in this
context"), often a line after the mistake. This module looks at the text around that place and
recognises the mistakes people commonly make in org files — a key indented wrongly, ``key:value``
without a space, an unquoted value containing ``: ``, a list dash out of line, a quote never
closed — and says what is wrong and how to fix it, at the mistake's line and column. Anything
it does not recognise keeps the parser's words, with the advice to compare with the lines above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``key: value`` on one line (the key plain, the value anything)
_KEY_VALUE = re.compile(
    r"^(?P<indent> *)(?P<dash>- +)?(?P<key>[A-Za-z_][\w.-]*):(?: +(?P<value>.*))?$"
)
#: ``key:value`` with no space after the colon (not a URL, not a time of day)
_NO_SPACE = re.compile(
    r"^(?P<indent> *)(?:- +)?(?P<key>[A-Za-z_][\w.-]*):(?P<value>[^\s/:][^\n]*)$"
)
_DASH = re.compile(r"^(?P<indent> *)- ")
_FLOW = {
    "while parsing a flow mapping": ("{", "}"),
    "while parsing a flow sequence": ("[", "]"),
}


@dataclass(frozen=True, slots=True)
class Hint:
    """A plain-words message and where the mistake is (1-based)."""

    message: str
    line: int
    column: int


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _content(lines: list[str], index: int) -> bool:
    """A line that holds YAML (not blank, not only a comment)."""
    stripped = lines[index].strip()
    return bool(stripped) and not stripped.startswith("#")


def _previous(lines: list[str], index: int) -> int | None:
    for i in range(index - 1, -1, -1):
        if _content(lines, i):
            return i
    return None


def _no_space(lines: list[str], upto: int) -> Hint | None:
    """The last ``key:value`` without a space at or before line ``upto`` (0-based)."""
    for i in range(min(upto, len(lines) - 1), -1, -1):
        if not _content(lines, i):
            continue
        m = _NO_SPACE.match(lines[i])
        if m is not None:
            key, value = m["key"], m["value"]
            return Hint(
                f"'{key}:{value}' needs a space after the colon: write '{key}: {value}'",
                i + 1,
                m.end("key") + 1,
            )
        if ":" in lines[i]:
            return None
    return None


def _quote(lines: list[str], line: int, column: int) -> Hint:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    char = text[column - 1] if 0 < column <= len(text) and text[column - 1] in "'\"" else '"'
    return Hint(
        f"the quote {char} that starts this value is never closed: add a closing {char} at "
        "the end of the value (a value spanning several lines is easier as a block: "
        "'key: |' with the text indented below it)",
        line,
        column,
    )


def _list_dash(lines: list[str], index: int) -> Hint | None:
    """A ``- `` item out of line with the list's other items."""
    m = _DASH.match(lines[index])
    if m is None:
        return None
    here = len(m["indent"])
    for i in range(index - 1, -1, -1):
        other = _DASH.match(lines[i])
        if other is not None and len(other["indent"]) != here:
            want = len(other["indent"])
            return Hint(
                f"this list item's '-' is in column {here + 1}, but the list's items above "
                f"(line {i + 1}) start in column {want + 1}: start every '-' of a list in "
                "the same column",
                index + 1,
                here + 1,
            )
        if _content(lines, i) and _indent(lines[i]) < here and other is None:
            break
    return None


def _key_indent(lines: list[str], index: int) -> Hint | None:
    """A ``key:`` indented differently from the keys around it."""
    m = _KEY_VALUE.match(lines[index])
    if m is None or m["dash"]:
        return None
    here = len(m["indent"])
    before = _previous(lines, index)
    if before is None:
        return None
    above = _KEY_VALUE.match(lines[before])
    if above is None:
        return None
    # the item key after a "- " dash sits in the column after the dash
    above_col = len(above["indent"]) + len(above["dash"] or "")
    if here == above_col or (here > above_col and not above["value"]):
        return None  # a sibling, or the first key of the mapping the line above opens
    siblings = sorted(
        {
            len(k["indent"]) + len(k["dash"] or "")
            for i in range(index)
            if (k := _KEY_VALUE.match(lines[i])) is not None
        }
    )
    if here > above_col and above["value"]:
        return Hint(
            f"'{m['key']}' is indented more than '{above['key']}' on line {before + 1}, whose "
            f"value is already given: keys of one mapping start in the same column "
            f"(column {above_col + 1} here)",
            index + 1,
            here + 1,
        )
    if here not in siblings:
        columns = " or ".join(str(c + 1) for c in siblings if c < here + 4)
        return Hint(
            f"'{m['key']}' starts in column {here + 1}, but no key above starts there: line it "
            f"up with the keys of its mapping (column {columns or above_col + 1})",
            index + 1,
            here + 1,
        )
    return None


def _colon_in_value(lines: list[str], index: int) -> Hint | None:
    m = _KEY_VALUE.match(lines[index])
    if m is None or not m["value"] or ": " not in m["value"]:
        return None
    value = m["value"].rstrip()
    if value[:1] in ("'", '"', "|", ">"):
        return None
    quoted = value.replace("'", "''")
    return Hint(
        f"the value of '{m['key']}' contains ': ', which YAML reads as the start of another "
        f"key: put the value in quotes: {m['key']}: '{quoted}'",
        index + 1,
        m.start("value") + 1,
    )


def explain(
    text: str,
    problem: str,
    line: int,
    column: int,
    context: str | None = None,
    context_line: int | None = None,
    context_column: int | None = None,
) -> Hint | None:
    """A plain-words explanation of a syntax error the parser reported at ``line:column``
    (with its ``context`` and where that was), or None when the mistake is not recognised."""
    lines = _lines(text)
    index = min(max(line - 1, 0), len(lines) - 1)
    if context == "while scanning a quoted scalar" and context_line and context_column:
        return _quote(lines, context_line, context_column)
    if context in _FLOW and context_line and context_column:
        opener, closer = _FLOW[context]
        return Hint(
            f"the '{opener}' that starts this value is never closed: add '{closer}' at the end "
            "of the value (or write its items on their own lines below, without brackets)",
            context_line,
            context_column,
        )
    if problem == "could not find expected ':'":
        start = (context_line or line) - 1
        return _no_space(lines, max(start, index - 1)) or Hint(
            "this line is neither 'key: value' nor a list item '- …': add the missing ': ' "
            "or quote the text",
            context_line or line,
            context_column or 1,
        )
    candidates = [index]
    if column == 1 and index > 0:
        candidates.append(index - 1)
    for i in candidates:
        if not _content(lines, i):
            continue
        for check in (_list_dash, _key_indent, _colon_in_value):
            hint = check(lines, i)
            if hint is not None:
                return hint
    no_space = _no_space(lines, index)
    if no_space is not None and no_space.line >= line - 1:
        return no_space
    return None
