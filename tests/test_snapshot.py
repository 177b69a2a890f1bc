"""Snapshots: live state ↔ JSON round trip, refusal of bad files, and the bundled example."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from checker.domain.drift import build_report
from checker.domain.models import (
    DriftKind,
    FetchFailure,
    FetchState,
    LiveContact,
    LiveOrg,
    OrgDrift,
    OrgStatus,
)
from checker.live.snapshot import SNAPSHOT_VERSION, SnapshotError, from_json, to_dict, to_json
from checker.load.validate import validate

from .conftest import ROOT

TAKEN_AT = "2026-11-20T06:00:00Z"
TODAY = dt.date(2026, 11, 20)
EXAMPLE = ROOT / "examples" / "snapshot.json"

NORTHWIND = ("global", 360001234501)
BLUEPEAK = ("global", 360001234502)
HARBOR = ("us-gov", 9100042)

State = dict[tuple[str, int], LiveOrg | FetchFailure]


def live_org(instance: str, org_id: int, **changes: Any) -> LiveOrg:
    values: dict[str, Any] = {
        "instance": instance,
        "org_id": org_id,
        "name": "Northwind Logistics",
        "notes": "Line one.\r\nLine two.  \n",
        "details": None,
        "fields": (
            ("am_project_id", "17735787"),
            ("cmp_developers", ["a@x.example", "B@x.example"]),
            ("cmp_id", 40012345),
            ("flag", True),
            ("ratio", 0.5),
            ("salesforce_id", None),
        ),
        "contacts": (
            LiveContact("Priya.Nair@northwind.example", "Priya Nair", 9001),
            LiveContact("nobody@northwind.example", None, None),
            LiveContact("zoë@northwind.example", "Zoë Ünal", 9003),
        ),
    }
    values.update(changes)
    return LiveOrg(**values)


ROUND_TRIP_STATES: list[Any] = [
    pytest.param({}, id="empty"),
    pytest.param({("global", 1): live_org("global", 1)}, id="one-org"),
    pytest.param(
        {("us-gov", 9100042): live_org("us-gov", 9100042, fields=(("am_project_id", 31290077),))},
        id="us-gov-integer",
    ),
    pytest.param(
        {("global", 2): live_org("global", 2, name="", notes=None, fields=(), contacts=())},
        id="bare-org",
    ),
    pytest.param(
        {("global", 3): FetchFailure(FetchState.MISSING, "HTTP 404: organization not found")},
        id="missing",
    ),
    pytest.param(
        {("global", 4): FetchFailure(FetchState.UNKNOWN, "HTTP 503 after 4 attempts")},
        id="unknown",
    ),
    pytest.param(
        {
            ("us-gov", 7): live_org("us-gov", 7, notes="Ünïcödé — “quoted”\n"),
            ("global", 9): FetchFailure(FetchState.UNKNOWN, "timed out after 30 s"),
            ("global", 8): live_org("global", 8, details="Details\n\nwith blank line"),
            ("global", 3): FetchFailure(FetchState.MISSING, "404"),
        },
        id="mixed",
    ),
]


@pytest.mark.parametrize("state", ROUND_TRIP_STATES)
def test_round_trip(state: State) -> None:
    text = to_json(state, TAKEN_AT)
    assert text.endswith("\n")
    assert from_json(text) == state


@pytest.mark.parametrize("state", ROUND_TRIP_STATES)
def test_round_trip_is_stable(state: State) -> None:
    text = to_json(state, TAKEN_AT)
    assert to_json(from_json(text), TAKEN_AT) == text


def test_to_dict_layout() -> None:
    state: State = {
        ("us-gov", 5): FetchFailure(FetchState.UNKNOWN, "timeout"),
        ("global", 1): live_org("global", 1),
    }
    doc = to_dict(state, TAKEN_AT)
    assert doc["schema_version"] == SNAPSHOT_VERSION == 1
    assert doc["taken_at"] == TAKEN_AT
    assert [(o["instance"], o["org_id"], o["state"]) for o in doc["orgs"]] == [
        ("global", 1, "found"),
        ("us-gov", 5, "unknown"),
    ]
    assert doc["orgs"][1]["error"] == "timeout"
    assert doc["orgs"][0]["organization_fields"]["am_project_id"] == "17735787"
    assert doc["orgs"][0]["contacts"][1] == {
        "email": "nobody@northwind.example",
        "name": None,
        "user_id": None,
    }
    assert json.loads(to_json(state, TAKEN_AT)) == doc


def test_to_json_keeps_non_ascii_readable() -> None:
    text = to_json({("global", 1): live_org("global", 1)}, TAKEN_AT)
    assert "Zoë Ünal" in text


def _doc(*orgs: dict[str, Any], **top: Any) -> str:
    return json.dumps({"schema_version": 1, "taken_at": TAKEN_AT, "orgs": list(orgs), **top})


FOUND: dict[str, Any] = {
    "instance": "global",
    "org_id": 1,
    "state": "found",
    "name": "Acme",
    "notes": None,
    "details": None,
    "organization_fields": {},
    "contacts": [],
}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("", "not JSON", id="empty-file"),
        pytest.param("{not json", "not JSON", id="malformed"),
        pytest.param('{"schema_version": 1, "orgs": [}', "not JSON", id="truncated"),
        pytest.param("{\n\n  oops\n}", "line 3", id="error-line"),
        pytest.param("[]", "schema_version None", id="array"),
        pytest.param('"snapshot"', "schema_version None", id="string"),
        pytest.param('{"orgs": []}', "schema_version None", id="no-version"),
        pytest.param('{"schema_version": 2, "orgs": []}', "schema_version 2 is not 1", id="v2"),
        pytest.param('{"schema_version": "1", "orgs": []}', "schema_version '1'", id="text-v"),
        pytest.param('{"schema_version": 1}', "orgs", id="no-orgs"),
        pytest.param('{"schema_version": 1, "orgs": {}}', "orgs", id="orgs-not-array"),
        pytest.param(_doc({**FOUND, "state": "gone"}), "orgs/0/state", id="bad-state"),
        pytest.param(_doc({**FOUND, "org_id": "1"}), "orgs/0/org_id", id="text-org-id"),
        pytest.param(_doc({**FOUND, "org_id": 0}), "orgs/0/org_id", id="org-id-zero"),
        pytest.param(
            _doc({k: v for k, v in FOUND.items() if k != "instance"}), "orgs/0", id="no-instance"
        ),
        pytest.param(_doc({**FOUND, "name": None}), "orgs/0/name", id="null-name"),
        pytest.param(_doc({**FOUND, "notes": 5}), "orgs/0/notes", id="number-notes"),
        pytest.param(
            _doc({**FOUND, "organization_fields": []}),
            "orgs/0/organization_fields",
            id="fields-not-object",
        ),
        pytest.param(
            _doc({**FOUND, "contacts": [{"name": "No Email"}]}),
            "orgs/0/contacts/0",
            id="contact-without-email",
        ),
        pytest.param(
            _doc({**FOUND, "contacts": [{"email": "a@x.example", "user_id": "7"}]}),
            "orgs/0/contacts/0/user_id",
            id="text-user-id",
        ),
        pytest.param(
            _doc({**FOUND, "contacts": "a@x.example\nb@x.example"}),
            "orgs/0/contacts",
            id="contacts-text-with-newline",
        ),
        pytest.param(_doc(FOUND, {**FOUND, "name": "Acme again"}), "appears twice", id="dup"),
        pytest.param(
            _doc(FOUND, {"instance": "global", "org_id": 1, "state": "missing", "error": "404"}),
            "appears twice",
            id="dup-other-state",
        ),
    ],
)
def test_bad_snapshot_raises_one_line_error(text: str, fragment: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        from_json(text)
    message = str(caught.value)
    assert message.strip()
    assert "\n" not in message
    assert fragment in message


def test_same_org_id_on_two_instances_is_not_a_duplicate() -> None:
    state = from_json(_doc(FOUND, {**FOUND, "instance": "us-gov"}))
    assert set(state) == {("global", 1), ("us-gov", 1)}


def test_minimal_entries_load() -> None:
    found = {
        "instance": "global",
        "org_id": 1,
        "state": "found",
        "name": "",
        "notes": None,
        "details": None,
        "organization_fields": {},
        "contacts": [],
    }
    state = from_json(
        _doc(
            found,
            {"instance": "global", "org_id": 2, "state": "missing"},
            {"instance": "global", "org_id": 3, "state": "unknown", "error": None},
        )
    )
    assert state == {
        ("global", 1): LiveOrg("global", 1, "", None, None, (), ()),
        ("global", 2): FetchFailure(FetchState.MISSING, "missing"),
        ("global", 3): FetchFailure(FetchState.UNKNOWN, "unknown"),
    }


@pytest.mark.parametrize("key", ["name", "notes", "details", "organization_fields", "contacts"])
def test_a_found_org_without_its_data_is_refused(key: str) -> None:
    """A found org missing its contacts (say) does not mean Zendesk has none."""
    entry = {
        "instance": "global",
        "org_id": 1,
        "state": "found",
        "name": "x",
        "notes": None,
        "details": None,
        "organization_fields": {},
        "contacts": [],
    }
    del entry[key]
    with pytest.raises(SnapshotError, match=key):
        from_json(_doc(entry))


def test_fields_are_sorted_by_key_on_load() -> None:
    state = from_json(_doc({**FOUND, "organization_fields": {"z": 1, "a": "2", "m": None}}))
    org = state[("global", 1)]
    assert isinstance(org, LiveOrg)
    assert org.fields == (("a", "2"), ("m", None), ("z", 1))
    assert org.has_field("m")
    assert org.field("m") is None


# --------------------------------------------------------------------------------------------
# the bundled example


def test_example_snapshot_loads() -> None:
    state = from_json(EXAMPLE.read_text(encoding="utf-8"))
    assert set(state) == {NORTHWIND, BLUEPEAK, HARBOR}
    northwind, harbor = state[NORTHWIND], state[HARBOR]
    assert isinstance(northwind, LiveOrg)
    assert isinstance(harbor, LiveOrg)
    assert northwind.field("am_project_id") == "17735786"
    assert harbor.field("am_project_id") == 31290077
    assert [c.email for c in northwind.contacts] == [
        "priya.nair@northwind.example",
        "Tom.Okafor@northwind.example",
        "raj.mehta@northwind.example",
    ]
    assert from_json(to_json(state, TAKEN_AT)) == state


@pytest.fixture
def example_report(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, int], OrgDrift]:
    monkeypatch.chdir(ROOT / "examples")  # laid out as an adopting repository
    validation = validate(Path("config"), today=TODAY, workers=1)
    assert validation.ok, validation.errors
    assert validation.settings is not None
    assert len(validation.specs) == 3
    live = from_json(EXAMPLE.read_text(encoding="utf-8"))
    report = build_report(validation.specs, live, validation.settings, TODAY, source="snapshot")
    assert report.source == "snapshot"
    return {(o.instance, o.org_id): o for o in report.orgs}


def _items(org: OrgDrift, suppressed: bool = False) -> set[tuple[str, DriftKind, Any, Any]]:
    chosen = org.suppressed if suppressed else org.items
    return {(i.field, i.kind, i.expected, i.actual) for i in chosen}


def test_example_northwind_drifted(example_report: dict[tuple[str, int], OrgDrift]) -> None:
    org = example_report[NORTHWIND]
    assert org.status is OrgStatus.DRIFTED
    assert org.file == "config/orgs/northwind-logistics.yaml"
    assert _items(org) == {
        ("collaboration_project.id", DriftKind.CHANGED, 17735787, 17735786),
        ("support_contacts", DriftKind.MISSING_IN_ZENDESK, "lena.fischer@northwind.example", None),
        ("support_contacts", DriftKind.UNEXPECTED_IN_ZENDESK, None, "raj.mehta@northwind.example"),
    }
    assert len(org.items) == 3
    assert org.suppressed == ()
    assert org.info == ()


def test_example_bluepeak_in_sync(example_report: dict[tuple[str, int], OrgDrift]) -> None:
    org = example_report[BLUEPEAK]
    assert org.status is OrgStatus.IN_SYNC
    assert org.items == ()
    assert _items(org, suppressed=True) == {
        ("support_contacts", DriftKind.UNEXPECTED_IN_ZENDESK, None, "ci-bot@bluepeak.example"),
        ("details", DriftKind.UNEXPECTED_IN_ZENDESK, None, "Legacy details: see the notes."),
    }
    assert len(org.suppressed) == 2
    assert {i.suppressed_until for i in org.suppressed} == {"2027-06-30", "2027-03-31"}
    assert all(i.suppressed_by for i in org.suppressed)
    assert [(i.field, i.expected, i.actual) for i in org.info] == [
        ("name", "Bluepeak Analytics", "Bluepeak Analytics Inc.")
    ]


def test_example_harbor_federal_drifted(example_report: dict[tuple[str, int], OrgDrift]) -> None:
    org = example_report[HARBOR]
    assert org.status is OrgStatus.DRIFTED
    assert _items(org) == {
        ("support_contacts", DriftKind.CONTACT_NAME_DIFFERS, "Casey Wu", "Casey Wu-Lin"),
    }
    assert len(org.items) == 1
    assert org.items[0].item == "casey.wu@harbor-federal.example"
    assert org.items[0].truth == "zendesk"
    assert org.suppressed == ()
    assert org.info == ()


def test_example_report_order(example_report: dict[tuple[str, int], OrgDrift]) -> None:
    assert list(example_report) == [NORTHWIND, BLUEPEAK, HARBOR]
