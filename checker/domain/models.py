"""The values that flow between the product's modules: frozen, typed, free of vendor objects."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Literal, TypeAlias

from checker.domain.emails import canonical

Severity: TypeAlias = Literal["error", "warning"]
Truth: TypeAlias = Literal["repo", "zendesk"]
Scalar: TypeAlias = str | int | float | bool | None


class _Unmanaged(enum.Enum):
    """A key the file leaves out: not managed, never drift."""

    UNMANAGED = "unmanaged"

    def __repr__(self) -> str:
        return "UNMANAGED"


UNMANAGED = _Unmanaged.UNMANAGED
Unmanaged: TypeAlias = Literal[_Unmanaged.UNMANAGED]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a file: ``path:line:column: rule: message``."""

    path: str
    line: int
    column: int
    rule: str
    message: str
    severity: Severity = "error"
    #: where in the document it is (dotted), for stable Code Quality fingerprints
    locator: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)


@dataclass(frozen=True, slots=True)
class Contact:
    email: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    """An ``ignore:`` entry: drift on ``field`` (optionally one ``value`` of it) is accepted."""

    field: str
    value: str | None
    reason: str
    until: dt.date
    line: int = 0

    def active(self, today: dt.date) -> bool:
        return today <= self.until

    def covers(self, item_field: str, item_value: str | None) -> bool:
        same_field = item_field == self.field or item_field.startswith(self.field + ".")
        if not same_field:
            return False
        if self.value is None:
            return True
        # emails compare in one form (case, and Unicode or punycode domains: checker.emails)
        return item_value is not None and canonical(item_value) == canonical(self.value)


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """What one org file declares. ``UNMANAGED`` marks keys the file leaves out."""

    path: str
    org_id: int
    instance: str
    name: str
    salesforce_id: str | Unmanaged | None = UNMANAGED
    csm: str | None = None
    collaboration_project_id: int | Unmanaged | None = UNMANAGED
    collaboration_project_url: str | None = None
    cmp_id: int | Unmanaged | None = UNMANAGED
    cmp_developers: tuple[str, ...] | Unmanaged | None = UNMANAGED
    support_contacts: tuple[Contact, ...] | Unmanaged | None = UNMANAGED
    notes: str | Unmanaged | None = UNMANAGED
    details: str | Unmanaged | None = UNMANAGED
    ignore: tuple[Suppression, ...] = ()
    #: line of each declared field, for links into the file
    lines: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.instance, self.org_id)

    def line_of(self, field_name: str) -> int | None:
        for name, line in self.lines:
            if name == field_name:
                return line
        return None


@dataclass(frozen=True, slots=True)
class LiveContact:
    """A user of the org in Zendesk: a support contact only when its role is one the settings
    count as contacts (``end-user`` by default); agents and admins are staff."""

    email: str
    name: str | None
    user_id: int | None = None
    role: str = "end-user"
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class LiveOrg:
    """What Zendesk holds for one org, in our words. ``fields`` are custom field values by key."""

    instance: str
    org_id: int
    name: str
    notes: str | None
    details: str | None
    fields: tuple[tuple[str, Scalar | list[Scalar]], ...]
    contacts: tuple[LiveContact, ...]

    def field(self, key: str) -> Scalar | list[Scalar]:
        for k, v in self.fields:
            if k == key:
                return v
        return None

    def has_field(self, key: str) -> bool:
        return any(k == key for k, _ in self.fields)


class FetchState(enum.StrEnum):
    MISSING = "missing"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FetchFailure:
    """Why an org's live state is not known: it does not exist (404), or it could not be read."""

    state: FetchState
    message: str


class OrgStatus(enum.StrEnum):
    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    UNKNOWN = "unknown"


#: the dashboard's order of an org's states, most urgent first: the four :class:`OrgStatus`
#: values and the dashboard's own two (``not_checked``: declared but in no report;
#: ``suppressed``: in sync thanks to suppressions)
STATUS_ORDER: dict[str, int] = {
    "missing": 0,
    "drifted": 1,
    "unknown": 2,
    "not_checked": 3,
    "suppressed": 4,
    "in_sync": 5,
}


class DriftKind(enum.StrEnum):
    CHANGED = "changed"
    MISSING_IN_ZENDESK = "missing_in_zendesk"
    UNEXPECTED_IN_ZENDESK = "unexpected_in_zendesk"
    CONTACT_NAME_DIFFERS = "contact_name_differs"
    #: a declared contact whose Zendesk user is suspended: it cannot open tickets
    CONTACT_SUSPENDED = "contact_suspended"


#: the free-text fields: compared as text, their differences shown line by line
TEXT_FIELDS: tuple[str, ...] = ("notes", "details")


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One difference: the file expects ``expected``, Zendesk holds ``actual``."""

    field: str
    kind: DriftKind
    expected: Scalar
    actual: Scalar
    #: who is right, from settings: "repo" asks support ops to change Zendesk,
    #: "zendesk" proposes a merge request that changes the file
    truth: Truth = "repo"
    #: the list item this is about (an email), for suppressions and contact items
    item: str | None = None
    suppressed_by: str | None = None
    suppressed_until: str | None = None
    #: a contact Zendesk has and the file does not list: its name in Zendesk (for adoption)
    name: str | None = None

    @property
    def zendesk_should_change(self) -> bool:
        """The org file is the truth for this item: the fix is in Zendesk (else in the file)."""
        return self.truth == "repo"


@dataclass(frozen=True, slots=True)
class InfoItem:
    field: str
    expected: Scalar
    actual: Scalar
    message: str


@dataclass(frozen=True, slots=True)
class OrgDrift:
    org_id: int
    instance: str
    file: str
    name: str
    status: OrgStatus
    items: tuple[DriftItem, ...] = ()
    suppressed: tuple[DriftItem, ...] = ()
    info: tuple[InfoItem, ...] = ()
    error: str | None = None
    csm: str | None = None
    zendesk_url: str | None = None
    collaboration_project_url: str | None = None
    collaboration_project_id: int | None = None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What produced a report: a hash of the settings that decide drift, and the hash of each
    checked org file by org key (``instance/org_id``). See :mod:`checker.reportset`."""

    settings: str
    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DriftReport:
    orgs: tuple[OrgDrift, ...]
    zendesk_requests: int = 0
    #: 429 answers received (each one paused the whole run)
    zendesk_rate_limited: int = 0
    source: str = "live"
    #: "full" when every declared org (of the shard) was checked, "partial" for a selection
    scope: str = "full"
    shard: str | None = None
    generated_at: str = ""
    checked_on: str = ""
    #: None for a report made in memory by this run (it is fresh by construction)
    fingerprint: Fingerprint | None = None

    def count(self, status: OrgStatus) -> int:
        return sum(1 for o in self.orgs if o.status is status)
