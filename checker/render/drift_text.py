"""A drift report as a readable table for terminals and CI logs.

On a terminal (``width`` given) the table fits the width: the widest columns wrap (values are
cut after a few lines), the status never does, and the reason an org could not be checked is
wrapped in full, never cut. Without a width (CI logs, files) every row is one plain line with
the org on it, so ``grep`` finds an org's rows. Either way drifted, missing and unknown orgs are
listed and in-sync ones only counted (``show_all`` lists them too), notes and details show their
differing lines below the table, and the last line is the summary.

Values come from YAML and Zendesk: control characters (terminal escape sequences among them)
are shown as visible escapes, never sent to the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from checker.domain.models import DriftItem, DriftReport, OrgDrift, OrgStatus, Scalar
from checker.domain.wording import TYPO_WORD, kind_word
from checker.render.presentation import (
    DIFF_LEGEND,
    TypoPair,
    is_text_item,
    present,
    text_diff,
)
from checker.report import summary

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
STATUS_WORD = {
    OrgStatus.IN_SYNC: "in sync",
    OrgStatus.DRIFTED: "DRIFTED",
    OrgStatus.MISSING: "MISSING",
    OrgStatus.UNKNOWN: "UNKNOWN",
}
HEAD = ("ORG", "STATUS", "FIELD", "DIFFERENCE", "FILE", "ZENDESK", "FIX")
#: on a terminal: widths FIELD…FIX shrink to first, and the narrowest they are squeezed to
#: (at 80 columns every column still fits at these)
_SOFT_MIN = (24, 12, 18, 18, 14)
_HARD_MIN = (16, 10, 12, 12, 10)
#: wider than this a cell wraps even on a wide terminal
_MAX = (28, 22, 40, 40, 26)
_STATUS_WIDTH = max(len(w) for w in ("DRIFTED", "MISSING", "UNKNOWN", "in sync", "STATUS"))
_GAP = 2
#: a value cell wraps to at most this many lines, then ends in "…"
_VALUE_LINES = 4
_DIFF_NOTE = "(see below)"


def cell(value: Scalar, width: int | None = None) -> str:
    """One line of outside text, controls escaped; cut to ``width`` when one is given."""
    if value is None:
        return "(empty)"
    text = str(value)
    text = text.replace("\n", "⏎")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def fix_word(item: DriftItem) -> str:
    return "change Zendesk" if item.zendesk_should_change else "update the file"


@dataclass(frozen=True, slots=True)
class _Row:
    cells: tuple[str, ...]
    #: for missing and unknown orgs: text spanning FIELD…FIX, never cut
    span: str | None = None
    #: the first row of its org (on a terminal, the org's own line comes before it)
    first: bool = True
    #: the org's status word, for the org's line
    status: str = ""


def _label(org: OrgDrift) -> str:
    return f"{cell(org.name)} ({org.org_id})"


def _item_cells(item: DriftItem, status: str) -> tuple[str, ...]:
    field = item.field
    if item.item and item.kind.value == "contact_name_differs":
        field += f" {cell(item.item)}"
    if is_text_item(item):
        expected = actual = _DIFF_NOTE
    else:
        expected, actual = cell(item.expected), cell(item.actual)
    if item.suppressed_until is not None:
        fix = f"accepted until {item.suppressed_until}"
    else:
        fix = fix_word(item)
    return (status, field, kind_word(item.kind.value), expected, actual, fix)


def _org_rows(org: OrgDrift) -> list[_Row]:
    label = _label(org)
    status = STATUS_WORD[org.status]
    if org.status is OrgStatus.UNKNOWN:
        reason = f"could not be checked: {cell(org.error or 'no reason recorded')}"
        return [_Row((label, status, "", "", "", "", ""), span=reason, status=status)]
    if org.status is OrgStatus.MISSING:
        reason = f"Zendesk has no such org: {cell(org.error or 'not found')}"
        return [_Row((label, status, "", "", "", "", ""), span=reason, status=status)]
    rows: list[_Row] = []
    for shown in present(org.items):
        cells: tuple[str, ...]
        if isinstance(shown, TypoPair):
            cells = (
                status,
                shown.field,
                TYPO_WORD,
                cell(shown.in_file),
                cell(shown.in_zendesk),
                "fix the file or Zendesk",
            )
        else:
            cells = _item_cells(shown, status)
        rows.append(_Row((label, *cells), first=not rows, status=status))
    for item in org.suppressed:
        cells = _item_cells(item, "suppressed")
        rows.append(_Row((label, *cells), first=not rows, status=status))
    if not rows:
        rows.append(_Row((label, status, "", "", "", "", ""), status=status))
    return rows


def _listed(report: DriftReport, show_all: bool) -> list[OrgDrift]:
    return [o for o in report.orgs if show_all or o.status is not OrgStatus.IN_SYNC]


# --------------------------------------------------------------------------- layout


def _plain(rows: Sequence[_Row]) -> list[str]:
    """One line per row, columns padded to their widest cell, every row naming its org."""
    widths = [len(h) for h in HEAD]
    for r in rows:
        last = 2 if r.span is not None else len(HEAD)
        for i in range(last):
            widths[i] = max(widths[i], len(r.cells[i]))
    lines = []
    for r in [_Row(HEAD), *rows]:
        if r.span is not None:
            parts = [c.ljust(widths[i]) for i, c in enumerate(r.cells[:2])] + [r.span]
        else:
            parts = [c.ljust(widths[i]) for i, c in enumerate(r.cells)]
        lines.append((" " * _GAP).join(parts).rstrip())
    return lines


def _fit(natural: list[int], width: int) -> list[int]:
    """Column widths (FIELD…FIX) that fit ``width`` beside the status column: the widest
    column gives up one character at a time, first down to a comfortable width, then to the
    narrowest readable one."""
    widths = list(natural)
    budget = width - _STATUS_WIDTH - _GAP * len(widths)
    for floor in (_SOFT_MIN, _HARD_MIN):
        while sum(widths) > budget:
            shrinkable = [i for i in range(len(widths)) if widths[i] > floor[i]]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: (widths[i] - floor[i], -i))
            widths[widest] -= 1
    return widths


_BREAK_AFTER = "@._-/,;"


def _split_word(word: str, width: int) -> list[str]:
    """A word longer than ``width`` in pieces, broken after ``@ . _ - /`` where one is near."""
    pieces: list[str] = []
    while len(word) > width:
        cut = max((word.rfind(c, 0, width) for c in _BREAK_AFTER), default=-1) + 1
        if cut < width // 2:
            cut = width
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word] if word else pieces


def _wrap(text: str, width: int, max_lines: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width``: at spaces, long words at punctuation."""
    width = max(width, 1)
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        for piece in _split_word(word, width) if len(word) > width else [word]:
            if not current:
                current = piece
            elif len(current) + 1 + len(piece) <= width:
                current += " " + piece
            else:
                lines.append(current)
                current = piece
    lines.append(current)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines


def _terminal(rows: Sequence[_Row], width: int) -> list[str]:
    """Each org is a line of its own (status, name and id, and why it could not be checked,
    never cut), its items are rows of the table under it."""
    items = [r.cells[2:] for r in rows if r.span is None and any(r.cells[2:])]
    natural = [
        min(_MAX[i], max([len(h), *(len(c[i]) for c in items)])) for i, h in enumerate(HEAD[2:])
    ]
    widths = _fit(natural, width)
    span = max(width - _STATUS_WIDTH - _GAP, 20)
    head = ["STATUS".ljust(_STATUS_WIDTH), *(h.ljust(widths[i]) for i, h in enumerate(HEAD[2:]))]
    out = [(" " * _GAP).join(head).rstrip()]
    for r in rows:
        if r.first:
            text = r.cells[0] + (f": {r.span}" if r.span else "")
            for n, line in enumerate(_wrap(text, span)):
                status = r.status if n == 0 else ""
                out.append(f"{status.ljust(_STATUS_WIDTH)}{' ' * _GAP}{line}".rstrip())
        if r.span is not None or not any(r.cells[2:]):
            continue
        columns = [[""]] + [
            _wrap(c, widths[i], _VALUE_LINES if i in (2, 3) else None)
            for i, c in enumerate(r.cells[2:])
        ]
        col_widths = [_STATUS_WIDTH, *widths]
        for n in range(max(len(c) for c in columns)):
            parts = [
                (c[n] if n < len(c) else "").ljust(col_widths[i]) for i, c in enumerate(columns)
            ]
            out.append((" " * _GAP).join(parts).rstrip())
    return out


# --------------------------------------------------------------------------- the report


def _diffs(orgs: Sequence[OrgDrift], width: int | None) -> list[str]:
    out: list[str] = []
    for org in orgs:
        for item in (*org.items, *org.suppressed):
            if not is_text_item(item):
                continue
            head = f"{item.field} of {_label(org)} ({DIFF_LEGEND}):"
            out.extend(_wrap(head, width) if width else [head])
            for line in text_diff(item.expected, item.actual):
                out.extend(_hard_wrap("    " + cell(line), width))
    return out


def _hard_wrap(line: str, width: int | None) -> list[str]:
    """A diff line split at the width, continued with a deeper indent (its spaces matter)."""
    if width is None or len(line) <= width or width < 20:
        return [line]
    out = [line[:width]]
    rest = line[width:]
    while rest:
        out.append("      " + rest[: width - 6])
        rest = rest[width - 6 :]
    return out


def render(report: DriftReport, *, width: int | None = None, show_all: bool = False) -> str:
    """The report as text: a table fitted to ``width`` (a terminal), or plain lines (None)."""
    listed = _listed(report, show_all)
    rows = [r for org in listed for r in _org_rows(org)]
    lines: list[str] = []
    if rows:
        lines += _terminal(rows, width) if width else _plain(rows)
    diffs = _diffs(listed, width)
    if diffs:
        lines += ["", *diffs]
    infos = [(o, i) for o in listed for i in o.info]
    if infos:
        lines += ["", "Information (not drift):"]
        for org, info in infos:
            if info.expected is None:  # something Zendesk has that the file does not manage
                what = f"{cell(info.actual)}: {cell(info.message, 100)}"
                text = f"{_label(org)}: {info.field}: {what}"
            else:
                text = (
                    f"{_label(org)}: {info.field}: file says {cell(info.expected)}, "
                    f"Zendesk says {cell(info.actual)}"
                )
            lines += ["  " + x for x in (_wrap(text, width - 2) if width else [text])]
    hidden = len(report.orgs) - len(listed)
    if hidden:
        lines += [
            "",
            f"{hidden} org{'s' if hidden != 1 else ''} in sync, not listed (--all lists them).",
        ]
    body = "\n".join(lines)
    last = summary_line(report)
    if width:
        last = "\n".join(_wrap(last, width))
    return (body + "\n\n" if body else "") + last + "\n"


def summary_line(report: DriftReport) -> str:
    s = summary(report)
    requests = report.zendesk_requests
    source = (
        "snapshot"
        if report.source == "snapshot"
        else f"{requests} Zendesk request{'s' if requests != 1 else ''}"
    )
    shard = f", shard {report.shard}" if report.shard else ""
    return (
        f"{s['total']} org{'s' if s['total'] != 1 else ''} checked{shard}: "
        f"{s['in_sync']} in sync, {s['drifted']} drifted, "
        f"{s['missing']} missing, {s['unknown']} could not be checked; "
        f"{s['suppressed_items']} suppressed item{'s' if s['suppressed_items'] != 1 else ''}; "
        f"{source}"
    )
