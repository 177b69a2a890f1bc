"""Scenario 5, adoption: `checker init` into an empty git repository, two org files, the
component included from this repository (its template in gitlab-ci-local's include cache, where
GitLab would serve it). Validate passes; the first scheduled run opens only the dashboard with
its plan; with CHECKER_FIRST_RUN_CONFIRMED=true the drift issue opens."""

from __future__ import annotations

import shutil
import subprocess
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
    NORTHWIND,
    ROOT,
    Run,
    clear_artifacts,
    commit_as_origin,
    gcl,
    gitlab_seed,
    gitlab_variables,
    init_repo,
    keep_artifacts,
    open_issues,
    zendesk_variables,
)

# A module's fixture runs several pipelines: its first test pays for them.
pytestmark = [pytest.mark.pipeline, pytest.mark.timeout(1200)]

CHECKER_PROJECT = "gitlab.example/support/zendesk-orgs"


@dataclass(frozen=True)
class Adopted:
    repo: Path
    version: str
    validate: Run


def _checker(python: str, repo: Path, *args: str) -> None:
    done = subprocess.run(
        [python, "-m", "checker", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"checker {args[0]} failed\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def adopted(
    tmp_path_factory: pytest.TempPathFactory, gcl_home: Path, checker_python: str
) -> Adopted:
    work = tmp_path_factory.mktemp("adopt")
    repo = work / "repo-adopter"
    version = subprocess.run(
        [
            checker_python,
            "-c",
            "from importlib.metadata import version as v; print(v('zendesk-org-checker'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    init_repo(repo, "https://gitlab.example/acme/zendesk-orgs.git")
    _checker(
        checker_python,
        repo,
        "init",
        "--instance",
        "global=https://acme.zendesk.example",
        "--checker-project",
        CHECKER_PROJECT,
        "--version",
        version,
    )
    for org in (BLUEPEAK, NORTHWIND):
        shutil.copy(ROOT / "examples" / "config" / "orgs" / org[2], repo / "config" / "orgs")
    _checker(checker_python, repo, "validate")
    commit_as_origin(repo, "Adopt the Zendesk org checker")
    # The component as GitLab would serve it from this repository at that version.
    cache = repo / ".gitlab-ci-local" / "includes" / CHECKER_PROJECT / version / "templates"
    cache.mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "zendesk-org-checker.yml", cache)
    run = gcl(repo, gcl_home, work / "s5-validate.log", {"CHECKER_PYTHON": checker_python})
    return Adopted(repo, version, run)


def test_5_init_includes_the_component_and_validate_passes(adopted: Adopted) -> None:
    component = (
        f"component: $CI_SERVER_FQDN/support/zendesk-orgs/zendesk-org-checker@{adopted.version}"
    )
    assert component in (adopted.repo / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert adopted.validate.rc == 0 and adopted.validate.job("PASS", "validate"), (
        adopted.validate.tail()
    )


@dataclass(frozen=True)
class FirstRun:
    run: Run
    artifacts: Path
    after: dict[str, Any]


@pytest.fixture(scope="module")
def first_runs(
    adopted: Adopted,
    gcl_home: Path,
    checker_python: str,
    zendesks: tuple[FakeZendesk, FakeZendesk],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[bool, FirstRun]]:
    """Two scheduled runs: unconfirmed, then with CHECKER_FIRST_RUN_CONFIRMED=true."""
    work = tmp_path_factory.mktemp("first-run")
    main, gov = zendesks
    out: dict[bool, FirstRun] = {}
    with FakeGitLab(token=GL_TOKEN, project_id=GL_PROJECT_ID) as gitlab:
        gitlab.load_state(gitlab_seed(adopted.repo, "config"))
        for confirmed in (False, True):
            name = f"s5-schedule-{2 if confirmed else 1}"
            clear_artifacts(adopted.repo)
            variables = {
                "CI_PIPELINE_SOURCE": "schedule",
                **zendesk_variables(main.url, gov.url, checker_python),
                **gitlab_variables(gitlab.url, first_run_confirmed=confirmed),
            }
            run = gcl(adopted.repo, gcl_home, work / f"{name}.log", variables)
            artifacts = keep_artifacts(adopted.repo, work / f"{name}-artifacts")
            out[confirmed] = FirstRun(run, artifacts, gitlab.dump_state())
        yield out


def test_5_first_scheduled_run_opens_only_the_dashboard_with_its_plan(
    first_runs: dict[bool, FirstRun],
) -> None:
    done = first_runs[False]
    assert done.run.rc == 0 and done.run.job("PASS", "reconcile"), done.run.tail()
    issues = open_issues(done.after)
    titles = sorted(i["title"] for i in issues)
    pending = [i for i in issues if "first-run-pending" in (i.get("description") or "")]
    assert titles == ["Zendesk drift dashboard"] and len(pending) == 1, titles
    assert "**1** drift issue(s)" in pending[0]["description"]
    plan = done.artifacts / "reconcile" / "reports" / "reconcile-plan.md"
    assert plan.is_file() and plan.stat().st_size > 0, "no reports/reconcile-plan.md"


def test_5_confirmed_first_run_opens_the_drift_issue(first_runs: dict[bool, FirstRun]) -> None:
    done = first_runs[True]
    assert done.run.rc == 0 and done.run.job("PASS", "reconcile"), done.run.tail()
    issues = open_issues(done.after)
    titles = sorted(i["title"] for i in issues)
    assert not [i for i in issues if "first-run-pending" in (i.get("description") or "")]
    assert any("Bluepeak" in t for t in titles), titles
    assert not any("Northwind" in t for t in titles), titles
