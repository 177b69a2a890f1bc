"""Org files written from live Zendesk data: the way to onboard orgs that already exist.

Files come out in the style of hand-written ones (the schema comment, the same key order,
block scalars for multi-line notes) and hold exactly what Zendesk holds, so the next drift run
finds them in sync. The command checks each written file with the validator's own rules and
names anything a person must fix (more contacts than allowed, say).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from checker.domain.drift import emails_of, norm_id, norm_text
from checker.domain.models import LiveContact, LiveOrg
from checker.domain.settings import Settings

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
