"""Exhaustive fault test of ``checker reconcile`` against the fake GitLab server.

One realistic run (orgs created, updated, closed, removed, unknown; a merge request created,
updated and closed; support-ops requests; the dashboard) makes the writes in ``WRITES``. For
every write k of that sequence and every way it can fail (an answer of 500, or a dropped
connection; before or after the server carried the write out), a fresh server with the same
seed gets a fault that hits exactly write k ("once"), or write k and every later request to
that endpoint in the same run ("rest", which the run's own retries cannot absorb); the run is
made, then rerun without faults (at most twice). The server must then hold what a clean run
leaves: one open thing per org and purpose, no duplicate notes, one dashboard, the unknown
org's issue untouched, the branches of closed merge requests deleted, and a further rerun must
write nothing ("No duplicate issues, ever; a rerun changes nothing that has not changed. An
issue is closed only on evidence.").
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gitlab.utils
import pytest

from checker.domain.models import DriftReport, OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.reconcile.markers import Marker
from checker.reconcile.run import ReconcileOutcome
from tests.conftest import SETTINGS
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    am_id,
    extra_contact,
    load,
    org_drift,
    report,
    seed_repo,
    with_ops,
    write_org,
)

UNKNOWN = 105
DASHBOARD = "Zendesk drift dashboard"
P = "/api/v4/projects/7"
OPS = "/api/v4/projects/support%2Fzendesk-orgs"  # the support-ops project (the same one here)

#: The writes of the clean run, in order (recorded once, checked by the first test).
WRITES: tuple[tuple[str, str, str], ...] = (
    ("POST", f"{P}/repository/commits", "lock-create"),
    ("POST", f"{OPS}/issues", "101-ops-create"),
    ("POST", f"{P}/issues", "101-issue-create"),
    ("POST", f"{P}/issues", "102-issue-create"),
    ("POST", f"{P}/repository/commits", "102-mr-commit"),
    ("POST", f"{P}/merge_requests", "102-mr-create"),
    ("POST", f"{P}/issues", "103-issue-create"),
    ("POST", f"{OPS}/issues/3/notes", "106-ops-note"),
    ("PUT", f"{OPS}/issues/3", "106-ops-update"),
    ("POST", f"{P}/issues/4/notes", "106-issue-note"),
    ("PUT", f"{P}/issues/4", "106-issue-update"),
    ("POST", f"{P}/repository/commits", "106-mr-commit"),
    ("POST", f"{P}/merge_requests/2/notes", "106-mr-note"),
    ("PUT", f"{P}/merge_requests/2", "106-mr-update"),
    ("POST", f"{OPS}/issues/5/notes", "107-ops-note"),
    ("PUT", f"{OPS}/issues/5", "107-ops-close"),
    ("POST", f"{P}/issues/6/notes", "107-issue-note"),
    ("PUT", f"{P}/issues/6", "107-issue-close"),
    ("POST", f"{P}/merge_requests/3/notes", "107-mr-note"),
    ("DELETE", f"{P}/repository/branches/checker%2Fadopt%2Fglobal-107", "107-branch-delete"),
    ("PUT", f"{P}/merge_requests/3", "107-mr-close"),
    ("POST", f"{OPS}/issues/7/notes", "108-ops-note"),
    ("PUT", f"{OPS}/issues/7", "108-ops-close"),
    ("POST", f"{P}/issues/8/notes", "108-issue-note"),
    ("PUT", f"{P}/issues/8", "108-issue-close"),
    ("POST", f"{P}/issues", "dashboard-create"),
    ("DELETE", f"{P}/repository/branches/checker%2Freconcile-lock", "lock-release"),
)

#: (fault kind, after_commit)
FAULTS: dict[str, tuple[str, bool]] = {
    "500-before": ("status", False),
    "500-after": ("status", True),
    "drop-before": ("drop", False),
    "drop-after": ("drop", True),
}
#: how many requests the fault hits: "once" (the k-th write only: retries within the run absorb
#: it), or "rest" (the k-th write and every later one to the same endpoint, for the rest of
#: that run: the run's own retries fail too, unless the write was carried out and is found)
TIMES = {"once": 1, "rest": -1}


@pytest.fixture(autouse=True)
def _no_client_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-gitlab's own retry back-off (0.1 s doubling) sleeps nothing here either."""
    monkeypatch.setattr(
        gitlab.utils, "time", SimpleNamespace(sleep=lambda _s: None, time=time.time)
    )


# --------------------------------------------------------------------------- the scenario


@dataclass(frozen=True)
class Scenario:
    settings: Settings
    specs: list[OrgSpec]
    #: the org files of the main run: 108's file was removed from the repository since
    main_specs: list[OrgSpec]
    cfg: Path

    def spec(self, org_id: int) -> OrgSpec:
        return next(s for s in self.specs if s.org_id == org_id)

    def seed_report(self) -> DriftReport:
        """The previous run: 105-108 drifted (repo- and Zendesk-owned), the rest in sync. It
        checked a selection of orgs ("partial"), so it made no dashboard: this run does."""
        s = self.spec
        return report(
            [
                *(org_drift(s(n), OrgStatus.IN_SYNC) for n in (101, 102, 103, 104)),
                org_drift(s(105), items=[am_id(s(105)), extra_contact("u@org105.example")]),
                org_drift(s(106), items=[am_id(s(106)), extra_contact("a@org106.example")]),
                org_drift(s(107), items=[am_id(s(107)), extra_contact("g@org107.example")]),
                org_drift(s(108), items=[am_id(s(108))]),
            ],
            scope="partial",
        )

    def main_report(self) -> DriftReport:
        """101 drifted (repo-owned: support-ops request), 102 drifted (Zendesk-owned: merge
        request), 103 missing, 104 in sync, 105 unknown, 106 drift changed, 107 drift gone,
        108 file removed."""
        s = self.spec
        return report(
            [
                org_drift(s(101), items=[am_id(s(101))]),
                org_drift(s(102), items=[extra_contact("z@org102.example")]),
                org_drift(s(103), OrgStatus.MISSING),
                org_drift(s(104), OrgStatus.IN_SYNC),
                org_drift(s(105), OrgStatus.UNKNOWN, error="Zendesk timed out"),
                org_drift(s(106), items=[am_id(s(106), 2), extra_contact("b@org106.example")]),
                org_drift(s(107), OrgStatus.IN_SYNC),
            ]
        )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    cfg = tmp_path_factory.mktemp("faults") / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_bytes(SETTINGS.read_bytes())
    for org_id in range(101, 109):
        write_org(cfg, org_id)
    settings, specs = load(cfg)
    settings = with_ops(settings, "support/zendesk-orgs")
    return Scenario(settings, specs, [s for s in specs if s.org_id != 108], cfg)


@dataclass
class Seeded:
    server: FakeGitLab
    run: Runner
    scenario: Scenario
    #: the unknown org's issues and merge request right after the seed
    unknown_before: dict[str, Any]

    def main(self) -> ReconcileOutcome:
        return self.run(self.scenario.main_report(), specs=self.scenario.main_specs)


def _unknown_things(server: FakeGitLab) -> dict[str, Any]:
    """Description, state and notes of every issue and merge request of the unknown org."""
    out: dict[str, Any] = {}
    for kind, records in (("issue", server.issues), ("mr", server.merge_requests)):
        for r in records:
            marker = Marker.parse(str(r["description"] or ""))
            if marker is not None and marker.org == ("global", UNKNOWN):
                out[f"{kind}:{marker.kind}:{r['iid']}"] = (
                    r["description"],
                    r["state"],
                    r["updated_at"],
                    [n["body"] for n in r["notes"]],
                )
    return out


def _seed(server: FakeGitLab, scenario: Scenario) -> None:
    """The previous run's state: org files on the default branch, then a clean reconcile."""
    server.add_user(42, "akim")
    seed_repo(server, scenario.cfg)
    outcome = Runner(server, scenario.settings, scenario.specs)(scenario.seed_report())
    assert not outcome.incomplete


@pytest.fixture(scope="module")
def seed(scenario: Scenario) -> tuple[int, dict[str, Any]]:
    """(port, state) of a seeded server. Everything the checker writes holds links with the
    server's port, so a fresh server loads this state on the same port (the seed run once,
    not once per case)."""
    with FakeGitLab() as server:
        _seed(server, scenario)
        return server.port, server.dump_state()


@pytest.fixture
def seeded(scenario: Scenario, seed: tuple[int, dict[str, Any]]) -> Iterator[Seeded]:
    port, state = seed
    server = FakeGitLab(port=port)
    try:
        server.start()
        server.load_state(state)
    except OSError:  # the port was taken meanwhile: seed a server on another port
        server = FakeGitLab().start()
        _seed(server, scenario)
    with server:
        run = Runner(server, scenario.settings, scenario.specs)
        unknown = _unknown_things(server)
        assert len(unknown) == 3  # drift issue, support-ops request, merge request
        server.reset_log()
        yield Seeded(server, run, scenario, unknown)
    assert server.errors == []


# --------------------------------------------------------------------------- final state


def _norm(text: object, server: FakeGitLab, names: dict[str, str]) -> str:
    """Comparable across servers: links to issues and merge requests name what they link to
    (not its number), no port, and no marker body hash (a hash of text with links)."""

    def name(m: re.Match[str]) -> str:
        return names.get(m.group(0), m.group(0))

    text = re.sub(
        rf"{re.escape(server.web_url)}/-/(?:issues|merge_requests)/\d+", name, str(text or "")
    )

    def reference(m: re.Match[str]) -> str:  # the dashboard's #12 and !3
        kind = "issues" if m.group(1) == "#" else "merge_requests"
        return names.get(f"{server.web_url}/-/{kind}/{m.group(2)}", m.group(0))

    text = re.sub(r"(?<=\| )([#!])(\d+)(?= )", reference, text)
    text = re.sub(r"(follows=|acks=\S*:)\d+", r"\1N", text)
    return re.sub(r" body=[0-9a-f]+", "", text.replace(server.url, "http://gitlab"))


def _ident(record: dict[str, Any]) -> tuple[str, str]:
    """(marker kind, org) from the hidden marker on the description's first line."""
    marker = Marker.parse(str(record["description"] or ""))
    if marker is None:
        return ("?", str(record["title"]))
    org = f"{marker.org[0]}/{marker.org[1]}" if marker.org else "-"
    return (marker.kind, org)


def _snapshot(server: FakeGitLab) -> dict[str, Any]:
    """What the server holds, port-independent, keyed by purpose (not by iid)."""
    things: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    names: dict[str, str] = {}
    for kind, records in (("issues", server.issues), ("merge_requests", server.merge_requests)):
        for r in records:
            names[f"{server.web_url}/-/{kind}/{r['iid']}"] = "<{}:{}:{}>".format(kind, *_ident(r))
    for kind, records in (("issue", server.issues), ("mr", server.merge_requests)):
        for r in records:
            k, org = _ident(r)
            things.setdefault(f"{kind}:{k}:{org}", []).append(
                (
                    str(r["state"]),
                    _norm(r["description"], server, names),
                    tuple(_norm(n["body"], server, names) for n in r["notes"]),
                )
            )
    branches = {
        name: dict(files) for name, files in server.branches.items() if name.startswith("checker/")
    }
    return {"things": things, "branches": branches}


@pytest.fixture(scope="module")
def clean(scenario: Scenario) -> dict[str, Any]:
    """The clean run's final state (the reference every faulted run must converge to)."""
    with FakeGitLab() as server:
        _seed(server, scenario)
        Runner(server, scenario.settings, scenario.specs)(
            scenario.main_report(), specs=scenario.main_specs
        )
        return _snapshot(server)


def _open(records: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(_ident(r) for r in records if r["state"] == "opened")


def _assert_final_state(s: Seeded, clean: dict[str, Any]) -> None:
    server = s.server
    issues = _open(server.issues)
    drift = {org: n for (kind, org), n in issues.items() if kind == "org"}
    assert drift == {f"global/{n}": 1 for n in (101, 102, 103, 105, 106)}, (
        "open drift issues per org"
    )
    dup_issues = {k: n for k, n in issues.items() if n > 1}
    assert dup_issues == {}, "duplicate open issues (by marker)"
    mrs = _open(server.merge_requests)
    dup_mrs = {k: n for k, n in mrs.items() if n > 1}
    assert dup_mrs == {}, "duplicate open merge requests (by marker)"
    assert sorted(org for _, org in mrs) == ["global/102", "global/105", "global/106"]
    ops = sorted(org for kind, org in issues if kind == "ops")
    assert ops == ["global/101", "global/105", "global/106"], "open support-ops requests"

    for kind, records in (("issue", server.issues), ("mr", server.merge_requests)):
        for r in records:
            bodies = Counter(str(n["body"]) for n in r["notes"])
            twice = [b.split("\n", 1)[0] for b, n in bodies.items() if n > 1]
            assert twice == [], f"duplicate notes on {kind} {r['iid']} {_ident(r)}"

    dashboards = [i for i in server.issues if i["title"] == DASHBOARD]
    assert len(dashboards) == 1 and dashboards[0]["state"] == "opened", "one dashboard"

    assert _unknown_things(server) == s.unknown_before, "the unknown org's things changed"

    # "No duplicate issues, ever": not even a closed one; and everything else as a clean run
    # leaves it: descriptions, states, notes, and branches (issue 4: a merge request is
    # "closed (branch deleted) when the drift is gone").
    now = _snapshot(server)
    counts = {k: len(v) for k, v in now["things"].items()}
    assert counts == {k: len(v) for k, v in clean["things"].items()}, "issues/MRs per purpose"
    for key, expected in clean["things"].items():
        assert [t[0] for t in now["things"][key]] == [t[0] for t in expected], f"state {key}"
        assert [t[2] for t in now["things"][key]] == [t[2] for t in expected], f"notes {key}"
        assert [t[1] for t in now["things"][key]] == [t[1] for t in expected], f"body {key}"
    assert sorted(now["branches"]) == sorted(clean["branches"]), "merge request branches"
    assert now["branches"] == clean["branches"], "merge request branch contents"


# --------------------------------------------------------------------------- tests


def test_clean_run_makes_the_recorded_writes(seeded: Seeded, clean: dict[str, Any]) -> None:
    outcome = seeded.main()
    assert not outcome.incomplete
    assert [(r.method, r.path) for r in seeded.server.writes()] == [(m, p) for m, p, _ in WRITES]
    _assert_final_state(seeded, clean)
    seeded.server.reset_log()
    seeded.main()
    assert seeded.server.writes() == []


@pytest.mark.parametrize("times", list(TIMES))
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize(
    "k", range(len(WRITES)), ids=[f"k{k:02d}-{w[2]}" for k, w in enumerate(WRITES)]
)
def test_one_fault_then_reruns_converge(
    seeded: Seeded, clean: dict[str, Any], k: int, fault: str, times: str
) -> None:
    server = seeded.server
    method, path, _ = WRITES[k]
    kind, after_commit = FAULTS[fault]
    earlier = sum(1 for m, p, _ in WRITES[:k] if (m, p) == (method, path))
    server.add_fault(
        kind=kind,
        method=method,
        path=f"^{re.escape(path)}$",
        times=TIMES[times],
        skip=earlier,
        after_commit=after_commit,
    )
    if WRITES[k][2].startswith("lock-"):
        # A lock the faulted run leaves behind is stale by the time of the reruns (GitLab's
        # clock on its commit is an hour behind), as it would be after STALE_AFTER in life.
        server.set_now(datetime.now(UTC) - timedelta(hours=1))
    outcome = seeded.main()
    server.set_now(None)
    assert server.pending_faults() == (0 if TIMES[times] == 1 else 1)
    server.clear_faults()
    hit = server.writes()[k]
    assert (hit.method, hit.path, hit.fault) == (method, path, kind), "the fault hit write k"
    reruns = 0
    while outcome.incomplete and reruns < 2:  # rerun without faults, at most twice
        outcome = seeded.main()
        reruns += 1
    assert not outcome.incomplete, outcome.failures
    _assert_final_state(seeded, clean)

    server.reset_log()
    seeded.main()
    assert [(r.method, r.path) for r in server.writes()] == [], "a further rerun wrote"
