"""A drift report as GitLab Markdown (the merge-request preview note, ``--format markdown``).

With a :class:`checker.preview.Baseline` (``drift --changed-since``), each org's drift is split
into what the merge request introduces and what already drifts on the target branch, and the
headings say which is which. Notes and details show their differing lines; an email typo is one
row. Every value from YAML or Zendesk passes through :mod:`checker.render.inert`, and the
environment is guarded as every text that goes to GitLab is (:mod:`checker.render.tracker`'s
``finalize``): an expression that did not pass an inert filter stops the rendering.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from checker.domain.models import DriftItem, DriftReport, OrgDrift, OrgStatus
from checker.domain.wording import TYPO_WORD, kind_word
from checker.render import inert
from checker.render.presentation import TypoPair, is_text_item, present, text_diff
from checker.render.tracker import Inert
from checker.render.tracker import environment as guarded_environment
from checker.report import summary
from checker.usecases.mr_preview import Baseline, resolved, split

STATUS_BADGE = {
    OrgStatus.IN_SYNC: "in sync",
    OrgStatus.DRIFTED: "**drifted**",
    OrgStatus.MISSING: "**missing in Zendesk**",
    OrgStatus.UNKNOWN: "**could not be checked**",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One table row, every cell already inert Markdown."""

    field: Inert
    difference: Inert
    file: Inert
    zendesk: Inert
    fix: Inert

    @classmethod
    def of(cls, field: str, difference: str, file: str, zendesk: str, fix: str) -> Row:
        """A row of cells composed from inert pieces (and our own words)."""
        return cls(Inert(field), Inert(difference), Inert(file), Inert(zendesk), Inert(fix))


@dataclass(frozen=True, slots=True)
class Diff:
    field: Inert
    block: Inert


@dataclass(frozen=True, slots=True)
class OrgView:
    org: OrgDrift
    #: without a baseline: every row; with one: the rows the merge request introduces
    rows: tuple[Row, ...]
    existing: tuple[Row, ...] = ()
    suppressed: tuple[Row, ...] = ()
    resolved: tuple[Inert, ...] = ()
    diffs: tuple[Diff, ...] = ()
    split: bool = False


def _value(v: object) -> Inert:
    return Inert("*(empty)*" if v is None or v == "" else inert.inline(v))


def _rows(items: Sequence[DriftItem]) -> list[Row]:
    rows = []
    for shown in present(items):
        if isinstance(shown, TypoPair):
            rows.append(
                Row.of(
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
            Row.of(
                field,
                kind_word(shown.kind.value),
                "*(lines below)*" if text else _value(shown.expected),
                "*(lines below)*" if text else _value(shown.actual),
                "change Zendesk" if shown.zendesk_should_change else "update the file",
            )
        )
    return rows


def _view(org: OrgDrift, baseline: Baseline | None) -> OrgView:
    suppressed = tuple(
        Row.of(
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
            Inert(inert.inline(i.field, table=False)),
            Inert(inert.block("\n".join(text_diff(i.expected, i.actual)))),
        )
        for i in org.items
        if is_text_item(i)
    )
    if baseline is None:
        return OrgView(org, tuple(_rows(org.items)), suppressed=suppressed, diffs=diffs)
    base = baseline.orgs.get((org.instance, org.org_id))
    introduced, existing = split(org, base)
    gone = tuple(
        Inert(
            inert.inline(i.field, table=False)
            + (" " + inert.inline(i.item, table=False) if i.item else "")
            + f": {kind_word(i.kind.value)}"
        )
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


def _inline(value: object, table: bool = True) -> Inert:
    return Inert(inert.inline(value, table=table))


@functools.cache
def _environment() -> jinja2.Environment:
    """The GitLab-Markdown environment: the tracker's guard (its ``finalize``), these filters."""
    base = guarded_environment()
    env = jinja2.Environment(
        loader=base.loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML: inert filters do the escaping  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=base.finalize,
    )
    env.filters["inline"] = _inline
    env.filters["plain"] = lambda v: Inert(inert.plain(v))
    env.filters["url"] = lambda v: Inert(inert.url(v) or "")
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
            badge={status: Inert(word) for status, word in STATUS_BADGE.items()},
            statuses=OrgStatus,
            baseline=baseline,
            introduced=sum(len(v.rows) for v in views),
            existing=sum(len(v.existing) for v in views),
        )
    )
