"""Helpers of the end-to-end CLI tests: the bundled example served by loopback Zendesk servers,
the environment that points the real CLI at them, and running the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from checker.load.schema import DRIFT_REPORT_SCHEMA, validator
from tests.fakes.zendesk_server import FakeZendesk

ROOT = Path(__file__).resolve().parent.parent

EMAIL, TOKEN, GOV_TOKEN = "bot@example.example", "zd-token-AAAA1111", "gov-oauth-BBBB2222"
FIELD_KEYS = ("am_project_id", "cmp_id", "cmp_developers", "salesforce_id", "support_level")


def seed(server: FakeZendesk, instance: str) -> None:
    """The bundled example snapshot, served live."""
    snap = json.loads((ROOT / "examples" / "snapshot.json").read_text())
    for key in FIELD_KEYS:
        server.add_org_field(key, key)
    for org in snap["orgs"]:
        if org["instance"] != instance:
            continue
        server.add_org(
            org["org_id"],
            org["name"],
            notes=org["notes"],
            details=org["details"],
            fields=org["organization_fields"],
        )
        for c in org["contacts"]:
            server.add_user(c["user_id"], c["name"], c["email"], org["org_id"])


def env_for(servers: tuple[FakeZendesk, FakeZendesk], **extra: str) -> dict[str, str]:
    main, gov = servers
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CHECKER_TODAY": "2026-11-26",
        "ZENDESK_URL": main.url,
        "ZENDESK_EMAIL": EMAIL,
        "ZENDESK_API_TOKEN": TOKEN,
        "ZENDESK_US_GOV_URL": gov.url,
        "ZENDESK_US_GOV_OAUTH_TOKEN": GOV_TOKEN,
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checker", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def drift_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert not list(validator(DRIFT_REPORT_SCHEMA).iter_errors(doc))
    return doc
