"""The layout's promises: the core loads no vendor or file-format library, the guarded
Markdown environment refuses unfiltered text, and every row of the CLI's exit-code table names
a real error class."""

from __future__ import annotations

import importlib
import subprocess
import sys

import jinja2
import pytest

from checker import cli
from checker.render import drift_markdown


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return {name.split(".")[0] for name in proc.stdout.split()}


def test_the_domain_loads_neither_vendors_nor_file_formats() -> None:
    loaded = _loaded_after(
        "import checker.domain.models, checker.domain.drift, checker.domain.settings, "
        "checker.domain.normalise, "
        "checker.domain.selection, checker.domain.wording"
    )
    for heavy in ("zenpy", "gitlab", "requests", "urllib3", "ruamel", "jsonschema", "jinja2"):
        assert heavy not in loaded


def test_the_drift_preview_environment_refuses_text_that_did_not_pass_an_inert_filter() -> None:
    env = drift_markdown._environment()
    with pytest.raises(TypeError, match="inert filter"):
        env.from_string("{{ name }}").render(name="<img src=x>")
    assert env.from_string("{{ name | inline }}").render(name="**x**") != "**x**"
    assert isinstance(env.undefined, type) and issubclass(env.undefined, jinja2.StrictUndefined)


@pytest.mark.parametrize(("module", "name", "code", "gitlab"), cli.ERROR_EXITS)
def test_each_row_of_the_exit_code_table_names_an_error_class(
    module: str, name: str, code: int, gitlab: bool
) -> None:
    error = getattr(importlib.import_module(module), name)
    assert issubclass(error, Exception)
    assert code in (cli.EXIT_INVALID, cli.EXIT_USAGE, cli.EXIT_UNKNOWN)
    assert gitlab == module.startswith("checker.tracker")
    # subclasses come before their bases, so the first matching row is the most specific
    rows = [getattr(importlib.import_module(m), n) for m, n, _, _ in cli.ERROR_EXITS]
    assert not any(
        issubclass(error, base) and base is not error for base in rows[: rows.index(error)]
    )
