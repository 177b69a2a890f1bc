"""Exit codes as the README states them, each on a real subprocess: reconcile without --report
exits 4 when an org could not be checked (like drift), a refused GitLab token is 2, and an
internal error is 5 whether or not CHECKER_DEBUG is set."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import EMAIL, GOV_TOKEN, TOKEN, run, seed
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk

from .conftest import ROOT

GITLAB_TOKEN = "glpat-exit-token-Q1W2E3"
World = tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
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


def env(world: World, **extra: str) -> dict[str, str]:
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
        "CHECKER_FIRST_RUN_CONFIRMED": "true",  # past the first-run plan
        "CI_PROJECT_URL": gl.url + "/support/zendesk-orgs",
    }
    out.update(extra)
    return out


def test_reconcile_without_report_exits_4_when_an_org_could_not_be_checked(world: World) -> None:
    main, _, gl, repo = world
    main.add_fault(kind="malformed", path=r"/organizations/360001234501/users", times=-1)
    proc = run(["reconcile"], repo, env(world))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "org 360001234501 (Northwind Logistics): could not be checked:" in proc.stderr
    assert "1 could not be checked" in proc.stderr  # the same totals line as `checker drift`
    # the rest was reconciled; the unknown org got no issue
    titles = sorted(i["title"] for i in gl.issues)
    assert "Zendesk drift: Harbor Federal Services (org 9100042)" in titles
    assert not any("360001234501" in t for t in titles)


def test_a_refused_gitlab_token_exits_2(world: World) -> None:
    _, _, gl, repo = world
    proc = run(["reconcile"], repo, env(world, GITLAB_TOKEN="glpat-wrong-token-0000"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused the token" in proc.stderr
    assert "glpat-wrong-token-0000" not in proc.stdout + proc.stderr
    assert gl.issues == [] and gl.writes() == []

    preview = repo / "preview.md"
    preview.write_text("preview\n")
    note = run(
        ["preview-note", "--file", str(preview), "--mr", "1"],
        repo,
        env(world, GITLAB_TOKEN="glpat-wrong-token-0000"),
    )
    assert note.returncode == 2, note.stderr
    assert gl.writes() == []


BUG = (
    "import checker.cli as c\n"
    "def broken(*args, **kwargs):\n"
    "    raise ZeroDivisionError('a bug')\n"
    "c.validate = broken\n"
    "c.main(['validate'])\n"
)


@pytest.mark.parametrize("debug", ["", "1"])
def test_an_internal_error_exits_5_with_or_without_checker_debug(
    tmp_path: Path, debug: str
) -> None:
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if debug:
        environ["CHECKER_DEBUG"] = debug
    proc = subprocess.run(
        [sys.executable, "-c", BUG],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 5, proc.stderr
    assert "checker: internal error: ZeroDivisionError: a bug" in proc.stderr
    assert ("Traceback (most recent call last)" in proc.stderr) == bool(debug)


def test_a_forged_report_is_refused_with_exit_1_and_one_line(world: World) -> None:
    import json

    _, _, gl, repo = world
    made = run(["drift", "--format", "json", "--output", "drift.json"], repo, env(world))
    assert made.returncode in (0, 3), made.stderr
    doc = json.loads((repo / "drift.json").read_text())
    assert doc["fingerprint"]["settings"] and len(doc["fingerprint"]["files"]) == len(doc["orgs"])
    doc["orgs"][0]["file"] = "/etc/hostname"
    (repo / "forged.json").write_text(json.dumps(doc))
    proc = run(["reconcile", "--report", "forged.json"], repo, env(world))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'/etc/hostname', which is not an org file below" in lines[0]
    assert gl.writes() == [] and gl.issues == []
