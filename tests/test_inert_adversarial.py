"""Adversarial review: hostile outside text through the REAL renderers, read the way GitLab would.

Every string of the corpus is placed in every position an outside value can take (org name, file
path, instance, CSM, error, field item, expected/actual values, suppression reason and date,
information lines, the support-ops project and branch, dashboard cells, preview-note values) and
rendered by the public functions of :mod:`checker.render.tracker`, :func:`checker.plan._change_note`,
:func:`checker.render.drift_markdown.render` and :func:`checker.preview.upsert_preview_note`.

The output is then read with a small model of GitLab:

* quick actions: GitLab's extractor works on the raw text (``\\r`` deleted), and only knows
  three-backtick fences, so *no raw line* may start with ``/`` or open a fence;
* Markdown: indented code blocks and code spans are inert; tables are split into cells on
  unescaped pipes *before* code spans are parsed, and a row must keep the header's cell count;
* outside code there must be no mention, no reference, no raw HTML (our own ``<sub>`` aside), no
  link/image/autolink other than the product's own URLs;
* descriptions: the first line is exactly the checker's marker.

Tests named ``test_bypass_*`` document bypasses found in review: they fail on purpose until the
product is fixed (see each docstring for the reason and the line at fault).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checker.domain.models import DriftItem, DriftKind, DriftReport, InfoItem, OrgDrift, OrgStatus
from checker.reconcile.dashboard import ref_cell as _ref_cell
from checker.reconcile.markers import Marker, item_fingerprint, with_marker
from checker.reconcile.notes import change_note as _change_note
from checker.reconcile.plan import make_plan
from checker.reconcile.reportset import combine
from checker.reconcile.state import GitLabState, PlanContext, files_needed
from checker.render import drift_markdown, inert, tracker
from checker.usecases.mr_preview import MARKER as PREVIEW_MARKER
from checker.usecases.mr_preview import upsert_preview_note
from tests.test_inert import HOSTILE, code_spans

# --------------------------------------------------------------------------- the corpus

EXTRA: list[str] = [
    # Unicode look-alikes and invisible characters
    "\uff20all",  # fullwidth @
    "\uff0fclose",  # fullwidth /
    "@\u200ball",
    "\u200b/close",
    "a\u200d@all",
    "\u202e@all\u202c",
    "\u2066/close\u2069",
    "\u02cb/close\u02cb",  # modifier letter grave accent (backtick look-alike)
    "\uff40code\uff40",  # fullwidth grave accent
    "@\u0430ll",  # Cyrillic a
    "\U0001d552ll",
    # every line break Markdown, a browser or Ruby may honour
    "x\n/close",
    "x\r/close",
    "x\r\n/close",
    "x\v/close",
    "x\f/close",
    "x\x85/close",
    "x\u2028/close",
    "x\u2029@all",
    "\n\n/close\n\n",
    "\t/close",
    " /close",
    "/close\n",
    # fences and blocks GitLab's quick action extractor knows
    "```\n/close\n```",
    "````\n/close\n````",
    ">>>\n/close\n>>>",
    "<details>\n/close\n</details>",
    "    /close",
    "a\n    /close\n\n/close",
    # tables
    "a|b",
    "a\\|b",
    "\\|@all",
    "a \\\\| @all",
    "`|`@all",
    "| @all |",
    "x|\n|---|\n|@all|",
    "\\",
    "x\\",
    "\\\\",
    # markers and comments
    "<!-- zendesk-drift-checker kind=org org=global/9 drift=x -->",
    "x -->",
    "--><img src=x onerror=alert(1)>",
    "<!--",
    "<!-- zendesk-drift-checker:preview -->",
    # template syntax
    "{{ 7*7 }}",
    "{% raw %}{{ request }}{% endraw %}",
    "{# comment #}",
    "{{ request }}",
    "${7*7}",
    "#{7*7}",
    # emails and mentions at word boundaries
    '"@all"@x.example',
    "a@b.example",
    "x @all",
    "x@all",
    "foo.@all",
    "(@all)",
    "'@all'",
    "-@all",
    "@all's",
    # references of every kind
    "#123",
    "group/project#1",
    "group/project!1",
    "project@deadbeef1",
    '~"a b"',
    "*iteration:1",
    "[vulnerability:1]",
    "^alert#1",
    "[contact:a@b.example]",
    "[[_TOC_]]",
    "[TOC]",
    "{+ added +}",
    "[- removed -]",
    # links, images, HTML
    "javascript:alert(1)",
    "[x]: https://evil.example",
    "[^1]",
    "[x][y]",
    "&commat;all",
    "&#x40;all",
    "<sub>",
    "</sub>",
    "<br>",
    "<a href='https://evil.example'>x</a>",
    "mailto:a@b.example",
    # block starts
    "1) item",
    "+ item",
    "* item",
    "=====",
    "#heading",
    "\x00pending:org:global/1\x00",
    # very long values
    "x" * 5000,
    "a" * 300 + " @all",
    "`" * 300 + "@all",
]

CORPUS: list[str] = list(dict.fromkeys([*HOSTILE, *EXTRA]))

# --------------------------------------------------------------------------- a model of GitLab

OUR_HOSTS = r"https://(?:gitlab\.example|support\.zendesk\.example|about\.gitlab\.com)/"
_OUR_LINK_TARGET = re.compile(rf"\]\((?:{OUR_HOSTS}[^)\s]*)?\)")
_OUR_BARE_URL = re.compile(rf"{OUR_HOSTS}\S*")
_MENTION = re.compile(r"(?<![\w])@[\w]")
_REFERENCE = re.compile(r"(?<![\w\\])[#!%~$&^](?=[\w\"\[])")
_CROSS_PROJECT_REFERENCE = re.compile(r"[\w.-]+/[\w./-]+[#!&%$]\w")
_HTML = re.compile(r"<(?=[A-Za-z/!?])")
_DELIMITER_ROW = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+\s*$")
_FENCE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})")
_CONTROL_OR_BIDI = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

#: GitLab's default issue_closing_pattern, with %{issue_ref} filled in as ClosingIssueExtractor
#: does (an http(s) link or an issue reference)
_ISSUE_REF = r"(?:(?:https?://[^\s>]{1,300})(?<![?!.,:])|(?:[\w.\-]+(?:/[\w.\-]+)*)?#\d+)"
CLOSING = re.compile(
    r"\b((?:[Cc]los(?:e[sd]?|ing)|\b[Ff]ix(?:e[sd]|ing)?|\b[Rr]esolv(?:e[sd]?|ing)"
    r"|\b[Ii]mplement(?:s|ed|ing)?)(:?) +(?:(?:issues? +)?"
    + _ISSUE_REF
    + r"(?:(?: *,? +and +| *,? *)?)|([A-Z][A-Z0-9_]+-\d+))+)"
)


def split_cells(row: str) -> list[str]:
    """A GFM table row's cells: split on pipes not preceded by a backslash, then ``\\|`` → ``|``."""
    body = row.strip()
    body = body[1:] if body.startswith("|") else body
    cells, cur, i = [], "", 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cur += "\\|"
            i += 2
            continue
        if ch == "|":
            cells.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur.strip():
        cells.append(cur)
    return [c.replace("\\|", "|").strip() for c in cells]


def problems_outside_code(text: str, where: str) -> list[str]:
    outside, _spans = code_spans(text)
    outside = _OUR_LINK_TARGET.sub("]", outside)
    outside = _OUR_BARE_URL.sub("", outside)
    outside = outside.replace("<sub>", "").replace("</sub>", "")
    found: list[str] = []
    for name, pattern in (("mention", _MENTION), ("reference", _REFERENCE), ("html", _HTML)):
        m = pattern.search(outside)
        if m:
            found.append(f"{where}: {name} {outside[max(0, m.start() - 20) : m.end() + 20]!r}")
    for token in ("](", "![", "[[", "://", "www.", "`"):
        if token in outside:
            found.append(f"{where}: {token!r} outside code in {outside[:200]!r}")
    return found


def gitlab_problems(markdown: str) -> list[str]:
    """What GitLab would act on in ``markdown`` (empty when it is inert)."""
    found: list[str] = []
    lines = markdown.replace("\r", "").split("\n")  # the quick action extractor deletes \r
    for n, line in enumerate(lines, 1):
        if line.startswith("/"):
            found.append(f"line {n}: quick action {line[:60]!r}")
        if _FENCE.match(line):
            found.append(f"line {n}: fence {line[:60]!r}")
    if "\x00" in markdown:
        found.append("NUL byte in the output")
    paragraph: list[str] = []
    previous_blank, previous_code = True, False
    columns = 0
    i = 0

    def flush() -> None:
        if paragraph:
            found.extend(
                problems_outside_code("\n".join(paragraph), f"paragraph {paragraph[0][:40]!r}")
            )
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            previous_blank, previous_code = True, previous_code
            i += 1
            continue
        if line.startswith("    ") and not paragraph and (previous_blank or previous_code):
            previous_code, previous_blank = True, False
            i += 1
            continue
        previous_code = previous_blank = False
        if line.startswith("|") and i + 1 < len(lines) and _DELIMITER_ROW.match(lines[i + 1]):
            flush()
            columns = len(split_cells(line))
            i += 2
            rows = [line]
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            for row in rows:
                cells = split_cells(row)
                if len(cells) != columns:
                    found.append(f"table row has {len(cells)} cells, header {columns}: {row!r}")
                for cell in cells:
                    found.extend(problems_outside_code(cell, f"cell {cell[:40]!r}"))
            continue
        paragraph.append(line)
        i += 1
    flush()
    return found


def assert_inert(markdown: str) -> None:
    problems = gitlab_problems(markdown)
    assert not problems, "\n".join(problems[:10]) + "\n---\n" + markdown[:3000]


# --------------------------------------------------------------------------- fixtures

LINKS = tracker.Links("https://gitlab.example/support/zendesk-orgs", "main")
ZD = "https://support.zendesk.example/agent/organizations/5/tickets"
PATH = "config/orgs/acme.yaml"


def hostile_org(h: str, status: OrgStatus = OrgStatus.DRIFTED, *, truth: str = "repo") -> OrgDrift:
    items = (
        DriftItem("notes", DriftKind.CHANGED, h, "old note", truth),  # type: ignore[arg-type]
        DriftItem("details", DriftKind.CHANGED, "old", h + "\n" + h, truth),  # type: ignore[arg-type]
        DriftItem("salesforce_id", DriftKind.CHANGED, h, h, truth),  # type: ignore[arg-type]
        DriftItem("collaboration_project.id", DriftKind.CHANGED, 1, h, truth),  # type: ignore[arg-type]
        DriftItem(
            "contact_management_project.developers", DriftKind.MISSING_IN_ZENDESK, h, None, truth, h
        ),  # type: ignore[arg-type]
        DriftItem("support_contacts", DriftKind.UNEXPECTED_IN_ZENDESK, None, h, truth, h),  # type: ignore[arg-type]
        DriftItem("support_contacts", DriftKind.CONTACT_NAME_DIFFERS, h, h, truth, h),  # type: ignore[arg-type]
        DriftItem("support_contacts", DriftKind.MISSING_IN_ZENDESK, h, None, truth, h),  # type: ignore[arg-type]
    )
    return OrgDrift(
        org_id=5,
        instance=h,
        file=h,
        name=h,
        status=status,
        items=items if status is OrgStatus.DRIFTED else (),
        suppressed=(
            DriftItem(
                "details", DriftKind.CHANGED, h, h, "repo", h, suppressed_by=h, suppressed_until=h
            ),
        ),
        info=(InfoItem("name", h, h, h),),
        error=h,
        csm="akim",
        zendesk_url=ZD,
        collaboration_project_url="https://gitlab.example/account-management/acme",
    )


def org_links(h: str) -> tracker.OrgLinks:
    return tracker.OrgLinks(
        zendesk_url=ZD,
        file_url=LINKS.file(PATH),
        ops_url="https://gitlab.example/support-ops/organizations/-/issues/17",
        ops_project=h,
        ops_new_issue_url="https://gitlab.example/support-ops/organizations/-/issues/new",
        mr_url="https://gitlab.example/support/zendesk-orgs/-/merge_requests/4",
        mr_branch=h,
        previous_url="https://gitlab.example/support/zendesk-orgs/-/issues/3",
    )


def rendered_everywhere(h: str) -> dict[str, str]:
    """Every product text with ``h`` in every outside position."""
    drifted = hostile_org(h)
    zendesk = hostile_org(h, truth="zendesk")
    out: dict[str, str] = {
        "issue": tracker.issue_body(drifted, LINKS, org_links(h), {"notes": 3}),
        "issue-zendesk": tracker.issue_body(zendesk, LINKS, org_links(h), {}),
        "issue-missing": tracker.issue_body(
            hostile_org(h, OrgStatus.MISSING), LINKS, tracker.OrgLinks(ZD, LINKS.file(PATH)), {}
        ),
        "support-ops": tracker.support_ops_body(drifted, org_links(h)),
        "mr": tracker.mr_body(
            zendesk,
            org_links(h),
            zendesk.items,
            [(i, h) for i in zendesk.items],
            "https://gitlab.example/support/zendesk-orgs/-/issues/12",
        ),
        "note-changed": _change_note(
            (
                *(item_fingerprint(replace(i, actual="x")) for i in drifted.items),
                "gone.field/c/1/2",
            ),
            drifted.items,
        ),
        "note-resolved": tracker.note("resolved", file=h, date=h),
        "note-mr-resolved": tracker.note("mr-resolved", file=h),
        "note-removed": tracker.note("removed"),
    }
    rows = []
    for status in (OrgStatus.DRIFTED, OrgStatus.UNKNOWN, OrgStatus.IN_SYNC):
        org = hostile_org(h, status)
        rows.append(
            tracker.DashboardRow(
                name=h,
                instance=h,
                org_id=5,
                csm=h,
                status=tracker.status_cell(org),
                issue=_ref_cell("https://gitlab.example/support/zendesk-orgs/-/issues/12", True),
                mr=_ref_cell(
                    "https://gitlab.example/support/zendesk-orgs/-/merge_requests/4", False
                ),
                notes=tracker.notes_cell(org),
            )
        )
    out["dashboard"] = tracker.dashboard_body(
        rows, "3 orgs: 1 drifted", h, [tracker.CsmCount(h, drifted=1), tracker.CsmCount(None)], 1
    )
    report = DriftReport(
        orgs=tuple(
            hostile_org(h, s)
            for s in (OrgStatus.DRIFTED, OrgStatus.MISSING, OrgStatus.UNKNOWN, OrgStatus.IN_SYNC)
        ),
        zendesk_requests=3,
        checked_on=h,
    )
    out["preview"] = drift_markdown.render(report)
    return out


# --------------------------------------------------------------------------- pinned safe behaviour


def test_the_model_catches_what_it_should() -> None:
    """The checker of this file is not vacuous."""
    assert gitlab_problems("x\n/close\n")
    assert gitlab_problems("hi @all")
    assert gitlab_problems("see #12")
    assert gitlab_problems("[x](https://evil.example)")
    assert gitlab_problems("<img src=x>")
    assert gitlab_problems("| a | b |\n| --- | --- |\n| `x|y` | z |\n")
    assert gitlab_problems("| a |\n| --- |\n| `@all|` |\n")
    assert not gitlab_problems("| a |\n| --- |\n| `@all\\|` |\n")
    assert not gitlab_problems("text\n\n    /close\n    @all\n")
    assert not gitlab_problems("`@all` and [`x`](https://gitlab.example/a#L3)")


@pytest.mark.parametrize("h", CORPUS, ids=lambda s: repr(s)[:40])
def test_hostile_text_is_inert_in_every_position(h: str) -> None:
    for name, text in rendered_everywhere(h).items():
        problems = gitlab_problems(text)
        assert not problems, f"{name}:\n" + "\n".join(problems[:10]) + "\n---\n" + text[:3000]


@pytest.mark.parametrize("h", CORPUS[::3], ids=lambda s: repr(s)[:40])
def test_the_first_line_is_always_our_marker(h: str) -> None:
    body = tracker.issue_body(hostile_org(h), LINKS, org_links(h), {})
    marker = Marker("org", ("global", 5), "d1", items=("notes/c/1/2",))
    description = with_marker(marker, body)
    first = description.split("\n", 1)[0]
    assert re.fullmatch(
        r"<!-- zendesk-drift-checker [a-z]+=[A-Za-z0-9_.,:/~=-]*( [a-z]+="
        r"[A-Za-z0-9_.,:/~=-]*)* -->",
        first,
    )
    parsed = Marker.parse(description)
    assert parsed is not None
    assert (parsed.kind, parsed.org, parsed.drift, parsed.items) == (
        "org",
        ("global", 5),
        "d1",
        ("notes/c/1/2",),
    )
    # nothing outside code can open or close an HTML comment further down
    assert not [p for p in gitlab_problems(body) if "html" in p]


@pytest.mark.parametrize("h", CORPUS[::3], ids=lambda s: repr(s)[:40])
def test_the_preview_note_starts_with_its_marker(h: str) -> None:
    class Project:
        def __init__(self) -> None:
            self.notes: list[str] = []

        def find_own_note(self, *_: Any) -> None:
            return None

        def add_note(self, _on: str, _iid: int, body: str) -> None:
            self.notes.append(body)

    project = Project()
    report = DriftReport(orgs=(hostile_org(h),), checked_on=h)
    assert upsert_preview_note(project, 1, drift_markdown.render(report)) == "created"  # type: ignore[arg-type]
    [body] = project.notes
    assert body.split("\n", 1)[0] == PREVIEW_MARKER
    assert_inert(body.split("\n", 1)[1])


def test_template_syntax_in_values_is_output_literally() -> None:
    for h in ("{{ 7*7 }}", "{% if true %}x{% endif %}", "{{ request }}", "{# c #}"):
        text = tracker.issue_body(hostile_org(h), LINKS, org_links(h), {})
        assert "49" not in text
        assert h in text or h.replace("|", "\\|") in text
        preview = drift_markdown.render(DriftReport(orgs=(hostile_org(h),), checked_on=h))
        assert h in preview


def test_hostile_title_has_no_line_break_controls_or_bidi() -> None:
    for h in CORPUS:
        org = hostile_org(h)
        for title in (
            tracker.issue_title(org),
            tracker.mr_title(org),
            tracker.support_ops_title(org),
        ):
            assert "\n" not in title and "\r" not in title
            assert not _CONTROL_OR_BIDI.search(title), repr(title)
            assert len(title) <= 255


# --------------------------------------------------------------------------- bypasses (failing)

TITLE_HOSTILE = ["@all", "hi @alice", "#1", "!1", "group/project#2", "&3", "~security", "%v1"]


@pytest.mark.parametrize("h", TITLE_HOSTILE)
def test_bypass_titles_carry_mentions_and_references(h: str) -> None:
    """Issue and MR titles are not Markdown blocks, and quick actions never run in them, but
    GitLab renders them with the single-line pipeline and declares them mentionable
    (``Issuable``: ``attr_mentionable :title, pipeline: :single_line``): ``@alice`` in a title
    notifies alice (``@all``: the whole project), ``#1`` creates a "mentioned in" system note on
    issue #1. ``inert.plain`` (checker/render/inert.py, used by tracker.issue_title / mr_title /
    support_ops_title) keeps ``@`` and ``#`` as they are."""
    org = hostile_org(h)
    for title in (tracker.issue_title(org), tracker.mr_title(org), tracker.support_ops_title(org)):
        assert not _MENTION.search(title), title
        assert not _REFERENCE.search(title), title
        assert not _CROSS_PROJECT_REFERENCE.search(title), title


CLOSING_HOSTILE = [
    "Fixes #1",
    "closes #2, #3 and #4",
    "Resolves group/project#5",
    "Implements https://gitlab.example/support/zendesk-orgs/-/issues/6",
    "Closing ACME-7",
]


@pytest.mark.parametrize("h", CLOSING_HOSTILE)
def test_bypass_closing_pattern_in_merge_request_description(h: str) -> None:
    """GitLab's ClosingIssueExtractor scans the RAW merge request description (and commit
    messages) with the issue_closing_pattern, then analyses the matched text on its own: the
    code span around the value is outside the match, so ``\\`Fixes #1\\``` still closes issue #1
    when the adoption merge request is merged into the default branch (and lists it under
    "Closes" in the widget). Closing another org's drift issue also makes the checker read it as
    "closed by a person" and stop reporting that drift. At fault: merge_request.md.j2 renders
    name/item/expected/actual/reason with ``text``/``cell`` only (checker/render/tracker.py
    mr_body), and tracker.mr_title uses inert.plain."""
    org = hostile_org(h, truth="zendesk")
    body = tracker.mr_body(org, org_links("x"), org.items, [(org.items[0], h)], None)
    found = [
        f"{where}: {m.group()!r}"
        for where, text in (("description", body), ("title", tracker.mr_title(org)))
        for m in CLOSING.finditer(text)
    ]
    assert not found, found


ORG_YAML = """\
schema_version: 1
name: 'Acme Fixes #1'
zendesk:
  org_id: 77
csm: akim
salesforce_id: 0016100001BPKAAAA2
collaboration_project:
  id: 1077
"""


def test_bypass_closing_pattern_in_the_adoption_commit_message(config_dir: Path) -> None:
    """The adoption commit message is built in checker/plan.py (_Planner._merge_request,
    ``commit_message = f"Adopt Zendesk's values for org ... ({inert.plain(org.name)})"``). A
    YAML name ``Acme Fixes #1`` (valid per the org schema) lands verbatim in a commit that is
    merged into the default branch, where ProcessCommitWorker closes issue #1; on any branch
    the commit also cross-references #1."""
    from tests.reconcile_support import TODAY, load, org_drift, report

    (config_dir / "orgs" / "acme.yaml").write_text(ORG_YAML, encoding="utf-8")
    settings, (spec,) = load(config_dir)
    item = DriftItem(
        "salesforce_id", DriftKind.CHANGED, "0016100001BPKAAAA2", "0016100001BPKAAAZZ", "zendesk"
    )
    combined = combine([report([org_drift(spec, items=[item])])])
    files = {
        p: (config_dir / "orgs" / "acme.yaml").read_text("utf-8")
        for p in files_needed(combined, [spec])
    }
    from checker.tracker.types import ProjectInfo

    project = ProjectInfo(
        7, "support/zendesk-orgs", "https://gitlab.example/support/zendesk-orgs", "main"
    )
    ctx = PlanContext(settings, tracker.Links(project.web_url, "main"), files)
    plan = make_plan(ctx, combined, [spec], GitLabState(project))
    plan = make_plan(
        ctx, combined, [spec], GitLabState(project, history=dict.fromkeys(plan.lookups))
    )
    messages = [a.commit_message for a in plan.actions if a.commit_message]
    assert messages, (plan, TODAY)
    for message in messages:
        assert not CLOSING.search(message), message


def test_bypass_handle_in_the_csm_table_cell_is_not_pipe_escaped() -> None:
    """issue.md.j2 renders ``| CSM | {{ csm|handle }} |`` and ``_handle`` (tracker.py) calls
    ``_text`` = ``inert.inline(..., table=False)``: a pipe in the CSM splits the cell before the
    code span is parsed, so ``\\`@all|\\``` becomes the cell ``\\`@all`` — a live ``@all``.
    The org schema's csm pattern forbids ``|`` in YAML, but the renderer also takes csm from a
    drift report JSON (``checker reconcile --report``, schema: any string). Fix: ``handle``
    should use ``inert.inline(f"@{value}")`` (table=True) in table cells, or refuse values that
    are not a GitLab username."""
    org = replace(hostile_org("Acme"), csm="all|x")
    assert_inert(tracker.issue_body(org, LINKS, org_links("Acme"), {}))


def test_bypass_plain_words_that_gitlab_reads_as_commit_references() -> None:
    """``inert.inline`` shows letters/digits/dots as plain words. GitLab links a bare 7–40
    character hex word to the commit with that SHA (and ``a...b`` to a compare view), creating a
    cross-reference on it. A YAML/Zendesk value ``deadbeef1`` or ``cafe123...beef456`` is a
    reference. Fix: treat ``\\b[0-9a-f]{7,40}\\b`` words with a letter a–f as non-plain in
    _PLAIN (checker/render/inert.py)."""
    for h in ("deadbeef12", "cafe123...beef456", "Acme 9ba12248"):
        shown = inert.inline(h)
        outside, _ = code_spans(shown)
        assert not re.search(r"\b(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", outside, re.I), shown


def test_bypass_url_lets_controls_bidi_and_placeholders_through() -> None:
    """``inert.url`` only rejects whitespace and a few ASCII characters in the host: NUL, ESC
    and bidi overrides pass. The YAML ``collaboration_project.url`` (schema: ``^scheme://\\S+``)
    is shown bare in the support-ops request (``and finally point to {{ line.point_to|url }}``),
    so ``https://\\0pending:org:global\\0`` smuggles the planner's NUL-delimited placeholder
    (reconcile fills it with another issue's URL), a raw NUL makes GitLab reject the
    description, and U+202E reverses what readers see. Fix: in inert.url, reject any
    character of categories Cc/Cf (or anything _CONTROLS/_BIDI match) in the whole URL."""
    found = []
    for raw in (
        "https://a\x00b.example/",
        "https://a\x1b.example/",
        "https://\u202eelpmaxe.live/x",
    ):
        shown = inert.url(raw)
        if shown is not None and _CONTROL_OR_BIDI.search(shown):
            found.append(f"url({raw!r}) = {shown!r}")
    smuggled = "https://\x00pending:org:global\x00"  # valid per the org schema's uri format
    org = replace(hostile_org("Acme"), collaboration_project_url=smuggled)
    only_am = replace(org, items=(DriftItem("collaboration_project.id", DriftKind.CHANGED, 1, 2),))
    text = tracker.support_ops_body(only_am, org_links("Acme"))
    if tracker.PLACEHOLDER_RE.search(text):
        line = next(x for x in text.splitlines() if "pending:" in x)
        found.append(f"placeholder in the support-ops body: {line!r}")
    assert not found, found
