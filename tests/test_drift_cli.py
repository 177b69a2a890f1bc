"""``checker drift``, ``snapshot`` and ``import`` end to end: the real CLI in a subprocess, the
real zenpy client, and Zendesk-compatible servers on loopback (one per instance)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from checker.report import from_json as report_from_json
from tests.cli_support import GOV_TOKEN, TOKEN, drift_json, env_for, run
from tests.fakes.zendesk_server import FakeZendesk

from .conftest import ROOT


def items_by_org(doc: dict[str, Any]) -> dict[int, set[tuple[str, str, object, object]]]:
    return {
        o["org_id"]: {(i["field"], i["kind"], i["expected"], i["actual"]) for i in o["items"]}
        for o in doc["orgs"]
    }


def test_live_drift_matches_the_bundled_snapshot(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    env = env_for(servers)
    live = run(["drift", "--format", "json"], repo, env)
    assert live.returncode == 3, live.stderr
    offline = run(
        ["drift", "--format", "json", "--snapshot", str(ROOT / "examples/snapshot.json")], repo, env
    )
    assert offline.returncode == 3
    a, b = drift_json(live), drift_json(offline)
    assert items_by_org(a) == items_by_org(b)
    assert {o["org_id"]: o["status"] for o in a["orgs"]} == {
        360001234501: "drifted",
        360001234502: "in_sync",
        9100042: "drifted",
    }
    assert a["source"] == "live" and b["source"] == "snapshot"
    main, gov = servers
    assert a["zendesk_requests"] == len(main.requests) + len(gov.requests) == 5
    assert set(a) >= {"schema_version", "orgs", "summary", "zendesk_requests"}
    assert TOKEN not in live.stdout + live.stderr and GOV_TOKEN not in live.stdout + live.stderr


def test_snapshot_then_offline_drift_reproduces_the_report(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    env = env_for(servers)
    snap = run(["snapshot", "--output", "snap.json"], repo, env)
    assert snap.returncode == 0, snap.stderr
    live = drift_json(run(["drift", "--format", "json"], repo, env))
    offline = drift_json(run(["drift", "--format", "json", "--snapshot", "snap.json"], repo, env))
    for doc in (live, offline):
        for key in ("generated_at", "source", "zendesk_requests"):
            doc.pop(key)
    assert live == offline


def test_missing_credentials_exit_2_before_any_request(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    env = env_for(servers)
    del env["ZENDESK_US_GOV_OAUTH_TOKEN"]
    proc = run(["drift"], repo, env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "checker: Zendesk credentials for instance 'us-gov' are missing: set "
        "ZENDESK_US_GOV_EMAIL and ZENDESK_US_GOV_API_TOKEN (or ZENDESK_US_GOV_OAUTH_TOKEN)"
    ]
    assert servers[0].requests == [] and servers[1].requests == []


def test_invalid_files_exit_1_without_requests(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    (repo / "config/orgs/broken.yaml").write_text("schema_version: 1\nname: [\n")
    proc = run(["drift"], repo, env_for(servers))
    assert proc.returncode == 1
    assert "config/orgs/broken.yaml:3:1: yaml-syntax" in proc.stderr
    assert servers[0].requests == [] and servers[1].requests == []


def test_an_org_that_cannot_be_read_is_unknown_and_wins_the_exit_code(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    main.add_fault(kind="status", status=503, path=r"/organizations/360001234501/users", times=-1)
    proc = run(["drift", "--format", "json"], repo, env_for(servers))
    assert proc.returncode == 4
    doc = drift_json(proc)
    status = {o["org_id"]: o for o in doc["orgs"]}
    assert status[360001234501]["status"] == "unknown"
    assert status[360001234501]["items"] == []
    assert "503" in status[360001234501]["error"]
    assert status[9100042]["status"] == "drifted"  # everything else still reported
    text = run(["drift"], repo, env_for(servers))
    assert "UNKNOWN" in text.stdout and "1 could not be checked" in text.stdout


def test_missing_org_is_reported_as_missing(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    servers[1].remove_org(9100042)
    doc = drift_json(run(["drift", "--format", "json"], repo, env_for(servers)))
    gov = next(o for o in doc["orgs"] if o["org_id"] == 9100042)
    assert gov["status"] == "missing"
    assert "404" in gov["error"]


def test_shards_partition_the_orgs(servers: tuple[FakeZendesk, FakeZendesk], repo: Path) -> None:
    env = env_for(servers)
    seen: list[int] = []
    for i in (1, 2, 3):
        doc = drift_json(run(["drift", "--format", "json", "--shard", f"{i}/3"], repo, env))
        assert doc["shard"] == f"{i}/3" and doc["scope"] == "full"
        seen += [o["org_id"] for o in doc["orgs"]]
    assert sorted(seen) == [9100042, 360001234501, 360001234502]
    bad = run(["drift", "--shard", "4/3"], repo, env)
    assert bad.returncode == 2 and "--shard" in bad.stderr


def test_org_and_changed_since_select_a_partial_scope(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    env = env_for(servers)
    doc = drift_json(run(["drift", "--format", "json", "--org", "9100042"], repo, env))
    assert [o["org_id"] for o in doc["orgs"]] == [9100042] and doc["scope"] == "partial"
    git = ["git", "-c", "user.email=t@example.example", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    target = repo / "config/orgs/bluepeak-analytics.yaml"
    target.write_text(target.read_text().replace("900 seats", "950 seats"))
    doc = drift_json(run(["drift", "--format", "json", "--changed-since", "HEAD"], repo, env))
    assert [o["org_id"] for o in doc["orgs"]] == [360001234502]
    assert doc["orgs"][0]["items"][0]["field"] == "notes"
    bad = run(["drift", "--changed-since", "no-such-ref"], repo, env)
    assert bad.returncode == 2 and "no-such-ref" in bad.stderr


def test_markdown_and_text_formats(servers: tuple[FakeZendesk, FakeZendesk], repo: Path) -> None:
    env = env_for(servers)
    text = run(["drift"], repo, env)
    assert "collaboration_project.id" in text.stdout and "17735786" in text.stdout
    md = run(["drift", "--format", "markdown", "--output", "out/preview.md"], repo, env)
    assert md.returncode == 3
    body = (repo / "out/preview.md").read_text()
    assert "Northwind Logistics" in body and "17735786" in body


def test_report_file_round_trips_through_the_reader(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    proc = run(["drift", "--format", "json", "--output", "r.json"], repo, env_for(servers))
    assert proc.returncode == 3
    report = report_from_json((repo / "r.json").read_text())
    assert report.count(report.orgs[0].status) >= 1
    assert "3 orgs checked" in proc.stderr


def test_import_writes_files_that_validate_and_are_in_sync(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    main.add_org(
        777001,
        "Quartz Orbit GmbH",
        notes="Line one\nLine two\n",
        details="",
        fields={"am_project_id": "5550001", "cmp_id": None, "salesforce_id": "0016100001QZOAAAA1"},
    )
    main.add_user(88001, "Ana Quartz", "Ana@quartz.example", 777001)
    main.add_org(777002, "No AM ID Corp", fields={"am_project_id": ""})
    env = env_for(servers)
    proc = run(["import", "--with-collaboration-project"], repo, env)
    assert proc.returncode == 0, proc.stderr
    assert "already declared" in proc.stderr  # the example orgs are skipped
    written = repo / "config/orgs/quartz-orbit-gmbh.yaml"
    text = written.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert "notes: |\n  Line one\n  Line two\n" in text
    assert "email: ana@quartz.example" in text
    assert "\n  org_id: 777001\n# csm: your-gitlab-username  # the owning CSM" in text
    assert not (repo / "config/orgs/no-am-id-corp.yaml").exists()
    assert run(["validate"], repo, env).returncode == 0
    doc = drift_json(run(["drift", "--format", "json", "--org", "777001"], repo, env))
    assert doc["orgs"][0]["status"] == "in_sync", doc["orgs"][0]
    # A name clash with files of other orgs: never overwritten without --force.
    clash = repo / "config/orgs/no-am-id-corp.yaml"
    clash_2 = repo / "config/orgs/no-am-id-corp-777002.yaml"
    clash.write_text("schema_version: 1\nname: Other\nzendesk: {org_id: 123}\n")
    clash_2.write_text("schema_version: 1\nname: Other 2\nzendesk: {org_id: 124}\n")
    refused = run(["import", "--org", "777002"], repo, env)
    assert refused.returncode == 1
    assert "exists; not overwritten (use --force)" in refused.stderr
    assert "org_id: 124" in clash_2.read_text()
    forced = run(["import", "--org", "777002", "--force"], repo, env)
    assert forced.returncode == 0, forced.stderr
    assert "org_id: 777002" in clash.read_text()
    twice = run(["import", "--org", "777002"], repo, env)
    assert "already declared" in twice.stderr
