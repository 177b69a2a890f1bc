"""Validation findings as text, JSON, GitLab JUnit and GitLab Code Quality reports."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from checker.domain.models import Finding

REPORT_VERSION = 1


def line(f: Finding) -> str:
    """``path:line:col: rule-id: message`` (warnings say so before the message)."""
    prefix = "warning: " if f.severity == "warning" else ""
    return f"{f.path}:{f.line}:{f.column}: {f.rule}: {prefix}{_one_line(f.message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def text(findings: Sequence[Finding]) -> str:
    return "".join(line(f) + "\n" for f in findings)


def summary(findings: Sequence[Finding], files_checked: int) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    files = len({f.path for f in findings if f.severity == "error"})
    if not errors:
        verdict = f"{files_checked} org file{'s' if files_checked != 1 else ''} valid"
    else:
        verdict = (
            f"{errors} error{'s' if errors != 1 else ''} in {files} file{'s' if files != 1 else ''}"
        )
        verdict += f" ({files_checked} org files checked)"
    if warnings:
        verdict += f", {warnings} warning{'s' if warnings != 1 else ''}"
    return verdict


def as_json(findings: Sequence[Finding], files_checked: int) -> str:
    doc = {
        "schema_version": REPORT_VERSION,
        "valid": not any(f.severity == "error" for f in findings),
        "files_checked": files_checked,
        "errors": sum(1 for f in findings if f.severity == "error"),
        "warnings": sum(1 for f in findings if f.severity == "warning"),
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "rule": f.rule,
                "severity": f.severity,
                "message": f.message,
            }
            for f in findings
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def fingerprint(f: Finding) -> str:
    """Stable across runs and across unrelated edits: no line numbers in it."""
    basis = "\0".join((f.path, f.rule, f.locator or _one_line(f.message)))
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def codequality(findings: Sequence[Finding]) -> str:
    """GitLab Code Quality report: a JSON array the MR widget diffs by fingerprint."""
    seen: dict[str, int] = defaultdict(int)
    items = []
    for f in findings:
        fp = fingerprint(f)
        seen[fp] += 1
        if seen[fp] > 1:  # the same problem twice in one file: keep fingerprints unique
            fp = hashlib.sha256(f"{fp}\0{seen[fp]}".encode()).hexdigest()[:32]
        items.append(
            {
                "description": f"{f.rule}: {_one_line(f.message)}",
                "check_name": f.rule,
                "fingerprint": fp,
                "severity": "major" if f.severity == "error" else "minor",
                "location": {"path": f.path, "lines": {"begin": f.line}},
            }
        )
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def junit(findings: Sequence[Finding], checked_paths: Sequence[str]) -> str:
    """GitLab JUnit report: one test case per file, a failure per error, warnings as output."""
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_path[f.path].append(f)
    paths = sorted(set(checked_paths) | set(by_path))
    failures = sum(1 for p in paths if any(f.severity == "error" for f in by_path[p]))
    suites = ET.Element("testsuites", name="checker validate")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="org files",
        tests=str(len(paths)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for p in paths:
        case = ET.SubElement(suite, "testcase", classname="validate", name=p, file=p)
        errors = [f for f in by_path[p] if f.severity == "error"]
        warnings = [f for f in by_path[p] if f.severity == "warning"]
        if errors:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{len(errors)} problem{'s' if len(errors) != 1 else ''}",
                type="invalid",
            )
            failure.text = "".join(line(f) + "\n" for f in errors)
        if warnings:
            out = ET.SubElement(case, "system-out")
            out.text = "".join(line(f) + "\n" for f in warnings)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
