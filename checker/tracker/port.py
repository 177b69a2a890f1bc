"""The GitLab port: everything the reconciler, the preview and the lock need from a project.

Everything outside :mod:`checker.tracker.gitlab` types against :class:`GitLabPort`; the tests'
in-memory fake (``tests/tracker_fake.py``) and the python-gitlab adapter both implement it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from checker.tracker.types import (
    CommitInfo,
    FileChange,
    IssueState,
    MergeRequestState,
    NewIssue,
    NewMergeRequest,
    Noteable,
    ProjectInfo,
    TrackedIssue,
    TrackedMergeRequest,
    TrackedNote,
)


class GitLabPort(Protocol):
    """What the reconciler needs from a GitLab project (see :class:`GitLabProject`)."""

    def info(self) -> ProjectInfo: ...

    def for_project(self, ref: str) -> GitLabPort: ...

    def scrub(self, text: str) -> str: ...

    def open_issues(self, label: str) -> list[TrackedIssue]: ...

    def search_issues(
        self, text: str, *, label: str | None, state: IssueState, limit: int = 20
    ) -> list[TrackedIssue]: ...

    def open_merge_requests(self, label: str) -> list[TrackedMergeRequest]: ...

    def merge_requests_for_branch(
        self, branch: str, *, state: MergeRequestState = "opened"
    ) -> list[TrackedMergeRequest]: ...

    def closed_issues(self, label: str, *, max_pages: int) -> list[TrackedIssue] | None: ...

    def closed_merge_requests(
        self, label: str, *, max_pages: int
    ) -> list[TrackedMergeRequest] | None: ...

    def user_id(self, username: str) -> int | None: ...

    def create_issue(self, new: NewIssue) -> TrackedIssue: ...

    def update_issue(
        self,
        iid: int,
        *,
        description: str | None = None,
        state_event: str | None = None,
        add_labels: Sequence[str] = (),
    ) -> None: ...

    def recent_notes(self, on: Noteable, iid: int, limit: int = 20) -> list[str]: ...

    def add_note(self, on: Noteable, iid: int, body: str) -> None: ...

    def commit(
        self,
        *,
        branch: str,
        start_branch: str,
        message: str,
        changes: Sequence[FileChange],
    ) -> str: ...

    def create_merge_request(self, new: NewMergeRequest) -> TrackedMergeRequest: ...

    def update_merge_request(
        self, iid: int, *, description: str | None = None, state_event: str | None = None
    ) -> None: ...

    def delete_branch(self, branch: str) -> None: ...

    def branch_head(self, branch: str) -> CommitInfo | None: ...

    def create_branch_commit(
        self, *, branch: str, start_branch: str, message: str, changes: Sequence[FileChange]
    ) -> CommitInfo | None: ...

    def commit_if_unchanged(
        self, *, branch: str, message: str, change: FileChange, last_commit_id: str
    ) -> CommitInfo | None: ...

    def file_text(self, path: str, ref: str) -> str | None: ...

    def find_own_note(self, on: Noteable, iid: int, marker: str) -> TrackedNote | None: ...

    def edit_note(self, on: Noteable, iid: int, note_id: int, body: str) -> None: ...
