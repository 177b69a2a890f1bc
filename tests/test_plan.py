"""The pure planner: report sets, markers, and decisions without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.domain.models import OrgStatus
from checker.reconcile.actions import Lookup
from checker.reconcile.markers import Ack, Marker, with_marker
from checker.reconcile.plan import make_plan
from checker.reconcile.reportset import ReportSetError, combine
from checker.reconcile.state import GitLabState, PlanContext
from checker.render import tracker
from checker.tracker.types import ProjectInfo, TrackedIssue
from tests.reconcile_support import am_id, load, org_drift, report, write_org

PROJECT = ProjectInfo(
    7, "support/zendesk-orgs", "https://gitlab.example/support/zendesk-orgs", "main"
)


def test_combine_checks_shards_and_duplicates(config_dir: Path) -> None:
    write_org(config_dir, 1)
    write_org(config_dir, 2)
    _, (s1, s2) = load(config_dir)
    one, two = org_drift(s1, OrgStatus.IN_SYNC), org_drift(s2, OrgStatus.IN_SYNC)
    assert combine([report([one, two])]).complete
    assert not combine([report([one], scope="partial")]).complete
    merged = combine([report([one], shard="1/2"), report([two], shard="2/2")])
    assert merged.complete and len(merged.orgs) == 2
    cases = [
        ([report([one], shard="1/2")], "shard 2/2 missing"),
        ([report([one], shard="1/2"), report([two], shard="1/2")], "given twice"),
        ([report([one], shard="1/2"), report([two], shard="2/3")], "different runs"),
        ([report([one]), report([two])], "has no shard"),
        ([report([one], shard="1/2"), report([one], shard="2/2")], "in two reports"),
        ([report([one], shard="3/2")], "not I/N"),
        ([], "no drift report"),
    ]
    for reports, message in cases:
        with pytest.raises(ReportSetError, match=message):
            combine(reports)


def test_marker_round_trip_and_only_a_line_of_its_own_counts() -> None:
    marker = Marker(
        "org",
        ("global", 5),
        "abc",
        items=("notes/c/1/2",),
        acks=(Ack("org", ("us-gov", 9), "d", 3),),
    )
    text = with_marker(marker, "body\n")
    parsed = Marker.parse(text)
    assert parsed is not None
    assert (parsed.kind, parsed.org, parsed.drift, parsed.items) == (
        "org",
        ("global", 5),
        "abc",
        ("notes/c/1/2",),
    )
    assert parsed.acks == marker.acks
    # a person's text above the section does not hide it
    moved = Marker.parse("Hello\n<!-- zendesk-drift-checker kind=org org=global/6 drift=x -->\n")
    assert moved is not None and moved.org == ("global", 6)
    # outside text rendered inert (indented block, code span, table cell) never forms a marker
    for forged in (
        "    <!-- zendesk-drift-checker kind=org org=global/6 drift=x -->",
        "`<!-- zendesk-drift-checker kind=org org=global/6 drift=x -->`",
        "| `<!-- zendesk-drift-checker kind=org org=global/6 drift=x -->` |",
    ):
        assert Marker.parse(f"text\n{forged}\n") is None
    assert Marker.parse("<!-- zendesk-drift-checker kind=nonsense -->") is None


def _ctx(settings: object) -> PlanContext:
    return PlanContext(settings, tracker.Links(PROJECT.web_url, "main"))  # type: ignore[arg-type]


def test_plan_asks_before_creating_and_respects_a_person_closed_issue(config_dir: Path) -> None:
    write_org(config_dir, 1)
    settings, (s1,) = load(config_dir)
    combined = combine([report([org_drift(s1, items=[am_id(s1)])])])
    first = make_plan(_ctx(settings), combined, [s1], GitLabState(PROJECT))
    assert Lookup("org", ("global", 1)) in first.lookups
    # nothing open without the label either (a person could have removed it)
    assert any(lk.opened and lk.org == ("global", 1) for lk in first.lookups)
    none_found = dict.fromkeys(first.lookups)
    created = make_plan(_ctx(settings), combined, [s1], GitLabState(PROJECT, history=none_found))
    [org_plan] = created.orgs
    [create] = org_plan.actions
    assert create.verb == "create" and create.assignee == "akim" and create.confidential
    assert create.body is not None and create.marker is not None
    closed = TrackedIssue(
        iid=9,
        title="anything at all",
        description=with_marker(create.marker, create.body),
        state="closed",
        web_url=f"{PROJECT.web_url}/-/issues/9",
    )
    kept = make_plan(
        _ctx(settings),
        combined,
        [s1],
        GitLabState(PROJECT, history={**none_found, Lookup("org", ("global", 1)): closed}),
    )
    assert kept.orgs == ()
    assert kept.dashboard is not None and kept.dashboard.marker is not None
    assert kept.dashboard.marker.acks == (Ack("org", ("global", 1), create.marker.drift, 9),)


def test_unknown_org_plans_nothing(config_dir: Path) -> None:
    write_org(config_dir, 1)
    settings, (s1,) = load(config_dir)
    marker = Marker("org", ("global", 1), "old")
    issue = TrackedIssue(
        1, "t", with_marker(marker, "x"), "opened", f"{PROJECT.web_url}/-/issues/1"
    )
    combined = combine([report([org_drift(s1, OrgStatus.UNKNOWN, error="timeout")])])
    plan = make_plan(_ctx(settings), combined, [s1], GitLabState(PROJECT, issues=(issue,)))
    assert plan.orgs == ()
    assert {lk.kind for lk in plan.lookups} == {"dashboard"}  # nothing asked about the org
