"""Drift reports for the rendering tests: every kind of item and status, in a few orgs."""

from __future__ import annotations

from checker.domain.models import DriftItem, DriftKind, DriftReport, InfoItem, OrgDrift, OrgStatus

ZD = "https://support.zendesk.example/agent/organizations/{}/tickets"

BLUEPEAK_ITEMS = (
    DriftItem("collaboration_project.id", DriftKind.CHANGED, 28411902, 28411900, "repo"),
    DriftItem(
        "notes",
        DriftKind.CHANGED,
        "GitLab.com Ultimate, 250 seats.\nEscalations: ask the CSM first.\nRenewal in March.",
        "GitLab.com Ultimate, 250 seats.\nEscalations:  ask the CSM first.\t\nRenewal in May.",
        "repo",
    ),
    DriftItem(
        "support_contacts",
        DriftKind.MISSING_IN_ZENDESK,
        "jordan.lee@bluepeak.exmaple",
        None,
        "repo",
        "jordan.lee@bluepeak.exmaple",
    ),
    DriftItem(
        "support_contacts",
        DriftKind.MISSING_IN_ZENDESK,
        "noor.haddad@bluepeak.example",
        None,
        "repo",
        "noor.haddad@bluepeak.example",
    ),
    DriftItem(
        "support_contacts",
        DriftKind.UNEXPECTED_IN_ZENDESK,
        None,
        "jordan.lee@bluepeak.example",
        "zendesk",
        "jordan.lee@bluepeak.example",
    ),
    DriftItem(
        "support_contacts",
        DriftKind.UNEXPECTED_IN_ZENDESK,
        None,
        "Front Desk (no email, Zendesk user:90817)",
        "repo",
        "user:90817",
    ),
    DriftItem(
        "support_contacts",
        DriftKind.CONTACT_NAME_DIFFERS,
        "Sam Ortiz",
        "Samuel Ortiz",
        "zendesk",
        "sam.ortiz@bluepeak.example",
    ),
)

BLUEPEAK = OrgDrift(
    org_id=360001234502,
    instance="global",
    file="config/orgs/bluepeak-analytics.yaml",
    name="Bluepeak Analytics",
    status=OrgStatus.DRIFTED,
    items=BLUEPEAK_ITEMS,
    suppressed=(
        DriftItem(
            "details",
            DriftKind.UNEXPECTED_IN_ZENDESK,
            None,
            "Legacy details",
            "repo",
            suppressed_by="Support ops is migrating details",
            suppressed_until="2027-03-31",
        ),
    ),
    info=(
        InfoItem(
            "name", "Bluepeak Analytics", "Bluepeak Analytics Inc.", "named differently in Zendesk"
        ),
    ),
    csm="akim",
    zendesk_url=ZD.format(360001234502),
    collaboration_project_url="https://gitlab.example/account-management/bluepeak-analytics",
    collaboration_project_id=28411902,
)

HARBOR = OrgDrift(
    org_id=9100042,
    instance="us-gov",
    file="config/orgs/harbor-federal.yaml",
    name="Harbor Federal Services",
    status=OrgStatus.UNKNOWN,
    error=(
        "Zendesk answered 503 Service Unavailable for /api/v2/organizations/9100042/users "
        "after 4 attempts over 38 s; nothing is claimed about this org"
    ),
    csm="dpatel",
)

GONE = OrgDrift(
    org_id=360009999001,
    instance="global",
    file="config/orgs/gone-corp.yaml",
    name="Gone Corp",
    status=OrgStatus.MISSING,
    error="Zendesk answered 404 RecordNotFound",
)


def in_sync(n: int) -> OrgDrift:
    return OrgDrift(
        org_id=360001230000 + n,
        instance="global",
        file=f"config/orgs/org-{n}.yaml",
        name=f"In Sync Org {n}",
        status=OrgStatus.IN_SYNC,
        csm="akim",
    )


REPORT = DriftReport(
    orgs=(BLUEPEAK, HARBOR, GONE, in_sync(1), in_sync(2)),
    zendesk_requests=7,
    checked_on="2026-11-20",
)
