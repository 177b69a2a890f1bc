"""One line per fact in terminals and CI logs.

Text from org files, Zendesk, reports or GitLab answers may hold line breaks, control characters
(terminal escape sequences among them) and bidirectional overrides. Printed as it is, one value
could forge further log lines or make a line read differently from what it says. Every line the
reconcile run and the CLI's error messages print passes through :func:`one_line`: such characters
become visible escapes (``\\x1b``, ``\\u202e``), so a log line is always exactly one fact.
"""

from __future__ import annotations

import re

__all__ = ["one_line"]

_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """``text`` as one line: breaks, controls and bidi controls shown as escapes."""
    return _UNSAFE.sub(_escape, text)
