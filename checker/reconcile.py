"""``checker reconcile``: drift reports → GitLab issues, merge requests and the dashboard.

The run reads what GitLab holds (one paginated listing each of open drift issues, open merge
requests and, when configured, open support-ops requests), plans everything
(:mod:`checker.plan`, pure), prints the plan per org, then carries it out through one writer:
:class:`GitLabWriter`, or :class:`DryRunWriter` for ``--dry-run``. Nothing else writes.

Failures are data. A GitLab error on one org is recorded and the next org is tried; after an
authentication error, or several orgs in a row finding GitLab unavailable, the remaining orgs
are not attempted (nothing would succeed). The outcome says whether the run was incomplete.

Reruns are safe: every create is preceded by a lookup (the listings, or a search for the marker),
creates are sent without client retries, and after an uncertain failure the writer looks for
what the server may have stored before trying again. Notes carry a key and are not posted twice.

Reports are evidence only when they hold together (:mod:`checker.reportset`): org files are
found by org key in the current specs, never by a report's path. One writer at a time: a run
whose plan has writes takes the lock in GitLab (:mod:`checker.lock`), reads and plans again,
writes, and releases it; a run with nothing to write takes no lock. An adopt branch holding a
commit the checker did not make is never force-pushed over (one note on the merge request says
what Zendesk holds now).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from checker import first_run, reportset
from checker import plan as planning
from checker.domain.models import DriftReport, OrgSpec
from checker.domain.settings import Settings
from checker.gitlab import (
    FileChange,
    GitLabAuthError,
    GitLabConfig,
    GitLabError,
    GitLabPort,
    GitLabProject,
    GitLabRejected,
    GitLabUnavailable,
    NewIssue,
    NewMergeRequest,
    ProjectInfo,
    TrackedIssue,
    TrackedMergeRequest,
    connect,
)
from checker.lock import STALE_AFTER, LockBusy, LockLost, ReconcileLock
from checker.plan import (
    PLACEHOLDER_RE,
    Action,
    GitLabState,
    Lookup,
    Marker,
    Plan,
    PlanContext,
    ReportSetError,
    note_marker,
    with_marker,
)
from checker.render.oneline import one_line
from checker.render.tracker import Links, reference
from checker.reportset import CombinedReport

__all__ = [
    "ActionResult",
    "DryRunWriter",
    "GitLabWriter",
    "LockBusy",
    "ReconcileInputError",
    "ReconcileOutcome",
    "connect_from_env",
    "load_reports",
    "run_reconcile",
]

#: orgs in a row that found GitLab unavailable before the rest is given up
UNAVAILABLE_LIMIT = 3
#: attempts of one create (each after looking for what an uncertain failure may have stored)
CREATE_ATTEMPTS = 3
#: seconds a run waits for another run's lock before it gives up
DEFAULT_LOCK_WAIT = 600.0
#: the last line of every adoption commit: names the file content the checker wrote
COMMIT_TRAILER = "Zendesk-Drift-Checker"
#: the key of the one note saying a person's commits hold the adopt branch
HELD_NOTE = "adopt-held"
#: how adoption commits began before they carried the trailer
LEGACY_SUBJECT = "Adopt Zendesk's values for org "

#: held: planned by a first run, not carried out until it is confirmed (checker.first_run)
Status = Literal["done", "failed", "skipped", "dry-run", "held"]


#: The reports cannot be used (unreadable, invalid, contradictory, made with other settings,
#: naming files they must not, or not one complete set of shards). One type for every command
#: that reads reports.
ReconcileInputError = ReportSetError


# --------------------------------------------------------------------------- inputs


def load_reports(
    paths: Sequence[Path], settings: Settings, specs: Sequence[OrgSpec]
) -> list[DriftReport]:
    """Read the drift reports of one run and check them as evidence (one set, consistent,
    made with these settings and files: :func:`checker.reportset.load`).

    Raises :class:`ReconcileInputError` with a one-line reason naming the file."""
    return list(reportset.load(paths, settings, specs).reports)


def connect_from_env(environ: Mapping[str, str], settings: Settings) -> GitLabProject:
    """The GitLab project named by ``GITLAB_URL``/``GITLAB_TOKEN``/``GITLAB_PROJECT`` (CI
    defaults apply). Raises :class:`checker.gitlab.GitLabConfigError` naming what is missing."""
    return connect(GitLabConfig.from_env(environ), timeout=settings.request_timeout)


# --------------------------------------------------------------------------- outcome


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


@dataclass(frozen=True, slots=True)
class ReconcileOutcome:
    """What a run did. ``incomplete``: something planned was not done (the CLI's exit 4)."""

    dry_run: bool
    complete_reports: bool
    results: tuple[ActionResult, ...]
    #: (org, message) for every org whose actions failed or were not attempted
    failures: tuple[tuple[str, str], ...] = ()
    notices: tuple[str, ...] = ()
    unchanged_orgs: int = 0
    #: a held first run's summary (Markdown), see checker.first_run
    first_run: str | None = None
    #: why the lock was left behind (it could not be released), None when it was not
    lock_left: str | None = None

    @property
    def incomplete(self) -> bool:
        return self.lock_left is not None or any(
            r.status in ("failed", "skipped") for r in self.results
        )

    @property
    def auth_refused(self) -> bool:
        """GitLab refused the token (or its permissions) for some action: the CLI's exit 2."""
        return any(r.auth_refused for r in self.results)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    def counts(self) -> dict[str, int]:
        by_verb: dict[str, int] = {}
        for r in self.results:
            by_verb[r.action.verb] = by_verb.get(r.action.verb, 0) + 1
        return {
            "planned": len(self.results),
            "done": self.count("done"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "unchanged_orgs": self.unchanged_orgs,
            **{f"planned_{verb}": n for verb, n in sorted(by_verb.items())},
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, for a CI artifact: the counts and the executed plan."""
        return {
            "dry_run": self.dry_run,
            "complete_reports": self.complete_reports,
            "incomplete": self.incomplete,
            "counts": self.counts(),
            "failures": [{"org": org, "error": msg} for org, msg in self.failures],
            "notices": list(self.notices),
            "actions": [r.as_dict() for r in self.results],
        }


# --------------------------------------------------------------------------- writers


class Writer(Protocol):
    """Carries out one action; returns the web URL of what it created (or None)."""

    def execute(self, action: Action, urls: Mapping[str, str]) -> str | None: ...


class DryRunWriter:
    """Writes nothing: ``--dry-run``."""

    def execute(self, action: Action, urls: Mapping[str, str]) -> str | None:
        return None


class GitLabWriter:
    """Carries out actions against GitLab, idempotently (see the module docstring)."""

    def __init__(
        self,
        project: GitLabPort,
        info: ProjectInfo,
        ops: GitLabPort | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._project = project
        self._info = info
        self._ops = ops
        self._sleep = sleep

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
            body = PLACEHOLDER_RE.sub(
                lambda m: reference(urls.get(m.group(), fallback), self._info.web_url),
                action.body,
            )
        else:
            body = PLACEHOLDER_RE.sub(lambda m: urls.get(m.group(), fallback), action.body)
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
                self._sleep(0.5 * 2**attempt)
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
                self._sleep(0.5 * 2**attempt)

    # ------------------------------------------------------------------ merge requests

    def _merge_request(
        self, port: GitLabPort, action: Action, description: str | None
    ) -> str | None:
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
        return text is not None and planning.content_digest(text) == legacy_digest
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


# --------------------------------------------------------------------------- the run


def _repo_path(path: str, root: Path) -> str:
    """An org file's path relative to the repository root (where GitLab knows it)."""
    p = Path(path)
    try:
        absolute = p if p.is_absolute() else (Path.cwd() / p)
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return p.as_posix()


def _repository_root(config_dir: Path, env: Mapping[str, str]) -> Path:
    """Where GitLab's paths start: the CI job's checkout (CI_PROJECT_DIR) or the working
    directory when the config folder lies inside it (config_dir may sit deeper than the root,
    as examples/config does); otherwise the folder holding the config folder."""
    config = config_dir.resolve()
    for candidate in (env.get("CI_PROJECT_DIR"), os.getcwd()):
        if candidate and Path(candidate).resolve() in config.parents:
            return Path(candidate)
    return config_dir.parent


def _read_state(settings: Settings, project: GitLabPort, ops: GitLabPort | None) -> GitLabState:
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


def _answer(
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
                found = port.merge_requests_for_branch(
                    planning.branch_for(lookup.org), state="closed"
                )
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


def _print_plan(plan: Plan, out: Callable[[str], None], unchanged: int) -> None:
    for org_plan in plan.orgs:
        out(f"{org_plan.org}{' ' + org_plan.name if org_plan.name else ''}")
        for action in org_plan.actions:
            out(f"  {action.target}: {action.summary}")
    if plan.dashboard is not None:
        out(f"dashboard: {plan.dashboard.summary}")
    for notice in plan.notices:
        out(notice)
    verbs: dict[str, int] = {}
    for action in plan.actions:
        verbs[action.verb] = verbs.get(action.verb, 0) + 1
    out(
        "plan: "
        + ", ".join(
            f"{verbs.get(v, 0)} {label}"
            for v, label in (
                ("create", "to create"),
                ("update", "to update"),
                ("comment", "comments"),
                ("close", "to close"),
                ("reopen", "to reopen"),
            )
        )
        + (f"; {unchanged} orgs need nothing" if unchanged != 1 else "; 1 org needs nothing")
    )


def run_reconcile(
    settings: Settings,
    reports: list[DriftReport],
    specs: Sequence[OrgSpec],
    gitlab: GitLabPort,
    *,
    dry_run: bool,
    out: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
    read_file: Callable[[str], str | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    first_run_gate: bool = False,
    lock_wait: float = DEFAULT_LOCK_WAIT,
) -> ReconcileOutcome:
    """Plan every GitLab action for ``reports`` (shards of one run), print the plan, and carry
    it out unless ``dry_run``.

    Raises :class:`ReconcileInputError` when the reports are not one set, and
    :class:`checker.gitlab.GitLabError` when GitLab cannot be read at all (nothing planned);
    a lock that cannot be taken (another run holds it for ``lock_wait`` seconds) leaves every
    action "skipped";
    failures while writing are recorded per org in the outcome instead.
    ``read_file`` reads an org file by its repository path (default: below the folder holding
    ``settings.config_dir``); ``environ`` supplies ``CI_PROJECT_URL`` (default: os.environ).
    ``first_run_gate``: hold a first run's plan until it is confirmed (:mod:`checker.first_run`).
    """
    env = os.environ if environ is None else environ

    def say(line: str) -> None:
        # one line per fact: names, paths and GitLab's answers cannot forge more lines
        out(one_line(gitlab.scrub(line)))

    combined: CombinedReport = reportset.check_against(
        reports, reportset.combine(reports), settings, specs
    )
    root = _repository_root(settings.config_dir, env)
    specs = [replace(s, path=_repo_path(s.path, root)) for s in specs]
    by_key = {s.key: s for s in specs}
    # The org files an action touches are the current specs' files, found by org key; a
    # report's ``file`` was only compared (check_against) and is replaced by the spec's path.
    combined = replace(
        combined,
        orgs={
            k: replace(o, file=by_key[k].path) if k in by_key else o
            for k, o in combined.orgs.items()
        },
    )
    for key in sorted(combined.stale):
        say(f"{planning.key_text(key)}: its org file changed since the drift report; left as it is")
    reader = read_file or (lambda p: _read_text(root / p))
    files = {
        p: text for p in planning.files_needed(combined, specs) if (text := reader(p)) is not None
    }

    ops_ref = settings.gitlab.support_ops_project
    ops = gitlab.for_project(ops_ref) if ops_ref else None

    def plan_now(known: Mapping[Lookup, Any] | None = None) -> tuple[GitLabState, Plan]:
        state = _read_state(settings, gitlab, ops)
        if known:
            # Answers about closed and unlabelled issues stay true while we waited: anything
            # another run created carries the label and is in the fresh listings.
            state = replace(state, history=dict(known))
        repository_url = (
            settings.gitlab.repository_url or env.get("CI_PROJECT_URL") or state.project.web_url
        )
        ctx = PlanContext(settings, Links(repository_url, state.project.default_branch), files)
        plan = planning.make_plan(ctx, combined, specs, state)
        for _round in range(3):  # one round answers all in practice; the rest is a safety net
            if not plan.lookups:
                break
            history = {**state.history, **_answer(plan.lookups, settings, gitlab, ops)}
            state = replace(state, history=history)
            plan = planning.make_plan(ctx, combined, specs, state)
        return state, plan

    keys = {planning.key_text(k) for k in combined.orgs} | {planning.key_text(s.key) for s in specs}

    def gated(state: GitLabState, plan: Plan) -> tuple[Plan, first_run.FirstRun | None, int]:
        """The plan as it will run: a first run's is held but for the dashboard (decided before
        the lock, so that a held rerun that would write nothing takes no lock either)."""
        unchanged = len(keys - {p.org for p in plan.orgs})
        first = (
            first_run.hold(
                plan,
                state,
                env,
                unchanged=unchanged,
                labels=settings.gitlab.labels,
                confidential=settings.gitlab.confidential,
                title=settings.gitlab.dashboard_title,
            )
            if first_run_gate
            else None
        )
        return (first.plan if first is not None else plan), first, unchanged

    state, plan = plan_now()
    plan, first, unchanged = gated(state, plan)
    lock: ReconcileLock | None = None
    if not dry_run and not plan.actions:
        # Nothing to write: no lock is taken. One read tells whether a crashed run left one.
        with contextlib.suppress(GitLabError):
            ReconcileLock(gitlab, state.project.default_branch, env, say=say).clear_stale()
    if not dry_run and plan.actions:
        # Only a run with something to write takes the lock (an unchanged run costs no write),
        # then reads GitLab again: what another run did while we waited is seen, not redone.
        lock = ReconcileLock(
            gitlab, state.project.default_branch, env, wait=lock_wait, sleep=sleep, say=say
        )
        try:
            lock.acquire()
        except (LockBusy, GitLabError) as e:
            reason = f"the reconcile lock could not be taken: {e}"
            say(reason)
            _print_plan(plan, say, 0)
            return ReconcileOutcome(
                dry_run=False,
                complete_reports=combined.complete,
                results=tuple(ActionResult(a, "skipped", error=reason) for a in plan.actions),
                failures=(("lock", reason),),
                notices=plan.notices,
            )
    lock_left: str | None = None
    try:
        if lock is not None:
            state, plan = plan_now(state.history)
            plan, first, unchanged = gated(state, plan)
        _print_plan(plan, say, unchanged)
        writer: Writer = (
            DryRunWriter() if dry_run else GitLabWriter(gitlab, state.project, ops, sleep=sleep)
        )
        results, failures = _execute(plan, writer, dry_run, say, lock)
        if first is not None:
            say(first.summary)
            results.extend(ActionResult(a, "held") for a in first.held)
    finally:
        if lock is not None:
            try:
                lock.release()
            except GitLabError as e:
                lock_left = (
                    f"the reconcile lock could not be released ({e}); other runs wait for it "
                    f"until it is stale ({STALE_AFTER // 60} minutes)"
                )
                say(lock_left)
    outcome = ReconcileOutcome(
        dry_run=dry_run,
        complete_reports=combined.complete,
        results=tuple(results),
        failures=tuple(failures) + ((("lock", lock_left),) if lock_left else ()),
        notices=plan.notices,
        unchanged_orgs=unchanged,
        first_run=first.summary if first is not None else None,
        lock_left=lock_left,
    )
    if not dry_run and results:
        say(
            f"done: {outcome.count('done')} of {len(results)} actions"
            + (
                f"; {outcome.count('failed')} failed, {outcome.count('skipped')} not attempted"
                if outcome.incomplete
                else ""
            )
        )
    return outcome


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


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


def _execute(
    plan: Plan,
    writer: Writer,
    dry_run: bool,
    say: Callable[[str], None],
    lock: ReconcileLock | None = None,
) -> tuple[list[ActionResult], list[tuple[str, str]]]:
    run = _Run()
    breaker = _Breaker()
    groups: list[tuple[str, tuple[Action, ...]]] = [(p.org, p.actions) for p in plan.orgs]
    if plan.dashboard is not None:
        groups.append(("dashboard", (plan.dashboard,)))
    for org, actions in groups:
        if dry_run:
            run.results.extend(ActionResult(a, "dry-run") for a in actions)
            continue
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
            run.results.append(ActionResult(action, "done", url=url))
        breaker.record(error)
    return run.results, run.failures
