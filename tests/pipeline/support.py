"""Helpers of the pipeline proof: throwaway git copies of the project, gitlab-ci-local runs with
nothing leaking in from this environment, and checks of what the jobs left behind (reports,
artifacts, the fake GitLab's state). Only the standard library and the fakes: the checker is
driven as the jobs drive it, through its CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STATES = Path(__file__).resolve().parent
CI_LOCAL = ROOT / "tools" / "ci-local"
GCL_JS = CI_LOCAL / "node_modules" / "gitlab-ci-local" / "src" / "index.js"
RUN_TIMEOUT = int(os.environ.get("PIPELINE_PROOF_TIMEOUT", "180"))
TODAY = "2026-06-01"  # a fixed "today": the example files' suppressions stay active

# Fake credentials: they only open the fake servers the fixtures start.
ZD_EMAIL = "checker-bot@support.example"
ZD_TOKEN = "zd-fake-global-token"
ZD_GOV_TOKEN = "zd-fake-us-gov-token"
GL_TOKEN = "glpat-fake-pipeline-proof"
GL_PROJECT_ID = 7

NORTHWIND = (360001234501, "Northwind Logistics", "northwind-logistics.yaml")
BLUEPEAK = (360001234502, "Bluepeak Analytics", "bluepeak-analytics.yaml")
HARBOR = (9100042, "Harbor Federal Services", "harbor-federal.yaml")
# Scenario 4 adds a contact after this line of the example file.
BLUEPEAK_ANCHOR = "    email: Sam.Ortiz@bluepeak.example\n"
PREVIEW_MARKER = "<!-- zendesk-drift-checker:preview -->"
_LEAKY = ("ZENDESK_", "GITLAB_", "CHECKER_", "CI_", "GCL_")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def copy_project(dest: Path) -> None:
    """The project's files as a clean clone would have them (tracked files plus new files not
    ignored), without .git, .venv or node_modules."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    subprocess.run(
        [
            "rsync",
            "-a",
            "--from0",
            "--files-from=-",
            "--ignore-missing-args",
            f"{ROOT}/",
            f"{dest}/",
        ],
        input=listed.stdout,
        check=True,
        timeout=120,
    )


def init_repo(repo: Path, origin: str) -> None:
    """``git init`` on branch main, with the refs/remotes/origin/main that gitlab-ci-local's
    rules:changes compares against (call ``commit_as_origin`` after the first commit)."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Pipeline Proof")
    git(repo, "config", "user.email", "pipeline-proof@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "remote", "add", "origin", origin)


def commit_as_origin(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")


def make_repo(dest: Path) -> Path:
    """A git repository of the project on branch main."""
    dest.mkdir(parents=True)
    copy_project(dest)
    init_repo(dest, "https://gitlab.example/support/zendesk-orgs.git")
    commit_as_origin(dest, "Snapshot of the project for the pipeline proof")
    return dest


@dataclass(frozen=True)
class Run:
    """One gitlab-ci-local run: its exit code and its output (also written to ``log``)."""

    rc: int
    log: Path
    output: str

    def job(self, outcome: str, name: str) -> bool:
        """Whether the output has a line ``PASS <name>...`` (or FAIL) for a job."""
        return re.search(rf"{outcome} +{re.escape(name)}", self.output) is not None

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def gcl(repo: Path, home: Path, log: Path, variables: dict[str, str], *args: str) -> Run:
    """Run gitlab-ci-local in ``repo`` with the shell executor, bounded in time, with no
    Zendesk/GitLab/CI variables leaking in from this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    command = ["node", str(GCL_JS), "--home", str(home), "--force-shell-executor"]
    command += ["--shell-isolation", "--no-artifacts-to-source", "--no-color"]
    command += ["--max-job-name-padding", "0", *args]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    try:
        done = subprocess.run(
            command,
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        rc, output = done.returncode, done.stdout
    except subprocess.TimeoutExpired as expired:
        partial = expired.stdout or b""
        output = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        rc, output = 124, output + f"\ngitlab-ci-local did not finish within {RUN_TIMEOUT}s\n"
    log.write_text(output, encoding="utf-8")
    return Run(rc, log, output)


def keep_artifacts(repo: Path, dest: Path) -> Path:
    """Copy the run's artifacts aside (the next run in the same repository replaces them)."""
    source = repo / ".gitlab-ci-local" / "artifacts"
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        dest.mkdir(parents=True)
    return dest


def clear_artifacts(repo: Path) -> None:
    shutil.rmtree(repo / ".gitlab-ci-local" / "artifacts", ignore_errors=True)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gitlab_seed(repo: Path, config: str = "examples/config") -> dict[str, Any]:
    """The fake GitLab's seed (tests/pipeline/gitlab-state.json) plus the repository's
    ``config`` files on branch main, as GitLab would hold them."""
    state: dict[str, Any] = json.loads((STATES / "gitlab-state.json").read_text(encoding="utf-8"))
    state.pop("_comment", None)
    files = {
        str(p.relative_to(repo)): p.read_text(encoding="utf-8")
        for p in sorted((repo / config).rglob("*"))
        if p.is_file()
    }
    state["branches"] = {"main": files}
    return state


def set_pages_input(repo: Path, pages: bool) -> None:
    """The include's input ``pages`` in the repository's .gitlab-ci.yml."""
    path = repo / ".gitlab-ci.yml"
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
        if not line.startswith("      pages: ")
    ]
    out: list[str] = []
    for line in lines:
        out.append(line)
        if pages and line.startswith("      drift_shards: "):
            out.append("      pages: true\n")
    path.write_text("".join(out), encoding="utf-8")


# ------------------------------------------------------------------ checks (problems, or none)


def validate_report_problems(reports: Path, expect: str) -> list[str]:
    """junit.xml and codequality.json exist; with ``expect`` both name that file (and junit
    records a failure), without it neither records a problem."""
    junit, cq = reports / "junit.xml", reports / "codequality.json"
    problems = [f"{p} is missing" for p in (junit, cq) if not p.is_file()]
    if problems:
        return problems
    root = ET.parse(junit).getroot()
    if root.tag == "testsuite":
        failures = int(root.get("failures", 0)) + int(root.get("errors", 0))
    else:
        failures = sum(
            int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite")
        )
    issues = json.loads(cq.read_text(encoding="utf-8"))
    if not isinstance(issues, list):
        return ["codequality.json is not a JSON array"]
    if expect:
        if failures == 0:
            problems.append("junit.xml records no failure")
        if expect not in junit.read_text(encoding="utf-8"):
            problems.append(f"junit.xml does not name {expect}")
        if not any(i.get("location", {}).get("path") == expect for i in issues):
            problems.append(f"codequality.json has no issue located in {expect}")
    else:
        if failures:
            problems.append(f"junit.xml records {failures} failures")
        if [i for i in issues if i.get("severity") not in ("info", "minor")]:
            problems.append("codequality.json holds problems")
    return problems


def drift_report_problems(artifacts: Path, shards: int, harbor: str = "drifted") -> list[str]:
    """One report per shard, every org once, statuses as tests/pipeline/*.json intend."""
    found = sorted(artifacts.glob("*/reports/drift-*.json"))
    names = sorted(p.name for p in found)
    want = [f"drift-{i}.json" for i in range(1, shards + 1)]
    problems = [] if names == want else [f"shard reports {names}, expected {want}"]
    statuses: dict[int, str] = {}
    for path in found:
        for org in json.loads(path.read_text(encoding="utf-8")).get("orgs", []):
            if org["org_id"] in statuses:
                problems.append(f"org {org['org_id']} is in two shards")
            statuses[org["org_id"]] = org["status"]
    expected = {NORTHWIND[0]: "in_sync", BLUEPEAK[0]: "drifted", HARBOR[0]: harbor}
    if statuses != expected:
        problems.append(f"org statuses {statuses}, expected {expected}")
    return problems


def report_page_problems(page: Path) -> list[str]:
    """The report page the reconcile job keeps: one self-contained HTML file."""
    if not page.is_file() or page.stat().st_size == 0:
        return [f"no {page.name}"]
    text = page.read_text(encoding="utf-8")
    problems = []
    if '<meta http-equiv="Content-Security-Policy"' not in text:
        problems.append(f"{page.name} has no Content-Security-Policy")
    if 'id="report-data"' not in text:
        problems.append(f"{page.name} holds no report data")
    return problems


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def readable_emails(page: Path) -> list[str]:
    """Contact emails left readable on a page (redacted ones start with ``redacted-``)."""
    text = page.read_text(encoding="utf-8")
    return [m.group(0) for m in _EMAIL.finditer(text) if not m.group(0).startswith("redacted-")]


def mentions(record: dict[str, Any], org: tuple[int, str, str]) -> bool:
    """Issues and merge requests are matched to orgs by their titles (which name the org),
    never by descriptions: a dashboard issue lists every org, in sync or not."""
    title = record.get("title") or ""
    org_id, name, file = org
    return str(org_id) in title or name in title or file in title


def open_issues(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in state.get("issues", []) if i.get("state") == "opened"]


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def org_records(state: dict[str, Any]) -> dict[tuple[str, int], tuple[Any, ...]]:
    """The issues and merge requests about the three orgs (state, title, description, labels);
    the seed's merge request !1 is not one of them."""
    out: dict[tuple[str, int], tuple[Any, ...]] = {}
    for kind in ("issues", "merge_requests"):
        for r in state.get(kind, []):
            if kind == "merge_requests" and r.get("iid") == 1:
                continue
            if any(mentions(r, org) for org in (BLUEPEAK, HARBOR, NORTHWIND)):
                out[(kind, r["iid"])] = (
                    r.get("state"),
                    r.get("title"),
                    r.get("description"),
                    r.get("labels"),
                )
    return out


def zendesk_variables(main_url: str, gov_url: str, checker_python: str) -> dict[str, str]:
    """Variables that point the jobs at the fake Zendesks."""
    return {
        "CHECKER_PYTHON": checker_python,
        "CHECKER_TODAY": TODAY,
        "ZENDESK_URL": main_url,
        "ZENDESK_EMAIL": ZD_EMAIL,
        "ZENDESK_API_TOKEN": ZD_TOKEN,
        "ZENDESK_US_GOV_URL": gov_url,
        "ZENDESK_US_GOV_EMAIL": ZD_EMAIL,
        "ZENDESK_US_GOV_API_TOKEN": ZD_GOV_TOKEN,
    }


def gitlab_variables(url: str, first_run_confirmed: bool = True) -> dict[str, str]:
    """Variables that point the jobs at the fake GitLab (scenario 5 proves the first run's
    plan; the others confirm it)."""
    return {
        "GITLAB_URL": url,
        "GITLAB_TOKEN": GL_TOKEN,
        "GITLAB_PROJECT": str(GL_PROJECT_ID),
        "CI_PROJECT_ID": str(GL_PROJECT_ID),
        "CHECKER_FIRST_RUN_CONFIRMED": "true" if first_run_confirmed else "false",
    }
