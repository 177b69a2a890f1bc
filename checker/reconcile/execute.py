"""Carrying out a plan: one writer per run, the only place that writes to GitLab.

:class:`GitLabWriter` writes; :class:`DryRunWriter` (``--dry-run``) writes nothing and is the
only dry-run switch: :func:`execute` runs every plan through the same loop whichever writer it is
given, and records each action with the writer's :attr:`~Writer.status`.

Failures are data. A GitLab error on one org is recorded and the next org is tried; after an
authentication error, or several orgs in a row finding GitLab unavailable, the remaining orgs
are not attempted (nothing would succeed).

Reruns are safe: every create is preceded by a lookup (the listings, or a search for the marker),
creates are sent without client retries, and after an uncertain failure the writer looks for
what the server may have stored before trying again. Notes carry a key and are not posted twice.
An adopt branch holding a commit the checker did not make is never force-pushed over (one note on
the merge request says what Zendesk holds now).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from checker.reconcile.actions import (
    Action,
    CloseDuplicate,
    CloseIssue,
    CloseMergeRequest,
    CreateIssue,
    CreateMergeRequest,
    Plan,
    UpdateIssue,
    UpdateMergeRequest,
)
from checker.reconcile.branch import (
    COMMIT_TRAILER,
    HELD_NOTE,
    branch_is_ours,
    content_hash,
    held,
    upsert_note,
)
from checker.reconcile.lock import LockLost, ReconcileLock
from checker.reconcile.markers import Marker, note_marker, with_marker
from checker.reconcile.placeholders import fill
from checker.render.tracker import reference
from checker.tracker.port import GitLabPort
from checker.tracker.types import (
    FileChange,
    GitLabAuthError,
    GitLabError,
    GitLabRejected,
    GitLabUnavailable,
    NewIssue,
    NewMergeRequest,
    ProjectInfo,
)

#: orgs in a row that found GitLab unavailable before the rest is given up
UNAVAILABLE_LIMIT = 3


#: attempts of one create (each after looking for what an uncertain failure may have stored)
CREATE_ATTEMPTS = 3


#: held: planned by a first run, not carried out until it is confirmed (checker.reconcile.first_run)
Status = Literal["done", "failed", "skipped", "dry-run", "held"]


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Action
    status: Status
    url: str | None = None
    error: str | None = None
    auth_refused: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.action.as_dict(),
            "status": self.status,
            "url": self.url,
            "error": self.error,
        }


class Writer(Protocol):
    """Carries out one action; returns the web URL of what it created (or None)."""

    #: what an action this writer carried out is recorded as
    @property
    def status(self) -> Status: ...

    def execute(self, action: Action, urls: Mapping[str, str]) -> str | None: ...


class DryRunWriter:
    """Writes nothing: ``--dry-run`` (the only dry-run switch; see the module docstring)."""

    status: Status = "dry-run"

    def execute(self, action: Action, urls: Mapping[str, str]) -> str | None:
        return None


class GitLabWriter:
    """Carries out actions against GitLab, idempotently (see the module docstring)."""

    status: Status = "done"

    def __init__(
        self,
        project: GitLabPort,
        info: ProjectInfo,
        ops: GitLabPort | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
    ) -> None:
        self._project = project
        self._info = info
        self._ops = ops
        self._sleep = sleep
        self._backoff = backoff

    def execute(self, action: Action, urls: Mapping[str, str]) -> str | None:
        port = self._ops if action.target == "support-ops" and self._ops else self._project
        match action:
            case CreateIssue():
                return self._create_issue(port, action, urls)
            case UpdateIssue(iid=iid, note=note, note_key=key):
                if note:
                    self._note_once(port, "issue", iid, note, key)
                port.update_issue(
                    iid,
                    description=self._description(action, urls),
                    state_event="reopen" if action.reopen else None,
                    add_labels=action.add_labels,
                )
            case CloseIssue(iid=iid) | CloseDuplicate(iid=iid):
                self._note_once(port, "issue", iid, action.note, action.note_key)
                description = (
                    self._description(action, urls) if isinstance(action, CloseIssue) else None
                )
                port.update_issue(iid, description=description, state_event="close")
            case CreateMergeRequest():
                return self._create_merge_request(port, action, urls)
            case UpdateMergeRequest():
                self._update_merge_request(port, action, urls)
            case CloseMergeRequest(iid=iid, branch=branch):
                self._note_once(port, "merge_request", iid, action.note, action.note_key)
                # The branch goes first: while the merge request is open, a failed step is
                # retried on the next run (it is found open again); a closed one is never
                # looked at again, so closing first could leave the branch behind for good.
                port.delete_branch(branch)
                description = self._description(action, urls)
                port.update_merge_request(iid, description=description, state_event="close")
        return None

    def _description(
        self,
        action: CreateIssue
        | UpdateIssue
        | CloseIssue
        | CreateMergeRequest
        | UpdateMergeRequest
        | CloseMergeRequest,
        urls: Mapping[str, str],
    ) -> str | None:
        if action.body is None or action.marker is None:
            return None
        fallback = f"{self._info.web_url}/-/issues"
        if action.target == "dashboard":  # the dashboard shows #12 and !3, not URLs
            body = fill(action.body, urls, fallback, lambda u: reference(u, self._info.web_url))
        else:
            body = fill(action.body, urls, fallback)
        outside = (
            ("", "") if isinstance(action, CreateIssue | CreateMergeRequest) else action.outside
        )
        return with_marker(action.marker, body, outside)

    # ------------------------------------------------------------------ issues

    def _create_issue(self, port: GitLabPort, action: CreateIssue, urls: Mapping[str, str]) -> str:
        description = self._description(action, urls)
        assert description is not None  # a create always has a body and a marker
        assignees: tuple[int, ...] = ()
        if action.assignee:
            user = port.user_id(action.assignee)
            assignees = (user,) if user is not None else ()
        new = NewIssue(
            title=action.title,
            description=description,
            labels=action.labels,
            confidential=action.confidential,
            assignee_ids=assignees,
        )
        return self._create_once(
            lambda: port.create_issue(new).web_url,
            lambda: self._find_issue(port, action),
        )

    def _find_issue(self, port: GitLabPort, action: CreateIssue) -> str | None:
        """The open issue an uncertain create may have stored: same marker kind and org."""
        label = action.labels[0] if action.labels else ""
        for issue in port.search_issues(action.search, label=label, state="opened"):
            marker = Marker.parse(issue.description)
            if marker and (marker.kind, marker.org) == (action.marker.kind, action.marker.org):
                return issue.web_url
        return None

    def _create_once(self, create: Callable[[], str], find: Callable[[], str | None]) -> str:
        """Create, and after a failure that may have stored it, look before trying again."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return create()
            except GitLabUnavailable:
                found = find()
                if found is not None:
                    return found
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                self._sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_once(
        self,
        port: GitLabPort,
        on: Literal["issue", "merge_request"],
        iid: int,
        note: str,
        key: str | None,
    ) -> None:
        body = note
        if key:
            marker = note_marker(key)
            if any(n.split("\n", 1)[0].strip() == marker for n in port.recent_notes(on, iid)):
                return  # posted by an earlier, interrupted run
            body = f"{marker}\n{body}"
        for attempt in range(CREATE_ATTEMPTS):
            try:
                port.add_note(on, iid, body)
                return
            except GitLabUnavailable:
                if key and any(
                    n.split("\n", 1)[0].strip() == note_marker(key)
                    for n in port.recent_notes(on, iid)
                ):
                    return
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                self._sleep(self._backoff * 2**attempt)

    # ------------------------------------------------------------------ merge requests

    def _commit(
        self, port: GitLabPort, branch: str, path: str, content: str, message: str | None
    ) -> None:
        """Rebuilt from the default branch each time: the branch holds exactly one commit on
        top of it, whatever an earlier (possibly interrupted) run left there."""
        port.commit(
            branch=branch,
            start_branch=self._info.default_branch,
            message=(message or "Adopt Zendesk's values")
            + f"\n\n{COMMIT_TRAILER}: {content_hash(content)}",
            changes=[FileChange(path, content)],
        )

    def _update_merge_request(
        self, port: GitLabPort, action: UpdateMergeRequest, urls: Mapping[str, str]
    ) -> None:
        """A new commit when the file changed (never over a person's: then the held note is
        told once), the note, then the description."""
        if action.content is not None and action.file_path is not None:
            path, content = action.file_path, action.content
            if branch_is_ours(port, action.branch, path, action.branch_digest) is False:
                if not action.held_note:
                    raise held(action.branch)
                upsert_note(port, action.iid, HELD_NOTE, action.held_note)
                if action.held_description is not None:
                    port.update_merge_request(action.iid, description=action.held_description)
                return
            self._commit(port, action.branch, path, content, action.commit_message)
        if action.note:
            self._note_once(port, "merge_request", action.iid, action.note, action.note_key)
        port.update_merge_request(action.iid, description=self._description(action, urls))

    def _create_merge_request(
        self, port: GitLabPort, action: CreateMergeRequest, urls: Mapping[str, str]
    ) -> str:
        """The branch's commit (never over a person's), then the merge request, once."""
        if branch_is_ours(port, action.branch, action.file_path) is False:
            raise held(action.branch)
        self._commit(port, action.branch, action.file_path, action.content, action.commit_message)
        description = self._description(action, urls)
        assert description is not None  # a create always has a body and a marker
        new = NewMergeRequest(
            source_branch=action.branch,
            target_branch=self._info.default_branch,
            title=action.title,
            description=description,
            labels=action.labels,
        )

        def find() -> str | None:
            found = port.merge_requests_for_branch(action.branch, state="opened")
            return found[0].web_url if found else None

        def create() -> str:
            try:
                return port.create_merge_request(new).web_url
            except GitLabRejected:
                # 409: an open merge request from this branch exists (an earlier attempt)
                found = find()
                if found is None:
                    raise
                return found

        return self._create_once(create, find)


@dataclass
class _Breaker:
    """Stops attempting orgs once GitLab clearly cannot be written to."""

    consecutive_unavailable: int = 0
    reason: str | None = None

    def record(self, error: GitLabError | None) -> None:
        if error is None:
            self.consecutive_unavailable = 0
        elif isinstance(error, GitLabAuthError):
            self.reason = f"GitLab refused the token: {error}"
        elif isinstance(error, GitLabUnavailable):
            self.consecutive_unavailable += 1
            if self.consecutive_unavailable >= UNAVAILABLE_LIMIT:
                self.reason = f"GitLab unavailable for {UNAVAILABLE_LIMIT} orgs in a row"


@dataclass
class _Run:
    results: list[ActionResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)


def execute(
    plan: Plan,
    writer: Writer,
    say: Callable[[str], None],
    lock: ReconcileLock | None = None,
) -> tuple[list[ActionResult], list[tuple[str, str]]]:
    """Carry out ``plan`` org by org through ``writer`` (keeping ``lock`` alive between orgs):
    the results of every action and the failures by org."""
    run = _Run()
    breaker = _Breaker()
    groups: list[tuple[str, tuple[Action, ...]]] = [(p.org, p.actions) for p in plan.orgs]
    if plan.dashboard is not None:
        groups.append(("dashboard", (plan.dashboard,)))
    for org, actions in groups:
        if lock is not None and breaker.reason is None:
            try:
                lock.keep()
            except (LockLost, GitLabError) as e:
                breaker.reason = f"the lock could not be kept: {e}"
        if breaker.reason is not None:
            run.results.extend(ActionResult(a, "skipped", error=breaker.reason) for a in actions)
            run.failures.append((org, f"not attempted: {breaker.reason}"))
            continue
        error: GitLabError | None = None
        for n, action in enumerate(actions):
            try:
                url = writer.execute(action, run.urls)
            except GitLabError as e:
                error = e
                message = str(e)
                say(f"{org}: {action.target} {action.verb} failed: {message}")
                run.results.append(
                    ActionResult(
                        action,
                        "failed",
                        error=message,
                        auth_refused=isinstance(e, GitLabAuthError),
                    )
                )
                run.results.extend(
                    ActionResult(a, "skipped", error=f"after a failure: {message}")
                    for a in actions[n + 1 :]
                )
                run.failures.append((org, message))
                break
            if url is not None and action.provides is not None:
                run.urls[action.provides] = url
            run.results.append(ActionResult(action, writer.status, url=url))
        breaker.record(error)
    return run.results, run.failures
