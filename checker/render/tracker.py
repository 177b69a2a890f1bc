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

Over 400 lines on purpose: the guarded environment and every text that goes to GitLab stay
together, so that no text can be rendered outside the guard.
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

from checker.domain.models import DriftItem, DriftKind, OrgDrift, OrgStatus, Scalar
from checker.domain.settings import RequestForm
from checker.domain.wording import kind_label
from checker.reconcile.placeholders import PLACEHOLDER_RE
from checker.render import inert
from checker.render.presentation import (
    TypoPair,
    is_text_item,
    paired_items,
    present,
    text_diff,
)

_TRUTH_LABEL = {
    "repo": "the org file (Zendesk should change)",
    "zendesk": "Zendesk (the org file should change)",
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


#: the filters that make outside text inert (the adopter's request template gets these only)
INERT_FILTERS = ("inline", "cell", "text", "block", "url", "handle", "ours")


def environment() -> jinja2.Environment:
    """The configured environment (its filters and ``finalize`` guard)."""
    return _env()


def render(template: str, **context: Any) -> Inert:
    """Render ``checker/templates/<template>``; blank-line runs are squeezed to one."""
    return _tidy(_env().get_template(template).render(**context))


def _tidy(text: str) -> Inert:
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
    what = kind_label(item.kind.value)
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
    #: notes and details: the differing lines, as an inert block
    diff: Inert | None = None
    #: a Zendesk member without an email: the ``ignore`` entry that accepts it, as a block
    ignore_entry: Inert | None = None
    #: a typo pair: the email in the file and the one in Zendesk
    typo_file: str | None = None
    typo_zendesk: str | None = None


def _is_multiline(value: Scalar) -> bool:
    return isinstance(value, str) and ("\n" in value or len(value) > 120)


def _ignore_entry(user: str) -> Inert:
    """The ``ignore:`` entry that accepts a Zendesk member the file cannot list."""
    return Inert(
        inert.block(
            "ignore:\n"
            "  - field: support_contacts\n"
            f"    value: {user}\n"
            "    reason: <why this member without an email may stay>\n"
            "    until: <YYYY-MM-DD, the last day it applies>"
        )
    )


def item_view(item: DriftItem, file_url: str) -> ItemView:
    multiline = _is_multiline(item.expected) or _is_multiline(item.actual)
    shown = "(text, shown below)"
    diff = None
    if is_text_item(item):
        diff = Inert(inert.block("\n".join(text_diff(item.expected, item.actual))))
    no_email = (
        item.field == "support_contacts"
        and item.kind is DriftKind.UNEXPECTED_IN_ZENDESK
        and (item.item or "").startswith("user:")
    )
    return ItemView(
        field=item.field,
        item=item.item,
        what=Inert("member without an email" if no_email else kind_label(item.kind.value)),
        expected=shown if multiline and item.expected is not None else item.expected,
        actual=shown if multiline and item.actual is not None else item.actual,
        expected_raw=item.expected,
        actual_raw=item.actual,
        multiline=multiline and diff is None,
        truth=item.truth,
        truth_label=Inert(_TRUTH_LABEL.get(item.truth, inert.inline(item.truth))),
        file_url=file_url,
        diff=diff,
        ignore_entry=_ignore_entry(item.item or "user:?") if no_email else None,
    )


def typo_view(pair: TypoPair, file_url: str) -> ItemView:
    return ItemView(
        field=pair.field,
        item=None,
        what=Inert("looks like a typo"),
        expected=pair.in_file,
        actual=pair.in_zendesk,
        expected_raw=pair.in_file,
        actual_raw=pair.in_zendesk,
        multiline=False,
        truth="typo",
        truth_label=Inert("unclear: one of the two is mistyped"),
        file_url=file_url,
        typo_file=pair.in_file,
        typo_zendesk=pair.in_zendesk,
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
            # a member without an email is named by its name and Zendesk user id
            who = item.actual if (item.item or "").startswith("user:") else item.item
            return RequestLine(Inert("This user should no longer be associated with the org"), who)
        if kind is DriftKind.CONTACT_NAME_DIFFERS:
            return RequestLine(Inert(f"The name of user {email} should therefore be"), value)
        if kind is DriftKind.CONTACT_SUSPENDED:
            return RequestLine(Inert("This user is suspended and should be unsuspended"), item.item)
        return RequestLine(Inert("This user should be associated with the org"), item.item)
    if field in ("notes", "details"):
        label = "The org's notes" if field == "notes" else "The org's details"
        if value is None:
            return RequestLine(Inert(f"{label} should therefore be"), "empty (remove them)")
        return RequestLine(Inert(f"{label} should therefore be"), value, multiline=True)
    if field == "salesforce_id":
        return RequestLine(Inert("The Salesforce account id should therefore be"), value)
    return RequestLine(Inert(f"{inert.inline(field, table=False)} should therefore be"), value)


def repo_owned(org: OrgDrift) -> tuple[DriftItem, ...]:
    """Items support operations should change in Zendesk. Typo pairs are left to a person:
    a request to add a mistyped address, or a merge request adopting half of the pair, would
    make things worse."""
    paired = paired_items(org.items)
    return tuple(i for i in org.items if i.truth == "repo" and id(i) not in paired)


def zendesk_owned(org: OrgDrift) -> tuple[DriftItem, ...]:
    """Items a merge request should adopt from Zendesk (typo pairs excepted, as above)."""
    paired = paired_items(org.items)
    return tuple(i for i in org.items if i.truth == "zendesk" and id(i) not in paired)


def support_request(
    org: OrgDrift,
    zendesk_url: str,
    *,
    file_url: str | None = None,
    form: RequestForm | None = None,
) -> Inert | None:
    """The support-operations request for the org's repo-owned items, in the adopter's form
    (``form``: the settings' template and handbook links; the generic default without it)."""
    from checker.render.request_form import FormLine, render_request

    items = repo_owned(org)
    if not items:
        return None
    lines = []
    for i in items:
        line = _request_line(i, org)
        lines.append(
            FormLine(line.label, line.value, line.multiline, line.point_to, i.field, i.kind.value)
        )
    return _tidy(render_request(form, org, lines, zendesk_url=zendesk_url, file_url=file_url))


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
    #: the merge request's number when the caller knows it for good (shown as !N)
    mr_iid: int | None = None
    previous_url: str | None = None


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _request_summary(items: Sequence[DriftItem]) -> str:
    """What the support-operations request asks for, counted: "add 3 contacts and change 1
    value"."""
    add = remove = rename = other = 0
    for i in items:
        if i.field == "support_contacts" and i.kind is DriftKind.MISSING_IN_ZENDESK:
            add += 1
        elif i.field == "support_contacts" and i.kind is DriftKind.UNEXPECTED_IN_ZENDESK:
            remove += 1
        elif i.kind is DriftKind.CONTACT_NAME_DIFFERS:
            rename += 1
        else:
            other += 1
    parts = [
        f"{verb} {_count(n, noun)}"
        for verb, n, noun in (
            ("add", add, "contact"),
            ("remove", remove, "contact"),
            ("rename", rename, "contact"),
            ("change", other, "value"),
        )
        if n
    ]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def todo_line(org: OrgDrift, org_links: OrgLinks) -> Inert:
    """The one line an issue starts with: what a person should do about it."""
    if org.status is OrgStatus.MISSING:
        return Inert(
            "**To do:** find out why Zendesk has no such org: restore it through support "
            "operations, or update or remove the org file in a merge request."
        )
    steps: list[str] = []
    repo = repo_owned(org)
    if repo:
        steps.append(f"Ask support operations to {_request_summary(repo)} — request below")
    if zendesk_owned(org):
        if org_links.mr_iid is not None:
            steps.append(f"Review and merge !{org_links.mr_iid}")
        elif org_links.mr_url is not None:
            # Linked by its branch: the merge request is created after this issue, and a
            # description that changed once it exists would cost a write on every next run.
            steps.append(
                f"Review and merge the [merge request]({_url(org_links.mr_url)}) that adopts "
                f"Zendesk's values (branch {inert.inline(org_links.mr_branch, table=False)})"
            )
        else:
            steps.append("Update the org file to Zendesk's values (see below)")
    typos = sum(1 for p in present(org.items) if isinstance(p, TypoPair))
    if typos:
        steps.append(f"Fix {_count(typos, 'email')} that look{'s' if typos == 1 else ''} mistyped")
    if not steps:
        steps.append("Nothing to do: no difference is left")
    return Inert("**To do:** " + ". ".join(steps) + ".")


def issue_body(
    org: OrgDrift,
    links: Links,
    org_links: OrgLinks,
    line_of: dict[str, int],
    *,
    form: RequestForm | None = None,
) -> Inert:
    """The drift issue's description (without the hidden marker)."""
    items = [
        typo_view(i, links.file(org.file, line_of.get(_top_field(i.field))))
        if isinstance(i, TypoPair)
        else item_view(i, links.file(org.file, line_of.get(_top_field(i.field))))
        for i in present(org.items)
    ]
    request = support_request(org, org_links.zendesk_url, file_url=org_links.file_url, form=form)
    return render(
        "issue.md.j2",
        todo=todo_line(org, org_links),
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
        differences=len(items),
        request=Inert(inert.block(request)) if request is not None else None,
        suppressed=org.suppressed,
        info=org.info,
        ops_url=org_links.ops_url,
        ops_project=org_links.ops_project,
        ops_new_issue_url=org_links.ops_new_issue_url,
        mr_url=org_links.mr_url,
        mr_ref=Inert(f"!{org_links.mr_iid}") if org_links.mr_iid is not None else None,
        mr_branch=org_links.mr_branch,
        previous_url=org_links.previous_url,
    )


def support_ops_body(
    org: OrgDrift, org_links: OrgLinks, *, form: RequestForm | None = None
) -> Inert:
    request = support_request(org, org_links.zendesk_url, file_url=org_links.file_url, form=form)
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
    """An org that needs attention, as the dashboard lists it."""

    name: str
    instance: str
    org_id: int
    status: Inert
    issue: Inert
    mr: Inert
    notes: Inert
    csm: str | None = None


@dataclass(frozen=True, slots=True)
class CsmCount:
    """One CSM's orgs by state (``csm`` None: orgs whose file names no CSM)."""

    csm: str | None
    drifted: int = 0
    missing: int = 0
    unknown: int = 0
    in_sync: int = 0

    @property
    def attention(self) -> int:
        return self.drifted + self.missing + self.unknown


#: the longest dashboard written (a quarter of GitLab's limit left for the marker and edits)
DASHBOARD_CHARS = 786_432
#: the states a dashboard lists; the others are only counted
NEEDS_ATTENTION = frozenset({"drifted", "missing", "unknown", "not_checked"})
#: the most characters of an error shown in a dashboard cell (the drift issue or the job log
#: has it in full)
ERROR_CHARS = 160


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
            "unknown": "could not be checked",
            "suppressed": "suppressed",
            "in_sync": "in sync",
        }.get(state, state)
    )


def notes_cell(org: OrgDrift | None) -> Inert:
    if org is None:
        return Inert("")
    parts: list[str] = []
    if org.status is OrgStatus.UNKNOWN and org.error:
        error = org.error
        if len(error) > ERROR_CHARS:
            error = error[: ERROR_CHARS - 1] + "…"
        parts.append(inert.inline(error))
    if org.suppressed:
        until = sorted({s.suppressed_until or "?" for s in org.suppressed})
        n = len(org.suppressed)
        parts.append(
            f"{n} suppressed until " + ", ".join(inert.inline(u) for u in until) if n else ""
        )
    return Inert("; ".join(parts))


_ISSUE_URL = re.compile(r"/-/(issues|merge_requests)/(\d+)\Z")


def reference(url: str | None, project_url: str) -> Inert:
    """``#12`` for an issue of the project, ``!3`` for a merge request; another URL (or a
    placeholder for something created later in the run) as it is."""
    if url is None:
        return Inert("")
    if url.startswith("\x00"):
        return Inert(url)
    m = _ISSUE_URL.search(url)
    if m is not None and url[: m.start()] == project_url.rstrip("/"):
        return Inert(("#" if m.group(1) == "issues" else "!") + m.group(2))
    return Inert(inert.url(url) or "")


def dashboard_body(
    rows: Sequence[DashboardRow],
    counts: str,
    checked_on: str | None,
    per_csm: Sequence[CsmCount] = (),
    in_sync: int = 0,
) -> Inert:
    """The dashboard: the counts, a table per CSM, and the orgs that need attention.

    It stays under :data:`DASHBOARD_CHARS` (GitLab refuses descriptions over 1,048,576
    characters): past that, the last rows give way to a line saying how many more there are.
    At 20,000 orgs with 2,000 drifting it is about 220 kB, so that only happens when most orgs
    drift at once, and then the drift issues and the reports hold every org anyway."""
    shown = list(rows)
    while True:
        body = render(
            "dashboard.md.j2",
            rows=shown,
            more=len(rows) - len(shown),
            counts=Inert(counts),
            checked_on=checked_on or None,
            per_csm=per_csm,
            in_sync=in_sync,
        )
        if len(body) <= DASHBOARD_CHARS or not shown:
            return body
        keep = int(len(shown) * DASHBOARD_CHARS / len(body) * 0.95)
        shown = shown[: min(keep, len(shown) - 1)]


def file_name(path: str) -> str:
    return posixpath.basename(path.replace("\\", "/"))
