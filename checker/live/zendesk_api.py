"""Zendesk's API as a :class:`~checker.live.port.LiveSource` (through :mod:`checker.live.zendesk`,
the only zenpy importer): credentials checked before any request, one instance after the other."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from checker.domain.models import FetchFailure, LiveOrg, OrgSpec
from checker.domain.settings import Settings
from checker.live.port import LiveRead, LiveState
from checker.live.zendesk import (
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
        with reader(settings, name, credentials[name], share=share) as zendesk:
            try:
                found: Mapping[int, LiveOrg | FetchFailure] = zendesk.fetch(ids, progress, limits)
            except CredentialsRefused as e:
                raise CredentialsRefused(
                    f"{e}; check {credential_variables(name, settings)}"
                ) from None
            requests += zendesk.requests_made
            rate_limited += zendesk.pacer.rate_limited
        for org_id, value in found.items():
            state[(name, org_id)] = value
    return state, requests, rate_limited


@dataclass(frozen=True, slots=True)
class ZendeskSource:
    """Live state read from Zendesk now, with the credentials of every instance needed."""

    settings: Settings
    credentials: Mapping[str, Credentials]

    @property
    def kind(self) -> Literal["live"]:
        return "live"

    def read(
        self,
        specs: Sequence[OrgSpec],
        *,
        share: float,
        progress: Callable[[int], None] | None = None,
        limits: RunLimits | None = None,
    ) -> LiveRead:
        state, requests, rate_limited = fetch_live(
            specs, self.settings, self.credentials, share=share, progress=progress, limits=limits
        )
        return LiveRead(state, requests, rate_limited)


def reader(
    settings: Settings, instance: str, credentials: Credentials, *, share: float
) -> ZendeskReader:
    """A reader of one instance with the settings' concurrency, timeout, retries and paging."""
    return ZendeskReader(
        settings.instance(instance),
        credentials,
        share=share,
        concurrency=settings.max_concurrency,
        timeout=settings.request_timeout,
        retries=settings.retries,
        backoff=settings.retry_backoff,
        max_user_pages=settings.max_user_pages,
    )
