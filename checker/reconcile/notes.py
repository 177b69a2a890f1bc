"""Change notes: what changed between the items a description was written for and now."""

from __future__ import annotations

import re
from collections.abc import Sequence

from checker.domain.models import DriftItem
from checker.reconcile.markers import KIND_CODE, digest, item_fingerprint
from checker.render import inert, tracker

_KIND_FROM_CODE = {code: kind for kind, code in KIND_CODE.items()}


def _named_items(description: str) -> dict[str, str]:
    """Every word of an earlier description by the digest an item fingerprint keeps of it, so
    that an item no longer drifting can be named (the marker keeps no emails)."""
    out: dict[str, str] = {}
    for word in re.split(r"[\s`]+", description):
        word = word.strip(".,;:()[]*|<>\\")
        if word and ("@" in word or word.startswith("user:")):
            out.setdefault(digest(word, 8), word)
    return out


def change_note(
    before: Sequence[str], items: Sequence[DriftItem], old_description: str = ""
) -> str:
    """What changed between the items a description was written for and ``items``."""
    old = {fp.rsplit("/", 1)[0]: fp for fp in before}
    new_lines: list[str] = []
    changed_lines: list[str] = []
    seen: set[str] = set()
    for item in items:
        fp = item_fingerprint(item)
        ident = fp.rsplit("/", 1)[0]
        seen.add(ident)
        if ident not in old:
            new_lines.append(tracker.describe(item))
        elif old[ident] != fp:
            changed_lines.append(tracker.describe(item))
    names = _named_items(old_description)
    gone_lines: list[str] = []
    unnamed: dict[str, int] = {}
    for ident in old:
        if ident in seen:
            continue
        parts = ident.split("/")
        field_name, code, which = parts[0], parts[1] if len(parts) > 1 else "", parts[-1]
        kind = _KIND_FROM_CODE.get(code)
        named = names.get(which) if which != digest(None, 8) else None
        if kind is None or (which != digest(None, 8) and named is None):
            unnamed[field_name] = unnamed.get(field_name, 0) + 1
            continue
        gone_lines.append(tracker.describe(DriftItem(field_name, kind, None, None, item=named)))
    gone_lines += [
        tracker.Inert(inert.inline(f, table=False) + (f" ({n} items)" if n > 1 else " (an item)"))
        for f, n in sorted(unnamed.items())
    ]
    return tracker.note("changed", new=new_lines, changed=changed_lines, gone=sorted(gone_lines))
