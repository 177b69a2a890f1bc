"""Org files written from live Zendesk data: the way to onboard orgs that already exist.

Files come out in the style of hand-written ones (the schema comment, the same key order,
block scalars for multi-line notes) and hold exactly what Zendesk holds, so the next drift run
finds them in sync. The command checks each written file with the validator's own rules and
names anything a person must fix (more contacts than allowed, say).
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from checker.domain.models import FetchFailure, FetchState, LiveContact, LiveOrg, OrgSpec
from checker.domain.normalise import emails_of, norm_id, norm_text
from checker.domain.settings import Settings
from checker.live import zendesk_api
from checker.live.zendesk import Credentials, CredentialsRefused, credential_variables
from checker.load.orgfile import check_org_file
from checker.load.settings import display_path
from checker.render.findings import line as findings_line
from checker.usecases.output import write_text

HEADER = "# yaml-language-server: $schema=../../schemas/org.schema.json\n"
#: the line ``import`` writes for the CSM to fill in (then remove the ``#``)
CSM_LINE = "csm: your-gitlab-username  # the owning CSM: fill in and remove the leading '#'"


@dataclass(frozen=True, slots=True)
class ImportedFile:
    org_id: int
    path: Path
    text: str


def slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:60].strip("-") or "org"


def _text(value: str | None) -> str | LiteralScalarString | None:
    text = norm_text(value)
    if text is None:
        return None
    return LiteralScalarString(text + "\n") if "\n" in text else text


def org_document(live: LiveOrg, settings: Settings, today: dt.date) -> CommentedMap:
    """The org file's content for a live org: every managed value as Zendesk holds it."""
    instance = settings.instance(live.instance)
    doc = CommentedMap()
    doc["schema_version"] = 1
    doc["name"] = live.name or f"Org {live.org_id}"
    zd = CommentedMap()
    zd["org_id"] = live.org_id
    if live.instance != settings.default_instance:
        zd["instance"] = live.instance
    doc["zendesk"] = zd
    sf = live.field(instance.field_key("salesforce_id"))
    if isinstance(sf, str) and re.fullmatch(r"[A-Za-z0-9]{15}|[A-Za-z0-9]{18}", sf.strip()):
        doc["salesforce_id"] = sf.strip()
    am = norm_id(live.field(instance.field_key("collaboration_project_id")))
    if isinstance(am, int) and am > 0:
        cp = CommentedMap()
        cp["id"] = am
        doc["collaboration_project"] = cp
    cmp_id = norm_id(live.field(instance.field_key("contact_management_project_id")))
    if isinstance(cmp_id, int) and cmp_id > 0:
        cmp_ = CommentedMap()
        cmp_["id"] = cmp_id
        devs = emails_of(live.field(instance.field_key("contact_management_project_developers")))
        if devs:
            # All of them, even past the limit of 5: the validator then says what to fix,
            # instead of a file that silently differs from Zendesk.
            cmp_["developers"] = CommentedSeq(devs)
        doc["contact_management_project"] = cmp_
    contacts = CommentedSeq()
    roles = set(settings.contact_roles)
    members = [c for c in live.contacts if c.role in roles]  # staff are never contacts
    for c in sorted(members, key=lambda c: c.email.lower()):
        if not c.email.strip():
            continue
        entry = CommentedMap()
        if c.name:
            entry["name"] = c.name
        entry["email"] = c.email.strip().lower()
        contacts.append(entry)
    doc["support_contacts"] = contacts
    notes = _text(live.notes)
    if notes is not None:
        doc["notes"] = notes
    details = _text(live.details)
    if details is not None:
        doc["details"] = details
    # Zendesk does not know the owning CSM: a commented line asks for it, so that a file
    # without one is a choice (such orgs are listed under "no CSM" on the dashboard).
    after = list(doc)[list(doc).index("zendesk") + 1]
    doc.yaml_set_comment_before_after_key(after, before=CSM_LINE)
    ignore = _ignore_entries(members, today)
    if ignore:
        doc["ignore"] = ignore
    return doc


def _ignore_entries(members: list[LiveContact], today: dt.date) -> CommentedSeq:
    """So that the file is in sync right after import, each member the file cannot simply list
    gets an ignore entry for a year: one without an email (it cannot be listed; the entry names
    the Zendesk user, ``user:<id>``), and a suspended one (listed, but it cannot open tickets)."""
    if (today.month, today.day) == (2, 29):
        until = today + dt.timedelta(days=365)
    else:
        until = today.replace(year=today.year + 1)
    entries = CommentedSeq()
    for c in sorted(members, key=lambda c: c.user_id or 0):
        if c.email.strip():
            if not c.suspended:
                continue
            value, why = c.email.strip().lower(), "suspended in Zendesk"
        elif c.user_id is not None:
            value, why = f"user:{c.user_id}", "a Zendesk member without an email"
        else:
            continue
        entry = CommentedMap()
        entry["field"] = "support_contacts"
        entry["value"] = value
        entry["reason"] = f"{why} when imported (written by checker import)"
        entry["until"] = dt.date.fromordinal(until.toordinal())  # one object each: no anchors
        entries.append(entry)
    return entries


def render(doc: CommentedMap) -> str:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return HEADER + buf.getvalue()


def target_path(live: LiveOrg, orgs_dir: Path) -> Path:
    return orgs_dir / f"{slug(live.name)}.yaml"


class ImportResult(enum.Enum):
    """How one org's import ended (the CLI turns the worst into the exit code)."""

    WRITTEN = "written"
    NEEDS_FIXING = "written, but a person must fix it"
    NOT_FOUND = "Zendesk has no such org"
    IN_THE_WAY = "a file is in the way"
    UNREADABLE = "could not be read"


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """Which orgs to import: one of ``org_ids``, ``query``, ``with_collaboration_project``."""

    instance: str
    org_ids: tuple[int, ...] = ()
    query: str | None = None
    with_collaboration_project: bool = False
    force: bool = False


def run_import(
    request: ImportRequest,
    settings: Settings,
    specs: Sequence[OrgSpec],
    credentials: Credentials,
    *,
    today: dt.date,
    say: Callable[[str], None],
) -> list[ImportResult]:
    """Read the orgs from Zendesk and write a file for each one not yet declared; ``say`` gets
    one line per org. Raises CredentialsRefused, or another ZendeskError when the listing or
    the reading failed as a whole (then nothing was written)."""
    declared = {s.org_id: s.path for s in specs if s.instance == request.instance}
    inst = settings.instance(request.instance)
    with zendesk_api.reader(
        settings, request.instance, credentials, share=settings.rate_limit_share
    ) as zendesk:
        try:
            ids = list(request.org_ids)
            if not ids:
                # --search reads every match (export search pages by cursor, without the
                # 1,000-result cap of plain search) or fails: never a silently short list.
                ids = zendesk.list_org_ids(
                    query=request.query,
                    with_field=inst.field_key("collaboration_project_id")
                    if request.with_collaboration_project
                    else None,
                )
            todo = [i for i in ids if i not in declared]
            for org_id in sorted(set(ids) - set(todo)):
                say(f"org {org_id}: already declared in {declared[org_id]}; skipped")
            live = zendesk.fetch(todo)
        except CredentialsRefused as e:
            variables = credential_variables(request.instance, settings)
            raise CredentialsRefused(f"{e}; check {variables}") from None
    written: set[Path] = set()
    results = []
    for org_id in sorted(live):
        result = _import_one(org_id, live[org_id], request, settings, written, today, say)
        results.append(result)
    return results


def _import_one(
    org_id: int,
    value: LiveOrg | FetchFailure,
    request: ImportRequest,
    settings: Settings,
    written: set[Path],
    today: dt.date,
    say: Callable[[str], None],
) -> ImportResult:
    if isinstance(value, FetchFailure):
        if value.state is FetchState.MISSING:
            say(f"org {org_id}: not imported: Zendesk has no such org")
            return ImportResult.NOT_FOUND
        say(f"org {org_id}: not imported: {value.message}")
        return ImportResult.UNREADABLE
    path = target_path(value, settings.orgs_dir)
    # A file written earlier in this run is never overwritten, not even with --force.
    if path in written or (path.exists() and not request.force):
        path = path.with_name(f"{path.stem}-{org_id}.yaml")
    if path in written or (path.exists() and not request.force):
        say(f"org {org_id}: {path} exists; not overwritten (use --force)")
        return ImportResult.IN_THE_WAY
    written.add(path)
    write_text(path, render(org_document(value, settings, today)))
    problems = [
        f
        for f in check_org_file(path, display_path(path), settings, today).findings
        if f.severity == "error"
    ]
    for f in problems:
        say(findings_line(f))
    say(
        f"org {org_id}: wrote {display_path(path)}"
        + (" (fix the problems above)" if problems else "")
    )
    return ImportResult.NEEDS_FIXING if problems else ImportResult.WRITTEN
