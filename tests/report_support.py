"""Helpers of the report-page tests and benchmark: generated drift reports, settings, and
headless Chromium (Debian's, driven by Playwright) sealed off from every network."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from checker.domain.models import DriftItem, DriftKind, DriftReport, OrgDrift, OrgStatus
from checker.report import to_json

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHECKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"

SETTINGS = """\
schema_version: 1
default_instance: global
instances:
  global:
    url: https://support.zendesk.example
  us-gov:
    url: https://support-federal.zendesk.example
gitlab:
  labels: [zendesk-drift]
  repository_url: https://gitlab.example/support/zendesk-orgs
"""
REPO = "https://gitlab.example/support/zendesk-orgs"
CSMS = ("jdoe", "akim", "mrivera", "dpatel")
NOTES_BEFORE = "Escalate P1s to the on-call TAM.\nRegion: EU\nUse the customer portal."
NOTES_AFTER = "Escalate P1s to the on-call TAM.\nRegion: US\nUse the customer portal."


def write_settings(folder: Path) -> Path:
    cfg = folder / "config"
    (cfg / "orgs").mkdir(parents=True, exist_ok=True)
    (cfg / "checker.yaml").write_text(SETTINGS, encoding="utf-8")
    return cfg


def _items(n: int) -> tuple[DriftItem, ...]:
    """A mix of every drift kind, chosen by the org's number."""
    slug = f"org{n}"
    choice = n % 4
    if choice == 0:
        return (DriftItem("collaboration_project.id", DriftKind.CHANGED, 1000 + n, 2000 + n),)
    if choice == 1:
        return (
            DriftItem(
                "support_contacts",
                DriftKind.MISSING_IN_ZENDESK,
                f"ana.{slug}@{slug}.example",
                None,
                item=f"ana.{slug}@{slug}.example",
            ),
            DriftItem(
                "support_contacts",
                DriftKind.UNEXPECTED_IN_ZENDESK,
                None,
                f"bo.{slug}@{slug}.example",
                truth="zendesk",
                item=f"bo.{slug}@{slug}.example",
            ),
        )
    if choice == 2:
        return (DriftItem("notes", DriftKind.CHANGED, NOTES_BEFORE, NOTES_AFTER),)
    return (
        DriftItem(
            "support_contacts",
            DriftKind.CONTACT_NAME_DIFFERS,
            "Casey Wu",
            "Casey Wu-Lin",
            truth="zendesk",
            item=f"casey.{slug}@{slug}.example",
        ),
    )


def org(n: int, status: OrgStatus, **changes: Any) -> OrgDrift:
    instance = "us-gov" if n % 5 == 0 else "global"
    base = OrgDrift(
        org_id=360000000000 + n,
        instance=instance,
        file=f"config/orgs/org-{n:05d}.yaml",
        name=f"Org {n:05d} Ltd",
        status=status,
        items=_items(n) if status is OrgStatus.DRIFTED else (),
        error=(
            "Zendesk answered 503 three times"
            if status is OrgStatus.UNKNOWN
            else "Zendesk has no org with this id"
            if status is OrgStatus.MISSING
            else None
        ),
        csm=CSMS[n % len(CSMS)],
    )
    return replace(base, **changes)


def fleet_report(
    total: int,
    drifting: int,
    *,
    missing: int = 0,
    unknown: int = 0,
    generated_at: str = "2026-11-26T06:00:00Z",
    checked_on: str = "2026-11-26",
) -> DriftReport:
    """``total`` orgs: the first ``drifting`` drifted, then ``missing``, ``unknown``, in sync."""
    orgs = []
    for n in range(total):
        if n < drifting:
            status = OrgStatus.DRIFTED
        elif n < drifting + missing:
            status = OrgStatus.MISSING
        elif n < drifting + missing + unknown:
            status = OrgStatus.UNKNOWN
        else:
            status = OrgStatus.IN_SYNC
        orgs.append(org(n, status))
    return DriftReport(
        orgs=tuple(orgs),
        zendesk_requests=total + total // 100,
        source="live",
        scope="full",
        generated_at=generated_at,
        checked_on=checked_on,
    )


def shards(report: DriftReport, count: int) -> list[DriftReport]:
    """The report cut into ``count`` shard reports, as ``drift --shard i/N`` writes them."""
    return [
        replace(
            report,
            orgs=report.orgs[i::count],
            shard=f"{i + 1}/{count}",
            zendesk_requests=len(report.orgs[i::count]),
        )
        for i in range(count)
    ]


def write(report: DriftReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(report), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the browser


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (make venv installs it)"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is missing (make test installs Debian's chromium)"
    return None


@contextmanager
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's: Playwright downloads no browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Sealed:
    """A page in its own context where every request other than the page's own file is
    recorded and aborted, with console messages and page errors recorded too."""

    def __init__(self, b: Any, page_url: str, **context: Any) -> None:
        self.context = b.new_context(viewport={"width": 1280, "height": 900}, **context)
        self.page = self.context.new_page()
        self.page_file = page_url.split("#", 1)[0]
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.blocked.append(ws.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.split("#", 1)[0] == self.page_file:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_selector("html[data-ready]")
        return self.page

    def close(self) -> None:
        self.context.close()

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if u.split("#", 1)[0] != self.page_file] + self.blocked
