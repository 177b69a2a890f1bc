"""The reconcile run over the in-memory tracker port: fast checks of the run's own logic
(planning once the lookups are answered, the writers, the dry-run writer). The HTTP end-to-end
tests (test_reconcile*.py, through python-gitlab against the fake server) stay the proof."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.domain.models import OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.reconcile.actions import OrgPlan, Plan
from checker.reconcile.execute import DryRunWriter, GitLabWriter, execute
from checker.reconcile.markers import Marker
from checker.reconcile.run import ReconcileOutcome, run_reconcile
from tests.reconcile_support import am_id, load, org_drift, report, write_org
from tests.tracker_fake import MemoryGitLab


@pytest.fixture
def loaded(config_dir: Path) -> tuple[Settings, list[OrgSpec]]:
    for org_id in (101, 102):
        write_org(config_dir, org_id)
    return load(config_dir)


def _run(
    port: MemoryGitLab, loaded: tuple[Settings, list[OrgSpec]], *, dry_run: bool = False
) -> ReconcileOutcome:
    settings, specs = loaded
    s101, s102 = specs
    drift = report([org_drift(s101, items=[am_id(s101)]), org_drift(s102, OrgStatus.IN_SYNC)])
    return run_reconcile(
        settings, [drift], specs, port, dry_run=dry_run, out=lambda _l: None,
        environ={}, read_file=lambda _p: None, sleep=lambda _s: None,
    )  # fmt: skip


def test_dry_run_goes_through_the_dry_run_writer_and_writes_nothing(
    loaded: tuple[Settings, list[OrgSpec]],
) -> None:
    port = MemoryGitLab()
    outcome = _run(port, loaded, dry_run=True)
    assert outcome.results and {r.status for r in outcome.results} == {"dry-run"}
    assert port.writes == [] and port.issues == {}


def test_a_run_creates_the_drift_issue_and_the_dashboard_and_a_rerun_writes_nothing(
    loaded: tuple[Settings, list[OrgSpec]],
) -> None:
    port = MemoryGitLab()
    outcome = _run(port, loaded)
    assert not outcome.incomplete and {r.status for r in outcome.results} == {"done"}
    kinds = sorted(m.kind for i in port.issues.values() if (m := Marker.parse(i.description)))
    assert kinds == ["dashboard", "org"]
    assert "lock" not in " ".join(port.branches)  # the lock is released
    port.writes.clear()
    again = _run(port, loaded)
    assert again.results == () and port.writes == []


def test_the_same_plan_through_both_writers_differs_only_in_what_is_written(
    loaded: tuple[Settings, list[OrgSpec]],
) -> None:
    dry_port, real_port = MemoryGitLab(), MemoryGitLab()
    planned = _run(dry_port, loaded, dry_run=True)
    actions = tuple(r.action for r in planned.results)
    plan = Plan((OrgPlan("x", "", actions),), None)
    dry, _ = execute(plan, DryRunWriter(), lambda _l: None)
    done, failures = execute(plan, GitLabWriter(real_port, real_port.info()), lambda _l: None)
    assert [r.action for r in dry] == [r.action for r in done] == list(actions)
    assert {r.status for r in dry} == {"dry-run"} and {r.status for r in done} == {"done"}
    assert failures == [] and dry_port.writes == [] and real_port.writes
