"""Which orgs a run checks: an org-id list, the changed files, a stable shard."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from checker.domain.models import OrgSpec


class SelectionError(Exception):
    """The orgs to check could not be chosen (a bad --shard or --changed-since)."""


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            i, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise SelectionError(f"--shard {text!r} is not I/N (e.g. 2/4)") from None
        if not 1 <= i <= n:
            raise SelectionError(f"--shard {text!r}: I must be between 1 and N")
        return cls(i, n)

    def holds(self, spec: OrgSpec) -> bool:
        """Stable by org: the same org lands in the same shard on every run."""
        return zlib.crc32(f"{spec.instance}:{spec.org_id}".encode()) % self.total + 1 == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def select(
    specs: Sequence[OrgSpec],
    *,
    org_ids: Sequence[int] = (),
    changed: set[str] | None = None,
    shard: Shard | None = None,
) -> tuple[list[OrgSpec], str]:
    """The specs to check and the report's scope ("full" unless a selection narrowed it)."""
    chosen = list(specs)
    scope = "full"
    if org_ids:
        wanted = set(org_ids)
        unknown = wanted - {s.org_id for s in specs}
        if unknown:
            raise SelectionError(
                "--org " + ", ".join(str(i) for i in sorted(unknown)) + ": no org file declares it"
            )
        chosen = [s for s in chosen if s.org_id in wanted]
        scope = "partial"
    if changed is not None:
        chosen = [s for s in chosen if str(Path(s.path).resolve()) in changed]
        scope = "partial"
    if shard is not None:
        chosen = [s for s in chosen if shard.holds(s)]
    return chosen, scope
