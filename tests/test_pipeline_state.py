"""The pipeline proof's fixtures (tests/pipeline/*.json) still mean what its tests
(tests/pipeline/test_*.py, run by `make pipeline`) expect of them, checked in seconds without
gitlab-ci-local: one example org in sync, one drifted, one whose contacts differ; the fake
GitLab seed holds the merge request the preview job comments on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk

from .conftest import ROOT
from .pipeline.support import BLUEPEAK_ANCHOR

STATE = ROOT / "tests" / "pipeline"
SETUP = ROOT / "ci" / "pipeline-setup.sh"
EMAIL, TOKEN, GOV_TOKEN = "checker-bot@support.example", "zd-fake-global-1", "zd-fake-gov-22"
TODAY = "2026-06-01"  # the proof's CHECKER_TODAY

NORTHWIND, BLUEPEAK, HARBOR = 360001234501, 360001234502, 9100042


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STATE / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("proof") / "drift.json"
    with (
        FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=100_000) as main,
        FakeZendesk(email=EMAIL, token=GOV_TOKEN, rate_limit=100_000) as gov,
    ):
        main.load_state(_load("zendesk-state.json"))
        gov.load_state(_load("zendesk-us-gov-state.json"))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ZENDESK_", "GITLAB_", "CHECKER_"))
        }
        env.update(
            ZENDESK_URL=main.url,
            ZENDESK_EMAIL=EMAIL,
            ZENDESK_API_TOKEN=TOKEN,
            ZENDESK_US_GOV_URL=gov.url,
            ZENDESK_US_GOV_EMAIL=EMAIL,
            ZENDESK_US_GOV_API_TOKEN=GOV_TOKEN,
            CHECKER_TODAY=TODAY,
        )
        done = subprocess.run(
            [sys.executable, "-m", "checker", "drift", "--format", "json", "--output", str(out)],
            cwd=ROOT / "examples",  # the bundled examples, laid out as an adopting repository
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 3, done.stderr
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def _org(report: dict[str, Any], org_id: int) -> dict[str, Any]:
    (org,) = [o for o in report["orgs"] if o["org_id"] == org_id]
    return org


def _items(org: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {(i["field"], i["kind"], i["item"]) for i in org["items"]}


def test_statuses_are_the_mix_the_proof_expects(report: dict[str, Any]) -> None:
    statuses = {o["org_id"]: o["status"] for o in report["orgs"]}
    assert statuses == {NORTHWIND: "in_sync", BLUEPEAK: "drifted", HARBOR: "drifted"}


def test_bluepeak_drifted_in_repo_owned_fields(report: dict[str, Any]) -> None:
    org = _org(report, BLUEPEAK)
    assert _items(org) == {
        ("collaboration_project.id", "changed", None),
        ("notes", "changed", None),
    }
    assert {i["truth"] for i in org["items"]} == {"repo"}
    assert {(i["field"], i["item"]) for i in org["suppressed"]} == {
        ("support_contacts", "ci-bot@bluepeak.example"),
        ("details", None),
    }


def test_harbor_contacts_differ_both_ways(report: dict[str, Any]) -> None:
    org = _org(report, HARBOR)
    assert _items(org) == {
        ("support_contacts", "missing_in_zendesk", "casey.wu@harbor-federal.example"),
        ("support_contacts", "unexpected_in_zendesk", "riley.chen@harbor-federal.example"),
    }
    assert org["instance"] == "us-gov"


def test_gitlab_seed_holds_the_open_merge_request() -> None:
    seed = _load("gitlab-state.json")
    seed.pop("_comment")
    server = FakeGitLab()
    server.load_state(seed)
    (mr,) = server.merge_requests
    assert (mr["iid"], mr["state"], mr["notes"]) == (1, "opened", [])
    assert {u["username"] for u in seed["users"]} >= {"akim", "dpatel", "mrivera"}


def test_the_proof_can_still_edit_the_bluepeak_file() -> None:
    """Scenario 4 adds a contact after this line of the example file."""
    path = ROOT / "examples" / "config" / "orgs" / "bluepeak-analytics.yaml"
    assert BLUEPEAK_ANCHOR in path.read_text(encoding="utf-8")


def test_every_csm_of_the_examples_is_a_gitlab_user() -> None:
    users = {u["username"] for u in _load("gitlab-state.json")["users"]}
    for path in sorted((ROOT / "examples" / "config" / "orgs").glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("csm:"):
                assert line.split(":", 1)[1].strip() in users, path.name


def test_setup_script_is_strict_bash() -> None:
    text = SETUP.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(SETUP, os.X_OK)


def test_tools_ci_local_pins_gitlab_ci_local() -> None:
    tools = ROOT / "tools" / "ci-local"
    package = json.loads((tools / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((tools / "package-lock.json").read_text(encoding="utf-8"))
    assert package["dependencies"] == {"gitlab-ci-local": "4.60.0"}
    assert lock["packages"]["node_modules/gitlab-ci-local"]["version"] == "4.60.0"
    readme = (ROOT / "tests" / "data" / "README.md").read_text(encoding="utf-8")
    assert "4.60.0" in readme


@pytest.mark.parametrize("name", ["zendesk-state.json", "zendesk-us-gov-state.json"])
def test_zendesk_states_load(name: str) -> None:
    server = FakeZendesk()
    server.load_state(_load(name))
    assert server.dump_state()["orgs"]
