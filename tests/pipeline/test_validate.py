"""Scenarios 1 and 2: the push pipeline's validate job, on the bundled examples (installing the
checker with pip as the jobs do) and on a copy with a broken org file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .support import gcl, git, make_repo, validate_report_problems

# A module's fixture runs several pipelines: its first test pays for them.
pytestmark = [pytest.mark.pipeline, pytest.mark.timeout(1200)]

PIP_CACHE = os.environ.get(
    "PIPELINE_PROOF_PIP_CACHE", str(Path(os.environ.get("HOME", "/tmp")) / ".cache" / "pip")
)
BROKEN = "examples/config/orgs/broken-example.yaml"
BROKEN_TEXT = """\
# A CSM's broken change: an unknown key (typo), a number where text is expected.
schema_version: 1
name: Broken Example
zendesk:
  org_id: 360001234599
csm: jdoe
support_contacts:
  - name: Alex Broken
    emial: alex@broken.example
salesforce_id: 16100001
"""


def test_1_validate_passes_on_the_examples_with_pip_install(tmp_path: Path, gcl_home: Path) -> None:
    """A push pipeline on main: validate installs the checker with pip, passes, publishes
    junit.xml and codequality.json, and is the only job."""
    repo = make_repo(tmp_path / "repo-ok")
    run = gcl(repo, gcl_home, tmp_path / "s1-validate.log", {"PIP_CACHE_DIR": PIP_CACHE})
    assert run.rc == 0 and run.job("PASS", "validate"), run.tail()
    for job in ("drift", "reconcile", "drift-preview"):
        assert not (run.job("PASS", job) or run.job("FAIL", job)), f"push ran {job}\n{run.tail()}"
    reports = repo / ".gitlab-ci-local" / "artifacts" / "validate" / "reports"
    assert validate_report_problems(reports, "") == []


def test_2_validate_fails_on_a_broken_org_file_and_names_it(
    tmp_path: Path, gcl_home: Path, checker_python: str
) -> None:
    repo = make_repo(tmp_path / "repo-broken")
    (repo / BROKEN).write_text(BROKEN_TEXT, encoding="utf-8")
    git(repo, "add", BROKEN)
    git(repo, "commit", "-q", "-m", "A broken org file")
    run = gcl(repo, gcl_home, tmp_path / "s2-validate.log", {"CHECKER_PYTHON": checker_python})
    assert run.rc != 0 and run.job("FAIL", "validate"), run.tail()
    reports = repo / ".gitlab-ci-local" / "artifacts" / "validate" / "reports"
    assert validate_report_problems(reports, BROKEN) == [], run.tail()
