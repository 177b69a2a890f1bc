"""The release, as far as this machine can prove it: the Containerfile parses (Docker's own
parser, through the `dockerfile` package) and its command runs under this Python; the release
jobs run only for vX.Y.Z tags with pinned images; the version is written in one place.
(`make package`, run by .ci/run, builds the sdist and wheel, runs twine check and hadolint.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
CONTAINERFILE = ROOT / "Containerfile"


@pytest.fixture(scope="module")
def commands() -> dict[str, list[Any]]:
    parsed = dockerfile.parse_file(str(CONTAINERFILE))
    out: dict[str, list[Any]] = {}
    for command in parsed:
        out.setdefault(command.cmd.upper(), []).append(command)
    return out


def test_containerfile_installs_the_wheel_and_tells_the_jobs(
    commands: dict[str, list[Any]],
) -> None:
    (arg,) = commands["ARG"]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+", arg.value[0])
    (base,) = commands["FROM"]
    assert base.value == ("${PYTHON_IMAGE}",)
    (copy,) = commands["COPY"]
    assert copy.value[0] == "dist/*.whl"
    git, install = commands["RUN"]
    assert "apt-get install -y --no-install-recommends git" in git.value[0]  # --changed-since
    assert "python -m venv /opt/checker" in install.value[0]
    env = dict(zip(commands["ENV"][0].value[::2], commands["ENV"][0].value[1::2], strict=True))
    assert env["CHECKER_PYTHON"] == "/opt/checker/bin/python"
    assert env["PATH"].strip('"').startswith("/opt/checker/bin:")
    assert "ENTRYPOINT" not in commands, "GitLab runs job scripts through the image's shell"


def test_the_images_command_runs_under_this_python(commands: dict[str, list[Any]]) -> None:
    """The image's command is the console script the wheel installs; here, the same package
    under the same interpreter: it must start, and do the job the image exists for."""
    (cmd,) = commands["CMD"]
    assert cmd.json
    program, *args = cmd.value
    script = Path(sys.executable).parent / program
    assert script.is_file(), f"{program} is not installed beside {sys.executable}"
    shown = subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "Usage: checker" in shown.stdout
    checked = subprocess.run(
        [str(script), "validate"],
        cwd=ROOT / "examples",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "CHECKER_TODAY": "2026-06-01"},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((ROOT / ".gitlab-ci.yml").read_text())
    return data


def test_release_jobs_run_only_for_version_tags(pipeline: dict[str, Any]) -> None:
    rule = {"if": r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/"}
    assert rule in pipeline["workflow"]["rules"]
    assert pipeline["stages"][-1] == "release"
    base = pipeline[".zendesk-org-checker-release"]
    assert base["rules"] == [rule]
    for name in ("release-package", "release-image", "release-component"):
        job = pipeline[name]
        assert job["extends"] == ".zendesk-org-checker-release"
        image = job["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"


def test_release_package_checks_the_tag_against_the_one_version(
    pipeline: dict[str, Any],
) -> None:
    script = "\n".join(pipeline["release-package"]["script"])
    assert '"v${version}" != "${CI_COMMIT_TAG}"' in script
    assert "python -m twine check --strict dist/*" in script
    assert 'TWINE_PASSWORD="${CI_JOB_TOKEN}"' in script
    assert "/projects/${CI_PROJECT_ID}/packages/pypi" in script
    assert pipeline["release-package"]["artifacts"]["reports"]["dotenv"] == "release.env"
    image = pipeline["release-image"]
    assert "buildah build --file Containerfile" in "\n".join(image["script"])
    release = pipeline["release-component"]["release"]
    assert release["tag_name"] == "$VERSION"  # the catalog wants X.Y.Z, without the v


def test_the_version_is_written_in_one_place() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    shown = subprocess.run(
        [sys.executable, "-m", "checker", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.stdout.strip() == f"checker, version {version}"
    for path in (ROOT / "checker").rglob("*.py"):
        assert f'"{version}"' not in path.read_text(encoding="utf-8"), path
    assert json.dumps(version) not in (ROOT / "Containerfile").read_text()
