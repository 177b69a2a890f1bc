"""One org file on disk → :class:`OrgSpec` plus the problems found in it alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.domain.emails import canonical
from checker.domain.models import UNMANAGED, Contact, Finding, OrgSpec, Suppression
from checker.domain.settings import Settings
from checker.load.schema import ORG_SCHEMA, checked_view, dotted
from checker.load.yamlload import Loaded, YamlLoadError, read_yaml_file

SCHEMA_VERSION = 1

#: fields an ``ignore:`` entry may name, with the top-level key that declares each
IGNORABLE = {
    "salesforce_id": "salesforce_id",
    "collaboration_project": "collaboration_project",
    "collaboration_project.id": "collaboration_project",
    "contact_management_project": "contact_management_project",
    "contact_management_project.id": "contact_management_project",
    "contact_management_project.developers": "contact_management_project",
    "support_contacts": "support_contacts",
    "notes": "notes",
    "details": "details",
}
LIST_FIELDS = ("support_contacts", "contact_management_project.developers")


@dataclass(frozen=True, slots=True)
class OrgFileResult:
    """A file's outcome: its spec when it is valid, and every finding (errors and warnings)."""

    path: str
    spec: OrgSpec | None
    findings: tuple[Finding, ...]
    #: identity values for the rules across files, kept even when other parts are invalid
    org_id: int | None = None
    instance: str | None = None
    salesforce_id: str | None = None
    org_id_pos: tuple[int, int] = (1, 1)
    salesforce_pos: tuple[int, int] = (1, 1)


def check_org_file(path: Path, shown: str, settings: Settings, today: dt.date) -> OrgFileResult:
    """Load, schema-check and rule-check one org file. Never raises for bad input."""
    try:
        loaded = read_yaml_file(path)
    except YamlLoadError as e:
        return OrgFileResult(
            shown,
            None,
            tuple(Finding(shown, p.line, p.column, p.rule, p.message) for p in e.problems),
        )
    return check_loaded(loaded, shown, settings, today)


def check_loaded(loaded: Loaded, shown: str, settings: Settings, today: dt.date) -> OrgFileResult:
    data = loaded.data
    if not isinstance(data, dict):
        return OrgFileResult(
            shown,
            None,
            (
                Finding(
                    shown,
                    1,
                    1,
                    "not-a-mapping",
                    f"the top level must be a mapping of keys, not {_what(data)}",
                ),
            ),
        )
    if "schema_version" not in data:
        return OrgFileResult(
            shown,
            None,
            (
                Finding(
                    shown,
                    1,
                    1,
                    "schema-version",
                    f"schema_version is missing; add 'schema_version: {SCHEMA_VERSION}' "
                    "as the first key",
                ),
            ),
        )
    if data["schema_version"] != SCHEMA_VERSION or isinstance(data["schema_version"], bool):
        pos = loaded.pos(("schema_version",))
        return OrgFileResult(
            shown,
            None,
            (
                Finding(
                    shown,
                    pos.line,
                    pos.column,
                    "schema-version",
                    f"unknown schema_version {_short(data['schema_version'])}; "
                    f"this checker reads version {SCHEMA_VERSION}",
                    locator="schema_version",
                ),
            ),
        )
    view, findings = checked_view(shown, loaded, ORG_SCHEMA)
    ids = _identity(view, loaded, settings)
    if any(f.severity == "error" for f in findings):
        return OrgFileResult(shown, None, tuple(findings), *ids)
    spec = _spec(shown, view, loaded, settings)
    findings.extend(_rules(spec, view, loaded, settings, today))
    ok = not any(f.severity == "error" for f in findings)
    return OrgFileResult(shown, spec if ok else None, tuple(findings), *ids)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _what(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    if data is None:
        return "an empty value"
    return f"a single value ({type(data).__name__})"


def _identity(
    view: dict[str, Any], loaded: Loaded, settings: Settings
) -> tuple[int | None, str | None, str | None, tuple[int, int], tuple[int, int]]:
    zd = view.get("zendesk")
    org_id = zd.get("org_id") if isinstance(zd, dict) else None
    instance = zd.get("instance") if isinstance(zd, dict) else None
    sf = view.get("salesforce_id")
    return (
        org_id if isinstance(org_id, int) and not isinstance(org_id, bool) else None,
        instance if isinstance(instance, str) else settings.default_instance,
        sf if isinstance(sf, str) else None,
        _at(loaded, ("zendesk", "org_id")),
        _at(loaded, ("salesforce_id",)),
    )


def _at(loaded: Loaded, path: tuple[str, ...]) -> tuple[int, int]:
    pos = loaded.pos(path)
    return (pos.line, pos.column)


def _spec(shown: str, d: dict[str, Any], loaded: Loaded, settings: Settings) -> OrgSpec:
    cp = d.get("collaboration_project", UNMANAGED)
    cmp_ = d.get("contact_management_project", UNMANAGED)
    contacts = d.get("support_contacts", UNMANAGED)
    if cmp_ is UNMANAGED:
        cmp_id: Any = UNMANAGED
        developers: Any = UNMANAGED
    elif cmp_ is None:
        cmp_id, developers = None, None
    else:
        cmp_id = cmp_["id"]
        devs = cmp_.get("developers", UNMANAGED)
        developers = devs if devs in (UNMANAGED, None) else tuple(devs)
    lines = tuple((key, loaded.key_pos[(key,)][0]) for key in d if (key,) in loaded.key_pos)
    return OrgSpec(
        path=shown,
        org_id=d["zendesk"]["org_id"],
        instance=d["zendesk"].get("instance", settings.default_instance),
        name=d["name"],
        salesforce_id=d.get("salesforce_id", UNMANAGED),
        csm=d.get("csm"),
        collaboration_project_id=cp if cp in (UNMANAGED, None) else cp["id"],
        collaboration_project_url=cp.get("url") if isinstance(cp, dict) else None,
        cmp_id=cmp_id,
        cmp_developers=developers,
        support_contacts=(
            contacts
            if contacts in (UNMANAGED, None)
            else tuple(Contact(email=c["email"], name=c.get("name")) for c in contacts)
        ),
        notes=d.get("notes", UNMANAGED),
        details=d.get("details", UNMANAGED),
        ignore=tuple(
            Suppression(
                field=e["field"],
                value=e.get("value"),
                reason=e["reason"],
                until=dt.date.fromisoformat(e["until"]),
                line=loaded.pos(("ignore", i)).line,
            )
            for i, e in enumerate(d.get("ignore", []))
        ),
        lines=lines,
    )


def _rules(
    spec: OrgSpec, d: dict[str, Any], loaded: Loaded, settings: Settings, today: dt.date
) -> list[Finding]:
    """The rules within one org file, in the order their findings are reported.

    Long by reason: a list of independent rules of a few lines each, read top to bottom."""
    out: list[Finding] = []
    shown = spec.path

    def at(
        path: tuple[str | int, ...], rule: str, msg: str, severity: str = "error", key: bool = False
    ) -> None:
        pos = loaded.pos(path, prefer_key=key)
        out.append(
            Finding(shown, pos.line, pos.column, rule, msg, severity, locator=dotted(path))  # type: ignore[arg-type]
        )

    if spec.instance not in settings.instances:
        at(
            ("zendesk", "instance"),
            "unknown-instance",
            f"instance {spec.instance!r} is not configured in checker.yaml; known: "
            + ", ".join(sorted(settings.instances)),
        )
    contacts = d.get("support_contacts") or []
    seen: dict[str, int] = {}
    for i, c in enumerate(contacts):
        email = canonical(c["email"])
        if email in seen:
            first = loaded.pos(("support_contacts", seen[email], "email")).line
            at(
                ("support_contacts", i, "email"),
                "duplicate-email",
                f"{c['email']} is listed twice (first at line {first}); emails are compared "
                "without regard to case",
            )
        else:
            seen[email] = i
    has_cmp = isinstance(d.get("contact_management_project"), dict)
    limit = settings.contact_limit_with_cmp if has_cmp else settings.contact_limit
    if len(contacts) > limit:
        why = (
            "with a contact management project"
            if has_cmp
            else "without a contact management project"
        )
        at(
            ("support_contacts",),
            "too-many-contacts",
            f"{len(contacts)} support contacts; at most {limit} are allowed {why}",
            key=True,
        )
    cmp_ = d.get("contact_management_project")
    if isinstance(cmp_, dict):
        devs = cmp_.get("developers") or []
        dev_seen: dict[str, int] = {}
        for i, email in enumerate(devs):
            key = canonical(email)
            if key in dev_seen:
                first = loaded.pos(("contact_management_project", "developers", dev_seen[key])).line
                at(
                    ("contact_management_project", "developers", i),
                    "duplicate-email",
                    f"{email} is listed twice among the developers (first at line {first})",
                )
            else:
                dev_seen[key] = i
    for i, sup in enumerate(spec.ignore):
        top = IGNORABLE[sup.field]
        if top not in d:
            at(
                ("ignore", i, "field"),
                "ignore-undeclared-field",
                f"ignore names {sup.field!r}, which this file does not declare; "
                "only declared fields can drift",
            )
        elif sup.value is not None and sup.field not in LIST_FIELDS:
            at(
                ("ignore", i, "value"),
                "ignore-value-on-scalar",
                f"'value' only applies to list fields ({', '.join(LIST_FIELDS)}); "
                f"{sup.field!r} is not one",
            )
        if sup.until < today:
            at(
                ("ignore", i, "until"),
                "ignore-expired",
                f"this suppression expired on {sup.until.isoformat()} and no longer applies; "
                "renew or remove it",
                "warning",
            )
    return out
