"""Fuzzing the promise of ``checker validate`` (issue 2): hostile or broken input gets a clear
one-line error and never a traceback, and never stops the other files from being checked.

The property tests feed random bytes, mutated copies of the valid org files and structurally
valid YAML with wrong or hostile values in every position to ``check_org_file`` (and mutated
settings to ``load_settings``), in process. Every finding must be one well-formed line whose
position lies inside the file. The regression cases below are the inputs fuzzing found; one
subprocess test runs the real CLI on a folder holding a hostile file and the three examples.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from checker.domain.models import Finding
from checker.domain.settings import Settings
from checker.load.orgfile import check_org_file
from checker.load.settings import load_settings
from checker.load.validate import validate
from checker.render.findings import line as render_line

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "config" / "orgs").glob("*.yaml"))
SEEDS = [p.read_bytes() for p in EXAMPLES] + [
    p.read_bytes() for p in sorted((ROOT / "tests" / "fixtures" / "valid").glob("*.yaml"))
]
SETTINGS_BYTES = (ROOT / "examples" / "config" / "checker.yaml").read_bytes()
TODAY = dt.date(2026, 5, 1)
LINE_RE = re.compile(r"^[^:]+:\d+:\d+: [a-z0-9-]+: .+$")
RULE_RE = re.compile(r"^[a-z0-9-]+$")

FUZZ = settings(
    max_examples=1000,
    derandomize=True,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: fragments a mutation inserts: YAML syntax, encodings, line breaks, numbers, dates, keys
TOKENS = [
    b"&a ",
    b"*a",
    b"!!str ",
    b"!!int ",
    b"!t ",
    b"! ",
    b"? ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"%YAML 1.2\n",
    b"%TAG !e! tag:x,2000:\n",
    b"\t",
    b"\xef\xbb\xbf",
    b"\x00",
    b"\r",
    b"\r\n",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b"\xe2\x80\xa9",
    b"\xed\xa0\x80",
    b"\xff",
    b"x" * 2000,
    b"[" * 40,
    b"{a: " * 40,
    b"1" * 30,
    b".inf",
    b"-.inf",
    b".nan",
    b"-0",
    b"0x",
    b"0x_",
    b"0o_",
    b"0b_",
    b"0o17",
    b"1e400",
    b"2026-02-30",
    b"2026-01-01",
    b"2026-01-01 10:00:00",
    b"<<: ",
    b"~",
    b": ",
    b"null: ",
    b"'': ",
    b"- ",
    b"|\n",
    b'"\\ud800"',
    b'"a\\nb": ',
    b"# c\n",
    b"\n",
    b",",
    b"'",
    b'"',
    b"no",
    b"@x",
]

#: hostile scalars (YAML source) for structurally valid files
SCALARS = [
    "1",
    "-1",
    "0",
    "-0",
    "1.0",
    "1e400",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "0b101",
    "0x_",
    "0o_",
    "1_000",
    "99999999999999999999",
    "true",
    "no",
    "on",
    "null",
    "~",
    "",
    "2026-02-30",
    "2026-01-01",
    "2026-1-1",
    "2026-01-01 10:00:00",
    "2026-01-01T10:00:00Z",
    "'2026-W05-1'",
    '"a\\nb"',
    '"\\u2028"',
    '"\\x85"',
    "''",
    "a@b.example",
    "'http://x y'",
    "'@x'",
    "us-gov",
    "GLOBAL",
    "notes",
    "support_contacts",
    "'0016100001ABCDEAAA'",
    "[]",
    "{}",
    "'" + "a" * 300 + "'",
]
KEYS = [
    "schema_version",
    "name",
    "zendesk",
    "org_id",
    "instance",
    "salesforce_id",
    "collaboration_project",
    "id",
    "url",
    "contact_management_project",
    "developers",
    "support_contacts",
    "email",
    "notes",
    "ignore",
    "field",
    "value",
    "reason",
    "until",
    "<<",
    '"a\\nb"',
    "Name",
    "nmae",
    "'1'",
]


@functools.cache
def _settings() -> Settings:
    loaded, findings = load_settings(ROOT / "examples" / "config")
    assert loaded is not None, findings
    return loaded


def _line_count(raw: bytes) -> int:
    return max(raw.count(b"\n"), len(raw.splitlines())) + 1


def _line_length(raw: bytes, line: int) -> int:
    """The longest reading of line ``line``: split on ``\\n`` alone, or on ``\\r`` too."""
    best = 0
    for lines in (raw.split(b"\n"), raw.splitlines()):
        if line - 1 < len(lines):
            best = max(best, len(lines[line - 1]))
    return best


def _assert_findings_sound(raw: bytes, findings: tuple[Finding, ...] | list[Finding]) -> None:
    for f in findings:
        shown = render_line(f)
        assert RULE_RE.match(f.rule), shown
        assert LINE_RE.match(shown), shown
        assert 1 <= f.line <= _line_count(raw), f"line outside the file: {shown}"
        assert 1 <= f.column <= _line_length(raw, f.line) + 1, f"column outside line: {shown}"


def _check(path: Path, raw: bytes) -> tuple[Finding, ...]:
    path.write_bytes(raw)
    result = check_org_file(path, "config/orgs/fuzz.yaml", _settings(), TODAY)
    _assert_findings_sound(raw, result.findings)
    return result.findings


def _check_settings(cfg: Path, raw: bytes) -> list[Finding]:
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "checker.yaml").write_bytes(raw)
    _, findings = load_settings(cfg)
    _assert_findings_sound(raw, findings)
    return findings


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- strategies -----------------------------------------------------------------------------

_edit = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.sampled_from(TOKENS)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 20)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("value"), st.integers(0, 10**6), st.sampled_from(TOKENS)),
)


def _apply(seed: bytes, edits: list[tuple[str, int, object]]) -> bytes:
    b = bytearray(seed)
    for op, where, arg in edits:
        pos = where % (len(b) + 1)
        if op == "flip" and b:
            b[pos % len(b)] ^= 1 << int(arg)  # type: ignore[call-overload]
        elif op == "insert":
            b[pos:pos] = arg  # type: ignore[assignment]
        elif op == "delete":
            del b[pos : pos + int(arg)]  # type: ignore[call-overload]
        elif op == "truncate":
            del b[pos:]
        elif op == "value":
            starts = [m.end() for m in re.finditer(rb": ", bytes(b))]
            if starts:
                s = starts[where % len(starts)]
                e = b.find(b"\n", s)
                b[s : len(b) if e < 0 else e] = arg  # type: ignore[assignment]
    return bytes(b)


mutated = st.builds(_apply, st.sampled_from(SEEDS), st.lists(_edit, min_size=1, max_size=4))
raw_bytes = st.binary(max_size=400)


def _emit(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_emit(v) for v in value) + "]"
    return str(value)


_values = st.recursive(
    st.sampled_from(SCALARS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=6,
)


def _valid_doc() -> dict[str, object]:
    return {
        "schema_version": "1",
        "name": "Acme",
        "zendesk": {"org_id": "5", "instance": "global"},
        "salesforce_id": "0016100001ABCDEAAA",
        "csm": "jdoe",
        "collaboration_project": {"id": "7", "url": "https://g.example/x"},
        "contact_management_project": {"id": "8", "developers": ["a@b.example"]},
        "support_contacts": [{"name": "A", "email": "a@b.example"}],
        "notes": "n",
        "details": "d",
        "ignore": [{"field": "notes", "reason": "because", "until": "2027-01-01"}],
    }


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


@st.composite
def wrong_types(draw: st.DrawFn) -> bytes:
    """The valid document with hostile values at one to three positions (or extra keys)."""
    doc = _valid_doc()
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        parent: object = doc
        for step in path[:-1]:
            parent = parent[step]  # type: ignore[index]
        if draw(st.booleans()) or not isinstance(parent, dict):
            parent[path[-1]] = draw(_values)  # type: ignore[index]
        else:
            parent[draw(st.sampled_from(KEYS))] = draw(_values)
    if draw(st.booleans()):
        return _emit(doc).encode()
    return "".join(f"{k}: {_emit(v)}\n" for k, v in doc.items()).encode()


# --- property tests -------------------------------------------------------------------------


@FUZZ
@given(raw=raw_bytes)
def test_random_bytes_get_clean_findings(work: Path, raw: bytes) -> None:
    _check(work / "fuzz.yaml", raw)


@FUZZ
@given(raw=mutated)
def test_mutated_org_files_get_clean_findings(work: Path, raw: bytes) -> None:
    _check(work / "fuzz.yaml", raw)


@FUZZ
@given(raw=wrong_types())
def test_wrong_types_everywhere_get_clean_findings(work: Path, raw: bytes) -> None:
    _check(work / "fuzz.yaml", raw)


@FUZZ
@given(edits=st.lists(_edit, min_size=1, max_size=4))
def test_mutated_settings_get_clean_findings(
    work: Path, edits: list[tuple[str, int, object]]
) -> None:
    _check_settings(work / "config", _apply(SETTINGS_BYTES, edits))


# --- regression cases found by fuzzing ------------------------------------------------------

VALID_HEAD = b"schema_version: 1\nname: X\nzendesk: {org_id: 5}\n"
HUGE_HEX = b"0x" + b"f" * 3600  # about 4,335 decimal digits: beyond int->str's 4,300 limit

CRASHES = {
    # yamlload._scalar: the YAML 1.2 resolver says int, int("", 16) raises
    "hex-underscore-only": VALID_HEAD + b"notes: 0x_\n",
    "octal-underscore-only": VALID_HEAD + b"notes: 0o_\n",
    "binary-underscore-only": VALID_HEAD + b"notes: 0b_\n",
    "hex-underscore-as-file": b"0x_",
    # yamlload._scalar: int(digits, 10) refuses more than 4,300 digits
    "decimal-4301-digits": VALID_HEAD + b"notes: " + b"1" * 4301 + b"\n",
    # orgfile.check_loaded: repr() of a huge schema_version
    "huge-schema-version": b"schema_version: " + HUGE_HEX + b"\n",
    # jsonschema builds its message with repr() of the huge int (type / maximum)
    "huge-int-as-name": b"schema_version: 1\nname: " + HUGE_HEX + b"\nzendesk: {org_id: 5}\n",
    "huge-int-as-org-id": b"schema_version: 1\nname: X\nzendesk: {org_id: " + HUGE_HEX + b"}\n",
    "huge-int-as-contact": VALID_HEAD + b"support_contacts: [" + HUGE_HEX + b"]\n",
}


@pytest.mark.parametrize("raw", CRASHES.values(), ids=CRASHES.keys())
def test_regression_org_file_does_not_crash(work: Path, raw: bytes) -> None:
    _check(work / "fuzz.yaml", raw)


SETTINGS_CRASHES = {
    # settings.load_settings: str(ops) of a > 4,300-digit integer
    "huge-support-ops-project": SETTINGS_BYTES + b"  support_ops_project: " + HUGE_HEX + b"\n",
    # jsonschema's "greater than the maximum" message: repr() of the huge int
    "huge-rate-limit": SETTINGS_BYTES.replace(
        b"rate_limit_per_minute: 400", b"rate_limit_per_minute: " + HUGE_HEX
    ),
    # yamlload._scalar on the settings file
    "hex-underscore-only": SETTINGS_BYTES + b"max_concurrency: 0x_\n",
}


@pytest.mark.parametrize("raw", SETTINGS_CRASHES.values(), ids=SETTINGS_CRASHES.keys())
def test_regression_settings_do_not_crash(tmp_path: Path, raw: bytes) -> None:
    _check_settings(tmp_path / "config", raw)


LINE_SEPARATORS = {
    "line-separator-in-comment": b"# \xe2\x80\xa8\xe2\x80\xa8\nschema_version: 2\n",
    "next-line-in-comment": b"# \xc2\x85\nschema_version: 2\n",
    "paragraph-separator-in-value": b"name: \xe2\x80\xa9\nschema_version: 2\n",
}


@pytest.mark.parametrize("raw", LINE_SEPARATORS.values(), ids=LINE_SEPARATORS.keys())
def test_regression_unicode_line_separators_do_not_shift_lines(work: Path, raw: bytes) -> None:
    """YAML 1.2 treats U+0085, U+2028 and U+2029 as content, libyaml as line breaks (YAML 1.1):
    either reading would put positions or text off, so the character is refused, at its place."""
    findings = _check(work / "fuzz.yaml", raw)
    assert [(f.rule, f.line) for f in findings] == [("yaml-char", 1)]
    column = (
        raw.decode("utf-8").index(
            next(c for c in raw.decode("utf-8") if ord(c) in (0x85, 0x2028, 0x2029))
        )
        + 1
    )
    assert findings[0].column == column


def test_regression_control_character_error_points_at_it(work: Path) -> None:
    """A NUL byte is refused at its line and column, not at 1:1."""
    findings = _check(work / "fuzz.yaml", VALID_HEAD + b"notes: a\x00\n")
    assert [(f.rule, f.line, f.column) for f in findings] == [("yaml-char", 4, 9)]


def test_regression_long_url_is_refused_not_backtracked(work: Path) -> None:
    """schema._URI_RE once backtracked quadratically on a long URL ending in a space (over an
    hour for a 1 MiB file). A URL of 200,000 characters is now refused without that; were the
    backtracking back, this test would run into pytest's timeout rather than pass."""
    raw = VALID_HEAD + b"collaboration_project: {id: 1, url: 'a://" + b"b" * 200_000 + b" '}\n"
    findings = _check(work / "fuzz.yaml", raw)
    assert [f.rule for f in findings] == ["invalid-uri"]


def test_regression_float_org_id_still_counts_for_duplicates(tmp_path: Path) -> None:
    """JSON Schema takes 5.0 as an integer, so ``org_id: 5.0`` is valid, but the rules across
    files only look at ints: three files declaring org 5 passed without duplicate-org-id."""
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_bytes(SETTINGS_BYTES)
    for name, org_id in (("a", "5"), ("b", "5.0"), ("c", "5e0")):
        (cfg / "orgs" / f"{name}.yaml").write_text(
            f"schema_version: 1\nname: {name}\nzendesk: {{org_id: {org_id}}}\n"
        )
    result = validate(cfg, today=TODAY)
    assert not result.ok
    assert all(f.rule in ("duplicate-org-id", "wrong-type") for f in result.findings)


def test_cli_hostile_file_keeps_other_files_checked(tmp_path: Path) -> None:
    """The real CLI: exit 0 or 1, no traceback or internal error, one line per finding, and the
    three example files are still checked next to the hostile one."""
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_bytes(SETTINGS_BYTES)
    for p in EXAMPLES:
        shutil.copy(p, cfg / "orgs" / p.name)
    (cfg / "orgs" / "zz-hostile.yaml").write_bytes(CRASHES["hex-underscore-only"])
    runs = {}
    for fmt in ("text", "json"):
        runs[fmt] = subprocess.run(
            [
                sys.executable,
                "-m",
                "checker",
                "validate",
                "--config-dir",
                str(cfg),
                "--format",
                fmt,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    for fmt, run in runs.items():
        both = run.stdout + run.stderr
        assert run.returncode in (0, 1), f"{fmt}: exit {run.returncode}: {run.stderr.strip()}"
        assert "Traceback" not in both
        assert "internal error" not in both
    for out in runs["text"].stdout.splitlines():
        assert LINE_RE.match(out), out
    assert json.loads(runs["json"].stdout)["files_checked"] == 4
