"""A run's drift as one self-contained HTML page: styles, script, data and charts inline.

Safe by construction:

* The data is one JSON document in a ``<script type="application/json">`` element, escaped for
  that context (``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX``), so no value can end the
  element. The page's script puts values on the page only as text (``textContent``).
* Values have their control and bidirectional-override characters replaced by visible marks
  (``⟨U+202E⟩``) before they are embedded, so a name cannot reorder the text around it.
* Server-rendered parts (counts, charts, the field × instance table) are jinja2 with
  autoescaping; they hold numbers, and field and instance names.
* A Content-Security-Policy meta tag allows only this page's own script and style (by their
  SHA-256 hashes) and nothing else: no connections, images, fonts, frames or forms.
* Links are built only from the settings' URLs (instance URLs, the repository URL) and ids
  (org ids, issue and merge request iids), never from report data; an org file path is linked
  only when it is a plain relative ``.yaml`` path, percent-encoded segment by segment.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from checker.domain.models import TEXT_FIELDS, DriftItem, DriftReport, OrgDrift, OrgStatus, Scalar
from checker.domain.settings import Settings
from checker.domain.wording import KIND_WORDS
from checker.reconcile.markers import OrgKey
from checker.render import inert
from checker.report import summary
from checker.usecases.report import Fleet, RunPoint, Tracked

#: C0/C1 controls (but tab and newline), line/paragraph separators, bidi embeddings, overrides,
#: isolates and marks, zero-width and BOM characters: shown as a visible mark instead
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_SAFE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)*\.ya?ml")
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}

STATUS_WORD = {
    OrgStatus.DRIFTED: "drifted",
    OrgStatus.MISSING: "missing in Zendesk",
    OrgStatus.UNKNOWN: "could not be checked",
    OrgStatus.IN_SYNC: "in sync",
}
KIND_WORD = {kind.value: words.label for kind, words in KIND_WORDS.items()}


@dataclass(frozen=True, slots=True)
class PageLinks:
    """Where links point, from the settings: every base is an http(s) URL or None."""

    #: the repository's web URL (``gitlab.repository_url`` or ``CI_PROJECT_URL``)
    repository_url: str | None = None
    #: the branch org files are linked on (``CI_DEFAULT_BRANCH``; GitLab resolves ``HEAD``)
    ref: str = "HEAD"
    #: instance name → the instance's base URL
    zendesk: Mapping[str, str] | None = None
    #: the label that marks the checker's issues (``gitlab.labels[0]``), for "find the issue"
    label: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> PageLinks:
        """The settings' URLs; the repository falls back to ``CI_PROJECT_URL`` as in reconcile."""
        repository = settings.gitlab.repository_url or environ.get("CI_PROJECT_URL") or None
        return cls(
            repository_url=repository,
            ref=environ.get("CI_DEFAULT_BRANCH") or "HEAD",
            zendesk={name: inst.url for name, inst in settings.instances.items()},
            label=settings.gitlab.labels[0] if settings.gitlab.labels else None,
        )

    def repository(self) -> str | None:
        """The repository's web URL when it is an http(s) URL, without a trailing slash."""
        repo = inert.url(self.repository_url) if self.repository_url else None
        return repo.rstrip("/") if repo else None

    def bases(self) -> dict[str, Any]:
        repo = self.repository()
        zendesk = {}
        for name, url in (self.zendesk or {}).items():
            safe = inert.url(url)
            if safe:
                zendesk[name] = f"{safe.rstrip('/')}/agent/organizations/"
        ref = "/".join(quote(part, safe="") for part in self.ref.split("/"))
        search = None
        if repo and self.label:
            label = quote(self.label, safe="")
            search = f"{repo}/-/issues?state=all&label_name%5B%5D={label}&search="
        return {
            "file": f"{repo}/-/blob/{ref}/" if repo else None,
            "search": search,
            "issue": f"{repo}/-/issues/" if repo else None,
            "mr": f"{repo}/-/merge_requests/" if repo else None,
            "zendesk": zendesk,
        }


def shown(value: Scalar) -> str | None:
    """A value as the page shows it: text, invisible characters made visible; None stays."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return _INVISIBLE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


def _shown_str(value: Scalar) -> str:
    return shown(value) or ""


def html_json(doc: Any) -> str:
    """JSON that cannot end a ``<script>`` element or break a JavaScript string."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text)


def csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


# --------------------------------------------------------------------------- page data


def _diff(item: DriftItem) -> list[list[str]] | None:
    if item.field not in TEXT_FIELDS:
        return None
    before = _shown_str(item.expected).splitlines()
    after = _shown_str(item.actual).splitlines()
    lines: list[list[str]] = []
    for line in difflib.unified_diff(before, after, lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        op = line[:1] if line[:1] in "-+@" else " "
        lines.append([op, line[1:] if op != "@" else "…"])
    return lines


def _item(item: DriftItem, since: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "f": _shown_str(item.field),
        "k": item.kind.value,
        "it": shown(item.item),
        "e": shown(item.expected),
        "a": shown(item.actual),
        "t": item.truth,
    }
    diff = _diff(item)
    if diff is not None:
        out["d"] = diff
    if since:
        out["since"] = since
    if item.suppressed_until:
        out["until"] = item.suppressed_until
        out["why"] = shown(item.suppressed_by)
    return out


def _tracked(t: Tracked | None, repository_url: str | None) -> list[Any] | None:
    """[iid, verb, linkable]: linkable only when the plan's project is the repository's."""
    if t is None:
        return None
    ours = repository_url is not None and (
        t.project_url is None or t.project_url.rstrip("/") == repository_url.rstrip("/")
    )
    return [t.iid, t.verb, ours]


def _org(fleet: Fleet, org: OrgDrift, repo: str | None) -> dict[str, Any]:
    key: OrgKey = (org.instance, org.org_id)
    fields = sorted({_shown_str(i.field) for i in org.items})
    emails = sorted(
        {
            v.lower()
            for i in (*org.items, *org.suppressed)
            for v in (i.item, i.expected, i.actual)
            if isinstance(v, str) and "@" in v and "\n" not in v
        }
    )
    out: dict[str, Any] = {
        "n": _shown_str(org.name),
        "i": _shown_str(org.instance),
        "id": org.org_id,
        "c": shown(org.csm),
        "s": org.status.value,
        "fs": fields,
        "ks": sorted({(_shown_str(i.field), i.kind.value) for i in org.items}),
    }
    if emails:
        out["em"] = [_shown_str(e) for e in emails]
    if _SAFE_PATH.fullmatch(org.file) and ".." not in org.file.split("/"):
        out["p"] = org.file
    elif org.file:
        out["pt"] = _shown_str(org.file)  # shown as text, never linked
    tracking = fleet.tracking.get(key)
    if tracking is not None:
        issue = _tracked(tracking.issue, repo)
        mr = _tracked(tracking.merge_request, repo)
        if issue:
            out["is"] = issue
        if mr:
            out["mr"] = mr
    if org.error:
        out["err"] = shown(org.error)
    if key in fleet.org_since:
        out["since"] = fleet.org_since[key]
    if org.items:
        out["it"] = [_item(i, fleet.item_since.get((key, n))) for n, i in enumerate(org.items)]
    if org.suppressed:
        out["sup"] = [_item(i, None) for i in org.suppressed]
    if org.info:
        out["info"] = [[_shown_str(i.field), shown(i.expected), shown(i.actual)] for i in org.info]
    return out


def page_data(fleet: Fleet, links: PageLinks) -> dict[str, Any]:
    repo = links.repository()
    report = fleet.report
    return {
        "links": links.bases(),
        "status": {s.value: w for s, w in STATUS_WORD.items()},
        "kinds": KIND_WORD,
        "history": fleet.has_history,
        "orgs": [_org(fleet, o, repo) for o in _ordered(report)],
    }


def _ordered(report: DriftReport) -> list[OrgDrift]:
    rank = {OrgStatus.DRIFTED: 0, OrgStatus.MISSING: 1, OrgStatus.UNKNOWN: 2, OrgStatus.IN_SYNC: 3}
    return sorted(report.orgs, key=lambda o: (rank[o.status], o.name.lower(), o.org_id))


# --------------------------------------------------------------------------- server-side parts


def field_matrix(report: DriftReport) -> tuple[list[str], list[tuple[str, list[int], int]]]:
    """(instances, [(field, orgs drifting on it per instance, total)]), most drifting first."""
    instances = sorted({o.instance for o in report.orgs})
    counts: dict[str, dict[str, int]] = {}
    for org in report.orgs:
        for name in {i.field for i in org.items}:
            row = counts.setdefault(name, {})
            row[org.instance] = row.get(org.instance, 0) + 1
    rows = [
        (name, [row.get(i, 0) for i in instances], sum(row.values()))
        for name, row in counts.items()
    ]
    rows.sort(key=lambda r: (-r[2], r[0]))
    return instances, rows


def status_bar(report: DriftReport) -> list[dict[str, Any]]:
    """Segments of the proportional bar: status, count, x and width in a 1000-wide box."""
    total = len(report.orgs) or 1
    x = 0.0
    out = []
    for status in (OrgStatus.DRIFTED, OrgStatus.MISSING, OrgStatus.UNKNOWN, OrgStatus.IN_SYNC):
        n = report.count(status)
        width = 1000 * n / total
        out.append(
            {
                "status": status.value,
                "word": STATUS_WORD[status],
                "count": n,
                "percent": f"{100 * n / total:.1f}",
                "x": f"{x:.2f}",
                "width": f"{width:.2f}",
            }
        )
        x += width
    return out


def trend_chart(points: tuple[RunPoint, ...]) -> dict[str, Any]:
    """Polylines of drifted / missing / unknown over the runs, in a 600 × 160 box."""
    width, height, left, bottom, top = 600, 160, 40, 24, 10
    top_value = max([1, *(max(p.drifted, p.missing, p.unknown) for p in points)])
    step = (width - left - 10) / max(1, len(points) - 1)

    def xy(n: int, value: int) -> str:
        x = left + n * step
        y = height - bottom - (height - bottom - top) * value / top_value
        return f"{x:.1f},{y:.1f}"

    series = []
    for name in ("drifted", "missing", "unknown"):
        values = [getattr(p, name) for p in points]
        series.append(
            {
                "name": name,
                "points": " ".join(xy(n, v) for n, v in enumerate(values)),
                "dots": [
                    {"xy": xy(n, v).split(","), "value": v, "label": p.label}
                    for n, (p, v) in enumerate(zip(points, values, strict=True))
                ],
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "axis_y": height - bottom,
        "top_value": top_value,
        "top_y": top,
        "series": series,
        "first": points[0].label if points else "",
        "last": points[-1].label if points else "",
    }


# --------------------------------------------------------------------------- the page


@functools.cache
def _asset(name: str) -> str:
    return resources.files("checker").joinpath("templates", name).read_text(encoding="utf-8")


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("checker", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(fleet: Fleet, links: PageLinks, *, title: str = "Zendesk drift report") -> str:
    report = fleet.report
    style = _asset("drift_report.css")
    script = _asset("drift_report.js")
    csp = (
        "default-src 'none'; "
        f"script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "img-src 'none'; font-src 'none'; connect-src 'none'; media-src 'none'; "
        "object-src 'none'; frame-src 'none'; worker-src 'none'; manifest-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    instances, matrix = field_matrix(report)
    return (
        _environment()
        .get_template("drift_report.html.j2")
        .render(
            title=title,
            csp=csp,
            style=Markup(style),  # noqa: S704 - our own file, shipped in the package
            script=Markup(script),  # noqa: S704 - our own file, shipped in the package
            data=Markup(html_json(page_data(fleet, links))),  # noqa: S704 - escaped above
            run=report,
            summary=summary(report),
            instances=[_shown_str(i) for i in instances],
            matrix=[(_shown_str(f), cells, total) for f, cells, total in matrix],
            bar=status_bar(report),
            trend=trend_chart(fleet.trend) if fleet.has_history else None,
            trend_points=fleet.trend,
            redacted=fleet.redacted,
            sources=fleet.sources,
        )
    )
