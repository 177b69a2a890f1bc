"""Reports are evidence only when they hold together: forged, contradictory and stale reports
against the loopback GitLab server. Each attack asserts what the server holds afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checker.domain.models import DriftReport, OrgSpec, OrgStatus
from checker.reconcile.reportset import ReportSetError, check_against, combine, settings_hash
from checker.reconcile.run import ReconcileInputError, load_reports
from checker.report import to_dict
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    am_id,
    drift_issues,
    extra_contact,
    fingerprinted,
    load,
    org_drift,
    report,
    seed_repo,
    write_org,
)


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def run(server: FakeGitLab, config_dir: Path) -> Runner:
    for org_id in (101, 102):
        write_org(config_dir, org_id)
    settings, specs = load(config_dir)
    seed_repo(server, config_dir)
    return Runner(server, settings, specs)


def spec(run: Runner, org_id: int) -> OrgSpec:
    return next(s for s in run.specs if s.org_id == org_id)


def drifted(run: Runner) -> DriftReport:
    s1, s2 = spec(run, 101), spec(run, 102)
    return fingerprinted(
        report(
            [
                org_drift(s1, items=[am_id(s1), extra_contact("new@org101.example")]),
                org_drift(s2, OrgStatus.IN_SYNC),
            ]
        ),
        run.settings,
        run.specs,
    )


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def attempt(run: Runner, tmp_path: Path, doc: dict[str, Any]) -> str:
    """Load the (tampered) report as the CLI does and reconcile it: the refusal's message."""
    path = write_json(tmp_path / "drift.json", doc)
    with pytest.raises(ReconcileInputError) as refused:
        load_reports([path], run.settings, run.specs)
    assert "\n" not in str(refused.value)
    return str(refused.value)


def nothing_written(server: FakeGitLab) -> None:
    assert server.writes() == []
    assert server.issues == [] and server.merge_requests == []
    assert set(server.branches) == {"main"}


def test_a_consistent_report_is_acted_on(run: Runner, tmp_path: Path) -> None:
    path = write_json(tmp_path / "drift.json", to_dict(drifted(run)))
    outcome = run(*load_reports([path], run.settings, run.specs))
    assert not outcome.incomplete
    assert len(drift_issues(run.server)) == 1
    assert len(run.server.merge_requests) == 1


Tamper = Callable[[dict[str, Any]], None]


def _org(doc: dict[str, Any], org_id: int) -> dict[str, Any]:
    return next(o for o in doc["orgs"] if o["org_id"] == org_id)


def _set(org_id: int, **values: Any) -> Tamper:
    return lambda doc: _org(doc, org_id).update(values)


PATH_ATTACKS: list[tuple[str, Tamper, str]] = [
    ("absolute", _set(101, file="/etc/hostname"), "not an org file below"),
    ("climbing", _set(101, file="config/orgs/../../../../etc/hostname"), "not an org file below"),
    ("settings", _set(101, file="{cfg}/checker.yaml"), "not an org file below"),
    ("other org", _set(101, file="{cfg}/orgs/org-102.yaml"), "declares org global/102"),
]


@pytest.mark.parametrize(
    ("name", "tamper", "message"), PATH_ATTACKS, ids=[a[0] for a in PATH_ATTACKS]
)
def test_paths_come_from_our_own_files_never_from_a_report(
    run: Runner, tmp_path: Path, name: str, tamper: Tamper, message: str
) -> None:
    doc = to_dict(drifted(run))
    tamper(doc)
    org = _org(doc, 101)
    org["file"] = org["file"].replace("{cfg}", str(run.settings.config_dir))
    assert message in attempt(run, tmp_path, doc)
    nothing_written(run.server)


def test_a_path_is_refused_in_memory_too(run: Runner) -> None:
    """run_reconcile (reconcile without --report) holds reports to the same rule."""
    bad = drifted(run)
    forged = replace(bad, orgs=(replace(bad.orgs[0], file="/etc/hostname"), bad.orgs[1]))
    with pytest.raises(ReconcileInputError, match="not an org file below"):
        run(forged)
    nothing_written(run.server)


def _summary(doc: dict[str, Any]) -> None:
    doc["summary"]["drifted"] = 0


CONTRADICTIONS: list[tuple[str, Tamper, str]] = [
    ("drifted without items", _set(101, items=[]), "drifted but lists no difference"),
    (
        "in sync with items",
        lambda d: _org(d, 102).update(items=_org(d, 101)["items"]),
        "in_sync but lists 2 difference(s)",
    ),
    ("unknown with items", _set(101, status="unknown"), "unknown but lists 2"),
    ("summary", _summary, "the summary says drifted 0, but the orgs say 1"),
    ("no source", lambda d: d.pop("source"), "does not say its source"),
    ("no scope", lambda d: d.pop("scope"), "does not say its scope"),
    ("unknown status", _set(101, status="fine"), "orgs/0/status"),
    ("no fingerprint", lambda d: d.pop("fingerprint"), "has no fingerprint"),
    (
        "fingerprint names other orgs",
        lambda d: d["fingerprint"]["files"].pop("global/102"),
        "the fingerprint and the orgs disagree (org global/102",
    ),
    (
        "other settings",
        lambda d: d["fingerprint"].update(settings="0" * 64),
        "made with other settings",
    ),
]


@pytest.mark.parametrize(
    ("name", "tamper", "message"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS]
)
def test_contradictions_are_refused_before_anything_is_written(
    run: Runner, tmp_path: Path, name: str, tamper: Tamper, message: str
) -> None:
    doc = to_dict(drifted(run))
    tamper(doc)
    assert message in attempt(run, tmp_path, doc)
    nothing_written(run.server)


def test_an_org_in_two_shards_is_refused(run: Runner, tmp_path: Path) -> None:
    s1 = spec(run, 101)
    one = org_drift(s1, OrgStatus.IN_SYNC)
    a = fingerprinted(report([one], shard="1/2"), run.settings, run.specs)
    b = fingerprinted(report([one], shard="2/2"), run.settings, run.specs)
    paths = [write_json(tmp_path / f"{n}.json", to_dict(r)) for n, r in (("a", a), ("b", b))]
    with pytest.raises(ReconcileInputError, match="org global/101 is in two reports"):
        load_reports(paths, run.settings, run.specs)
    nothing_written(run.server)


def test_settings_that_decide_drift_change_the_fingerprint(run: Runner) -> None:
    base = settings_hash(run.settings)
    truth = dict(run.settings.source_of_truth) | {"notes": "zendesk"}
    assert settings_hash(replace(run.settings, source_of_truth=truth)) != base
    assert settings_hash(replace(run.settings, contact_limit=5)) != base
    assert settings_hash(replace(run.settings, unlisted_contacts_are_drift=False)) != base
    # pacing and where GitLab things go do not decide what drift is
    assert settings_hash(replace(run.settings, max_concurrency=1, request_timeout=3.0)) == base
    gitlab = replace(run.settings.gitlab, dashboard_title="Another title")
    assert settings_hash(replace(run.settings, gitlab=gitlab)) == base


def test_an_org_whose_file_changed_since_the_report_is_left_alone(
    run: Runner, tmp_path: Path
) -> None:
    """Stale evidence: the file of org 101 changed after the drift check. Its open issue is not
    touched (not updated, not closed), and no merge request is opened from old values; the
    other org is reconciled as usual."""
    s1, s2 = spec(run, 101), spec(run, 102)
    first = fingerprinted(
        report([org_drift(s1, items=[am_id(s1)]), org_drift(s2, items=[am_id(s2)])]),
        run.settings,
        run.specs,
    )
    run(first)
    assert len(drift_issues(run.server)) == 2
    before = {i["iid"]: (i["description"], i["state"]) for i in run.server.issues}
    later = fingerprinted(
        report(
            [
                org_drift(s1, OrgStatus.IN_SYNC),
                org_drift(s2, OrgStatus.IN_SYNC),
            ]
        ),
        run.settings,
        run.specs,
    )
    path = write_json(tmp_path / "drift.json", to_dict(later))
    Path(s1.path).write_text(Path(s1.path).read_text() + "details: changed since\n")
    outcome = run(*load_reports([path], run.settings, run.specs))
    assert any("global/101: its org file changed since the drift report" in x for x in run.lines)
    closed = [i for i in run.server.issues if i["state"] == "closed"]
    assert [i["iid"] for i in closed] == [
        iid for iid, (desc, _) in before.items() if "org=global/102" in desc
    ]
    (kept,) = drift_issues(run.server)
    assert (kept["description"], kept["state"]) == before[kept["iid"]]
    assert not outcome.incomplete


def test_check_against_marks_a_removed_file_stale(run: Runner) -> None:
    s1 = spec(run, 101)
    r = fingerprinted(report([org_drift(s1, items=[am_id(s1)])]), run.settings, run.specs)
    Path(s1.path).unlink()
    remaining = [s for s in run.specs if s.org_id != 101]
    combined = check_against([r], combine([r]), run.settings, remaining)
    assert combined.stale == {("global", 101)}
    assert combined.orgs[("global", 101)].status is OrgStatus.UNKNOWN


def test_report_set_error_is_the_one_error_type() -> None:
    assert ReconcileInputError is ReportSetError


def test_everything_printed_is_one_line_per_fact(run: Runner) -> None:
    """Names and values from files, Zendesk or a report cannot forge log lines, move the cursor
    or read backwards: breaks, controls and bidi overrides are shown as escapes."""
    s1 = spec(run, 101)
    hostile = "Evil\nplan: 0 to create\r\x1b[2J\u202etxet\u2028x"
    org = replace(org_drift(s1, items=[am_id(s1)]), name=hostile)
    run(report([org, org_drift(spec(run, 102), OrgStatus.IN_SYNC)]))
    assert any("Evil\\x0aplan: 0 to create\\x0d\\x1b[2J\\u202etxet\\u2028x" in x for x in run.lines)
    for line in run.lines:
        assert not any(c in line for c in "\n\r\x1b\u202e\u2028"), line
    assert [line for line in run.lines if line.startswith("plan:")] == [run.lines[-2]]
