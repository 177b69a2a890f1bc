"""Outside text rendered by checker.render.inert does nothing in GitLab Markdown.

The corpus holds the strings people (or Zendesk) could put into a name, an email, a note: quick
actions, mentions, references, HTML, links, images, emphasis, pipes, backtick break-outs. The
assertions read the rendered Markdown the way GitLab would: code spans and indented code blocks
are inert, everything outside them must be harmless.
"""

from __future__ import annotations

import re

import pytest

from checker.render.inert import block, inline, plain, url

HOSTILE: list[str] = [
    "/close",
    "/assign @root",
    "  /label ~security",
    "/confidential\n/close",
    "nice org\n/close\n/reopen",
    "@all",
    "hi @all please look",
    "@support-team",
    "@group/subgroup",
    "#1",
    "see #123 and !45",
    "!1",
    "%milestone",
    '%"Release 1"',
    "~label",
    '~"scoped::label"',
    "$snippet",
    "$1",
    "&epic",
    "&42",
    "[[wiki]]",
    "[[_TOC_]]",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<details><summary>x</summary>",
    "&lt;b&gt;",
    "&#64;all",
    "[click](https://evil.example)",
    "![img](https://evil.example/x.png)",
    "<https://evil.example>",
    "https://evil.example/path",
    "www.evil.example",
    "*bold* _em_ **strong** ~~strike~~",
    "a | b | c",
    "| --- |",
    "`code`",
    "``double``",
    "```",
    "```\n/close\n```",
    "~~~\n/close\n~~~",
    "x`",
    "`",
    "tick ` in middle",
    "trailing\\",
    "\\`escaped",
    "line1\r\nline2\rline3\u2028line4",
    "-->",
    "<!-- comment -->",
    ":smile: :+1:",
    "1. not a list",
    "# heading",
    "> quote",
    "- item",
    "---",
    "    indented code",
    "\u202egnp.exe",
    "null\x00byte\x07bell",
    "Robert'); DROP TABLE orgs;--",
    "jordan.lee@bluepeak.example",
    "Sam.Ortiz@bluepeak.example",
    "o'brien+support@example.co.uk",
    "`x`@evil.example",
    "$`\\sqrt{2}`$",
    "[^1]",
    "{+ added +}",
    "^[note]",
]

_REF = re.compile(r"(?<![\w\\])[@#!%~$&](?=[\w\"])")


def code_spans(text: str) -> tuple[str, list[str]]:
    """(text with code spans removed, the spans' contents) per CommonMark's backtick matching."""
    outside: list[str] = []
    spans: list[str] = []
    pos = 0
    runs = list(re.finditer(r"`+", text))
    i = 0
    while i < len(runs):
        opening = runs[i]
        closing = next(
            (j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opening.group())),
            None,
        )
        if closing is None:
            i += 1
            continue
        outside.append(text[pos : opening.start()])
        content = text[opening.end() : runs[closing].start()]
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        spans.append(content)
        pos = runs[closing].end()
        i = closing + 1
    outside.append(text[pos:])
    return "".join(outside), spans


def assert_inert_outside_code(outside: str) -> None:
    assert not _REF.search(outside), outside
    for token in ("<", "](", "![", "[[", "://", "www.", "*", "_", "`", ":", "/"):
        assert token not in outside, (token, outside)
    assert "|" not in outside.replace("\\|", ""), outside


@pytest.mark.parametrize("text", HOSTILE)
def test_inline_is_inert_and_verbatim(text: str) -> None:
    rendered = inline(text)
    assert "\n" not in rendered and "\r" not in rendered
    assert not rendered.startswith("/")
    outside, spans = code_spans(rendered)
    assert_inert_outside_code(outside)
    # The text survives: in a table GitLab turns "\|" back into "|" inside the span.
    shown = outside + "".join(s.replace("\\|", "|") for s in spans)
    expected = re.sub(r"\r\n|[\r\n\u2028]", " ↵ ", text)
    if "\x00" not in text and "\u202e" not in text:
        assert shown == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_inline_outside_tables_keeps_pipes(text: str) -> None:
    rendered = inline(text, table=False)
    outside, spans = code_spans(rendered)
    assert "|" not in outside
    assert "\\|" not in "".join(spans) or "\\|" in text


@pytest.mark.parametrize("text", HOSTILE)
def test_inline_inside_a_table_row_keeps_the_row_intact(text: str) -> None:
    row = f"| {inline(text)} | after |"
    # Split cells as GFM does: on pipes not escaped by a backslash.
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == 4, row


def test_plain_words_stay_plain_and_emails_readable() -> None:
    assert inline("Bluepeak Analytics") == "Bluepeak Analytics"
    assert inline("Café Zürich, O'Brien (UK)") == "Café Zürich, O'Brien (UK)"
    assert inline(360001234502) == "360001234502"
    assert inline(None) == ""
    assert inline(True) == "true"
    assert inline("jordan.lee@bluepeak.example") == "`jordan.lee@bluepeak.example`"
    assert "\u200b" not in inline("@all") and "\u200d" not in inline("@all")
    assert inline("`code`") == "`` `code` ``"
    assert inline("a|b") == "`a\\|b`"


@pytest.mark.parametrize("text", HOSTILE)
def test_block_is_an_indented_code_block(text: str) -> None:
    rendered = block(text)
    assert rendered.startswith("\n") and rendered.endswith("\n")
    lines = rendered.strip("\n").split("\n")
    for line in lines:
        assert not line.startswith("/")
        assert line == "" or line.startswith("    ") or line == "*(empty)*"
    # Inside the block every visible line is the text's own line, verbatim.
    if "\x00" not in text and "\u202e" not in text:
        content = [line[4:] for line in lines]
        originals = [ln if ln.strip() else "" for ln in re.split(r"\r\n|[\r\n\u2028]", text)]
        while originals and not originals[-1]:
            originals.pop()
        while originals and not originals[0]:
            originals.pop(0)
        assert content == originals


def test_block_of_nothing_and_controls() -> None:
    assert block(None) == "\n*(empty)*\n"
    assert block("  \n\n") == "\n*(empty)*\n"
    assert block("a\x00b") == "\n    a\u2400b\n"
    assert "<U+202E>" in block("\u202eabc")


def test_plain_for_titles() -> None:
    assert plain("Acme\n/close  Inc\t") == "Acme /close Inc"
    assert len(plain("x" * 500)) == 200
    assert plain(None) == ""


def test_url_accepts_http_only_and_encodes() -> None:
    assert url("https://support.zendesk.example/agent/organizations/1/tickets") == (
        "https://support.zendesk.example/agent/organizations/1/tickets"
    )
    assert url("javascript:alert(1)") is None
    assert url("data:text/html,<b>") is None
    assert url("https://x.example/a b)(c") == "https://x.example/a%20b%29%28c"
    assert url("https://x.example/<script>") == "https://x.example/%3Cscript%3E"
    assert url("not a url") is None
    assert url("https://ex ample.com/") is None
