"""GitLab retries are settings: ``gitlab.retries`` (retries of each idempotent request) and
``gitlab.retry_backoff_seconds`` (the writer's pause before attempting a create again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.load.settings import load_settings
from checker.tracker.gitlab import MAX_RETRIES, GitLabConfig, connect
from checker.tracker.types import GitLabUnavailable
from tests.fakes.gitlab_server import FakeGitLab


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        yield fake


def _config(server: FakeGitLab) -> GitLabConfig:
    return GitLabConfig(server.url, str(server.project_id), server.token)


def test_defaults_are_unchanged(config_dir: Path) -> None:
    settings, findings = load_settings(config_dir)
    assert findings == [] and settings is not None
    assert (settings.gitlab.retries, settings.gitlab.retry_backoff) == (MAX_RETRIES, 0.5)


def test_settings_file_sets_retries_and_back_off(config_dir: Path) -> None:
    path = config_dir / "checker.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\ngitlab:\n" in text
    path.write_text(
        text.replace("\ngitlab:\n", "\ngitlab:\n  retries: 1\n  retry_backoff_seconds: 0.25\n"),
        encoding="utf-8",
    )
    settings, findings = load_settings(config_dir)
    assert findings == [] and settings is not None
    assert (settings.gitlab.retries, settings.gitlab.retry_backoff) == (1, 0.25)


def test_negative_retries_are_refused(config_dir: Path) -> None:
    path = config_dir / "checker.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\ngitlab:\n", "\ngitlab:\n  retries: -1\n"), encoding="utf-8")
    settings, findings = load_settings(config_dir)
    assert settings is None
    assert any("retries" in f.message for f in findings)


def test_no_retries_reports_the_first_transient_error(server: FakeGitLab) -> None:
    server.add_fault(kind="status", method="GET", path=r"/issues$", status=503)
    with pytest.raises(GitLabUnavailable):
        connect(_config(server), timeout=5, max_retries=0).open_issues("zendesk-drift")
    assert len([r for r in server.reads() if r.path.endswith("/issues")]) == 1


def test_one_retry_rides_out_one_transient_error(server: FakeGitLab) -> None:
    server.add_fault(kind="status", method="GET", path=r"/issues$", status=503)
    project = connect(_config(server), timeout=5, max_retries=1)
    assert project.open_issues("zendesk-drift") == []
    assert len([r for r in server.reads() if r.path.endswith("/issues")]) == 2
    # projects reached through it keep the setting
    server.add_fault(kind="status", method="GET", path=r"/issues$", status=503, times=2)
    with pytest.raises(GitLabUnavailable):
        project.for_project(str(server.project_id)).open_issues("zendesk-drift")
