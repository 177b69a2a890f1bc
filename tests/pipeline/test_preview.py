"""Scenario 4: a merge request pipeline with a changed org file. Without Zendesk credentials
(a fork's MR) drift-preview says so and passes, and validate checks only the changed file;
with them, against the fakes, two pipelines leave exactly one preview note and open no issue."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk

from .support import (
    BLUEPEAK,
    BLUEPEAK_ANCHOR,
    GL_PROJECT_ID,
    GL_TOKEN,
    PREVIEW_MARKER,
    Run,
    gcl,
    git,
    gitlab_seed,
    gitlab_variables,
    make_repo,
    zendesk_variables,
)

# A module's fixture runs several pipelines: its first test pays for them.
pytestmark = [pytest.mark.pipeline, pytest.mark.timeout(1200)]

BRANCH = "csm/bluepeak-new-contact"
NEW_CONTACT = "  - name: Noor Haddad\n    email: noor.haddad@bluepeak.example\n"


@pytest.fixture(scope="module")
def mr_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The project on a CSM's branch that adds a contact to Bluepeak Analytics, and the
    variables of its merge request pipeline."""
    repo = make_repo(tmp_path_factory.mktemp("preview") / "repo")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", BRANCH)
    path = repo / "examples" / "config" / "orgs" / BLUEPEAK[2]
    text = path.read_text(encoding="utf-8")
    assert BLUEPEAK_ANCHOR in text, "bluepeak-analytics.yaml changed: update the pipeline proof"
    path.write_text(text.replace(BLUEPEAK_ANCHOR, BLUEPEAK_ANCHOR + NEW_CONTACT), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "Bluepeak Analytics: add Noor Haddad as a support contact")
    return repo, {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "1",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": BRANCH,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    }


@pytest.fixture(scope="module")
def without_credentials(
    mr_repo: tuple[Path, dict[str, str]],
    gcl_home: Path,
    checker_python: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Run:
    repo, variables = mr_repo
    log = tmp_path_factory.mktemp("s4a") / "s4-no-credentials.log"
    return gcl(repo, gcl_home, log, {**variables, "CHECKER_PYTHON": checker_python})


def test_4a_preview_without_zendesk_credentials_says_so_and_passes(
    without_credentials: Run,
) -> None:
    run = without_credentials
    assert run.rc == 0 and run.job("PASS", "drift-preview"), run.tail()
    assert "no Zendesk credentials" in run.output, run.tail()


def test_4c_validate_on_the_merge_request_checks_only_the_changed_file(
    without_credentials: Run,
) -> None:
    run = without_credentials
    assert run.job("PASS", "validate"), run.tail()
    assert "checker: 1 org file added or changed since" in run.output, run.tail()


def test_4_two_preview_pipelines_leave_one_note_and_open_no_issue(
    mr_repo: tuple[Path, dict[str, str]],
    gcl_home: Path,
    checker_python: str,
    zendesks: tuple[FakeZendesk, FakeZendesk],
    tmp_path: Path,
) -> None:
    repo, variables = mr_repo
    main, gov = zendesks
    with FakeGitLab(token=GL_TOKEN, project_id=GL_PROJECT_ID) as gitlab:
        gitlab.load_state(gitlab_seed(repo))
        issues_before = len(gitlab.dump_state().get("issues", []))
        for n in (1, 2):
            run = gcl(
                repo,
                gcl_home,
                tmp_path / f"s4-preview-{n}.log",
                {
                    **variables,
                    **zendesk_variables(main.url, gov.url, checker_python),
                    **gitlab_variables(gitlab.url),
                },
            )
            assert run.rc == 0 and run.job("PASS", "drift-preview"), f"run {n}\n{run.tail()}"
        state = gitlab.dump_state()
    (mr,) = [m for m in state.get("merge_requests", []) if m.get("iid") == 1]
    notes = [n for n in mr.get("notes", []) if PREVIEW_MARKER in (n.get("body") or "")]
    assert len(notes) == 1, f"{len(notes)} preview notes on !1, expected exactly 1"
    assert "Bluepeak" in notes[0]["body"] or str(BLUEPEAK[0]) in notes[0]["body"]
    assert len(state.get("issues", [])) == issues_before, "the preview job changed the issues"
