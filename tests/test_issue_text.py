"""What a drift issue says: the first line says what to do, key/value lines are no table with
an empty header, typos and members without an email read as one item with the right fixes, the
support-operations request is one block, "no longer drifting" names the item.

Regenerate golden files with ``UPDATE_GOLDEN=1 pytest tests/test_issue_text.py``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from checker.domain.models import DriftItem, DriftKind
from checker.reconcile.markers import item_fingerprint
from checker.reconcile.notes import change_note as _change_note
from checker.render import tracker

from .render_samples import BLUEPEAK, BLUEPEAK_ITEMS

GOLDEN = Path(__file__).resolve().parent / "golden"
LINKS = tracker.Links("https://gitlab.example/support/zendesk-orgs", "main")
ORG_LINKS = tracker.OrgLinks(
    zendesk_url=str(BLUEPEAK.zendesk_url),
    file_url=LINKS.file(BLUEPEAK.file),
    mr_url="https://gitlab.example/support/zendesk-orgs/-/merge_requests/12",
    mr_branch="checker/adopt/global-360001234502",
    mr_iid=12,
)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert not [line for line in text.split("\n") if line.startswith("/")]


def body() -> str:
    return tracker.issue_body(BLUEPEAK, LINKS, ORG_LINKS, {"notes": 14})


def test_issue_with_every_kind_of_item_matches_golden() -> None:
    check("issue-three-kinds.md", body())


def test_issue_starts_with_what_to_do() -> None:
    first = body().split("\n", 1)[0]
    assert first == (
        "**To do:** Ask support operations to add 1 contact, remove 1 contact and change 2 "
        "values — request below. Review and merge !12. Fix 1 email that looks mistyped."
    )


def test_no_key_value_table_with_an_empty_header() -> None:
    assert "| | |" not in body()


def test_support_request_is_one_copyable_block() -> None:
    text = body()
    section = text.split("### Support-operations request", 1)[1].split("\n### ", 1)[0]
    lines = section.strip("\n").split("\n")[1:]
    assert lines and all(line == "" or line.startswith("    ") for line in lines), lines
    assert "    **This user should be associated with the org**: `noor.haddad" in section
    # the mistyped address is not requested, the member without an email is named
    assert "exmaple" not in section
    assert "Front Desk (no email, Zendesk user:90817)" in section


def test_member_without_email_is_told_the_ignore_entry() -> None:
    text = body()
    assert "        value: user:90817" in text
    assert "change `support_contacts` `user:90817`" not in text


def test_typo_is_one_item_with_both_fixes() -> None:
    text = body()
    assert text.count("jordan.lee@bluepeak.exmaple") == 3  # heading and the two fixes
    assert "looks like a typo: `jordan.lee@bluepeak.exmaple` in the file" in text
    assert "**If the file is wrong:**" in text and "**If Zendesk is wrong:**" in text


def test_no_longer_drifting_names_the_item() -> None:
    earlier = (
        *BLUEPEAK_ITEMS,
        DriftItem(
            "support_contacts",
            DriftKind.MISSING_IN_ZENDESK,
            "casey.wu@bluepeak.example",
            None,
            "repo",
            "casey.wu@bluepeak.example",
        ),
        DriftItem("salesforce_id", DriftKind.CHANGED, "0016100001ABCDEAAA", "x", "zendesk"),
    )
    before = tuple(item_fingerprint(i) for i in earlier)
    old = tracker.issue_body(replace(BLUEPEAK, items=earlier), LINKS, ORG_LINKS, {})
    note = _change_note(before, BLUEPEAK_ITEMS, old)
    gone = note.split("No longer drifting:", 1)[1]
    assert "`support_contacts` `casey.wu@bluepeak.example`: missing in Zendesk" in gone
    assert "`salesforce_id`: different value" in gone
