"""``checker report``: one run's shard reports merged by reconcile's rules, rendered as text,
Markdown, JSON (drift's own renderers) or one self-contained HTML page; the plan's issues and
merge requests, history ("drifting since", the trend) and redaction of contacts."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import pytest

from checker.domain.models import DriftItem, DriftKind, OrgStatus
from checker.render import drift_html, drift_markdown, drift_text
from checker.report import from_json, to_json
from checker.usecases import report as fleet
from tests.cli_support import run
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk
from tests.report_support import REPO, fleet_report, org, shards, write, write_settings
from tests.test_reconcile_cli import env, world  # noqa: F401 - the scheduled flow's fixture

World = tuple[FakeZendesk, FakeZendesk, FakeGitLab, Path]


def data_of(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m is not None
    doc: dict[str, Any] = json.loads(m.group(1))
    return doc


def sharded(tmp_path: Path, count: int = 3, **kw: Any) -> list[Path]:
    report = fleet_report(12, 5, missing=1, unknown=1, **kw)
    return [
        write(r, tmp_path / f"r/drift-{n + 1}.json") for n, r in enumerate(shards(report, count))
    ]


def report_args(paths: list[Path]) -> list[str]:
    return [a for p in paths for a in ("--report", str(p))]


# --------------------------------------------------------------------------- formats


def test_text_markdown_and_json_are_drift_renderers_of_the_merged_run(tmp_path: Path) -> None:
    paths = sharded(tmp_path)
    merged = fleet.load_run(paths)
    keys = [(o.instance, o.org_id) for o in merged.orgs]
    assert keys == sorted(keys) and len(keys) == 12
    assert (merged.count(OrgStatus.DRIFTED), merged.scope, merged.shard) == (5, "full", None)
    assert merged.zendesk_requests == sum(from_json(p.read_text()).zendesk_requests for p in paths)
    outputs = {}
    for fmt in ("text", "markdown", "json"):
        proc = run(
            ["report", *report_args(paths), "--format", fmt], tmp_path, {"PATH": "/usr/bin:/bin"}
        )
        assert proc.returncode == 0, proc.stderr
        outputs[fmt] = proc.stdout
    assert outputs["text"] == drift_text.render(merged)
    assert outputs["markdown"] == drift_markdown.render(merged, title="Zendesk drift report")
    assert outputs["json"] == to_json(merged)
    # the merged JSON is one full report again: reconcile (and a later report) accept it alone
    assert fleet.load_run([write(from_json(outputs["json"]), tmp_path / "merged.json")]) == merged


def test_a_missing_shard_or_an_org_in_two_reports_is_refused(tmp_path: Path) -> None:
    paths = sharded(tmp_path)
    env_ = {"PATH": "/usr/bin:/bin"}
    proc = run(["report", *report_args(paths[:2]), "--output", "out.html"], tmp_path, env_)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "checker: shard 3/3 missing: pass every shard report of the run"
    assert not (tmp_path / "out.html").exists()
    twice = replace(from_json(paths[1].read_text()), orgs=from_json(paths[0].read_text()).orgs[:1])
    write(twice, paths[1])
    proc = run(["report", *report_args(paths), "--output", "out.html"], tmp_path, env_)
    assert proc.returncode == 1
    assert "is in two reports" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_an_unwritable_output_is_a_usage_error(tmp_path: Path) -> None:
    paths = sharded(tmp_path, count=1)
    (tmp_path / "taken").write_text("a file, not a folder")
    proc = run(
        ["report", *report_args(paths), "--format", "json", "--output", "taken/drift.json"],
        tmp_path,
        {"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("checker: cannot write taken/drift.json")


# --------------------------------------------------------------------------- the HTML page


def test_the_page_is_self_contained_and_its_csp_allows_only_its_own_script_and_style(
    tmp_path: Path,
) -> None:
    cfg = write_settings(tmp_path)
    paths = sharded(tmp_path)
    proc = run(
        ["report", "--config-dir", str(cfg), *report_args(paths), "--output", "r/drift.html"],
        tmp_path,
        {"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().endswith("written to r/drift.html")
    html = (tmp_path / "r/drift.html").read_text()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert csp is not None
    policy = dict(d.strip().split(" ", 1) for d in html_unescape(csp.group(1)).split(";"))
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert script is not None and style is not None

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == sha(script.group(1))
    assert policy["style-src"] == sha(style.group(1))
    assert policy["connect-src"] == "'none'" and policy["img-src"] == "'none'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'none'"
    # nothing is loaded from anywhere: no src or stylesheet link, no @import, no url()
    assert not re.search(r"\bsrc=|<link\b|@import|url\(", html)
    assert html.count("<script") == 2 and "style=" not in html
    data = data_of(html)
    assert len(data["orgs"]) == 12
    assert data["links"] == {
        "file": f"{REPO}/-/blob/HEAD/",
        "search": f"{REPO}/-/issues?state=all&label_name%5B%5D=zendesk-drift&search=",
        "issue": f"{REPO}/-/issues/",
        "mr": f"{REPO}/-/merge_requests/",
        "zendesk": {
            "global": "https://support.zendesk.example/agent/organizations/",
            "us-gov": "https://support-federal.zendesk.example/agent/organizations/",
        },
    }


def test_data_is_escaped_for_html_and_links_come_only_from_settings(tmp_path: Path) -> None:
    hostile = "</script><script>alert(1)</script><!-- & \u2028\u2029 \u202egnp.exe"
    report = fleet_report(3, 1)
    bad = replace(
        report.orgs[0],
        name=hostile,
        file="config/orgs/../../x.yaml",
        zendesk_url="javascript:alert(1)",
        collaboration_project_url="javascript:alert(2)",
        items=(DriftItem("notes", DriftKind.CHANGED, hostile, "x"),),
    )
    report = replace(report, orgs=(bad, *report.orgs[1:]))
    built = fleet.build([write(report, tmp_path / "d.json")])
    html = drift_html.render(built, drift_html.PageLinks(repository_url="javascript:alert(3)"))
    tail = html.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    for raw in ("<", ">", "&", "\u2028", "\u2029", "\u202e"):
        assert raw not in tail
    assert "javascript:" not in html
    doc = data_of(html)
    first = next(o for o in doc["orgs"] if o["id"] == bad.org_id)
    assert first["n"] == hostile.replace("\u2028", "⟨U+2028⟩").replace(
        "\u2029", "⟨U+2029⟩"
    ).replace("\u202e", "⟨U+202E⟩")
    assert "p" not in first and first["pt"] == "config/orgs/../../x.yaml"  # text, never a link
    assert doc["links"]["file"] is None and doc["links"]["zendesk"] == {}


def test_settings_missing_gives_a_page_without_links_and_a_warning(tmp_path: Path) -> None:
    paths = sharded(tmp_path, count=1)
    proc = run(
        ["report", "--config-dir", "nowhere", *report_args(paths), "--output", "d.html"],
        tmp_path,
        {"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[0].startswith(
        "checker: warning: no usable settings in nowhere: the page has no links"
    )
    assert data_of((tmp_path / "d.html").read_text())["links"]["file"] is None


# --------------------------------------------------------------------------- history, redaction


def test_history_gives_the_trend_and_drifting_since(tmp_path: Path) -> None:
    history = tmp_path / "history"
    days = ["2026-11-23", "2026-11-24", "2026-11-25"]
    for n, day in enumerate(days):
        # org 0 drifts the same way all along; org 1 only from the 25th; the 24th's run is a
        # folder of shards; org 0 could not be checked on the 24th (which breaks no streak)
        past = fleet_report(12, 1 + (n == 2), generated_at=f"{day}T06:00:00Z", checked_on=day)
        if n == 1:
            orgs = (org(0, OrgStatus.UNKNOWN), *past.orgs[1:])
            for i, shard in enumerate(shards(replace(past, orgs=orgs), 2)):
                write(shard, history / day / f"drift-{i + 1}.json")
        else:
            write(past, history / f"{day}.json")
    (history / "broken.json").write_text("{not json")
    (history / "notes.txt").write_text("ignored")
    current = fleet_report(12, 3, generated_at="2026-11-26T06:00:00Z", checked_on="2026-11-26")
    write(current, history / "2026-11-26.json")  # the current run itself: not its own history
    paths = [write(current, tmp_path / "drift.json")]
    warnings: list[str] = []
    built = fleet.build(paths, history_dir=history, warn=warnings.append)
    assert [w.split(": skipped")[0] for w in warnings] == [str(history / "broken.json")]
    assert [(p.label, p.drifted, p.unknown) for p in built.trend] == [
        ("2026-11-23", 1, 0),
        ("2026-11-24", 0, 1),
        ("2026-11-25", 2, 0),
        ("2026-11-26", 3, 0),
    ]
    key = ("global", 360000000001)
    assert built.org_since == {
        ("us-gov", 360000000000): "2026-11-23",
        key: "2026-11-25",
        ("global", 360000000002): "2026-11-26",
    }
    assert built.item_since[(key, 0)] == "2026-11-25"
    html = drift_html.render(built, drift_html.PageLinks())
    assert "Over time" in html and "<polyline" in html
    org0 = next(o for o in data_of(html)["orgs"] if o["id"] == 360000000000)
    assert org0["since"] == "2026-11-23" and org0["it"][0]["since"] == "2026-11-23"


def test_redaction_hashes_emails_stably_and_hides_contact_names(tmp_path: Path) -> None:
    paths = sharded(tmp_path, count=1)
    env_ = {"PATH": "/usr/bin:/bin"}
    outs = []
    for fmt in ("json", "html", "text"):
        proc = run(
            ["report", *report_args(paths), "--redact-contacts", "--format", fmt], tmp_path, env_
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    for out in outs:
        assert "ana.org1@org1.example" not in out and "Casey Wu" not in out
        assert "casey.org3@org3.example" not in out
    doc = json.loads(outs[0])
    org1 = next(o for o in doc["orgs"] if o["org_id"] == 360000000001)
    expected = "redacted-" + hashlib.sha256(b"ana.org1@org1.example").hexdigest()[:10]
    assert org1["items"][0]["item"] == expected + "@org1.example"
    assert fleet.redact_email("Ana.Org1@ORG1.example") == expected + "@org1.example"
    org3 = next(o for o in doc["orgs"] if o["org_id"] == 360000000003)
    assert (org3["items"][0]["expected"], org3["items"][0]["actual"]) == (
        fleet.NAME_HIDDEN,
        fleet.NAME_HIDDEN,
    )


# --------------------------------------------------------------------------- the scheduled flow


def test_the_reconcile_plan_links_each_org_to_its_issue_and_merge_request(
    world: World,  # noqa: F811
) -> None:
    _, _, gl, repo = world
    e = env(world, CI_DEFAULT_BRANCH="main")
    for i in (1, 2):
        proc = run(
            ["drift", "--shard", f"{i}/2", "--format", "json", "--output", f"r/drift-{i}.json"],
            repo,
            e,
        )
        assert proc.returncode in (0, 3), proc.stderr
    reports = ["--report", "r/drift-1.json", "--report", "r/drift-2.json"]
    proc = run(["reconcile", *reports, "--plan-output", "r/plan.json"], repo, e)
    assert proc.returncode == 0, proc.stderr
    proc = run(["report", *reports, "--plan", "r/plan.json", "--output", "r/drift.html"], repo, e)
    assert proc.returncode == 0, proc.stderr
    doc = data_of((repo / "r/drift.html").read_text())
    base = e["CI_PROJECT_URL"]
    assert doc["links"]["issue"] == f"{base}/-/issues/" and doc["links"]["file"].endswith(
        "/-/blob/main/"
    )
    issues = {
        i["title"].split(": ", 1)[1]: i["iid"]
        for i in gl.issues
        if i["title"].startswith("Zendesk drift:")
    }
    by_name = {o["n"]: o for o in doc["orgs"]}
    for title, iid in issues.items():
        name = title.rsplit(" (org", 1)[0]
        assert by_name[name]["is"] == [iid, "create", True]
    mrs = {m["iid"] for m in gl.merge_requests}
    assert {o["mr"][0] for o in doc["orgs"] if "mr" in o} == mrs
    assert all("is" not in o for o in doc["orgs"] if o["s"] == "in_sync")


def test_a_plan_that_is_not_one_is_refused(tmp_path: Path) -> None:
    paths = sharded(tmp_path, count=1)
    (tmp_path / "plan.json").write_text('{"actions": 3}')
    proc = run(
        ["report", *report_args(paths), "--plan", "plan.json"], tmp_path, {"PATH": "/usr/bin:/bin"}
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "checker: plan.json: not a reconcile plan (no list of actions)"


@pytest.mark.parametrize(
    ("url", "linkable"),
    [
        (f"{REPO}/-/issues/7", True),
        ("https://gitlab.example/other/project/-/issues/7", False),
    ],
)
def test_issue_links_only_into_the_repository_of_the_settings(
    tmp_path: Path, url: str, linkable: bool
) -> None:
    plan = {"actions": [{"org": "us-gov/360000000000", "target": "issue", "verb": "create",
                         "iid": None, "status": "done", "url": url}]}  # fmt: skip
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    built = fleet.build(sharded(tmp_path, count=1), plan_path=tmp_path / "plan.json")
    doc = data_of(drift_html.render(built, drift_html.PageLinks(repository_url=REPO)))
    assert next(o for o in doc["orgs"] if o["id"] == 360000000000)["is"] == [7, "create", linkable]


def test_the_status_bar_field_matrix_and_trend_are_computed_from_the_run() -> None:
    report = fleet_report(10, 4, missing=1, unknown=1)
    bar = drift_html.status_bar(report)
    assert [(s["status"], s["count"], s["percent"]) for s in bar] == [
        ("drifted", 4, "40.0"),
        ("missing", 1, "10.0"),
        ("unknown", 1, "10.0"),
        ("in_sync", 4, "40.0"),
    ]
    assert [s["x"] for s in bar] == ["0.00", "400.00", "500.00", "600.00"]
    instances, rows = drift_html.field_matrix(report)
    # orgs 0..3 drift: 0 (us-gov) the AM ID, 1 two contacts, 2 notes, 3 a contact name
    assert instances == ["global", "us-gov"]
    assert rows == [
        ("support_contacts", [2, 0], 2),
        ("collaboration_project.id", [0, 1], 1),
        ("notes", [1, 0], 1),
    ]
    one = drift_html.trend_chart((fleet.point(report),))
    # one run: one point per line, 4 drifted at the top, 1 missing and 1 unknown at a quarter
    assert [s["points"] for s in one["series"]] == ["40.0,10.0", "40.0,104.5", "40.0,104.5"]
