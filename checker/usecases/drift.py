"""The drift check end to end: choose orgs, read their live state, compare, report.

Sits between the CLI and the modules that do the work; it prints nothing and exits nowhere.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from checker.domain.drift import build_report
from checker.domain.models import DriftReport, OrgSpec
from checker.domain.selection import Shard
from checker.domain.settings import Settings
from checker.interrupt import RunLimits
from checker.live.port import LiveSource, LiveState
from checker.reconcile.reportset import fingerprint


def run_limits(
    settings: Settings, max_minutes: float | None, stop: threading.Event | None
) -> RunLimits:
    """The run's limits: ``--max-minutes`` (or the settings' ``max_run_minutes``) from now."""
    minutes = max_minutes if max_minutes is not None else settings.max_run_minutes
    deadline = time.monotonic() + minutes * 60 if minutes is not None else None
    return RunLimits(stop=stop, deadline=deadline, budget_minutes=minutes)


@dataclass(frozen=True, slots=True)
class DriftCheck:
    """A drift check's outcome: the report, and the live state it compared (the merge request
    preview compares the base's files with the same state)."""

    report: DriftReport
    state: LiveState


def check_drift(
    specs: Sequence[OrgSpec],
    settings: Settings,
    source: LiveSource,
    *,
    today: dt.date,
    scope: str,
    shard: Shard | None,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> DriftCheck:
    """Read the specs' orgs from ``source`` (Zendesk or a snapshot: one port), compare, report."""
    # Shards run at the same time against the same account: each takes its part of the share.
    share = settings.rate_limit_share / (shard.total if shard else 1)
    read = source.read(specs, share=share, progress=progress, limits=limits)
    report = build_report(
        specs,
        read.state,
        settings,
        today,
        zendesk_requests=read.requests,
        zendesk_rate_limited=read.rate_limited,
        source=source.kind,
        scope=scope,
        shard=str(shard) if shard else None,
        generated_at=now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )
    # What produced the report, so that reconcile can refuse it with other settings and leave
    # orgs whose files changed since untouched.
    return DriftCheck(replace(report, fingerprint=fingerprint(settings, specs)), read.state)


def run_drift(
    specs: Sequence[OrgSpec],
    settings: Settings,
    source: LiveSource,
    *,
    today: dt.date,
    scope: str,
    shard: Shard | None,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
) -> DriftReport:
    """:func:`check_drift`'s report alone."""
    return check_drift(
        specs,
        settings,
        source,
        today=today,
        scope=scope,
        shard=shard,
        progress=progress,
        limits=limits,
    ).report
