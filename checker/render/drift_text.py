"""A drift report as a readable table for terminals and CI logs.

Values come from YAML and Zendesk: control characters (terminal escape sequences among them)
are shown as visible escapes, never sent to the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from checker.models import DriftItem, DriftReport, OrgDrift, OrgStatus, Scalar
from checker.report import summary

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
STATUS_WORD = {
    OrgStatus.IN_SYNC: "in sync",
    OrgStatus.DRIFTED: "DRIFTED",
    OrgStatus.MISSING: "MISSING",
    OrgStatus.UNKNOWN: "UNKNOWN",
}
KIND_WORD = {
    "changed": "changed",
    "missing_in_zendesk": "missing in Zendesk",
    "unexpected_in_zendesk": "unexpected in Zendesk",
    "contact_name_differs": "contact name differs",
    "contact_suspended": "contact suspended in Zendesk",
}


def cell(value: Scalar, width: int = 40) -> str:
    if value is None:
        return "(empty)"
    text = str(value)
    text = text.replace("\n", "⏎")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= width else text[: width - 1] + "…"


def fix_word(item: DriftItem) -> str:
    return "change Zendesk" if item.truth == "repo" else "update the file"


def _rows(org: OrgDrift) -> list[list[str]]:
    label = f"{cell(org.name, 30)} ({org.org_id})"
    status = STATUS_WORD[org.status]
    if org.status in (OrgStatus.UNKNOWN, OrgStatus.MISSING):
        return [[label, status, "-", "-", "-", cell(org.error, 60), "-"]]
    rows = []
    for item in org.items:
        rows.append(
            [
                label,
                status,
                item.field,
                KIND_WORD[item.kind.value],
                cell(item.expected),
                cell(item.actual),
                fix_word(item),
            ]
        )
    for item in org.suppressed:
        rows.append(
            [
                label,
                "suppressed",
                item.field,
                KIND_WORD[item.kind.value],
                cell(item.expected),
                cell(item.actual),
                f"until {item.suppressed_until}",
            ]
        )
    if not rows:
        rows.append([label, status, "", "", "", "", ""])
    return rows


def table(rows: Sequence[Sequence[str]]) -> str:
    head = ["ORG", "STATUS", "FIELD", "KIND", "EXPECTED", "ACTUAL", "FIX"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = []
    for r in [head, *rows]:
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    return "\n".join(lines) + "\n"


def render(report: DriftReport, *, show_in_sync: bool = True) -> str:
    rows: list[list[str]] = []
    for org in report.orgs:
        if org.status is OrgStatus.IN_SYNC and not org.suppressed and not show_in_sync:
            continue
        rows.extend(_rows(org))
    out = table(rows) if rows else ""
    infos = [(o, i) for o in report.orgs for i in o.info]
    if infos:
        out += "\nInformation (not drift):\n"
        for org, info in infos:
            if info.expected is None:  # something Zendesk has that the file does not manage
                out += (
                    f"  {cell(org.name, 30)} ({org.org_id}): {info.field}: "
                    f"{cell(info.actual)}: {cell(info.message, 100)}\n"
                )
                continue
            out += (
                f"  {cell(org.name, 30)} ({org.org_id}): {info.field}: file says "
                f"{cell(info.expected)}, Zendesk says {cell(info.actual)}\n"
            )
    return out + "\n" + summary_line(report) + "\n"


def summary_line(report: DriftReport) -> str:
    s = summary(report)
    source = (
        "snapshot" if report.source == "snapshot" else f"{report.zendesk_requests} Zendesk requests"
    )
    shard = f", shard {report.shard}" if report.shard else ""
    return (
        f"{s['total']} orgs checked{shard}: {s['in_sync']} in sync, {s['drifted']} drifted, "
        f"{s['missing']} missing, {s['unknown']} could not be checked; "
        f"{s['suppressed_items']} suppressed items; {source}"
    )
