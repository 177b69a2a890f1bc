"""A drift report as GitLab Markdown (the merge-request preview note, ``--format markdown``).

With a :class:`checker.preview.Baseline` (``drift --changed-since``), each org's drift is split
into what the merge request introduces and what already drifts on the target branch, and the
headings say which is which. Notes and details show their differing lines; an email typo is one
row. Every value from YAML or Zendesk passes through :mod:`checker.render.inert`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from checker.domain.models import DriftItem, DriftReport, OrgDrift, OrgStatus
from checker.preview import Baseline, resolved, split
from checker.render import inert
from checker.render.drift_text import TYPO_WORD, kind_word
from checker.render.presentation import TypoPair, is_text_item, present, text_diff
from checker.report import summary

STATUS_BADGE = {
    OrgStatus.IN_SYNC: "in sync",
    OrgStatus.DRIFTED: "**drifted**",
    OrgStatus.MISSING: "**missing in Zendesk**",
    OrgStatus.UNKNOWN: "**could not be checked**",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One table row, every cell already inert Markdown."""

    field: str
    difference: str
    file: str
    zendesk: str
    fix: str


@dataclass(frozen=True, slots=True)
class Diff:
    field: str
    block: str


@dataclass(frozen=True, slots=True)
class OrgView:
    org: OrgDrift
    #: without a baseline: every row; with one: the rows the merge request introduces
    rows: tuple[Row, ...]
    existing: tuple[Row, ...] = ()
    suppressed: tuple[Row, ...] = ()
    resolved: tuple[str, ...] = ()
    diffs: tuple[Diff, ...] = ()
    split: bool = False


def _value(v: object) -> str:
    return "*(empty)*" if v is None or v == "" else inert.inline(v)


def _rows(items: Sequence[DriftItem]) -> list[Row]:
    rows = []
    for shown in present(items):
        if isinstance(shown, TypoPair):
            rows.append(
                Row(
                    inert.inline(shown.field),
                    TYPO_WORD,
                    inert.inline(shown.in_file),
                    inert.inline(shown.in_zendesk),
                    "fix the file or Zendesk",
                )
            )
            continue
        field = inert.inline(shown.field)
        if shown.kind.value == "contact_name_differs" and shown.item:
            field += " " + inert.inline(shown.item)
        text = is_text_item(shown)
        rows.append(
            Row(
                field,
                kind_word(shown.kind.value),
                "*(lines below)*" if text else _value(shown.expected),
                "*(lines below)*" if text else _value(shown.actual),
                "change Zendesk" if shown.truth == "repo" else "update the file",
            )
        )
    return rows


def _view(org: OrgDrift, baseline: Baseline | None) -> OrgView:
    suppressed = tuple(
        Row(
            inert.inline(i.field),
            f"{kind_word(i.kind.value)} (suppressed until {inert.inline(i.suppressed_until)})",
            _value(i.expected),
            _value(i.actual),
            f"accepted: {inert.inline(i.suppressed_by)}",
        )
        for i in org.suppressed
    )
    diffs = tuple(
        Diff(
            inert.inline(i.field, table=False),
            inert.block("\n".join(text_diff(i.expected, i.actual))),
        )
        for i in org.items
        if is_text_item(i)
    )
    if baseline is None:
        return OrgView(org, tuple(_rows(org.items)), suppressed=suppressed, diffs=diffs)
    base = baseline.orgs.get((org.instance, org.org_id))
    introduced, existing = split(org, base)
    gone = tuple(
        inert.inline(i.field, table=False)
        + (" " + inert.inline(i.item, table=False) if i.item else "")
        + f": {kind_word(i.kind.value)}"
        for i in resolved(org, base)
    )
    return OrgView(
        org,
        tuple(_rows(introduced)),
        tuple(_rows(existing)),
        suppressed,
        gone,
        diffs,
        split=True,
    )


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("checker", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML: inert filters do the escaping  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline"] = inert.inline
    env.filters["plain"] = inert.plain
    env.filters["url"] = inert.url
    env.filters["value"] = _value
    return env


def render(
    report: DriftReport,
    *,
    title: str = "Zendesk drift preview",
    baseline: Baseline | None = None,
) -> str:
    views = [_view(o, baseline) for o in report.orgs]
    return (
        _environment()
        .get_template("drift_report.md.j2")
        .render(
            title=title,
            report=report,
            views=views,
            summary=summary(report),
            badge=STATUS_BADGE,
            statuses=OrgStatus,
            baseline=baseline,
            introduced=sum(len(v.rows) for v in views),
            existing=sum(len(v.existing) for v in views),
        )
    )
