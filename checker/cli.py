"""The command line: arguments → settings → the core → an exit code. The only place that exits.

Exit codes (the whole CLI keeps to them):
0 valid / all in sync · 1 invalid input · 2 usage error (also a missing or refused credential) ·
3 drift or missing orgs found · 4 some org could not be checked (takes precedence over 3) ·
5 internal error (a bug: please report it) · 130 interrupted (Ctrl-C) · 143 terminated (SIGTERM).

Over 400 lines by reason: nine commands' options and --help texts, which are the user's contract
(the README and tests/test_cli_help.py pin them). Each command only parses its options, builds
the adapters, calls a use case and maps the outcome; :data:`ERROR_EXITS` maps every expected
error to its exit code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from checker import interrupt
from checker.domain.models import DriftReport, FetchFailure, FetchState, OrgSpec, OrgStatus
from checker.domain.selection import Shard, select
from checker.domain.settings import Settings
from checker.live.port import LiveSource
from checker.load.settings import load_settings
from checker.load.validate import Validation, validate
from checker.render import drift_markdown, drift_text
from checker.render import findings as render_findings
from checker.render.oneline import one_line
from checker.report import to_json as report_to_json
from checker.usecases.output import write_text

if TYPE_CHECKING:
    from checker.usecases.import_orgs import ImportResult
    from checker.usecases.report import Fleet

# The commands that talk to Zendesk or GitLab import zenpy and python-gitlab when they run:
# `checker validate`, the merge-request gate, starts without them (half its start-up time).

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_UNKNOWN = 4
EXIT_INTERNAL = 5
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

#: The one table from errors to exit codes: the first row the error is an instance of wins
#: (subclasses before their bases). Rows name their class by module, so that `checker validate`
#: loads neither zenpy nor python-gitlab to read it: an error of a module never loaded cannot
#: have been raised. The last column marks GitLab's errors, which the message follows with
#: which GitLab and project the command talked to.
ERROR_EXITS: tuple[tuple[str, str, int, bool], ...] = (
    ("checker.usecases.output", "OutputError", EXIT_USAGE, False),
    ("checker.domain.selection", "SelectionError", EXIT_USAGE, False),
    ("checker.usecases.init", "InitError", EXIT_USAGE, False),
    ("checker.live.snapshot", "SnapshotError", EXIT_INVALID, False),
    ("checker.usecases.report", "FleetInputError", EXIT_INVALID, False),
    ("checker.reconcile.run", "ReconcileInputError", EXIT_INVALID, False),
    ("checker.live.zendesk_auth", "CredentialsMissing", EXIT_USAGE, False),
    ("checker.live.zendesk", "CredentialsRefused", EXIT_USAGE, False),
    ("checker.live.zendesk_auth", "ZendeskError", EXIT_UNKNOWN, False),
    ("checker.tracker.types", "GitLabConfigError", EXIT_USAGE, True),
    ("checker.tracker.types", "GitLabAuthError", EXIT_USAGE, True),
    ("checker.tracker.types", "GitLabError", EXIT_UNKNOWN, True),
)

F = TypeVar("F", bound=Callable[..., Any])

#: the environment variables the commands read, for their --help ("\b": kept as written)
_ZENDESK_ENV = """
  ZENDESK_EMAIL + ZENDESK_API_TOKEN, or ZENDESK_OAUTH_TOKEN
                  credentials of the default instance (only from the environment)
  ZENDESK_<INSTANCE>_EMAIL, _API_TOKEN, _OAUTH_TOKEN
                  another instance's (us-gov: ZENDESK_US_GOV_API_TOKEN, ...)
  ZENDESK_URL, ZENDESK_<INSTANCE>_URL
                  replace an instance's URL from checker.yaml"""
_GITLAB_ENV = """
  GITLAB_TOKEN    access token with the api scope (CI_JOB_TOKEN cannot do this)
  GITLAB_URL      GitLab's URL (default: CI_SERVER_URL)
  GITLAB_PROJECT  id or path of the project holding the issues (default: CI_PROJECT_ID)"""
_COMMON_ENV = """
  CHECKER_TODAY   a fixed date (YYYY-MM-DD) to judge ignore entries by
  CHECKER_DEBUG   set to show the traceback of an internal error"""


def _env_help(*parts: str) -> str:
    return "\b\nEnvironment variables:" + "".join(parts)


ENV_VALIDATE = _env_help(_COMMON_ENV)
ENV_ZENDESK = _env_help(_ZENDESK_ENV, _COMMON_ENV)
ENV_RECONCILE = _env_help(
    _GITLAB_ENV,
    "\n  CI_PROJECT_URL  links to org files (when gitlab.repository_url is not set)",
    "\n  CHECKER_FIRST_RUN_CONFIRMED=true  go ahead after the first run's plan",
    "\n  (without --report, also the Zendesk variables:)",
    _ZENDESK_ENV,
    _COMMON_ENV,
)
ENV_PREVIEW = _env_help(
    _GITLAB_ENV, "\n  CI_MERGE_REQUEST_IID  the merge request, when --mr is not given"
)


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


def max_minutes_option(func: F) -> F:
    return click.option(
        "--max-minutes",
        type=click.FloatRange(min=0, min_open=True),
        help="Budget of the run: past it the orgs not yet read are unknown and the report is "
        "written [default: max_run_minutes in checker.yaml, 50].",
    )(func)


def _write(path: Path | None, content: str) -> None:
    if path is not None:
        with _failures():
            write_text(path, content)


def _today() -> dt.date:
    """Today, or CHECKER_TODAY (YYYY-MM-DD) so examples and tests see a fixed date."""
    fixed = os.environ.get("CHECKER_TODAY")
    if fixed:
        try:
            return dt.date.fromisoformat(fixed)
        except ValueError:
            raise click.UsageError(f"CHECKER_TODAY={fixed!r} is not a YYYY-MM-DD date") from None
    return dt.date.today()


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run 'checker COMMAND --help' for a command's options and environment variables.",
)
@click.version_option(package_name="zendesk-org-checker", prog_name="checker")
def cli() -> None:
    """Keep Zendesk organizations as their YAML files in config/orgs/ declare them.

    validate checks the files; drift compares them with live Zendesk (or a snapshot);
    reconcile turns drift into GitLab issues and merge requests.
    """


@cli.command("validate", short_help="Validate the org files and the settings.", epilog=ENV_VALIDATE)
@config_dir_option
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output on stdout: PATH:LINE:COL lines, or JSON.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit report (for the merge request's test report).",
)
@click.option(
    "--codequality",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a GitLab Code Quality report (for the merge request widget).",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="Only the org files added or changed since git commit REF (a merge request's base), "
    "compared with every org file by the rules across files; every file when anything else "
    "changed or REF is not in the clone.",
)
def validate_cmd(
    config_dir: Path,
    paths: tuple[Path, ...],
    fmt: str,
    junit: Path | None,
    codequality: Path | None,
    changed_since: str | None,
) -> None:
    """Validate org files (all of config/orgs/, or PATHS) and the settings.

    Every problem is one line PATH:LINE:COL: RULE: MESSAGE. Exit 0 when valid, 1 when not.
    No network, no credentials.
    """
    partial = False
    if changed_since is not None:
        if paths:
            raise click.UsageError("give PATHS or --changed-since, not both")
        from checker.load.changeset import changed_scope

        scope = changed_scope(changed_since, config_dir)
        click.echo(f"checker: {scope.reason}", err=True)
        if scope.files is not None:
            paths, partial = scope.files, True
    result = validate(config_dir, paths, today=_today(), keep_specs=False, partial=partial)
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


class Progress:
    """A progress bar on a terminal; in CI logs, one line per tenth (at least every 100 orgs)."""

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty()
        self.step = max(1, min(100, total // 10))
        self._next = self.step
        self._bar: Any = None
        if self.tty and total:
            self._bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self._bar.__enter__()
        self.label = label

    def __call__(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.done >= self._next or self.done == self.total:
            click.echo(f"{self.label}: {self.done}/{self.total} orgs", err=True)
            while self._next <= self.done:
                self._next += self.step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _validated(config_dir: Path) -> tuple[Validation, Settings]:
    """Validate first: invalid files end the command with exit 1 before any request.

    Returns the validation and its settings, instance URLs overridden from the environment."""
    result = validate(config_dir, today=_today())
    if not result.ok or result.settings is None:
        click.echo(render_findings.text(result.findings), nl=False, err=True)
        click.echo(
            "checker: the org files or settings are invalid; nothing was checked "
            f"({render_findings.summary(list(result.findings), result.files_checked)})",
            err=True,
        )
        raise Exit(EXIT_INVALID)
    return result, result.settings.with_url_override()


def _missing_gitlab(environ: Mapping[str, str]) -> list[str]:
    """The GitLab variables that are not set (every one, for one line naming them all)."""

    def unset(*names: str) -> bool:
        return not any(environ.get(n, "").strip() for n in names)

    missing = []
    if unset("GITLAB_URL", "CI_SERVER_URL"):
        missing.append("GITLAB_URL (or CI_SERVER_URL)")
    if unset("GITLAB_TOKEN"):
        job = "; CI_JOB_TOKEN cannot create issues" if not unset("CI_JOB_TOKEN") else ""
        missing.append(f"GITLAB_TOKEN (an access token with the api scope{job})")
    if unset("GITLAB_PROJECT", "CI_PROJECT_ID"):
        missing.append("GITLAB_PROJECT (or CI_PROJECT_ID)")
    return missing


def _gitlab_where(environ: Mapping[str, str], mr_iid: int | None = None) -> str:
    """Which GitLab and project a command talked to (never the token), and what to check."""
    url = (environ.get("GITLAB_URL") or environ.get("CI_SERVER_URL") or "?").strip()
    project = (environ.get("GITLAB_PROJECT") or environ.get("CI_PROJECT_ID") or "?").strip()
    mr = f", merge request !{mr_iid}" if mr_iid is not None else ""
    check = "--mr, " if mr_iid is not None else ""
    return (
        f"GitLab {url}, project {project}{mr}: check GITLAB_URL, GITLAB_PROJECT, {check}and "
        "that GITLAB_TOKEN is a token of that project with the api scope"
    )


def _fail(code: int, message: str) -> Exit:
    click.echo(f"checker: {one_line(message)}", err=True)
    return Exit(code)


def _exit_for(error: BaseException) -> tuple[int, bool] | None:
    """The exit code of an expected error (:data:`ERROR_EXITS`) and whether it is GitLab's;
    None for any other error (a bug)."""
    for module, name, code, gitlab in ERROR_EXITS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, getattr(loaded, name)):
            return code, gitlab
    return None


@contextlib.contextmanager
def _failures(*, not_done: str = "", where: str = "") -> Iterator[None]:
    """End the command on an expected error with its one line and the table's exit code.

    ``not_done`` leads the line of a failure that leaves the work undone (exit 4, e.g.
    "nothing was changed: "); ``where`` follows the line of a GitLab error."""
    try:
        yield
    except Exception as e:
        found = _exit_for(e)
        if found is None:
            raise
        code, gitlab = found
        lead = not_done if code == EXIT_UNKNOWN else ""
        tail = f" ({where})" if gitlab and where else ""
        raise _fail(code, f"{lead}{e}{tail}") from None


def _terminal_width(output: Path | None) -> int | None:
    """The terminal's width when the text goes to one; None (plain lines) for logs and files."""
    if output is not None or not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def _drift_exit(report: DriftReport) -> int:
    if report.count(OrgStatus.UNKNOWN):
        return EXIT_UNKNOWN
    if report.count(OrgStatus.DRIFTED) or report.count(OrgStatus.MISSING):
        return EXIT_DRIFT
    return EXIT_OK


@cli.command(
    "drift",
    short_help="Compare the org files with Zendesk and report the drift.",
    epilog=ENV_ZENDESK,
)
@config_dir_option
@click.option(
    "--org", "org_ids", type=int, multiple=True, help="Check only this org id (repeatable)."
)
@click.option(
    "--changed-since", metavar="GIT_REF", help="Check only orgs whose files changed since this ref."
)
@click.option("--shard", metavar="I/N", help="Check the I-th of N stable subsets (by org id).")
@click.option(
    "--snapshot",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read live state from this snapshot file instead of Zendesk.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text: a table (fitted to a terminal; plain lines in logs); json: the report "
    "(schemas/drift-report.schema.json); markdown: the merge request preview.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Text format: list in-sync orgs too (by default they are only counted).",
)
@max_minutes_option
def drift_cmd(
    config_dir: Path,
    org_ids: tuple[int, ...],
    changed_since: str | None,
    shard: str | None,
    snapshot: Path | None,
    fmt: str,
    output: Path | None,
    show_all: bool,
    max_minutes: float | None,
) -> None:
    """Compare the org files with live Zendesk (or a snapshot) and report every difference.

    Exit 0 all in sync, 3 drift or missing orgs found, 4 some org could not be checked
    (takes precedence over 3), 1 invalid files, 2 usage error or missing credentials.
    With --snapshot, no credentials are needed.
    """
    from checker.usecases.drift import check_drift, run_limits
    from checker.usecases.preview import preview_markdown

    validation, settings = _validated(config_dir)
    with _failures():
        specs, scope = select(
            validation.specs,
            org_ids=org_ids,
            changed=_changed_files(changed_since, settings),
            shard=_shard(shard),
        )
        source = _live_source(snapshot, specs, settings)
        # a snapshot is read at once: no progress to show
        progress = Progress(len(specs) if snapshot is None else 0, "checking Zendesk")
        try:
            with interrupt.cooperative() as stop:
                check = check_drift(
                    specs,
                    settings,
                    source,
                    today=_today(),
                    scope=scope,
                    shard=_shard(shard),
                    progress=progress,
                    limits=run_limits(settings, max_minutes, stop),
                )
        finally:
            progress.close()
        if fmt == "json":
            text = report_to_json(check.report)
        elif fmt == "markdown":
            text = preview_markdown(check, specs, settings, _today(), changed_since)
        else:
            text = drift_text.render(check.report, width=_terminal_width(output), show_all=show_all)
        if output is not None:
            _write(output, text)
            click.echo(drift_text.summary_line(check.report), err=True)
        elif not interrupt.STOP.is_set():
            click.echo(text, nl=False)
    interrupt.check()  # interrupted: the partial report is written, the exit code says so
    raise Exit(_drift_exit(check.report))


def _shard(text: str | None) -> Shard | None:
    return Shard.parse(text) if text else None


def _changed_files(changed_since: str | None, settings: Settings) -> set[str] | None:
    from checker.load.changeset import changed_org_files

    return None if changed_since is None else changed_org_files(changed_since, settings.orgs_dir)


def _live_source(snapshot: Path | None, specs: Sequence[OrgSpec], settings: Settings) -> LiveSource:
    """The snapshot file's state, or Zendesk's API with the credentials every spec needs (all
    missing variables named at once, before any request)."""
    if snapshot is not None:
        from checker.live.snapshot import read_snapshot

        return read_snapshot(snapshot)
    from checker.live.zendesk_api import ZendeskSource, check_credentials

    return ZendeskSource(settings, check_credentials(specs, settings, os.environ))


@cli.command(
    "snapshot",
    short_help="Write the live state of the declared orgs to a JSON file.",
    epilog=ENV_ZENDESK,
)
@config_dir_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The snapshot file to write (it holds contact data: personal data).",
)
@click.option("--org", "org_ids", type=int, multiple=True, help="Only this org id (repeatable).")
@max_minutes_option
def snapshot_cmd(
    config_dir: Path, output: Path, org_ids: tuple[int, ...], max_minutes: float | None
) -> None:
    """Write the live Zendesk state of every declared org to a JSON snapshot.

    The snapshot holds contact data (personal data): keep it out of public places.
    Exit 0 when every org was read, 4 when some could not be, 2 for missing credentials.
    """
    from checker.live.snapshot import to_json as snapshot_to_json
    from checker.live.zendesk_api import check_credentials, fetch_live
    from checker.usecases.drift import run_limits

    validation, settings = _validated(config_dir)
    with _failures():
        specs, _ = select(validation.specs, org_ids=org_ids)
        credentials = check_credentials(specs, settings, os.environ)
        progress = Progress(len(specs), "reading Zendesk")
        try:
            with interrupt.cooperative() as stop:
                state, requests, _ = fetch_live(
                    specs,
                    settings,
                    credentials,
                    share=settings.rate_limit_share,
                    progress=progress,
                    limits=run_limits(settings, max_minutes, stop),
                )
        finally:
            progress.close()
        taken = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        _write(output, snapshot_to_json(state, taken))
    failed = [v for v in state.values() if isinstance(v, FetchFailure)]
    click.echo(
        f"{len(state)} orgs written to {output} ({requests} Zendesk requests); "
        f"{len(failed)} missing or unreadable",
        err=True,
    )
    interrupt.check()
    raise Exit(EXIT_UNKNOWN if any(v.state is FetchState.UNKNOWN for v in failed) else EXIT_OK)


@cli.command(
    "import",
    short_help="Write org files from Zendesk for orgs not yet declared.",
    epilog=ENV_ZENDESK,
)
@config_dir_option
@click.option("--org", "org_ids", type=int, multiple=True, help="Import this org id (repeatable).")
@click.option("--search", "query", help="Import every org a Zendesk search finds.")
@click.option(
    "--with-collaboration-project",
    is_flag=True,
    help="Import every org whose collaboration project id (AM ID) is set.",
)
@click.option(
    "--instance", help="Zendesk instance named in checker.yaml (default: the default instance)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite existing files (never one written earlier in the same run).",
)
def import_cmd(
    config_dir: Path,
    org_ids: tuple[int, ...],
    query: str | None,
    with_collaboration_project: bool,
    instance: str | None,
    force: bool,
) -> None:
    """Write org files from live Zendesk data for customers not yet in the repository.

    Orgs already declared are skipped; an existing file is never overwritten without --force.
    Exit 0 when every file was written; 1 when an org does not exist, a file is in the way, or
    a written file needs fixing by hand; 4 when some org could not be read.
    """
    from checker.live.zendesk import credentials_from_env
    from checker.usecases.import_orgs import ImportRequest, run_import

    validation, settings = _validated(config_dir)
    if sum(bool(x) for x in (org_ids, query, with_collaboration_project)) != 1:
        raise click.UsageError("give exactly one of --org, --search, --with-collaboration-project")
    name = instance or settings.default_instance
    if name not in settings.instances:
        raise click.UsageError(f"--instance {name!r} is not configured in checker.yaml")
    request = ImportRequest(name, org_ids, query, with_collaboration_project, force)
    with _failures(not_done="nothing was imported: "):
        credentials = credentials_from_env(settings.instance(name), settings, os.environ)
        results = run_import(
            request,
            settings,
            validation.specs,
            credentials,
            today=_today(),
            say=lambda line: click.echo(line, err=True),
        )
    raise Exit(_import_exit(results))


def _import_exit(results: Sequence[ImportResult]) -> int:
    """4 when some org could not be read; 1 when one is missing, in the way or needs fixing."""
    from checker.usecases.import_orgs import ImportResult

    if ImportResult.UNREADABLE in results:
        return EXIT_UNKNOWN
    return EXIT_OK if all(r is ImportResult.WRITTEN for r in results) else EXIT_INVALID


@cli.command(
    "reconcile",
    short_help="Turn drift into GitLab issues, merge requests and a dashboard.",
    epilog=ENV_RECONCILE,
)
@config_dir_option
@click.option(
    "--report",
    "reports",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="A drift report (JSON) of this run; give every shard's. Without it, drift runs first.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing to GitLab.")
@click.option(
    "--plan-output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan carried out (JSON) here, e.g. as a CI artifact.",
)
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another reconcile run's lock before giving up (exit 4).",
)
def reconcile_cmd(
    config_dir: Path,
    reports: tuple[Path, ...],
    dry_run: bool,
    plan_output: Path | None,
    lock_wait: float,
) -> None:
    """Turn drift reports into GitLab issues, merge requests and a dashboard.

    Plans every action first (create / update / comment / close, per org), prints the plan,
    then carries it out unless --dry-run. Orgs that could not be checked are left untouched.
    Exit 0 when done, 1 for bad or untrustworthy reports, 2 for missing GitLab settings or a
    refused token, 4 when some GitLab action failed (the rest was still done), when another
    run held the lock, or (without --report) when some org could not be checked.
    """
    from checker.live.zendesk import CredentialsMissing
    from checker.live.zendesk_api import check_credentials
    from checker.reconcile import run as reconcile

    validation, settings = _validated(config_dir)
    where = _gitlab_where(os.environ)
    missing = [f"set {', '.join(m)}" for m in [_missing_gitlab(os.environ)] if m]
    if not reports:
        try:
            check_credentials(validation.specs, settings, os.environ)
        except CredentialsMissing as e:  # named in one line with the GitLab variables
            missing.append(str(e))
    if missing:
        raise _fail(EXIT_USAGE, "; ".join(missing) + "; nothing was done")
    with _failures(where=where):
        gitlab = reconcile.connect_from_env(os.environ, settings)
    unchecked = 0
    with _failures():
        if reports:
            loaded = reconcile.load_reports(list(reports), settings, validation.specs)
        else:
            loaded = [_drift_before_reconcile(validation, settings)]
            unchecked = loaded[0].count(OrgStatus.UNKNOWN)
    if any(r.source != "live" for r in loaded) and not dry_run:
        raise _fail(
            EXIT_INVALID,
            "a report made from a snapshot is not evidence of Zendesk's state now; reconcile "
            "acts only on live reports (--dry-run previews the plan)",
        )
    with _failures(not_done="nothing was changed: ", where=where):
        outcome = reconcile.run_reconcile(
            settings,
            loaded,
            validation.specs,
            gitlab,
            dry_run=dry_run,
            out=click.echo,
            first_run_gate=True,
            lock_wait=lock_wait,
        )
    if plan_output is not None:
        _write(plan_output, json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False) + "\n")
        if outcome.first_run is not None:
            _write(plan_output.with_suffix(".md"), outcome.first_run)
    if outcome.auth_refused:
        raise _fail(EXIT_USAGE, "GitLab refused the token while writing; see the lines above")
    if unchecked:
        # Without --report this run is the drift check too: exit as `checker drift` would.
        raise _fail(
            EXIT_UNKNOWN, f"{unchecked} org(s) could not be checked; they were left as they are"
        )
    raise Exit(EXIT_UNKNOWN if outcome.incomplete else EXIT_OK)


def _drift_before_reconcile(validation: Validation, settings: Settings) -> DriftReport:
    """Without --report, reconcile checks Zendesk first, printing what `checker drift` prints
    in a log: what could not be checked, and the totals. Never acts after an interrupt."""
    from checker.live.zendesk_api import ZendeskSource, check_credentials
    from checker.usecases.drift import run_drift, run_limits

    source = ZendeskSource(settings, check_credentials(validation.specs, settings, os.environ))
    progress = Progress(len(validation.specs), "checking Zendesk")
    try:
        with interrupt.cooperative() as stop:
            report = run_drift(
                validation.specs,
                settings,
                source,
                today=_today(),
                scope="full",
                shard=None,
                progress=progress,
                limits=run_limits(settings, None, stop),
            )
    finally:
        progress.close()
    interrupt.check()  # never act on GitLab after an interrupted check
    for org in report.orgs:
        if org.status is OrgStatus.UNKNOWN:
            click.echo(
                f"org {org.org_id} ({drift_text.cell(org.name, 60)}): could not be checked: "
                f"{drift_text.cell(org.error, 200)}",
                err=True,
            )
    click.echo(drift_text.summary_line(report), err=True)
    return report


@cli.command(
    "report",
    short_help="Render one run's drift reports as a page, text, Markdown or JSON.",
    epilog=_env_help(
        "\n  CI_PROJECT_URL  links to org files (when gitlab.repository_url is not set)",
        "\n  CI_DEFAULT_BRANCH  the branch those links name (default: HEAD)",
        "\n  (ZENDESK_URL, ZENDESK_<INSTANCE>_URL replace an instance's URL in the links)",
    ),
)
@config_dir_option
@click.option(
    "--report",
    "reports",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="A drift report (JSON) of the run; give every shard's.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "markdown", "json"]),
    default="html",
    show_default=True,
    help="html: one self-contained page; text, markdown, json: as checker drift writes them.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run's reconcile plan (reconcile --plan-output), for links to issues and MRs.",
)
@click.option(
    "--history",
    "history_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder of earlier runs' JSON reports, for the trend and 'drifting since'.",
)
@click.option(
    "--redact-contacts",
    is_flag=True,
    help="Replace contact emails with a stable hash and hide contact names.",
)
def report_cmd(
    config_dir: Path,
    reports: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    plan_path: Path | None,
    history_dir: Path | None,
    redact_contacts: bool,
) -> None:
    """Render the drift reports of one run: one self-contained HTML page, or text/markdown/json.

    The shard reports are checked as reconcile checks them (every shard present, no org twice).
    The HTML page makes no network request. Exit 0 when written, 1 for unusable reports or plan,
    2 when the output cannot be written.
    """
    from checker.usecases import report as fleet

    with _failures():
        built = fleet.build(
            reports,
            plan_path=plan_path,
            history_dir=history_dir,
            redact_contacts=redact_contacts,
            warn=lambda line: click.echo(f"checker: warning: {line}", err=True),
        )
    if fmt == "html":
        text = _report_page(config_dir, built)
    elif fmt == "json":
        text = report_to_json(built.report)
    elif fmt == "markdown":
        text = drift_markdown.render(built.report, title="Zendesk drift report")
    else:
        text = drift_text.render(built.report)
    if output is not None:
        _write(output, text)
        click.echo(f"{drift_text.summary_line(built.report)}; written to {output}", err=True)
    else:
        click.echo(text, nl=False)
    raise Exit(EXIT_OK)


def _report_page(config_dir: Path, built: Fleet) -> str:
    """The HTML page; its links come from the settings (without them, the page has none)."""
    from checker.render import drift_html

    settings, problems = load_settings(config_dir)
    if settings is None:
        why = f" ({render_findings.line(problems[0])})" if problems else ""
        click.echo(
            f"checker: warning: no usable settings in {config_dir}: the page has no links{why}",
            err=True,
        )
        links = drift_html.PageLinks()
    else:
        links = drift_html.PageLinks.from_settings(settings.with_url_override(), os.environ)
    return drift_html.render(built, links)


@cli.command(
    "preview-note",
    short_help="Write the drift preview note on a merge request.",
    epilog=ENV_PREVIEW,
)
@config_dir_option
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="The Markdown preview (checker drift --format markdown --output FILE).",
)
@click.option(
    "--mr",
    "mr_iid",
    type=int,
    envvar="CI_MERGE_REQUEST_IID",
    required=True,
    help="Merge request IID  [default: CI_MERGE_REQUEST_IID].",
)
def preview_note_cmd(config_dir: Path, path: Path, mr_iid: int) -> None:
    """Create or update the one drift-preview note on the current merge request.

    The note is found again by a hidden marker and edited in place, never repeated.
    Exit 0 when written, 2 for missing GitLab settings, 4 when GitLab failed.
    """
    from checker.usecases.preview import write_preview_note

    settings, problems = load_settings(config_dir)
    if settings is None:
        click.echo(render_findings.text(problems), nl=False, err=True)
        raise Exit(EXIT_INVALID)
    missing = _missing_gitlab(os.environ)
    if missing:
        raise _fail(EXIT_USAGE, f"set {', '.join(missing)}; no note was written")
    with _failures(where=_gitlab_where(os.environ, mr_iid)):
        done = write_preview_note(settings, os.environ, mr_iid, path.read_text(encoding="utf-8"))
    click.echo(f"drift preview note {done} on merge request !{mr_iid}", err=True)
    raise Exit(EXIT_OK)


@cli.command(
    "init",
    short_help="Set up a repository to adopt the checker.",
    epilog=_env_help("\n  (none: init reads only its options)"),
)
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."), required=False
)
@click.option(
    "--instance",
    "instances",
    multiple=True,
    metavar="NAME=URL",
    help="A Zendesk instance, e.g. global=https://acme.zendesk.com (repeatable; the first is the "
    "default).",
)
@click.option("--default-instance", help="The default instance when there are several.")
@click.option(
    "--checker-project",
    required=True,
    metavar="HOST/GROUP/PROJECT",
    help="Where the checker's releases live on your GitLab, e.g. "
    "gitlab.example.com/support/zendesk-org-checker (component, package, pre-commit hook).",
)
@click.option(
    "--version",
    "release",
    metavar="X.Y.Z",
    help="The checker release the pipeline uses [default: this checker's version].",
)
@click.option(
    "--image",
    metavar="REF",
    help="Run the jobs in this image, which has the checker preinstalled (no pip install).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist and differ.")
@click.option("--dry-run", is_flag=True, help="List what would be written; write nothing.")
def init_cmd(
    directory: Path,
    instances: tuple[str, ...],
    default_instance: str | None,
    checker_project: str,
    release: str | None,
    image: str | None,
    force: bool,
    dry_run: bool,
) -> None:
    """Set up a repository to adopt the checker (DIRECTORY, default: here).

    Writes config/checker.yaml, an empty config/orgs/, the support-operations request template,
    schemas/, a .gitlab-ci.yml that includes the CI/CD component, a pre-commit configuration
    and a README section for CSMs. Never overwrites a file without --force; a second run
    changes nothing. Exit 0 when done, 2 on a bad flag or a file that cannot be written.
    """
    from checker.usecases import init as scaffold

    with _failures():
        options = scaffold.InitOptions(
            instances=tuple(scaffold.parse_instance(i) for i in instances),
            checker_project=checker_project.strip().removeprefix("https://").rstrip("/"),
            version=release or scaffold.checker_version(),
            default_instance=default_instance,
            image=image,
        )
        outcomes = scaffold.decide(directory, scaffold.plan_init(options), force=force)
    verb = {
        "create": "would create" if dry_run else "created",
        "overwrite": "would overwrite" if dry_run else "overwrote",
        "append": "would add the CSM section to" if dry_run else "added the CSM section to",
        "unchanged": "unchanged",
        "kept": "kept (it differs; --force overwrites it)",
    }
    if not dry_run:
        with _failures():
            scaffold.write(directory, outcomes)
    for outcome in outcomes:
        click.echo(f"{verb[outcome.action]}: {outcome.path}")
    kept = [o.path for o in outcomes if o.action == "kept"]
    if kept:
        click.echo(
            f"checker: {len(kept)} existing file(s) left as they are; compare them with "
            '`checker init --dry-run` and the README, "Adopting it"',
            err=True,
        )
    if not dry_run:
        click.echo(
            "next: put your customers in config/orgs/ (checker import), then `checker validate`; "
            'the README, "Adopting it", lists the CI/CD variables and the schedule',
            err=True,
        )
    raise Exit(EXIT_OK)


@cli.command(
    "retire",
    short_help="Close every open checker issue and merge request.",
    epilog=_env_help(_GITLAB_ENV, _COMMON_ENV),
)
@config_dir_option
@click.option("--dry-run", is_flag=True, help="List what would be closed; change nothing.")
def retire_cmd(config_dir: Path, dry_run: bool) -> None:
    """Close every open checker issue and merge request, with a note saying why.

    The way back: pause the pipeline schedule first, then retire. Deletes the branches of the
    merge requests it closes and closes the dashboard too; the org files, the closed issues
    and their history stay. Exit 0 when done, 1 for invalid settings, 2 for missing GitLab
    settings, 4 when something could not be closed (run it again).
    """
    from checker.reconcile import run as reconcile
    from checker.reconcile.retire import run_retire

    settings, problems = load_settings(config_dir)
    if settings is None:
        click.echo(render_findings.text(problems), nl=False, err=True)
        raise Exit(EXIT_INVALID)
    with _failures(not_done="nothing was changed: "):
        gitlab = reconcile.connect_from_env(os.environ, settings)
        outcome = run_retire(settings, gitlab, dry_run=dry_run, out=click.echo, environ=os.environ)
    raise Exit(EXIT_UNKNOWN if outcome.incomplete else EXIT_OK)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and exit with its code; never a traceback for expected failures."""
    interrupt.install()
    try:
        cli.main(args=argv, prog_name="checker", standalone_mode=False)
    except Exit as e:
        sys.exit(e.code)
    except interrupt.Interrupted as e:
        name = "SIGTERM" if e.exit_code == EXIT_SIGTERM else "Ctrl-C"
        click.echo(f"checker: interrupted ({name}); stopped", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("checker: aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("checker: interrupted", err=True)
        sys.exit(EXIT_SIGINT)
    except Exception as e:  # a bug: one line, the traceback only on request; exit 5 either way
        if os.environ.get("CHECKER_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"checker: internal error: {type(e).__name__}: {e} "
            "(set CHECKER_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK)
