"""``checker init``: everything an adopting repository needs, and nothing else.

The files are planned first (:func:`plan_init`, pure: paths and contents), then compared with
what the repository holds (:func:`decide`), then written (:func:`write`). A file that exists is
never overwritten without ``force``; one that already says the same is left alone, so a second
run changes nothing. The README is the one file that is added to rather than replaced: the CSM
section is appended (once, found again by its marker) when a README exists.

Why the schemas are copied into the repository: the org files' first line
(``# yaml-language-server: $schema=../../schemas/org.schema.json``, written by ``checker import``
too) must work in an editor offline and in a private project, where a URL to this project's
files would need a login. The copies are the installed checker's own; after an upgrade, delete
``schemas/`` and run ``checker init`` again (it writes only what is missing).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import jinja2

from checker.usecases.output import OutputError

__all__ = [
    "InitError",
    "InitOptions",
    "Outcome",
    "PlannedFile",
    "checker_version",
    "decide",
    "parse_instance",
    "plan_init",
    "write",
]

COMPONENT = "zendesk-org-checker"
PACKAGE = "zendesk-org-checker"
README_MARKER = "<!-- zendesk-org-checker:csm-section -->"
_INSTANCE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_PROJECT = re.compile(r"[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9_.-]+){2,}")

Action = Literal["create", "overwrite", "append", "unchanged", "kept"]


class InitError(ValueError):
    """A flag ``checker init`` cannot use (one line, for the CLI to print)."""


@dataclass(frozen=True, slots=True)
class InitOptions:
    #: (name, url) pairs, the first is the default instance unless ``default_instance`` says
    instances: tuple[tuple[str, str], ...]
    #: where the checker's releases live: ``HOST/GROUP/PROJECT`` on the adopters' GitLab
    checker_project: str
    version: str
    default_instance: str | None = None
    #: a container image with the checker preinstalled; the jobs then skip ``pip install``
    image: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedFile:
    path: str
    content: str
    #: the README: appended to an existing file instead of replacing it
    append: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    path: str
    action: Action
    content: str


def checker_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


def parse_instance(text: str) -> tuple[str, str]:
    """``NAME=URL`` → (name, url), or :class:`InitError` saying what is wrong."""
    name, sep, url = text.partition("=")
    name, url = name.strip(), url.strip().rstrip("/")
    if not sep or not name or not url:
        raise InitError(
            f"--instance {text!r}: expected NAME=URL, e.g. global=https://acme.zendesk.com"
        )
    if not _INSTANCE_NAME.fullmatch(name):
        raise InitError(
            f"--instance {text!r}: the name must be lowercase letters, digits, - and _, "
            "starting with a letter"
        )
    if not re.fullmatch(r"https?://[^\s/]+(?:/\S*)?", url):
        raise InitError(f"--instance {text!r}: the URL must start with https://")
    return name, url


def _check(options: InitOptions) -> None:
    if not options.instances:
        raise InitError(
            "name at least one Zendesk instance: --instance global=https://acme.zendesk.com"
        )
    names = [n for n, _ in options.instances]
    if len(set(names)) != len(names):
        raise InitError("--instance: each instance name once")
    if options.default_instance is not None and options.default_instance not in names:
        raise InitError(
            f"--default-instance {options.default_instance!r} is not one of the instances: "
            + ", ".join(names)
        )
    if not re.fullmatch(r"\d+\.\d+\.\d+(?:[.+-]?[A-Za-z0-9.]+)?", options.version):
        raise InitError(f"--version {options.version!r}: expected X.Y.Z, e.g. 1.2.0")
    if options.image is not None and not re.fullmatch(r"[A-Za-z0-9][\w.:/@-]*", options.image):
        raise InitError(
            f"--image {options.image!r}: expected an image reference, e.g. REGISTRY/PATH:TAG"
        )
    if not _PROJECT.fullmatch(options.checker_project):
        raise InitError(
            f"--checker-project {options.checker_project!r}: expected HOST/GROUP/PROJECT, "
            "e.g. gitlab.example.com/support/zendesk-org-checker"
        )


# --------------------------------------------------------------------------- the files


@functools.cache
def _env() -> jinja2.Environment:
    # Plain text files for the adopter's repository, not GitLab Markdown: no inert guard needed;
    # every value is one of our flags, checked above.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("checker", "templates/init"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML and Markdown files, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(name: str, options: InitOptions, **extra: object) -> str:
    host, _, path = options.checker_project.partition("/")
    return (
        _env()
        .get_template(name)
        .render(
            instances=options.instances,
            default_instance=options.default_instance or options.instances[0][0],
            checker_project=options.checker_project,
            version=options.version,
            image=options.image,
            package=PACKAGE,
            component=f"$CI_SERVER_FQDN/{path}/{COMPONENT}@{options.version}",
            index_url=(
                f"https://gitlab-ci-token:${{CI_JOB_TOKEN}}@{host}/api/v4/projects/"
                f"{quote(path, safe='')}/packages/pypi/simple"
            ),
            marker=README_MARKER,
            **extra,
        )
    )


def _package_text(name: str) -> str:
    return resources.files("checker").joinpath(name).read_text(encoding="utf-8")


def plan_init(options: InitOptions) -> list[PlannedFile]:
    """Every file ``checker init`` writes, with its content (raises :class:`InitError`)."""
    _check(options)
    return [
        PlannedFile("config/checker.yaml", _render("checker.yaml.j2", options)),
        PlannedFile("config/orgs/.gitkeep", ""),
        PlannedFile(
            "config/templates/support_request.md.j2",
            _package_text("templates/support_request.md.j2"),
        ),
        PlannedFile("schemas/org.schema.json", _package_text("schemas/org.schema.json")),
        PlannedFile("schemas/settings.schema.json", _package_text("schemas/settings.schema.json")),
        PlannedFile(".gitlab-ci.yml", _render("gitlab-ci.yml.j2", options)),
        PlannedFile(".pre-commit-config.yaml", _render("pre-commit-config.yaml.j2", options)),
        PlannedFile("README.md", _render("README-section.md.j2", options), append=True),
    ]


# --------------------------------------------------------------------------- deciding and writing


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""  # exists but unreadable: treated as different, so kept without --force


def decide(root: Path, files: Sequence[PlannedFile], *, force: bool) -> list[Outcome]:
    """What to do with each planned file in the repository at ``root``."""
    outcomes: list[Outcome] = []
    for planned in files:
        current = _read(root / planned.path)
        if current is None:
            outcomes.append(Outcome(planned.path, "create", planned.content))
        elif planned.append:
            if README_MARKER in current:
                outcomes.append(Outcome(planned.path, "unchanged", current))
            else:
                sep = (
                    ""
                    if current.endswith("\n\n") or not current
                    else "\n"
                    if current.endswith("\n")
                    else "\n\n"
                )
                outcomes.append(Outcome(planned.path, "append", current + sep + planned.content))
        elif current == planned.content:
            outcomes.append(Outcome(planned.path, "unchanged", current))
        elif force:
            outcomes.append(Outcome(planned.path, "overwrite", planned.content))
        else:
            outcomes.append(Outcome(planned.path, "kept", current))
    return outcomes


def write(root: Path, outcomes: Sequence[Outcome]) -> None:
    """Write what :func:`decide` chose; an OutputError naming the folder when that fails."""
    try:
        for outcome in outcomes:
            if outcome.action in ("create", "overwrite", "append"):
                target = root / outcome.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(outcome.content, encoding="utf-8")
    except OSError as e:
        raise OutputError(f"cannot write in {root}: {e.strerror or e}") from None
