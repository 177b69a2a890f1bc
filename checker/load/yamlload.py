"""The one safe, position-keeping YAML reader of the product.

Files come from many hands, so this reader is strict where YAML is lenient: it refuses anchors and
aliases (alias bombs), explicit tags, duplicate keys, non-string keys, several documents in one
file, tabs in indentation, non-UTF-8 bytes and files over the size limit (before parsing). Plain
scalars are resolved by YAML 1.2 rules, so ``no`` and ``on`` stay strings.

It walks the event stream of ruamel.yaml's parser (the C parser from ruamel.yaml.clib when it is
installed: scanning is where the time goes on small files) and builds plain Python values plus a
map from each value's path to its position, so every later error can point at a line and column.
Over 400 lines by reason: the refusals, the positions and the YAML 1.2 scalar rules are one
pass over one event stream. Round-trip editing of files lives elsewhere
(``checker.orgwriter``); this module never writes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from checker.load import yamlhints

MAX_FILE_BYTES = 1024 * 1024
#: an org file nests four levels; far deeper nesting is an attack on the reader's stack
MAX_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Pos:
    """1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """Why a file could not be read as data: a rule id, a message and where."""

    rule: str
    message: str
    line: int = 1
    column: int = 1


class YamlLoadError(Exception):
    """Raised by :func:`load_yaml` with every problem that stopped the file from loading."""

    def __init__(self, problems: list[LoadProblem]) -> None:
        super().__init__(problems[0].message if problems else "cannot load")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Loaded:
    """A loaded YAML document.

    ``data`` holds plain values (dict, list, str, int, float, bool, None, datetime.date).
    ``value_pos`` maps a path to where its value starts, ``key_pos`` a mapping entry's path to
    where its key starts. ``scalar_kind`` records how YAML resolved each plain scalar that is not a
    string ("int", "float", "bool", "null", "date"), so errors can say "quote it".
    """

    data: Any
    value_pos: dict[JsonPath, tuple[int, int]]
    key_pos: dict[JsonPath, tuple[int, int]]
    scalar_kind: dict[JsonPath, str]
    scalar_raw: dict[JsonPath, str]
    overflow: tuple[JsonPath, ...]

    def pos(self, path: JsonPath, *, prefer_key: bool = False) -> Pos:
        """The best known position for ``path``: its key or value, else its nearest ancestor."""
        p = tuple(path)
        while True:
            if prefer_key and p in self.key_pos:
                return Pos(*self.key_pos[p])
            if p in self.value_pos:
                return Pos(*self.value_pos[p])
            if p in self.key_pos:
                return Pos(*self.key_pos[p])
            if not p:
                return Pos(1, 1)
            p = p[:-1]


class _EventSource(Protocol):
    def get_event(self) -> Any: ...


def event_parser(text: str, *, pure: bool = False) -> tuple[_EventSource, Callable[[], None]]:
    """A parser of ``text``'s YAML events and the call that releases it.

    The one place that uses ruamel.yaml's private parts (``tests/test_yaml_private.py`` pins
    them): ruamel.yaml.clib's ``CParser`` straight from its module, and, without it, the event
    stream of the old ``SafeLoader`` API. ruamel's ``YAML`` API composes documents and would
    lose the event positions and the refusals (tags, anchors, duplicate keys) this loader is
    built on."""
    try:
        if pure:
            raise ImportError("the pure Python parser was asked for")
        from _ruamel_yaml import CParser  # type: ignore[import-not-found]  # ruamel.yaml.clib

        parser = CParser(io.StringIO(text))
        return parser, lambda: None
    except ImportError:  # pure Python fallback: same events, slower
        # (ruamel.yaml 0.19's YAML(typ="safe", pure=True) has no reader to feed any more)
        from ruamel.yaml.loader import SafeLoader

        loader = SafeLoader(text)
        return loader, loader.dispose


_RESOLVER = VersionedResolver(version=(1, 2))
_SCALAR = ev.ScalarEvent
_SEQ_START, _SEQ_END = ev.SequenceStartEvent, ev.SequenceEndEvent
_MAP_START, _MAP_END = ev.MappingStartEvent, ev.MappingEndEvent
_STR_TAG = "tag:yaml.org,2002:str"
_INT_RE = re.compile(r"^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_DATE_RE = re.compile(r"^(\d{4})-(\d\d?)-(\d\d?)$")
_TAB_INDENT = re.compile(r"^[ ]*\t", re.MULTILINE)
_BREAK = re.compile(r"\r\n|\r|\n")
#: not printable in YAML 1.2, or a line break only by YAML 1.1 rules (which the C parser
#: follows): either would put every later position, or the text itself, off
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")


#: first characters a plain scalar needs to be anything but a string (YAML 1.2 core schema and
#: timestamps); every other plain scalar is a string without asking the resolver
_MAYBE_TYPED = frozenset("-+0123456789.~nNtTfF")


@functools.lru_cache(maxsize=8192)
def resolve_plain(value: str) -> tuple[Any, str | None]:
    if value and value[0] not in _MAYBE_TYPED:
        return value, None
    return _scalar(value, _RESOLVER.resolve(ScalarNode, value, (True, False)))


def _scalar(value: str, tag: str) -> tuple[Any, str | None]:
    """Convert a plain scalar by its YAML 1.2 resolution; returns (value, kind or None for str)."""
    if tag == "tag:yaml.org,2002:null":
        return None, "null"
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true", "bool"
    if tag == "tag:yaml.org,2002:int" and _INT_RE.match(value):
        text = value.replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        base = {"0x": 16, "0o": 8, "0b": 2}.get(digits[:2].lower(), 10)
        body = digits[2:] if base != 10 else digits
        if not body:  # "0x_": not a number in YAML 1.2
            return value, None
        if len(body) > 64:  # beyond 64 bits in any base; never converted (no huge ints)
            return value, "int-overflow"
        number = sign * int(body, base)
        if not INT64_MIN <= number <= INT64_MAX:
            return value, "int-overflow"
        return number, "int"
    if tag == "tag:yaml.org,2002:float":
        text = value.replace("_", "").lower()
        if text.endswith(".inf"):
            return (-math.inf if text.startswith("-") else math.inf), "float"
        if text.endswith(".nan"):
            return math.nan, "float"
        try:
            return float(text), "float"
        except ValueError:
            return value, None
    if tag == "tag:yaml.org,2002:timestamp":
        m = _DATE_RE.match(value)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])), "date"
            except ValueError:
                return value, None
        # A date with a time: keep the text, but say YAML would have read it as a timestamp.
        return value, "timestamp"
    return value, None


def _line_col(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


def decode(raw: bytes) -> str:
    """UTF-8 (an optional BOM allowed); raises YamlLoadError naming the first bad byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise YamlLoadError(
            [
                LoadProblem(
                    "file-encoding",
                    f"the file is not UTF-8: byte 0x{raw[e.start]:02x} cannot be decoded; "
                    "save the file as UTF-8",
                    line,
                    column,
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def read_yaml_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> Loaded:
    """Read and load one YAML file, refusing one over ``max_bytes`` before parsing it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise YamlLoadError(
                [
                    LoadProblem(
                        "file-too-large",
                        f"the file is {size:,} bytes; files over {max_bytes:,} bytes are refused",
                    )
                ]
            )
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as e:
        raise YamlLoadError(
            [LoadProblem("file-unreadable", f"cannot read: {e.strerror}")]
        ) from None
    if len(raw) > max_bytes:  # grew between stat and read
        raise YamlLoadError(
            [LoadProblem("file-too-large", f"files over {max_bytes:,} bytes are refused")]
        )
    return load_yaml(decode(raw))


def position(text: str, index: int) -> Pos:
    """1-based line and column of a character, line breaks counted as YAML 1.2 does."""
    before = text[:index]
    line = len(_BREAK.findall(before)) + 1
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return Pos(line, index - start + 1)


def load_yaml(text: str) -> Loaded:
    """Load one YAML document from text; raises YamlLoadError with every problem found."""
    bad = _BAD_CHAR.search(text)
    if bad:
        char = bad.group()
        name = unicodedata.name(char, "a control character")
        pos = position(text, bad.start())
        raise YamlLoadError(
            [
                LoadProblem(
                    "yaml-char",
                    f"character U+{ord(char):04X} ({name}) is not allowed in YAML text; remove it",
                    pos.line,
                    pos.column,
                )
            ]
        )
    try:
        return _Composer(text).run()
    except YamlLoadError as e:
        first = e.problems[0]
        tab = _TAB_INDENT.search(text)
        if first.rule == "yaml-syntax" and tab is not None:
            # Tabs in indentation break block structure; inside block scalars they are text.
            pos = position(text, tab.end() - 1)
            if pos.line <= first.line:
                raise YamlLoadError(
                    [
                        LoadProblem(
                            "yaml-tab",
                            "a tab character in indentation; YAML indents with spaces only: "
                            "replace the tab with spaces",
                            pos.line,
                            pos.column,
                        )
                    ]
                ) from None
        raise


class _Composer:
    """Builds values from parser events, recording positions and refusing unsafe constructs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.value_pos: dict[JsonPath, tuple[int, int]] = {}
        self.key_pos: dict[JsonPath, tuple[int, int]] = {}
        self.kinds: dict[JsonPath, str] = {}
        self.raw: dict[JsonPath, str] = {}
        self.overflow: list[JsonPath] = []
        self.problems: list[LoadProblem] = []

    def run(self) -> Loaded:
        parser, reset = event_parser(self.text)
        try:
            data = self._document(parser)
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            pos = _line_col(mark) if mark is not None else Pos(1, 1)
            problem = (e.problem or e.context or "invalid YAML").strip()
            tab = _TAB_INDENT.search(self.text)
            if tab is not None and position(self.text, tab.end() - 1).line <= pos.line:
                # load_yaml reports the tab instead: the cause of what the parser saw
                raise YamlLoadError(
                    [LoadProblem("yaml-syntax", problem, pos.line, pos.column)]
                ) from None
            cpos = _line_col(e.context_mark) if e.context_mark is not None else None
            hint = yamlhints.explain(
                self.text,
                problem,
                pos.line,
                pos.column,
                e.context,
                cpos.line if cpos else None,
                cpos.column if cpos else None,
            )
            if hint is not None:
                raise YamlLoadError(
                    [LoadProblem("yaml-syntax", hint.message, hint.line, hint.column)]
                ) from None
            raise YamlLoadError(
                [
                    LoadProblem(
                        "yaml-syntax",
                        f"YAML cannot read the file here ({problem}); compare this line and "
                        "the one above with lines that work",
                        pos.line,
                        pos.column,
                    )
                ]
            ) from None
        except YAMLError as e:
            raise YamlLoadError(
                [LoadProblem("yaml-syntax", f"YAML syntax error: {str(e).strip()}")]
            ) from None
        finally:
            reset()
        if self.problems:
            raise YamlLoadError(self.problems)
        return Loaded(
            data, self.value_pos, self.key_pos, self.kinds, self.raw, tuple(self.overflow)
        )

    def _document(self, parser: _EventSource) -> Any:
        parser.get_event()  # StreamStart
        event = parser.get_event()
        if isinstance(event, ev.StreamEndEvent):
            raise YamlLoadError(
                [LoadProblem("file-empty", "the file is empty; an org file needs its keys")]
            )
        first = parser.get_event()
        data = self._node(parser, first, ())
        parser.get_event()  # DocumentEnd
        extra = parser.get_event()
        if not isinstance(extra, ev.StreamEndEvent):
            pos = _line_col(extra.start_mark)
            raise YamlLoadError(
                [
                    LoadProblem(
                        "yaml-multiple-documents",
                        "the file holds more than one YAML document; keep one per file",
                        pos.line,
                        pos.column,
                    )
                ]
            )
        return data

    def _refuse(self, event: Any, rule: str, message: str) -> None:
        pos = _line_col(event.start_mark)
        problem = LoadProblem(rule, message, pos.line, pos.column)
        if rule == "yaml-anchor":
            # Refused outright, before anything is expanded: an alias bomb ends here.
            raise YamlLoadError([*self.problems, problem])
        self.problems.append(problem)

    def _check_anchor_tag(self, event: Any) -> bool:
        """False when the node must be refused (its problem is recorded)."""
        if event.anchor is not None:
            self._refuse(
                event,
                "yaml-anchor",
                f"anchors and aliases are not allowed (found &{event.anchor}); write values out",
            )
            return False
        tag = event.tag
        if tag is not None and tag != "!" and tag != _STR_TAG:
            self._refuse(event, "yaml-tag", f"explicit YAML tags are not allowed (found {tag})")
            return False
        return True

    def _node(self, parser: _EventSource, event: Any, path: JsonPath) -> Any:
        """The value of the node that starts at ``event``, its positions recorded.

        Long by reason: one walk over the parser's events for a node, each refusal (depth,
        tags, anchors, keys, duplicates) at the event it concerns; split, the parser's state
        would be handed between functions mid-node."""
        mark = event.start_mark
        if len(path) > MAX_DEPTH:
            raise YamlLoadError(
                [
                    LoadProblem(
                        "yaml-depth",
                        f"values nested more than {MAX_DEPTH} levels deep are refused",
                        mark.line + 1,
                        mark.column + 1,
                    )
                ]
            )
        self.value_pos[path] = (mark.line + 1, mark.column + 1)
        kind_of = type(event)
        if kind_of is _SCALAR:
            has_extras = event.anchor is not None or event.tag is not None
            if has_extras and not self._check_anchor_tag(event):
                return None
            return self._scalar_value(event, path)
        if isinstance(event, ev.AliasEvent):
            self._refuse(
                event,
                "yaml-anchor",
                f"anchors and aliases are not allowed (found *{event.anchor}); write values out",
            )
            return None
        ok = (event.anchor is None and event.tag is None) or self._check_anchor_tag(event)
        next_event = parser.get_event
        if kind_of is _SEQ_START:
            items: list[Any] = []
            while True:
                child = next_event()
                if type(child) is _SEQ_END:
                    return items if ok else None
                items.append(self._node(parser, child, (*path, len(items))))
        if kind_of is _MAP_START:
            mapping: dict[str, Any] = {}
            key_positions, value_positions = self.key_pos, self.value_pos
            while True:
                key_event = next_event()
                kt = type(key_event)
                if kt is _MAP_END:
                    return mapping if ok else None
                # The common case inline (a plain or quoted name): this loop is the hot path.
                text = key_event.value if kt is _SCALAR else None
                if (
                    text
                    and key_event.anchor is None
                    and key_event.tag is None
                    and (key_event.style or text[0] not in _MAYBE_TYPED)
                ):
                    key: str | None = text
                else:
                    key = self._key(parser, key_event)
                value_event = next_event()
                if key is None:
                    self._skip(parser, value_event)
                    continue
                km = key_event.start_mark
                key_pos = (km.line + 1, km.column + 1)
                child_path = (*path, key)
                if key in mapping:
                    first = key_positions[child_path]
                    self.problems.append(
                        LoadProblem(
                            "yaml-duplicate-key",
                            f"duplicate key {key!r}: first at line {first[0]}, "
                            f"again at line {key_pos[0]}",
                            *key_pos,
                        )
                    )
                    self._skip(parser, value_event)
                    continue
                key_positions[child_path] = key_pos
                if (
                    type(value_event) is _SCALAR
                    and value_event.anchor is None
                    and value_event.tag is None
                    and len(child_path) <= MAX_DEPTH
                ):
                    vm = value_event.start_mark
                    value_positions[child_path] = (vm.line + 1, vm.column + 1)
                    mapping[key] = self._scalar_value(value_event, child_path)
                else:
                    mapping[key] = self._node(parser, value_event, child_path)
        raise YamlLoadError([LoadProblem("yaml-syntax", "unexpected YAML event", mark.line + 1)])

    def _scalar_value(self, event: Any, path: JsonPath) -> Any:
        bad = _BAD_CHAR.search(event.value) if event.style == '"' else None
        if bad is not None:
            # Double quotes allow escapes ("\0", "\x1b"): the text check saw none of these.
            char = bad.group()
            self._refuse(
                event,
                "yaml-char",
                f"character U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"
                " is not allowed, escaped or not; remove it",
            )
            return None
        if event.tag == _STR_TAG or event.style or not event.implicit[0]:
            return event.value
        value, kind = resolve_plain(event.value)
        if kind is not None:
            self.raw[path] = event.value
            if kind == "int-overflow":
                # Kept as its text: a number no check can use, and one Python would refuse
                # to print past 4,300 digits.
                kind = "int"
                self.overflow.append(path)
            self.kinds[path] = kind
        return value

    def _key(self, parser: _EventSource, event: Any) -> str | None:
        if type(event) is _SCALAR and (
            (event.anchor is None and event.tag is None) or self._check_anchor_tag(event)
        ):
            if event.style or not event.implicit[0] or event.tag == _STR_TAG:
                return str(event.value)
            if resolve_plain(event.value)[1] is None:
                return str(event.value)
            self._refuse(
                event,
                "yaml-key",
                f"key {event.value!r} is not a string; quote it if it is meant as a name",
            )
            return None
        if isinstance(event, ev.AliasEvent):
            self._refuse(event, "yaml-anchor", "anchors and aliases are not allowed")
            return None
        if isinstance(event, ev.ScalarEvent):
            return None
        self._refuse(event, "yaml-key", "complex mapping keys are not allowed")
        self._skip(parser, event)
        return None

    def _skip(self, parser: _EventSource, event: Any) -> None:
        """Consume the rest of a node without building it."""
        if isinstance(event, ev.SequenceStartEvent | ev.MappingStartEvent):
            depth = 1
            while depth:
                e = parser.get_event()
                if isinstance(e, ev.SequenceStartEvent | ev.MappingStartEvent):
                    depth += 1
                elif isinstance(e, ev.SequenceEndEvent | ev.MappingEndEvent):
                    depth -= 1
