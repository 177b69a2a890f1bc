"""The dashboard issue: only orgs that need attention, a CSM column and a count per CSM, in-sync
orgs as a count, GitLab references, and a size that stays far from GitLab's limit at scale.

Regenerate the golden file with ``UPDATE_GOLDEN=1 pytest tests/test_dashboard.py``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from checker.domain.models import DriftItem, DriftKind, OrgSpec, OrgStatus
from checker.reconcile.actions import Plan
from checker.reconcile.markers import Marker, with_marker
from checker.reconcile.placeholders import PLACEHOLDER_RE
from checker.reconcile.plan import make_plan
from checker.reconcile.reportset import CombinedReport
from checker.reconcile.state import GitLabState, PlanContext
from checker.render import tracker
from checker.tracker.types import ProjectInfo, TrackedIssue
from tests.reconcile_support import load, org_drift, write_org

GOLDEN = Path(__file__).resolve().parent / "golden"
PROJECT = ProjectInfo(
    7, "support/zendesk-orgs", "https://gitlab.example/support/zendesk-orgs", "main"
)
#: GitLab refuses descriptions over 1,048,576 characters; the dashboard keeps to half of that
LIMIT = 512 * 1024


def _spec(base: OrgSpec, n: int, csm: str | None) -> OrgSpec:
    return OrgSpec(
        path=f"config/orgs/customer-{n:05d}.yaml",
        org_id=360000000000 + n,
        instance="global",
        name=f"Customer Number {n:05d} Holdings",
        csm=csm,
        lines=base.lines,
    )


def _items(n: int) -> tuple[DriftItem, ...]:
    return (
        DriftItem("collaboration_project.id", DriftKind.CHANGED, 1000 + n, 2000 + n, "repo"),
        DriftItem(
            "support_contacts",
            DriftKind.MISSING_IN_ZENDESK,
            f"someone{n}@customer{n}.example",
            None,
            "repo",
            f"someone{n}@customer{n}.example",
        ),
    )


def _dashboard(plan_body: str, urls: dict[str, str]) -> str:
    """The body as reconcile writes it: placeholders filled in with references."""
    return PLACEHOLDER_RE.sub(
        lambda m: tracker.reference(urls.get(m.group()), PROJECT.web_url), plan_body
    )


def _plan_finding_nothing_closed(
    ctx: PlanContext, combined: CombinedReport, specs: list[OrgSpec], state: GitLabState
) -> Plan:
    """Plan as reconcile does: every question the planner asks GitLab (closed issues, issues
    without the label) answered "none", then plan again."""
    first = make_plan(ctx, combined, specs, state)
    return make_plan(ctx, combined, specs, replace(state, history=dict.fromkeys(first.lookups)))


def test_dashboard_at_small_scale(config_dir: Path) -> None:
    for n, csm in ((1, "akim"), (2, "akim"), (3, "dpatel"), (4, "dpatel"), (5, "akim")):
        write_org(config_dir, n, name=f"Customer {n}", csm=csm)
    settings, specs = load(config_dir)
    specs = [*specs[:4], _spec(specs[0], 6, None), _spec(specs[0], 7, None)]
    orgs = {
        s.key: org_drift(s, OrgStatus.DRIFTED, _items(s.org_id))
        if s.org_id in (1, 3, 360000000006)
        else org_drift(s, OrgStatus.IN_SYNC)
        for s in specs
    }
    orgs[specs[3].key] = org_drift(
        specs[3], OrgStatus.UNKNOWN, error="Zendesk answered 503 after 4 attempts"
    )
    orgs[specs[5].key] = org_drift(specs[5], OrgStatus.MISSING, error="404 RecordNotFound")
    existing = TrackedIssue(
        iid=12,
        title="Zendesk drift: Customer 1 (org 1)",
        description=with_marker(Marker("org", ("global", 1), "old"), "old body\n"),
        state="opened",
        web_url=f"{PROJECT.web_url}/-/issues/12",
        labels=("zendesk-drift",),
    )
    plan = _plan_finding_nothing_closed(
        PlanContext(settings, tracker.Links(PROJECT.web_url, "main")),
        CombinedReport(orgs, complete=True, checked_on="2026-01-15"),
        specs,
        GitLabState(PROJECT, issues=(existing,)),
    )
    assert plan.dashboard is not None and plan.dashboard.body is not None
    created = {
        a.provides: f"{PROJECT.web_url}/-/issues/{20 + i}"
        for i, a in enumerate(plan.actions)
        if a.provides
    }
    body = _dashboard(plan.dashboard.body, created)
    path = GOLDEN / "dashboard-small.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(body, encoding="utf-8")
    assert body == path.read_text(encoding="utf-8")
    # in-sync orgs only counted, the org without a CSM grouped last, references not URLs
    assert "Customer 2" not in body and "Customer 5" not in body
    assert "| *no CSM* | Customer Number 00006 Holdings |" in body
    assert "| #12 |" in body and "/-/issues/" not in body


def test_dashboard_stays_under_512_kib_at_20000_orgs_with_2000_drifting(
    config_dir: Path,
) -> None:
    write_org(config_dir, 1)
    settings, (base,) = load(config_dir)
    csms = [f"csm-{i:02d}" for i in range(40)]
    specs = [_spec(base, n, None if n % 7 == 0 else csms[n % 40]) for n in range(20_000)]
    orgs = {}
    for n, s in enumerate(specs):
        if n % 10 == 1:  # 2,000 drifting
            orgs[s.key] = org_drift(s, OrgStatus.DRIFTED, _items(n))
        else:
            orgs[s.key] = org_drift(s, OrgStatus.IN_SYNC)
    plan = _plan_finding_nothing_closed(
        PlanContext(settings, tracker.Links(PROJECT.web_url, "main")),
        CombinedReport(orgs, complete=True, checked_on="2026-01-15"),
        specs,
        GitLabState(PROJECT),
    )
    assert plan.dashboard is not None and plan.dashboard.body is not None
    created = {
        a.provides: f"{PROJECT.web_url}/-/issues/{100_000 + i}"
        for i, a in enumerate(plan.actions)
        if a.provides
    }
    assert len(created) == 2_000
    body = _dashboard(plan.dashboard.body, created)
    size = len(with_marker(plan.dashboard.marker or Marker("dashboard"), body).encode())
    assert size < LIMIT, f"{size:,} bytes"
    print(f"dashboard at 20,000 orgs, 2,000 drifting: {size:,} bytes")
    listed = body.split("### Orgs that need attention", 1)[1]
    assert sum(line.startswith("| ") for line in listed.splitlines()) == 2 + 2_000
    assert "| *no CSM* | Customer Number 00021 Holdings |" in listed
    assert "20,000 orgs: 2,000 drifted, 0 missing, 0 could not be checked, 18,000 in sync" in body


def test_a_dashboard_too_large_for_gitlab_says_how_many_rows_are_left_out() -> None:
    rows = [
        tracker.DashboardRow(
            name=f"Customer {n}",
            instance="global",
            org_id=n,
            csm="akim",
            status=tracker.Inert("**drifted** (1 item)"),
            issue=tracker.Inert(f"#{n}"),
            mr=tracker.Inert(""),
            notes=tracker.Inert("x" * 400),
        )
        for n in range(3_000)
    ]
    body = tracker.dashboard_body(rows, "3,000 orgs: 3,000 drifted", "2026-01-15")
    assert len(body) <= tracker.DASHBOARD_CHARS
    left_out = 3_000 - body.count("| `@akim` | Customer ")
    assert left_out > 0 and f"… and {left_out} more orgs that need attention" in body
