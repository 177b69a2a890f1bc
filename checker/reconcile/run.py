"""``checker reconcile``: drift reports → GitLab issues, merge requests and the dashboard.

The run reads what GitLab holds (one paginated listing each of open drift issues, open merge
requests and, when configured, open support-ops requests), plans everything
(:mod:`.plan`, pure), prints the plan per org, then carries it out through one writer
(:mod:`.execute`: :class:`GitLabWriter`, or :class:`DryRunWriter` for ``--dry-run``). Nothing
else writes. The outcome says whether the run was incomplete.

Reports are evidence only when they hold together (:mod:`.reportset`): org files are
found by org key in the current specs, never by a report's path. One writer at a time: a run
whose plan has writes takes the lock in GitLab (:mod:`.lock`), reads and plans again,
writes, and releases it; a run with nothing to write takes no lock.

Somewhat over 400 lines by reason: the run's order (read, plan, lock, plan again, write,
release) and its outcome read best in one place.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from checker.domain.models import DriftReport, OrgSpec
from checker.domain.settings import Settings
from checker.reconcile import first_run, reportset
from checker.reconcile.actions import Lookup, Plan
from checker.reconcile.execute import (
    ActionResult,
    DryRunWriter,
    GitLabWriter,
    Status,
    Writer,
    execute,
)
from checker.reconcile.history import answer, read_state
from checker.reconcile.lock import STALE_AFTER, LockBusy, ReconcileLock
from checker.reconcile.markers import (
    key_text,
)
from checker.reconcile.plan import make_plan, questions
from checker.reconcile.reportset import CombinedReport, ReportSetError
from checker.reconcile.state import GitLabState, PlanContext, files_needed
from checker.render.oneline import one_line
from checker.render.tracker import Links
from checker.tracker.gitlab import GitLabConfig, GitLabProject, connect
from checker.tracker.port import GitLabPort
from checker.tracker.types import (
    GitLabError,
)

__all__ = [
    "LockBusy",
    "ReconcileInputError",
    "ReconcileOutcome",
    "connect_from_env",
    "load_reports",
    "run_reconcile",
]

#: seconds a run waits for another run's lock before it gives up
DEFAULT_LOCK_WAIT = 600.0


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
    return connect(
        GitLabConfig.from_env(environ),
        timeout=settings.request_timeout,
        max_retries=settings.gitlab.retries,
    )


# --------------------------------------------------------------------------- outcome


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


@dataclass(frozen=True, slots=True)
class _Run:
    """What one run plans from: its settings, reports, org files and GitLab projects."""

    settings: Settings
    combined: CombinedReport
    specs: Sequence[OrgSpec]
    files: Mapping[str, str]
    gitlab: GitLabPort
    ops: GitLabPort | None
    env: Mapping[str, str]
    first_run_gate: bool

    def plan(self, known: Mapping[Lookup, Any] | None = None) -> tuple[GitLabState, Plan]:
        """Read GitLab, answer every question planning will ask (history up front), and plan
        once."""
        state = read_state(self.settings, self.gitlab, self.ops)
        if known:
            # Answers about closed and unlabelled issues stay true while we waited: anything
            # another run created carries the label and is in the fresh listings.
            state = replace(state, history=dict(known))
        repository_url = (
            self.settings.gitlab.repository_url
            or self.env.get("CI_PROJECT_URL")
            or state.project.web_url
        )
        links = Links(repository_url, state.project.default_branch)
        ctx = PlanContext(self.settings, links, self.files)
        asked = questions(ctx, self.combined, self.specs, state)
        if asked:
            answers = answer(asked, self.settings, self.gitlab, self.ops)
            state = replace(state, history={**state.history, **answers})
        return state, make_plan(ctx, self.combined, self.specs, state)

    def gated(self, state: GitLabState, plan: Plan) -> tuple[Plan, first_run.FirstRun | None, int]:
        """The plan as it will run: a first run's is held but for the dashboard (decided before
        the lock, so that a held rerun that would write nothing takes no lock either)."""
        keys = {key_text(k) for k in self.combined.orgs} | {key_text(s.key) for s in self.specs}
        unchanged = len(keys - {p.org for p in plan.orgs})
        if not self.first_run_gate:
            return plan, None, unchanged
        gitlab = self.settings.gitlab
        first = first_run.hold(
            plan,
            state,
            self.env,
            unchanged=unchanged,
            labels=gitlab.labels,
            confidential=gitlab.confidential,
            title=gitlab.dashboard_title,
        )
        return first.plan if first is not None else plan, first, unchanged


def _evidence(
    settings: Settings,
    reports: list[DriftReport],
    specs: Sequence[OrgSpec],
    root: Path,
    say: Callable[[str], None],
) -> tuple[CombinedReport, list[OrgSpec]]:
    """The reports combined and checked against the specs, org files found by org key in the
    current specs (a report's ``file`` was only compared, and is replaced by the spec's path)."""
    combined = reportset.check_against(reports, reportset.combine(reports), settings, specs)
    specs = [replace(s, path=_repo_path(s.path, root)) for s in specs]
    by_key = {s.key: s for s in specs}
    combined = replace(
        combined,
        orgs={
            k: replace(o, file=by_key[k].path) if k in by_key else o
            for k, o in combined.orgs.items()
        },
    )
    for key in sorted(combined.stale):
        say(f"{key_text(key)}: its org file changed since the drift report; left as it is")
    return combined, specs


def _lock_refused(plan: Plan, combined: CombinedReport, reason: str) -> ReconcileOutcome:
    return ReconcileOutcome(
        dry_run=False,
        complete_reports=combined.complete,
        results=tuple(ActionResult(a, "skipped", error=reason) for a in plan.actions),
        failures=(("lock", reason),),
        notices=plan.notices,
    )


def _release(lock: ReconcileLock, say: Callable[[str], None]) -> str | None:
    """Release ``lock``; what to tell when it could not be."""
    try:
        lock.release()
    except GitLabError as e:
        left = (
            f"the reconcile lock could not be released ({e}); other runs wait for it "
            f"until it is stale ({STALE_AFTER // 60} minutes)"
        )
        say(left)
        return left
    return None


def _say_done(outcome: ReconcileOutcome, say: Callable[[str], None]) -> None:
    say(
        f"done: {outcome.count('done')} of {len(outcome.results)} actions"
        + (
            f"; {outcome.count('failed')} failed, {outcome.count('skipped')} not attempted"
            if outcome.incomplete
            else ""
        )
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
    :class:`checker.tracker.types.GitLabError` when GitLab cannot be read at all (nothing
    planned); a lock that cannot be taken (another run holds it for ``lock_wait`` seconds)
    leaves every action "skipped"; failures while writing are recorded per org in the outcome.
    ``read_file`` reads an org file by its repository path (default: below the folder holding
    ``settings.config_dir``); ``environ`` supplies ``CI_PROJECT_URL`` (default: os.environ).
    ``first_run_gate``: hold a first run's plan until it is confirmed (:mod:`.first_run`).

    Longer than the house's 60 lines on purpose: the order of plan, lock, plan again, write and
    release is the run's safety argument, and it reads best in one place.
    """
    env = os.environ if environ is None else environ

    def say(line: str) -> None:
        # one line per fact: names, paths and GitLab's answers cannot forge more lines
        out(one_line(gitlab.scrub(line)))

    root = _repository_root(settings.config_dir, env)
    combined, specs = _evidence(settings, reports, specs, root, say)
    reader = read_file or (lambda p: _read_text(root / p))
    files = {p: text for p in files_needed(combined, specs) if (text := reader(p)) is not None}
    ops_ref = settings.gitlab.support_ops_project
    ops = gitlab.for_project(ops_ref) if ops_ref else None
    run = _Run(settings, combined, specs, files, gitlab, ops, env, first_run_gate)
    state, plan = run.plan()
    plan, first, unchanged = run.gated(state, plan)
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
            return _lock_refused(plan, combined, reason)
    lock_left: str | None = None
    try:
        if lock is not None:
            state, plan = run.plan(state.history)
            plan, first, unchanged = run.gated(state, plan)
        _print_plan(plan, say, unchanged)
        writer: Writer = (
            DryRunWriter()
            if dry_run
            else GitLabWriter(
                gitlab, state.project, ops, sleep=sleep, backoff=settings.gitlab.retry_backoff
            )
        )
        results, failures = execute(plan, writer, say, lock)
        if first is not None:
            say(first.summary)
            results.extend(ActionResult(a, "held") for a in first.held)
    finally:
        if lock is not None:
            lock_left = _release(lock, say)
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
        _say_done(outcome, say)
    return outcome


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
