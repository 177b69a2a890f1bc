"""What the planner reads: what GitLab holds now (listings and the answers to lookups), the
context of the run, and an index of the checker's open things by kind and org."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from checker.domain.models import OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.reconcile.actions import Lookup
from checker.reconcile.markers import (
    BRANCH_PREFIX,
    Marker,
    OrgKey,
    branch_for,
    key_from_branch,
)
from checker.reconcile.reportset import CombinedReport
from checker.render import tracker
from checker.tracker.types import ProjectInfo, TrackedIssue, TrackedMergeRequest


@dataclass(frozen=True, slots=True)
class GitLabState:
    """What GitLab holds now, as read by the orchestrator (listings plus lookup answers)."""

    project: ProjectInfo
    issues: tuple[TrackedIssue, ...] = ()
    merge_requests: tuple[TrackedMergeRequest, ...] = ()
    ops_project: ProjectInfo | None = None
    ops_issues: tuple[TrackedIssue, ...] = ()
    history: Mapping[Lookup, TrackedIssue | TrackedMergeRequest | None] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class PlanContext:
    settings: Settings
    links: tracker.Links
    #: org files' text by path, for merge requests (only orgs with Zendesk-owned drift need one)
    files: Mapping[str, str] = field(default_factory=dict)


def files_needed(combined: CombinedReport, specs: Sequence[OrgSpec]) -> list[str]:
    """Paths of org files the planner will read: those with Zendesk-owned drift. Taken from the
    current specs by org key, never from a report."""
    by_key = {s.key: s.path for s in specs}
    return sorted(
        {
            by_key[k]
            for k, o in combined.orgs.items()
            if k in by_key and o.status is OrgStatus.DRIFTED and tracker.zendesk_owned(o)
        }
    )


class Index:
    """Open things by (kind, org), from the listings."""

    def __init__(self, state: GitLabState) -> None:
        self.issues: dict[tuple[str, OrgKey | None], list[tuple[TrackedIssue, Marker]]] = {}
        #: open labelled issues whose marker a person removed, by title (the fallback)
        self.by_title: dict[str, TrackedIssue] = {}
        for source in (state.issues, state.ops_issues):
            for issue in source:
                marker = Marker.parse(issue.description)
                if marker is not None and issue.is_open:
                    self.issues.setdefault((marker.kind, marker.org), []).append((issue, marker))
                elif marker is None and issue.is_open:
                    self.by_title.setdefault(issue.title, issue)
        for found in self.issues.values():
            found.sort(key=lambda pair: pair[0].iid)
        self.mrs: dict[OrgKey, list[tuple[TrackedMergeRequest, Marker | None]]] = {}
        for mr in state.merge_requests:
            marker = Marker.parse(mr.description)
            key = marker.org if marker is not None and marker.kind == "adopt" else None
            if key is None and mr.source_branch.startswith(BRANCH_PREFIX):
                key = key_from_branch(mr.source_branch)
            if key is not None and mr.is_open and mr.source_branch == branch_for(key):
                self.mrs.setdefault(key, []).append((mr, marker))
        dashboards = self.issues.get(("dashboard", None), [])
        self.dashboard = dashboards[0] if dashboards else None
        acks = self.dashboard[1].acks if self.dashboard else ()
        self.acks = {(a.kind, a.org): a for a in acks}
