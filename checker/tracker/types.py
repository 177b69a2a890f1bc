"""GitLab's value types and errors, in our words: stdlib only.

What the reconciler reads from and writes to a GitLab project, as frozen dataclasses, and the
errors every adapter raises (:class:`GitLabError` and its kinds). The port that uses them is
:mod:`checker.tracker.port`; the python-gitlab adapter is :mod:`checker.tracker.gitlab`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IssueState = Literal["opened", "closed"]
MergeRequestState = Literal["opened", "closed", "merged"]
Noteable = Literal["issue", "merge_request"]


# --------------------------------------------------------------------------- errors


class GitLabError(Exception):
    """Anything that went wrong talking to GitLab; the message is safe to show (no token)."""


class GitLabConfigError(GitLabError):
    """GitLab access is not configured: a variable is missing or wrong (names the variable)."""


class GitLabAuthError(GitLabError):
    """The token was refused (401) or lacks the permission (403)."""


class GitLabNotFound(GitLabError):
    """The project, issue, merge request or branch does not exist (404)."""


class GitLabRejected(GitLabError):
    """GitLab refused the request as invalid (400, 409, 422 …): retrying will not help."""


class GitLabUnavailable(GitLabError):
    """No usable answer: connection failed or dropped, timeout, or 5xx after retries.

    For a write, the server may or may not have carried it out (``uncertain``).
    """

    def __init__(self, message: str, *, uncertain: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: int
    path: str
    web_url: str
    default_branch: str


@dataclass(frozen=True, slots=True)
class TrackedIssue:
    """An issue as the checker sees it; ``description`` is never None ("" when empty)."""

    iid: int
    title: str
    description: str
    state: str
    web_url: str
    labels: tuple[str, ...] = ()
    confidential: bool = False
    #: the project the issue lives in (path), for references across projects
    project: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == "opened"


@dataclass(frozen=True, slots=True)
class TrackedMergeRequest:
    iid: int
    title: str
    description: str
    state: str
    source_branch: str
    target_branch: str
    web_url: str
    labels: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state == "opened"


@dataclass(frozen=True, slots=True)
class TrackedNote:
    id: int
    body: str
    #: the note's author (user id); 0 when GitLab did not say
    author_id: int = 0


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """A commit as the checker needs it: to recognise its own and to judge a lock's age."""

    id: str
    message: str
    #: when GitLab recorded it (ISO 8601, the server's clock)
    committed_date: str
    author_email: str = ""
    parent_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewIssue:
    title: str
    description: str
    labels: tuple[str, ...]
    confidential: bool
    assignee_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NewMergeRequest:
    source_branch: str
    target_branch: str
    title: str
    description: str
    labels: tuple[str, ...]
    assignee_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file of a commit: ``update`` an existing file to ``content``."""

    path: str
    content: str
    action: Literal["create", "update", "delete"] = "update"
