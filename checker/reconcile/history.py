"""Reading GitLab for the planner: the listings of what is open (:func:`read_state`) and the
answers to the planner's questions about what is closed or unlabelled (:func:`answer`), with as
few requests as possible."""

from __future__ import annotations

from collections.abc import Sequence

from checker.domain.settings import Settings
from checker.reconcile.actions import Lookup
from checker.reconcile.markers import Marker, branch_for
from checker.reconcile.state import GitLabState
from checker.tracker.port import GitLabPort
from checker.tracker.types import TrackedIssue, TrackedMergeRequest

__all__ = ["answer", "read_state"]


def read_state(settings: Settings, project: GitLabPort, ops: GitLabPort | None) -> GitLabState:
    label = settings.gitlab.labels[0]
    info = project.info()
    ops_info = ops.info() if ops is not None else None
    same = ops_info is not None and ops_info.id == info.id
    return GitLabState(
        project=info,
        issues=tuple(project.open_issues(label)),
        merge_requests=tuple(project.open_merge_requests(label)),
        ops_project=ops_info,
        ops_issues=tuple(ops.open_issues(label)) if ops is not None and not same else (),
    )


def _newest_with_marker(
    items: Sequence[TrackedIssue] | Sequence[TrackedMergeRequest], lookup: Lookup
) -> TrackedIssue | TrackedMergeRequest | None:
    best: TrackedIssue | TrackedMergeRequest | None = None
    for item in items:
        marker = Marker.parse(item.description)
        if marker is None or marker.kind != lookup.kind or marker.org != lookup.org:
            continue
        if best is None or item.iid > best.iid:
            best = item
    return best


def answer(
    lookups: Sequence[Lookup],
    settings: Settings,
    project: GitLabPort,
    ops: GitLabPort | None,
) -> dict[Lookup, TrackedIssue | TrackedMergeRequest | None]:
    """Answer the planner's questions with as few requests as possible: one listing of closed
    things when it is shorter than one search per question."""
    label = settings.gitlab.labels[0]
    answers: dict[Lookup, TrackedIssue | TrackedMergeRequest | None] = {}
    groups: dict[str, list[Lookup]] = {}
    for lookup in lookups:
        if lookup.opened:
            port = ops if lookup.kind == "ops" and ops is not None else project
            answers[lookup] = _find_unlisted(port, lookup, settings)
            continue
        groups.setdefault("mr" if lookup.kind == "adopt" else lookup.kind, []).append(lookup)
    for group, wanted in groups.items():
        port = ops if group == "ops" and ops is not None else project
        listed: Sequence[TrackedIssue] | Sequence[TrackedMergeRequest] | None
        if group == "mr":
            listed = port.closed_merge_requests(label, max_pages=len(wanted))
        else:
            listed = port.closed_issues(label, max_pages=len(wanted))
        for lookup in wanted:
            if listed is not None:
                answers[lookup] = _newest_with_marker(listed, lookup)
            elif lookup.kind == "adopt":
                assert lookup.org is not None
                found = port.merge_requests_for_branch(branch_for(lookup.org), state="closed")
                answers[lookup] = _newest_with_marker(found, lookup)
            else:
                text = settings.gitlab.dashboard_title if lookup.org is None else str(lookup.org[1])
                found_issues = port.search_issues(text, label=label, state="closed")
                answers[lookup] = _newest_with_marker(found_issues, lookup)
    return answers


def _find_unlisted(port: GitLabPort, lookup: Lookup, settings: Settings) -> TrackedIssue | None:
    """An open issue the labelled listing missed (a person removed the label or the marker):
    one search, without the label, confirmed by the marker or else by the exact title."""
    text = settings.gitlab.dashboard_title if lookup.org is None else str(lookup.org[1])
    by_title: TrackedIssue | None = None
    for issue in port.search_issues(text, label=None, state="opened"):
        marker = Marker.parse(issue.description)
        if marker is not None and (marker.kind, marker.org) == (lookup.kind, lookup.org):
            return issue
        if marker is None and lookup.title and issue.title == lookup.title:
            by_title = by_title or issue
    return by_title
