"""Pins the private parts of ruamel.yaml that checker.load.yamlload.event_parser relies on.

An upgrade of ruamel.yaml or ruamel.yaml.clib that moves them fails here, by name, instead of
somewhere in validation."""

from __future__ import annotations

from typing import Any

from checker.load.yamlload import event_parser

DOC = """\
name: Acme  # a comment
zendesk:
  org_id: 42
support_contacts:
  - email: ops@acme.example
notes: |
  two
  lines
"""


def _events(pure: bool) -> list[tuple[str, Any, int, int]]:
    parser, release = event_parser(DOC, pure=pure)
    seen = []
    try:
        while True:
            event = parser.get_event()
            mark = event.start_mark
            seen.append(
                (type(event).__name__, getattr(event, "value", None), mark.line, mark.column)
            )
            if type(event).__name__ == "StreamEndEvent":
                return seen
    finally:
        release()


def test_the_c_parser_is_the_one_used_and_gives_the_pure_parsers_events() -> None:
    import _ruamel_yaml  # type: ignore[import-not-found]  # ruamel.yaml.clib, as installed

    parser, release = event_parser(DOC)
    release()
    assert isinstance(parser, _ruamel_yaml.CParser)
    c_events = _events(pure=False)
    assert c_events == _events(pure=True)
    scalars = [(value, line, col) for name, value, line, col in c_events if name == "ScalarEvent"]
    assert ("org_id", 2, 2) in scalars and ("42", 2, 10) in scalars
    assert ("two\nlines\n", 5, 7) in scalars
