"""Keys, hashes and the hidden marker: how the checker finds again what it wrote in GitLab.

Every description the checker writes carries a hidden marker line (its kind, org, the hash of the
drift it was written for, the hash of its body, item fingerprints, people's acknowledgements), and
its section is delimited as :mod:`checker.reconcile.section` says, so that people may write
around it. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from checker.domain.models import DriftItem, DriftKind, OrgStatus
from checker.reconcile import section

OrgKey = tuple[str, int]


Kind = Literal["org", "ops", "adopt", "dashboard"]


MARKER_TAG = "zendesk-drift-checker"


RESOLVED = "resolved"


BRANCH_PREFIX = "checker/adopt/"


_FIELD = r"[a-z]+=[A-Za-z0-9_.,:/~=-]*"


_MARKER_RE = re.compile(rf"<!-- zendesk-drift-checker ({_FIELD}(?: {_FIELD})*) -->")


KIND_CODE = {
    DriftKind.CHANGED: "c",
    DriftKind.MISSING_IN_ZENDESK: "m",
    DriftKind.UNEXPECTED_IN_ZENDESK: "u",
    DriftKind.CONTACT_NAME_DIFFERS: "n",
    DriftKind.CONTACT_SUSPENDED: "s",
}


def key_text(key: OrgKey) -> str:
    return f"{key[0]}/{key[1]}"


def parse_key(text: str) -> OrgKey | None:
    instance, _, org_id = text.rpartition("/")
    if not instance or not org_id.isdigit():
        return None
    return (instance, int(org_id))


def branch_for(key: OrgKey) -> str:
    return f"{BRANCH_PREFIX}{key[0]}-{key[1]}"


def digest(value: Any, size: int = 16) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def content_digest(text: str) -> str:
    """The digest of an org file's text that adopt merge request markers record."""
    return digest(text)


def _item_tuple(i: DriftItem) -> list[Any]:
    return [i.field, i.kind.value, i.item, i.expected, i.actual, i.truth]


def drift_hash(status: OrgStatus, items: Iterable[DriftItem]) -> str:
    """Identifies one state of drift: equal hashes mean nothing changed that needs a note."""
    return digest([status.value, sorted(json.dumps(_item_tuple(i), default=str) for i in items)])


def body_hash(body: str) -> str:
    return digest(body)


def item_fingerprint(i: DriftItem) -> str:
    """``field/kind/which/value``: enough to tell new, changed and gone items apart later,
    without keeping emails or notes in the hidden marker."""
    kind = KIND_CODE.get(i.kind, "x")
    return f"{i.field}/{kind}/{digest(i.item, 8)}/{digest([i.expected, i.actual], 8)}"


@dataclass(frozen=True, slots=True)
class Ack:
    """A person closed ``kind``'s issue or merge request ``iid`` while drift ``drift`` persisted."""

    kind: Kind
    org: OrgKey
    drift: str
    iid: int

    def encode(self) -> str:
        return f"{self.kind}:{key_text(self.org)}:{self.drift}:{self.iid}"

    @classmethod
    def decode(cls, text: str) -> Ack | None:
        parts = text.split(":")
        if len(parts) != 4 or parts[0] not in ("org", "ops", "adopt") or not parts[3].isdigit():
            return None
        key = parse_key(parts[1])
        if key is None:
            return None
        return cls(parts[0], key, parts[2], int(parts[3]))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Marker:
    """The hidden first line of every description the checker writes."""

    kind: Kind
    org: OrgKey | None = None
    drift: str = ""
    body: str = ""
    items: tuple[str, ...] = ()
    acks: tuple[Ack, ...] = ()
    #: the closed issue this one follows (a person closed it; the drift changed since)
    follows: int | None = None

    def render(self) -> str:
        parts = [f"kind={self.kind}"]
        if self.org is not None:
            parts.append(f"org={key_text(self.org)}")
        if self.drift:
            parts.append(f"drift={self.drift}")
        if self.body:
            parts.append(f"body={self.body}")
        if self.items:
            parts.append("items=" + ",".join(self.items))
        if self.acks:
            parts.append("acks=" + ",".join(a.encode() for a in self.acks))
        if self.follows is not None:
            parts.append(f"follows={self.follows}")
        return f"<!-- {MARKER_TAG} {' '.join(parts)} -->"

    @classmethod
    def parse(cls, description: str) -> Marker | None:
        """The marker of the checker's section wherever it sits (see :mod:`.section`),
        or None. Only a line that is exactly a marker counts: outside text, rendered inert, is
        indented or in a code span and can never form one, so it cannot forge a marker."""
        cut = section.split(description, _MARKER_RE)
        if cut is None:
            return None
        m = _MARKER_RE.fullmatch(cut.marker)
        if m is None:
            return None
        fields = dict(p.split("=", 1) for p in m.group(1).split(" "))
        kind = fields.get("kind")
        if kind not in ("org", "ops", "adopt", "dashboard"):
            return None
        org = parse_key(fields["org"]) if "org" in fields else None
        if kind != "dashboard" and org is None:
            return None
        acks = tuple(
            a for a in (Ack.decode(t) for t in fields.get("acks", "").split(",") if t) if a
        )
        return cls(
            kind=kind,  # type: ignore[arg-type]
            org=org,
            drift=fields.get("drift", ""),
            body=fields.get("body", ""),
            items=tuple(t for t in fields.get("items", "").split(",") if t),
            acks=acks,
            follows=int(fields["follows"]) if fields.get("follows", "").isdigit() else None,
        )


def body_of(description: str) -> str:
    """The checker's section of a description, without its marker and end lines."""
    cut = section.split(description, _MARKER_RE)
    return description if cut is None else cut.body


def outside_of(description: str) -> tuple[str, str]:
    """What people wrote above and below the checker's section (all of it when there is no
    section: a description whose marker a person removed is kept whole, above ours)."""
    cut = section.split(description, _MARKER_RE)
    if cut is None:
        return (description.strip("\n"), "")
    return (cut.before, cut.after)


def note_marker(key: str) -> str:
    return f"<!-- {MARKER_TAG} note={key} -->"


def with_marker(marker: Marker, body: str, outside: tuple[str, str] = ("", "")) -> str:
    """A full description: people's text above, the marker (with the body's hash), the body,
    the end line, people's text below."""
    return section.compose(
        replace(marker, body=body_hash(body)).render(), body, outside[0], outside[1]
    )


def key_from_branch(branch: str) -> OrgKey | None:
    rest = branch[len(BRANCH_PREFIX) :]
    instance, _, org_id = rest.rpartition("-")
    return (instance, int(org_id)) if instance and org_id.isdigit() else None
