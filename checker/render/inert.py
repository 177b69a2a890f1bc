"""Outside text made inert for GitLab Flavored Markdown.

Names, notes, details and emails come from YAML written by many people and from Zendesk, and are
shown in issues, merge requests and reports that GitLab renders. Rendered carelessly they can run
quick actions (``/close`` at the start of a line), notify people (``@all``), link other issues
(``#1``, ``!1``, ``%milestone``, ``~label``, ``$snippet``, ``&epic``, ``[[wiki]]``), inject HTML,
links and images, or break out of a code span or table cell.

The defence is the one place GitLab interprets nothing: code. A value that is plain words is shown
as it is; anything else goes into a code span (``inline``) or an indented code block (``block``),
so it reads and copies exactly as written, emails included. No zero-width characters are inserted
(they would break copy-paste). Why GitLab's own escapes are not enough:

* HTML entities (``&#64;``) are decoded before GitLab's reference filters see the text, so
  ``&#64;all`` would still notify everybody.
* A fenced code block does not stop quick actions reliably: GitLab's quick action extractor
  recognises only three-backtick fences, so a longer fence (needed when the text holds backticks)
  would leave ``/close`` lines inside it live. Indented code blocks start every line with four
  spaces, and quick actions only run on lines that start with ``/``.

Public API (stable, used by several renderers): :func:`inline`, :func:`block`, :func:`plain`,
:func:`url`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

__all__ = ["block", "inline", "plain", "url"]

#: Plain words: letters and digits of any script, spaces, and punctuation that means nothing to
#: GitLab Markdown in the middle of a line. Everything else is shown as code.
_PLAIN = re.compile(r"[^\W_](?:[^\W_]|[ .,'()-])*\Z")
#: ``1. Foo`` / ``1) Foo`` would start an ordered list where a value begins a line
_LIST_START = re.compile(r"\d+[.)](?: |$)")
#: GitHub-style autolinks need no scheme: ``www.example.com``
_WWW = re.compile(r"www\.", re.IGNORECASE)
#: every line break Markdown or a browser may honour
_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
#: C0/C1 controls (tab and newline aside) are shown as their Unicode control pictures
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: bidirectional overrides and isolates can make text read differently from what it is
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_PICTURES = {chr(c): chr(0x2400 + c) for c in range(0x20)} | {"\x7f": "\u2421"}
_BACKTICKS = re.compile(r"`+")
_URL_UNSAFE = re.compile(r"[\s<>\"'`()\[\]\\|]")
#: a GitLab mention or reference sigil directly before a word: @user, #1, !2, &3, ~label, %v1, $4
_SIGIL = re.compile(r"([@#!&~%$])(?=\w)()")
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "@#!&~%$"}
#: GitLab's closing pattern (lib/gitlab/closing_issue_extractor.rb): a keyword, then a
#: reference to an issue (#1, group/project#1, an issue URL) or an external one (ACME-7)
_CLOSING = re.compile(
    r"\b((?i:clos(?:e[sd]?|ing)|fix(?:e[sd]|ing)?|resolv(?:e[sd]?|ing)|implement(?:s|ed|ing)?))"
    r"(:?\s+(?i:issues?\s+)?)(?=[\w./-]*[#＃]\d|https?://|[A-Z][A-Z0-9_]+-\d)"
)
#: a bare commit SHA GitLab would link (and cross-reference) if the commit exists
_HEX_WORD = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _visible(text: str) -> str:
    """Controls become visible pictures (U+2400…); bidi overrides are shown as their code."""
    text = _CONTROLS.sub(lambda m: _PICTURES[m.group()], text)
    return _BIDI.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _code_span(text: str, *, table: bool) -> str:
    """A code span that no backtick run inside can close; pipes escaped for table cells."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * (longest + 1)
    if text[:1] in ("`", " ") or text[-1:] in ("`", " "):
        # CommonMark strips one space on each side when both are there: pad so that a leading
        # or trailing backtick cannot join the fence and the text's own spaces survive.
        text = f" {text} "
    if table:
        # In a GFM table the cell is split on unescaped pipes before code spans are parsed,
        # and ``\|`` is turned back into ``|`` inside the span.
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def inline(text: object, *, table: bool = True) -> str:
    """``text`` as one inert line: itself when it is plain words, else a code span.

    Safe inside a Markdown table cell (pipes are escaped, line breaks become ``↵``), after a list
    marker, or in running text. ``None`` gives an empty string (callers decide how to show it).
    With ``table=False`` pipes are left alone, for use outside tables: there a ``\\|`` inside a
    code span would show its backslash.
    """
    raw = _text(text)
    if raw == "":
        return ""
    one_line = no_closing(_visible(_BREAKS.sub(" ↵ ", raw)))
    if (
        _PLAIN.match(one_line)
        and not _WWW.search(one_line)
        and not _LIST_START.match(one_line)
        and not _HEX_WORD.search(one_line)
    ):
        return one_line
    return _code_span(one_line, table=table)


def block(text: object) -> str:
    """Multi-line ``text`` shown verbatim and inert: an indented code block.

    The result starts and ends with a blank line, so it always forms its own block; put it at the
    start of a line, outside lists and tables. Empty text gives an emphasised ``(empty)``.
    """
    raw = no_closing(_text(text).replace("\r\n", "\n"))
    raw = _BREAKS.sub("\n", raw)
    lines = [_visible(line) for line in raw.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return "\n*(empty)*\n"
    # Whitespace-only lines inside stay part of the block, but as empty lines (an indented
    # code block keeps blank lines between indented ones).
    body = "\n".join(("    " + line) if line.strip() else "" for line in lines)
    return f"\n{body}\n"


def plain(text: object, *, limit: int = 200) -> str:
    """A single line of text for places that show no Markdown: titles, commit messages.

    Line breaks and controls are removed, runs of spaces collapsed, the length capped. GitLab
    still finds mentions and references in titles (``@all`` notifies, ``#1`` cross-links) and
    closing phrases in commit messages, so their sigils become full-width look-alikes.
    """
    one_line = " ".join(_BIDI.sub("", _CONTROLS.sub(" ", _BREAKS.sub(" ", _text(text)))).split())
    one_line = _SIGIL.sub(lambda m: _FULLWIDTH[m.group(1)] + m.group(2), one_line)
    one_line = no_closing(one_line)
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def no_closing(text: str) -> str:
    """``text`` with GitLab's issue-closing phrases ("Fixes #1") defused.

    GitLab reads them from the raw description of a merge request and from commit messages,
    code spans or not, and closes the issues they name when the merge request is merged. The
    keyword's first letter becomes its full-width form; the rest reads as written.
    """
    return _CLOSING.sub(
        lambda m: chr(ord(m.group(1)[0]) + 0xFEE0) + m.group(1)[1:] + m.group(2), text
    )


def url(text: object) -> str | None:
    """An http(s) URL safe to put in ``[label](…)``, or None when ``text`` is not one."""
    raw = _text(text).strip()
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if _URL_UNSAFE.search(parts.netloc) or any(
        unicodedata.category(c) in ("Cc", "Cf") for c in raw
    ):
        return None
    # Percent-encode anything that could end the link target early or smuggle Markdown.
    safe = "/:@!$&*+,;=~%?#-._"
    path = quote(parts.path, safe=safe)
    query = quote(parts.query, safe=safe)
    fragment = quote(parts.fragment, safe=safe)
    out = f"{parts.scheme.lower()}://{parts.netloc}{path}"
    if query:
        out += f"?{query}"
    if fragment:
        out += f"#{fragment}"
    return out
