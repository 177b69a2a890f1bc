"""``checker init``: an empty git repository becomes one that `checker validate` accepts, a second
run changes nothing, nothing is overwritten without --force, and --dry-run writes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from checker.load.settings import load_settings
from checker.usecases import init as scaffold
from tests.cli_support import run

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "gitlab.example.com/support/zendesk-org-checker"
INIT = [
    "init",
    "--instance",
    "global=https://acme.zendesk.example",
    "--instance",
    "eu=https://acme-eu.zendesk.example",
    "--checker-project",
    PROJECT,
    "--version",
    "1.2.3",
]
ENV = {"PATH": "/usr/bin:/bin", "CHECKER_TODAY": "2026-06-01"}
WRITTEN = {
    "config/checker.yaml",
    "config/orgs/.gitkeep",
    "config/templates/support_request.md.j2",
    "schemas/org.schema.json",
    "schemas/settings.schema.json",
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
    "README.md",
}


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_init_into_an_empty_repository_then_validate(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "adopter")
    done = run(INIT, repo, ENV)
    assert done.returncode == 0, done.stderr
    assert set(_files(repo)) == WRITTEN
    assert {line.split(": ", 1)[0] for line in done.stdout.splitlines()} == {"created"}

    checked = run(["validate"], repo, ENV)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 org files valid" in checked.stderr

    settings, problems = load_settings(repo / "config")
    assert problems == []
    assert settings is not None
    assert settings.default_instance == "global"
    assert {n: i.url for n, i in settings.instances.items()} == {
        "global": "https://acme.zendesk.example",
        "eu": "https://acme-eu.zendesk.example",
    }
    assert settings.support_request.template_text is not None  # the copy init wrote

    pipeline = YAML(typ="safe").load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    (include,) = pipeline["include"]
    assert include["component"] == (
        "$CI_SERVER_FQDN/support/zendesk-org-checker/zendesk-org-checker@1.2.3"
    )
    assert include["inputs"]["install"] == "zendesk-org-checker==1.2.3"
    assert pipeline["stages"] == ["test", "deploy"]
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in pipeline["workflow"]["rules"]
    assert pipeline["variables"]["PIP_INDEX_URL"].endswith(
        "@gitlab.example.com/api/v4/projects/support%2Fzendesk-org-checker/packages/pypi/simple"
    )
    hooks = YAML(typ="safe").load((repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert hooks["repos"] == [
        {"repo": f"https://{PROJECT}", "rev": "v1.2.3", "hooks": [{"id": "checker-validate"}]}
    ]


def test_every_settings_key_init_writes_is_explained() -> None:
    """Each top-level key has its comment, and the file names every key the schema knows."""
    import json

    options = scaffold.InitOptions((("global", "https://acme.zendesk.example"),), PROJECT, "1.2.3")
    text = {f.path: f.content for f in scaffold.plan_init(options)}["config/checker.yaml"]
    lines = text.splitlines()
    top = [(n, line) for n, line in enumerate(lines) if line[:1].isalpha()]
    for n, line in top:
        assert lines[n - 1].startswith("#") or "#" in line, f"line {n + 1}: {line} unexplained"
    schema = json.loads((ROOT / "checker" / "schemas" / "settings.schema.json").read_text())
    assert {line.split(":", 1)[0] for _, line in top} == set(schema["properties"])


def test_a_second_run_changes_nothing_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "adopter")
    dry = run([*INIT, "--dry-run"], repo, ENV)
    assert dry.returncode == 0, dry.stderr
    assert _files(repo) == {}
    assert sorted(line.split(": ", 1)[1] for line in dry.stdout.splitlines()) == sorted(WRITTEN)
    assert all(line.startswith("would create: ") for line in dry.stdout.splitlines())

    assert run(INIT, repo, ENV).returncode == 0
    before = _files(repo)
    again = run(INIT, repo, ENV)
    assert again.returncode == 0
    assert _files(repo) == before
    assert all(line.startswith("unchanged: ") for line in again.stdout.splitlines())


def test_nothing_is_overwritten_without_force(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "adopter")
    (repo / ".gitlab-ci.yml").write_text("include: [{local: ours.yml}]\n", encoding="utf-8")
    (repo / "README.md").write_text("# Our support repository\n", encoding="utf-8")
    done = run(INIT, repo, ENV)
    assert done.returncode == 0
    assert "kept (it differs; --force overwrites it): .gitlab-ci.yml" in done.stdout
    assert (repo / ".gitlab-ci.yml").read_text() == "include: [{local: ours.yml}]\n"
    readme = (repo / "README.md").read_text()
    assert readme.startswith("# Our support repository\n\n")
    assert readme.count(scaffold.README_MARKER) == 1
    assert "added the CSM section to: README.md" in done.stdout

    again = run(INIT, repo, ENV)
    assert (repo / "README.md").read_text() == readme  # the section is added once
    assert "unchanged: README.md" in again.stdout

    forced = run([*INIT, "--force"], repo, ENV)
    assert forced.returncode == 0
    assert "overwrote: .gitlab-ci.yml" in forced.stdout
    assert "component:" in (repo / ".gitlab-ci.yml").read_text()


@pytest.mark.parametrize(
    ("instances", "default", "message"),
    [
        ((), None, "name at least one Zendesk instance"),
        (("global",), None, "expected NAME=URL"),
        (("Global=https://a.zendesk.example",), None, "lowercase letters"),
        (("global=ftp://a.zendesk.example",), None, "must start with https://"),
        (("a=https://a.example",), "b", "--default-instance 'b' is not one of the instances: a"),
        (("a=https://a.example", "a=https://b.example"), None, "each instance name once"),
    ],
)
def test_bad_flags_are_refused(
    instances: tuple[str, ...], default: str | None, message: str
) -> None:
    def attempt() -> None:
        parsed = tuple(scaffold.parse_instance(i) for i in instances)
        scaffold.plan_init(scaffold.InitOptions(parsed, PROJECT, "1.2.3", default))

    with pytest.raises(scaffold.InitError, match=message):
        attempt()


@pytest.mark.parametrize(
    ("version", "image", "message"),
    [("latest", None, "expected X.Y.Z"), ("1.2.3", 'evil"\nimage', "an image reference")],
)
def test_bad_version_or_image_is_refused(version: str, image: str | None, message: str) -> None:
    options = scaffold.InitOptions(
        (("global", "https://a.zendesk.example"),), PROJECT, version, image=image
    )
    with pytest.raises(scaffold.InitError, match=message):
        scaffold.plan_init(options)


def test_a_bad_flag_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    done = run(["init", "--checker-project", PROJECT, "--instance", "global"], tmp_path, ENV)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "checker: --instance 'global': expected NAME=URL, e.g. global=https://acme.zendesk.com"
    ]
    assert list(tmp_path.iterdir()) == []


def test_image_source_skips_pip(tmp_path: Path) -> None:
    options = scaffold.InitOptions(
        instances=(("global", "https://acme.zendesk.example"),),
        checker_project=PROJECT,
        version="1.2.3",
        image="registry.gitlab.example.com/support/zendesk-org-checker:1.2.3",
    )
    files = {f.path: f.content for f in scaffold.plan_init(options)}
    pipeline = YAML(typ="safe").load(files[".gitlab-ci.yml"])
    assert "variables" not in pipeline
    inputs = pipeline["include"][0]["inputs"]
    assert "install" not in inputs
    assert inputs["python_image"] == options.image


def test_the_org_file_modeline_finds_the_copied_schema(tmp_path: Path) -> None:
    """The first line `checker import` writes resolves in an initialised repository."""
    from checker.usecases.import_orgs import HEADER

    repo = _git_repo(tmp_path / "adopter")
    assert run(INIT, repo, ENV).returncode == 0
    target = HEADER.split("$schema=", 1)[1].strip()
    assert (repo / "config" / "orgs" / target).resolve().is_file()
    settings_line = (repo / "config" / "checker.yaml").read_text().splitlines()[0]
    assert (repo / "config" / settings_line.split("$schema=", 1)[1]).resolve().is_file()


@pytest.mark.parametrize("image", [None, "registry.gitlab.example.com/support/checker:1.2.3"])
def test_the_pipeline_init_writes_matches_gitlab_schema(image: str | None) -> None:
    """The written .gitlab-ci.yml with the component expanded (as GitLab would) against GitLab's
    CI schema; tests/pipeline/test_adopt.py (scenario 5) runs it."""
    import json

    from jsonschema import Draft7Validator

    from tests.test_pipeline_schema import SCHEMA_PATH, TEMPLATE, _errors, _resolved_body

    options = scaffold.InitOptions(
        (("global", "https://acme.zendesk.example"),), PROJECT, "1.2.3", image=image
    )
    text = {f.path: f.content for f in scaffold.plan_init(options)}[".gitlab-ci.yml"]
    pipeline = YAML(typ="safe").load(text)
    header, body = YAML(typ="safe", pure=True).load_all(TEMPLATE.read_text(encoding="utf-8"))
    (include,) = pipeline.pop("include")
    expanded = {**pipeline, **_resolved_body(header, body, include["inputs"])}
    validator = Draft7Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    assert _errors(validator, expanded) == []
    assert expanded["validate"]["stage"] in pipeline["stages"]
    assert expanded["reconcile"]["stage"] in pipeline["stages"]
    assert expanded[".zendesk-org-checker-base"]["image"] == (
        image or "python:3.11.14-slim-bookworm"
    )
