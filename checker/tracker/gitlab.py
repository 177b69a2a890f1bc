"""GitLab, in our words: the only module that imports python-gitlab.

It reads and writes issues, notes, merge requests, branches and commits of one project (and, for
support-ops requests, of a second one), hands back frozen dataclasses, and turns every vendor
error into one of ours (:class:`GitLabError` and its kinds). It holds no policy: what to create,
update or close is decided in :mod:`checker.reconcile.plan` and carried out by
:mod:`checker.reconcile.execute`. Its values and errors are in :mod:`checker.tracker.types`, the
port it implements in :mod:`checker.tracker.port`.

Secrets: the access token lives only inside the python-gitlab client. Every message this module
formats passes through :meth:`GitLabProject.scrub`, so the token cannot leak into output, logs,
reports or exception text even if the server or a library echoes it back.

Over 400 lines on purpose: one short method per port operation, each translating vendor errors in
the same place (:meth:`GitLabProject._errors`); splitting the class would scatter that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gitlab
import gitlab.exceptions as gle
import requests

from checker.live.transport import DeadlineAdapter
from checker.tracker.types import (
    CommitInfo,
    FileChange,
    GitLabAuthError,
    GitLabConfigError,
    GitLabNotFound,
    GitLabRejected,
    GitLabUnavailable,
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

__all__ = ["MAX_RETRIES", "PER_PAGE", "GitLabConfig", "GitLabProject", "connect"]

#: Retries of idempotent requests after 5xx or dropped connections (python-gitlab's default of
#: 10 retries backs off for ~100 s per call; a run touching many orgs should fail sooner).
MAX_RETRIES = 5
#: Items per page of every listing (GitLab's maximum), so a run makes as few reads as it can.
PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class GitLabConfig:
    """Where GitLab is: from the environment (see :meth:`from_env`)."""

    url: str
    project: str
    #: kept out of repr so that printing the config never shows it
    token: str = ""

    def __repr__(self) -> str:
        return f"GitLabConfig(url={self.url!r}, project={self.project!r}, token=***)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitLabConfig:
        """``GITLAB_URL`` (or ``CI_SERVER_URL``), ``GITLAB_TOKEN``, ``GITLAB_PROJECT`` (or
        ``CI_PROJECT_ID``). Raises :class:`GitLabConfigError` naming what is missing."""

        def get(name: str) -> str:
            return environ.get(name, "").strip()

        url = get("GITLAB_URL") or get("CI_SERVER_URL")
        if not url:
            raise GitLabConfigError(
                "GITLAB_URL is not set (nor CI_SERVER_URL): set it to the GitLab base URL, "
                "e.g. https://gitlab.example.com"
            )
        if not url.startswith(("http://", "https://")):
            raise GitLabConfigError(f"GITLAB_URL must start with http:// or https://, not {url!r}")
        token = get("GITLAB_TOKEN")
        if not token:
            if get("CI_JOB_TOKEN"):
                raise GitLabConfigError(
                    "GITLAB_TOKEN is not set, and CI_JOB_TOKEN cannot be used: a CI job token "
                    "cannot create issues, merge requests or commits. Set GITLAB_TOKEN to a "
                    "project, group or service-account access token with the api scope "
                    "(a masked CI/CD variable)"
                )
            raise GitLabConfigError(
                "GITLAB_TOKEN is not set: use a project, group or service-account access token "
                "with the api scope"
            )
        project = get("GITLAB_PROJECT") or get("CI_PROJECT_ID")
        if not project:
            raise GitLabConfigError(
                "GITLAB_PROJECT is not set (nor CI_PROJECT_ID): the id or path "
                "(group/project) of the project that holds the org files"
            )
        return cls(url=url.rstrip("/"), project=project, token=token)


def connect(
    config: GitLabConfig, *, timeout: float, max_retries: int = MAX_RETRIES
) -> GitLabProject:
    """A client for ``config.project``; no request is made until the first call.
    ``max_retries``: retries of each idempotent request (python-gitlab backs off between them)."""
    client = gitlab.Gitlab(
        config.url,
        private_token=config.token,
        timeout=timeout,
        retry_transient_errors=True,
        # GitLab behind a proxy may name another host in its Link headers: keep ours.
        keep_base_url=True,
    )
    # The timeout bounds each whole request (connect, send, answer), not each socket read.
    deadline = DeadlineAdapter(timeout)
    client.session.mount("https://", deadline)
    client.session.mount("http://", deadline)
    return GitLabProject(client, config.project, secret=config.token, max_retries=max_retries)


class GitLabProject:
    """One GitLab project through python-gitlab. Implements :class:`GitLabPort`."""

    def __init__(
        self,
        client: gitlab.Gitlab,
        project: str,
        *,
        secret: str = "",
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self._client = client
        self._retries = max_retries
        self._ref = project
        self._secret = secret
        self._project = client.projects.get(project, lazy=True)
        self._info: ProjectInfo | None = None
        self._users: dict[str, int | None] = {}
        self._me: int | None = None

    def __repr__(self) -> str:
        return f"GitLabProject({self._ref!r})"

    # ------------------------------------------------------------------ plumbing

    def scrub(self, text: str) -> str:
        """``text`` with the token replaced by ``[MASKED]``."""
        if self._secret and len(self._secret) >= 4:
            return text.replace(self._secret, "[MASKED]")
        return text

    @contextlib.contextmanager
    def _errors(self, what: str, *, write: bool = False) -> Iterator[None]:
        """Translate python-gitlab and requests errors into ours, the token scrubbed."""
        try:
            yield
        except gle.GitlabAuthenticationError as e:
            raise GitLabAuthError(
                self.scrub(f"{what}: GitLab refused the token (401); check GITLAB_TOKEN")
            ) from e
        except gle.GitlabError as e:
            code = e.response_code
            detail = self.scrub(f"{what}: GitLab answered {code}: {e.error_message}")
            if code == 403:
                raise GitLabAuthError(
                    detail + " (the token needs the api scope and at least the Reporter role "
                    "for issues, Developer for branches and merge requests)"
                ) from e
            if code == 404:
                raise GitLabNotFound(detail) from e
            if code is None or code >= 500 or code == 429:
                raise GitLabUnavailable(detail, uncertain=write) from e
            raise GitLabRejected(detail) from e
        except requests.RequestException as e:
            raise GitLabUnavailable(
                self.scrub(f"{what}: no answer from GitLab ({type(e).__name__})"),
                uncertain=write,
            ) from e

    def _issue(self, raw: Any) -> TrackedIssue:
        references = getattr(raw, "references", None) or {}
        full = str(references.get("full", "")) if isinstance(references, dict) else ""
        return TrackedIssue(
            iid=int(raw.iid),
            title=str(raw.title),
            description=str(raw.description or ""),
            state=str(raw.state),
            web_url=str(raw.web_url),
            labels=tuple(str(x) for x in (raw.labels or ())),
            confidential=bool(getattr(raw, "confidential", False)),
            project=full.rsplit("#", 1)[0] if "#" in full else self._ref,
        )

    @staticmethod
    def _mr(raw: Any) -> TrackedMergeRequest:
        return TrackedMergeRequest(
            iid=int(raw.iid),
            title=str(raw.title),
            description=str(raw.description or ""),
            state=str(raw.state),
            source_branch=str(raw.source_branch),
            target_branch=str(raw.target_branch),
            web_url=str(raw.web_url),
            labels=tuple(str(x) for x in (raw.labels or ())),
        )

    # ------------------------------------------------------------------ reads

    def info(self) -> ProjectInfo:
        """The project's id, path, web URL and default branch (fetched once)."""
        if self._info is None:
            with self._errors(f"reading project {self._ref}"):
                raw = self._client.projects.get(self._ref, max_retries=self._retries)
            self._info = ProjectInfo(
                id=int(raw.id),
                path=str(raw.path_with_namespace),
                web_url=str(raw.web_url),
                default_branch=str(raw.default_branch or "main"),
            )
        return self._info

    def for_project(self, ref: str) -> GitLabProject:
        """The same connection, another project (the support-ops project)."""
        return GitLabProject(self._client, ref, secret=self._secret, max_retries=self._retries)

    def _labelled(self, on: Noteable, label: str, state: str) -> Any:
        """A lazy listing of the issues or merge requests with ``label`` in ``state``, newest
        first, 100 per page (python-gitlab follows the pages)."""
        manager = self._project.issues if on == "issue" else self._project.mergerequests
        return manager.list(
            labels=[label],
            state=state,
            order_by="created_at",
            sort="desc",
            per_page=PER_PAGE,
            iterator=True,
            max_retries=self._retries,
        )

    def open_issues(self, label: str) -> list[TrackedIssue]:
        """Every open issue carrying ``label``: one paginated listing, 100 per page."""
        with self._errors(f"listing open issues labelled {label!r}"):
            return [self._issue(raw) for raw in self._labelled("issue", label, "opened")]

    def search_issues(
        self, text: str, *, label: str | None, state: IssueState, limit: int = 20
    ) -> list[TrackedIssue]:
        """Issues with ``label`` (any labels when None) in ``state`` whose title or description
        contains ``text``, newest first, at most ``limit`` (one request). Callers confirm
        matches themselves: GitLab's search is a coarse filter."""
        with self._errors(f"searching issues for {text!r}"):
            filters: dict[str, Any] = {"labels": [label]} if label else {}
            found = self._project.issues.list(
                **filters,
                state=state,
                search=text,
                order_by="created_at",
                sort="desc",
                per_page=min(limit, PER_PAGE),
                get_all=False,
                max_retries=self._retries,
            )
            return [self._issue(raw) for raw in found][:limit]

    def open_merge_requests(self, label: str) -> list[TrackedMergeRequest]:
        """Every open merge request carrying ``label``: one paginated listing."""
        with self._errors(f"listing open merge requests labelled {label!r}"):
            return [self._mr(raw) for raw in self._labelled("merge_request", label, "opened")]

    def merge_requests_for_branch(
        self, branch: str, *, state: MergeRequestState = "opened"
    ) -> list[TrackedMergeRequest]:
        """Merge requests from ``branch`` in ``state``, newest first (one request)."""
        with self._errors(f"looking up merge requests from {branch}"):
            found = self._project.mergerequests.list(
                source_branch=branch,
                state=state,
                order_by="created_at",
                sort="desc",
                per_page=PER_PAGE,
                get_all=False,
                max_retries=self._retries,
            )
            return [self._mr(raw) for raw in found]

    def closed_issues(self, label: str, *, max_pages: int) -> list[TrackedIssue] | None:
        """Every closed issue with ``label`` when they fit in ``max_pages`` pages, else None
        (after one request: the first page says how many pages there are)."""
        with self._errors(f"listing closed issues labelled {label!r}"):
            pages = self._labelled("issue", label, "closed")
            if not _fits(pages, max_pages):
                return None
            return [self._issue(raw) for raw in pages]

    def closed_merge_requests(
        self, label: str, *, max_pages: int
    ) -> list[TrackedMergeRequest] | None:
        """Every closed merge request with ``label`` (as :meth:`closed_issues`)."""
        with self._errors(f"listing closed merge requests labelled {label!r}"):
            pages = self._labelled("merge_request", label, "closed")
            if not _fits(pages, max_pages):
                return None
            return [self._mr(raw) for raw in pages]

    def user_id(self, username: str) -> int | None:
        """The id of the user called ``username``, None when there is none (cached)."""
        if username not in self._users:
            with self._errors(f"looking up user {username!r}"):
                found = self._client.users.list(
                    username=username, per_page=PER_PAGE, get_all=False, max_retries=self._retries
                )
            exact = [u for u in found if str(u.username).lower() == username.lower()]
            self._users[username] = int(exact[0].id) if exact else None
        return self._users[username]

    def recent_notes(self, on: Noteable, iid: int, limit: int = 20) -> list[str]:
        """Bodies of the newest ``limit`` notes of an issue or merge request (one request)."""
        with self._errors(f"reading notes of {_ref(on, iid)}"):
            parent = self._parent(on, iid)
            notes = parent.notes.list(
                order_by="created_at",
                sort="desc",
                per_page=min(limit, PER_PAGE),
                get_all=False,
                max_retries=self._retries,
            )
            return [str(n.body) for n in notes]

    def _parent(self, on: Noteable, iid: int) -> Any:
        manager = self._project.issues if on == "issue" else self._project.mergerequests
        return manager.get(iid, lazy=True)

    # ------------------------------------------------------------------ writes
    #
    # Creates are sent once, without python-gitlab's transient retries: a POST that the server
    # carried out before the answer was lost would be repeated and duplicate the issue, note or
    # merge request. The caller looks up what exists after an uncertain failure and only then
    # tries again. Updates, closes, commits with ``force`` and branch deletions are idempotent
    # and keep the retries.

    def create_issue(self, new: NewIssue) -> TrackedIssue:
        data: dict[str, Any] = {
            "title": new.title,
            "description": new.description,
            "labels": list(new.labels),
            "confidential": new.confidential,
        }
        if new.assignee_ids:
            data["assignee_ids"] = list(new.assignee_ids)
        with self._errors(f"creating issue {new.title!r}", write=True):
            raw = self._project.issues.create(data, retry_transient_errors=False)
        return self._issue(raw)

    def update_issue(
        self,
        iid: int,
        *,
        description: str | None = None,
        state_event: str | None = None,
        add_labels: Sequence[str] = (),
    ) -> None:
        self._update("issue", iid, description, state_event, add_labels)

    def _update(
        self,
        on: Noteable,
        iid: int,
        description: str | None,
        state_event: str | None,
        add_labels: Sequence[str] = (),
    ) -> None:
        """Change an issue's or merge request's description, state or labels (idempotent:
        retried)."""
        data: dict[str, Any] = {}
        if description is not None:
            data["description"] = description
        if state_event is not None:
            data["state_event"] = state_event
        if add_labels:
            data["add_labels"] = ",".join(add_labels)
        if not data:
            return
        manager = self._project.issues if on == "issue" else self._project.mergerequests
        with self._errors(f"updating {_ref(on, iid)}", write=True):
            manager.update(iid, data, max_retries=self._retries)

    def add_note(self, on: Noteable, iid: int, body: str) -> None:
        with self._errors(f"commenting on {_ref(on, iid)}", write=True):
            self._parent(on, iid).notes.create({"body": body}, retry_transient_errors=False)

    def current_user_id(self) -> int:
        """The id of the token's own user (fetched once)."""
        if self._me is None:
            with self._errors("reading the token's user"):
                self._client.auth()
            user = self._client.user
            self._me = int(user.id) if user is not None else 0
        return self._me

    def find_own_note(self, on: Noteable, iid: int, marker: str) -> TrackedNote | None:
        """The oldest note whose first line is ``marker`` and whose author is the token's own
        user: a look-alike written by anyone else is not ours (all pages are read)."""
        me = self.current_user_id()
        with self._errors(f"reading notes of {_ref(on, iid)}"):
            for raw in self._parent(on, iid).notes.list(
                order_by="created_at",
                sort="asc",
                per_page=PER_PAGE,
                iterator=True,
                max_retries=self._retries,
            ):
                body = str(raw.body or "")
                author = getattr(raw, "author", None) or {}
                author_id = int(author.get("id", 0)) if isinstance(author, dict) else 0
                if body.split("\n", 1)[0].strip() == marker and author_id == me:
                    return TrackedNote(id=int(raw.id), body=body, author_id=author_id)
        return None

    def edit_note(self, on: Noteable, iid: int, note_id: int, body: str) -> None:
        """Replace a note's body (idempotent, so retried)."""
        with self._errors(f"editing note {note_id} of {_ref(on, iid)}", write=True):
            note = self._parent(on, iid).notes.get(note_id, lazy=True)
            note.body = body
            note.save(max_retries=self._retries)

    def commit(
        self,
        *,
        branch: str,
        start_branch: str,
        message: str,
        changes: Sequence[FileChange],
    ) -> str:
        """One commit on ``branch``, (re)created from ``start_branch``: the branch then holds
        ``start_branch`` plus these changes, whatever it held before. Returns the commit id."""
        data = {
            "branch": branch,
            "start_branch": start_branch,
            "force": True,
            "commit_message": message,
            "actions": [
                {"action": c.action, "file_path": c.path, "content": c.content} for c in changes
            ],
        }
        with self._errors(f"committing to {branch}", write=True):
            raw = self._project.commits.create(data, max_retries=self._retries)
        return str(raw.id)

    def create_merge_request(self, new: NewMergeRequest) -> TrackedMergeRequest:
        data: dict[str, Any] = {
            "source_branch": new.source_branch,
            "target_branch": new.target_branch,
            "title": new.title,
            "description": new.description,
            "labels": list(new.labels),
            "remove_source_branch": True,
        }
        if new.assignee_ids:
            data["assignee_ids"] = list(new.assignee_ids)
        with self._errors(f"creating a merge request from {new.source_branch}", write=True):
            raw = self._project.mergerequests.create(data, retry_transient_errors=False)
        return self._mr(raw)

    def update_merge_request(
        self, iid: int, *, description: str | None = None, state_event: str | None = None
    ) -> None:
        self._update("merge_request", iid, description, state_event)

    def delete_branch(self, branch: str) -> None:
        """Delete ``branch``; a branch that is already gone is fine."""
        with contextlib.suppress(GitLabNotFound), self._errors(f"deleting branch {branch}"):
            self._project.branches.delete(branch, max_retries=self._retries)

    # ------------------------------------------------------------------ branches as facts

    @staticmethod
    def _commit_info(raw: Any) -> CommitInfo:
        get = raw.get if isinstance(raw, dict) else lambda k, d=None: getattr(raw, k, d)
        return CommitInfo(
            id=str(get("id", "")),
            message=str(get("message", "") or ""),
            committed_date=str(get("committed_date", "") or get("created_at", "") or ""),
            author_email=str(get("author_email", "") or ""),
            parent_ids=tuple(str(p) for p in (get("parent_ids", None) or ())),
        )

    def branch_head(self, branch: str) -> CommitInfo | None:
        """The commit ``branch`` points at, None when there is no such branch (one request)."""
        try:
            with self._errors(f"reading branch {branch}"):
                raw = self._project.branches.get(branch, max_retries=self._retries)
        except GitLabNotFound:
            return None
        return self._commit_info(raw.commit)

    def create_branch_commit(
        self, *, branch: str, start_branch: str, message: str, changes: Sequence[FileChange]
    ) -> CommitInfo | None:
        """Create ``branch`` from ``start_branch`` with one commit, only if it does not exist
        (GitLab refuses the commit then: None). Sent once; after an uncertain failure the
        caller reads the branch to see whose commit is there."""
        data = {
            "branch": branch,
            "start_branch": start_branch,
            "commit_message": message,
            "actions": [
                {"action": c.action, "file_path": c.path, "content": c.content} for c in changes
            ],
        }
        try:
            with self._errors(f"creating branch {branch}", write=True):
                raw = self._project.commits.create(data, retry_transient_errors=False)
        except GitLabRejected:
            return None  # the branch exists
        return self._commit_info(raw.attributes)

    def commit_if_unchanged(
        self, *, branch: str, message: str, change: FileChange, last_commit_id: str
    ) -> CommitInfo | None:
        """One commit on ``branch`` changing one file, only if the file's last commit is still
        ``last_commit_id`` (compare-and-swap through the commits API); None when it is not."""
        data = {
            "branch": branch,
            "commit_message": message,
            "actions": [
                {
                    "action": change.action,
                    "file_path": change.path,
                    "content": change.content,
                    "last_commit_id": last_commit_id,
                }
            ],
        }
        try:
            with self._errors(f"committing to {branch}", write=True):
                raw = self._project.commits.create(data, retry_transient_errors=False)
        except (GitLabRejected, GitLabNotFound):
            return None
        return self._commit_info(raw.attributes)

    def file_text(self, path: str, ref: str) -> str | None:
        """A file's text on ``ref``; None when it is not there (one request)."""
        try:
            with self._errors(f"reading {path} on {ref}"):
                raw = self._project.files.raw(file_path=path, ref=ref, max_retries=self._retries)
        except GitLabNotFound:
            return None
        data = raw if isinstance(raw, bytes) else bytes(raw or b"")
        return data.decode("utf-8", "replace")


def _fits(pages: Any, max_pages: int) -> bool:
    """Whether a lazy listing has at most ``max_pages`` pages. GitLab leaves the total out past
    10,000 items; unknown counts as too many."""
    total = getattr(pages, "total_pages", None)
    return total is not None and int(total) <= max_pages


def _ref(on: Noteable, iid: int) -> str:
    return f"issue #{iid}" if on == "issue" else f"merge request !{iid}"
