"""A drift report as GitLab Markdown (the merge-request preview note, ``--format markdown``).

Every value from YAML or Zendesk passes through :mod:`checker.render.inert` in the template.
"""

from __future__ import annotations

import functools

import jinja2

from checker.models import DriftReport, OrgStatus
from checker.render import inert
from checker.render.drift_text import KIND_WORD
from checker.report import summary

STATUS_BADGE = {
    OrgStatus.IN_SYNC: "in sync",
    OrgStatus.DRIFTED: "**drifted**",
    OrgStatus.MISSING: "**missing in Zendesk**",
    OrgStatus.UNKNOWN: "**could not be checked**",
}


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
    env.filters["value"] = lambda v: "*(empty)*" if v is None or v == "" else inert.inline(v)
    return env


def render(report: DriftReport, *, title: str = "Zendesk drift preview") -> str:
    return (
        _environment()
        .get_template("drift_report.md.j2")
        .render(
            title=title,
            report=report,
            summary=summary(report),
            badge=STATUS_BADGE,
            kind_word=KIND_WORD,
            statuses=OrgStatus,
        )
    )
