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

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from checker.reconcile.actions import Action, Plan
from checker.reconcile.lock import LockLost, ReconcileLock
from checker.reconcile.markers import Marker, content_digest, note_marker, with_marker
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


#: the last line of every adoption commit: names the file content the checker wrote
COMMIT_TRAILER = "Zendesk-Drift-Checker"


#: the key of the one note saying a person's commits hold the adopt branch
HELD_NOTE = "adopt-held"


#: how adoption commits began before they carried the trailer
LEGACY_SUBJECT = "Adopt Zendesk's values for org "


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
        description = self._description(action, urls)
        if action.target == "merge-request":
            return self._merge_request(port, action, description)
        return self._issue(port, action, description)

    def _description(self, action: Action, urls: Mapping[str, str]) -> str | None:
        if action.body is None or action.marker is None:
            return None
        fallback = f"{self._info.web_url}/-/issues"
        if action.target == "dashboard":  # the dashboard shows #12 and !3, not URLs
            body = fill(action.body, urls, fallback, lambda u: reference(u, self._info.web_url))
        else:
            body = fill(action.body, urls, fallback)
        return with_marker(action.marker, body, action.outside)

    # ------------------------------------------------------------------ issues

    def _issue(self, port: GitLabPort, action: Action, description: str | None) -> str | None:
        if action.verb == "create":
            assert description is not None and action.title is not None
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
        assert action.iid is not None
        if action.note:
            self._note_once(port, "issue", action.iid, action)
        port.update_issue(
            action.iid,
            description=description,
            state_event=action.state_event,
            add_labels=action.add_labels,
        )
        return None

    def _find_issue(self, port: GitLabPort, action: Action) -> str | None:
        """The open issue an uncertain create may have stored: same marker kind and org."""
        assert action.marker is not None
        label = action.labels[0] if action.labels else ""
        for issue in port.search_issues(action.search or "", label=label, state="opened"):
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
        self, port: GitLabPort, on: Literal["issue", "merge_request"], iid: int, action: Action
    ) -> None:
        assert action.note is not None
        body = action.note
        if action.note_key:
            marker = note_marker(action.note_key)
            if any(n.split("\n", 1)[0].strip() == marker for n in port.recent_notes(on, iid)):
                return  # posted by an earlier, interrupted run
            body = f"{marker}\n{body}"
        for attempt in range(CREATE_ATTEMPTS):
            try:
                port.add_note(on, iid, body)
                return
            except GitLabUnavailable:
                if action.note_key and any(
                    n.split("\n", 1)[0].strip() == note_marker(action.note_key)
                    for n in port.recent_notes(on, iid)
                ):
                    return
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                self._sleep(self._backoff * 2**attempt)

    # ------------------------------------------------------------------ merge requests

    def _merge_request(
        self, port: GitLabPort, action: Action, description: str | None
    ) -> str | None:
        """Close, update or create an adopt merge request with its branch. Over 60 lines on
        purpose: the order of branch, commit and merge request steps is what makes a rerun
        after any failed step safe, and it reads best in one place."""
        assert action.branch is not None
        if action.verb == "close":
            assert action.iid is not None
            if action.note:
                self._note_once(port, "merge_request", action.iid, action)
            # The branch goes first: while the merge request is open, a failed step is retried
            # on the next run (it is found open again); a closed one is never looked at again,
            # so closing first could leave the branch behind for good.
            port.delete_branch(action.branch)
            port.update_merge_request(action.iid, description=description, state_event="close")
            return None
        if action.content is not None and action.file_path is not None:
            ours = _branch_is_ours(port, action.branch, action.file_path, action.branch_digest)
            if ours is False:
                # A person pushed to the branch: never force-push over it.
                if action.verb == "update" and action.iid is not None and action.held_note:
                    _upsert_note(port, action.iid, HELD_NOTE, action.held_note)
                    if action.held_description is not None:
                        port.update_merge_request(action.iid, description=action.held_description)
                    return None
                raise GitLabRejected(
                    f"branch {action.branch} holds commits the checker did not make; "
                    "it was left as it is (delete it, or open the merge request by hand)"
                )
            # Rebuilt from the default branch each time: the branch holds exactly one commit
            # on top of it, whatever an earlier (possibly interrupted) run left there.
            port.commit(
                branch=action.branch,
                start_branch=self._info.default_branch,
                message=(action.commit_message or "Adopt Zendesk's values")
                + f"\n\n{COMMIT_TRAILER}: {_content_hash(action.content)}",
                changes=[FileChange(action.file_path, action.content)],
            )
        if action.verb == "update":
            assert action.iid is not None
            if action.note:
                self._note_once(port, "merge_request", action.iid, action)
            port.update_merge_request(action.iid, description=description)
            return None
        assert description is not None and action.title is not None
        new = NewMergeRequest(
            source_branch=action.branch,
            target_branch=self._info.default_branch,
            title=action.title,
            description=description,
            labels=action.labels,
        )

        def find() -> str | None:
            found = port.merge_requests_for_branch(action.branch or "", state="opened")
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


def _content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _branch_is_ours(
    port: GitLabPort, branch: str, path: str, legacy_digest: str | None = None
) -> bool | None:
    """Whether ``branch`` holds only what the checker wrote: its head commit carries the
    checker's trailer, and the org file there is the content that trailer names (a person's
    commit on top, or an amended file, fails one or the other). None: no such branch.

    A branch written before commits carried the trailer counts as ours when its head is the
    checker's adoption commit (by its message) and the file is what the merge request's marker
    recorded (``legacy_digest``)."""
    head = port.branch_head(branch)
    if head is None:
        return None
    found = re.search(rf"^{COMMIT_TRAILER}: ([0-9a-f]{{16}})$", head.message, re.MULTILINE)
    if found is None:
        if legacy_digest is None or not head.message.startswith(LEGACY_SUBJECT):
            return False
        text = port.file_text(path, branch)
        return text is not None and content_digest(text) == legacy_digest
    text = port.file_text(path, branch)
    return text is not None and _content_hash(text) == found.group(1)


def _upsert_note(port: GitLabPort, iid: int, key: str, body: str) -> None:
    """One note of the checker's own on merge request ``iid``, created once, then edited in
    place when its text changes (found by its marker line and by its author)."""
    marker = note_marker(key)
    text = f"{marker}\n{body}"
    existing = port.find_own_note("merge_request", iid, marker)
    if existing is None:
        port.add_note("merge_request", iid, text)
    elif existing.body.strip() != text.strip():
        port.edit_note("merge_request", iid, existing.id, text)


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
