"""An in-memory GitLab project implementing :class:`checker.tracker.port.GitLabPort`.

For fast tests of the reconcile run's logic (planning, writers, the dry-run writer) without
HTTP. It is not a model of GitLab's edge cases: the HTTP fake (``tests/fakes/gitlab_server.py``)
and the real python-gitlab adapter stay the end-to-end tests; this one only keeps state.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from checker.tracker.port import GitLabPort
from checker.tracker.types import (
    CommitInfo,
    FileChange,
    GitLabNotFound,
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

ME = 1
PROJECT = ProjectInfo(7, "group/orgs", "https://gitlab.example/group/orgs", "main")


@dataclass
class MemoryGitLab:
    """One project's issues, merge requests, notes, branches and files, held in dicts."""

    project: ProjectInfo = PROJECT
    users: dict[str, int] = field(default_factory=lambda: {"akim": 42})
    issues: dict[int, TrackedIssue] = field(default_factory=dict)
    merge_requests: dict[int, TrackedMergeRequest] = field(default_factory=dict)
    notes: dict[tuple[Noteable, int], list[TrackedNote]] = field(default_factory=dict)
    #: branch -> (head commit, files)
    branches: dict[str, tuple[CommitInfo, dict[str, str]]] = field(default_factory=dict)
    #: every write, as ``verb what``, in order
    writes: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.branches.setdefault(self.project.default_branch, (self._commit("initial"), {}))

    # ------------------------------------------------------------------ helpers

    def _commit(self, message: str) -> CommitInfo:
        now = dt.datetime.now(dt.UTC).isoformat()
        return CommitInfo(f"{next(self._ids):040x}", message, now, "checker@example.invalid")

    def _url(self, on: Noteable, iid: int) -> str:
        return f"{self.project.web_url}/-/{'issues' if on == 'issue' else 'merge_requests'}/{iid}"

    # ------------------------------------------------------------------ reads

    def info(self) -> ProjectInfo:
        return self.project

    def for_project(self, ref: str) -> GitLabPort:
        return self

    def scrub(self, text: str) -> str:
        return text

    def open_issues(self, label: str) -> list[TrackedIssue]:
        return [i for i in self.issues.values() if i.is_open and label in i.labels]

    def search_issues(
        self, text: str, *, label: str | None, state: IssueState, limit: int = 20
    ) -> list[TrackedIssue]:
        found = [
            i
            for i in self.issues.values()
            if i.state == state
            and (label is None or label in i.labels)
            and (text in i.title or text in i.description)
        ]
        return found[:limit]

    def open_merge_requests(self, label: str) -> list[TrackedMergeRequest]:
        return [m for m in self.merge_requests.values() if m.is_open and label in m.labels]

    def merge_requests_for_branch(
        self, branch: str, *, state: MergeRequestState = "opened"
    ) -> list[TrackedMergeRequest]:
        return [
            m
            for m in self.merge_requests.values()
            if m.source_branch == branch and m.state == state
        ]

    def closed_issues(self, label: str, *, max_pages: int) -> list[TrackedIssue] | None:
        return [i for i in self.issues.values() if not i.is_open and label in i.labels]

    def closed_merge_requests(
        self, label: str, *, max_pages: int
    ) -> list[TrackedMergeRequest] | None:
        return [m for m in self.merge_requests.values() if m.state != "opened"]

    def user_id(self, username: str) -> int | None:
        return self.users.get(username)

    def recent_notes(self, on: Noteable, iid: int, limit: int = 20) -> list[str]:
        return [n.body for n in reversed(self.notes.get((on, iid), []))][:limit]

    def find_own_note(self, on: Noteable, iid: int, marker: str) -> TrackedNote | None:
        mine = [n for n in self.notes.get((on, iid), []) if n.author_id == ME and marker in n.body]
        return mine[0] if mine else None

    def branch_head(self, branch: str) -> CommitInfo | None:
        found = self.branches.get(branch)
        return found[0] if found else None

    def file_text(self, path: str, ref: str) -> str | None:
        found = self.branches.get(ref)
        return found[1].get(path) if found else None

    # ------------------------------------------------------------------ writes

    def create_issue(self, new: NewIssue) -> TrackedIssue:
        iid = len(self.issues) + 1
        issue = TrackedIssue(
            iid, new.title, new.description, "opened", self._url("issue", iid), new.labels,
            new.confidential, self.project.path,
        )  # fmt: skip
        self.issues[iid] = issue
        self.writes.append(f"create issue {iid}")
        return issue

    def update_issue(
        self,
        iid: int,
        *,
        description: str | None = None,
        state_event: str | None = None,
        add_labels: Sequence[str] = (),
    ) -> None:
        issue = self.issues[iid]
        state = {"close": "closed", "reopen": "opened"}.get(state_event or "", issue.state)
        labels = (*issue.labels, *(label for label in add_labels if label not in issue.labels))
        self.issues[iid] = replace(
            issue, description=issue.description if description is None else description,
            state=state, labels=labels,
        )  # fmt: skip
        self.writes.append(f"update issue {iid}")

    def add_note(self, on: Noteable, iid: int, body: str) -> None:
        self.notes.setdefault((on, iid), []).append(TrackedNote(next(self._ids), body, ME))
        self.writes.append(f"note {on} {iid}")

    def edit_note(self, on: Noteable, iid: int, note_id: int, body: str) -> None:
        found = self.notes[(on, iid)]
        self.notes[(on, iid)] = [replace(n, body=body) if n.id == note_id else n for n in found]
        self.writes.append(f"edit note {on} {iid}")

    def commit(
        self, *, branch: str, start_branch: str, message: str, changes: Sequence[FileChange]
    ) -> str:
        _, files = self.branches.get(branch) or self.branches[start_branch]
        files = dict(files)
        for change in changes:
            if change.action == "delete":
                files.pop(change.path, None)
            else:
                files[change.path] = change.content
        head = self._commit(message)
        self.branches[branch] = (head, files)
        self.writes.append(f"commit {branch}")
        return head.id

    def create_branch_commit(
        self, *, branch: str, start_branch: str, message: str, changes: Sequence[FileChange]
    ) -> CommitInfo | None:
        if branch in self.branches:
            return None
        self.commit(branch=branch, start_branch=start_branch, message=message, changes=changes)
        return self.branches[branch][0]

    def commit_if_unchanged(
        self, *, branch: str, message: str, change: FileChange, last_commit_id: str
    ) -> CommitInfo | None:
        head = self.branch_head(branch)
        if head is None or head.id != last_commit_id:
            return None
        self.commit(branch=branch, start_branch=branch, message=message, changes=[change])
        return self.branches[branch][0]

    def delete_branch(self, branch: str) -> None:
        if self.branches.pop(branch, None) is None:
            raise GitLabNotFound(f"no branch {branch}")
        self.writes.append(f"delete branch {branch}")

    def create_merge_request(self, new: NewMergeRequest) -> TrackedMergeRequest:
        iid = len(self.merge_requests) + 1
        mr = TrackedMergeRequest(
            iid, new.title, new.description, "opened", new.source_branch, new.target_branch,
            self._url("merge_request", iid), new.labels,
        )  # fmt: skip
        self.merge_requests[iid] = mr
        self.writes.append(f"create merge_request {iid}")
        return mr

    def update_merge_request(
        self, iid: int, *, description: str | None = None, state_event: str | None = None
    ) -> None:
        mr = self.merge_requests[iid]
        state = {"close": "closed", "reopen": "opened"}.get(state_event or "", mr.state)
        self.merge_requests[iid] = replace(
            mr, description=mr.description if description is None else description, state=state
        )
        self.writes.append(f"update merge_request {iid}")
