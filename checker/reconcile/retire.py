"""``checker retire``: the way back. Closes every open checker issue (drift issues, support-ops
requests, the dashboard) and merge request with a note saying why, and deletes the branches of
those merge requests, through the same writer reconcile uses (idempotent: notes carry a key, a
rerun after a failure finishes the job).

What the checker wrote is recognised by the hidden marker on the first line of its
descriptions, never by title or label alone: an issue a person labelled by hand is left alone.
Closed drift issues get their marker's drift set to "resolved", so that if the checker is ever
resumed, its old issues do not read as "closed by a person, leave this drift alone": the
resumed checker starts with a first-run plan (:mod:`checker.reconcile.first_run`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from checker.domain.settings import Settings
from checker.reconcile.actions import Action, CloseIssue, CloseMergeRequest
from checker.reconcile.execute import ActionResult, DryRunWriter, GitLabWriter, Writer
from checker.reconcile.lock import LockBusy, ReconcileLock
from checker.reconcile.markers import RESOLVED, Marker, body_of, key_text
from checker.render.oneline import one_line
from checker.tracker.port import GitLabPort
from checker.tracker.types import GitLabError, TrackedIssue, TrackedMergeRequest

__all__ = ["NOTE", "RetireOutcome", "plan_retire", "run_retire"]

NOTE = (
    "The Zendesk org checker was retired from this project (`checker retire`): it no longer "
    "compares the org files with Zendesk, and it will not update or close this again. Whatever "
    "this described was **not** resolved by the checker; close it or follow it up by hand.\n"
)
NOTE_KEY = "retired"


@dataclass(frozen=True, slots=True)
class RetireOutcome:
    dry_run: bool
    results: tuple[ActionResult, ...]

    @property
    def incomplete(self) -> bool:
        return any(r.status == "failed" for r in self.results)


def _issue_action(issue: TrackedIssue, marker: Marker, support_ops: bool) -> Action:
    if marker.kind == "dashboard":
        what, org = "the dashboard", "dashboard"
        return CloseIssue(
            org=org,
            target="dashboard",
            summary=f"close #{issue.iid} ({what})",
            iid=issue.iid,
            note=NOTE,
            note_key=NOTE_KEY,
        )
    org = key_text(marker.org) if marker.org else "?"
    return CloseIssue(
        org=org,
        target="support-ops" if support_ops else "issue",
        summary=f"close #{issue.iid}: {issue.title}",
        iid=issue.iid,
        note=NOTE,
        note_key=NOTE_KEY,
        body=body_of(issue.description),
        marker=replace(marker, drift=RESOLVED),
    )


def plan_retire(
    issues: Sequence[TrackedIssue],
    merge_requests: Sequence[TrackedMergeRequest],
    ops_issues: Sequence[TrackedIssue] = (),
) -> list[Action]:
    """Every close the retirement needs: org issues and support-ops requests first, then merge
    requests (with their branches), the dashboard last."""
    actions: list[Action] = []
    dashboards: list[Action] = []
    for found, ops in ((issues, False), (ops_issues, True)):
        for issue in found:
            marker = Marker.parse(issue.description)
            if marker is None or not issue.is_open:
                continue
            action = _issue_action(issue, marker, ops)
            (dashboards if marker.kind == "dashboard" else actions).append(action)
    for mr in merge_requests:
        marker = Marker.parse(mr.description)
        if marker is None or not mr.is_open:
            continue
        actions.append(
            CloseMergeRequest(
                org=key_text(marker.org) if marker.org else "?",
                summary=f"close !{mr.iid} and delete branch {mr.source_branch}: {mr.title}",
                iid=mr.iid,
                note=NOTE,
                note_key=NOTE_KEY,
                body=body_of(mr.description),
                marker=replace(marker, drift=RESOLVED),
                branch=mr.source_branch,
            )
        )
    return actions + dashboards


def run_retire(
    settings: Settings,
    gitlab: GitLabPort,
    *,
    dry_run: bool,
    out: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
    lock_wait: float = 600.0,
) -> RetireOutcome:
    """Read what the checker left open, print it, and close it unless ``dry_run`` (holding the
    reconcile lock, :mod:`checker.reconcile.lock`, while it writes).

    Raises :class:`checker.gitlab.GitLabError` when GitLab cannot be read (nothing done);
    a failure while closing one thing is recorded and the rest is still tried."""
    label = settings.gitlab.labels[0]
    info = gitlab.info()
    ops_ref = settings.gitlab.support_ops_project
    ops = gitlab.for_project(ops_ref) if ops_ref else None
    backoff = settings.gitlab.retry_backoff

    def plan_now() -> list[Action]:
        ops_issues: list[TrackedIssue] = []
        if ops is not None and ops.info().id != info.id:
            ops_issues = ops.open_issues(label)
        return plan_retire(gitlab.open_issues(label), gitlab.open_merge_requests(label), ops_issues)

    def say(line: str) -> None:
        out(one_line(gitlab.scrub(line)))

    actions = plan_now()
    if dry_run or not actions:
        writer: Writer = (
            DryRunWriter() if dry_run else GitLabWriter(gitlab, info, ops, backoff=backoff)
        )
        return _carry_out(actions, writer, say)
    # One writer at a time, as reconcile: a reconcile run writing now would otherwise reopen or
    # recreate what this closes. After taking the lock, read again and close what is open then.
    lock = ReconcileLock(gitlab, info.default_branch, environ or {}, wait=lock_wait, say=say)
    try:
        lock.acquire()
    except (LockBusy, GitLabError) as e:
        reason = f"the reconcile lock could not be taken: {e}; nothing was closed"
        say(reason)
        return RetireOutcome(False, tuple(ActionResult(a, "failed", error=reason) for a in actions))
    try:
        return _carry_out(plan_now(), GitLabWriter(gitlab, info, ops, backoff=backoff), say)
    finally:
        try:
            lock.release()
        except GitLabError as e:
            say(f"the reconcile lock could not be released ({e}); it goes stale by itself")


def _carry_out(
    actions: Sequence[Action], writer: Writer, say: Callable[[str], None]
) -> RetireOutcome:
    results: list[ActionResult] = []
    for action in actions:
        try:
            writer.execute(action, {})
        except GitLabError as e:
            say(f"{action.summary}: failed: {e}")
            results.append(ActionResult(action, "failed", error=str(e)))
            continue
        say(f"would {action.summary}" if writer.status == "dry-run" else f"{action.summary}: done")
        results.append(ActionResult(action, writer.status))
    if not actions:
        say("nothing to retire: no open issue or merge request of the checker")
    return RetireOutcome(writer.status == "dry-run", tuple(results))
