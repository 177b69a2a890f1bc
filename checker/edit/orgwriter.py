"""Rewrite an org file to Zendesk's values: pure text in, text out, only the changed lines differ.

Used for drift whose source of truth is Zendesk: the merge request that adopts the live values
must be reviewable, so comments, key order, quoting and every untouched line stay byte-identical.
The edit goes through ruamel.yaml's round-trip mode; whatever ruamel would reformat elsewhere
(``null`` written as nothing, a byte-order mark, odd spacing) is kept out of the result by
transplanting only the lines the edit changed onto the original text.

This is the only module that writes YAML. It never reads files: callers pass the text.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import LiteralScalarString, ScalarString

from checker.domain.emails import canonical
from checker.domain.models import DriftItem, DriftKind

__all__ = ["Adoption", "OrgWriteError", "adopt"]

_BOM = "\ufeff"


class OrgWriteError(Exception):
    """The file cannot be edited safely (it does not parse, or the edit would reformat it)."""


@dataclass(frozen=True, slots=True)
class Adoption:
    """The rewritten text, and which drift items it adopts or could not adopt (with why)."""

    text: str
    applied: tuple[DriftItem, ...]
    skipped: tuple[tuple[DriftItem, str], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def _represent_none(representer: RoundTripRepresenter, data: None) -> Any:
    # ruamel writes None as an empty value; org files spell it ``null`` (the schema's word).
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never fold a long line the author did not fold
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(type(None), _represent_none)
    return yaml


def _dump(yaml: YAML, doc: Any) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def adopt(old_text: str, items: Sequence[DriftItem]) -> Adoption:
    """``old_text`` with each drift item's live (Zendesk) value written in.

    Items that cannot be expressed in the file (a non-numeric project id, developers without a
    contact management project) are returned as skipped with the reason; the rest are applied.
    Raises :class:`OrgWriteError` when the text does not parse as a mapping.
    """
    bom = old_text.startswith(_BOM)
    body = old_text[1:] if bom else old_text
    yaml = _yaml()
    try:
        doc = yaml.load(body)
    except YAMLError as e:
        raise OrgWriteError(f"the org file does not parse: {e}") from None
    if not isinstance(doc, CommentedMap):
        raise OrgWriteError("the org file is not a mapping")
    baseline = _dump(yaml, doc)
    applied: list[DriftItem] = []
    skipped: list[tuple[DriftItem, str]] = []
    for item in items:
        reason = _apply(doc, item)
        if reason is None:
            applied.append(item)
        else:
            skipped.append((item, reason))
    if not applied:
        return Adoption(old_text, (), tuple(skipped))
    edited = _dump(yaml, doc)
    text = _transplant(body, baseline, edited)
    _check_same_data(yaml, text, edited)
    return Adoption((_BOM if bom else "") + text, tuple(applied), tuple(skipped))


# --------------------------------------------------------------------------- edits


def _same_style(old: object, new: str) -> str:
    """A new string in the quoting style of the value it replaces (``"x"`` stays quoted)."""
    if isinstance(old, ScalarString) and not isinstance(old, LiteralScalarString):
        return type(old)(new)  # type: ignore[no-any-return]
    return new


def _text_value(old: object, value: object) -> object:
    if value is None:
        return None
    text = str(value)
    if "\n" in text:
        # norm_text compares without the final newline; a literal block keeps one, as authors do
        return LiteralScalarString(text.rstrip("\n") + "\n")
    return _same_style(old, text)


def _project_id(doc: CommentedMap, key: str, value: object) -> str | None:
    if value is None:
        doc[key] = None
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"Zendesk holds {value!r}, which is not a project id; the file needs a number"
    section = doc.get(key)
    if isinstance(section, CommentedMap):
        section["id"] = value
    else:
        doc[key] = CommentedMap([("id", value)])
    return None


def _email_index(seq: list[Any], email: str, *, in_maps: bool) -> int | None:
    wanted = canonical(email)
    for i, entry in enumerate(seq):
        value = entry.get("email") if in_maps and isinstance(entry, dict) else entry
        if isinstance(value, str) and canonical(value) == wanted:
            return i
    return None


def _block_seq(parent: CommentedMap, key: str) -> CommentedSeq:
    seq = parent.get(key)
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
        parent[key] = seq
    if not seq:
        seq.fa.set_block_style()  # ``[]`` gains its first entry as a block list
    return seq


def _lists_names(contacts: object) -> bool:
    """Whether the file lists contacts with names: any entry has one, or there is none yet."""
    if not isinstance(contacts, list) or not contacts:
        return True
    return any(isinstance(c, dict) and c.get("name") for c in contacts)


def _apply(doc: CommentedMap, item: DriftItem) -> str | None:
    """Write one item's live value into ``doc``; the reason when it cannot be written."""
    field, kind = item.field, item.kind
    if field in ("notes", "details"):
        doc[field] = _text_value(doc.get(field), item.actual)
        return None
    if field == "salesforce_id":
        doc[field] = None if item.actual is None else _same_style(doc.get(field), str(item.actual))
        return None
    if field == "collaboration_project.id":
        return _project_id(doc, "collaboration_project", item.actual)
    if field == "contact_management_project.id":
        return _project_id(doc, "contact_management_project", item.actual)
    if field == "contact_management_project.developers":
        cmp_ = doc.get("contact_management_project")
        if not isinstance(cmp_, CommentedMap):
            return "the file declares no contact management project to list developers under"
        email = item.item or str(item.expected or item.actual or "")
        if kind is DriftKind.MISSING_IN_ZENDESK:
            devs = cmp_.get("developers")
            index = _email_index(devs, email, in_maps=False) if isinstance(devs, list) else None
            if index is not None:
                del devs[index]
            return None
        if kind is DriftKind.UNEXPECTED_IN_ZENDESK:
            _block_seq(cmp_, "developers").append(email)
            return None
    if field == "support_contacts":
        email = item.item or str(item.expected or item.actual or "")
        contacts = doc.get("support_contacts")
        index = _email_index(contacts, email, in_maps=True) if isinstance(contacts, list) else None
        if kind is DriftKind.MISSING_IN_ZENDESK:
            if index is not None:
                del contacts[index]
            return None
        if kind is DriftKind.UNEXPECTED_IN_ZENDESK:
            if index is None:
                entry = CommentedMap([("email", email)])
                if item.name and _lists_names(contacts):
                    # the contact carries its Zendesk name where the file lists names
                    entry = CommentedMap([("name", item.name), ("email", email)])
                _block_seq(doc, "support_contacts").append(entry)
            return None
        if kind is DriftKind.CONTACT_NAME_DIFFERS:
            if index is None:
                return f"{email} is not listed in the file"
            entry = contacts[index]
            if item.actual is None:
                entry.pop("name", None)
            else:
                entry["name"] = _same_style(entry.get("name"), str(item.actual))
            return None
    return f"no rule to write {field} ({kind.value}) into an org file"


# --------------------------------------------------------------------------- transplant


def _transplant(original: str, baseline: str, edited: str) -> str:
    """Apply the line changes baseline → edited onto ``original``.

    ``baseline`` is ruamel's rendering of the unchanged file, ``edited`` its rendering after the
    edit. Where ruamel renders the original exactly, this is just ``edited``. Where it would
    reformat lines (``~`` written as ``null``, a list indented differently), those lines keep
    their original form unless the edit touches them or sits right next to them: then the
    whole reformatted stretch is taken from ``edited``, so that it stays consistent YAML.
    """
    if baseline == original:
        return edited
    old, base, new = (s.splitlines(keepends=True) for s in (original, baseline, edited))
    align = difflib.SequenceMatcher(None, base, old, autojunk=False).get_opcodes()
    change = difflib.SequenceMatcher(None, base, new, autojunk=False).get_opcodes()
    unaligned = [(i1, i2) for tag, i1, i2, _, _ in align if tag != "equal"]
    regions: list[list[int]] = []
    for tag, i1, i2, _, _ in change:
        if tag == "equal":
            continue
        lo, hi = i1, i2
        grown = True
        while grown:
            grown = False
            for u1, u2 in unaligned:
                # a reformatted block the region overlaps or touches: an insertion next to
                # reformatted lines must be written in the same format as they are
                if u1 <= hi and lo <= u2 and (u1 < lo or u2 > hi):
                    lo, hi, grown = min(lo, u1), max(hi, u2), True
        if regions and lo <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], hi)
        else:
            regions.append([lo, hi])
    out = list(old)
    for lo, hi in reversed(regions):
        replacement = new[_map(change, lo, end=False) : _map(change, hi, end=True)]
        out[_map(align, lo, end=False) : _map(align, hi, end=True)] = replacement
    return "".join(out)


Opcode = tuple[str, int, int, int, int]


def _map(ops: Sequence[Opcode], i: int, *, end: bool) -> int:
    """Line boundary ``i`` of a diff's first text, in its second. A start boundary stays before
    lines inserted there, an end boundary goes after them."""
    for _tag, i1, i2, j1, j2 in reversed(ops) if end else ops:
        if not i1 <= i <= i2:
            continue
        if _tag == "equal":
            return j1 + (i - i1)
        if i == i1 and (i1 != i2 or not end):
            return j1
        if i == i2:
            return j2
        raise OrgWriteError("the edit touches lines the YAML writer would reformat")
    return i


def _check_same_data(yaml: YAML, text: str, edited: str) -> None:
    """The transplanted text must mean what ruamel's own rendering means."""
    try:
        ours, theirs = yaml.load(text), yaml.load(edited)
    except YAMLError as e:  # pragma: no cover - a bug in the transplant
        raise OrgWriteError(f"the edited file does not parse: {e}") from None
    if _plain(ours) != _plain(theirs):
        raise OrgWriteError("the edit could not be applied without reformatting the file")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
