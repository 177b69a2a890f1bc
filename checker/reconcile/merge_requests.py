"""The adopt merge request of one org: the change it carries (Zendesk's values written into the
org file) and the one action it needs, decided by small pure functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from checker.domain.models import InfoItem, OrgDrift, OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.edit.adoptcheck import REFUSED, checked_adoption
from checker.edit.orgwriter import Adoption, OrgWriteError
from checker.reconcile.actions import (
    Action,
    CloseMergeRequest,
    CreateMergeRequest,
    UpdateMergeRequest,
)
from checker.reconcile.markers import (
    RESOLVED,
    Marker,
    OrgKey,
    body_hash,
    body_of,
    branch_for,
    digest,
    drift_hash,
    key_text,
    outside_of,
    with_marker,
)
from checker.reconcile.placeholders import placeholder
from checker.render import inert, tracker
from checker.tracker.types import TrackedMergeRequest

__all__ = [
    "Adopt",
    "check_adoption",
    "close_merge_request",
    "create_merge_request",
    "update_merge_request",
]


@dataclass(frozen=True, slots=True)
class Adopt:
    """What an org's adopt merge request should carry now."""

    key: OrgKey
    org: OrgDrift
    adoption: Adoption
    #: the org file's path in the repository
    path: str
    body: str

    @property
    def content_hash(self) -> str:
        return digest(self.adoption.text)

    @property
    def marker(self) -> Marker:
        drift = drift_hash(self.org.status, self.adoption.applied)
        return Marker("adopt", self.key, drift, items=(f"file/{self.content_hash}",))

    @property
    def branch(self) -> str:
        return branch_for(self.key)

    @property
    def commit_message(self) -> str:
        return (
            f"Adopt Zendesk's values for org {self.key[1]} "
            f"({inert.plain(self.org.name, limit=80)})\n\n"
            + "\n".join(f"- {i.field}: {i.kind.value}" for i in self.adoption.applied)
        )


def check_adoption(
    org: OrgDrift,
    spec: OrgSpec,
    text: str,
    settings: Settings,
    others: Sequence[OrgSpec],
    today: dt.date,
) -> tuple[OrgDrift, Adoption | str | None]:
    """Adopt the Zendesk-owned items as far as the file stays valid (``checker validate``
    with the same settings, across files): the org (items that would make the file invalid
    become repo-owned drift, with the reason) and the adoption (or why the file cannot be
    edited; None when there is nothing to adopt)."""
    items = tracker.zendesk_owned(org)
    if org.status is not OrgStatus.DRIFTED or not items:
        return org, None
    try:
        checked = checked_adoption(
            text, items, path=spec.path, settings=settings, others=list(others), today=today
        )
    except OrgWriteError as e:
        return org, str(e)
    if not checked.refused:
        return org, checked.adoption
    refused = {id(item): why for item, why in checked.refused}
    org = replace(
        org,
        items=tuple(replace(i, truth="repo") if id(i) in refused else i for i in org.items),
        info=(
            *org.info,
            *(
                InfoItem(item.field, item.expected, item.actual, f"{REFUSED}: {why}")
                for item, why in checked.refused
            ),
        ),
    )
    return org, checked.adoption


def close_merge_request(
    key: OrgKey,
    mr: TrackedMergeRequest,
    marker: Marker | None,
    reason: str,
    why: str,
    file: str | None = None,
) -> Action:
    """Close ``mr`` with a note saying ``reason`` and delete its branch."""
    return CloseMergeRequest(
        org=key_text(key),
        summary=f"close !{mr.iid} and delete its branch: {why}",
        iid=mr.iid,
        note=tracker.note(reason, file=file),
        note_key=f"{reason}:{marker.drift if marker else ''}",
        body=body_of(mr.description) if marker is not None else None,
        outside=outside_of(mr.description) if marker is not None else ("", ""),
        marker=replace(marker, drift=RESOLVED) if marker is not None else None,
        branch=mr.source_branch,
    )


def _held_description(mr: TrackedMergeRequest, old: Marker | None, held: str) -> str | None:
    """The description unchanged, its marker remembering that a person's commits hold it."""
    if old is None:
        return None
    items = (*(i for i in old.items if not i.startswith("held/")), held)
    return with_marker(
        replace(old, items=items), body_of(mr.description), outside_of(mr.description)
    )


def update_merge_request(
    change: Adopt, mr: TrackedMergeRequest, old: Marker | None
) -> Action | None:
    """The open merge request brought up to date; None when it is (or a person's commits hold
    its branch and that news was told already)."""
    held = f"held/{change.content_hash}"
    if old is not None and held in old.items:
        return None
    marker = change.marker
    same_file = old is not None and old.items == marker.items
    if same_file and old is not None and old.body == body_hash(change.body):
        return None
    return UpdateMergeRequest(
        org=key_text(change.key),
        summary=(
            f"update !{mr.iid}: Zendesk's values changed"
            if not same_file
            else f"update !{mr.iid}: new description"
        ),
        iid=mr.iid,
        body=change.body,
        marker=marker,
        outside=outside_of(mr.description) if old is not None else ("", ""),
        note=tracker.note("mr-updated") if not same_file else None,
        note_key=f"mr-updated:{change.content_hash}" if not same_file else None,
        held_note=tracker.note("mr-held", values=change.adoption.applied),
        held_description=_held_description(mr, old, held),
        branch_digest=next(
            (i[5:] for i in (old.items if old else ()) if i.startswith("file/")), None
        ),
        branch=change.branch,
        file_path=change.path if not same_file else None,
        content=change.adoption.text if not same_file else None,
        commit_message=change.commit_message,
    )


def create_merge_request(change: Adopt, labels: tuple[str, ...]) -> Action:
    """A new merge request on the org's adopt branch."""
    return CreateMergeRequest(
        org=key_text(change.key),
        summary=(
            f"create on {change.branch}: {len(change.adoption.applied)} value(s) from Zendesk"
        ),
        title=tracker.mr_title(change.org),
        body=change.body,
        marker=change.marker,
        labels=labels,
        branch=change.branch,
        file_path=change.path,
        content=change.adoption.text,
        commit_message=change.commit_message,
        provides=placeholder("adopt", change.key),
    )
