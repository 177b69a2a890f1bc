"""Issue, note, merge request and dashboard text for GitLab, from the templates in the package.

Templates are rendered with ``StrictUndefined`` and without HTML autoescaping (the output is
Markdown, not HTML). Instead every ``{{ … }}`` must yield :class:`Inert` text or a number: the
environment's ``finalize`` refuses anything else, so a template that forgets to pass an outside
string through an inert filter fails loudly in the golden tests instead of shipping a mention or
a quick action.

Filters: ``inline`` (table-safe code span or plain words), ``cell`` (``inline`` that shows
None as *(none)*), ``text`` (``inline`` outside tables), ``block`` (verbatim, multi-line),
``url`` (http(s) only, percent-encoded), ``handle`` (a username, never a mention), ``ours``
(text this module composed itself from inert pieces).
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jinja2

from checker.models import DriftItem, DriftKind, OrgDrift, OrgStatus, Scalar
from checker.render import inert

HANDBOOK = "https://about.gitlab.com/handbook"
HANDBOOK_AM_ID = (
    f"{HANDBOOK}/support/workflows/looking_up_customer_technical_details/"
    "#architecture-diagram-and-customer-success-project"
)
HANDBOOK_NOTES = (
    f"{HANDBOOK}/support/internal-support/"
    "#i-want-to-add-important-information-about-the-organizationuser"
)
HANDBOOK_CONTACTS = "https://about.gitlab.com/support/managing-support-contacts/#managing-contacts"
HANDBOOK_CMP = f"{HANDBOOK}/support/readiness/operations/docs/gitlab/contact_management_projects/"
HANDBOOK_SALESFORCE = (
    f"{HANDBOOK}/support/readiness/operations/docs/zendesk/zendesk_salesforce_sync/"
)

#: the seed's own wording, used when the request is only about the AM ID
SEED_CONTEXT = (
    "For an ORG I manage, I would like to request that the AM id gets changed which is used "
    "to link to the correct collaboration project from ZD org view."
)
GENERIC_CONTEXT = (
    "For an ORG I manage, I would like to request that the values below get changed in its "
    "Zendesk organization, so that it matches the customer's records."
)

_KIND_LABEL = {
    DriftKind.CHANGED: "different value",
    DriftKind.MISSING_IN_ZENDESK: "missing in Zendesk",
    DriftKind.UNEXPECTED_IN_ZENDESK: "unexpected in Zendesk",
    DriftKind.CONTACT_NAME_DIFFERS: "contact name differs",
}
_TRUTH_LABEL = {
    "repo": "the org file: Zendesk should change",
    "zendesk": "Zendesk: the org file should change",
}


class Inert(str):
    """Text that is safe to put into GitLab Markdown as it is."""

    __slots__ = ()


def _finalize(value: object) -> object:
    if isinstance(value, Inert | int) and not isinstance(value, bool):
        return value
    raise TypeError(
        f"template output {value!r} did not pass an inert filter; "
        "use inline/cell/text/block/url/handle (or ours for composed text)"
    )


def _cell(value: object) -> Inert:
    return Inert("*(none)*") if value is None else Inert(inert.inline(value))


def _text(value: object) -> Inert:
    return Inert("*(none)*") if value is None else Inert(inert.inline(value, table=False))


#: stands for the web URL of something created earlier in the same run (see checker.plan)
PLACEHOLDER_RE = re.compile(r"\x00pending:[a-z]+:[^\x00]*\x00")


def _url(value: object) -> Inert:
    if isinstance(value, str) and PLACEHOLDER_RE.fullmatch(value):
        return Inert(value)  # filled with a real URL when the thing has been created
    return Inert(inert.url(value) or "")


def _ours(value: object) -> Inert:
    """Text this module composed from inert pieces: it must already be :class:`Inert`."""
    if isinstance(value, Inert):
        return value
    raise TypeError(f"{value!r} is not Inert text: compose it with checker.render.inert")


def _handle(value: object) -> Inert:
    """A GitLab username as text (a code span, so it notifies nobody), safe in a table cell."""
    if value is None:
        return Inert("*(none)*")
    return Inert(inert.inline(f"@{value}", table=True))


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("checker", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - Markdown, made inert by the filters and _finalize
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(
        inline=lambda v: Inert(inert.inline(v)),
        cell=_cell,
        text=_text,
        block=lambda v: Inert(inert.block(v)),
        url=_url,
        handle=_handle,
        ours=_ours,
    )
    return env


def render(template: str, **context: Any) -> Inert:
    """Render ``checker/templates/<template>``; blank-line runs are squeezed to one."""
    text = _env().get_template(template).render(**context)
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip() == "" and lines and lines[-1] == "":
            continue
        lines.append(line.rstrip() if not line.startswith("    ") else line)
    return Inert("\n".join(lines).strip("\n") + "\n")


# --------------------------------------------------------------------------- links & titles


@dataclass(frozen=True, slots=True)
class Links:
    """Where things are: the repository holding the org files and its default branch."""

    repository_url: str
    default_branch: str

    def file(self, path: str, line: int | None = None) -> str:
        url = (
            f"{self.repository_url.rstrip('/')}/-/blob/"
            f"{quote(self.default_branch, safe='/')}/{quote(path, safe='/')}"
        )
        return f"{url}#L{line}" if line else url


def issue_title(org: OrgDrift) -> str:
    return f"Zendesk drift: {inert.plain(org.name, limit=180)} (org {org.org_id})"


def support_ops_title(org: OrgDrift) -> str:
    return f"Zendesk org change request: {inert.plain(org.name, limit=160)} (org {org.org_id})"


def mr_title(org: OrgDrift) -> str:
    return f"Adopt Zendesk's values for {inert.plain(org.name, limit=160)} (org {org.org_id})"


# --------------------------------------------------------------------------- items


def _top_field(field: str) -> str:
    return field.split(".", 1)[0]


def describe(item: DriftItem) -> Inert:
    """One line naming a drift item (for notes): field, item, what differs."""
    what = _KIND_LABEL.get(item.kind, item.kind.value)
    subject = inert.inline(item.field, table=False)
    if item.item:
        subject += " " + inert.inline(item.item, table=False)
    return Inert(f"{subject}: {what}")


@dataclass(frozen=True, slots=True)
class ItemView:
    field: str
    item: str | None
    what: Inert
    expected: Scalar
    actual: Scalar
    expected_raw: Scalar
    actual_raw: Scalar
    multiline: bool
    truth: str
    truth_label: Inert
    file_url: str


def _is_multiline(value: Scalar) -> bool:
    return isinstance(value, str) and ("\n" in value or len(value) > 120)


def item_view(item: DriftItem, file_url: str) -> ItemView:
    multiline = _is_multiline(item.expected) or _is_multiline(item.actual)
    shown = "(text, shown below)"
    return ItemView(
        field=item.field,
        item=item.item,
        what=Inert(_KIND_LABEL.get(item.kind, item.kind.value)),
        expected=shown if multiline and item.expected is not None else item.expected,
        actual=shown if multiline and item.actual is not None else item.actual,
        expected_raw=item.expected,
        actual_raw=item.actual,
        multiline=multiline,
        truth=item.truth,
        truth_label=Inert(_TRUTH_LABEL.get(item.truth, inert.inline(item.truth))),
        file_url=file_url,
    )


@dataclass(frozen=True, slots=True)
class RequestLine:
    label: Inert
    value: Scalar
    multiline: bool = False
    point_to: str | None = None


def _request_line(item: DriftItem, org: OrgDrift) -> RequestLine:
    field, kind, value = item.field, item.kind, item.expected
    email = inert.inline(item.item or "", table=False)
    if field == "collaboration_project.id":
        shown = value if value is not None else "empty (no collaboration project)"
        return RequestLine(
            Inert("The AM ID should therefore be"), shown, point_to=org.collaboration_project_url
        )
    if field == "contact_management_project.id":
        shown = value if value is not None else "empty (no contact management project)"
        return RequestLine(Inert("The Contact Management Project ID should therefore be"), shown)
    if field == "contact_management_project.developers":
        if kind is DriftKind.UNEXPECTED_IN_ZENDESK:
            return RequestLine(Inert("CMP Developers should not include"), item.item)
        return RequestLine(Inert("CMP Developers should include"), item.item)
    if field == "support_contacts":
        if kind is DriftKind.UNEXPECTED_IN_ZENDESK:
            return RequestLine(
                Inert("This user should no longer be associated with the org"), item.item
            )
        if kind is DriftKind.CONTACT_NAME_DIFFERS:
            return RequestLine(Inert(f"The name of user {email} should therefore be"), value)
        return RequestLine(Inert("This user should be associated with the org"), item.item)
    if field in ("notes", "details"):
        label = "The org's notes" if field == "notes" else "The org's details"
        if value is None:
            return RequestLine(Inert(f"{label} should therefore be"), "empty (remove them)")
        return RequestLine(Inert(f"{label} should therefore be"), value, multiline=True)
    if field == "salesforce_id":
        return RequestLine(Inert("The Salesforce account id should therefore be"), value)
    return RequestLine(Inert(f"{inert.inline(field, table=False)} should therefore be"), value)


def _handbook_ref(field: str) -> str:
    top = _top_field(field)
    return {
        "collaboration_project": HANDBOOK_AM_ID,
        "contact_management_project": HANDBOOK_CMP,
        "support_contacts": HANDBOOK_CONTACTS,
        "notes": HANDBOOK_NOTES,
        "details": HANDBOOK_NOTES,
        "salesforce_id": HANDBOOK_SALESFORCE,
    }.get(top, HANDBOOK_NOTES)


def repo_owned(org: OrgDrift) -> tuple[DriftItem, ...]:
    return tuple(i for i in org.items if i.truth == "repo")


def zendesk_owned(org: OrgDrift) -> tuple[DriftItem, ...]:
    return tuple(i for i in org.items if i.truth == "zendesk")


def support_request(org: OrgDrift, zendesk_url: str) -> Inert | None:
    """The support-operations request in the seed's form, for the org's repo-owned items."""
    items = repo_owned(org)
    if not items:
        return None
    only_am = all(i.field == "collaboration_project.id" for i in items)
    refs: list[str] = []
    for i in items:
        ref = _handbook_ref(i.field)
        if ref not in refs:
            refs.append(ref)
    return render(
        "support_request.md.j2",
        context=Inert(SEED_CONTEXT if only_am else GENERIC_CONTEXT),
        zendesk_url=zendesk_url,
        lines=[_request_line(i, org) for i in items],
        refs=refs,
    )


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class OrgLinks:
    """Links an org's issue body shows; a value may be a placeholder filled in at execution."""

    zendesk_url: str
    file_url: str
    ops_url: str | None = None
    ops_project: str | None = None
    ops_new_issue_url: str | None = None
    mr_url: str | None = None
    mr_branch: str | None = None
    previous_url: str | None = None


def issue_body(org: OrgDrift, links: Links, org_links: OrgLinks, line_of: dict[str, int]) -> Inert:
    """The drift issue's description (without the hidden marker)."""
    items = [
        item_view(i, links.file(org.file, line_of.get(_top_field(i.field)))) for i in org.items
    ]
    return render(
        "issue.md.j2",
        status=org.status.value,
        org_id=org.org_id,
        name=org.name,
        instance=org.instance,
        file=org.file,
        file_url=org_links.file_url,
        zendesk_url=org_links.zendesk_url,
        csm=org.csm,
        error=org.error,
        items=items,
        request=support_request(org, org_links.zendesk_url),
        suppressed=org.suppressed,
        info=org.info,
        ops_url=org_links.ops_url,
        ops_project=org_links.ops_project,
        ops_new_issue_url=org_links.ops_new_issue_url,
        mr_url=org_links.mr_url,
        mr_branch=org_links.mr_branch,
        previous_url=org_links.previous_url,
    )


def support_ops_body(org: OrgDrift, org_links: OrgLinks) -> Inert:
    request = support_request(org, org_links.zendesk_url)
    assert request is not None, "support-ops issues exist only for repo-owned drift"
    return render(
        "support_ops_issue.md.j2",
        csm=org.csm,
        name=org.name,
        org_id=org.org_id,
        zendesk_url=org_links.zendesk_url,
        file=org.file,
        file_url=org_links.file_url,
        request=request,
    )


@dataclass(frozen=True, slots=True)
class Skipped:
    field: str
    item: str | None
    reason: str


def mr_body(
    org: OrgDrift,
    org_links: OrgLinks,
    applied: Sequence[DriftItem],
    skipped: Sequence[tuple[DriftItem, str]],
    issue_url: str | None,
) -> Inert:
    return render(
        "merge_request.md.j2",
        file=org.file,
        file_url=org_links.file_url,
        name=org.name,
        org_id=org.org_id,
        zendesk_url=org_links.zendesk_url,
        issue_url=issue_url,
        applied=applied,
        skipped=[Skipped(i.field, i.item, reason) for i, reason in skipped],
    )


def note(reason: str, **context: Any) -> Inert:
    """A short note: ``changed`` (new/changed/gone lines), ``resolved``, ``removed``,
    ``mr-updated``, ``mr-resolved``, ``mr-removed``, ``mr-held`` (``values``: drift items)."""
    defaults: dict[str, Any] = {
        "new": (),
        "changed": (),
        "gone": (),
        "file": None,
        "date": None,
        "values": (),
    }
    return render("note.md.j2", reason=reason, **{**defaults, **context})


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True, slots=True)
class DashboardRow:
    name: str
    instance: str
    org_id: int
    zendesk_url: str
    file_name: str
    file_url: str
    status: Inert
    issue: Inert
    mr: Inert
    notes: Inert


STATUS_ORDER = {"missing": 0, "drifted": 1, "unknown": 2, "suppressed": 3, "in_sync": 4}


def dashboard_status(org: OrgDrift | None) -> str:
    """in_sync, drifted, missing, unknown, suppressed (in sync thanks to suppressions), or
    not_checked (declared but in no report)."""
    if org is None:
        return "not_checked"
    if org.status is OrgStatus.IN_SYNC and org.suppressed:
        return "suppressed"
    return org.status.value


def status_cell(org: OrgDrift | None) -> Inert:
    state = dashboard_status(org)
    if org is None:
        return Inert("not checked")
    if state == "drifted":
        n = len(org.items)
        return Inert(f"**drifted** ({n} item{'s' if n != 1 else ''})")
    return Inert(
        {
            "missing": "**missing** in Zendesk",
            "unknown": "unknown (not checked)",
            "suppressed": "suppressed",
            "in_sync": "in sync",
        }.get(state, state)
    )


def notes_cell(org: OrgDrift | None) -> Inert:
    if org is None:
        return Inert("")
    parts: list[str] = []
    if org.status is OrgStatus.UNKNOWN and org.error:
        parts.append(inert.inline(org.error))
    if org.suppressed:
        until = sorted({s.suppressed_until or "?" for s in org.suppressed})
        n = len(org.suppressed)
        parts.append(
            f"{n} suppressed until " + ", ".join(inert.inline(u) for u in until) if n else ""
        )
    return Inert("; ".join(parts))


def dashboard_body(rows: Sequence[DashboardRow], counts: str, checked_on: str | None) -> Inert:
    return render(
        "dashboard.md.j2",
        rows=rows,
        counts=Inert(counts),
        checked_on=checked_on or None,
    )


def file_name(path: str) -> str:
    return posixpath.basename(path.replace("\\", "/"))
