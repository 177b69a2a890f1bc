"""The pure planner stays pure: importing it loads no vendor client (python-gitlab, requests)."""

from __future__ import annotations

import subprocess
import sys

VENDORS = ("gitlab", "requests", "urllib3", "zenpy")


def _loaded_vendors(module: str) -> list[str]:
    code = (
        f"import sys, {module}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {VENDORS!r}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return [m for m in proc.stdout.strip().strip("[]").replace("'", "").split(", ") if m]


def test_importing_the_planner_loads_no_vendor_client() -> None:
    assert _loaded_vendors("checker.reconcile.plan") == []


def test_the_tracker_types_and_port_load_no_vendor_client() -> None:
    assert _loaded_vendors("checker.tracker.port") == []


def test_the_adapter_is_where_python_gitlab_loads() -> None:
    assert "gitlab" in _loaded_vendors("checker.tracker.gitlab")
