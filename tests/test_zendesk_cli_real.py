"""The CLI against Zendesk as it really behaves: refused credentials, Ctrl-C and SIGTERM on a
real subprocess, the run's time budget, userinfo in URLs, and import of members that cannot be
listed as they are (no email, suspended) or are not contacts at all (staff)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_support import EMAIL, drift_json, env_for, run
from tests.fakes.zendesk_server import FakeZendesk

ORGS = {360001234501, 360001234502, 9100042}


def test_refused_credentials_exit_2_naming_the_instance_and_variables(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    env = env_for(servers, ZENDESK_API_TOKEN="wrong-token-0000")
    proc = run(["drift", "--format", "json", "--output", "report.json"], repo, env)
    assert proc.returncode == 2, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("checker:")]
    assert "refused the credentials of instance 'global'" in line
    assert "ZENDESK_EMAIL and ZENDESK_API_TOKEN (or ZENDESK_OAUTH_TOKEN)" in line
    assert "wrong-token-0000" not in proc.stderr
    assert not (repo / "report.json").exists()


def test_userinfo_in_zendesk_url_is_never_published(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    url = main.url.replace("http://", "http://someone:hunter22@")
    proc = run(["drift", "--format", "json"], repo, env_for(servers, ZENDESK_URL=url))
    assert proc.returncode == 3, proc.stderr
    assert "hunter22" not in proc.stdout + proc.stderr
    assert {o["status"] for o in drift_json(proc)["orgs"]} <= {"in_sync", "drifted"}


def test_the_run_budget_marks_the_rest_unknown_and_writes_the_report(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    for server in servers:
        server.set_latency(1.0)
    proc = run(
        ["drift", "--format", "json", "--output", "r.json", "--max-minutes", "0.005"],
        repo,
        env_for(servers),
    )
    assert proc.returncode == 4, proc.stderr
    doc = json.loads((repo / "r.json").read_text())
    unknown = [o for o in doc["orgs"] if o["status"] == "unknown"]
    assert unknown and all("time budget of 0.005 minutes" in o["error"] for o in unknown)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_and_writes_a_partial_report(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path, signum: int, code: int
) -> None:
    main, gov = servers
    for server in servers:
        server.set_latency(30.0)  # every request hangs: only the signal can end the run
    proc = subprocess.Popen(
        [sys.executable, "-m", "checker", "drift", "--format", "json", "--output", "r.json"],
        cwd=repo,
        env=env_for(servers),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (main.max_in_flight or gov.max_in_flight):  # a request is under way
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "interrupted" in err
    doc = json.loads((repo / "r.json").read_text())
    assert {o["org_id"] for o in doc["orgs"]} == ORGS
    assert {o["status"] for o in doc["orgs"]} == {"unknown"}
    assert all("interrupted" in o["error"] for o in doc["orgs"])


def test_import_of_staff_suspended_and_members_without_email_is_in_sync_right_after(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    main.add_org(777001, "Quartz Orbit GmbH", fields={"am_project_id": "5550001"})
    main.add_user(88001, "Ana Quartz", "ana@quartz.example", 777001)
    main.add_user(88002, "Phone Only", None, 777001)
    main.add_user(88003, "Sam Suspended", "sam@quartz.example", 777001, suspended=True)
    main.add_user(88004, "Agent Smith", EMAIL, 777001, role="agent")
    env = env_for(servers)
    proc = run(["import", "--org", "777001"], repo, env)
    assert proc.returncode == 0, proc.stderr
    text = (repo / "config/orgs/quartz-orbit-gmbh.yaml").read_text()
    assert "ana@quartz.example" in text and "sam@quartz.example" in text
    assert EMAIL not in text  # staff are never contacts
    assert "value: user:88002" in text and "value: sam@quartz.example" in text
    assert run(["validate"], repo, env).returncode == 0
    check = run(["drift", "--format", "json", "--org", "777001"], repo, env)
    assert check.returncode == 0, check.stdout
    [org] = drift_json(check)["orgs"]
    assert org["status"] == "in_sync"
    assert {i["item"] for i in org["suppressed"]} == {"user:88002", "sam@quartz.example"}


def test_import_search_reads_every_match(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    for i in range(3):
        main.add_org(778000 + i, f"Searchable {i}", tags=["newcustomer"])
    proc = run(["import", "--search", "tags:newcustomer"], repo, env_for(servers))
    assert proc.returncode == 0, proc.stderr
    assert len(list((repo / "config/orgs").glob("searchable-*.yaml"))) == 3
    assert main.count(r"/search/export") == 1 and main.count(r"/search\.json") == 0
