"""``checker retire`` against the loopback GitLab: every open checker issue and merge request is
closed with a note, the merge requests' branches are gone, the dashboard is closed; what a
person made is left alone; a rerun writes nothing; a resumed checker starts with a plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.models import OrgStatus
from checker.reconcile.first_run import PENDING
from checker.reconcile.retire import NOTE, run_retire
from checker.reconcile.run import run_reconcile
from tests.cli_support import run as run_cli
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    am_id,
    extra_contact,
    load,
    org_drift,
    port_for,
    report,
    seed_repo,
    write_org,
)


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def adopted(config_dir: Path, server: FakeGitLab) -> tuple:  # type: ignore[type-arg]
    """A project after a confirmed run: 2 drift issues, 1 merge request, the dashboard, and
    an issue a person made with the same label."""
    for org_id in (101, 102, 103):
        write_org(config_dir, org_id)
    settings, specs = load(config_dir)
    seed_repo(server, config_dir)
    s101, s102, s103 = specs
    rep = report(
        [
            org_drift(s101, items=[am_id(s101)]),
            org_drift(s102, items=[am_id(s102, 7), extra_contact("bot@org102.example")]),
            org_drift(s103, OrgStatus.IN_SYNC),
        ]
    )
    done = run_reconcile(
        settings,
        [rep],
        specs,
        port_for(server),
        dry_run=False,
        out=lambda _l: None,
        environ={},
        sleep=lambda _s: None,
    )
    assert not done.incomplete
    server.add_issue("Question about Zendesk", "Asked by a person", labels=["zendesk-drift"])
    return settings, specs, rep


def test_retire_closes_everything_the_checker_opened(
    server: FakeGitLab,
    adopted: tuple,
    config_dir: Path,  # type: ignore[type-arg]
) -> None:
    settings, specs, rep = adopted
    (mr,) = server.merge_requests
    branch = mr["source_branch"]
    assert branch in server.branches
    lines: list[str] = []

    server.reset_log()
    dry = run_retire(settings, port_for(server), dry_run=True, out=lines.append)
    assert server.writes() == []
    assert len(dry.results) == 4  # 2 issues, 1 merge request, the dashboard
    assert all(line.startswith("would close") for line in lines)

    lines.clear()
    done = run_retire(settings, port_for(server), dry_run=False, out=lines.append)
    assert not done.incomplete
    assert [r.status for r in done.results] == ["done"] * 4
    by_title = {i["title"]: i for i in server.issues}
    assert by_title["Question about Zendesk"]["state"] == "opened"  # a person's issue
    checker_issues = [i for t, i in by_title.items() if t != "Question about Zendesk"]
    assert len(checker_issues) == 3
    for issue in checker_issues:
        assert issue["state"] == "closed", issue["title"]
        assert [n["body"].split("\n", 1)[1] for n in issue["notes"]][-1] == NOTE
    assert server.merge_requests[0]["state"] == "closed"
    assert branch not in server.branches
    assert "Zendesk drift dashboard" in by_title
    assert by_title["Zendesk drift dashboard"]["state"] == "closed"

    server.reset_log()
    again = run_retire(settings, port_for(server), dry_run=False, out=lines.append)
    assert again.results == ()
    assert server.writes() == []
    assert lines[-1].startswith("nothing to retire")

    # Resumed later: the first run's plan again, not "closed by a person, leave it alone".
    resumed = run_reconcile(
        settings,
        [rep],
        specs,
        port_for(server),
        dry_run=False,
        out=lambda _l: None,
        environ={},
        sleep=lambda _s: None,
        first_run_gate=True,
    )
    assert resumed.first_run is not None
    assert "**2** drift issue(s)" in resumed.first_run
    open_issues = [i for i in server.issues if i["state"] == "opened"]
    assert sorted(i["title"] for i in open_issues) == [
        "Question about Zendesk",
        "Zendesk drift dashboard",
    ]
    assert any(PENDING in i["description"] for i in open_issues)


def test_retire_cli_dry_run(server: FakeGitLab, adopted: tuple, config_dir: Path) -> None:  # type: ignore[type-arg]
    env = {
        "PATH": "/usr/bin:/bin",
        "GITLAB_URL": server.url,
        "GITLAB_TOKEN": server.token,
        "GITLAB_PROJECT": str(server.project_id),
    }
    server.reset_log()
    done = run_cli(["retire", "--dry-run"], config_dir.parent, env)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 4
    assert "would close !1 and delete branch checker/adopt/" in done.stdout
    assert server.writes() == []
    assert server.token not in done.stdout + done.stderr
