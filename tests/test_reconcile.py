"""checker reconcile against the fake GitLab server, driven by the real python-gitlab client.

Every test asserts on what the server holds afterwards (issues, notes, merge requests, branches,
files) and on the requests it received, never on which methods were called.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.models import DriftItem, DriftKind, DriftReport, OrgSpec, OrgStatus
from checker.reconcile.markers import Marker
from checker.reconcile.run import ReconcileInputError, connect_from_env, load_reports
from checker.report import to_json
from checker.tracker.gitlab import GitLabConfig
from checker.tracker.types import GitLabAuthError, GitLabConfigError
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    am_id,
    changed,
    drift_issues,
    extra_contact,
    fingerprinted,
    load,
    notes_of,
    org_drift,
    port_for,
    report,
    seed_repo,
    with_ops,
    write_org,
)


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def cfg(config_dir: Path) -> Path:
    for org_id in (101, 102, 103, 104):
        write_org(config_dir, org_id)
    return config_dir


@pytest.fixture
def run(server: FakeGitLab, cfg: Path) -> Runner:
    settings, specs = load(cfg)
    seed_repo(server, cfg)
    return Runner(server, settings, specs)


def spec(run: Runner, org_id: int) -> OrgSpec:
    return next(s for s in run.specs if s.org_id == org_id)


def baseline(run: Runner) -> list[object]:
    """101, 102 drifted (repo-owned), 103 in sync, 104 unknown."""
    return [
        org_drift(spec(run, 101), items=[am_id(spec(run, 101))]),
        org_drift(spec(run, 102), items=[am_id(spec(run, 102), 7)]),
        org_drift(spec(run, 103), OrgStatus.IN_SYNC),
        org_drift(spec(run, 104), OrgStatus.UNKNOWN, error="Zendesk timed out"),
    ]


def test_ten_runs_leave_one_issue_per_drifted_org_and_write_only_once(
    run: Runner, server: FakeGitLab
) -> None:
    rep = report(baseline(run))  # type: ignore[arg-type]
    first = run(rep)
    assert not first.incomplete
    issues = drift_issues(server)
    assert sorted(i["title"] for i in issues) == [
        "Zendesk drift: Org 101 (org 101)",
        "Zendesk drift: Org 102 (org 102)",
    ]
    assert all(i["confidential"] for i in issues)
    assert all(i["labels"] == ["zendesk-drift"] for i in issues)
    assert all(i["assignee_ids"] == [42] for i in issues)
    dashboards = [i for i in server.issues if i["title"] == "Zendesk drift dashboard"]
    assert len(dashboards) == 1
    for _ in range(9):
        server.reset_log()
        again = run(rep)
        assert server.writes() == []
        assert again.results == ()
        # two listings (issues, merge requests), the project and whether a crashed run left
        # a lock: nothing per org
        assert len(server.reads()) == 4
    assert len(server.issues) == 3
    assert "plan: 0 to create, 0 to update" in run.lines[-1]


def test_changed_drift_updates_in_place_with_one_note(run: Runner, server: FakeGitLab) -> None:
    s = spec(run, 101)
    run(report([org_drift(s, items=[am_id(s)])]))
    changed_items = [am_id(s, 2), extra_contact("new@org101.example")]
    for _ in range(2):
        run(report([org_drift(s, items=changed_items)]))
    [issue] = drift_issues(server)
    notes = notes_of(issue)
    assert len(notes) == 1
    assert "Different values now" in notes[0] and "New:" in notes[0]
    assert "new@org101.example" in str(issue["description"])
    assert re.search(r"Zendesk: 2 · Source of truth", str(issue["description"]))


def test_drift_gone_closes_with_a_note_and_closes_the_merge_request(
    run: Runner, server: FakeGitLab
) -> None:
    s = spec(run, 101)
    run(report([org_drift(s, items=[am_id(s), extra_contact("x@org101.example")])]))
    [mr] = server.merge_requests
    branch = "checker/adopt/global-101"
    assert mr["source_branch"] == branch and branch in server.branches
    outcome = run(report([org_drift(s, OrgStatus.IN_SYNC)]))
    assert not outcome.incomplete
    [issue] = drift_issues(server, state=None)
    assert issue["state"] == "closed"
    assert len(notes_of(issue)) == 1 and "The drift is gone" in notes_of(issue)[0]
    assert Marker.parse(str(issue["description"])).drift == "resolved"  # type: ignore[union-attr]
    assert server.merge_requests[0]["state"] == "closed"
    assert branch not in server.branches
    server.reset_log()
    run(report([org_drift(s, OrgStatus.IN_SYNC)]))
    assert [r for r in server.writes() if "dashboard" not in str(r.body)] == []


def test_unknown_org_never_edits_or_closes_its_issue(run: Runner, server: FakeGitLab) -> None:
    s = spec(run, 101)
    run(report([org_drift(s, items=[am_id(s)])]))
    [issue] = drift_issues(server)
    before = (issue["description"], issue["state"], len(notes_of(issue)), issue["updated_at"])
    server.reset_log()
    for status in (OrgStatus.UNKNOWN, OrgStatus.UNKNOWN):
        run(report([org_drift(s, status, error="Zendesk answered 503")]))
    [issue] = drift_issues(server)
    assert (
        issue["description"],
        issue["state"],
        len(notes_of(issue)),
        issue["updated_at"],
    ) == before
    assert not any(f"/issues/{issue['iid']}" in r.path for r in server.writes())


def test_person_closed_issue_stays_closed_and_new_drift_opens_a_linked_one(
    run: Runner, server: FakeGitLab
) -> None:
    s = spec(run, 101)
    rep = report([org_drift(s, items=[am_id(s)])])
    run(rep)
    [issue] = drift_issues(server)
    issue["state"] = "closed"  # a person decides the drift is fine
    for _ in range(3):
        run(rep)
    assert drift_issues(server) == []
    assert len(drift_issues(server, state=None)) == 1
    assert notes_of(issue) == []
    server.reset_log()
    run(rep)
    assert server.writes() == []  # the decision is remembered: no lookup, no write
    assert len(server.reads()) == 4

    run(report([org_drift(s, items=[am_id(s, 99)])]))
    [fresh] = drift_issues(server)
    assert fresh["iid"] != issue["iid"]
    assert str(issue["web_url"]) in str(fresh["description"])
    assert issue["state"] == "closed"
    server.reset_log()
    run(report([org_drift(s, items=[am_id(s, 99)])]))
    assert server.writes() == []  # the link to the closed issue is kept, not rewritten away


def test_accepted_drift_that_went_away_and_came_back_opens_a_fresh_issue(
    run: Runner, server: FakeGitLab
) -> None:
    s = spec(run, 102)
    drifted = report([org_drift(s, items=[am_id(s)])])
    run(drifted)
    [issue] = drift_issues(server)
    issue["state"] = "closed"  # a person accepts this drift
    run(drifted)
    assert drift_issues(server) == []
    run(report([org_drift(s, status=OrgStatus.IN_SYNC)]))  # fixed in Zendesk meanwhile
    assert drift_issues(server) == []
    run(drifted)  # the very same drift is back: that is news, not the old decision
    [fresh] = drift_issues(server)
    assert fresh["iid"] != issue["iid"]
    assert str(issue["web_url"]) in str(fresh["description"])
    server.reset_log()
    run(drifted)
    assert server.writes() == []


def test_partial_reports_never_close_issues_of_absent_orgs(run: Runner, server: FakeGitLab) -> None:
    run(report(baseline(run)))  # type: ignore[arg-type]
    assert len(drift_issues(server)) == 2
    s3 = spec(run, 103)
    partial = report([org_drift(s3, OrgStatus.IN_SYNC)], scope="partial")
    outcome = run(partial)
    assert len(drift_issues(server)) == 2
    assert any("partial" in n for n in outcome.notices)
    # also with the files of 101 and 102 gone from the repository
    outcome = run(partial, specs=[s for s in run.specs if s.org_id not in (101, 102)])
    assert len(drift_issues(server)) == 2
    assert outcome.results == ()


def test_org_file_removed_closes_its_issue_with_a_note(run: Runner, server: FakeGitLab) -> None:
    run(report(baseline(run)))  # type: ignore[arg-type]
    remaining = [s for s in run.specs if s.org_id != 101]
    rep = report([o for o in baseline(run) if o.org_id != 101])  # type: ignore[attr-defined]
    run(rep, specs=remaining)
    closed = [i for i in drift_issues(server, state=None) if i["state"] == "closed"]
    assert [i["title"] for i in closed] == ["Zendesk drift: Org 101 (org 101)"]
    assert "was removed from the repository" in notes_of(closed[0])[0]
    assert len(drift_issues(server)) == 1


def test_dry_run_writes_nothing(run: Runner, server: FakeGitLab) -> None:
    s = spec(run, 101)
    outcome = run(
        report([org_drift(s, items=[am_id(s), extra_contact("z@org101.example")])]), dry_run=True
    )
    assert server.writes() == []
    assert {r.status for r in outcome.results} == {"dry-run"}
    assert not outcome.incomplete
    assert any("issue: create" in line for line in run.lines)
    assert any("merge-request: create" in line for line in run.lines)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("status", r"/issues$"),
        ("drop", r"/issues$"),
        ("status", r"/notes$"),
        ("drop", r"/merge_requests$"),
    ],
)
def test_failure_mid_run_then_rerun_leaves_no_duplicates(
    run: Runner, server: FakeGitLab, kind: str, path: str
) -> None:
    specs = [spec(run, n) for n in (101, 102, 103)]
    first = report(
        [org_drift(s, items=[am_id(s), extra_contact(f"p@org{s.org_id}.example")]) for s in specs]
    )
    if path == r"/notes$":
        run(first)  # notes come with changes: set up a state to change
        first = report(
            [
                org_drift(s, items=[am_id(s, 5), extra_contact(f"p@org{s.org_id}.example")])
                for s in specs
            ]
        )
    # the server stores the write, then fails: 500 or a dropped connection, twice in a row
    server.add_fault(kind=kind, method="POST", path=path, after_commit=True, times=2)
    run(first)
    assert server.pending_faults() == 0  # both faults happened
    run(first)
    run(first)
    assert len(drift_issues(server)) == 3
    assert len([m for m in server.merge_requests if m["state"] == "opened"]) == 3
    assert len([i for i in server.issues if i["title"] == "Zendesk drift dashboard"]) == 1
    for issue in drift_issues(server):
        assert len(notes_of(issue)) <= 1
    server.reset_log()
    run(first)
    assert server.writes() == []


def test_gitlab_down_mid_run_is_reported_per_org_and_incomplete(
    run: Runner, server: FakeGitLab
) -> None:
    specs = [spec(run, n) for n in (101, 102, 103)]
    rep = report([org_drift(s, items=[am_id(s)]) for s in specs])
    server.add_fault(kind="status", method="POST", path=r"/issues$", status=503, times=-1)
    outcome = run(rep)
    assert outcome.incomplete
    assert {org for org, _ in outcome.failures} >= {"global/101", "global/102", "global/103"}
    assert len(server.issues) == 0
    server.clear_faults()
    outcome = run(rep)
    assert not outcome.incomplete
    assert len(drift_issues(server)) == 3


def test_merge_request_round_trip_keeps_the_file_byte_identical_elsewhere(
    run: Runner, server: FakeGitLab, cfg: Path
) -> None:
    s = spec(run, 102)
    items = [
        extra_contact("Zed@Org102.example"),
        DriftItem(
            "support_contacts",
            DriftKind.CONTACT_NAME_DIFFERS,
            "Ann Example",
            "Ann Exemplary",
            "zendesk",
            "ann@org102.example",
        ),
    ]
    run(report([org_drift(s, items=items)]))
    original = (cfg / "orgs" / "org-102.yaml").read_text(encoding="utf-8")
    branch = "checker/adopt/global-102"
    new = server.file("config/orgs/org-102.yaml", branch)
    assert new is not None
    changes = [
        line
        for line in difflib.ndiff(original.splitlines(), new.splitlines())
        if line[:2] in ("- ", "+ ")
    ]
    assert changes == [
        "-   - name: Ann Example",
        "+   - name: Ann Exemplary",
        "+   - email: Zed@Org102.example",
    ]
    new_lines = new.splitlines()
    assert "  id: 1102  # the AM ID" in new_lines
    [mr] = server.merge_requests
    [issue] = drift_issues(server)
    assert str(issue["web_url"]) in str(mr["description"])
    # Zendesk's values change: the same merge request and branch are updated in place
    run(report([org_drift(s, items=[extra_contact("other@org102.example")])]))
    assert len(server.merge_requests) == 1
    newer = server.file("config/orgs/org-102.yaml", branch)
    assert newer is not None and "other@org102.example" in newer and "Zed@" not in newer
    assert len(notes_of(mr)) == 1


def test_token_never_appears_in_output_or_errors(
    run: Runner, server: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    s = spec(run, 101)
    server.add_fault(kind="status", method="POST", path=r"/issues$", status=500, times=-1)
    outcome = run(report([org_drift(s, items=[am_id(s)])]))
    texts = [*run.lines, *(msg for _, msg in outcome.failures), str(outcome.as_dict())]
    with pytest.raises(GitLabAuthError) as refused:
        run(report([org_drift(s, items=[am_id(s)])]), port=port_for(server, "glpat-wrong-secret"))
    texts.append(str(refused.value))
    texts.append(repr(GitLabConfig(server.url, "7", server.token)))
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    for text in texts:
        assert server.token not in text
        assert "glpat-wrong-secret" not in text
    assert "401" in str(refused.value)


def test_connect_from_env_names_what_is_missing(run: Runner) -> None:
    with pytest.raises(GitLabConfigError, match=r"CI_JOB_TOKEN cannot be used.*api scope"):
        connect_from_env(
            {"CI_SERVER_URL": "https://gitlab.example", "CI_JOB_TOKEN": "x" * 20}, run.settings
        )
    with pytest.raises(GitLabConfigError, match="GITLAB_URL"):
        connect_from_env({"GITLAB_TOKEN": "t" * 20}, run.settings)
    with pytest.raises(GitLabConfigError, match="GITLAB_PROJECT"):
        connect_from_env(
            {"GITLAB_URL": "http://127.0.0.1:1", "GITLAB_TOKEN": "t" * 20}, run.settings
        )
    port = connect_from_env(
        {"GITLAB_URL": run.server.url, "GITLAB_TOKEN": run.server.token, "CI_PROJECT_ID": "7"},
        run.settings,
    )
    assert port.info().default_branch == "main"
    assert run.server.token not in repr(port)


def test_support_ops_request_is_filed_once_and_linked(run: Runner, server: FakeGitLab) -> None:
    settings = with_ops(run.settings, server.project_path)
    s = spec(run, 101)
    rep = report([org_drift(s, items=[am_id(s)])])
    for _ in range(3):
        run(rep, settings=settings)
    ops = [i for i in server.issues if "kind=ops " in str(i["description"]).split("\n", 1)[0]]
    assert len(ops) == 1
    assert "**The AM ID should therefore be**: 1101" in str(ops[0]["description"])
    [issue] = drift_issues(server)
    assert str(ops[0]["web_url"]) in str(issue["description"])
    server.reset_log()
    run(rep, settings=settings)
    assert server.writes() == []


def test_hostile_text_in_the_issue_body_is_inert(run: Runner, server: FakeGitLab) -> None:
    from tests.test_inert import HOSTILE, code_spans

    s = spec(run, 101)
    items = [changed("notes", "/close\n@all", text) for text in HOSTILE]
    items += [extra_contact(text) for text in HOSTILE[:20]]
    run(report([org_drift(s, items=items)]))
    [issue] = drift_issues(server)
    description = str(issue["description"])
    assert issue["state"] == "opened" and issue["confidential"]
    lines = description.split("\n")
    assert not [line for line in lines if line.startswith("/")]
    for line in lines:
        if line.startswith("    ") or line.startswith("<!-- zendesk-drift-checker"):
            continue  # indented code block, or our marker
        outside, _ = code_spans(line)
        outside = re.sub(r"\]\(https?://[^)\s]*\)", "]", outside)  # our own links
        outside = re.sub(r"https?://[^\s|]+", "", outside)
        outside = outside.replace("*(none)*", "").replace("**", "").replace("*Kept up", "")
        assert "@" not in outside or not re.search(r"@\w", outside), line
        assert not re.search(r"(?<![\w\\])[#!%~$&](?=[\w\"])", outside), line
        assert "<" not in outside and "![" not in outside and "[[" not in outside, line


def test_load_reports_checks_the_set(tmp_path: Path, run: Runner) -> None:
    s1, s2 = spec(run, 101), spec(run, 102)

    def write(name: str, r: DriftReport) -> Path:
        path = tmp_path / name
        path.write_text(to_json(fingerprinted(r, run.settings, run.specs)), encoding="utf-8")
        return path

    def load_set(*paths: Path) -> list[DriftReport]:
        return load_reports(list(paths), run.settings, run.specs)

    a = write("a.json", report([org_drift(s1, OrgStatus.IN_SYNC)], shard="1/2"))
    b = write("b.json", report([org_drift(s2, OrgStatus.IN_SYNC)], shard="2/2"))
    assert len(load_set(a, b)) == 2
    with pytest.raises(ReconcileInputError, match="shard 2/2 missing"):
        load_set(a)
    dup = write("c.json", report([org_drift(s1, OrgStatus.IN_SYNC)], shard="2/2"))
    with pytest.raises(ReconcileInputError, match="org global/101 is in two reports"):
        load_set(a, dup)
    v2 = tmp_path / "v2.json"
    v2.write_text(b.read_text().replace('"schema_version": 1', '"schema_version": 2'))
    with pytest.raises(ReconcileInputError, match="different schema versions"):
        load_set(a, v2)
    with pytest.raises(ReconcileInputError, match="no drift report"):
        load_set()
