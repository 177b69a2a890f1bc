"""A fast index of what the rules across files compare: each org file's org id, instance and
Salesforce id (the file name comes from its path).

Validating a few files of a large repository must still compare them with every other file, but
reading all of those through the YAML parser and the schema costs 30 times more than reading
their identity. :func:`scan_keys` reads it from the raw bytes for files in the plain shape every
org file has (top-level keys at column 0, a ``zendesk:`` block of simple ``key: value`` lines);
for anything else it answers ``None`` and the caller checks that file in full.

Its promise, which ``tests/test_partial_validate.py`` tests against the full reader: whenever the
full check of a file finds an identity (the file loads, and ``zendesk.org_id`` is an integer),
the scan finds the same org id, instance and Salesforce id, or answers ``None``. The scan may
find keys in a file the full check would refuse (a YAML error further down); the caller confirms
every file whose scanned keys collide with a checked file's by checking it in full, so such a
file never produces a finding of its own.

Why reading column-0 lines is enough: when the first content line is ``key:`` at column 0, the
document's root is a block mapping at indentation 0, so in a file that loads, every real
top-level key is on a column-0 line, and a column-0 line is a key, a comment, an item of a
sequence written at column 0, or the continuation of a quoted scalar or flow collection (which
a lenient parser allows). Continuations can only *add* lines that look like keys: a key seen
twice makes the scan give up, a key seen once is the real one or one the full check does not
have (then the confirmation check settles it).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from checker.load.settings import display_path
from checker.load.yamlload import MAX_FILE_BYTES, resolve_plain

# The patterns run on the file's bytes with a line break put in front, so that "a line starting
# with" is a literal "\n" the regex engine can look for quickly (``^`` with MULTILINE is 5 times
# slower on these files).
#: the first content line (after blank and comment lines) is a plain key at column 0
_FIRST = re.compile(rb"(?:\n[ ]*(?:#[^\n]*)?)*\n[A-Za-z_][A-Za-z0-9_-]*:(?:[ ]|\n|\Z)")
#: a column-0 line that is none of: a plain key, a sequence item, a comment, indented, blank
_ODD_TOP = re.compile(rb"\n(?![A-Za-z_][A-Za-z0-9_-]*:(?:[ ]|\n|\Z)|-(?:[ ]|\n|\Z)|#|[ ]|\n|\Z)")
_TOP = re.compile(rb"\n(zendesk|salesforce_id):([^\n]*)")
#: where a top-level value ends: the next column-0 line that is not a comment
_NEXT_TOP = re.compile(rb"\n[^ #\n]")
#: indented content that is not a comment
_INDENTED = re.compile(rb"\n[ ]+[^ #\n]")
#: a one-line value: 'single' (no quote inside), "double" (no quote or escape), or a plain word;
#: then an optional comment
_VALUE = (
    rb"(?:[ ]+(?:'([ -&(-~]*)'|\"([ !#-\[\]-~]*)\"|([A-Za-z0-9._+~-]+)))?[ ]*(?:(?<=[ ])#[^\n]*)?"
)
_REST = re.compile(_VALUE)
#: ``zendesk: {org_id: 1, instance: x}`` on one line: the opening brace, then entries
_FLOW_OPEN = re.compile(rb"[ ]+\{[ ]*")
_FLOW_ENTRY = re.compile(
    rb"([A-Za-z_][A-Za-z0-9_-]*):[ ]+(?:'([ -&(-~]*)'|\"([ !#-\[\]-~]*)\"|([A-Za-z0-9._+~-]+))"
    rb"[ ]*(?:(,)[ ]*|\})"
)
_FLOW_CLOSE = re.compile(rb"\}")
_FLOW_END = re.compile(rb"[ ]*(?:(?<=[ ])#[^\n]*)?")
_ENTRY = re.compile(rb"([ ]*)([A-Za-z_][A-Za-z0-9_-]*):" + _VALUE)
_BOM = b"\xef\xbb\xbf"
_DECIMAL = re.compile(r"[1-9][0-9]{0,17}")
#: every letters-and-digits scalar that YAML 1.2 reads as something else than text (a superset:
#: ints in bases 2, 8, 10 and 16, floats with an exponent, booleans and null)
_NUMBER_OR_WORD = re.compile(r"[0-9]+(?:[eE][0-9]*)?|0[bBoOxX][0-9a-fA-F]*|(?i:true|false|null)")


@dataclass(frozen=True, slots=True)
class Keys:
    """A file's identity for the rules across files, as the full check would find it."""

    org_id: int | None
    instance: str
    salesforce_id: str | None


_Value = tuple[str, bool] | None  # (text, plain?) or None for an empty value


def _value(match: re.Match[bytes], first_group: int) -> _Value:
    single, double, plain = match.group(first_group, first_group + 1, first_group + 2)
    if plain is not None:
        return plain.decode("ascii"), True
    quoted = single if single is not None else double
    return (quoted.decode("ascii"), False) if quoted is not None else None


def _data(value: _Value) -> object:
    """The value as the full reader's JSON view holds it (dates become ISO strings)."""
    if value is None:
        return None
    text, plain = value
    if not plain:
        return text
    # Two shortcuts past YAML's resolver (the scan's hot spot), each giving what it would:
    if _DECIMAL.fullmatch(text):  # a decimal integer well inside 64 bits
        return int(text)
    if text.isalnum() and not _NUMBER_OR_WORD.fullmatch(text):  # letters and digits: text
        return text
    data = resolve_plain(text)[0]
    return data.isoformat() if isinstance(data, dt.date) else data


def scan_keys(raw: bytes, default_instance: str) -> Keys | None:
    """The identity of an org file read from its bytes, or None when it is not in the plain
    shape this reader understands exactly (the caller then checks the file in full)."""
    if len(raw) > MAX_FILE_BYTES:
        return Keys(None, default_instance, None)  # refused by the reader: no identity
    raw = b"\n" + raw.removeprefix(_BOM)
    if b"\t" in raw or b"\r" in raw or not _FIRST.match(raw) or _ODD_TOP.search(raw):
        return None
    zendesk: re.Match[bytes] | None = None
    salesforce: re.Match[bytes] | None = None
    for m in _TOP.finditer(raw):
        if m[1] == b"zendesk":
            if zendesk is not None:
                return None
            zendesk = m
        else:
            if salesforce is not None:
                return None
            salesforce = m
    org_id: int | None = None
    instance = default_instance
    if zendesk is not None:
        found = _zendesk_block(raw, zendesk)
        if found is None:
            return None
        org_id, instance_value = found
        if isinstance(instance_value, str):
            instance = instance_value
    sf: str | None = None
    if salesforce is not None:
        rest = _REST.fullmatch(salesforce[2])
        if rest is None or _INDENTED.search(_block(raw, salesforce.end())):
            return None
        value = _data(_value(rest, 1))
        sf = value if isinstance(value, str) else None
    return Keys(org_id, instance, sf)


def _block(raw: bytes, start: int) -> bytes:
    """The lines after a top-level key's line, up to the next top-level line."""
    nxt = _NEXT_TOP.search(raw, start)
    return raw[start : nxt.start() if nxt else len(raw)]


def _zendesk_block(raw: bytes, key: re.Match[bytes]) -> tuple[int | None, object] | None:
    """(org_id, instance value) of a ``zendesk:`` block of simple entries; None otherwise."""
    block = _block(raw, key.end())
    own_line = _REST.fullmatch(key[2])
    if own_line is None:
        entries = _flow_entries(key[2])
        if entries is None or _INDENTED.search(block):
            return None
        return _zendesk_values(entries)
    if _value(own_line, 1) is not None:
        return None  # a value on the key's own line (null, a word): read in full
    indent: int | None = None
    entries = {}
    for line in block.split(b"\n"):
        stripped = line.lstrip(b" ")
        if not stripped or stripped.startswith(b"#"):
            continue
        entry = _ENTRY.fullmatch(line)
        if entry is None or entry[2] in entries:
            return None
        if indent is None:
            indent = len(entry[1])
        elif len(entry[1]) != indent:
            return None  # nested or continued values: not the plain shape
        entries[entry[2]] = _value(entry, 3)
    return _zendesk_values(entries)


def _flow_entries(text: bytes) -> dict[bytes, _Value] | None:
    """The entries of a one-line flow mapping of simple values; None for anything else."""
    opening = _FLOW_OPEN.match(text)
    if opening is None:
        return None
    entries: dict[bytes, _Value] = {}
    pos = opening.end()
    closing = _FLOW_CLOSE.match(text, pos)
    while closing is None:
        entry = _FLOW_ENTRY.match(text, pos)
        if entry is None or entry[1] in entries:
            return None
        entries[entry[1]] = _value(entry, 2)
        pos = entry.end()
        if entry[5] is None:  # the closing brace ended the entry
            break
        closing = _FLOW_CLOSE.match(text, pos)
        if closing is not None:
            return None  # "{a: 1, }": valid, but rare enough to read in full
    else:
        pos = closing.end()
    return entries if _FLOW_END.fullmatch(text, pos) else None


def _zendesk_values(entries: dict[bytes, _Value]) -> tuple[int | None, object]:
    org_id = _data(entries.get(b"org_id"))
    return (
        org_id if type(org_id) is int else None,
        _data(entries.get(b"instance")),
    )


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One org file in the index: where it is, how reports name it, its scanned keys."""

    path: Path
    shown: str
    keys: Keys | None  # None: not in the plain shape, check it in full


def read_keys(path: Path, default_instance: str) -> Keys | None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            # os.read of the file's size: a buffered read(MAX_FILE_BYTES) allocates 1 MiB per file
            raw = os.read(fd, min(os.fstat(fd).st_size, MAX_FILE_BYTES) + 1)
        finally:
            os.close(fd)
    except OSError:
        return Keys(None, default_instance, None)  # unreadable: the full check has no identity
    return scan_keys(raw, default_instance)


def display_paths(files: Sequence[Path]) -> list[str]:
    """``display_path`` of every file, resolving each folder once instead of every file (a
    file that is a symbolic link is resolved on its own, as ``display_path`` would)."""
    folders: dict[Path, str] = {}
    out: list[str] = []
    for f in files:
        if os.path.islink(f):
            out.append(display_path(f))
            continue
        prefix = folders.get(f.parent)
        if prefix is None:
            shown = display_path(f.parent)
            prefix = folders[f.parent] = "" if shown == "." else shown.rstrip("/") + "/"
        out.append(prefix + f.name)
    return out
