"""The drift engine: a pure function of what a file declares and what Zendesk holds.

No network, no clock (``today`` is passed in), no settings file: everything it needs arrives as
values, so every comparison rule is tested without a server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from checker.domain.models import (
    TEXT_FIELDS,
    UNMANAGED,
    DriftItem,
    DriftKind,
    DriftReport,
    FetchFailure,
    FetchState,
    InfoItem,
    LiveOrg,
    OrgDrift,
    OrgSpec,
    OrgStatus,
    Scalar,
    Truth,
)
from checker.domain.normalise import (
    emails_of,
    norm_email,
    norm_id,
    norm_name,
    norm_salesforce,
    norm_text,
)
from checker.domain.settings import Instance, Settings


class _Collector:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.items: list[DriftItem] = []

    def add(
        self,
        field: str,
        kind: DriftKind,
        expected: Scalar,
        actual: Scalar,
        truth: Truth,
        item: str | None = None,
        name: str | None = None,
    ) -> None:
        self.items.append(DriftItem(field, kind, expected, actual, truth, item, name=name))


def _compare_scalar(
    c: _Collector, field: str, truth: Truth, expected: Scalar, actual: Scalar
) -> None:
    if expected == actual:
        return
    if expected is None:
        c.add(field, DriftKind.UNEXPECTED_IN_ZENDESK, None, actual, truth)
    elif actual is None:
        c.add(field, DriftKind.MISSING_IN_ZENDESK, expected, None, truth)
    else:
        c.add(field, DriftKind.CHANGED, expected, actual, truth)


def _missing_field_keys(spec: OrgSpec, live: LiveOrg, instance: Instance) -> list[str]:
    """Configured field keys the org's data does not carry at all: a setup error, not drift."""
    wanted: list[str] = []
    if spec.salesforce_id is not UNMANAGED:
        wanted.append(instance.field_key("salesforce_id"))
    if spec.collaboration_project_id is not UNMANAGED:
        wanted.append(instance.field_key("collaboration_project_id"))
    if spec.cmp_id is not UNMANAGED:
        wanted.append(instance.field_key("contact_management_project_id"))
    if spec.cmp_developers is not UNMANAGED:
        wanted.append(instance.field_key("contact_management_project_developers"))
    return [k for k in wanted if not live.has_field(k)]


def compare(
    spec: OrgSpec,
    live: LiveOrg | FetchFailure,
    settings: Settings,
    today: dt.date,
) -> OrgDrift:
    """One org's drift: its status and the differences, suppressions applied."""
    instance = settings.instance(spec.instance)
    base = {
        "org_id": spec.org_id,
        "instance": spec.instance,
        "file": spec.path,
        "name": spec.name,
        "csm": spec.csm,
        "zendesk_url": instance.agent_org_url(spec.org_id),
        "collaboration_project_url": spec.collaboration_project_url,
        "collaboration_project_id": (
            spec.collaboration_project_id
            if isinstance(spec.collaboration_project_id, int)
            else None
        ),
    }
    if isinstance(live, FetchFailure):
        status = OrgStatus.MISSING if live.state is FetchState.MISSING else OrgStatus.UNKNOWN
        return OrgDrift(status=status, error=live.message, **base)  # type: ignore[arg-type]
    unreadable = _unreadable_fields(spec, live, instance)
    if unreadable is not None:
        return OrgDrift(status=OrgStatus.UNKNOWN, error=unreadable, **base)  # type: ignore[arg-type]
    c = _Collector(settings)
    _compare_ids(c, spec, live, instance, settings.truth)
    _compare_developers(c, spec, live, instance, settings.truth)
    info: list[InfoItem] = []
    if spec.support_contacts is not UNMANAGED:
        info.extend(_compare_contacts(c, spec, live))
    for field in TEXT_FIELDS:
        declared = getattr(spec, field)
        if declared is not UNMANAGED:
            _compare_scalar(
                c,
                field,
                settings.truth(field),
                norm_text(declared),
                norm_text(getattr(live, field)),
            )
    if norm_name(spec.name) != norm_name(live.name):
        info.append(
            InfoItem(
                "name",
                spec.name,
                live.name,
                "the org is named differently in Zendesk (information only, not drift)",
            )
        )
    active, suppressed = _apply_suppressions(c.items, spec, today)
    return OrgDrift(
        status=OrgStatus.DRIFTED if active else OrgStatus.IN_SYNC,
        items=tuple(active),
        suppressed=tuple(suppressed),
        info=tuple(info),
        **base,  # type: ignore[arg-type]
    )


def _unreadable_fields(spec: OrgSpec, live: LiveOrg, instance: Instance) -> str | None:
    """Why the org cannot be compared (organization fields the instance lacks), or None."""
    absent = _missing_field_keys(spec, live, instance)
    if not absent:
        return None
    return (
        f"Zendesk instance {spec.instance!r} has no organization field "
        + ", ".join(repr(k) for k in absent)
        + "; check the field keys in checker.yaml"
    )


def _compare_ids(
    c: _Collector,
    spec: OrgSpec,
    live: LiveOrg,
    instance: Instance,
    truth: Callable[[str], Truth],
) -> None:
    """The Salesforce id and the two project ids, each when the file manages it."""
    if spec.salesforce_id is not UNMANAGED:
        exp, act = norm_salesforce(
            spec.salesforce_id, live.field(instance.field_key("salesforce_id"))
        )
        _compare_scalar(c, "salesforce_id", truth("salesforce_id"), exp, act)
    if spec.collaboration_project_id is not UNMANAGED:
        _compare_scalar(
            c,
            "collaboration_project.id",
            truth("collaboration_project"),
            spec.collaboration_project_id,
            norm_id(live.field(instance.field_key("collaboration_project_id"))),
        )
    if spec.cmp_id is not UNMANAGED:
        _compare_scalar(
            c,
            "contact_management_project.id",
            truth("contact_management_project"),
            spec.cmp_id,
            norm_id(live.field(instance.field_key("contact_management_project_id"))),
        )


def _compare_developers(
    c: _Collector,
    spec: OrgSpec,
    live: LiveOrg,
    instance: Instance,
    truth: Callable[[str], Truth],
) -> None:
    """The contact management project's developers: each one missing, then each unexpected."""
    if spec.cmp_developers is UNMANAGED:
        return
    expected = [norm_email(e) for e in spec.cmp_developers or ()]
    actual = emails_of(live.field(instance.field_key("contact_management_project_developers")))
    t = truth("contact_management_project")
    for e in expected:
        if e not in actual:
            c.add(
                "contact_management_project.developers",
                DriftKind.MISSING_IN_ZENDESK,
                e,
                None,
                t,
                e,
            )
    for e in actual:
        if e not in expected:
            c.add(
                "contact_management_project.developers",
                DriftKind.UNEXPECTED_IN_ZENDESK,
                None,
                e,
                t,
                e,
            )


def _compare_contacts(c: _Collector, spec: OrgSpec, live: LiveOrg) -> list[InfoItem]:
    """Declared contacts against the org's members. Only members whose role counts as a contact
    (``contact_roles``: end-users by default) can be unexpected; staff are information. A
    declared email is found whatever the member's role: the file chose to list them.

    Long by reason: one pass pairing declared contacts with members (typos, names, suspended,
    unexpected) in the order the items are reported."""
    declared = {norm_email(x.email): x for x in spec.support_contacts or ()}  # type: ignore[union-attr]
    roles = set(c.settings.contact_roles)
    present = {
        norm_email(x.email): x
        for x in live.contacts
        if x.email and (x.role in roles or norm_email(x.email) in declared)
    }
    truth = c.settings.truth
    for email, contact in declared.items():
        if email not in present:
            c.add(
                "support_contacts",
                DriftKind.MISSING_IN_ZENDESK,
                email,
                None,
                truth("support_contacts_missing_in_zendesk"),
                email,
            )
            continue
        if present[email].suspended:
            # Associated but unable to open tickets: support ops must reactivate the user.
            c.add(
                "support_contacts", DriftKind.CONTACT_SUSPENDED, email, "suspended", "repo", email
            )
        want, have = norm_name(contact.name), norm_name(present[email].name)
        if want is not None and want != have:
            c.add(
                "support_contacts",
                DriftKind.CONTACT_NAME_DIFFERS,
                want,
                have,
                truth("support_contacts_name"),
                email,
            )
    info = [
        InfoItem(
            "support_contacts",
            None,
            norm_email(x.email) if x.email.strip() else f"user:{x.user_id}",
            f"a staff member ({x.role}) of the org in Zendesk, not a support contact "
            "(information only)",
        )
        for x in live.contacts
        if x.role not in roles and norm_email(x.email) not in declared
    ]
    if c.settings.unlisted_contacts_are_drift:
        for email in sorted(present):
            if email not in declared:
                c.add(
                    "support_contacts",
                    DriftKind.UNEXPECTED_IN_ZENDESK,
                    None,
                    email,
                    truth("support_contacts_unexpected_in_zendesk"),
                    email,
                    name=norm_name(present[email].name),
                )
        # A member without an email (created from a phone call, say) cannot be listed in a
        # file, so it cannot be adopted either: Zendesk needs the change, or an ignore entry
        # ``value: user:<id>`` accepts it (import writes one).
        for contact in live.contacts:
            if not contact.email.strip() and contact.role in roles:
                user = f"user:{contact.user_id}" if contact.user_id is not None else "user:?"
                c.add(
                    "support_contacts",
                    DriftKind.UNEXPECTED_IN_ZENDESK,
                    None,
                    f"{norm_name(contact.name) or '(no name)'} (no email, Zendesk {user})",
                    "repo",
                    user,
                )
    return info


def _apply_suppressions(
    items: Iterable[DriftItem], spec: OrgSpec, today: dt.date
) -> tuple[list[DriftItem], list[DriftItem]]:
    active: list[DriftItem] = []
    suppressed: list[DriftItem] = []
    rules = [s for s in spec.ignore if s.active(today)]
    for item in items:
        rule = next((s for s in rules if s.covers(item.field, item.item)), None)
        if rule is None:
            active.append(item)
        else:
            suppressed.append(
                DriftItem(
                    item.field,
                    item.kind,
                    item.expected,
                    item.actual,
                    item.truth,
                    item.item,
                    suppressed_by=rule.reason,
                    suppressed_until=rule.until.isoformat(),
                )
            )
    return active, suppressed


def build_report(
    specs: Sequence[OrgSpec],
    live: dict[tuple[str, int], LiveOrg | FetchFailure],
    settings: Settings,
    today: dt.date,
    **meta: object,
) -> DriftReport:
    """Compare every spec; an org without a live answer is unknown, never in sync."""
    orgs = []
    for spec in sorted(specs, key=lambda s: (s.instance, s.org_id)):
        state = live.get(spec.key) or FetchFailure(
            FetchState.UNKNOWN, "no answer from Zendesk was recorded for this org"
        )
        orgs.append(compare(spec, state, settings, today))
    return DriftReport(orgs=tuple(orgs), checked_on=today.isoformat(), **meta)  # type: ignore[arg-type]
