"""Live state ↔ a versioned JSON snapshot, so a drift report can be reproduced offline."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from checker.domain.models import FetchFailure, FetchState, LiveContact, LiveOrg, OrgSpec
from checker.interrupt import RunLimits
from checker.live.port import LiveRead, LiveState
from checker.load.schema import SNAPSHOT_SCHEMA, validator

SNAPSHOT_VERSION = 1


class SnapshotError(Exception):
    """A snapshot file that cannot be used: its one-line reason."""


def to_dict(
    state: Mapping[tuple[str, int], LiveOrg | FetchFailure], taken_at: str
) -> dict[str, Any]:
    orgs: list[dict[str, Any]] = []
    for (instance, org_id), value in sorted(state.items()):
        if isinstance(value, FetchFailure):
            orgs.append(
                {
                    "instance": instance,
                    "org_id": org_id,
                    "state": value.state.value,
                    "error": value.message,
                }
            )
            continue
        orgs.append(
            {
                "instance": instance,
                "org_id": org_id,
                "state": "found",
                "name": value.name,
                "notes": value.notes,
                "details": value.details,
                "organization_fields": dict(value.fields),
                "contacts": [_contact(c) for c in value.contacts],
            }
        )
    return {"schema_version": SNAPSHOT_VERSION, "taken_at": taken_at, "orgs": orgs}


def _contact(c: LiveContact) -> dict[str, Any]:
    out: dict[str, Any] = {"email": c.email, "name": c.name, "user_id": c.user_id}
    # Written only when they differ from a contact's defaults, so older snapshots read the same.
    if c.role != "end-user":
        out["role"] = c.role
    if c.suspended:
        out["suspended"] = True
    return out


def to_json(state: Mapping[tuple[str, int], LiveOrg | FetchFailure], taken_at: str) -> str:
    return json.dumps(to_dict(state, taken_at), indent=2, ensure_ascii=False) + "\n"


def from_json(text: str) -> LiveState:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise SnapshotError(f"not JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise SnapshotError("not usable: nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != SNAPSHOT_VERSION:
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        raise SnapshotError(f"snapshot schema_version {version!r} is not {SNAPSHOT_VERSION}")
    error = next(iter(validator(SNAPSHOT_SCHEMA).iter_errors(doc)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise SnapshotError(f"invalid snapshot at {where}: {error.message}")
    state: LiveState = {}
    for o in doc["orgs"]:
        key = (o["instance"], o["org_id"])
        if key in state:
            raise SnapshotError(f"org {o['org_id']} on {o['instance']!r} appears twice")
        if o["state"] != "found":
            state[key] = FetchFailure(FetchState(o["state"]), o.get("error") or o["state"])
            continue
        state[key] = LiveOrg(
            instance=o["instance"],
            org_id=o["org_id"],
            name=o.get("name") or "",
            notes=o.get("notes"),
            details=o.get("details"),
            fields=tuple(sorted(o.get("organization_fields", {}).items())),
            contacts=tuple(
                LiveContact(
                    email=c["email"],
                    name=c.get("name"),
                    user_id=c.get("user_id"),
                    role=c.get("role", "end-user"),
                    suspended=c.get("suspended", False),
                )
                for c in o.get("contacts", [])
            ),
        )
    return state


@dataclass(frozen=True, slots=True)
class SnapshotSource:
    """A snapshot file's state as a :class:`~checker.live.port.LiveSource`: read at once, no
    requests; an org the snapshot does not hold is unknown (never in sync, never missing)."""

    state: Mapping[tuple[str, int], LiveOrg | FetchFailure]

    @property
    def kind(self) -> Literal["snapshot"]:
        return "snapshot"

    def read(
        self,
        specs: Sequence[OrgSpec],
        *,
        share: float,
        progress: Callable[[int], None] | None = None,
        limits: RunLimits | None = None,
    ) -> LiveRead:
        absent = FetchFailure(FetchState.UNKNOWN, "this org is not in the snapshot")
        return LiveRead({s.key: self.state.get(s.key, absent) for s in specs})


def read_snapshot(path: Path) -> SnapshotSource:
    """The snapshot file as a live source; SnapshotError naming the file when it is unusable."""
    try:
        return SnapshotSource(from_json(path.read_text(encoding="utf-8")))
    except (SnapshotError, OSError, UnicodeDecodeError) as e:
        raise SnapshotError(f"{path}: {e}") from None
