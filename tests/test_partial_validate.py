"""``checker validate PATH...`` (issue 14): the rules across files come from a key index, and a
partial run reports, for its files, exactly what a full run reports for them.

Two derandomized property tests: the index's scan agrees with the full reader on every file the
full reader finds an identity in (random org files in many YAML shapes, then randomly mutated);
and on random trees, a run over a random subset of paths gives the full run's findings for those
paths, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from checker.domain.settings import Settings
from checker.load.keyindex import _NUMBER_OR_WORD, display_paths, scan_keys
from checker.load.orgfile import check_org_file
from checker.load.settings import display_path, load_settings
from checker.load.validate import discover, validate
from checker.load.yamlload import resolve_plain as _resolve_plain

from .conftest import ROOT, SETTINGS

TODAY = dt.date(2026, 6, 1)

PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ORG_IDS = ["1", "2", "3", "'1'", "01", "1.0", "0x1", "", "1 # the id", "99999999999999999999", "-2"]
INSTANCES = [
    None,
    "global",
    "us-gov",
    "'global'",
    '"us-gov"',
    "null",
    "~",
    "2024-01-01",
    "123",
    "elsewhere",
    "",
]
SALESFORCE = [
    None,
    "0016100001ABCDE",
    "0016100001ABCDEAAA",
    "0016100001abcde",
    "'0016100001ABCDE'",
    '"0016100001ABCDEAAA"',
    "null",
    "12345",
    "",
    "2024-01-01",
    "0x1F",
    "1e5",
]
#: lines that make a file harder to read: block scalars holding key-like text, quoted scalars
#: running over column 0, sequences at column 0, syntax errors, other versions, odd keys
EXTRAS = [
    "notes: |\n  zendesk:\n    org_id: 1\n  salesforce_id: 0016100001ABCDE\n",
    'notes: "a quoted note\nzendesk:\n  org_id: 2"\n',
    "details: 'over\nsalesforce_id: 0016100001ABCDE'\n",
    "ignore:\n- field: notes\n  reason: known\n  until: 2030-01-01\n",
    "bad: [1, 2\n",
    "schema_version: 2\n",
    '"zendesk": {org_id: 3}\n',
    "zendesk:\n  org_id: 2\n",
    "salesforce_id: 0016100001ABCDEAAA\n",
    "? complex\n: value\n",
    "csm: jdoe\n# a comment at column 0\n",
    "support_contacts:\n  - email: a@b.example\n    name: A\n",
    "list: [a,\nb]\n",
    "---\n",
    "...\n",
]


@st.composite
def zendesk_part(draw: st.DrawFn) -> str:
    org_id = draw(st.sampled_from([*ORG_IDS, None]))
    instance = draw(st.sampled_from(INSTANCES))
    entries = []
    if org_id is not None:
        entries.append(("org_id", org_id))
    if instance is not None:
        entries.append(("instance", instance))
    entries = draw(st.permutations(entries))
    shape = draw(st.sampled_from(["block", "block4", "flow", "comment0", "none", "null", "empty"]))
    if shape == "none":
        return ""
    if shape == "null":
        return "zendesk: null\n"
    if shape == "empty" or not entries:
        return "zendesk:\n"
    if shape == "flow":
        return "zendesk: {" + ", ".join(f"{k}: {v}" for k, v in entries) + "}\n"
    pad = "    " if shape == "block4" else "  "
    lines = [f"{pad}{k}: {v}".rstrip() for k, v in entries]
    if shape == "comment0":
        lines.insert(draw(st.integers(0, len(lines))), "# between the entries")
    return "zendesk:\n" + "\n".join(lines) + "\n"


@st.composite
def org_text(draw: st.DrawFn) -> str:
    parts = ["schema_version: 1\n", "name: Example\n", draw(zendesk_part())]
    sf = draw(st.sampled_from(SALESFORCE))
    if sf is not None:
        parts.append(f"salesforce_id: {sf}".rstrip() + "\n")
    parts += draw(st.lists(st.sampled_from(EXTRAS), max_size=2))
    parts = draw(st.permutations(parts))
    text = "".join(parts)
    if draw(st.booleans()):
        text = "# yaml-language-server: $schema=../../schemas/org.schema.json\n" + text
    variant = draw(st.sampled_from(["plain"] * 6 + ["crlf", "tab", "indented", "bom"]))
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    elif variant == "tab":
        text = text.replace("  ", "\t", 1)
    elif variant == "indented":
        text = "".join("  " + line for line in text.splitlines(keepends=True))
    elif variant == "bom":
        text = "\ufeff" + text
    return text


#: fragments a mutation inserts anywhere: YAML syntax, keys, line breaks, quotes
TOKENS = ["\n", " ", "  ", ":", "- ", "#", "'", '"', "{", "}", "[", ",", "|\n", "zendesk:", "\n  "]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = draw(org_text())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 4)) :]
    return text


@functools.cache
def _settings() -> Settings:
    loaded, _ = load_settings(ROOT / "examples" / "config")
    assert loaded is not None
    return loaded


def _agrees(raw: bytes) -> None:
    """The index's promise: where the full reader finds an identity, the scan finds the same or
    gives up (None)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "org.yaml")
        path.write_bytes(raw)
        full = check_org_file(path, "org.yaml", _settings(), TODAY)
    keys = scan_keys(raw, _settings().default_instance)
    if keys is None:
        return
    if full.org_id is not None:
        assert (keys.org_id, keys.instance) == (full.org_id, full.instance), raw
    if full.salesforce_id:
        assert keys.salesforce_id == full.salesforce_id, raw


@PROPERTY
@given(text=org_text())
def test_scan_agrees_with_the_full_reader(text: str) -> None:
    _agrees(text.encode())


@PROPERTY
@given(text=mutated_text())
def test_scan_agrees_with_the_full_reader_on_mutated_files(text: str) -> None:
    _agrees(text.encode())


#: files whose identity hides from a reader of plain lines; each must be read right or given up
TRICKY = {
    "quoted-key": 'schema_version: 1\n"zendesk": {org_id: 3}\n',
    "complex-key": "schema_version: 1\n? zendesk\n: {org_id: 3}\n",
    "indented-root": "  schema_version: 1\n  zendesk:\n    org_id: 3\n",
    "comment-at-column-0-in-block": "schema_version: 1\nzendesk:\n# the id\n  org_id: 3\n",
    "value-on-next-line": "schema_version: 1\nzendesk:\n  org_id:\n    3\n",
    "instance-on-next-line": "schema_version: 1\nzendesk:\n  instance:\n    us-gov\n  org_id: 3\n",
    "salesforce-on-next-line": "schema_version: 1\nsalesforce_id:\n  0016100001ABCDE\n",
    "salesforce-continued": "schema_version: 1\nsalesforce_id: 0016100001ABCDE\n  MORE\n",
    "comment-after-key": "schema_version: 1\nzendesk: # where\n  org_id: 3 # id\n  instance: us-gov\n",
    "sequence-value": "schema_version: 1\nzendesk:\n- org_id: 3\n",
    "tab-separated": "schema_version: 1\nzendesk:\n  org_id:\t3\nsalesforce_id:\t0016100001ABCDE\n",
    "crlf": "schema_version: 1\r\nzendesk:\r\n  org_id: 3\r\n  instance: us-gov\r\n",
    "document-start": "--- {schema_version: 1, zendesk: {org_id: 3}}\n",
    "flow-over-lines": "schema_version: 1\nzendesk: {org_id: 3,\n  instance: us-gov}\n",
    "quoted-over-column-0": 'schema_version: 1\nnotes: "a\nzendesk:\n  org_id: 4"\nzendesk: {org_id: 3}\n',
    "date-instance": "schema_version: 1\nzendesk:\n  org_id: 3\n  instance: 2024-1-2\n",
    "hex-id": "schema_version: 1\nzendesk: {org_id: 0x1F}\n",
}


@pytest.mark.parametrize("text", TRICKY.values(), ids=TRICKY.keys())
def test_scan_is_right_or_gives_up_on_tricky_files(text: str) -> None:
    _agrees(text.encode())


def test_scan_reads_the_plain_shapes_without_giving_up() -> None:
    """The shapes the repository's files have are read by the scan, not handed to the full
    check (that is what makes the index fast)."""
    for path in sorted((ROOT / "examples" / "config" / "orgs").rglob("*.yaml")):
        keys = scan_keys(path.read_bytes(), _settings().default_instance)
        full = check_org_file(path, "x.yaml", _settings(), TODAY)
        assert keys is not None, path
        assert (keys.org_id, keys.instance, keys.salesforce_id) == (
            full.org_id,
            full.instance,
            full.salesforce_id,
        )
    flow = b"schema_version: 1\nname: A\nzendesk: {org_id: 12, instance: us-gov}\n"
    assert scan_keys(flow, "global") is not None


@PROPERTY
@given(text=st.text(alphabet="0123456789abcdefxoABCDEFXOeEtrunlsTRUNLS", min_size=1, max_size=12))
def test_scan_shortcut_for_words_is_what_yaml_resolves(text: str) -> None:
    """Letters and digits the scan takes as text without asking YAML's resolver are text."""
    if text.isalnum() and not _NUMBER_OR_WORD.fullmatch(text):
        assert _resolve_plain(text) == (text, None)


NAMES = ["a.yaml", "b.yaml", "A.yaml", "sub/a.yaml", "sub/c.yaml", "sub/deep/b.yaml", "x.yml"]


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=7, unique=True))
    files = {name: draw(org_text()) for name in names}
    chosen = draw(st.lists(st.sampled_from([*names, "sub"]), min_size=1, max_size=4, unique=True))
    return files, chosen


@PROPERTY
@given(tree=trees())
def test_partial_run_equals_full_run_for_its_paths(tree: tuple[dict[str, str], list[str]]) -> None:
    files, chosen = tree
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp, "config")
        (cfg / "orgs" / "sub").mkdir(parents=True)
        shutil.copy(SETTINGS, cfg / "checker.yaml")
        for name, text in files.items():
            target = cfg / "orgs" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode())
        full = validate(cfg, today=TODAY, workers=1)
        paths = [cfg / "orgs" / name for name in chosen]
        part = validate(cfg, paths, today=TODAY, workers=1)
        wanted = {display_path(p) for p in paths}
        folders = [w for w in wanted if Path(w).is_dir()]

        def mine(shown: str) -> bool:
            return shown in wanted or any(shown.startswith(d + "/") for d in folders)

        assert part.findings == tuple(f for f in full.findings if mine(f.path))
        assert part.paths == tuple(p for p in full.paths if mine(p))
        assert part.files_checked == len(part.paths)


def test_display_paths_are_display_path(tmp_path: Path) -> None:
    orgs = tmp_path / "orgs"
    (orgs / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere.yaml").write_text("schema_version: 1\n")
    (orgs / "a.yaml").write_text("schema_version: 1\n")
    (orgs / "sub" / "b.yaml").write_text("schema_version: 1\n")
    (orgs / "link.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    files, _ = discover(orgs)
    assert display_paths(files) == [display_path(f) for f in files]


def test_a_path_given_twice_or_a_folder_is_checked_once(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    (cfg / "orgs" / "sub").mkdir(parents=True)
    shutil.copy(SETTINGS, cfg / "checker.yaml")
    one = cfg / "orgs" / "sub" / "one.yaml"
    one.write_text("schema_version: 1\nname: One\nzendesk:\n  org_id: 5\n")
    (cfg / "orgs" / "two.yaml").write_text("schema_version: 1\nname: Two\nzendesk: {org_id: 5}\n")
    result = validate(cfg, [one, one, cfg / "orgs" / "sub"], today=TODAY, workers=1)
    assert result.paths == (display_path(one),)
    assert [f.rule for f in result.findings] == ["duplicate-org-id"]
    assert display_path(cfg / "orgs" / "two.yaml") in result.findings[0].message


def test_a_stray_file_given_as_a_path_gets_what_the_full_run_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    shutil.copy(SETTINGS, cfg / "checker.yaml")
    stray = cfg / "orgs" / "acme.yml"
    stray.write_text("schema_version: 1\nname: Acme\nzendesk:\n  org_id: 5\n")
    monkeypatch.chdir(tmp_path)
    full = validate(Path("config"), today=TODAY, workers=1)
    part = validate(Path("config"), [Path("config/orgs/acme.yml")], today=TODAY, workers=1)
    assert [f.rule for f in full.findings] == ["file-extension"]
    assert part.findings == full.findings
    assert part.files_checked == 0
    # The working directory given as the folder holds every org file.
    everything = validate(Path("config"), [Path(".")], today=TODAY, workers=1)
    assert everything.findings == full.findings
