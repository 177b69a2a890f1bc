"""Scenario 3: a scheduled pipeline (3 drift shards, reconcile, and with the input pages: true
the pages job) against the fake Zendesks and the fake GitLab. The first run opens the expected
issues, a second writes nothing; 3b: with the us-gov Zendesk unreachable its shard fails but
keeps its report, and reconcile leaves the unknown org's issue alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk

from .support import (
    BLUEPEAK,
    GL_PROJECT_ID,
    GL_TOKEN,
    HARBOR,
    NORTHWIND,
    Run,
    changed_keys,
    clear_artifacts,
    drift_report_problems,
    free_port,
    gcl,
    gitlab_seed,
    gitlab_variables,
    keep_artifacts,
    make_repo,
    mentions,
    open_issues,
    org_records,
    readable_emails,
    report_page_problems,
    set_pages_input,
    zendesk_variables,
)

# A module's fixture runs several pipelines: its first test pays for them.
pytestmark = [pytest.mark.pipeline, pytest.mark.timeout(1200)]


@dataclass(frozen=True)
class Scheduled:
    """One scheduled pipeline: the run, its artifacts, the fake GitLab before and after."""

    run: Run
    artifacts: Path
    before: dict[str, Any]
    after: dict[str, Any]


def _schedule(
    repo: Path, work: Path, name: str, home: Path, gitlab: FakeGitLab, zd: dict[str, str]
) -> Scheduled:
    before = gitlab.dump_state()
    clear_artifacts(repo)
    variables = {"CI_PIPELINE_SOURCE": "schedule", **zd, **gitlab_variables(gitlab.url)}
    run = gcl(repo, home, work / f"{name}.log", variables)
    artifacts = keep_artifacts(repo, work / f"{name}-artifacts")
    return Scheduled(run, artifacts, before, gitlab.dump_state())


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    gcl_home: Path,
    checker_python: str,
    zendesks: tuple[FakeZendesk, FakeZendesk],
) -> Iterator[dict[str, Scheduled]]:
    """Run 1 (input pages: false), run 2 (pages: true), 3b (the us-gov Zendesk unreachable),
    one after the other against one fake GitLab."""
    work = tmp_path_factory.mktemp("schedule")
    repo = make_repo(work / "repo")
    main, gov = zendesks
    zd = zendesk_variables(main.url, gov.url, checker_python)
    with FakeGitLab(token=GL_TOKEN, project_id=GL_PROJECT_ID) as gitlab:
        gitlab.load_state(gitlab_seed(repo))
        out = {"1": _schedule(repo, work, "s3-schedule-1", gcl_home, gitlab, zd)}
        set_pages_input(repo, True)
        out["2"] = _schedule(repo, work, "s3-schedule-2", gcl_home, gitlab, zd)
        set_pages_input(repo, False)
        dead = {**zd, "ZENDESK_US_GOV_URL": f"http://127.0.0.1:{free_port()}"}
        out["3b"] = _schedule(repo, work, "s3-unreachable", gcl_home, gitlab, dead)
        yield out


@pytest.mark.parametrize("which", ["1", "2"])
def test_3_scheduled_pipeline_passes_and_keeps_its_reports(
    runs: dict[str, Scheduled], which: str
) -> None:
    done = runs[which]
    assert done.run.rc == 0 and done.run.job("PASS", "reconcile"), done.run.tail()
    assert drift_report_problems(done.artifacts, 3) == []
    plan = done.artifacts / "reconcile" / "reports" / "reconcile-plan.json"
    assert plan.is_file() and plan.stat().st_size > 0, "reconcile uploaded no reconcile-plan.json"
    assert report_page_problems(done.artifacts / "reconcile" / "reports" / "drift.html") == []


def test_3_first_run_opens_the_expected_issues_and_no_pages_job(
    runs: dict[str, Scheduled],
) -> None:
    done = runs["1"]
    assert done.run.rc == 0, done.run.tail()
    finished = [
        line for line in done.run.output.splitlines() if line.startswith(("PASS ", "FAIL "))
    ]
    assert not [line for line in finished if "pages" in line], "a pages job ran without pages: true"
    issues = open_issues(done.after)
    mrs = [m for m in done.after.get("merge_requests", []) if m.get("iid") != 1]
    for org in (BLUEPEAK, HARBOR):
        assert any(mentions(i, org) for i in issues), f"no open issue about {org[1]}"
    assert not any(mentions(r, NORTHWIND) for r in issues + mrs), "Northwind is in sync"


def test_3_second_run_writes_nothing_and_publishes_the_redacted_page(
    runs: dict[str, Scheduled],
) -> None:
    done = runs["2"]
    assert done.run.rc == 0, done.run.tail()
    assert changed_keys(done.before, done.after) == []
    assert done.run.job("PASS", "pages"), done.run.tail()
    page = done.artifacts / "pages" / "public" / "index.html"
    assert report_page_problems(page) == []
    assert readable_emails(page) == []
    assert "redacted-" in page.read_text(encoding="utf-8")


def test_3b_unreachable_zendesk_fails_its_shard_and_reconcile_leaves_the_org_alone(
    runs: dict[str, Scheduled],
) -> None:
    done = runs["3b"]
    assert done.run.rc != 0, done.run.tail()
    assert re.search(r"FAIL +drift: \[[0-9]/3\]", done.run.output), done.run.tail()
    assert done.run.job("PASS", "reconcile"), done.run.tail()
    assert drift_report_problems(done.artifacts, 3, harbor="unknown") == []
    assert org_records(done.before) == org_records(done.after)
    assert org_records(done.after), "the org issues of the first run are gone"
