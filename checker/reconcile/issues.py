"""An org's drift issue or support-ops request: the one action each needs, decided by small
pure functions (the planner finds what is open and asks GitLab's history first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from checker.domain.models import DriftItem, OrgDrift
from checker.reconcile.actions import (
    Action,
    CloseDuplicate,
    CloseIssue,
    CreateIssue,
    IssueTarget,
    UpdateIssue,
)
from checker.reconcile.markers import (
    RESOLVED,
    Kind,
    Marker,
    OrgKey,
    body_hash,
    body_of,
    item_fingerprint,
    key_text,
    outside_of,
)
from checker.reconcile.notes import change_note
from checker.reconcile.placeholders import placeholder
from checker.render import tracker
from checker.tracker.types import TrackedIssue, TrackedMergeRequest

__all__ = [
    "Tracked",
    "close_duplicate_issues",
    "close_issue",
    "close_removed_issue",
    "create_issue",
    "update_issue",
]


@dataclass(frozen=True, slots=True)
class Tracked:
    """What an org's issue of ``kind`` (``org``: drift issue, ``ops``: support-ops request)
    should say now."""

    kind: Kind
    key: OrgKey
    org: OrgDrift
    drift: str
    items: Sequence[DriftItem]
    title: str

    @property
    def target(self) -> IssueTarget:
        return "issue" if self.kind == "org" else "support-ops"

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(item_fingerprint(i) for i in self.items)


def close_issue(
    key: OrgKey, kind: Kind, issue: TrackedIssue, marker: Marker, org: OrgDrift, checked_on: str
) -> Action:
    """The drift is gone: close with a note, the marker saying it was resolved."""
    return CloseIssue(
        org=key_text(key),
        target="issue" if kind == "org" else "support-ops",
        summary=f"close #{issue.iid}: the drift is gone",
        iid=issue.iid,
        note=tracker.note("resolved", file=org.file, date=checked_on or None),
        note_key=f"resolved:{marker.drift}",
        body=body_of(issue.description),
        outside=outside_of(issue.description),
        marker=replace(marker, drift=RESOLVED),
    )


def close_removed_issue(key: OrgKey, kind: Kind, issue: TrackedIssue, marker: Marker) -> Action:
    """The org file was removed (and the reports are complete): close with a note."""
    return CloseIssue(
        org=key_text(key),
        target="issue" if kind == "org" else "support-ops",
        summary=f"close #{issue.iid}: the org file was removed",
        iid=issue.iid,
        note=tracker.note("removed"),
        note_key=f"removed:{marker.drift}",
        body=body_of(issue.description),
        outside=outside_of(issue.description),
        marker=replace(marker, drift=RESOLVED),
    )


def close_duplicate_issues(
    key: OrgKey, kind: Kind, found: Sequence[tuple[TrackedIssue, Marker]]
) -> tuple[Action, ...]:
    """Issues beyond the oldest open one of the same kind and org are closed, linking it."""
    keep = found[0][0]
    return tuple(
        CloseDuplicate(
            org=key_text(key),
            target="issue" if kind == "org" else "support-ops",
            summary=f"close #{issue.iid}: duplicate of #{keep.iid}",
            iid=issue.iid,
            keep_iid=keep.iid,
            keep_url=keep.web_url,
        )
        for issue, _ in found[1:]
    )


def update_issue(
    want: Tracked, issue: TrackedIssue, marker: Marker, body: str, restore: tuple[str, ...]
) -> Action | None:
    """The open issue brought up to date (with a note on what changed); None when it is."""
    if marker.body == body_hash(body) and marker.drift == want.drift and not restore:
        return None
    note = None
    if marker.drift != want.drift and marker.drift:
        note = change_note(marker.items, want.items, body_of(issue.description))
    return UpdateIssue(
        org=key_text(want.key),
        target=want.target,
        summary=(
            f"update #{issue.iid}: the drift changed"
            if note
            else f"update #{issue.iid}: new description"
        )
        + (f" and put label {restore[0]} back" if restore else ""),
        iid=issue.iid,
        body=body,
        marker=Marker(
            want.kind, want.key, want.drift, items=want.fingerprints, follows=marker.follows
        ),
        note=note,
        note_key=f"changed:{want.drift}" if note else None,
        outside=outside_of(issue.description),
        add_labels=restore,
    )


def create_issue(
    want: Tracked,
    body: str,
    previous: TrackedIssue | TrackedMergeRequest | None,
    labels: tuple[str, ...],
    confidential: bool,
) -> Action:
    """A new issue (following ``previous``, closed by a person while the drift differed)."""
    items = want.items
    return CreateIssue(
        org=key_text(want.key),
        target=want.target,
        summary=(
            f"create: {want.org.status.value}"
            + (f" ({len(items)} item{'s' if len(items) != 1 else ''})" if items else "")
            + (f", follows closed #{previous.iid}" if previous is not None else "")
        ),
        title=want.title,
        body=body,
        marker=Marker(
            want.kind,
            want.key,
            want.drift,
            items=want.fingerprints,
            follows=previous.iid if previous is not None else None,
        ),
        assignee=want.org.csm if want.kind == "org" else None,
        labels=labels,
        confidential=confidential,
        provides=placeholder(want.kind, want.key),
        search=str(want.key[1]),
    )
