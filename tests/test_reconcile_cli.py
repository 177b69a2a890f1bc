"""The whole scheduled flow through the real CLI: ``drift`` against a loopback Zendesk, then
``reconcile`` against a loopback GitLab; and the merge-request ``preview-note``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import EMAIL, GOV_TOKEN, TOKEN, run, seed
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk

from .conftest import ROOT

GITLAB_TOKEN = "glpat-cli-token-XYZ9876"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path]]:
    import shutil

    shutil.copytree(ROOT / "examples" / "config", tmp_path / "config")
    with (
        FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=100_000) as main,
        FakeZendesk(oauth_token=GOV_TOKEN, rate_limit=100_000) as gov,
        FakeGitLab(token=GITLAB_TOKEN) as gl,
    ):
        seed(main, "global")
        seed(gov, "us-gov")
        for path in sorted((tmp_path / "config").rglob("*")):
            if path.is_file():
                gl.set_file(str(path.relative_to(tmp_path)), path.read_text())
        gl.add_user(31, "mrivera")
        yield main, gov, gl, tmp_path


def env(world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path], **extra: str) -> dict[str, str]:
    main, gov, gl, _ = world
    out = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CHECKER_TODAY": "2026-11-26",
        "ZENDESK_URL": main.url,
        "ZENDESK_EMAIL": EMAIL,
        "ZENDESK_API_TOKEN": TOKEN,
        "ZENDESK_US_GOV_URL": gov.url,
        "ZENDESK_US_GOV_OAUTH_TOKEN": GOV_TOKEN,
        "GITLAB_URL": gl.url,
        "GITLAB_TOKEN": GITLAB_TOKEN,
        "GITLAB_PROJECT": "7",
        "CI_PROJECT_URL": gl.url + "/support/zendesk-orgs",
        # past the first run's plan (tests/test_first_run.py holds that one)
        "CHECKER_FIRST_RUN_CONFIRMED": "true",
    }
    out.update(extra)
    return out


def test_sharded_drift_then_reconcile_twice(
    world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path],
) -> None:
    _, _, gl, repo = world
    e = env(world)
    for i in (1, 2):
        proc = run(
            ["drift", "--shard", f"{i}/2", "--format", "json", "--output", f"r/drift-{i}.json"],
            repo,
            e,
        )
        assert proc.returncode in (0, 3), proc.stderr
    first = run(
        [
            "reconcile",
            "--report",
            "r/drift-1.json",
            "--report",
            "r/drift-2.json",
            "--plan-output",
            "r/plan.json",
        ],
        repo,
        e,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    drift_issues = [i for i in gl.issues if i["title"].startswith("Zendesk drift:")]
    assert sorted(i["title"] for i in drift_issues) == [
        "Zendesk drift: Harbor Federal Services (org 9100042)",
        "Zendesk drift: Northwind Logistics (org 360001234501)",
    ]
    assert all(i["confidential"] for i in drift_issues)
    northwind = next(i for i in drift_issues if "Northwind" in i["title"])
    assert [a["username"] for a in northwind["assignees"]] == ["mrivera"]
    assert "17735786" in northwind["description"]
    assert any(i["title"] == "Zendesk drift dashboard" for i in gl.issues)
    plan = json.loads((repo / "r/plan.json").read_text())
    assert plan
    assert GITLAB_TOKEN not in first.stdout + first.stderr + (repo / "r/plan.json").read_text()

    gl.reset_log()
    second = run(["reconcile", "--report", "r/drift-1.json", "--report", "r/drift-2.json"], repo, e)
    assert second.returncode == 0, second.stderr
    assert gl.writes() == []
    assert len([i for i in gl.issues if i["title"].startswith("Zendesk drift:")]) == 2


def test_missing_shard_is_refused(world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path]) -> None:
    _, _, gl, repo = world
    e = env(world)
    proc = run(["drift", "--shard", "1/2", "--format", "json", "--output", "d1.json"], repo, e)
    assert proc.returncode in (0, 3)
    refused = run(["reconcile", "--report", "d1.json"], repo, e)
    assert refused.returncode == 1
    assert "shard" in refused.stderr
    assert gl.writes() == []


def test_reconcile_without_gitlab_token_names_the_variable(
    world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path],
) -> None:
    _, _, gl, repo = world
    e = env(world)
    del e["GITLAB_TOKEN"]
    e["CI_JOB_TOKEN"] = "job-token-value-123"
    proc = run(["reconcile", "--dry-run"], repo, e)
    assert proc.returncode == 2
    assert "GITLAB_TOKEN" in proc.stderr and "CI_JOB_TOKEN" in proc.stderr
    assert "job-token-value-123" not in proc.stderr
    assert gl.requests == []


def test_reconcile_runs_drift_itself_and_dry_run_writes_nothing(
    world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path],
) -> None:
    _, _, gl, repo = world
    proc = run(["reconcile", "--dry-run"], repo, env(world))
    assert proc.returncode == 0, proc.stderr
    assert "Northwind Logistics" in proc.stdout
    assert gl.writes() == []


def test_preview_note_is_created_once_then_edited_in_place(
    world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path],
) -> None:
    _, _, gl, repo = world
    gl.set_file("README.md", "x", branch="csm/change")
    mr = gl.add_merge_request(
        source_branch="csm/change", target_branch="main", title="Change Northwind"
    )
    iid = str(mr["iid"])
    e = env(world, CI_MERGE_REQUEST_IID=iid)
    md = run(
        ["drift", "--org", "360001234501", "--format", "markdown", "--output", "p.md"], repo, e
    )
    assert md.returncode == 3
    for expected in ("created", "unchanged"):
        proc = run(["preview-note", "--file", "p.md"], repo, e)
        assert proc.returncode == 0, proc.stderr
        assert f"drift preview note {expected} on merge request !{iid}" in proc.stderr
    (repo / "p.md").write_text(
        (repo / "p.md").read_text().replace("Northwind", "Northwind (edited)")
    )
    proc = run(["preview-note", "--file", "p.md"], repo, e)
    assert "updated" in proc.stderr
    notes = gl.merge_request(int(iid))["notes"]
    assert len(notes) == 1
    assert notes[0]["body"].startswith("<!-- zendesk-drift-checker:preview -->\n")
    assert "Northwind (edited)" in notes[0]["body"]
    assert not any(i["title"].startswith("Zendesk drift:") for i in gl.issues)


def test_snapshot_reports_are_previewed_but_never_acted_on(
    world: tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path],
) -> None:
    _, _, gl, repo = world
    e = env(world)
    snap = run(
        [
            "drift",
            "--snapshot",
            str(ROOT / "examples/snapshot.json"),
            "--format",
            "json",
            "--output",
            "s.json",
        ],
        repo,
        e,
    )
    assert snap.returncode == 3
    refused = run(["reconcile", "--report", "s.json"], repo, e)
    assert refused.returncode == 1
    assert "snapshot" in refused.stderr
    preview = run(["reconcile", "--report", "s.json", "--dry-run"], repo, e)
    assert preview.returncode == 0
    assert "1 org needs nothing" in preview.stdout
    assert gl.writes() == []
