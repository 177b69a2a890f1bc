"""People are allowed to touch things: edited descriptions, titles and labels, duplicates left
by a crash. Each case runs reconcile against the loopback GitLab server and asserts what the
server holds afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.models import OrgSpec, OrgStatus
from checker.reconcile.markers import Marker
from checker.reconcile.section import END_LINE
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    am_id,
    drift_issues,
    load,
    notes_of,
    org_drift,
    report,
    seed_repo,
    write_org,
)

LABEL = "zendesk-drift"
DASHBOARD = "Zendesk drift dashboard"


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def run(server: FakeGitLab, config_dir: Path) -> Runner:
    for org_id in (101, 102):
        write_org(config_dir, org_id)
    settings, specs = load(config_dir)
    seed_repo(server, config_dir)
    return Runner(server, settings, specs)


def spec(run: Runner, org_id: int) -> OrgSpec:
    return next(s for s in run.specs if s.org_id == org_id)


def drifted(run: Runner, actual: int = 1) -> object:
    s1, s2 = spec(run, 101), spec(run, 102)
    return report([org_drift(s1, items=[am_id(s1, actual)]), org_drift(s2, OrgStatus.IN_SYNC)])


def dashboards(server: FakeGitLab) -> list[dict[str, object]]:
    return [
        i
        for i in server.issues
        if (m := Marker.parse(str(i["description"] or ""))) is not None and m.kind == "dashboard"
    ]


def test_text_around_the_section_a_new_title_and_a_moved_marker_are_kept(run: Runner) -> None:
    server = run.server
    run(drifted(run))  # type: ignore[arg-type]
    [issue] = drift_issues(server)
    above = "**CSM note:** talked to the customer on Monday.\n\n/label ~urgent\n"
    below = "\n---\nFollow-up: ask support ops on Friday."
    issue["description"] = above + str(issue["description"]) + below
    issue["title"] = "Acme: please look at this"

    run(drifted(run, actual=2))  # type: ignore[arg-type]  # the drift changed
    assert len(server.issues) == 2  # the one drift issue and the dashboard: nothing new
    [issue] = [i for i in server.issues if i["title"] == "Acme: please look at this"]
    text = str(issue["description"])
    assert text.startswith(above) and text.endswith(below)
    assert "· Zendesk: 2 ·" in text and END_LINE in text
    assert any("The drift changed" in n for n in notes_of(issue))
    assert issue["state"] == "opened"

    server.reset_log()
    run(drifted(run, actual=2))  # type: ignore[arg-type]
    assert server.writes() == [], "a person's text is not a reason to rewrite"


def test_a_removed_label_is_put_back_and_no_second_issue_opened(run: Runner) -> None:
    server = run.server
    run(drifted(run))  # type: ignore[arg-type]
    [issue] = drift_issues(server)
    issue["labels"] = ["customer-call"]
    [board] = dashboards(server)
    board["labels"] = []

    run(drifted(run))  # type: ignore[arg-type]
    assert len(server.issues) == 2
    assert sorted(issue["labels"]) == ["customer-call", LABEL]  # type: ignore[type-var]
    assert board["labels"] == [LABEL]
    assert any("put label zendesk-drift back" in line for line in run.lines)

    server.reset_log()
    run(drifted(run))  # type: ignore[arg-type]
    assert server.writes() == []


def test_an_issue_whose_marker_a_person_removed_is_known_by_its_title(run: Runner) -> None:
    server = run.server
    run(drifted(run))  # type: ignore[arg-type]
    [issue] = drift_issues(server)
    title = issue["title"]
    rewritten = "I rewrote this issue: the AM ID is wrong, see the call notes."
    issue["description"] = rewritten

    run(drifted(run, actual=3))  # type: ignore[arg-type]
    assert len(server.issues) == 2
    same = server.issue(int(issue["iid"]))  # type: ignore[call-overload]
    assert same is not None and same["title"] == title and same["state"] == "opened"
    text = str(same["description"])
    assert text.startswith(rewritten + "\n")
    assert Marker.parse(text) is not None and "· Zendesk: 3 ·" in text


def test_duplicate_issues_and_dashboards_are_closed_linking_the_survivor(run: Runner) -> None:
    server = run.server
    run(drifted(run))  # type: ignore[arg-type]
    [issue] = drift_issues(server)
    [board] = dashboards(server)
    # what a crash between a create and its answer, or a race, could have left behind
    dup_issue = server.add_issue(
        "Zendesk drift: Org 101 (org 101)", str(issue["description"]), labels=[LABEL]
    )
    dup_board = server.add_issue(DASHBOARD, str(board["description"]), labels=[LABEL])

    run(drifted(run))  # type: ignore[arg-type]
    assert dup_issue["state"] == "closed" and dup_board["state"] == "closed"
    assert notes_of(dup_issue) and f"Duplicate of {issue['web_url']}" in notes_of(dup_issue)[-1]
    assert notes_of(dup_board) and f"Duplicate of {board['web_url']}" in notes_of(dup_board)[-1]
    assert issue["state"] == "opened" and board["state"] == "opened"
    assert [i["iid"] for i in drift_issues(server)] == [issue["iid"]]

    server.reset_log()
    run(drifted(run))  # type: ignore[arg-type]
    assert server.writes() == []
