"""The pure drift engine: every comparison rule, one declared × live pair at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checker.domain.drift import build_report, compare
from checker.domain.models import (
    UNMANAGED,
    Contact,
    DriftItem,
    DriftKind,
    FetchFailure,
    FetchState,
    LiveContact,
    LiveOrg,
    OrgDrift,
    OrgSpec,
    OrgStatus,
    Scalar,
    Suppression,
    Truth,
)
from checker.domain.settings import DEFAULT_FIELD_KEYS, DEFAULT_TRUTH, Instance, Settings

TODAY = dt.date(2026, 11, 20)
ORG_ID = 360001234501
NAME = "Northwind Logistics"
AM_ID = 17735787
# A consistent pair: the 18-character form's last three characters spell out which of the
# first 15 are upper case (here the last five: NWLGX), so the two name the same account.
SF_18 = "0016100001NWLGXAA5"
SF_15 = SF_18[:15]
GLOBAL_URL = "https://support.zendesk.example"
US_GOV_URL = "https://support-federal.zendesk.example"

MISSING = DriftKind.MISSING_IN_ZENDESK
UNEXPECTED = DriftKind.UNEXPECTED_IN_ZENDESK
CHANGED = DriftKind.CHANGED
NAME_DIFFERS = DriftKind.CONTACT_NAME_DIFFERS

FieldValue = Scalar | list[Scalar]


def make_settings(
    *,
    truth: Mapping[str, Truth] | None = None,
    unlisted_contacts_are_drift: bool = True,
    global_fields: Mapping[str, str] = DEFAULT_FIELD_KEYS,
) -> Settings:
    return Settings(
        config_dir=Path("config"),
        instances={
            "global": Instance("global", GLOBAL_URL, global_fields),
            "us-gov": Instance("us-gov", US_GOV_URL, DEFAULT_FIELD_KEYS),
        },
        default_instance="global",
        source_of_truth=dict(DEFAULT_TRUTH) if truth is None else dict(truth),
        unlisted_contacts_are_drift=unlisted_contacts_are_drift,
    )


SETTINGS = make_settings()


def make_spec(**changes: Any) -> OrgSpec:
    """An org file that declares nothing but its identity, plus ``changes``."""
    base = OrgSpec(path="config/orgs/northwind.yaml", org_id=ORG_ID, instance="global", name=NAME)
    return replace(base, **changes)


def make_live(
    fields: Mapping[str, FieldValue] | None = None,
    *,
    contacts: Sequence[LiveContact] = (),
    notes: str | None = None,
    details: str | None = None,
    name: str = NAME,
    instance: str = "global",
    org_id: int = ORG_ID,
    keys: Sequence[str] = tuple(DEFAULT_FIELD_KEYS.values()),
) -> LiveOrg:
    """What Zendesk holds: every configured field key present (empty unless in ``fields``)."""
    values: dict[str, FieldValue] = dict.fromkeys(keys)
    values.update(fields or {})
    return LiveOrg(
        instance=instance,
        org_id=org_id,
        name=name,
        notes=notes,
        details=details,
        fields=tuple(sorted(values.items())),
        contacts=tuple(contacts),
    )


def live_text(field: str, value: str | None) -> LiveOrg:
    """Zendesk holding ``value`` as the org's ``notes`` or ``details``."""
    assert field in ("notes", "details")
    if field == "notes":
        return make_live(notes=value)
    return make_live(details=value)


def run(
    spec: OrgSpec,
    live: LiveOrg | FetchFailure,
    settings: Settings = SETTINGS,
    today: dt.date = TODAY,
) -> OrgDrift:
    return compare(spec, live, settings, today)


def kinds(result: OrgDrift) -> list[tuple[str, DriftKind, Scalar, Scalar]]:
    return [(i.field, i.kind, i.expected, i.actual) for i in result.items]


def assert_in_sync(result: OrgDrift) -> None:
    assert result.status is OrgStatus.IN_SYNC, kinds(result)
    assert result.items == ()
    assert result.error is None


def only_item(result: OrgDrift) -> DriftItem:
    assert result.status is OrgStatus.DRIFTED
    assert len(result.items) == 1, kinds(result)
    return result.items[0]


# --------------------------------------------------------------------------------------------
# ids compare as numbers


@pytest.mark.parametrize(
    "zendesk_value",
    [str(AM_ID), AM_ID, f" {AM_ID} ", f"{AM_ID}\n", float(AM_ID), f"0{AM_ID}"],
    ids=["text", "integer", "padded-text", "text-newline", "float", "leading-zero"],
)
def test_collaboration_project_id_equal_as_numbers(zendesk_value: FieldValue) -> None:
    spec = make_spec(collaboration_project_id=AM_ID)
    assert_in_sync(run(spec, make_live({"am_project_id": zendesk_value})))


@pytest.mark.parametrize("zendesk_value", ["40012345", 40012345], ids=["text", "integer"])
def test_cmp_id_equal_as_numbers(zendesk_value: FieldValue) -> None:
    spec = make_spec(cmp_id=40012345, cmp_developers=())
    assert_in_sync(run(spec, make_live({"cmp_id": zendesk_value})))


def test_us_gov_integer_am_id_equal() -> None:
    spec = make_spec(instance="us-gov", org_id=9100042, collaboration_project_id=31290077)
    live = make_live({"am_project_id": 31290077}, instance="us-gov", org_id=9100042)
    result = run(spec, live)
    assert_in_sync(result)
    assert result.zendesk_url == f"{US_GOV_URL}/agent/organizations/9100042/tickets"


def test_us_gov_integer_am_id_changed() -> None:
    spec = make_spec(instance="us-gov", org_id=9100042, collaboration_project_id=31290077)
    live = make_live({"am_project_id": 31290078}, instance="us-gov", org_id=9100042)
    item = only_item(run(spec, live))
    assert (item.field, item.kind, item.expected, item.actual) == (
        "collaboration_project.id",
        CHANGED,
        31290077,
        31290078,
    )


@pytest.mark.parametrize("zendesk_value", ["17735786", 17735786], ids=["text", "integer"])
def test_different_am_id_is_changed(zendesk_value: FieldValue) -> None:
    item = only_item(
        run(make_spec(collaboration_project_id=AM_ID), make_live({"am_project_id": zendesk_value}))
    )
    assert (item.field, item.kind, item.expected, item.actual) == (
        "collaboration_project.id",
        CHANGED,
        AM_ID,
        17735786,
    )
    assert item.truth == "repo"


@pytest.mark.parametrize(
    "zendesk_value", ["abc", "17735787a", "1773-5787", "-17735787", "17735787.5", "AM 17735787"]
)
def test_non_numeric_text_am_id_is_changed(zendesk_value: str) -> None:
    item = only_item(
        run(make_spec(collaboration_project_id=AM_ID), make_live({"am_project_id": zendesk_value}))
    )
    assert item.kind is CHANGED
    assert item.expected == AM_ID
    assert item.actual == zendesk_value.strip()


@pytest.mark.parametrize("zendesk_value", ["²", "17735787²", "1773578⁷"])
def test_text_am_id_with_digit_like_characters_is_changed(zendesk_value: str) -> None:
    """``str.isdigit`` accepts superscripts that ``int()`` rejects: still just ``changed``."""
    item = only_item(
        run(make_spec(collaboration_project_id=AM_ID), make_live({"am_project_id": zendesk_value}))
    )
    assert (item.kind, item.expected, item.actual) == (CHANGED, AM_ID, zendesk_value)


@pytest.mark.parametrize("zendesk_value", ["", None, "   "], ids=["empty-text", "null", "blank"])
@pytest.mark.parametrize(
    ("attr", "key"),
    [("collaboration_project_id", "am_project_id"), ("cmp_id", "cmp_id")],
)
def test_declared_null_id_equals_empty_zendesk(
    attr: str, key: str, zendesk_value: FieldValue
) -> None:
    spec = make_spec(**{attr: None})
    assert_in_sync(run(spec, make_live({key: zendesk_value})))


@pytest.mark.parametrize("zendesk_value", ["", None], ids=["empty-text", "null"])
def test_declared_id_vs_empty_zendesk_is_missing(zendesk_value: FieldValue) -> None:
    item = only_item(
        run(make_spec(collaboration_project_id=AM_ID), make_live({"am_project_id": zendesk_value}))
    )
    assert (item.field, item.kind, item.expected, item.actual) == (
        "collaboration_project.id",
        MISSING,
        AM_ID,
        None,
    )


@pytest.mark.parametrize(
    ("attr", "key", "field"),
    [
        ("collaboration_project_id", "am_project_id", "collaboration_project.id"),
        ("cmp_id", "cmp_id", "contact_management_project.id"),
    ],
)
def test_declared_null_id_vs_value_is_unexpected(attr: str, key: str, field: str) -> None:
    item = only_item(run(make_spec(**{attr: None}), make_live({key: "40012345"})))
    assert (item.field, item.kind, item.expected, item.actual) == (
        field,
        UNEXPECTED,
        None,
        40012345,
    )


# --------------------------------------------------------------------------------------------
# emails: case-insensitive and trimmed


@pytest.mark.parametrize(
    ("declared", "zendesk"),
    [
        ("priya.nair@northwind.example", "Priya.Nair@Northwind.Example"),
        ("PRIYA.NAIR@NORTHWIND.EXAMPLE", "priya.nair@northwind.example"),
        (" priya.nair@northwind.example ", "priya.nair@northwind.example"),
        ("priya.nair@northwind.example", "  Priya.Nair@northwind.example\t"),
    ],
)
def test_contact_emails_case_insensitive_and_trimmed(declared: str, zendesk: str) -> None:
    spec = make_spec(support_contacts=(Contact(declared, "Priya Nair"),))
    live = make_live(contacts=[LiveContact(zendesk, "Priya Nair", 9001)])
    assert_in_sync(run(spec, live))


DEVELOPERS = ("Priya.Nair@northwind.example", " tom.okafor@NORTHWIND.example ")


@pytest.mark.parametrize(
    "zendesk_value",
    [
        ["priya.nair@northwind.example", "tom.okafor@northwind.example"],
        ["PRIYA.NAIR@NORTHWIND.EXAMPLE ", " Tom.Okafor@northwind.example"],
        ["tom.okafor@northwind.example", "priya.nair@northwind.example"],
        "priya.nair@northwind.example\ntom.okafor@northwind.example",
        "Priya.Nair@northwind.example\r\nTom.Okafor@northwind.example\r\n",
        "priya.nair@northwind.example, tom.okafor@northwind.example",
        "priya.nair@northwind.example,tom.okafor@northwind.example",
        " priya.nair@northwind.example ,\n tom.okafor@northwind.example ,",
    ],
    ids=["list", "list-case", "list-order", "lf", "crlf", "comma-space", "comma", "mixed"],
)
def test_cmp_developers_emails_normalised(zendesk_value: FieldValue) -> None:
    spec = make_spec(cmp_id=40012345, cmp_developers=DEVELOPERS)
    live = make_live({"cmp_id": 40012345, "cmp_developers": zendesk_value})
    assert_in_sync(run(spec, live))


@pytest.mark.parametrize(
    "zendesk_value",
    [
        ["tom.okafor@northwind.example", "raj.mehta@northwind.example"],
        "Tom.Okafor@northwind.example\nRaj.Mehta@northwind.example",
        "tom.okafor@northwind.example, raj.mehta@northwind.example",
    ],
    ids=["list", "text-lines", "text-commas"],
)
def test_cmp_developers_missing_and_unexpected(zendesk_value: FieldValue) -> None:
    spec = make_spec(cmp_id=40012345, cmp_developers=DEVELOPERS)
    result = run(spec, make_live({"cmp_id": 40012345, "cmp_developers": zendesk_value}))
    assert result.status is OrgStatus.DRIFTED
    got = {(i.field, i.kind, i.expected, i.actual, i.item, i.truth) for i in result.items}
    field = "contact_management_project.developers"
    assert got == {
        (
            field,
            MISSING,
            "priya.nair@northwind.example",
            None,
            "priya.nair@northwind.example",
            "repo",
        ),
        (
            field,
            UNEXPECTED,
            None,
            "raj.mehta@northwind.example",
            "raj.mehta@northwind.example",
            "repo",
        ),
    }


@pytest.mark.parametrize("zendesk_value", [None, "", [], "  \n", [None]])
def test_cmp_null_expects_no_developers(zendesk_value: FieldValue) -> None:
    spec = make_spec(cmp_id=None, cmp_developers=None)
    assert_in_sync(run(spec, make_live({"cmp_developers": zendesk_value})))


def test_cmp_null_vs_developers_in_zendesk_is_unexpected() -> None:
    spec = make_spec(cmp_id=None, cmp_developers=None)
    item = only_item(run(spec, make_live({"cmp_developers": "Ann@x.example"})))
    assert (item.kind, item.expected, item.actual, item.item) == (
        UNEXPECTED,
        None,
        "ann@x.example",
        "ann@x.example",
    )


# --------------------------------------------------------------------------------------------
# notes and details


EQUAL_TEXTS = [
    pytest.param("Line one.\nLine two.\n", "Line one.\nLine two.", id="block-scalar-newline"),
    pytest.param("Line one.\nLine two.\n", "Line one.\r\nLine two.\r\n", id="crlf"),
    pytest.param("Line one.\nLine two.", "Line one.\rLine two.\r", id="cr"),
    pytest.param("Line one.\nLine two.\n", "Line one.  \r\nLine two.\t \r\n", id="trailing-ws"),
    pytest.param("Line one.   \nLine two.", "Line one.\nLine two.", id="trailing-ws-in-file"),
    pytest.param("Line one.\n", "Line one.\n\n\n", id="trailing-blank-lines"),
    pytest.param("Only line", "Only line", id="identical"),
]


@pytest.mark.parametrize("field", ["notes", "details"])
@pytest.mark.parametrize(("declared", "zendesk"), EQUAL_TEXTS)
def test_text_equal_after_normalising(field: str, declared: str, zendesk: str) -> None:
    spec = make_spec(**{field: declared})
    assert_in_sync(run(spec, live_text(field, zendesk)))


@pytest.mark.parametrize("field", ["notes", "details"])
@pytest.mark.parametrize(
    ("declared", "zendesk"),
    [
        ("Maintenance: Sundays.\n", "Maintenance: Saturdays."),
        ("Premium customer.\n", "premium customer."),
        ("Line one.\nLine two.\n", "Line one.\nLine two.\nLine three."),
        ("Line one.\nLine two.\n", "Line one. Line two."),
    ],
)
def test_real_text_difference_is_changed(field: str, declared: str, zendesk: str) -> None:
    item = only_item(run(make_spec(**{field: declared}), live_text(field, zendesk)))
    assert (item.field, item.kind) == (field, CHANGED)
    assert item.expected == declared.rstrip("\n")
    assert item.actual == zendesk
    assert item.truth == "repo"


@pytest.mark.parametrize("field", ["notes", "details"])
@pytest.mark.parametrize("declared", [None, ""], ids=["null", "empty"])
@pytest.mark.parametrize(
    "zendesk", [None, "", "\r\n", "  \n  "], ids=["null", "empty", "crlf", "blank"]
)
def test_null_text_expects_empty(field: str, declared: str | None, zendesk: str | None) -> None:
    assert_in_sync(run(make_spec(**{field: declared}), live_text(field, zendesk)))


@pytest.mark.parametrize("field", ["notes", "details"])
@pytest.mark.parametrize("zendesk", [None, ""], ids=["null", "empty"])
def test_declared_text_vs_empty_zendesk_is_missing(field: str, zendesk: str | None) -> None:
    item = only_item(run(make_spec(**{field: "Escalate via CSM.\n"}), live_text(field, zendesk)))
    assert (item.field, item.kind, item.expected, item.actual) == (
        field,
        MISSING,
        "Escalate via CSM.",
        None,
    )


@pytest.mark.parametrize("field", ["notes", "details"])
@pytest.mark.parametrize("declared", [None, ""], ids=["null", "empty"])
def test_declared_null_vs_text_in_zendesk_is_unexpected(field: str, declared: str | None) -> None:
    item = only_item(run(make_spec(**{field: declared}), live_text(field, "Legacy text.\r\n")))
    assert (item.field, item.kind, item.expected, item.actual) == (
        field,
        UNEXPECTED,
        None,
        "Legacy text.",
    )


# --------------------------------------------------------------------------------------------
# an omitted key is never drift


RICH_LIVE = make_live(
    {
        "am_project_id": "99",
        "cmp_id": "abc",
        "cmp_developers": ["someone@x.example"],
        "salesforce_id": "0016100001ZZZZZAAA",
        "support_level": "premium",
    },
    contacts=[LiveContact("anyone@x.example", "Any One", 1)],
    notes="Zendesk notes",
    details="Zendesk details",
)


@pytest.mark.parametrize(
    "live",
    [
        RICH_LIVE,
        make_live(keys=()),
        make_live(keys=(), notes="only notes", contacts=[LiveContact("a@x.example", None)]),
    ],
    ids=["rich", "no-field-keys", "notes-and-contact"],
)
@pytest.mark.parametrize("unlisted", [True, False])
def test_omitted_keys_never_drift(live: LiveOrg, unlisted: bool) -> None:
    result = run(make_spec(), live, make_settings(unlisted_contacts_are_drift=unlisted))
    assert_in_sync(result)
    assert result.suppressed == ()


@pytest.mark.parametrize(
    ("declared", "drifted_field"),
    [
        ({"collaboration_project_id": 1}, "collaboration_project.id"),
        ({"cmp_id": 1, "cmp_developers": ("someone@x.example",)}, "contact_management_project.id"),
        ({"salesforce_id": SF_18}, "salesforce_id"),
        ({"support_contacts": (Contact("anyone@x.example", "Any One"),)}, None),
        ({"notes": "Zendesk notes"}, None),
        ({"details": "Other details"}, "details"),
    ],
)
def test_only_declared_keys_are_compared(
    declared: dict[str, Any], drifted_field: str | None
) -> None:
    result = run(make_spec(**declared), RICH_LIVE)
    assert {i.field for i in result.items} == ({drifted_field} if drifted_field else set())


# --------------------------------------------------------------------------------------------
# contacts


def test_contact_name_differs_is_its_own_kind() -> None:
    spec = make_spec(support_contacts=(Contact("casey.wu@harbor.example", "Casey Wu"),))
    live = make_live(contacts=[LiveContact("Casey.Wu@harbor.example", "Casey Wu-Lin", 7002)])
    item = only_item(run(spec, live))
    assert item == DriftItem(
        "support_contacts",
        NAME_DIFFERS,
        "Casey Wu",
        "Casey Wu-Lin",
        "zendesk",
        "casey.wu@harbor.example",
    )


def test_contact_name_missing_in_zendesk_differs() -> None:
    spec = make_spec(support_contacts=(Contact("casey.wu@harbor.example", "Casey Wu"),))
    live = make_live(contacts=[LiveContact("casey.wu@harbor.example", None, 7002)])
    item = only_item(run(spec, live))
    assert (item.kind, item.expected, item.actual) == (NAME_DIFFERS, "Casey Wu", None)


@pytest.mark.parametrize("zendesk_name", ["Casey Wu-Lin", None, "", "C. W."])
def test_contact_without_declared_name_never_differs(zendesk_name: str | None) -> None:
    spec = make_spec(support_contacts=(Contact("casey.wu@harbor.example"),))
    live = make_live(contacts=[LiveContact("casey.wu@harbor.example", zendesk_name, 7002)])
    assert_in_sync(run(spec, live))


def test_contact_name_whitespace_is_not_drift() -> None:
    spec = make_spec(support_contacts=(Contact("casey.wu@harbor.example", "Casey  Wu "),))
    live = make_live(contacts=[LiveContact("casey.wu@harbor.example", "Casey Wu", 7002)])
    assert_in_sync(run(spec, live))


def test_declared_contact_absent_is_missing_in_zendesk() -> None:
    spec = make_spec(
        support_contacts=(
            Contact("priya.nair@northwind.example", "Priya Nair"),
            Contact("Lena.Fischer@northwind.example", "Lena Fischer"),
        )
    )
    live = make_live(contacts=[LiveContact("priya.nair@northwind.example", "Priya Nair", 1)])
    item = only_item(run(spec, live))
    assert item == DriftItem(
        "support_contacts",
        MISSING,
        "lena.fischer@northwind.example",
        None,
        "repo",
        "lena.fischer@northwind.example",
    )


@pytest.mark.parametrize("unlisted_are_drift", [True, False])
def test_unlisted_contacts_follow_setting(unlisted_are_drift: bool) -> None:
    spec = make_spec(support_contacts=(Contact("priya.nair@northwind.example", "Priya Nair"),))
    live = make_live(
        contacts=[
            LiveContact("priya.nair@northwind.example", "Priya Nair", 1),
            LiveContact("Raj.Mehta@northwind.example", "Raj Mehta", 2),
        ]
    )
    result = run(spec, live, make_settings(unlisted_contacts_are_drift=unlisted_are_drift))
    if unlisted_are_drift:
        assert result.status is OrgStatus.DRIFTED
        assert result.items == (
            DriftItem(
                "support_contacts",
                UNEXPECTED,
                None,
                "raj.mehta@northwind.example",
                "zendesk",
                "raj.mehta@northwind.example",
                name="Raj Mehta",  # Zendesk's name, adopted with the contact
            ),
        )
    else:
        assert_in_sync(result)


def test_null_contacts_make_every_zendesk_contact_unexpected() -> None:
    live = make_live(
        contacts=[LiveContact("b@x.example", "B", 2), LiveContact("A@x.example", "A", 1)]
    )
    result = run(make_spec(support_contacts=None), live)
    assert kinds(result) == [
        ("support_contacts", UNEXPECTED, None, "a@x.example"),
        ("support_contacts", UNEXPECTED, None, "b@x.example"),
    ]


# --------------------------------------------------------------------------------------------
# who is right: settings.source_of_truth


TRUTH_CASES = [
    pytest.param(
        "collaboration_project",
        {"collaboration_project_id": AM_ID},
        {"fields": {"am_project_id": "1"}},
        "repo",
        id="collaboration_project",
    ),
    pytest.param(
        "contact_management_project",
        {"cmp_id": 40012345, "cmp_developers": ()},
        {"fields": {"cmp_id": 1}},
        "repo",
        id="cmp-id",
    ),
    pytest.param(
        "contact_management_project",
        {"cmp_id": 40012345, "cmp_developers": ("a@x.example",)},
        {"fields": {"cmp_id": 40012345}},
        "repo",
        id="cmp-developers",
    ),
    pytest.param("notes", {"notes": "a"}, {"notes": "b"}, "repo", id="notes"),
    pytest.param("details", {"details": "a"}, {"details": "b"}, "repo", id="details"),
    pytest.param(
        "support_contacts_missing_in_zendesk",
        {"support_contacts": (Contact("a@x.example"),)},
        {},
        "repo",
        id="contact-missing",
    ),
    pytest.param(
        "support_contacts_unexpected_in_zendesk",
        {"support_contacts": ()},
        {"contacts": [LiveContact("a@x.example", "A")]},
        "zendesk",
        id="contact-unexpected",
    ),
    pytest.param(
        "support_contacts_name",
        {"support_contacts": (Contact("a@x.example", "A"),)},
        {"contacts": [LiveContact("a@x.example", "B")]},
        "zendesk",
        id="contact-name",
    ),
    pytest.param(
        "salesforce_id",
        {"salesforce_id": SF_18},
        {"fields": {"salesforce_id": "0016100001BPKAAAA5"}},
        "zendesk",
        id="salesforce_id",
    ),
]


@pytest.mark.parametrize(("key", "declared", "zendesk", "default_truth"), TRUTH_CASES)
def test_truth_defaults(
    key: str, declared: dict[str, Any], zendesk: dict[str, Any], default_truth: Truth
) -> None:
    assert DEFAULT_TRUTH[key] == default_truth
    item = only_item(run(make_spec(**declared), make_live(**zendesk)))
    assert item.truth == default_truth


@pytest.mark.parametrize(("key", "declared", "zendesk", "default_truth"), TRUTH_CASES)
def test_truth_follows_settings(
    key: str, declared: dict[str, Any], zendesk: dict[str, Any], default_truth: Truth
) -> None:
    flipped: Truth = "zendesk" if default_truth == "repo" else "repo"
    settings = make_settings(truth={**DEFAULT_TRUTH, key: flipped})
    item = only_item(run(make_spec(**declared), make_live(**zendesk), settings))
    assert item.truth == flipped


def test_truth_missing_from_settings_falls_back_to_defaults() -> None:
    spec = make_spec(
        support_contacts=(Contact("a@x.example", "A"), Contact("b@x.example")),
        notes="x",
        salesforce_id=SF_18,
    )
    live = make_live(
        {"salesforce_id": "0016100001BPKAAAA5"},
        contacts=[LiveContact("a@x.example", "Z"), LiveContact("c@x.example", "C")],
    )
    result = run(spec, live, make_settings(truth={}))
    got = {(i.field, i.kind, i.truth) for i in result.items}
    assert got == {
        ("salesforce_id", CHANGED, "zendesk"),
        ("support_contacts", NAME_DIFFERS, "zendesk"),
        ("support_contacts", MISSING, "repo"),
        ("support_contacts", UNEXPECTED, "zendesk"),
        ("notes", MISSING, "repo"),
    }


# --------------------------------------------------------------------------------------------
# salesforce id


@pytest.mark.parametrize(
    ("declared", "zendesk"),
    [(SF_15, SF_18), (SF_18, SF_15), (SF_18, SF_18), (SF_15, SF_15), (SF_18, f" {SF_18} ")],
    ids=["15-vs-18", "18-vs-15", "18-vs-18", "15-vs-15", "padded"],
)
def test_salesforce_short_id_equals_long_id(declared: str, zendesk: str) -> None:
    assert_in_sync(run(make_spec(salesforce_id=declared), make_live({"salesforce_id": zendesk})))


def test_an_18_character_id_in_other_letter_case_is_the_same_account() -> None:
    """Zendesk or a spreadsheet may change the case of an 18-character id: the account is the
    same, since its last three characters carry the case of the first 15."""
    live = make_live({"salesforce_id": SF_18.lower()})
    assert_in_sync(run(make_spec(salesforce_id=SF_15), live))


def test_a_15_character_id_with_a_wrong_checksum_id_is_another_account() -> None:
    other = SF_15 + "AAA"  # says all letters are lower case: 0016100001nwlgx, another account
    item = only_item(run(make_spec(salesforce_id=SF_15), make_live({"salesforce_id": other})))
    assert (item.kind, item.actual) == (CHANGED, other)


@pytest.mark.parametrize(
    ("declared", "zendesk"),
    [
        (SF_18, "0016100001BPKAAAA5"),
        (SF_15, "0016100001BPKAAAA5"),
        (SF_18, "0016100001BPKAA"),
        (SF_15, SF_15.lower()),
        (SF_18, SF_18[:17]),
    ],
    ids=["18-vs-18", "15-vs-other-18", "18-vs-other-15", "15-case", "17-chars"],
)
def test_salesforce_difference_is_drift_with_zendesk_truth(declared: str, zendesk: str) -> None:
    item = only_item(run(make_spec(salesforce_id=declared), make_live({"salesforce_id": zendesk})))
    assert (item.field, item.kind, item.expected, item.actual, item.truth) == (
        "salesforce_id",
        CHANGED,
        declared,
        zendesk,
        "zendesk",
    )


@pytest.mark.parametrize("zendesk", [None, "", "   "], ids=["null", "empty", "blank"])
def test_salesforce_declared_vs_empty_is_missing(zendesk: str | None) -> None:
    item = only_item(run(make_spec(salesforce_id=SF_18), make_live({"salesforce_id": zendesk})))
    assert (item.kind, item.expected, item.actual, item.truth) == (MISSING, SF_18, None, "zendesk")


@pytest.mark.parametrize("zendesk", [None, "", "   "], ids=["null", "empty", "blank"])
def test_salesforce_null_expects_empty(zendesk: str | None) -> None:
    assert_in_sync(run(make_spec(salesforce_id=None), make_live({"salesforce_id": zendesk})))


def test_salesforce_null_vs_id_is_unexpected() -> None:
    item = only_item(run(make_spec(salesforce_id=None), make_live({"salesforce_id": SF_18})))
    assert (item.kind, item.expected, item.actual, item.truth) == (
        UNEXPECTED,
        None,
        SF_18,
        "zendesk",
    )


# --------------------------------------------------------------------------------------------
# suppressions


UNTIL = dt.date(2027, 6, 30)


def ignore(field: str, value: str | None = None, until: dt.date = UNTIL) -> Suppression:
    return Suppression(field, value, f"accepted drift on {field}", until)


def test_matching_suppression_moves_item_and_org_is_in_sync() -> None:
    spec = make_spec(details="", ignore=(ignore("details"),))
    result = run(spec, make_live(details="Legacy details: see the notes."))
    assert_in_sync(result)
    assert result.suppressed == (
        DriftItem(
            "details",
            UNEXPECTED,
            None,
            "Legacy details: see the notes.",
            "repo",
            None,
            suppressed_by="accepted drift on details",
            suppressed_until="2027-06-30",
        ),
    )


def test_suppression_leaves_other_drift_active() -> None:
    spec = make_spec(details="", notes="Expected", ignore=(ignore("details"),))
    result = run(spec, make_live(details="Legacy", notes="Other"))
    assert result.status is OrgStatus.DRIFTED
    assert [i.field for i in result.items] == ["notes"]
    assert [i.field for i in result.suppressed] == ["details"]


@pytest.mark.parametrize(
    "value", ["ci-bot@bluepeak.example", "CI-Bot@Bluepeak.example", " ci-bot@bluepeak.example "]
)
def test_suppression_with_value_matches_only_that_item(value: str) -> None:
    spec = make_spec(support_contacts=(), ignore=(ignore("support_contacts", value),))
    live = make_live(
        contacts=[
            LiveContact("CI-Bot@bluepeak.example", "Bluepeak CI", 1),
            LiveContact("other@bluepeak.example", "Other", 2),
        ]
    )
    result = run(spec, live)
    assert result.status is OrgStatus.DRIFTED
    assert [i.item for i in result.items] == ["other@bluepeak.example"]
    assert [i.item for i in result.suppressed] == ["ci-bot@bluepeak.example"]
    assert result.suppressed[0].suppressed_until == "2027-06-30"


def test_suppression_with_value_on_developers() -> None:
    spec = make_spec(
        cmp_id=1,
        cmp_developers=("a@x.example",),
        ignore=(ignore("contact_management_project.developers", "B@x.example"),),
    )
    live = make_live({"cmp_id": 1, "cmp_developers": "a@x.example\nb@x.example\nc@x.example"})
    result = run(spec, live)
    assert [i.item for i in result.items] == ["c@x.example"]
    assert [i.item for i in result.suppressed] == ["b@x.example"]


@pytest.mark.parametrize(
    ("today", "applies"),
    [
        (UNTIL - dt.timedelta(days=365), True),
        (UNTIL - dt.timedelta(days=1), True),
        (UNTIL, True),
        (UNTIL + dt.timedelta(days=1), False),
        (UNTIL + dt.timedelta(days=400), False),
    ],
    ids=["long-before", "day-before", "on-until", "day-after", "long-after"],
)
def test_suppression_applies_until_its_date(today: dt.date, applies: bool) -> None:
    spec = make_spec(notes="Expected", ignore=(ignore("notes"),))
    result = run(spec, make_live(notes="Other"), today=today)
    if applies:
        assert_in_sync(result)
        assert [i.field for i in result.suppressed] == ["notes"]
    else:
        assert result.status is OrgStatus.DRIFTED
        assert result.suppressed == ()
        assert kinds(result) == [("notes", CHANGED, "Expected", "Other")]
        assert result.items[0].suppressed_by is None


@pytest.mark.parametrize(
    ("suppressed_field", "declared", "zendesk", "item_field"),
    [
        (
            "collaboration_project",
            {"collaboration_project_id": AM_ID},
            {"am_project_id": "17735786"},
            "collaboration_project.id",
        ),
        (
            "contact_management_project",
            {"cmp_id": 1, "cmp_developers": ()},
            {"cmp_id": 2},
            "contact_management_project.id",
        ),
        (
            "contact_management_project",
            {"cmp_id": 1, "cmp_developers": ()},
            {"cmp_id": 1, "cmp_developers": "a@x.example"},
            "contact_management_project.developers",
        ),
        (
            "collaboration_project.id",
            {"collaboration_project_id": AM_ID},
            {"am_project_id": "1"},
            "collaboration_project.id",
        ),
    ],
)
def test_field_suppression_covers_sub_fields(
    suppressed_field: str, declared: dict[str, Any], zendesk: dict[str, FieldValue], item_field: str
) -> None:
    spec = make_spec(**declared, ignore=(ignore(suppressed_field),))
    result = run(spec, make_live(zendesk))
    assert_in_sync(result)
    assert [i.field for i in result.suppressed] == [item_field]


@pytest.mark.parametrize(
    "rule",
    [
        ignore("details"),
        ignore("contact_management_project"),
        ignore("notes", "Other"),
        ignore("support_contacts", "someone@x.example"),
    ],
    ids=["other-field", "other-parent", "value-on-text", "other-value"],
)
def test_non_matching_suppression_does_not_apply(rule: Suppression) -> None:
    spec = make_spec(
        notes="Expected",
        support_contacts=(),
        ignore=(rule,),
    )
    live = make_live(notes="Other", contacts=[LiveContact("raj@x.example", "Raj")])
    result = run(spec, live)
    assert result.status is OrgStatus.DRIFTED
    assert result.suppressed == ()
    assert {i.field for i in result.items} == {"notes", "support_contacts"}


# --------------------------------------------------------------------------------------------
# org name: information, never drift


def test_org_name_difference_is_info_only() -> None:
    result = run(make_spec(notes="x"), make_live(name="Northwind Logistics GmbH", notes="x"))
    assert_in_sync(result)
    assert len(result.info) == 1
    info = result.info[0]
    assert (info.field, info.expected, info.actual) == (
        "name",
        NAME,
        "Northwind Logistics GmbH",
    )
    assert info.message


def test_org_name_difference_does_not_change_drifted_status() -> None:
    result = run(make_spec(notes="x"), make_live(name="Other", notes="y"))
    assert result.status is OrgStatus.DRIFTED
    assert [i.field for i in result.items] == ["notes"]
    assert [i.field for i in result.info] == ["name"]


@pytest.mark.parametrize("zendesk_name", [NAME, f" {NAME} ", "Northwind  Logistics"])
def test_same_org_name_gives_no_info(zendesk_name: str) -> None:
    result = run(make_spec(), make_live(name=zendesk_name))
    assert result.info == ()


# --------------------------------------------------------------------------------------------
# failures are never drift


@pytest.mark.parametrize(
    ("state", "status"),
    [(FetchState.MISSING, OrgStatus.MISSING), (FetchState.UNKNOWN, OrgStatus.UNKNOWN)],
)
def test_fetch_failure_status(state: FetchState, status: OrgStatus) -> None:
    spec = make_spec(collaboration_project_id=AM_ID, notes="x", support_contacts=())
    result = run(spec, FetchFailure(state, "HTTP 503 after 4 attempts"))
    assert result.status is status
    assert result.error == "HTTP 503 after 4 attempts"
    assert result.items == ()
    assert result.suppressed == ()
    assert result.info == ()


@pytest.mark.parametrize(
    ("declared", "absent_key"),
    [
        ({"collaboration_project_id": AM_ID}, "am_project_id"),
        ({"collaboration_project_id": None}, "am_project_id"),
        ({"cmp_id": 1, "cmp_developers": ()}, "cmp_id"),
        ({"cmp_id": 1, "cmp_developers": ()}, "cmp_developers"),
        ({"salesforce_id": SF_18}, "salesforce_id"),
    ],
)
def test_configured_field_key_absent_is_unknown(declared: dict[str, Any], absent_key: str) -> None:
    keys = [k for k in DEFAULT_FIELD_KEYS.values() if k != absent_key]
    live = make_live(keys=keys, notes="different")
    result = run(make_spec(**declared, notes="x"), live)
    assert result.status is OrgStatus.UNKNOWN
    assert result.error is not None
    assert repr(absent_key) in result.error
    assert result.items == ()
    assert result.suppressed == ()


def test_custom_field_key_is_named_when_absent() -> None:
    settings = make_settings(
        global_fields={**DEFAULT_FIELD_KEYS, "collaboration_project_id": "gitlab_am_project"}
    )
    live = make_live({"am_project_id": str(AM_ID)})
    result = run(make_spec(collaboration_project_id=AM_ID), live, settings)
    assert result.status is OrgStatus.UNKNOWN
    assert result.error is not None
    assert "'gitlab_am_project'" in result.error
    assert result.items == ()


def test_custom_field_key_is_read() -> None:
    settings = make_settings(
        global_fields={**DEFAULT_FIELD_KEYS, "collaboration_project_id": "gitlab_am_project"}
    )
    live = make_live({"gitlab_am_project": "17735786"}, keys=("gitlab_am_project",))
    item = only_item(run(make_spec(collaboration_project_id=AM_ID), live, settings))
    assert (item.kind, item.actual) == (CHANGED, 17735786)


def test_org_drift_carries_spec_context() -> None:
    spec = make_spec(
        csm="mrivera",
        collaboration_project_id=AM_ID,
        collaboration_project_url="https://gitlab.example/am/northwind",
    )
    result = run(spec, make_live({"am_project_id": str(AM_ID)}))
    assert (result.org_id, result.instance, result.file, result.name, result.csm) == (
        ORG_ID,
        "global",
        "config/orgs/northwind.yaml",
        NAME,
        "mrivera",
    )
    assert result.zendesk_url == f"{GLOBAL_URL}/agent/organizations/{ORG_ID}/tickets"
    assert result.collaboration_project_id == AM_ID
    assert result.collaboration_project_url == "https://gitlab.example/am/northwind"


# --------------------------------------------------------------------------------------------
# build_report


def test_build_report_without_live_answer_is_unknown() -> None:
    answered = make_spec(org_id=2)
    silent = make_spec(org_id=1)
    report = build_report([answered, silent], {("global", 2): make_live(org_id=2)}, SETTINGS, TODAY)
    by_id = {o.org_id: o for o in report.orgs}
    assert by_id[2].status is OrgStatus.IN_SYNC
    assert by_id[1].status is OrgStatus.UNKNOWN
    assert by_id[1].error
    assert by_id[1].items == ()


def test_build_report_ignores_live_state_of_another_instance() -> None:
    spec = make_spec(instance="us-gov", org_id=5)
    report = build_report([spec], {("global", 5): make_live(org_id=5)}, SETTINGS, TODAY)
    assert [o.status for o in report.orgs] == [OrgStatus.UNKNOWN]


def test_build_report_sorts_orgs() -> None:
    specs = [
        make_spec(instance="us-gov", org_id=3),
        make_spec(instance="global", org_id=20),
        make_spec(instance="us-gov", org_id=1),
        make_spec(instance="global", org_id=10),
    ]
    live: dict[tuple[str, int], LiveOrg | FetchFailure] = {
        s.key: make_live(instance=s.instance, org_id=s.org_id) for s in specs
    }
    report = build_report(specs, live, SETTINGS, TODAY)
    assert [(o.instance, o.org_id) for o in report.orgs] == [
        ("global", 10),
        ("global", 20),
        ("us-gov", 1),
        ("us-gov", 3),
    ]
    assert report.count(OrgStatus.IN_SYNC) == 4


def test_build_report_passes_meta_and_statuses() -> None:
    specs = [
        make_spec(org_id=1, notes="x"),
        make_spec(org_id=2, notes="x"),
        make_spec(org_id=3),
        make_spec(org_id=4),
    ]
    live: dict[tuple[str, int], LiveOrg | FetchFailure] = {
        ("global", 1): make_live(org_id=1, notes="x"),
        ("global", 2): make_live(org_id=2, notes="y"),
        ("global", 3): FetchFailure(FetchState.MISSING, "404"),
        ("global", 4): FetchFailure(FetchState.UNKNOWN, "timeout"),
    }
    report = build_report(
        specs,
        live,
        SETTINGS,
        TODAY,
        zendesk_requests=7,
        source="snapshot",
        scope="partial",
        shard="1/2",
        generated_at="2026-11-20T06:00:00Z",
    )
    assert [o.status for o in report.orgs] == [
        OrgStatus.IN_SYNC,
        OrgStatus.DRIFTED,
        OrgStatus.MISSING,
        OrgStatus.UNKNOWN,
    ]
    assert (report.zendesk_requests, report.source, report.scope, report.shard) == (
        7,
        "snapshot",
        "partial",
        "1/2",
    )
    assert report.generated_at == "2026-11-20T06:00:00Z"
    assert report.checked_on == "2026-11-20"


def test_build_report_applies_today_to_suppressions() -> None:
    spec = make_spec(notes="a", ignore=(ignore("notes", until=dt.date(2026, 12, 31)),))
    live: dict[tuple[str, int], LiveOrg | FetchFailure] = {spec.key: make_live(notes="b")}
    before = build_report([spec], live, SETTINGS, dt.date(2026, 12, 31))
    after = build_report([spec], live, SETTINGS, dt.date(2027, 1, 1))
    assert before.orgs[0].status is OrgStatus.IN_SYNC
    assert after.orgs[0].status is OrgStatus.DRIFTED


def test_unmanaged_default_is_unmanaged() -> None:
    """The builders rely on OrgSpec's defaults meaning "not declared"."""
    spec = make_spec()
    assert spec.collaboration_project_id is UNMANAGED
    assert spec.support_contacts is UNMANAGED
    assert spec.notes is UNMANAGED
