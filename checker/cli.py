"""The command line: arguments → settings → the core → an exit code. The only place that exits.

Exit codes (the whole CLI keeps to them):
0 valid / all in sync · 1 invalid input · 2 usage error (also a missing credential) ·
3 drift or missing orgs found · 4 some org could not be checked (takes precedence over 3) ·
5 internal error (a bug: please report it).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from checker.render import findings as render_findings
from checker.validate import Validation, validate

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_UNKNOWN = 4
EXIT_INTERNAL = 5

F = TypeVar("F", bound=Callable[..., Any])


class Exit(Exception):
    """Raised by commands to end with a code after printing their own output."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def config_dir_option(func: F) -> F:
    return click.option(
        "--config-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("config"),
        show_default=True,
        help="Folder holding checker.yaml and orgs/.",
    )(func)


def _write(path: Path | None, content: str) -> None:
    if path is None:
        return
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


def _today() -> dt.date:
    """Today, or CHECKER_TODAY (YYYY-MM-DD) so examples and tests see a fixed date."""
    fixed = os.environ.get("CHECKER_TODAY")
    if fixed:
        try:
            return dt.date.fromisoformat(fixed)
        except ValueError:
            raise click.UsageError(f"CHECKER_TODAY={fixed!r} is not a YYYY-MM-DD date") from None
    return dt.date.today()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zendesk-org-checker", prog_name="checker")
def cli() -> None:
    """Keep Zendesk organizations as their YAML files in config/orgs/ declare them.

    validate checks the files; drift compares them with live Zendesk (or a snapshot);
    reconcile turns drift into GitLab issues and merge requests.
    """


@cli.command("validate")
@config_dir_option
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output on stdout.",
)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write a JUnit report."
)
@click.option(
    "--codequality",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a GitLab Code Quality report.",
)
def validate_cmd(
    config_dir: Path,
    paths: tuple[Path, ...],
    fmt: str,
    junit: Path | None,
    codequality: Path | None,
) -> None:
    """Validate org files (all of config/orgs/, or PATHS) and the settings.

    Every problem is one line PATH:LINE:COL: RULE: MESSAGE. Exit 0 when valid, 1 when not.
    """
    result = validate(config_dir, paths, today=_today())
    _report_validation(result, fmt, junit, codequality)
    raise Exit(EXIT_OK if result.ok else EXIT_INVALID)


def _report_validation(
    result: Validation, fmt: str, junit: Path | None, codequality: Path | None
) -> None:
    findings = list(result.findings)
    if fmt == "json":
        click.echo(render_findings.as_json(findings, result.files_checked), nl=False)
    else:
        click.echo(render_findings.text(findings), nl=False)
        click.echo(render_findings.summary(findings, result.files_checked), err=True)
    _write(junit, render_findings.junit(findings, result.paths))
    _write(codequality, render_findings.codequality(findings))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and exit with its code; never a traceback for expected failures."""
    try:
        cli.main(args=argv, prog_name="checker", standalone_mode=False)
    except Exit as e:
        sys.exit(e.code)
    except click.exceptions.Abort:
        click.echo("checker: aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("checker: interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # a bug: one line, the traceback only on request
        if os.environ.get("CHECKER_DEBUG"):
            raise
        click.echo(
            f"checker: internal error: {type(e).__name__}: {e} "
            "(set CHECKER_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK)
