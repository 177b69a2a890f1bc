"""The terminal table and the plain (CI log) text of ``checker drift`` against golden files.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_drift_text.py``
and review the diff of ``tests/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checker.domain.models import DriftItem, DriftKind, DriftReport
from checker.render import drift_text
from checker.render.presentation import (
    TypoPair,
    edit_distance,
    present,
    text_diff,
    visible_whitespace,
)

from .render_samples import BLUEPEAK, BLUEPEAK_ITEMS, HARBOR, REPORT

GOLDEN = Path(__file__).resolve().parent / "golden"


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_table_fits_the_width(width: int) -> None:
    text = drift_text.render(REPORT, width=width)
    check(f"drift-table-{width}.txt", text)
    assert max(len(line) for line in text.splitlines()) <= width
    # the status is never cut, in-sync orgs are a count, the summary is the last line
    assert "DRIFTED  Bluepeak Analytics (360001234502)" in text
    assert "UNKNOWN  Harbor Federal Services (9100042)" in text
    assert "2 orgs in sync, not listed (--all lists them)." in text
    assert text.split("\n\n")[-1].startswith("5 orgs checked: 2 in sync, 1 drifted, 1 missing")


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_the_reason_an_org_could_not_be_checked_is_never_cut(width: int) -> None:
    text = drift_text.render(REPORT, width=width)
    joined = " ".join(line[9:].strip() for line in text.splitlines())
    assert HARBOR.error is not None
    assert HARBOR.error in joined


def test_plain_output_is_one_greppable_line_per_row() -> None:
    text = drift_text.render(REPORT)
    check("drift-plain.txt", text)
    rows = [line for line in text.splitlines() if line.startswith("Bluepeak Analytics")]
    # every item row names its org; the typo pair is one row; notes are shown as a diff
    assert len(rows) == 7
    assert any("looks like a typo" in r and "jordan.lee@bluepeak.exmaple" in r for r in rows)
    assert "    - Renewal in March." in text and "    + Renewal in May." in text
    assert HARBOR.error is not None and HARBOR.error in text


def test_all_lists_in_sync_orgs() -> None:
    text = drift_text.render(REPORT, show_all=True)
    assert any(
        line.startswith("In Sync Org 1 (360001230001)") and " in sync" in line
        for line in text.splitlines()
    )
    assert "not listed" not in text


def test_terminal_escapes_never_reach_the_terminal() -> None:
    from dataclasses import replace

    org = replace(BLUEPEAK, name="Evil\x1b[2J Corp")
    text = drift_text.render(DriftReport(orgs=(org,)), width=80)
    assert "\x1b" not in text and "Evil\\x1b[2J Corp" in text


# --------------------------------------------------------------------------- presentation


def test_typo_pairs_are_one_item_and_other_items_keep_their_order() -> None:
    shown = present(BLUEPEAK_ITEMS)
    pairs = [s for s in shown if isinstance(s, TypoPair)]
    assert [(p.in_file, p.in_zendesk) for p in pairs] == [
        ("jordan.lee@bluepeak.exmaple", "jordan.lee@bluepeak.example")
    ]
    assert len(shown) == len(BLUEPEAK_ITEMS) - 1
    assert shown[2] is pairs[0]


def test_distant_emails_are_not_paired_and_each_pairs_once() -> None:
    def contact(kind: DriftKind, email: str) -> DriftItem:
        return DriftItem("support_contacts", kind, None, None, "repo", email)

    m, u = DriftKind.MISSING_IN_ZENDESK, DriftKind.UNEXPECTED_IN_ZENDESK
    items = [
        contact(m, "annabel@x.example"),
        contact(u, "bobbie@x.example"),
        contact(u, "annabelle@x.example"),
        contact(u, "annabel@x.exampel"),
        contact(m, "ci1@x.example"),
        contact(u, "ci2@x.example"),
        contact(m, "user1@x.example"),
        contact(u, "user2@x.example"),
    ]
    pairs = [s for s in present(items) if isinstance(s, TypoPair)]
    # two candidates: the closest pairs (a swap is one edit); short or digit-only differences
    # are different people
    assert [(p.in_file, p.in_zendesk) for p in pairs] == [
        ("annabel@x.example", "annabel@x.exampel")
    ]
    assert edit_distance("exmaple", "example") == 1
    assert edit_distance("abc", "xyz") == 3


def test_text_diff_shows_the_differing_lines_with_whitespace_visible() -> None:
    diff = text_diff("one\ntwo  words\nthree\nfour", "one\ntwo words\t\nthree\nfive")
    assert diff == [
        "  one",
        "- two··words",
        "+ two words→",
        "  three",
        "- four",
        "+ five",
    ]
    assert visible_whitespace(" lead\u00a0nbsp ") == "·lead<U+00A0>nbsp·"
    long = text_diff("\n".join(str(i) for i in range(100)), "")
    assert len(long) == 24 and long[-1].startswith("… ")


def test_readme_shows_the_real_80_column_table_of_the_demo() -> None:
    import datetime as dt

    from checker.live.snapshot import SnapshotSource, from_json
    from checker.load.validate import validate
    from checker.usecases.drift import run_drift

    root = Path(__file__).resolve().parent.parent
    today = dt.date(2026, 11, 20)  # the Makefile's DEMO_DATE
    result = validate(root / "examples" / "config", today=today)
    assert result.settings is not None
    snapshot = from_json((root / "examples/snapshot.json").read_text(encoding="utf-8"))
    report = run_drift(
        result.specs,
        result.settings,
        SnapshotSource(snapshot),
        today=today,
        scope="full",
        shard=None,
    )
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- example:drift-80 -->\n```text\n", 1)[1].split("```", 1)[0]
    assert shown == drift_text.render(report, width=80)
