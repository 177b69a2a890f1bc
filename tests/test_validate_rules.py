"""Rules across files, the settings file, the CLI's outputs and reports."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from checker.load.validate import validate
from checker.render.findings import codequality

from .conftest import FIXTURES, ROOT, SETTINGS

TODAY = dt.date(2026, 6, 1)
TREES = sorted(p for p in (FIXTURES / "trees").iterdir() if p.is_dir())


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_cross_file_rules(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config"
    shutil.copytree(tree / "orgs", cfg / "orgs")
    shutil.copy(SETTINGS, cfg / "checker.yaml")
    monkeypatch.chdir(tmp_path)
    result = validate(Path("config"), today=TODAY, workers=1)
    want = {
        line.replace(f"{tree.name}/", "config/", 1)
        for line in (tree / "expected.txt").read_text().splitlines()
        if line.strip()
    }
    got = {f"{f.path}:{f.line}:{f.column}: {f.rule}" for f in result.findings}
    assert got == want
    for f in result.findings:
        if f.rule.startswith("duplicate-"):
            others = [g.path for g in result.findings if g.rule == f.rule and g.path != f.path]
            assert any(o in f.message for o in others), "both files are named"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checker", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CHECKER_TODAY": "2026-06-01"},
        check=False,
    )


@pytest.fixture
def broken_repo(tmp_path: Path) -> Path:
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    shutil.copy(SETTINGS, cfg / "checker.yaml")
    for name in ("unknown-key-typo.yaml", "duplicate-email-case.yaml", "non-utf8.yaml"):
        shutil.copy(FIXTURES / "invalid" / name, cfg / "orgs" / name)
    shutil.copy(FIXTURES / "valid" / "expired-ignore-warns.yaml", cfg / "orgs")
    return tmp_path


def test_repository_examples_validate_clean() -> None:
    proc = run_cli("validate", cwd=ROOT / "examples")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "3 org files valid" in proc.stderr


def test_cli_text_lines_and_exit_code(broken_repo: Path) -> None:
    proc = run_cli("validate", cwd=broken_repo)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert (
        "config/orgs/unknown-key-typo.yaml:5:1: unknown-key: unknown key 'nots'; did you mean 'notes'?"
        in lines
    )
    assert any(line.startswith("config/orgs/non-utf8.yaml:4:11: file-encoding:") for line in lines)
    assert any(
        line.startswith("config/orgs/expired-ignore-warns.yaml:9:12: ignore-expired: warning:")
        for line in lines
    )
    assert "Traceback" not in proc.stderr


def test_cli_json_junit_and_codequality_in_one_run(broken_repo: Path) -> None:
    proc = run_cli(
        "validate",
        "--format",
        "json",
        "--junit",
        "out/junit.xml",
        "--codequality",
        "out/cq.json",
        cwd=broken_repo,
    )
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["valid"] is False
    assert doc["files_checked"] == 4
    assert {f["rule"] for f in doc["findings"]} >= {
        "unknown-key",
        "duplicate-email",
        "file-encoding",
    }
    suite = ET.parse(broken_repo / "out/junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("4", "3")
    cq = json.loads((broken_repo / "out/cq.json").read_text())
    assert {i["severity"] for i in cq} == {"major", "minor"}
    assert len({i["fingerprint"] for i in cq}) == len(cq)
    for item in cq:
        assert set(item) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert item["location"]["path"].startswith("config/orgs/")


def test_codequality_fingerprints_survive_unrelated_edits(broken_repo: Path) -> None:
    first = {i["description"]: i["fingerprint"] for i in json.loads(_cq(broken_repo))}
    target = broken_repo / "config/orgs/unknown-key-typo.yaml"
    target.write_text("# a new comment line shifts every line down\n" + target.read_text())
    second = {i["description"]: i["fingerprint"] for i in json.loads(_cq(broken_repo))}
    assert first == second


def _cq(repo: Path) -> str:
    proc = run_cli("validate", "--codequality", "cq.json", cwd=repo)
    assert proc.returncode == 1
    return (repo / "cq.json").read_text()


def test_paths_argument_limits_report_but_not_cross_file_rules(broken_repo: Path) -> None:
    orgs = broken_repo / "config" / "orgs"
    (orgs / "new.yaml").write_text(
        "schema_version: 1\nname: New\nzendesk: {org_id: 114}\n"  # same id as duplicate-email-case
    )
    proc = run_cli("validate", "config/orgs/new.yaml", cwd=broken_repo)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "config/orgs/new.yaml:3:19: duplicate-org-id: org 114 on instance 'global' is also "
        "declared in config/orgs/duplicate-email-case.yaml"
    ]


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert run_cli("validate", "--format", "yaml", cwd=tmp_path).returncode == 2
    assert run_cli("no-such-command", cwd=tmp_path).returncode == 2


def test_broken_settings_are_reported_at_their_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_text(
        "schema_version: 1\ninstances:\n  global:\n    url: https://x.zendesk.example\n"
        "rate_limit_shar: 0.5\n"
    )
    proc = run_cli("validate", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith(
        "config/checker.yaml:5:1: unknown-key: unknown key 'rate_limit_shar'; did you mean 'rate_limit_share'?"
    )


def test_codequality_duplicate_fingerprints_are_made_unique() -> None:
    from checker.domain.models import Finding

    f = Finding("a.yaml", 1, 1, "x", "same", locator="k")
    items = json.loads(codequality([f, f]))
    assert len({i["fingerprint"] for i in items}) == 2


def test_a_report_that_cannot_be_written_is_one_clear_line(broken_repo: Path) -> None:
    (broken_repo / "blocker").write_text("a file where a folder is needed")
    proc = run_cli("validate", "--junit", "blocker/junit.xml", cwd=broken_repo)
    assert proc.returncode == 2
    assert "checker: cannot write blocker/junit.xml:" in proc.stderr
    assert "Traceback" not in proc.stderr
