"""The issue body, note, merge request description and dashboard against golden files.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_golden_reconcile.py``
and review the diff of ``tests/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checker.domain.models import DriftItem, DriftKind, InfoItem, OrgDrift, OrgStatus
from checker.reconcile.notes import change_note as _change_note
from checker.render import tracker
from checker.render.inert import inline

GOLDEN = Path(__file__).resolve().parent / "golden"
LINKS = tracker.Links("https://gitlab.example/support/zendesk-orgs", "main")
ZD = "https://support.zendesk.example/agent/organizations/360001234502/tickets"

ITEMS = (
    DriftItem("collaboration_project.id", DriftKind.CHANGED, 28411902, 1234, "repo"),
    DriftItem("notes", DriftKind.CHANGED, "GitLab.com Ultimate.\n/close\n@all", "Old note", "repo"),
    DriftItem(
        "support_contacts",
        DriftKind.MISSING_IN_ZENDESK,
        "jordan.lee@bluepeak.example",
        None,
        "repo",
        "jordan.lee@bluepeak.example",
    ),
    DriftItem(
        "support_contacts",
        DriftKind.UNEXPECTED_IN_ZENDESK,
        None,
        "ci-bot@bluepeak.example",
        "zendesk",
        "ci-bot@bluepeak.example",
    ),
    DriftItem(
        "salesforce_id", DriftKind.CHANGED, "0016100001BPKAAAA5", "0016100001BPKAAAZZ", "zendesk"
    ),
)
ORG = OrgDrift(
    org_id=360001234502,
    instance="global",
    file="config/orgs/bluepeak-analytics.yaml",
    name="Bluepeak <Analytics> @all",
    status=OrgStatus.DRIFTED,
    items=ITEMS,
    suppressed=(
        DriftItem(
            "details",
            DriftKind.CHANGED,
            "",
            "x",
            "repo",
            suppressed_by="Support ops is migrating details | see #4312",
            suppressed_until="2027-03-31",
        ),
    ),
    info=(InfoItem("name", "Bluepeak Analytics", "Bluepeak", "named differently in Zendesk"),),
    csm="akim",
    zendesk_url=ZD,
    collaboration_project_url="https://gitlab.example/account-management/bluepeak-analytics",
    collaboration_project_id=28411902,
)
ORG_LINKS = tracker.OrgLinks(
    zendesk_url=ZD,
    file_url=LINKS.file(ORG.file),
    ops_url="https://gitlab.example/support-ops/organizations/-/issues/17",
    ops_project="support-ops/organizations",
    ops_new_issue_url="https://gitlab.example/support-ops/organizations/-/issues/new",
    mr_url="https://gitlab.example/support/zendesk-orgs/-/merge_requests?source_branch=checker/adopt/global-360001234502",
    mr_branch="checker/adopt/global-360001234502",
    previous_url="https://gitlab.example/support/zendesk-orgs/-/issues/3",
)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")
    assert not [line for line in text.split("\n") if line.startswith("/")]


def test_issue_body() -> None:
    check(
        "issue.md",
        tracker.issue_body(ORG, LINKS, ORG_LINKS, {"collaboration_project": 9, "notes": 17}),
    )


def test_missing_org_issue_body() -> None:
    missing = OrgDrift(
        org_id=5,
        instance="us-gov",
        file="config/orgs/gone.yaml",
        name="Gone Inc",
        status=OrgStatus.MISSING,
        error="404 RecordNotFound",
        csm=None,
    )
    links = tracker.OrgLinks(
        zendesk_url="https://fed.zendesk.example/agent/organizations/5/tickets",
        file_url=LINKS.file(missing.file),
    )
    check("issue-missing.md", tracker.issue_body(missing, LINKS, links, {}))


def test_support_ops_issue_body() -> None:
    check("support-ops.md", tracker.support_ops_body(ORG, ORG_LINKS))


def test_note() -> None:
    from dataclasses import replace

    from checker.reconcile.markers import item_fingerprint

    earlier = (
        replace(ITEMS[0], actual=99),
        ITEMS[2],
        DriftItem("details", DriftKind.CHANGED, "a", "b", "repo"),
    )
    before = tuple(item_fingerprint(i) for i in earlier)
    check("note-changed.md", _change_note(before, ITEMS))
    check("note-resolved.md", tracker.note("resolved", file=ORG.file, date="2026-01-15"))


def test_merge_request_description() -> None:
    applied = ITEMS[3:]
    skipped = (
        (
            DriftItem("collaboration_project.id", DriftKind.CHANGED, 1, "abc", "zendesk"),
            "Zendesk holds 'abc', which is not a project id",
        ),
    )
    check(
        "merge-request.md",
        tracker.mr_body(
            ORG,
            ORG_LINKS,
            applied,
            skipped,
            "https://gitlab.example/support/zendesk-orgs/-/issues/12",
        ),
    )


def test_dashboard() -> None:
    project = "https://gitlab.example/support/zendesk-orgs"
    rows = [
        tracker.DashboardRow(
            name=ORG.name,
            instance="global",
            org_id=ORG.org_id,
            csm="akim",
            status=tracker.status_cell(ORG),
            issue=tracker.reference(f"{project}/-/issues/12", project),
            mr=tracker.Inert(
                tracker.reference(f"{project}/-/merge_requests/4", project) + " closed by a person"
            ),
            notes=tracker.notes_cell(ORG),
        ),
        tracker.DashboardRow(
            name="Northwind | Logistics",
            instance="global",
            org_id=360001234501,
            status=tracker.Inert("could not be checked"),
            issue=tracker.Inert(""),
            mr=tracker.Inert(""),
            notes=tracker.Inert(inline("Zendesk answered 503 <html>")),
        ),
    ]
    per_csm = [tracker.CsmCount("akim", drifted=1, in_sync=3), tracker.CsmCount(None, unknown=1)]
    check(
        "dashboard.md",
        tracker.dashboard_body(
            rows, "5 orgs: 1 drifted, 1 could not be checked, 3 in sync", "2026-01-15", per_csm, 3
        ),
    )


def test_templates_refuse_raw_outside_text() -> None:
    with pytest.raises(TypeError, match="not Inert text"):
        tracker.render(
            "note.md.j2", reason="changed", file=None, date=None, new=(), changed=["raw"], gone=()
        )
    with pytest.raises(TypeError, match="inert filter"):
        tracker._finalize("raw text")
