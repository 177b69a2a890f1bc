"""The command line: arguments → settings → the core → an exit code. The only place that exits.

Exit codes (the whole CLI keeps to them):
0 valid / all in sync · 1 invalid input · 2 usage error (also a missing credential) ·
3 drift or missing orgs found · 4 some org could not be checked (takes precedence over 3) ·
5 internal error (a bug: please report it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from checker.models import DriftReport, FetchFailure, FetchState, OrgStatus
from checker.orgfile import check_org_file
from checker.render import drift_markdown, drift_text
from checker.render import findings as render_findings
from checker.report import to_json as report_to_json
from checker.settings import Settings, display_path, load_settings
from checker.snapshot import SnapshotError
from checker.snapshot import from_json as snapshot_from_json
from checker.snapshot import to_json as snapshot_to_json
from checker.validate import Validation, validate

if TYPE_CHECKING:
    from checker.fleet import Fleet

# The commands that talk to Zendesk or GitLab import zenpy and python-gitlab when they run:
# `checker validate`, the merge-request gate, starts without them (half its start-up time).

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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    except OSError as e:
        raise _fail(EXIT_USAGE, f"cannot write {path}: {e.strerror or e}") from None


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
    result = validate(config_dir, paths, today=_today(), keep_specs=False)
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


def _fail(code: int, message: str) -> Exit:
    click.echo(f"checker: {message}", err=True)
    return Exit(code)


def _drift_exit(report: DriftReport) -> int:
    if report.count(OrgStatus.UNKNOWN):
        return EXIT_UNKNOWN
    if report.count(OrgStatus.DRIFTED) or report.count(OrgStatus.MISSING):
        return EXIT_DRIFT
    return EXIT_OK


@cli.command("drift")
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
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
def drift_cmd(
    config_dir: Path,
    org_ids: tuple[int, ...],
    changed_since: str | None,
    shard: str | None,
    snapshot: Path | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Compare the org files with live Zendesk (or a snapshot) and report every difference.

    Exit 0 all in sync, 3 drift or missing orgs found, 4 some org could not be checked
    (takes precedence over 3), 1 invalid files, 2 usage error or missing credentials.
    """
    from checker.checking import (
        SelectionError,
        Shard,
        changed_org_files,
        check_credentials,
        run_drift,
        select,
    )
    from checker.zendesk import CredentialsMissing

    validation, settings = _validated(config_dir)
    try:
        parsed_shard = Shard.parse(shard) if shard else None
        changed = (
            changed_org_files(changed_since, settings.orgs_dir)
            if changed_since is not None
            else None
        )
        specs, scope = select(
            validation.specs, org_ids=org_ids, changed=changed, shard=parsed_shard
        )
    except SelectionError as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    live = None
    credentials = None
    if snapshot is not None:
        try:
            live = snapshot_from_json(snapshot.read_text(encoding="utf-8"))
        except (SnapshotError, OSError, UnicodeDecodeError) as e:
            raise _fail(EXIT_INVALID, f"{snapshot}: {e}") from None
    else:
        try:
            credentials = check_credentials(specs, settings, os.environ)
        except CredentialsMissing as e:
            raise _fail(EXIT_USAGE, str(e)) from None
    progress = Progress(len(specs), "checking Zendesk")
    try:
        report = run_drift(
            specs,
            settings,
            today=_today(),
            scope=scope,
            shard=parsed_shard,
            snapshot=live,
            credentials=credentials,
            progress=progress,
        )
    finally:
        progress.close()
    if fmt == "json":
        text = report_to_json(report)
    elif fmt == "markdown":
        text = drift_markdown.render(report)
    else:
        text = drift_text.render(report)
    if output is not None:
        _write(output, text)
        click.echo(drift_text.summary_line(report), err=True)
    else:
        click.echo(text, nl=False)
    raise Exit(_drift_exit(report))


@cli.command("snapshot")
@config_dir_option
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--org", "org_ids", type=int, multiple=True, help="Only this org id (repeatable).")
def snapshot_cmd(config_dir: Path, output: Path, org_ids: tuple[int, ...]) -> None:
    """Write the live Zendesk state of every declared org to a JSON snapshot.

    The snapshot holds contact data (personal data): keep it out of public places.
    Exit 0 when every org was read, 4 when some could not be.
    """
    from checker.checking import SelectionError, check_credentials, fetch_live, select
    from checker.zendesk import CredentialsMissing

    validation, settings = _validated(config_dir)
    try:
        specs, _ = select(validation.specs, org_ids=org_ids)
        credentials = check_credentials(specs, settings, os.environ)
    except SelectionError as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    except CredentialsMissing as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    progress = Progress(len(specs), "reading Zendesk")
    try:
        state, requests, _ = fetch_live(
            specs, settings, credentials, share=settings.rate_limit_share, progress=progress
        )
    finally:
        progress.close()
    taken = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    _write(output, snapshot_to_json(state, taken))
    failed = [k for k, v in state.items() if isinstance(v, FetchFailure)]
    click.echo(
        f"{len(state)} orgs written to {output} ({requests} Zendesk requests); "
        f"{len(failed)} missing or unreadable",
        err=True,
    )
    unknown = [
        k for k, v in state.items() if isinstance(v, FetchFailure) and v.state.value == "unknown"
    ]
    raise Exit(EXIT_UNKNOWN if unknown else EXIT_OK)


@cli.command("import")
@config_dir_option
@click.option("--org", "org_ids", type=int, multiple=True, help="Import this org id (repeatable).")
@click.option("--search", "query", help="Import the orgs a Zendesk search finds (at most 1,000).")
@click.option(
    "--with-collaboration-project",
    is_flag=True,
    help="Import every org whose collaboration project id (AM ID) is set.",
)
@click.option("--instance", help="Zendesk instance (default: the default instance).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
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
    from checker import importer
    from checker.zendesk import (
        CredentialsMissing,
        ZendeskError,
        ZendeskReader,
        credentials_from_env,
    )

    validation, settings = _validated(config_dir)
    if sum(bool(x) for x in (org_ids, query, with_collaboration_project)) != 1:
        raise click.UsageError("give exactly one of --org, --search, --with-collaboration-project")
    name = instance or settings.default_instance
    if name not in settings.instances:
        raise click.UsageError(f"--instance {name!r} is not configured in checker.yaml")
    inst = settings.instance(name)
    try:
        creds = credentials_from_env(inst, settings, os.environ)
    except CredentialsMissing as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    declared = {s.org_id: s.path for s in validation.specs if s.instance == name}
    with ZendeskReader(
        inst,
        creds,
        share=settings.rate_limit_share,
        concurrency=settings.max_concurrency,
        timeout=settings.request_timeout,
    ) as reader:
        ids = list(org_ids)
        if not ids:
            try:
                ids = reader.list_org_ids(
                    query=query,
                    with_field=inst.field_key("collaboration_project_id")
                    if with_collaboration_project
                    else None,
                )
            except ZendeskError as e:
                raise _fail(EXIT_UNKNOWN, str(e)) from None
            if query is not None and len(ids) >= 1000:
                click.echo(
                    "checker: warning: Zendesk search stops at 1,000 results; narrow the query",
                    err=True,
                )
        todo = [i for i in ids if i not in declared]
        for org_id in sorted(set(ids) - set(todo)):
            click.echo(f"org {org_id}: already declared in {declared[org_id]}; skipped", err=True)
        live = reader.fetch(todo)
    code = EXIT_OK
    written: set[Path] = set()
    for org_id in sorted(live):
        value = live[org_id]
        if isinstance(value, FetchFailure):
            if value.state is FetchState.MISSING:
                click.echo(f"org {org_id}: not imported: Zendesk has no such org", err=True)
                code = max(code, EXIT_INVALID)
            else:
                click.echo(f"org {org_id}: not imported: {value.message}", err=True)
                code = EXIT_UNKNOWN
            continue
        path = importer.target_path(value, settings.orgs_dir)
        # A file written earlier in this run is never overwritten, not even with --force.
        if path in written or (path.exists() and not force):
            path = path.with_name(f"{path.stem}-{org_id}.yaml")
        if path in written or (path.exists() and not force):
            click.echo(f"org {org_id}: {path} exists; not overwritten (use --force)", err=True)
            code = max(code, EXIT_INVALID)
            continue
        written.add(path)
        text = importer.render(importer.org_document(value, settings))
        _write(path, text)
        problems = [
            f
            for f in check_org_file(path, display_path(path), settings, _today()).findings
            if f.severity == "error"
        ]
        for f in problems:
            click.echo(render_findings.line(f), err=True)
        click.echo(
            f"org {org_id}: wrote {display_path(path)}"
            + (" (fix the problems above)" if problems else ""),
            err=True,
        )
        if problems:
            code = EXIT_INVALID if code == EXIT_OK else code
    raise Exit(code)


@cli.command("reconcile")
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
def reconcile_cmd(
    config_dir: Path, reports: tuple[Path, ...], dry_run: bool, plan_output: Path | None
) -> None:
    """Turn drift reports into GitLab issues, merge requests and a dashboard.

    Plans every action first (create / update / comment / close, per org), prints the plan,
    then carries it out unless --dry-run. Orgs that could not be checked are left untouched.
    Exit 0 when done, 1 for bad reports, 2 for missing GitLab settings, 4 when some GitLab
    action failed (the rest was still done).
    """
    from checker import reconcile
    from checker.checking import check_credentials, run_drift
    from checker.gitlab import GitLabAuthError, GitLabError
    from checker.zendesk import CredentialsMissing

    validation, settings = _validated(config_dir)
    try:
        gitlab = reconcile.connect_from_env(os.environ, settings)
    except GitLabError as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    if reports:
        try:
            loaded = reconcile.load_reports(list(reports))
        except reconcile.ReconcileInputError as e:
            raise _fail(EXIT_INVALID, str(e)) from None
    else:
        try:
            credentials = check_credentials(validation.specs, settings, os.environ)
        except CredentialsMissing as e:
            raise _fail(EXIT_USAGE, str(e)) from None
        progress = Progress(len(validation.specs), "checking Zendesk")
        try:
            loaded = [
                run_drift(
                    validation.specs,
                    settings,
                    today=_today(),
                    scope="full",
                    shard=None,
                    credentials=credentials,
                    progress=progress,
                )
            ]
        finally:
            progress.close()
    stale = [r for r in loaded if r.source != "live"]
    if stale and not dry_run:
        raise _fail(
            EXIT_INVALID,
            "a report made from a snapshot is not evidence of Zendesk's state now; reconcile "
            "acts only on live reports (--dry-run previews the plan)",
        )
    try:
        outcome = reconcile.run_reconcile(
            settings, loaded, validation.specs, gitlab, dry_run=dry_run, out=click.echo
        )
    except reconcile.ReconcileInputError as e:
        raise _fail(EXIT_INVALID, str(e)) from None
    except GitLabAuthError as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    except GitLabError as e:
        raise _fail(EXIT_UNKNOWN, f"nothing was changed: {e}") from None
    if plan_output is not None:
        _write(plan_output, json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False) + "\n")
    raise Exit(EXIT_UNKNOWN if outcome.incomplete else EXIT_OK)


@cli.command("report")
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
    from checker import fleet

    try:
        built = fleet.build(
            reports,
            plan_path=plan_path,
            history_dir=history_dir,
            redact_contacts=redact_contacts,
            warn=lambda line: click.echo(f"checker: warning: {line}", err=True),
        )
    except fleet.FleetInputError as e:
        raise _fail(EXIT_INVALID, str(e)) from None
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


@cli.command("preview-note")
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
    help="Merge request IID [default: CI_MERGE_REQUEST_IID].",
)
def preview_note_cmd(config_dir: Path, path: Path, mr_iid: int) -> None:
    """Create or update the one drift-preview note on the current merge request."""
    from checker import reconcile
    from checker.gitlab import GitLabAuthError, GitLabConfigError, GitLabError
    from checker.preview import upsert_preview_note

    settings, problems = load_settings(config_dir)
    if settings is None:
        click.echo(render_findings.text(problems), nl=False, err=True)
        raise Exit(EXIT_INVALID)
    try:
        gitlab = reconcile.connect_from_env(os.environ, settings)
        outcome = upsert_preview_note(gitlab, mr_iid, path.read_text(encoding="utf-8"))
    except GitLabConfigError as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    except GitLabAuthError as e:
        raise _fail(EXIT_USAGE, str(e)) from None
    except GitLabError as e:
        raise _fail(EXIT_UNKNOWN, str(e)) from None
    click.echo(f"drift preview note {outcome} on merge request !{mr_iid}", err=True)
    raise Exit(EXIT_OK)


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
