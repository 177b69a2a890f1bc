"""Placeholders have one owner (checker.reconcile.placeholders): made by the planner, let through
by the renderer, filled in by the writer."""

from __future__ import annotations

from checker.reconcile.placeholders import PLACEHOLDER_RE, fill, placeholder
from checker.render import inert


def test_a_placeholder_is_filled_with_the_url_of_what_was_created() -> None:
    token = placeholder("org", ("global", 101))
    assert PLACEHOLDER_RE.fullmatch(token)
    url = "https://gitlab.example/g/p/-/issues/7"
    assert fill(f"see {token}.", {token: url}, "fallback") == f"see {url}."


def test_a_placeholder_whose_create_failed_is_filled_with_the_fallback() -> None:
    token = placeholder("adopt", ("eu", 5))
    assert fill(token, {}, "https://gitlab.example/g/p/-/issues") == (
        "https://gitlab.example/g/p/-/issues"
    )
    assert fill(token, {token: "u"}, "f", lambda u: f"<{u}>") == "<u>"


def test_outside_text_cannot_forge_a_placeholder() -> None:
    forged = "\x00pending:org:global/101\x00"
    rendered = inert.inline(forged, table=False)
    assert PLACEHOLDER_RE.search(rendered) is None
    assert fill(rendered, {forged: "https://evil.example"}, "f") == rendered
