"""The dashboard issue: its text (counts for every declared org, a row for each that needs
attention) and the one change it needs, decided by small pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.domain.models import STATUS_ORDER, OrgSpec
from checker.reconcile.actions import Action, CloseDuplicate, CreateIssue, UpdateIssue
from checker.reconcile.markers import RESOLVED, Ack, Kind, Marker, OrgKey, body_hash, outside_of
from checker.reconcile.placeholders import PLACEHOLDER_RE
from checker.reconcile.reportset import CombinedReport
from checker.reconcile.state import Index
from checker.render import inert, tracker
from checker.tracker.types import TrackedIssue

__all__ = [
    "NewDashboard",
    "Refs",
    "create_dashboard",
    "dashboard_body",
    "duplicate_dashboards",
    "ref_cell",
    "reopen_dashboard",
    "update_dashboard",
]

_STATES = ("drifted", "missing", "unknown", "not_checked", "in_sync", "suppressed")
_WORDS = {
    "unknown": "could not be checked",
    "in_sync": "in sync",
    "suppressed": "in sync with accepted differences",
    "not_checked": "not checked",
}


@dataclass(frozen=True, slots=True)
class Refs:
    """Each org's issue and merge request (web URL or placeholder) and people's decisions."""

    issues: Mapping[OrgKey, str]
    merge_requests: Mapping[OrgKey, str]
    acks: Sequence[Ack]

    def acked(self, kind: Kind, key: OrgKey) -> bool:
        return any(a.kind == kind and a.org == key and a.drift != RESOLVED for a in self.acks)


@dataclass(frozen=True, slots=True)
class NewDashboard:
    title: str
    labels: tuple[str, ...]
    confidential: bool


def ref_cell(url: str | None, acked: bool, project_url: str = "") -> tracker.Inert:
    """An issue or merge request as its GitLab reference (``#12``, ``!3``). Something created
    later in this run is a placeholder, filled in with its URL (which GitLab shows as its
    reference too); the next run writes the reference."""
    if url is None:
        return tracker.Inert("")
    cell = tracker.reference(url, project_url) if project_url else url
    if not project_url and not url.startswith("\x00"):
        cell = inert.url(url) or ""
    if acked:
        cell += " closed by a person"
    return tracker.Inert(cell)


def _row(
    spec: OrgSpec, combined: CombinedReport, refs: Refs, project_url: str
) -> tuple[tuple[Any, ...], tracker.DashboardRow]:
    org = combined.orgs.get(spec.key)
    status = tracker.dashboard_status(org)
    order = (
        spec.csm is None,
        (spec.csm or "").lower(),
        STATUS_ORDER.get(status, 9),
        spec.name.lower(),
        spec.org_id,
    )
    row = tracker.DashboardRow(
        name=spec.name,
        instance=spec.instance,
        org_id=spec.org_id,
        csm=spec.csm,
        status=tracker.status_cell(org),
        issue=ref_cell(refs.issues.get(spec.key), refs.acked("org", spec.key), project_url),
        mr=ref_cell(refs.merge_requests.get(spec.key), refs.acked("adopt", spec.key), project_url),
        notes=tracker.notes_cell(org),
    )
    return order, row


def _csm_rows(per_csm: Mapping[str | None, Mapping[str, int]]) -> list[tracker.CsmCount]:
    return sorted(
        (
            tracker.CsmCount(
                csm,
                drifted=c.get("drifted", 0),
                missing=c.get("missing", 0),
                unknown=c.get("unknown", 0),
                in_sync=c.get("in_sync", 0),
            )
            for csm, c in per_csm.items()
        ),
        key=lambda c: (c.csm is None, -c.attention, (c.csm or "").lower()),
    )


def dashboard_body(
    specs: Mapping[OrgKey, OrgSpec], combined: CombinedReport, refs: Refs, project_url: str
) -> tuple[str, str]:
    """The dashboard's text and its one-line summary: counts for every declared org, a
    row only for those that need attention (by CSM, orgs without one last)."""
    rows: list[tuple[tuple[Any, ...], tracker.DashboardRow]] = []
    counts: dict[str, int] = {}
    per_csm: dict[str | None, dict[str, int]] = {}
    for spec in specs.values():
        status = tracker.dashboard_status(combined.orgs.get(spec.key))
        counts[status] = counts.get(status, 0) + 1
        bucket = per_csm.setdefault(spec.csm, {})
        group = {"suppressed": "in_sync", "not_checked": "unknown"}.get(status, status)
        bucket[group] = bucket.get(group, 0) + 1
        if status in tracker.NEEDS_ATTENTION:
            rows.append(_row(spec, combined, refs, project_url))
    rows.sort(key=lambda r: r[0])
    summary = f"{len(specs):,} orgs: " + ", ".join(
        f"{counts.get(s, 0):,} {_WORDS.get(s, s)}"
        for s in _STATES
        if counts.get(s) or s not in ("not_checked", "suppressed")
    )
    in_sync = counts.get("in_sync", 0) + counts.get("suppressed", 0)
    body = tracker.dashboard_body(
        [r[1] for r in rows], summary, combined.checked_on, _csm_rows(per_csm), in_sync
    )
    return body, summary


def update_dashboard(
    current: tuple[TrackedIssue, Marker],
    body: str,
    summary: str,
    marker: Marker,
    restore: tuple[str, ...],
) -> Action | None:
    """The open dashboard, brought up to date; None when it already is."""
    issue, old = current
    if (
        old.body == body_hash(body)
        and old.acks == marker.acks
        and PLACEHOLDER_RE.search(body) is None
        and not restore
    ):
        return None
    return UpdateIssue(
        org="dashboard",
        target="dashboard",
        summary=f"update #{issue.iid}: {summary}",
        iid=issue.iid,
        body=body,
        marker=marker,
        outside=outside_of(issue.description),
        add_labels=restore,
    )


def reopen_dashboard(previous: TrackedIssue, body: str, summary: str, marker: Marker) -> Action:
    """A person closed the dashboard: it is reopened and brought up to date."""
    return UpdateIssue(
        org="dashboard",
        target="dashboard",
        reopen=True,
        summary=f"reopen #{previous.iid} (closed by a person) and update it: {summary}",
        iid=previous.iid,
        body=body,
        marker=marker,
        outside=outside_of(previous.description),
    )


def create_dashboard(new: NewDashboard, body: str, summary: str, marker: Marker) -> Action:
    return CreateIssue(
        org="dashboard",
        target="dashboard",
        summary=f"create: {summary}",
        title=new.title,
        body=body,
        marker=marker,
        labels=new.labels,
        confidential=new.confidential,
        search=new.title,
    )


def duplicate_dashboards(index: Index) -> tuple[Action, ...]:
    """Dashboards beyond the oldest (left by a crash or a race) are closed, linking it."""
    found = index.issues.get(("dashboard", None), [])
    if len(found) < 2:
        return ()
    keep = found[0][0]
    return tuple(
        CloseDuplicate(
            org="dashboard",
            target="dashboard",
            summary=f"close #{issue.iid}: duplicate of #{keep.iid}",
            iid=issue.iid,
            keep_iid=keep.iid,
            keep_url=keep.web_url,
        )
        for issue, _ in found[1:]
    )
