"""The port for live Zendesk state: what the drift use case reads, wherever it comes from.

Two implementations: :class:`checker.live.zendesk_api.ZendeskSource` (the API, through
:mod:`checker.live.zendesk`) and :class:`checker.live.snapshot.SnapshotSource` (a snapshot
file). The use case asks a source for the orgs of some specs and never asks which one it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from checker.domain.models import FetchFailure, LiveOrg, OrgSpec
from checker.interrupt import RunLimits

#: live state by (instance, org id): the org, or why it could not be read
LiveState = dict[tuple[str, int], LiveOrg | FetchFailure]


@dataclass(frozen=True, slots=True)
class LiveRead:
    """What a source returned: every spec's org (or failure) and the requests it cost."""

    state: LiveState
    requests: int = 0
    rate_limited: int = 0


class LiveSource(Protocol):
    #: what the report names as its source: "live" (Zendesk now) or "snapshot"
    @property
    def kind(self) -> Literal["live", "snapshot"]: ...

    def read(
        self,
        specs: Sequence[OrgSpec],
        *,
        share: float,
        progress: Callable[[int], None] | None = None,
        limits: RunLimits | None = None,
    ) -> LiveRead:
        """The live state of every spec's org (a key for each spec); ``share`` is the part of
        the account's rate limit this read may use; ``limits`` may stop it early, the orgs not
        read then being unknown."""
        ...
