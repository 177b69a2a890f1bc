"""The checker-validate hook with the real `pre-commit` tool: a repository made by `checker init`,
its .pre-commit-config.yaml pointed at this checkout (offline: a local clone at HEAD instead of
the GitLab URL), `pre-commit install`, and a CSM's commit of a broken org file is stopped with
the same line the merge request widget shows; the fixed file commits.

pre-commit builds the hook's environment once (pip installs this project and its dependencies
into a virtualenv under PRE_COMMIT_HOME): most of this test's time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_checker_validate_hook_stops_a_broken_org_file(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "Casey CSM",
        "GIT_AUTHOR_EMAIL": "casey@example.invalid",
        "GIT_COMMITTER_NAME": "Casey CSM",
        "GIT_COMMITTER_EMAIL": "casey@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        # the machine's pip cache: the hook environment's packages are downloaded once
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_")},
    }
    repo = tmp_path / "orgs-repo"
    repo.mkdir()
    assert _git(repo, "init", "-q", "-b", "main", env=env).returncode == 0
    init = subprocess.run(
        [
            str(BIN / "checker"),
            "init",
            "--instance",
            "global=https://acme.zendesk.example",
            "--checker-project",
            "gitlab.example.com/support/zendesk-org-checker",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert init.returncode == 0, init.stderr

    # The config init wrote, pointed at this checkout at HEAD: no network but PyPI's.
    config_path = repo / ".pre-commit-config.yaml"
    yaml = YAML()
    config = yaml.load(config_path.read_text(encoding="utf-8"))
    (entry,) = config["repos"]
    assert [h["id"] for h in entry["hooks"]] == ["checker-validate"]
    entry["repo"], entry["rev"] = str(ROOT), head
    with config_path.open("w", encoding="utf-8") as out:
        yaml.dump(config, out)

    installed = subprocess.run(
        [str(BIN / "pre-commit"), "install"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert _git(repo, "add", "-A", env=env).returncode == 0
    first = _git(repo, "commit", "-q", "-m", "Adopt the checker", env=env)
    assert first.returncode == 0, first.stdout + first.stderr

    broken = repo / "config" / "orgs" / "acme.yaml"
    broken.write_text(
        "schema_version: 1\nname: Acme\nzendesk:\n  org_id: 12\nnots: typo\n", encoding="utf-8"
    )
    assert _git(repo, "add", "-A", env=env).returncode == 0
    refused = _git(repo, "commit", "-q", "-m", "Add Acme", env=env)
    assert refused.returncode != 0
    shown = refused.stdout + refused.stderr
    assert "config/orgs/acme.yaml:5:1: unknown-key: unknown key 'nots'" in shown
    assert _git(repo, "log", "--oneline", env=env).stdout.count("\n") == 1

    broken.write_text(
        "schema_version: 1\nname: Acme\nzendesk:\n  org_id: 12\nnotes: fixed\n", encoding="utf-8"
    )
    assert _git(repo, "add", "-A", env=env).returncode == 0
    accepted = _git(repo, "commit", "-q", "-m", "Add Acme", env=env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "checker validate (Zendesk org files)" in accepted.stdout + accepted.stderr
