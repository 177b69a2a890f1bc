"""The README is the user's contract: its references must match the schemas and the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from checker import cli as cli_module
from checker.load.schema import ORG_SCHEMA, SETTINGS_SCHEMA, load_schema

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(name: str) -> str:
    m = re.search(rf"<!-- {name} -->\n(.*?)<!-- /{name} -->", README, re.S)
    assert m, f"README has no {name} section"
    return m.group(1)


def documented_keys(name: str) -> set[str]:
    return set(re.findall(r"^\| `([^`]+)`", section(name), re.M))


def schema_paths(node: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, sub in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        out.add(path)
        out |= schema_paths(sub, path + ".")
        items = sub.get("items")
        if isinstance(items, dict) and "properties" in items:
            out |= schema_paths(items, path + "[].")
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            out |= schema_paths(extra, path + ".<name>.")
    return out


def test_every_org_schema_property_is_documented() -> None:
    paths = schema_paths(load_schema(ORG_SCHEMA))
    assert paths == documented_keys("reference:org")


def test_every_settings_property_is_documented() -> None:
    paths = schema_paths(load_schema(SETTINGS_SCHEMA))
    # nested objects are documented through their leaves
    paths -= {"instances", "instances.<name>.fields", "source_of_truth", "contact_limits", "gitlab"}
    paths -= {"support_request", "support_request.handbook_links"}
    documented = documented_keys("reference:settings")
    truth_fields = set(load_schema(SETTINGS_SCHEMA)["properties"]["source_of_truth"]["properties"])
    paths = {
        p
        for p in paths
        if not p.startswith(("source_of_truth.", "support_request.handbook_links."))
    }
    assert paths | {"source_of_truth.<field>", "support_request.handbook_links.<field>"} == (
        documented
    )
    truth_doc = re.search(r"\| `source_of_truth.<field>` \|.*", README)
    assert truth_doc is not None
    for field in truth_fields:
        assert f"`{field}`" in truth_doc.group(0)


def test_help_in_readme_is_the_real_help() -> None:
    result = CliRunner().invoke(cli_module.cli, ["--help"], prog_name="checker", terminal_width=100)
    assert result.exit_code == 0
    documented = section("help:checker").strip().removeprefix("```text").removesuffix("```").strip()
    assert documented == result.output.strip()


def test_every_exit_code_is_documented() -> None:
    table = README[README.index("## Exit codes") :]
    for name in dir(cli_module):
        if name.startswith("EXIT_"):
            assert f"\n| {getattr(cli_module, name)} |" in table, name


def test_every_environment_variable_is_documented() -> None:
    names: set[str] = set()
    for path in (ROOT / "checker").rglob("*.py"):
        names |= set(re.findall(r'"((?:ZENDESK|GITLAB|CHECKER|CI)_[A-Z_]+)"', path.read_text()))
    names -= {"ZENDESK_"}  # the prefix itself
    env_section = README[README.index("## Environment variables") : README.index("## Exit codes")]
    missing = {n for n in names if n not in env_section and not n.startswith("ZENPY")}
    assert not missing, f"undocumented environment variables: {sorted(missing)}"


def test_quick_start_names_two_commands_that_exist() -> None:
    quick = README[README.index("## Quick start") : README.index("## How it works")]
    commands = re.findall(r"^make (\w+)", quick, re.M)
    assert commands == ["demo", "test"]
    makefile = (ROOT / "Makefile").read_text()
    for c in commands:
        assert re.search(rf"^{c}:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_examples_in_readme_are_valid_org_files(tmp_path: Path) -> None:
    from checker.load.validate import validate

    example = re.search(r"```yaml\n(# yaml-language-server.*?)```", README, re.S)
    assert example is not None
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_text((ROOT / "examples" / "config" / "checker.yaml").read_text())
    (cfg / "orgs" / "acme.yaml").write_text(example.group(1))
    import datetime as dt

    result = validate(cfg, today=dt.date(2026, 1, 1))
    assert result.ok, [f.message for f in result.findings]
