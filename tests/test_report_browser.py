"""The drift report page in a real browser: headless Chromium (Debian's), driven by Playwright.

Every page is opened from disk in a context where any request other than the page's own file is
recorded and aborted; each test ends by checking that none was attempted and that the console
stayed free of errors (a CSP violation is one). One browser serves the whole module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checker.domain.models import DriftItem, DriftKind, DriftReport, InfoItem, OrgStatus
from checker.render import drift_html
from checker.usecases import report as fleet
from tests.report_support import (
    AXE,
    REPO,
    Sealed,
    browser,
    chromium_missing,
    fleet_report,
    org,
    shards,
    write,
)
from tests.test_inert import HOSTILE

LINKS = drift_html.PageLinks(
    repository_url=REPO,
    ref="main",
    zendesk={
        "global": "https://support.zendesk.example",
        "us-gov": "https://support-federal.zendesk.example",
    },
    label="zendesk-drift",
)
ALLOWED_HREFS = (f"{REPO}/-/", "https://support.zendesk.example/", "https://support-federal.")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    why = chromium_missing()
    if why:
        # Never a skip: CI must not pass without having driven the page in a browser.
        pytest.fail(f"the browser tests cannot run: {why}; run `make test`, which installs it")
    with browser() as b:
        yield b


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """Opens a page file (with an optional #state); afterwards: no request, no console error."""
    opened: list[Sealed] = []

    def opener(path: Path, state: str = "", **context: Any) -> Any:
        sealed = Sealed(chromium, path.as_uri(), **context)
        opened.append(sealed)
        return sealed.open(path.as_uri() + state)

    yield opener
    for sealed in opened:
        foreign, console, errors = sealed.foreign_requests(), sealed.console, sealed.errors
        sealed.close()
        assert foreign == [], "the page tried to reach the network"
        assert [m for m in console if m[0] in ("error", "warning")] == []
        assert errors == []


# --------------------------------------------------------------------------- the pages


def the_run() -> DriftReport:
    """20 orgs: 8 drifted (every kind), 2 missing, 2 could not be checked, 8 in sync."""
    report = fleet_report(20, 8, missing=2, unknown=2)
    orgs = list(report.orgs)
    orgs[4] = replace(
        orgs[4],
        suppressed=(
            DriftItem(
                "details",
                DriftKind.CHANGED,
                "a",
                "b",
                suppressed_by="Known, fixed next week",
                suppressed_until="2026-12-31",
            ),
        ),
        info=(InfoItem("name", "Org 00004 Ltd", "Org 4 Limited", "names differ"),),
    )
    return replace(report, orgs=tuple(orgs))


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run in 2 shards, with two earlier runs as history and a reconcile plan."""
    folder = tmp_path_factory.mktemp("report")
    report = the_run()
    paths = [write(r, folder / f"drift-{n + 1}.json") for n, r in enumerate(shards(report, 2))]
    for n, day in enumerate(("2026-11-24", "2026-11-25")):
        past = fleet_report(20, 2 + 3 * n, generated_at=f"{day}T06:00:00Z", checked_on=day)
        write(past, folder / "history" / f"{day}.json")
    plan = {
        "actions": [
            {"org": "us-gov/360000000000", "target": "issue", "verb": "update", "iid": 11,
             "status": "done", "url": f"{REPO}/-/issues/11"},
            {"org": "global/360000000001", "target": "merge-request", "verb": "create",
             "iid": None, "status": "done", "url": f"{REPO}/-/merge_requests/4"},
        ]
    }  # fmt: skip
    (folder / "plan.json").write_text(json.dumps(plan))
    built = fleet.build(paths, plan_path=folder / "plan.json", history_dir=folder / "history")
    page = folder / "drift.html"
    page.write_text(drift_html.render(built, LINKS), encoding="utf-8")
    return page


def names(page: Any) -> list[str]:
    page.wait_for_selector("#rows[data-complete]", state="attached")  # every row is in
    return list(
        page.eval_on_selector_all(
            "#rows > tr:not(.detail) > td.name", "cells => cells.map(c => c.lastChild.textContent)"
        )
    )


def expected(pred: Callable[[Any], bool]) -> list[str]:
    """Names of the orgs of the run that ``pred`` keeps, in the page's default order."""
    rank = {"drifted": 0, "missing": 1, "unknown": 2, "in_sync": 3}
    orgs = sorted(the_run().orgs, key=lambda o: (rank[o.status.value], o.name.lower(), o.org_id))
    return [o.name for o in orgs if pred(o)]


def search(page: Any, query: str) -> None:
    """Type into the search box and wait for the (debounced) filter to apply."""
    page.fill("#f-q", query)
    page.wait_for_function(
        "q => new URLSearchParams(location.hash.slice(1)).get('q') === q", arg=query.strip()
    )


def has(field: str | None = None, kind: str | None = None) -> Callable[[Any], bool]:
    return lambda o: any(
        (field is None or i.field == field) and (kind is None or i.kind.value == kind)
        for i in o.items
    )


# --------------------------------------------------------------------------- what it shows


def test_counts_match_the_report(open_page: Callable[..., Any], page_file: Path) -> None:
    page = open_page(page_file)
    report = the_run()
    counts = {
        li.get_attribute("data-status"): int(li.query_selector(".n").text_content())
        for li in page.query_selector_all("#counts li[data-status]")
    }
    assert counts == {s.value: report.count(s) for s in OrgStatus}
    assert page.text_content("#shown") == "Showing 20 of 20 orgs"
    assert names(page) == expected(lambda o: True)
    assert page.locator("svg.bar rect").count() == 4
    assert page.locator(".trend polyline").count() == 3  # the history's chart
    statuses = page.eval_on_selector_all("#rows .status", "s => s.map(e => e.textContent)")
    assert statuses[:8] == ["drifted"] * 8 and statuses[-1] == "in sync"


def test_each_filter_and_their_combination_give_the_expected_rows(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file)
    cases: list[tuple[dict[str, str], Callable[[Any], bool]]] = [
        ({"status": "drifted"}, lambda o: o.status is OrgStatus.DRIFTED),
        ({"status": "unknown"}, lambda o: o.status is OrgStatus.UNKNOWN),
        ({"instance": "us-gov"}, lambda o: o.instance == "us-gov"),
        ({"csm": "jdoe"}, lambda o: o.csm == "jdoe"),
        ({"field": "notes"}, has("notes")),
        ({"kind": "contact_name_differs"}, has(kind="contact_name_differs")),
        (
            {"csm": "akim", "status": "drifted"},
            lambda o: o.csm == "akim" and o.status is OrgStatus.DRIFTED,
        ),
        (
            {"instance": "global", "field": "support_contacts", "kind": "missing_in_zendesk"},
            lambda o: o.instance == "global" and has("support_contacts", "missing_in_zendesk")(o),
        ),
        ({"field": "notes", "kind": "missing_in_zendesk"}, has("notes", "missing_in_zendesk")),
    ]
    for choice, pred in cases:
        page.click("#f-reset")
        for key, value in choice.items():
            page.select_option(f"#f-{key}", value)
        want = expected(pred)
        assert names(page) == want, choice
        assert page.text_content("#shown") == f"Showing {len(want)} of 20 orgs"
        state = dict(p.split("=") for p in page.evaluate("location.hash")[1:].split("&"))
        assert state == choice
    assert expected(has("notes", "missing_in_zendesk")) == []  # the last case: no row at all


def test_the_search_finds_an_org_by_a_contact_email_its_name_or_id(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file)
    for query, want in [
        ("BO.org5@org5.example", ["Org 00005 Ltd"]),
        ("casey.org3@", ["Org 00003 Ltd"]),
        ("360000000017", ["Org 00017 Ltd"]),
        # every word must match, anywhere: "0001" is in 00001 and in 00010 to 00019
        ("ORG 0001", ["Org 00001 Ltd", *(f"Org 000{n} Ltd" for n in range(10, 20))]),
    ]:
        search(page, query)
        assert sorted(names(page)) == sorted(want), query
    page.select_option("#f-status", "in_sync")
    assert sorted(names(page)) == [f"Org 000{n} Ltd" for n in range(12, 20)]  # 00001 drifts


def test_every_column_sorts_both_ways(open_page: Callable[..., Any], page_file: Path) -> None:
    page = open_page(page_file)
    run = the_run().orgs
    page.click("th[data-sort=name] button")
    assert names(page) == sorted(o.name for o in run)
    assert page.get_attribute("th[data-sort=name]", "aria-sort") == "ascending"
    page.click("th[data-sort=name] button")
    assert names(page) == sorted((o.name for o in run), reverse=True)
    assert page.get_attribute("th[data-sort=name]", "aria-sort") == "descending"
    page.click("th[data-sort=id] button")
    ids = page.eval_on_selector_all(
        "#rows > tr > td.num:nth-child(3)", "c => c.map(e => +e.textContent)"
    )
    assert ids == sorted(o.org_id for o in run)
    page.click("th[data-sort=items] button")
    page.click("th[data-sort=items] button")
    counts = page.eval_on_selector_all(
        "#rows > tr > td:nth-child(6)", "c => c.map(e => +e.textContent)"
    )
    assert counts == sorted((len(o.items) for o in run), reverse=True)
    for column in ("instance", "csm", "status", "fields", "links"):
        page.click(f"th[data-sort={column}] button")
        assert page.get_attribute(f"th[data-sort={column}]", "aria-sort") == "ascending"
        assert len(names(page)) == 20
    page.click("th[data-sort=csm] button")
    csms = page.eval_on_selector_all(
        "#rows > tr > td:nth-child(4)", "c => c.map(e => e.textContent)"
    )
    assert csms == sorted(o.csm or "" for o in run)


def test_a_shared_link_opens_filtered_and_reload_keeps_the_state(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file, "#csm=jdoe&status=drifted&sort=id&dir=desc")
    want = [o.name for o in sorted(the_run().orgs, key=lambda o: -o.org_id)]
    want = [
        n for n in want if n in expected(lambda o: o.csm == "jdoe" and o.status.value == "drifted")
    ]
    assert names(page) == want and want
    assert page.input_value("#f-csm") == "jdoe" and page.input_value("#f-status") == "drifted"
    assert page.get_attribute("th[data-sort=id]", "aria-sort") == "descending"
    page.select_option("#f-instance", "global")
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.input_value("#f-instance") == "global" and page.input_value("#f-csm") == "jdoe"
    assert names(page) == [n for n in want if n in expected(lambda o: o.instance == "global")]
    page.evaluate("location.hash = '#field=notes'")
    page.wait_for_function("() => document.querySelector('#f-field').value === 'notes'")
    assert names(page) == expected(has("notes"))
    page.click("#f-reset")
    assert page.evaluate("location.hash") == "" and len(names(page)) == 20


def test_a_row_expands_to_its_items_with_the_notes_diff_and_drifting_since(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file, "#q=Org 00002")
    toggle = page.locator("#rows button.toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.focus()
    page.keyboard.press("Enter")  # keyboard first
    assert toggle.get_attribute("aria-expanded") == "true"
    assert toggle.get_attribute("aria-label") == "Hide the items of Org 00002 Ltd"
    detail = page.locator("#rows > tr.detail")
    cells = detail.locator("tbody td").all_text_contents()
    assert cells[:3] == ["notes", "–", "different value"]
    assert "the org file" in cells and "change Zendesk (support-ops request)" in cells
    assert cells[-1] == "2026-11-25"  # orgs 0..4 drifted on the 25th already, not on the 24th
    diff = detail.locator("ul.diff li").all_text_contents()
    assert "− Region: EU" in diff and "+ Region: US" in diff
    page.keyboard.press("Space")
    assert page.locator("#rows > tr.detail").count() == 0
    search(page, "Org 00004")
    page.click("#rows button.toggle")
    text = page.text_content("#rows > tr.detail")
    assert "Suppressed (accepted drift, not counted)" in text and "until 2026-12-31" in text
    assert "name: the file says Org 00004 Ltd, Zendesk says Org 4 Limited" in text
    search(page, "Org 00010")
    page.click("#rows button.toggle")
    assert "Could not be checked: Zendesk answered 503" in page.text_content("#rows > tr.detail")


def test_links_come_from_the_settings_and_the_plan(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file, "#q=Org 0000")
    hrefs = {
        name: page.eval_on_selector_all(
            f"#rows > tr:has(td.name:text-is('{name}')) a",
            "as => as.map(a => [a.textContent, a.href])",
        )
        for name in ("Org 00000 Ltd", "Org 00001 Ltd")
    }
    assert hrefs["Org 00000 Ltd"] == [
        ["file", f"{REPO}/-/blob/main/config/orgs/org-00000.yaml"],
        [
            "Zendesk",
            "https://support-federal.zendesk.example/agent/organizations/360000000000/tickets",
        ],
        ["issue #11", f"{REPO}/-/issues/11"],
    ]
    assert hrefs["Org 00001 Ltd"][-2:] == [
        # no issue in this run's plan: GitLab's issue search by the org id finds it
        [
            "find issue",
            f"{REPO}/-/issues?state=all&label_name%5B%5D=zendesk-drift&search=360000000001",
        ],
        ["MR !4", f"{REPO}/-/merge_requests/4"],
    ]


def test_the_matrix_filters_by_field_and_instance(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file)
    page.click("#matrix button[data-field=support_contacts][data-instance=global]")
    assert page.input_value("#f-field") == "support_contacts"
    assert names(page) == expected(lambda o: o.instance == "global" and has("support_contacts")(o))


def test_print_shows_the_table_without_the_controls(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    page = open_page(page_file)
    page.emulate_media(media="print")
    assert not page.is_visible("#filters") and not page.is_visible(".hint")
    assert page.is_visible("#orgs") and page.is_visible("#counts")


# --------------------------------------------------------------------------- safe and accessible


def test_the_harness_catches_any_request(chromium: Any, tmp_path: Path) -> None:
    """The interception the other tests rely on does see a page's requests."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<img src="http://127.0.0.1:9/x.png"><img src="other.png">')
    sealed = Sealed(chromium, page_file.as_uri())
    sealed.page.goto(page_file.as_uri())
    sealed.page.wait_for_load_state("load")
    foreign = sealed.foreign_requests()
    sealed.close()
    assert "http://127.0.0.1:9/x.png" in foreign
    assert any(u.endswith("/other.png") for u in foreign)


CORPUS = [
    *HOSTILE,
    "<svg onload=alert(1)>",
    "<iframe src=javascript:parent.pwned=1>",
    '"><img src=x onerror="window.pwned=1">',
    "</script><script>window.pwned=1</script>",
    "<!--",
    "]]>",
    "javascript:window.pwned=1",
    "\u202eeulav.exe",
    "\u2066rtl\u2069 \u200f",
    "line\u2028separator",
    "{{7*7}} ${7*7} #{7*7}",
    "__proto__",
]


#: the elements the page itself makes, in its template and its script
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "a", "header", "h1", "p", "strong", "main", "section", "h2", "h3", "ul", "li", "span", "svg", "rect", "form", "label", "select", "option", "input", "button", "table", "caption", "thead", "tbody", "tr", "th", "td", "code", "noscript", "footer", "script", "div"}  # fmt: skip


def suppressed(text: str) -> DriftItem:
    return DriftItem(
        "details", DriftKind.CHANGED, text, None, suppressed_by=text, suppressed_until="2026-12-31"
    )


def test_the_hostile_corpus_is_inert(open_page: Callable[..., Any], tmp_path: Path) -> None:
    orgs = []
    for n, text in enumerate(CORPUS):
        email = f"{text}@x.example"
        status = OrgStatus.DRIFTED if n % 3 else OrgStatus.UNKNOWN
        orgs.append(
            org(
                n,
                status,
                name=text,
                csm=text,
                file=f"config/orgs/{text}.yaml",
                zendesk_url=text,
                collaboration_project_url=text,
                error=text,
                items=(
                    DriftItem("notes", DriftKind.CHANGED, text, f"{text}\n{text}"),
                    DriftItem(
                        "support_contacts", DriftKind.MISSING_IN_ZENDESK, email, None, item=email
                    ),
                    DriftItem(text, DriftKind.CHANGED, text, text),
                )
                if status is OrgStatus.DRIFTED
                else (),  # an org that could not be checked has no items (reports are checked)
                suppressed=(suppressed(text),),
                info=(InfoItem("name", text, text, text),),
            )
        )
    report = replace(fleet_report(1, 0), orgs=tuple(orgs))
    built = fleet.build([write(report, tmp_path / "hostile.json")])
    page_file = tmp_path / "hostile.html"
    page_file.write_text(drift_html.render(built, LINKS), encoding="utf-8")
    page = open_page(page_file)
    page.eval_on_selector_all("#rows button.toggle", "bs => bs.forEach(b => b.click())")
    for value in ("__proto__", CORPUS[0]):
        page.select_option("#f-csm", value)
    page.click("#f-reset")
    assert page.evaluate("window.pwned") is None
    census = page.evaluate(
        """() => ({
        scripts: document.scripts.length,
        foreign: document.querySelectorAll(
            'img, iframe, frame, object, embed, video, audio, base, link, form form, math,'
            + ' svg svg, svg script, details details, meta[http-equiv=refresh]').length,
        handlers: [...document.querySelectorAll('*')].filter(
            e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
        hrefs: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
        tags: [...new Set([...document.querySelectorAll('*')].map(e => e.localName))],
        svgs: document.querySelectorAll('svg').length,
        names: [...document.querySelectorAll('#rows > tr:not(.detail) > td.name')]
            .map(c => c.lastChild.textContent),
      })"""
    )
    assert census["scripts"] == 2 and census["foreign"] == 0 and census["handlers"] == 0
    # every element is one the page itself makes (the corpus holds <details>, <b>, <svg>, ...)
    assert set(census["tags"]) <= PAGE_TAGS, set(census["tags"]) - PAGE_TAGS
    assert census["svgs"] == 1  # the status bar
    skip_link = "#orgs"
    assert all(h == skip_link or h.startswith(ALLOWED_HREFS) for h in census["hrefs"])
    assert not any("javascript" in h.lower() for h in census["hrefs"])
    files = [h.split("/-/blob/main/")[1] for h in census["hrefs"] if "/-/blob/" in h]
    # only plain relative paths are linked (files named like these are harmless ones)
    assert sorted(files) == ["config/orgs/__proto__.yaml", "config/orgs/www.evil.example.yaml"]
    shown = {drift_html.shown(t) for t in CORPUS}
    assert set(census["names"]) == shown  # every value shown, as text, invisible marks visible
    assert "⟨U+202E⟩eulav.exe" in census["names"]
    # the page's own structure is untouched: 8 columns, one detail row per expanded org
    assert page.locator("#orgs > thead th").count() == 8
    assert page.locator("#rows > tr.detail").count() == len(CORPUS)


def test_axe_finds_no_serious_accessibility_violation(
    open_page: Callable[..., Any], page_file: Path
) -> None:
    assert AXE.is_file(), f"{AXE} is missing: run `make test` (npm ci in tools/axe)"
    # axe is injected as a script of the test's own: only this context lets the CSP through
    page = open_page(page_file, "#q=Org 00001", bypass_csp=True)
    page.click("#rows button.toggle")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',"
        " 'best-practice']})"
    )
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    assert len(result["passes"]) > 20  # it did look
    assert re.match(r"4\.", page.evaluate("axe.version"))


def test_a_big_fleet_fills_in_by_chunks_and_a_filter_meanwhile_wins(
    open_page: Callable[..., Any], tmp_path: Path
) -> None:
    report = fleet_report(1500, 150)
    built = fleet.build([write(report, tmp_path / "big.json")])
    page_file = tmp_path / "big.html"
    page_file.write_text(drift_html.render(built, LINKS), encoding="utf-8")
    page = open_page(page_file)
    # two filters in one task: the first one's pending chunks (1,350 rows in sync, 200 of them
    # in at once) must be abandoned for the second
    page.evaluate(
        """() => {
        const status = document.querySelector('#f-status');
        for (const value of ['in_sync', 'drifted']) {
            status.value = value;
            status.dispatchEvent(new Event('change'));
        }
    }"""
    )
    drifted = sorted(o.name for o in report.orgs if o.status is OrgStatus.DRIFTED)
    assert names(page) == drifted  # no row of the abandoned chunks, none twice
    page.click("#f-reset")
    # printing puts every row in at once
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("#rows[data-complete]").count() == 1
    assert page.locator("#rows > tr").count() == 1500
    assert page.text_content("#shown") == "Showing 1500 of 1500 orgs"
