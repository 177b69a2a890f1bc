"""Adopting Zendesk's values in an org file: only the changed lines differ."""

from __future__ import annotations

import difflib

import pytest

from checker.domain.models import DriftItem, DriftKind
from checker.edit.orgwriter import OrgWriteError, adopt

COMMENTED = """\
# yaml-language-server: $schema=../../schemas/org.schema.json
# Acme: a file with comments everywhere, odd spacing and quoting.
schema_version: 1
name: "Acme Corp"   # quoted name
zendesk:
  org_id: 77
salesforce_id: '0016100001ACMEAAA2'
csm: akim
collaboration_project: null    # none yet
contact_management_project:
  id: 40012345
  developers:
  - a@acme.example     # not indented: ruamel would indent it
  - b@acme.example
support_contacts:
  # the primary contact
  - name: Ann   Lee
    email: ann@acme.example
  - email: bob@acme.example   # no name on purpose
notes: |
  Line one.

  Line three.
details: ~
"""


def diff(old: str, new: str) -> list[str]:
    return [d for d in difflib.ndiff(old.splitlines(), new.splitlines()) if d[:2] in ("- ", "+ ")]


def item(
    field: str, kind: DriftKind, expected: object, actual: object, which: str | None = None
) -> DriftItem:
    return DriftItem(field, kind, expected, actual, "zendesk", which)  # type: ignore[arg-type]


def test_only_changed_lines_differ_in_a_commented_file() -> None:
    result = adopt(
        COMMENTED,
        [
            item("salesforce_id", DriftKind.CHANGED, "0016100001ACMEAAA2", "0016100001ACMEZZZ9"),
            item(
                "support_contacts",
                DriftKind.CONTACT_NAME_DIFFERS,
                "Ann Lee",
                "Ann Lee-Smith",
                "ann@acme.example",
            ),
            item(
                "support_contacts",
                DriftKind.MISSING_IN_ZENDESK,
                "bob@acme.example",
                None,
                "bob@acme.example",
            ),
            item(
                "contact_management_project.developers",
                DriftKind.UNEXPECTED_IN_ZENDESK,
                None,
                "c@acme.example",
                "c@acme.example",
            ),
        ],
    )
    assert result.skipped == ()
    # The un-indented developers list is the one stretch ruamel reformats; the edit touches it,
    # so it is rewritten consistently. Every other line is byte-identical.
    assert diff(COMMENTED, result.text) == [
        "- salesforce_id: '0016100001ACMEAAA2'",
        "+ salesforce_id: '0016100001ACMEZZZ9'",
        "-   - a@acme.example     # not indented: ruamel would indent it",
        "+     - a@acme.example   # not indented: ruamel would indent it",
        "-   - b@acme.example",
        "+     - b@acme.example",
        "+     - c@acme.example",
        "-   - name: Ann   Lee",
        "+   - name: Ann Lee-Smith",
        "-   - email: bob@acme.example   # no name on purpose",
    ]


def test_notes_and_ids_and_nulls() -> None:
    result = adopt(
        COMMENTED,
        [
            item("notes", DriftKind.CHANGED, "x", "New first line\nsecond"),
            item("collaboration_project.id", DriftKind.UNEXPECTED_IN_ZENDESK, None, 123),
            item("details", DriftKind.UNEXPECTED_IN_ZENDESK, None, "short"),
        ],
    )
    assert diff(COMMENTED, result.text) == [
        "- collaboration_project: null    # none yet",
        "+ collaboration_project:         # none yet",
        "+   id: 123",
        "+   New first line",
        "+   second",
        "-   Line one.",
        "- ",
        "-   Line three.",
        "- details: ~",
        "+ details: short",
    ]


def test_what_cannot_be_written_is_skipped_with_a_reason() -> None:
    result = adopt(COMMENTED, [item("collaboration_project.id", DriftKind.CHANGED, 1, "abc")])
    assert result.text == COMMENTED and not result.changed
    assert "not a project id" in result.skipped[0][1]
    with pytest.raises(OrgWriteError):
        adopt("- a list\n", [item("notes", DriftKind.CHANGED, "a", "b")])


def test_repository_files_round_trip_exactly() -> None:
    from pathlib import Path

    for path in sorted(
        Path(__file__).resolve().parent.parent.joinpath("examples", "config", "orgs").glob("*.yaml")
    ):
        text = path.read_text(encoding="utf-8")
        result = adopt(text, [item("notes", DriftKind.CHANGED, "a", "Changed notes.\nTwo lines.")])
        changes = diff(text, result.text)
        assert all(c.startswith(("-   ", "+   ")) for c in changes), changes
