"""``checker report``: the drift reports of one run → one merged :class:`Fleet` to render.

The shard reports are read and checked as one set by the same code as reconcile
(:func:`checker.reportset.read` and :func:`checker.reportset.combine`): each report holds
together, every shard present, no org twice, one schema version and one set of settings. What
only acting on them needs (the settings and org files as they are now) stays with reconcile.
This module adds what only a report page needs:

* the reconcile plan (``--plan``): which org has which issue and merge request (their iids);
* history (``--history DIR``): earlier runs' reports, for the trend and "drifting since";
* redaction (``--redact-contacts``): contact emails become a stable hash, contact names go.

Nothing here touches the network; bad history files are skipped with a warning, because a
page without a trend is better than no page.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from checker.domain.models import DriftItem, DriftKind, DriftReport, InfoItem, OrgStatus
from checker.reconcile import reportset
from checker.reconcile.markers import OrgKey, item_fingerprint, parse_key

#: statuses that count as "not in sync" for "drifting since"
_DRIFTING = (OrgStatus.DRIFTED, OrgStatus.MISSING)
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'!#$&*=?^`{|}~-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_IID_RE = re.compile(r"^(?P<project>https?://.+?)/-/(?P<kind>issues|merge_requests)/(?P<iid>\d+)$")
NAME_HIDDEN = "(name hidden)"


class FleetInputError(Exception):
    """The reports (or the plan) cannot be used: the one-line reason, naming the file."""


@dataclass(frozen=True, slots=True)
class Tracked:
    """An issue or merge request the reconcile plan touched for an org."""

    iid: int
    #: the project's web URL as the plan states it (links are built only when it is ours)
    project_url: str | None
    #: what reconcile did: create, update, comment, close, reopen
    verb: str


@dataclass(frozen=True, slots=True)
class Tracking:
    issue: Tracked | None = None
    merge_request: Tracked | None = None


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One run of the history (or the current run): its date and counts by status."""

    generated_at: str
    checked_on: str
    drifted: int
    missing: int
    unknown: int
    in_sync: int

    @property
    def label(self) -> str:
        return self.checked_on or self.generated_at[:10]


@dataclass(frozen=True, slots=True)
class Fleet:
    """One run, merged from its shard reports, with what the page adds around it."""

    report: DriftReport
    #: the report files it was read from (for the page's footer)
    sources: tuple[str, ...]
    #: earlier runs then this one, oldest first (just this one without --history)
    trend: tuple[RunPoint, ...]
    #: (org, index in its items) → the first run (date) of the streak in which it drifts
    item_since: Mapping[tuple[OrgKey, int], str] = field(default_factory=dict)
    #: org → the first run (date) of the streak in which it is drifted or missing
    org_since: Mapping[OrgKey, str] = field(default_factory=dict)
    tracking: Mapping[OrgKey, Tracking] = field(default_factory=dict)
    redacted: bool = False
    has_history: bool = False


# --------------------------------------------------------------------------- one run


def merge(reports: Sequence[DriftReport], names: Sequence[str]) -> DriftReport:
    """The shard reports of one run as one report, through :func:`checker.reportset.combine`."""
    try:
        combined = reportset.combine(reports, names)
    except reportset.ReportSetError as e:
        raise FleetInputError(str(e)) from None
    sources = {r.source for r in reports}
    return DriftReport(
        orgs=tuple(sorted(combined.orgs.values(), key=lambda o: (o.instance, o.org_id))),
        zendesk_requests=sum(r.zendesk_requests for r in reports),
        zendesk_rate_limited=sum(r.zendesk_rate_limited for r in reports),
        # a run is only as live as its least live shard
        source="live" if sources == {"live"} else "snapshot",
        scope="full" if combined.complete else "partial",
        shard=None,
        generated_at=max((r.generated_at for r in reports), default=""),
        checked_on=combined.checked_on,
    )


def load_run(paths: Sequence[Path]) -> DriftReport:
    """Read one run's shard reports (reconcile's checks) and merge them."""
    try:
        # shown, not acted on: a report of an earlier checker version without a fingerprint
        # is still a true picture of its run
        reports = reportset.read(list(paths), need_fingerprint=False)
    except reportset.ReportSetError as e:
        raise FleetInputError(str(e)) from None
    return merge(reports, [str(p) for p in paths])


# --------------------------------------------------------------------------- the plan


def load_plan(path: Path) -> dict[OrgKey, Tracking]:
    """The issues and merge requests named in ``checker reconcile --plan-output``'s JSON."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FleetInputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (ValueError, RecursionError):
        raise FleetInputError(f"{path}: not a reconcile plan (not JSON)") from None
    actions = doc.get("actions") if isinstance(doc, dict) else None
    if not isinstance(actions, list):
        raise FleetInputError(f"{path}: not a reconcile plan (no list of actions)")
    found: dict[OrgKey, dict[str, Tracked]] = {}
    for action in actions:
        if not isinstance(action, dict) or action.get("status") not in ("done", None):
            continue  # failed, skipped and dry-run actions changed nothing in GitLab
        tracked = _tracked(action)
        key = parse_key(str(action.get("org", "")))
        if tracked is not None and key is not None:
            found.setdefault(key, {})[str(action["target"])] = tracked
    return {
        key: Tracking(issue=t.get("issue"), merge_request=t.get("merge-request"))
        for key, t in found.items()
    }


def _tracked(action: Mapping[str, Any]) -> Tracked | None:
    target = action.get("target")
    if target not in ("issue", "merge-request"):
        return None
    iid = action.get("iid")
    project: str | None = None
    url = action.get("url")
    if isinstance(url, str):
        m = _IID_RE.match(url)
        want = "issues" if target == "issue" else "merge_requests"
        if m is not None and m.group("kind") == want:
            project = m.group("project")
            iid = iid if isinstance(iid, int) else int(m.group("iid"))
    if not isinstance(iid, int) or isinstance(iid, bool) or iid <= 0:
        return None
    return Tracked(iid=iid, project_url=project, verb=str(action.get("verb", "")))


# --------------------------------------------------------------------------- history


def load_history(
    folder: Path, current: DriftReport, warn: Callable[[str], None]
) -> list[DriftReport]:
    """Earlier runs, oldest first: each ``*.json`` in ``folder`` is one run's (merged or full)
    report, each subfolder one run's shard reports. Unusable entries are skipped with a warning;
    runs not older than ``current`` are left out (the current run is not its own history)."""
    if not folder.is_dir():
        raise FleetInputError(f"{folder}: --history must be a folder of earlier runs' reports")
    runs: list[DriftReport] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            paths = sorted(entry.glob("*.json"))
        elif entry.suffix == ".json":
            paths = [entry]
        else:
            continue
        if not paths:
            continue
        try:
            run = load_run(paths)
        except FleetInputError as e:
            warn(f"{entry}: skipped in the history: {e}")
            continue
        if run.generated_at and current.generated_at and run.generated_at >= current.generated_at:
            continue
        runs.append(run)
    runs.sort(key=lambda r: r.generated_at)
    return runs


def point(report: DriftReport) -> RunPoint:
    return RunPoint(
        generated_at=report.generated_at,
        checked_on=report.checked_on,
        drifted=report.count(OrgStatus.DRIFTED),
        missing=report.count(OrgStatus.MISSING),
        unknown=report.count(OrgStatus.UNKNOWN),
        in_sync=report.count(OrgStatus.IN_SYNC),
    )


def since(
    current: DriftReport, history: Sequence[DriftReport]
) -> tuple[dict[tuple[OrgKey, int], str], dict[OrgKey, str]]:
    """ "Drifting since": for each current drift item (and drifting org), the first run of the
    unbroken streak of runs that saw it, walking back from now. A run in which the org could not
    be checked, or that did not hold it, says nothing and does not break the streak."""
    past: list[tuple[str, dict[OrgKey, _Seen]]] = [
        (
            point(r).label,
            {
                (o.instance, o.org_id): _Seen(o.status, {item_fingerprint(i) for i in o.items})
                for o in r.orgs
            },
        )
        for r in reversed(history)
    ]
    now = point(current).label
    items: dict[tuple[OrgKey, int], str] = {}
    orgs: dict[OrgKey, str] = {}
    for org in current.orgs:
        if org.status not in _DRIFTING:
            continue
        key = (org.instance, org.org_id)
        orgs[key] = _streak(now, past, key, None)
        for index, item in enumerate(org.items):
            items[(key, index)] = _streak(now, past, key, item_fingerprint(item))
    return items, orgs


@dataclass(frozen=True, slots=True)
class _Seen:
    status: OrgStatus
    fingerprints: set[str]


def _streak(
    now: str, past: Iterable[tuple[str, Mapping[OrgKey, _Seen]]], key: OrgKey, fp: str | None
) -> str:
    """The label of the oldest run in the streak (``fp`` None: the org drifting at all)."""
    first = now
    for label, orgs in past:
        seen = orgs.get(key)
        if seen is None or seen.status is OrgStatus.UNKNOWN:
            continue
        holds = seen.status in _DRIFTING if fp is None else fp in seen.fingerprints
        if not holds:
            break
        first = label
    return first


# --------------------------------------------------------------------------- redaction


def redact_email(email: str) -> str:
    """A stable stand-in for an email: the same address always gives the same text (so a
    reader can still tell contacts apart and follow one across runs), keeping the domain."""
    local, _, domain = email.rpartition("@")
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:10]
    return f"redacted-{digest}@{domain.lower()}" if local else email


def _redact_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return _EMAIL_RE.sub(lambda m: redact_email(m.group(0)), value)


def _redact_item(item: DriftItem) -> DriftItem:
    if item.kind is DriftKind.CONTACT_NAME_DIFFERS:
        hide = (None if v is None else NAME_HIDDEN for v in (item.expected, item.actual))
        expected, actual = hide
    else:
        expected, actual = _redact_text(item.expected), _redact_text(item.actual)
    return replace(
        item,
        expected=expected,
        actual=actual,
        item=_redact_text(item.item),
        suppressed_by=_redact_text(item.suppressed_by),
    )


def redact(report: DriftReport) -> DriftReport:
    """The report with every email replaced by :func:`redact_email` and contact names hidden."""
    return replace(
        report,
        orgs=tuple(
            replace(
                o,
                name=_redact_text(o.name),
                error=_redact_text(o.error),
                items=tuple(_redact_item(i) for i in o.items),
                suppressed=tuple(_redact_item(i) for i in o.suppressed),
                info=tuple(
                    InfoItem(
                        i.field,
                        _redact_text(i.expected),
                        _redact_text(i.actual),
                        _redact_text(i.message),
                    )
                    for i in o.info
                ),
            )
            for o in report.orgs
        ),
    )


# --------------------------------------------------------------------------- the use case


def build(
    report_paths: Sequence[Path],
    *,
    plan_path: Path | None = None,
    history_dir: Path | None = None,
    redact_contacts: bool = False,
    warn: Callable[[str], None] = lambda _line: None,
) -> Fleet:
    """Everything ``checker report`` renders. Raises :class:`FleetInputError`."""
    current = load_run(report_paths)
    tracking = load_plan(plan_path) if plan_path is not None else {}
    history = load_history(history_dir, current, warn) if history_dir is not None else []
    item_since, org_since = since(current, history) if history_dir is not None else ({}, {})
    if redact_contacts:
        # after "since": fingerprints compare the real values, which the page never shows
        current = redact(current)
    return Fleet(
        report=current,
        sources=tuple(str(p) for p in report_paths),
        trend=(*(point(r) for r in history), point(current)),
        item_since=item_since,
        org_since=org_since,
        tracking=tracking,
        redacted=redact_contacts,
        has_history=history_dir is not None,
    )
