"""The pipeline proof's fixtures: gitlab-ci-local (skips without it, fails instead when
PIPELINE_PROOF_STRICT=1), the fake Zendesks on loopback for the whole session, a work folder
and the interpreter the jobs use.

Every test module here is marked ``pipeline``: ``make test`` deselects them (they take minutes),
``make pipeline`` runs them (``pytest -m pipeline tests/pipeline``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.zendesk_server import FakeZendesk

from .support import GCL_JS, STATES, ZD_EMAIL, ZD_GOV_TOKEN, ZD_TOKEN

STRICT = os.environ.get("PIPELINE_PROOF_STRICT", "0") == "1"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """With PIPELINE_PROOF_STRICT=1 (as .ci/run sets) a skipped proof is a failed one."""
    report = yield
    if STRICT and report.skipped and item.get_closest_marker("pipeline") is not None:
        report.outcome = "failed"
        report.longrepr = f"PIPELINE_PROOF_STRICT=1: a skipped scenario fails ({report.longrepr})"
    return report


def _missing_tools() -> str:
    for tool in ("node", "git", "rsync"):
        if shutil.which(tool) is None:
            return f"{tool} is missing"
    if not GCL_JS.is_file():
        return "gitlab-ci-local is not installed in tools/ci-local (run `make pipeline`)"
    return ""


@pytest.fixture(scope="session")
def gcl_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gitlab-ci-local's --home; the test is skipped (failed when strict) without the tool."""
    missing = _missing_tools()
    if missing:
        if STRICT:
            pytest.fail(f"PIPELINE_PROOF_STRICT=1 and {missing}")
        pytest.skip(missing)
    version = subprocess.run(
        ["node", str(GCL_JS), "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    sys.stderr.write(f"pipeline proof: gitlab-ci-local {version}\n")
    return tmp_path_factory.mktemp("gcl-home")


@pytest.fixture(scope="session")
def checker_python() -> str:
    """The interpreter the jobs use as CHECKER_PYTHON (this one, which has the checker
    installed); scenario 1 proves the jobs' own pip install path."""
    return sys.executable


def _state(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STATES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def zendesks() -> Iterator[tuple[FakeZendesk, FakeZendesk]]:
    """The global and the us-gov Zendesk, seeded from tests/pipeline/*.json."""
    with (
        FakeZendesk(email=ZD_EMAIL, token=ZD_TOKEN) as main,
        FakeZendesk(email=ZD_EMAIL, token=ZD_GOV_TOKEN) as gov,
    ):
        main.load_state(_state("zendesk-state.json"))
        gov.load_state(_state("zendesk-us-gov-state.json"))
        yield main, gov
