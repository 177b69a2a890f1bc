"""Help that answers: every option and environment variable in --help, a top-level help that
cuts nothing, every missing variable named in one line, GitLab errors that say where and what
to check without the token."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from checker import cli as cli_module
from tests.cli_support import ROOT, run
from tests.fakes.gitlab_server import FakeGitLab

COMMANDS = sorted(cli_module.cli.commands)  # type: ignore[attr-defined]
READS = {
    "validate": ["CHECKER_TODAY"],
    "drift": ["ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN", "ZENDESK_URL"],
    "snapshot": ["ZENDESK_EMAIL", "ZENDESK_<INSTANCE>_EMAIL", "CHECKER_DEBUG"],
    "import": ["ZENDESK_API_TOKEN", "ZENDESK_<INSTANCE>_URL"],
    "reconcile": ["GITLAB_TOKEN", "GITLAB_URL", "GITLAB_PROJECT", "ZENDESK_EMAIL"],
    "preview-note": ["GITLAB_TOKEN", "GITLAB_PROJECT", "CI_MERGE_REQUEST_IID"],
    "init": [],
    "report": ["CI_PROJECT_URL"],
    "retire": ["GITLAB_TOKEN", "GITLAB_URL", "GITLAB_PROJECT"],
}


def _help(*args: str) -> str:
    result = CliRunner().invoke(cli_module.cli, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0
    return result.output


def test_top_level_help_cuts_no_command_description() -> None:
    text = _help()
    commands = text.split("Commands:", 1)[1]
    assert "..." not in commands
    for name in COMMANDS:
        assert f"  {name} " in commands


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help_and_the_environment_is_documented(name: str) -> None:
    command = cli_module.cli.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help"
    text = _help(name)
    assert "Environment variables:" in text
    for variable in READS[name]:
        assert variable in text, (name, variable)


def _repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "config", tmp_path / "config")
    return tmp_path


def test_several_missing_variables_are_named_in_one_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHECKER_TODAY": "2026-11-26"}
    proc = run(["reconcile", "--dry-run"], repo, env)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    for name in (
        "GITLAB_URL",
        "GITLAB_TOKEN",
        "GITLAB_PROJECT",
        "ZENDESK_EMAIL",
        "ZENDESK_US_GOV_API_TOKEN",
    ):
        assert name in line


def test_a_gitlab_error_names_url_and_project_and_what_to_check(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "preview.md").write_text("### Zendesk drift preview\n")
    with FakeGitLab(token="glpat-secret-token-1234") as gl:
        url = gl.url
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GITLAB_URL": gl.url,
            "GITLAB_TOKEN": "glpat-secret-token-1234",
            "GITLAB_PROJECT": "group/no-such-project",
        }
        proc = run(["preview-note", "--file", "preview.md", "--mr", "3"], repo, env)
    assert proc.returncode in (2, 4)
    [line] = proc.stderr.strip().splitlines()
    assert url in line and "group/no-such-project" in line and "GITLAB_PROJECT" in line
    assert "glpat-secret-token-1234" not in line
