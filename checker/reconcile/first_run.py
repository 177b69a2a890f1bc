"""The first run is a plan: nobody finds fifty confidential issues in their project one morning.

While the target project holds no checker issue or merge request yet (apart from a dashboard a
first run wrote), reconcile carries out only the dashboard, which says how many issues and merge
requests the checker will open and how to go ahead: ``CHECKER_FIRST_RUN_CONFIRMED=true`` (a CI/CD
variable, or one of the schedule). Every run redoes the plan until then. A first run that would
open nothing is not held: there is nothing to fear.

The decision (:func:`is_first_run`, :func:`hold`) is pure; reconcile calls :func:`hold` once
with the plan it made and carries out what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from checker.reconcile.actions import Action, CreateIssue, Plan, UpdateIssue
from checker.reconcile.markers import Marker, body_hash, outside_of
from checker.reconcile.state import GitLabState
from checker.render import tracker

__all__ = ["CONFIRM_VARIABLE", "PENDING", "FirstRun", "confirmed", "hold", "is_first_run"]

CONFIRM_VARIABLE = "CHECKER_FIRST_RUN_CONFIRMED"
#: a hidden line in the dashboard of a first run that waits for confirmation
PENDING = "<!-- zendesk-drift-checker:first-run-pending -->"
#: most orgs the dashboard lists one by one (the JSON plan has them all)
MAX_ROWS = 200


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What a held first run carries out (``plan``: the dashboard only), what it holds back,
    and its summary (Markdown: the dashboard's body, the job log, ``reconcile-plan.md``)."""

    plan: Plan
    held: tuple[Action, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class _Row:
    org: str
    name: str
    what: str


def confirmed(environ: Mapping[str, str]) -> bool:
    return environ.get(CONFIRM_VARIABLE, "").strip().lower() in ("true", "1", "yes")


def is_first_run(state: GitLabState) -> bool:
    """No checker issue or merge request is open, apart from a first run's own dashboard."""
    for issue in (*state.issues, *state.ops_issues):
        marker = Marker.parse(issue.description)
        if marker is None:
            continue
        if marker.kind == "dashboard" and PENDING in issue.description:
            continue
        return False
    return not any(Marker.parse(mr.description) for mr in state.merge_requests)


def _count(actions: tuple[Action, ...], target: str) -> int:
    return sum(1 for a in actions if a.target == target and a.verb in ("create", "reopen"))


def _summary(plan: Plan, held: tuple[Action, ...], unchanged: int, confidential: bool) -> str:
    rows = [
        _Row(p.org, p.name, "; ".join(a.summary for a in p.actions)) for p in plan.orgs if p.actions
    ]
    return tracker.render(
        "first_run.md.j2",
        pending=tracker.Inert(PENDING),
        issues=_count(held, "issue"),
        ops=_count(held, "support-ops"),
        mrs=_count(held, "merge-request"),
        orgs=len(rows),
        unchanged=unchanged,
        confidential=tracker.Inert("confidential" if confidential else "not confidential"),
        variable=tracker.Inert(CONFIRM_VARIABLE),
        rows=rows[:MAX_ROWS],
        more=max(0, len(rows) - MAX_ROWS),
    )


def _dashboard(plan: Plan, state: GitLabState, body: str, title: str) -> Action | None:
    """The action that makes the dashboard show ``body`` (None when it already does)."""
    marker = Marker("dashboard")
    for issue in state.issues:
        found = Marker.parse(issue.description)
        if found is not None and found.kind == "dashboard" and PENDING in issue.description:
            if found.body == body_hash(body):
                return None
            return UpdateIssue(
                org="dashboard",
                target="dashboard",
                summary=f"update #{issue.iid}: the first run's plan",
                iid=issue.iid,
                body=body,
                marker=marker,
                outside=outside_of(issue.description),  # what people wrote around it stays
            )
    if isinstance(plan.dashboard, CreateIssue | UpdateIssue) and plan.dashboard.verb in (
        "create",
        "reopen",
    ):
        return replace(
            plan.dashboard,
            summary=f"{plan.dashboard.verb}: the first run's plan",
            body=body,
            marker=marker,
        )
    return CreateIssue(
        org="dashboard",
        target="dashboard",
        summary="create: the first run's plan",
        title=title,
        body=body,
        marker=marker,
        search=title,
    )


def hold(
    plan: Plan,
    state: GitLabState,
    environ: Mapping[str, str],
    *,
    unchanged: int,
    labels: tuple[str, ...],
    confidential: bool,
    title: str,
) -> FirstRun | None:
    """The first run's held plan, or None when the plan is to be carried out as it is."""
    if confirmed(environ) or not is_first_run(state):
        return None
    held = tuple(a for p in plan.orgs for a in p.actions)
    if not any(a.verb in ("create", "reopen") for a in held):
        return None
    summary = _summary(plan, held, unchanged, confidential)
    dashboard = _dashboard(plan, state, summary, title)
    if isinstance(dashboard, CreateIssue):
        dashboard = replace(dashboard, labels=labels, confidential=confidential)
    notice = (
        f"first run: nothing is opened but the dashboard; {len(held)} actions are held until "
        f"{CONFIRM_VARIABLE}=true (see reports/reconcile-plan.md)"
    )
    return FirstRun(
        plan=Plan(orgs=(), dashboard=dashboard, notices=(*plan.notices, notice)),
        held=held,
        summary=summary,
    )
