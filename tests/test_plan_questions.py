"""History up front: :func:`questions` names every question planning will ask, so that one
round of answers lets :func:`make_plan` plan once with nothing left unanswered."""

from __future__ import annotations

from pathlib import Path

from checker.reconcile.actions import CreateIssue, Lookup
from checker.reconcile.markers import Ack, Marker, with_marker
from checker.reconcile.plan import make_plan, questions
from checker.reconcile.reportset import combine
from checker.reconcile.state import GitLabState, PlanContext
from checker.render import tracker
from checker.tracker.types import ProjectInfo, TrackedIssue
from tests.reconcile_support import am_id, load, org_drift, report, write_org

PROJECT = ProjectInfo(
    7, "support/zendesk-orgs", "https://gitlab.example/support/zendesk-orgs", "main"
)


def _ctx(settings: object) -> PlanContext:
    return PlanContext(settings, tracker.Links(PROJECT.web_url, "main"))  # type: ignore[arg-type]


def _dashboard(*acks: Ack) -> TrackedIssue:
    description = with_marker(Marker("dashboard", acks=acks), "the dashboard\n")
    return TrackedIssue(
        1, "Zendesk drift dashboard", description, "opened", f"{PROJECT.web_url}/-/issues/1"
    )


def test_one_round_answers_what_used_to_take_two(config_dir: Path) -> None:
    """A person accepted older drift (the dashboard remembers it): the org's new drift needs
    both whether an issue is open unlabelled and whether one was closed, asked together."""
    write_org(config_dir, 1)
    settings, (s1,) = load(config_dir)
    combined = combine([report([org_drift(s1, items=[am_id(s1)])])])
    state = GitLabState(PROJECT, issues=(_dashboard(Ack("org", ("global", 1), "old", 9)),))
    asked = questions(_ctx(settings), combined, [s1], state)
    assert Lookup("org", ("global", 1)) in asked
    assert any(lk.opened and lk.org == ("global", 1) for lk in asked)
    answered = GitLabState(PROJECT, issues=state.issues, history=dict.fromkeys(asked))
    plan = make_plan(_ctx(settings), combined, [s1], answered)
    assert plan.lookups == ()
    [org_plan] = plan.orgs
    [create] = org_plan.actions
    assert isinstance(create, CreateIssue) and create.target == "issue"


def test_nothing_to_ask_when_everything_is_open(config_dir: Path) -> None:
    write_org(config_dir, 1)
    settings, (s1,) = load(config_dir)
    combined = combine([report([org_drift(s1, items=[am_id(s1)])])])
    first = make_plan(
        _ctx(settings),
        combined,
        [s1],
        GitLabState(
            PROJECT,
            history=dict.fromkeys(questions(_ctx(settings), combined, [s1], GitLabState(PROJECT))),
        ),
    )
    [create] = first.orgs[0].actions
    assert create.marker is not None and create.body is not None
    issue = TrackedIssue(
        2,
        create.title or "",
        with_marker(create.marker, create.body),
        "opened",
        f"{PROJECT.web_url}/-/issues/2",
    )
    state = GitLabState(PROJECT, issues=(_dashboard(), issue))
    assert questions(_ctx(settings), combined, [s1], state) == ()
    assert make_plan(_ctx(settings), combined, [s1], state).lookups == ()
