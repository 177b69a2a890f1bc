"""The drift check end to end: choose orgs, read their live state, compare, report.

Sits between the CLI and the modules that do the work; it prints nothing and exits nowhere.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from checker.domain.drift import build_report
from checker.domain.models import DriftReport, FetchFailure, FetchState, LiveOrg, OrgSpec
from checker.domain.selection import Shard
from checker.domain.settings import Settings
from checker.live.snapshot import LiveState
from checker.reportset import fingerprint
from checker.zendesk import (
    Credentials,
    CredentialsMissing,
    CredentialsRefused,
    RunLimits,
    ZendeskReader,
    credential_variables,
    credentials_from_env,
)


def check_credentials(
    specs: Sequence[OrgSpec], settings: Settings, environ: Mapping[str, str]
) -> dict[str, Credentials]:
    """Credentials of every instance the specs need, before any request is made. Raises one
    :class:`CredentialsMissing` naming every missing variable of every instance."""
    found: dict[str, Credentials] = {}
    missing: list[str] = []
    for name in sorted({s.instance for s in specs}):
        try:
            found[name] = credentials_from_env(settings.instance(name), settings, environ)
        except CredentialsMissing as e:
            missing.append(str(e))
    if missing:
        raise CredentialsMissing("; ".join(missing))
    return found


def fetch_live(
    specs: Sequence[OrgSpec],
    settings: Settings,
    credentials: Mapping[str, Credentials],
    *,
    share: float,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
) -> tuple[LiveState, int, int]:
    """Live state of every spec's org, one instance after the other; the requests made and the
    429s received. ``limits`` stop the fetch early (a signal, the time budget): the orgs not
    finished are unknown. Raises CredentialsRefused when an instance refuses the credentials."""
    by_instance: dict[str, list[int]] = defaultdict(list)
    for s in specs:
        by_instance[s.instance].append(s.org_id)
    state: LiveState = {}
    requests = rate_limited = 0
    for name, ids in sorted(by_instance.items()):
        with ZendeskReader(
            settings.instance(name),
            credentials[name],
            share=share,
            concurrency=settings.max_concurrency,
            timeout=settings.request_timeout,
            retries=settings.retries,
            backoff=settings.retry_backoff,
            max_user_pages=settings.max_user_pages,
        ) as reader:
            try:
                found: Mapping[int, LiveOrg | FetchFailure] = reader.fetch(ids, progress, limits)
            except CredentialsRefused as e:
                raise CredentialsRefused(
                    f"{e}; check {credential_variables(name, settings)}"
                ) from None
            requests += reader.requests_made
            rate_limited += reader.pacer.rate_limited
        for org_id, value in found.items():
            state[(name, org_id)] = value
    return state, requests, rate_limited


def run_limits(
    settings: Settings, max_minutes: float | None, stop: threading.Event | None
) -> RunLimits:
    """The run's limits: ``--max-minutes`` (or the settings' ``max_run_minutes``) from now."""
    minutes = max_minutes if max_minutes is not None else settings.max_run_minutes
    deadline = time.monotonic() + minutes * 60 if minutes is not None else None
    return RunLimits(stop=stop, deadline=deadline, budget_minutes=minutes)


def run_drift(
    specs: Sequence[OrgSpec],
    settings: Settings,
    *,
    today: dt.date,
    scope: str,
    shard: Shard | None,
    snapshot: LiveState | None = None,
    credentials: Mapping[str, Credentials] | None = None,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    state_out: dict[tuple[str, int], LiveOrg | FetchFailure] | None = None,
) -> DriftReport:
    """Compare the specs with Zendesk (or a snapshot) and build the report. ``state_out``
    receives the live state compared (for the merge request preview's baseline)."""
    if snapshot is not None:
        absent = FetchFailure(FetchState.UNKNOWN, "this org is not in the snapshot")
        state: LiveState = {s.key: snapshot.get(s.key, absent) for s in specs}
        requests = rate_limited = 0
        source = "snapshot"
    else:
        # Shards run at the same time against the same account: each takes its part of the share.
        share = settings.rate_limit_share / (shard.total if shard else 1)
        state, requests, rate_limited = fetch_live(
            specs, settings, credentials or {}, share=share, progress=progress, limits=limits
        )
        source = "live"
    if state_out is not None:
        state_out.update(state)
    report = build_report(
        specs,
        state,
        settings,
        today,
        zendesk_requests=requests,
        zendesk_rate_limited=rate_limited,
        source=source,
        scope=scope,
        shard=str(shard) if shard else None,
        generated_at=now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )
    # What produced the report, so that reconcile can refuse it with other settings and leave
    # orgs whose files changed since untouched.
    return replace(report, fingerprint=fingerprint(settings, specs))
