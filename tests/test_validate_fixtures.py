"""Data-driven: every file in fixtures/invalid produces exactly the errors its header names,
and every file in fixtures/valid validates (with the warnings its header names, if any)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from checker.load.validate import validate

from .conftest import FIXTURES

TODAY = dt.date(2026, 6, 1)
EXPECT = re.compile(
    rb"^# expect(?P<warn>-warning)?: (?P<rule>[a-z0-9-]+) (?P<line>\d+):(?P<col>\d+)(?: (?P<text>.*))?$",
    re.M,
)


def _expectations(path: Path) -> list[tuple[str, int, int, str | None, bool]]:
    out = []
    for m in EXPECT.finditer(path.read_bytes()):
        text = m["text"].decode() if m["text"] else None
        out.append((m["rule"].decode(), int(m["line"]), int(m["col"]), text, bool(m["warn"])))
    return out


def _run(config_dir: Path, fixture: Path):  # type: ignore[no-untyped-def]
    target = config_dir / "orgs" / fixture.name
    shutil.copy(fixture, target)
    return validate(config_dir, today=TODAY, workers=1)


INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))


def test_fixture_folders_are_populated() -> None:
    assert len(INVALID) >= 35
    assert len(VALID) >= 5


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_reports_exactly_its_errors(config_dir: Path, fixture: Path) -> None:
    expected = _expectations(fixture)
    assert expected, f"{fixture.name} states no expectation"
    result = _run(config_dir, fixture)
    assert not result.ok
    got = {(f.rule, f.line, f.column) for f in result.errors}
    want = {(r, line, col) for r, line, col, _, warn in expected if not warn}
    assert got == want, [f"{f.line}:{f.column}: {f.rule}: {f.message}" for f in result.findings]
    for rule, line, col, text, _ in expected:
        if text:
            match = [f for f in result.findings if (f.rule, f.line, f.column) == (rule, line, col)]
            assert any(text in f.message for f in match), (text, [f.message for f in match])
    for f in result.findings:
        assert f.path.endswith(fixture.name)
        assert "\n" not in f.message


@pytest.mark.parametrize("fixture", VALID, ids=lambda p: p.stem)
def test_valid_fixture_passes(config_dir: Path, fixture: Path) -> None:
    result = _run(config_dir, fixture)
    assert result.ok, [f"{f.line}:{f.column}: {f.rule}: {f.message}" for f in result.findings]
    assert len(result.specs) == 1
    want = {(r, line, col) for r, line, col, _, warn in _expectations(fixture) if warn}
    assert {(f.rule, f.line, f.column) for f in result.warnings} == want


def test_yaml12_strings_stay_strings(config_dir: Path) -> None:
    spec = _run(config_dir, FIXTURES / "valid" / "yaml12-strings.yaml").specs[0]
    assert (spec.name, spec.csm, spec.notes, spec.details) == ("no", "on", "yes", "off")
    assert spec.ignore[0].until == dt.date(2030, 12, 31)


def test_file_over_one_mebibyte_is_refused_before_parsing(config_dir: Path) -> None:
    big = config_dir / "orgs" / "big.yaml"
    # Invalid YAML past the first line: had it been parsed, the error would be a syntax error.
    big.write_bytes(b"schema_version: 1\n" + b"[" * (1024 * 1024))
    result = validate(config_dir, today=TODAY, workers=1)
    assert [(f.rule, f.line) for f in result.errors] == [("file-too-large", 1)]


def test_one_broken_file_does_not_stop_the_others(config_dir: Path) -> None:
    for name in ("syntax-error.yaml", "non-utf8.yaml", "email-invalid.yaml"):
        shutil.copy(FIXTURES / "invalid" / name, config_dir / "orgs" / name)
    shutil.copy(FIXTURES / "valid" / "nulls-and-empties.yaml", config_dir / "orgs" / "ok.yaml")
    result = validate(config_dir, today=TODAY, workers=1)
    assert {Path(f.path).name for f in result.errors} == {
        "syntax-error.yaml",
        "non-utf8.yaml",
        "email-invalid.yaml",
    }
    assert [s.org_id for s in result.specs] == [202]
