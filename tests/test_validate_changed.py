"""``checker validate --changed-since BASE`` (issue 14), the merge request's validate: the org
files the change adds or edits, compared with every file by the rules across files; every file
when something else changed, when the base is not in the clone, or when there is no base."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.example",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.example",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **GIT_ENV}
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def run_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHECKER_TODAY": "2026-06-01"}
    return subprocess.run(
        [sys.executable, "-m", "checker", "validate", *args],
        cwd=repo,
        env={**env, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )


def org(org_id: int, name: str = "Example") -> str:
    return f"schema_version: 1\nname: {name}\nzendesk:\n  org_id: {org_id}\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on main: the example config, plus an org file that is already broken."""
    shutil.copytree(ROOT / "examples" / "config", tmp_path / "config")
    (tmp_path / "config" / "orgs" / "already-broken.yaml").write_text(org(7) + "nots: typo\n")
    (tmp_path / "config" / "orgs" / "seven.yaml").write_text(org(8))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "checkout", "-q", "-b", "change")
    return tmp_path


def base(repo: Path) -> str:
    return git(repo, "rev-parse", "main")


def commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")


def test_only_the_changed_file_is_validated_against_every_file(repo: Path) -> None:
    (repo / "config" / "orgs" / "new.yaml").write_text(org(360001234501, "New"))
    commit(repo)
    proc = run_cli(repo, "--changed-since", base(repo))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "config/orgs/new.yaml:4:11: duplicate-org-id: org 360001234501 on instance 'global' "
        "is also declared in config/orgs/northwind-logistics.yaml"
    ]
    assert "checker: 1 org file added or changed since" in proc.stderr
    assert "1 org files checked" in proc.stderr


def test_a_valid_change_passes_although_an_untouched_file_is_broken(repo: Path) -> None:
    path = repo / "config" / "orgs" / "seven.yaml"
    path.write_text(path.read_text() + "csm: jdoe\n")
    commit(repo)
    proc = run_cli(repo, "--changed-since", base(repo))
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert "1 org file valid" in proc.stderr
    assert run_cli(repo).returncode == 1  # the full run still sees the broken file


def test_a_renamed_file_is_validated_under_its_new_name(repo: Path) -> None:
    (repo / "config" / "orgs" / "sub").mkdir()
    git(repo, "mv", "config/orgs/seven.yaml", "config/orgs/sub/harbor-federal.yaml")
    commit(repo)
    proc = run_cli(repo, "--changed-since", base(repo))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "config/orgs/sub/harbor-federal.yaml:1:1: duplicate-file-name: another org file is "
        "named harbor-federal.yaml: config/orgs/harbor-federal.yaml"
    ]


def test_a_deleted_file_alone_leaves_nothing_to_validate(repo: Path) -> None:
    git(repo, "rm", "-q", "config/orgs/seven.yaml")
    commit(repo)
    proc = run_cli(repo, "--changed-since", base(repo))
    assert (proc.returncode, proc.stdout) == (0, "")
    assert "0 org files added or changed" in proc.stderr


def test_an_untracked_org_file_counts_as_changed(repo: Path) -> None:
    (repo / "config" / "orgs" / "local.yaml").write_text(org(8))
    proc = run_cli(repo, "--changed-since", base(repo))
    assert proc.returncode == 1
    assert [line.split(": ")[1] for line in proc.stdout.splitlines()] == ["duplicate-org-id"]
    assert proc.stdout.startswith("config/orgs/local.yaml:")


@pytest.mark.parametrize(
    "change",
    ["config/checker.yaml", "schemas/README.txt", ".gitlab-ci.yml"],
)
def test_a_change_outside_the_org_files_validates_everything(repo: Path, change: str) -> None:
    target = repo / change
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((target.read_text() if target.exists() else "") + "# edited\n")
    commit(repo)
    proc = run_cli(repo, "--changed-since", base(repo))
    assert f"checker: {change} changed since" in proc.stderr
    assert "validating every file" in proc.stderr
    assert proc.returncode == 1
    assert "config/orgs/already-broken.yaml:5:1: unknown-key" in proc.stdout


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("", "no base commit was given"),
        ("0" * 40, "is not in this clone (a shallow clone?)"),
        ("--output=x", "is not a git revision"),
    ],
)
def test_a_missing_base_validates_everything(repo: Path, ref: str, reason: str) -> None:
    proc = run_cli(repo, "--changed-since", ref)
    assert reason in proc.stderr
    assert proc.returncode == 1
    assert "config/orgs/already-broken.yaml:5:1: unknown-key" in proc.stdout
    assert not (repo / "x").exists()


def test_outside_a_git_repository_everything_is_validated(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "config", tmp_path / "config")
    proc = run_cli(tmp_path, "--changed-since", "main")
    assert "checker: git cannot read the repository (fatal: not a git repository" in proc.stderr
    assert "validating every file" in proc.stderr
    assert (proc.returncode, proc.stdout) == (0, "")
    assert "3 org files valid" in proc.stderr


def test_paths_and_changed_since_together_are_a_usage_error(repo: Path) -> None:
    proc = run_cli(repo, "config/orgs/seven.yaml", "--changed-since", base(repo))
    assert proc.returncode == 2
    assert "give PATHS or --changed-since, not both" in proc.stderr
