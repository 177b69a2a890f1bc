"""One writer: two ``checker reconcile`` processes started at the same moment, ten times, against
the loopback GitLab server, never duplicate anything; and the lock's own rules (stale lock
taken over, a live lock waited for and then left, no lock on a run with nothing to do)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.models import OrgStatus
from checker.reconcile.lock import LOCK_BRANCH, LOCK_FILE
from checker.reconcile.markers import Marker
from checker.report import to_json
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    am_id,
    extra_contact,
    fingerprinted,
    load,
    org_drift,
    report,
    write_org,
)

TOKEN = "glpat-concurrency-AAAA"


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab(token=TOKEN) as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def repo(tmp_path: Path, server: FakeGitLab) -> Path:
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_text(
        (
            Path(__file__).resolve().parent.parent / "examples" / "config" / "checker.yaml"
        ).read_text()
    )
    for org_id in (201, 202, 203):
        write_org(cfg, org_id)
    settings, specs = load(cfg)
    s201, s202, s203 = specs
    drift = report(
        [
            org_drift(s201, items=[am_id(s201)]),
            org_drift(s202, items=[extra_contact("new@org202.example")]),
            org_drift(s203, OrgStatus.IN_SYNC),
        ]
    )
    (tmp_path / "drift.json").write_text(to_json(fingerprinted(drift, settings, specs)))
    for path in sorted((cfg / "orgs").glob("*.yaml")):
        server.set_file(f"config/orgs/{path.name}", path.read_text())
    return tmp_path


def _env(server: FakeGitLab) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GITLAB_URL": server.url,
        "GITLAB_TOKEN": TOKEN,
        "CHECKER_FIRST_RUN_CONFIRMED": "true",  # past the first-run plan
        "GITLAB_PROJECT": "7",
        "CI_PROJECT_URL": server.web_url,
    }


def _ident(record: dict[str, object]) -> tuple[str, str]:
    marker = Marker.parse(str(record["description"] or ""))
    assert marker is not None, record["title"]
    return marker.kind, f"{marker.org[0]}/{marker.org[1]}" if marker.org else "-"


def test_two_runs_started_together_ten_times_never_duplicate(
    server: FakeGitLab, repo: Path
) -> None:
    fresh = server.dump_state()
    for attempt in range(10):
        server.load_state(fresh)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "checker", "reconcile", "--report", "drift.json"],
                cwd=repo,
                env=_env(server),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        codes = [p.returncode for p in procs]
        assert codes == [0, 0], (attempt, outputs)
        issues = Counter(_ident(i) for i in server.issues)
        assert issues == {
            ("org", "global/201"): 1,
            ("org", "global/202"): 1,
            ("dashboard", "-"): 1,
        }, (attempt, outputs)
        assert all(i["state"] == "opened" for i in server.issues)
        assert Counter(_ident(m) for m in server.merge_requests) == {("adopt", "global/202"): 1}
        assert LOCK_BRANCH not in server.branches, "the lock was released"
        notes = [n["body"] for i in server.issues for n in i["notes"]]
        assert len(notes) == len(set(notes)), "no note twice"


@pytest.fixture
def run(server: FakeGitLab, repo: Path) -> Runner:
    settings, specs = load(repo / "config")
    return Runner(server, settings, specs)


def _report(run: Runner) -> object:
    s201 = run.specs[0]
    return report([org_drift(s201, items=[am_id(s201)])], scope="partial")


def test_a_live_lock_is_waited_for_then_left_writing_nothing(run: Runner) -> None:
    server = run.server
    server.set_file(LOCK_FILE, "zendesk-drift-checker lock\nrun: other\n", branch=LOCK_BRANCH)
    server.reset_log()
    outcome = run(_report(run))  # type: ignore[arg-type]
    assert outcome.incomplete
    assert any("another reconcile run holds the lock" in line for line in run.lines)
    assert server.issues == []
    assert server.writes() == []  # it only read the lock while it waited
    assert server.file(LOCK_FILE, LOCK_BRANCH) is not None, "another run's lock is left alone"


def test_a_stale_lock_is_taken_over(run: Runner) -> None:
    server = run.server
    server.set_now(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    server.set_file(LOCK_FILE, "zendesk-drift-checker lock\nrun: crashed\n", branch=LOCK_BRANCH)
    server.set_now(None)
    outcome = run(_report(run))  # type: ignore[arg-type]
    assert not outcome.incomplete
    assert any("taking over a stale lock" in line for line in run.lines)
    assert [_ident(i) for i in server.issues] == [("org", "global/201")]
    assert LOCK_BRANCH not in server.branches


def test_a_run_with_nothing_to_do_takes_no_lock(run: Runner) -> None:
    server = run.server
    run(_report(run))  # type: ignore[arg-type]
    server.reset_log()
    outcome = run(_report(run))  # type: ignore[arg-type]
    assert not outcome.incomplete and outcome.results == ()
    assert server.writes() == []
    assert [r.path for r in server.reads() if "branches" in r.path] == [
        "/api/v4/projects/7/repository/branches/checker%2Freconcile-lock"
    ]


def test_the_holder_refreshes_its_lock_and_stops_when_it_was_taken_over(
    server: FakeGitLab,
) -> None:
    from checker.reconcile.lock import REFRESH_AFTER, LockLost, ReconcileLock
    from tests.reconcile_support import port_for

    ticks = [0.0]
    lock = ReconcileLock(port_for(server), "main", {}, clock=lambda: ticks[0])
    lock.acquire()
    first = server.heads[LOCK_BRANCH]
    lock.keep()  # not due yet: no write
    assert server.heads[LOCK_BRANCH] == first
    ticks[0] += REFRESH_AFTER + 1
    lock.keep()  # due: one compare-and-swap commit on the lock file
    refreshed = server.heads[LOCK_BRANCH]
    assert refreshed != first
    # another run takes the lock over (as if ours had gone stale)
    server.set_file(LOCK_FILE, "zendesk-drift-checker lock\nrun: other\n", branch=LOCK_BRANCH)
    ticks[0] += REFRESH_AFTER + 1
    with pytest.raises(LockLost):
        lock.keep()
    lock.release()  # no longer ours: left alone
    assert server.file(LOCK_FILE, LOCK_BRANCH) == "zendesk-drift-checker lock\nrun: other\n"
