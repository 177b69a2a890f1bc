"""The first run is a plan: against the loopback GitLab, a project without checker issues gets
only the dashboard, saying how many issues and merge requests will be opened, until
CHECKER_FIRST_RUN_CONFIRMED=true."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.models import DriftReport, OrgStatus
from checker.domain.settings import Settings
from checker.reconcile.first_run import CONFIRM_VARIABLE, PENDING
from checker.reconcile.run import ReconcileOutcome, run_reconcile
from checker.report import to_json
from tests.cli_support import run as run_cli
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    am_id,
    extra_contact,
    fingerprinted,
    load,
    org_drift,
    port_for,
    report,
    seed_repo,
    write_org,
)

CONFIRMED = {CONFIRM_VARIABLE: "true"}


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def world(config_dir: Path, server: FakeGitLab) -> tuple[Settings, DriftReport, list]:  # type: ignore[type-arg]
    for org_id in (101, 102, 103):
        write_org(config_dir, org_id)
    settings, specs = load(config_dir)
    seed_repo(server, config_dir)
    s101, s102, s103 = specs
    drifted = fingerprinted(
        report(
            [
                org_drift(s101, items=[am_id(s101)]),
                org_drift(s102, items=[am_id(s102, 7), extra_contact("bot@org102.example")]),
                org_drift(s103, OrgStatus.IN_SYNC),
            ]
        ),
        settings,
        specs,
    )
    return settings, drifted, specs


def _run(
    server: FakeGitLab, world: tuple, environ: dict[str, str], rep: DriftReport | None = None
) -> ReconcileOutcome:  # type: ignore[type-arg]
    settings, drifted, specs = world
    return run_reconcile(
        settings,
        [rep or drifted],
        specs,
        port_for(server),
        dry_run=False,
        out=lambda _line: None,
        environ=environ,
        sleep=lambda _s: None,
        first_run_gate=True,
    )


def test_first_run_opens_only_the_dashboard_until_confirmed(
    server: FakeGitLab,
    world: tuple,  # type: ignore[type-arg]
) -> None:
    first = _run(server, world, {})
    assert not first.incomplete
    (dashboard,) = server.issues
    assert PENDING in dashboard["description"]
    assert dashboard["title"] == "Zendesk drift dashboard"
    assert dashboard["confidential"] is True
    body = dashboard["description"]
    assert "**2** drift issue(s)" in body
    assert "**1** merge request(s)" in body
    assert f"`{CONFIRM_VARIABLE}` to `true`" in body
    assert server.merge_requests == []
    assert first.first_run is not None and "**2** drift issue(s)" in first.first_run
    held = [r for r in first.results if r.status == "held"]
    assert {(r.action.target, r.action.verb) for r in held} == {
        ("issue", "create"),
        ("merge-request", "create"),
    }
    assert first.count("done") == 1

    server.reset_log()
    again = _run(server, world, {})
    assert server.writes() == []  # the same plan: the dashboard already says it
    assert again.count("held") == len(held)

    confirmed = _run(server, world, CONFIRMED)
    assert confirmed.first_run is None
    assert not confirmed.incomplete
    titles = sorted(i["title"] for i in server.issues)
    assert titles == [
        "Zendesk drift dashboard",
        "Zendesk drift: Org 101 (org 101)",
        "Zendesk drift: Org 102 (org 102)",
    ]
    assert len(server.merge_requests) == 1
    (dashboard,) = [i for i in server.issues if i["title"] == "Zendesk drift dashboard"]
    assert PENDING not in dashboard["description"]

    # From now on a run without the variable is an ordinary run: nothing held, nothing new.
    server.reset_log()
    later = _run(server, world, {})
    assert later.first_run is None
    assert later.count("held") == 0
    assert server.writes() == []


def test_a_first_run_that_would_open_nothing_is_not_held(
    server: FakeGitLab,
    world: tuple,  # type: ignore[type-arg]
) -> None:
    _, _, specs = world
    quiet = report([org_drift(s, OrgStatus.IN_SYNC) for s in specs])
    outcome = _run(server, world, {}, quiet)
    assert outcome.first_run is None
    (dashboard,) = server.issues
    assert PENDING not in dashboard["description"]


def test_cli_writes_the_plan_and_its_markdown_summary(
    server: FakeGitLab,
    world: tuple,
    config_dir: Path,  # type: ignore[type-arg]
) -> None:
    _, drifted, _ = world
    repo = config_dir.parent
    (repo / "drift-1.json").write_text(to_json(drifted), encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "GITLAB_URL": server.url,
        "GITLAB_TOKEN": server.token,
        "GITLAB_PROJECT": str(server.project_id),
        "CHECKER_TODAY": "2026-01-15",
    }
    done = run_cli(
        [
            "reconcile",
            "--report",
            "drift-1.json",
            "--plan-output",
            "reports/reconcile-plan.json",
        ],
        repo,
        env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (repo / "reports" / "reconcile-plan.md").read_text(encoding="utf-8")
    assert "**2** drift issue(s)" in summary
    assert "First run: a plan, nothing opened yet" in done.stdout  # in the job log too
    plan = json.loads((repo / "reports" / "reconcile-plan.json").read_text(encoding="utf-8"))
    statuses = sorted(a["status"] for a in plan["actions"])
    assert statuses == ["done", "held", "held", "held"]
    assert len(server.issues) == 1


def test_text_a_person_adds_to_the_first_run_dashboard_is_kept_when_the_plan_changes(
    server: FakeGitLab,
    world: tuple,  # type: ignore[type-arg]
) -> None:
    settings, _drifted, specs = world
    _run(server, world, {})
    (dashboard,) = server.issues
    note = "Support ops: we review this plan on Thursday."
    dashboard["description"] = f"{note}\n\n{dashboard['description']}"
    s101, s102, s103 = specs
    fewer = fingerprinted(
        report(
            [
                org_drift(s101, items=[am_id(s101)]),
                org_drift(s102, OrgStatus.IN_SYNC),
                org_drift(s103, OrgStatus.IN_SYNC),
            ]
        ),
        settings,
        specs,
    )
    _run(server, world, {}, fewer)
    (dashboard,) = server.issues
    text = str(dashboard["description"])
    assert "**1** drift issue(s)" in text  # the plan was rewritten
    assert text.startswith(note + "\n")  # and what the person wrote stays
