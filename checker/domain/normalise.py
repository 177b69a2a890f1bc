"""Values as the drift engine compares them: emails, text, ids, names, Salesforce ids.

Both sides pass through the same function before any comparison, so a difference is never one of
spelling (case, spaces, punycode, 15- or 18-character Salesforce ids).
"""

from __future__ import annotations

import re

from checker.domain.emails import canonical

_SPLIT_EMAILS = re.compile(r"[\s,;]+")
_SPACES = re.compile(r"\s+")


def norm_email(value: str) -> str:
    """Emails are compared in one form: Unicode and punycode domains match (checker.emails)."""
    return canonical(value)


def norm_text(value: object) -> str | None:
    """Notes and details: line endings and trailing whitespace are not drift; empty is None."""
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    return text or None


def norm_id(value: object) -> int | str | None:
    """Ids compare as numbers: Zendesk stores the AM ID as text on one instance, a number on
    another."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    text = str(value).strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    return text


def norm_name(value: object) -> str | None:
    if value is None:
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    return text or None


_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_key(value: str) -> str:
    """The account a Salesforce id names: its case-sensitive 15-character form.

    An 18-character id is the 15-character one plus three characters that spell out which of
    the 15 are upper case, so it survives case-insensitive systems; its own letter case says
    nothing. Anything that is not such an id is returned as it is.
    """
    text = value.strip()
    if len(text) != 18:
        return text
    head, suffix = text[:15], text[15:].upper()
    if any(c not in _SF_SUFFIX for c in suffix):
        return text
    chars = []
    for i, ch in enumerate(head):
        upper = _SF_SUFFIX.index(suffix[i // 5]) >> (i % 5) & 1
        chars.append(ch.upper() if upper else ch.lower())
    return "".join(chars)


def norm_salesforce(expected: str | None, actual: object) -> tuple[str | None, str | None]:
    """A 15-character id equals the 18-character id of the same account."""
    exp = (expected or "").strip() or None
    act = str(actual).strip() or None if actual is not None else None
    if exp and act and salesforce_key(exp) == salesforce_key(act):
        return exp, exp
    return exp, act


def emails_of(value: object) -> list[str]:
    """A list field in Zendesk (multi-select or text): its emails, normalised, in order."""
    if value is None:
        return []
    raw = value if isinstance(value, list) else _SPLIT_EMAILS.split(str(value))
    out: list[str] = []
    for v in raw:
        e = norm_email(str(v)) if v is not None else ""
        if e and e not in out:
            out.append(e)
    return out
