"""JSON Schemas shipped in the package, compiled once per run, and their errors in our words.

Somewhat over 400 lines by reason: every JSON Schema error kind gets its own plain-words
explanation here, in one table a reader can scan.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from checker.domain.emails import ascii_domain
from checker.domain.models import Finding
from checker.load.yamlload import JsonPath, Loaded

ORG_SCHEMA = "org.schema.json"
SETTINGS_SCHEMA = "settings.schema.json"
DRIFT_REPORT_SCHEMA = "drift-report.schema.json"
SNAPSHOT_SCHEMA = "snapshot.schema.json"

_EMAIL_RE = re.compile(
    r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
# Linear: the host is taken whole, then an optional path; no two parts can trade characters.
# Only web addresses count as URIs here: every URL the product stores is opened by people.
_URI_RE = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+(?:[/?#]\S*)?$")
MAX_EMAIL = 254
MAX_URI = 2048

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("email")
def _is_email(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if len(value) > MAX_EMAIL:
        return False
    # An internationalised domain may be written in Unicode or punycode (checker.emails).
    local, _, domain = value.rpartition("@")
    ascii_form = ascii_domain(domain) if not domain.isascii() else domain
    return ascii_form is not None and bool(_EMAIL_RE.match(f"{local}@{ascii_form}"))


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return len(value) <= MAX_URI and bool(_URI_RE.match(value))


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        dt.date.fromisoformat(value)
    return True


def _is_integer(checker: Any, instance: object) -> bool:
    # JSON Schema counts 5.0 as an integer; an id written 5.0 is not one we can compare.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in ``checker/schemas`` (the repository's ``schemas/`` links there)."""
    text = resources.files("checker").joinpath("schemas", name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def validator(name: str) -> Any:
    """The compiled validator for a shipped schema; built once per process."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return _Validator(schema, format_checker=_FORMATS)


@functools.cache
def date_paths(name: str) -> frozenset[tuple[str, ...]]:
    """Paths (with ``*`` for array items) where the schema expects a date string."""
    found: set[tuple[str, ...]] = set()

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        if node.get("format") == "date":
            found.add(path)
        for key, sub in node.get("properties", {}).items():
            walk(sub, (*path, key))
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, (*path, "*"))

    walk(load_schema(name), ())
    return frozenset(found)


def _generic(path: JsonPath) -> tuple[str, ...]:
    return tuple("*" if isinstance(p, int) else p for p in path)


def dotted(path: JsonPath) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out or "(top level)"


def json_view(loaded: Loaded, schema_name: str) -> tuple[Any, list[tuple[JsonPath, str]]]:
    """The document as JSON Schema sees it: dates where dates belong become ISO strings.

    Returns the data and the paths holding a value YAML read as a date or time where the schema
    does not expect one (the caller reports those with a "quote it" hint).
    """
    allowed = date_paths(schema_name)
    misread: list[tuple[JsonPath, str]] = []
    data = loaded.data
    for path, kind in loaded.scalar_kind.items():
        if kind == "timestamp":
            misread.append((path, kind))
        elif kind == "date":
            data = _replace(data, path)
            if _generic(path) not in allowed:
                misread.append((path, kind))
    return data, misread


def _replace(data: Any, path: JsonPath) -> Any:
    """Copy-on-write replacement of a date by its ISO string at ``path``."""
    if not path:
        return data.isoformat() if isinstance(data, dt.date) else data
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        copy[head] = _replace(data[head], rest)
        return copy
    if isinstance(data, list):
        items = list(data)
        assert isinstance(head, int)
        items[head] = _replace(data[head], rest)
        return items
    return data


def checked_view(path: str, loaded: Loaded, schema_name: str) -> tuple[Any, list[Finding]]:
    """The JSON view of a document and every finding about its values: numbers beyond 64 bits,
    values YAML read as a date or time where text is expected ("quote it"), and the schema's
    errors, each reported once, at its key or value."""
    findings: list[Finding] = []
    for p in loaded.overflow:
        pos = loaded.pos(p)
        raw = loaded.scalar_raw.get(p, "")
        shown = raw if len(raw) <= 40 else raw[:39] + "…"
        findings.append(
            Finding(
                path,
                pos.line,
                pos.column,
                "number-too-large",
                f"{dotted(p)}: {shown} does not fit in 64 bits",
                locator=dotted(p),
            )
        )
    view, misread = json_view(loaded, schema_name)
    dates = date_paths(schema_name)
    for p, kind in misread:
        pos = loaded.pos(p)
        raw = loaded.scalar_raw.get(p, "")
        if kind == "timestamp" and _generic(p) in dates:
            rule, message = "invalid-date", f"{dotted(p)}: {raw} has a time; write the date only"
        else:
            word = "a date" if kind == "date" else "a date and time"
            rule = "quote-value"
            message = (
                f"{dotted(p)}: YAML reads {raw} as {word}, but a string is expected; "
                f"quote it: '{raw}'"
            )
        findings.append(Finding(path, pos.line, pos.column, rule, message, locator=dotted(p)))
    skip = {f.locator for f in findings}
    schema = list(schema_findings(path, loaded, view, schema_name))
    unknown = {f.locator for f in schema if f.rule == "unknown-key"}
    # Under an unknown key nothing else is worth saying; a value reported above is reported once.
    findings = [f for f in findings if not _inside(f.locator, unknown)]
    findings += [
        f
        for f in schema
        if f.rule == "unknown-key" or (f.locator not in skip and not _inside(f.locator, unknown))
    ]
    return view, findings


def _inside(locator: str, parents: set[str]) -> bool:
    return any(locator == p or locator.startswith((p + ".", p + "[")) for p in parents)


def _known_keys(error: ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return sorted(props)


def _type_word(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _expected_word(types: Any) -> str:
    names = {
        "string": "a string",
        "integer": "a whole number",
        "number": "a number",
        "object": "a mapping",
        "array": "a list",
        "null": "null",
        "boolean": "true or false",
    }
    if isinstance(types, str):
        types = [types]
    return " or ".join(names.get(t, t) for t in types)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def schema_findings(path: str, loaded: Loaded, data: Any, schema_name: str) -> Iterator[Finding]:
    """Every schema error of ``data`` as a Finding at the offending key or value."""
    for error in validator(schema_name).iter_errors(data):
        yield from _explain(path, loaded, error)


def _explain(path: str, loaded: Loaded, error: ValidationError) -> Iterator[Finding]:
    """One jsonschema error as findings in our words, at the line of the value concerned.

    Long by reason: one short branch per JSON Schema keyword our schemas use (required,
    additionalProperties, type, enum, format, pattern, the lengths and limits), read as one
    table; split, the shared locator and value would travel through every piece."""
    where: JsonPath = tuple(error.absolute_path)
    locator = dotted(where)
    kw = error.validator
    value: Any = error.instance
    vv: Any = error.validator_value
    sch: Any = error.schema
    if kw == "additionalProperties" and isinstance(value, dict):
        known = _known_keys(error)
        allowed = set(known)
        for key in value:
            if key in allowed:
                continue
            pos = loaded.pos((*where, key), prefer_key=True)
            hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            msg = f"unknown key {key!r}"
            if where:
                msg += f" in {locator}"
            msg += f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(known)}"
            yield Finding(
                path, pos.line, pos.column, "unknown-key", msg, locator=dotted((*where, key))
            )
        return
    if kw == "required":
        pos = loaded.pos(where, prefer_key=True)
        missing = [k for k in vv if isinstance(value, dict) and k not in value]
        for key in missing:
            yield Finding(
                path,
                pos.line,
                pos.column,
                "missing-key",
                f"required key {key!r} is missing" + (f" in {locator}" if where else ""),
                locator=dotted((*where, key)),
            )
        return
    pos = loaded.pos(where)
    if kw == "type":
        kind = loaded.scalar_kind.get(where)
        expected = _expected_word(vv)
        if kind in ("int", "float", "bool", "null") and "string" in _as_list(vv):
            raw = loaded.scalar_raw.get(where, _plain(value))
            key = str(where[-1]) if where and isinstance(where[-1], str) else locator
            if kind == "null" and raw in ("", "~"):
                msg = (
                    f"{locator}: has no value, which YAML reads as empty (null), but "
                    f"{expected} is expected; write the value after '{key}: '"
                )
            else:
                read = {"null": "empty (null)", "bool": f"the boolean {_plain(value)}"}.get(
                    kind, _type_word(value)
                )
                msg = (
                    f"{locator}: YAML reads {raw} as {read}, not as text; to mean the text, "
                    f"quote it: '{raw}'"
                )
            yield Finding(path, pos.line, pos.column, "quote-value", msg, locator=locator)
            return
        if isinstance(value, str) and "object" in _as_list(vv):
            m = re.match(r"([A-Za-z_][\w.-]*):(\S.*)", value)
            if m is not None:
                msg = (
                    f"{locator}: '{value}' needs a space after the colon: write "
                    f"'{m.group(1)}: {m.group(2)}'"
                )
                yield Finding(path, pos.line, pos.column, "wrong-type", msg, locator=locator)
                return
        yield Finding(
            path,
            pos.line,
            pos.column,
            "wrong-type",
            f"{locator}: expected {expected}, found {_type_word(value)}",
            locator=locator,
        )
        return
    if kw == "const" and where == ("schema_version",):
        yield Finding(
            path,
            pos.line,
            pos.column,
            "schema-version",
            f"unknown schema_version {_short(value)}; this checker reads version {vv}",
            locator=locator,
        )
        return
    if kw == "enum":
        options = [str(o) for o in vv]
        hint = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
        msg = f"{locator}: {_short(value)} is not one of {', '.join(options)}"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        yield Finding(path, pos.line, pos.column, "invalid-value", msg, locator=locator)
        return
    if kw == "format":
        yield Finding(
            path,
            pos.line,
            pos.column,
            f"invalid-{vv}",
            f"{locator}: {_short(value)} is not a valid {vv}",
            locator=locator,
        )
        return
    if kw == "maxItems":
        yield Finding(
            path,
            pos.line,
            pos.column,
            "too-many-items",
            f"{locator}: {len(value)} items; at most {vv} are allowed",
            locator=locator,
        )
        return
    if kw == "pattern":
        yield Finding(
            path,
            pos.line,
            pos.column,
            "invalid-value",
            f"{locator}: {_short(value)} does not have the expected form "
            f"({sch.get('description', vv)})",
            locator=locator,
        )
        return
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        yield Finding(
            path,
            pos.line,
            pos.column,
            "out-of-range",
            f"{locator}: {_short(value)} is out of range ({kw} {vv})",
            locator=locator,
        )
        return
    yield Finding(
        path, pos.line, pos.column, "invalid-value", f"{locator}: {error.message}", locator=locator
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
