"""Benchmark: ``checker reconcile`` with 2,000 declared orgs, 200 of them drifted.

Against the fake GitLab server (real HTTP on loopback, real python-gitlab client), prints the
GitLab requests (reads, writes) and wall time of: a first run, an unchanged rerun, and a run in
which 10 orgs' drift changed. Not a test: it asserts nothing.

    .venv/bin/python benchmarks/bench_reconcile.py [--orgs 2000] [--drifted 200] [--adopt 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker.domain.models import (  # noqa: E402
    Contact,
    DriftItem,
    DriftKind,
    DriftReport,
    OrgDrift,
    OrgSpec,
    OrgStatus,
)
from checker.load.settings import load_settings  # noqa: E402
from checker.reconcile.run import run_reconcile  # noqa: E402
from checker.tracker.gitlab import GitLabConfig, connect  # noqa: E402
from tests.fakes.gitlab_server import FakeGitLab  # noqa: E402

ORG_FILE = """\
# Org {n}: generated for the benchmark.
schema_version: 1
name: Org {n}
zendesk:
  org_id: {n}
csm: csm{csm}
collaboration_project:
  id: {project}
support_contacts:
  - name: Ann Example
    email: ann@org{n}.example
"""


def specs_and_files(count: int, cfg: Path) -> tuple[list[OrgSpec], dict[str, str]]:
    """Specs of org files written below ``cfg`` (reconcile holds reports to the files that
    declare their orgs), and the files' text by repository path."""
    specs: list[OrgSpec] = []
    files: dict[str, str] = {}
    for n in range(1, count + 1):
        path = f"config/orgs/org-{n}.yaml"
        files[path] = ORG_FILE.format(n=n, csm=n % 25, project=100000 + n)
        (cfg / "orgs" / f"org-{n}.yaml").write_text(files[path], encoding="utf-8")
        specs.append(
            OrgSpec(
                path=str(cfg / "orgs" / f"org-{n}.yaml"),
                org_id=n,
                instance="global",
                name=f"Org {n}",
                csm=f"csm{n % 25}",
                collaboration_project_id=100000 + n,
                support_contacts=(Contact(f"ann@org{n}.example", "Ann Example"),),
            )
        )
    return specs, files


def build_report(specs: list[OrgSpec], drifted: int, adopt: int, variant: int = 0) -> DriftReport:
    """The first ``drifted`` orgs drift (AM ID); the first ``adopt`` of them also have a contact
    that only Zendesk knows (a merge request). ``variant`` changes the drift of 10 orgs."""
    orgs = []
    for i, s in enumerate(specs):
        items: list[DriftItem] = []
        if i < drifted:
            actual = 7 + (1 if variant and i % 20 == 0 else 0)
            items.append(
                DriftItem("collaboration_project.id", DriftKind.CHANGED, 100000 + s.org_id, actual)
            )
        if i < adopt:
            email = f"new@org{s.org_id}.example"
            items.append(
                DriftItem(
                    "support_contacts",
                    DriftKind.UNEXPECTED_IN_ZENDESK,
                    None,
                    email,
                    "zendesk",
                    email,
                )
            )
        orgs.append(
            OrgDrift(
                org_id=s.org_id,
                instance=s.instance,
                file=s.path,
                name=s.name,
                status=OrgStatus.DRIFTED if items else OrgStatus.IN_SYNC,
                items=tuple(items),
                csm=s.csm,
            )
        )
    return DriftReport(orgs=tuple(orgs), scope="full", checked_on="2026-01-15")


def _resource(path: str) -> str:
    """``/api/v4/projects/7/issues/12`` → ``issues/:iid``; ``…/issues`` → ``issues``."""
    last = path.rsplit("/", 2)
    return f"{last[-2]}/:iid" if last[-1].isdigit() else last[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=2000)
    parser.add_argument("--drifted", type=int, default=200)
    parser.add_argument("--adopt", type=int, default=20, help="drifted orgs that also get an MR")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config"
        (cfg / "orgs").mkdir(parents=True)
        (cfg / "checker.yaml").write_text(
            (ROOT / "examples" / "config" / "checker.yaml").read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        settings, _ = load_settings(cfg)
        assert settings is not None
        specs, files = specs_and_files(args.orgs, cfg)
        with FakeGitLab() as server:
            for n in range(25):
                server.add_user(100 + n, f"csm{n}")
            for path, text in files.items():
                if int(path.rsplit("-", 1)[1].split(".")[0]) <= args.adopt:
                    server.set_file(path, text)
            port = connect(GitLabConfig(server.url, "7", server.token), timeout=30)
            runs = [
                ("first run", build_report(specs, args.drifted, args.adopt)),
                ("unchanged rerun", build_report(specs, args.drifted, args.adopt)),
                ("10 orgs' drift changed", build_report(specs, args.drifted, args.adopt, 1)),
                ("unchanged rerun", build_report(specs, args.drifted, args.adopt, 1)),
            ]
            print(f"{args.orgs} orgs, {args.drifted} drifted ({args.adopt} with a merge request)")
            print(f"{'run':<24} {'reads':>6} {'writes':>7} {'seconds':>8}  writes by kind")
            for label, rep in runs:
                server.reset_log()
                start = time.perf_counter()
                outcome = run_reconcile(
                    settings,
                    [rep],
                    specs,
                    port,
                    dry_run=False,
                    out=lambda _line: None,
                    environ={},
                    read_file=files.get,
                )
                elapsed = time.perf_counter() - start
                reads, writes = server.reads(), server.writes()
                kinds = Counter(f"{r.method} {_resource(r.path)}" for r in writes)
                shown = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
                print(f"{label:<24} {len(reads):>6} {len(writes):>7} {elapsed:>8.2f}  {shown}")
                assert not outcome.incomplete, outcome.failures
            open_issues = sum(1 for i in server.issues if i["state"] == "opened")
            print(f"open issues afterwards: {open_issues} (drift issues + dashboard)")


if __name__ == "__main__":
    main()
