"""The words for each kind of drift, defined once for every output.

Two registers: the short word of the tables (``checker drift``'s text, the merge request
preview) and the label of the prose (issues, the report page), which says "different value"
where a table cell says "changed".
"""

from __future__ import annotations

from dataclasses import dataclass

from checker.domain.models import DriftKind


@dataclass(frozen=True, slots=True)
class KindWords:
    short: str
    label: str


KIND_WORDS: dict[DriftKind, KindWords] = {
    DriftKind.CHANGED: KindWords("changed", "different value"),
    DriftKind.MISSING_IN_ZENDESK: KindWords("missing in Zendesk", "missing in Zendesk"),
    DriftKind.UNEXPECTED_IN_ZENDESK: KindWords("unexpected in Zendesk", "unexpected in Zendesk"),
    DriftKind.CONTACT_NAME_DIFFERS: KindWords("contact name differs", "contact name differs"),
    DriftKind.CONTACT_SUSPENDED: KindWords(
        "contact suspended in Zendesk", "contact suspended in Zendesk"
    ),
}
#: an email that differs by a typo between the file and Zendesk (one row, not two)
TYPO_WORD = "looks like a typo"


def _words(kind: str) -> KindWords | None:
    try:
        return KIND_WORDS.get(DriftKind(kind))
    except ValueError:
        return None


def kind_word(kind: str) -> str:
    """A drift kind in a table's words (a kind added later reads as its name)."""
    words = _words(kind)
    return words.short if words else kind.replace("_", " ")


def kind_label(kind: str) -> str:
    """A drift kind in prose's words (a kind added later reads as its name)."""
    words = _words(kind)
    return words.label if words else kind.replace("_", " ")
