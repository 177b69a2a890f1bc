"""How drift items are presented to people, shared by the terminal table, issues and previews.

A pure step over the drift engine's output (the drift JSON and the items themselves are left as
they are):

* :func:`present` pairs an email missing in Zendesk with one unexpected there that is a small
  edit away from it ("looks like a typo"), so a person reads one item with both fixes instead of
  two unrelated ones;
* :func:`text_diff` shows how two notes or details differ: the differing lines only, in the
  shape of a short unified diff, with whitespace that matters made visible.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from checker.domain.models import TEXT_FIELDS, DriftItem, DriftKind, Scalar

#: an email pair at most this many edits apart (a transposition counts as one) is a typo
TYPO_DISTANCE = 2
#: the most diff lines shown before "… N more lines"
DIFF_LINES = 24
#: list fields whose items are emails
EMAIL_FIELDS = ("support_contacts", "contact_management_project.developers")


@dataclass(frozen=True, slots=True)
class TypoPair:
    """An email in the file and an email in Zendesk that look like the same one mistyped."""

    missing: DriftItem  # in the file, not in Zendesk
    unexpected: DriftItem  # in Zendesk, not in the file

    @property
    def field(self) -> str:
        return self.missing.field

    @property
    def in_file(self) -> str:
        return str(self.missing.item or self.missing.expected)

    @property
    def in_zendesk(self) -> str:
        return str(self.unexpected.item or self.unexpected.actual)


Presented = DriftItem | TypoPair


def edit_distance(a: str, b: str, limit: int = TYPO_DISTANCE) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours),
    or ``limit + 1`` once it is certain to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


_DIGITS = re.compile(r"\d")


def typo_distance(a: str, b: str) -> int | None:
    """The edit distance of two emails when one looks like a typo of the other, else None.

    Short addresses are a few edits from many others, so the allowance grows with the local
    part (one edit per four characters, at most :data:`TYPO_DISTANCE`); addresses that differ
    only in digits (``user1``, ``user2``) are different people."""
    a, b = a.strip().lower(), b.strip().lower()
    shortest = min(len(a.split("@")[0]), len(b.split("@")[0]))
    allowed = min(TYPO_DISTANCE, shortest // 4)
    if allowed == 0 or _DIGITS.sub("", a) == _DIGITS.sub("", b):
        return None
    d = edit_distance(a, b, allowed)
    return d if 0 < d <= allowed else None


def _is_email_item(item: DriftItem) -> bool:
    return item.field in EMAIL_FIELDS and item.item is not None and "@" in item.item


def typo_pairs(items: Sequence[DriftItem]) -> list[TypoPair]:
    """Missing/unexpected email pairs of the same field within :data:`TYPO_DISTANCE`, closest
    first; each item is in at most one pair."""
    missing = [i for i in items if i.kind is DriftKind.MISSING_IN_ZENDESK and _is_email_item(i)]
    unexpected = [
        i for i in items if i.kind is DriftKind.UNEXPECTED_IN_ZENDESK and _is_email_item(i)
    ]
    candidates: list[tuple[int, str, str, DriftItem, DriftItem]] = []
    for m in missing:
        for u in unexpected:
            if m.field != u.field:
                continue
            d = typo_distance(str(m.item), str(u.item))
            if d is not None:
                candidates.append((d, str(m.item), str(u.item), m, u))
    candidates.sort(key=lambda c: c[:3])
    used: set[int] = set()
    pairs: list[TypoPair] = []
    for _, _, _, m, u in candidates:
        if id(m) in used or id(u) in used:
            continue
        used.update((id(m), id(u)))
        pairs.append(TypoPair(m, u))
    return pairs


def present(items: Sequence[DriftItem]) -> list[Presented]:
    """The items as a person reads them: each typo pair in place of its missing item, its
    unexpected item left out; everything else as it is, in order."""
    pairs = typo_pairs(items)
    by_missing = {id(p.missing): p for p in pairs}
    paired_unexpected = {id(p.unexpected) for p in pairs}
    out: list[Presented] = []
    for item in items:
        if id(item) in by_missing:
            out.append(by_missing[id(item)])
        elif id(item) not in paired_unexpected:
            out.append(item)
    return out


def paired_items(items: Sequence[DriftItem]) -> set[int]:
    """``id()`` of every item that is part of a typo pair."""
    return {id(i) for p in typo_pairs(items) for i in (p.missing, p.unexpected)}


# --------------------------------------------------------------------------- text


def is_text_item(item: DriftItem) -> bool:
    """Notes and details whose difference is best shown as a diff of lines."""
    return (
        item.field in TEXT_FIELDS
        and item.kind is DriftKind.CHANGED
        and isinstance(item.expected, str)
        and isinstance(item.actual, str)
    )


_MARKED_SPACE = re.compile(r"^ +| +$| {2,}")
_ODD_SPACE = re.compile(r"[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]")

#: the legend shown above a diff
DIFF_LEGEND = "- the file, + Zendesk; · a space that matters, → a tab"


def visible_whitespace(line: str) -> str:
    """Spaces that a reader could not count (leading, trailing, runs) as ``·``, tabs as ``→``,
    other space characters as ``<U+00A0>``; single spaces between words stay as they are."""
    line = line.replace("\t", "→")
    line = _ODD_SPACE.sub(lambda m: f"<U+{ord(m.group()):04X}>", line)
    return _MARKED_SPACE.sub(lambda m: "·" * len(m.group()), line)


def text_diff(expected: Scalar, actual: Scalar, *, limit: int = DIFF_LINES) -> list[str]:
    """The differing lines of two texts: ``-`` lines from the file, ``+`` lines from Zendesk,
    one line of context around each change, ``…`` between distant changes."""
    old = "" if expected is None else str(expected)
    new = "" if actual is None else str(actual)
    a, b = old.split("\n"), new.split("\n")
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(1):
        if out:
            out.append("…")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend("  " + visible_whitespace(x) for x in a[i1:i2])
                continue
            out.extend("- " + visible_whitespace(x) for x in a[i1:i2])
            out.extend("+ " + visible_whitespace(x) for x in b[j1:j2])
    if len(out) > limit:
        rest = len(out) - limit + 1
        out = [*out[: limit - 1], f"… {rest} more lines"]
    return [line.rstrip() for line in out]
