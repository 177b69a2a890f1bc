"""The merge request preview sets apart what the merge request introduces from drift that
already exists on the target branch, computed against the base (the real CLI, git, and the
bundled snapshot as Zendesk)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli_support import run

from .conftest import ROOT

GIT = ["git", "-c", "user.email=t@example.example", "-c", "user.name=t"]


def test_preview_separates_new_drift_from_drift_on_the_target_branch(repo: Path) -> None:
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=repo, check=True)
    target = repo / "config/orgs/northwind-logistics.yaml"
    text = target.read_text()
    # the merge request: a new contact (new drift), a note changed (new drift), and the
    # contact that was missing in Zendesk removed (drift it resolves)
    text = text.replace(
        "  - name: Lena Fischer\n    email: lena.fischer@northwind.example\n",
        "  - name: Omar Haddad\n    email: omar.haddad@northwind.example\n",
    )
    text = text.replace("two geo-replicated sites.", "two geo-replicated  sites.")
    target.write_text(text)
    env = {"PATH": "/usr/bin:/bin", "CHECKER_TODAY": "2026-11-20"}
    proc = run(
        [
            "drift",
            "--format",
            "markdown",
            "--changed-since",
            "HEAD",
            "--snapshot",
            str(ROOT / "examples/snapshot.json"),
        ],
        repo,
        env,
    )
    assert proc.returncode == 3, proc.stderr
    out = proc.stdout
    new, rest = out.split("##### Introduced by this merge request", 1)[1].split(
        "##### Already drifting on the target branch (not caused by this merge request)", 1
    )
    assert "omar.haddad@northwind.example" in new and "| notes |" in new
    assert "17735787" not in new
    existing, after = rest.split("Resolved by this merge request:", 1)
    assert "| `collaboration_project.id` | changed | 17735787 | 17735786 |" in existing
    assert "raj.mehta@northwind.example" in existing
    assert "- `support_contacts` `lena.fischer@northwind.example`: missing in Zendesk" in after
    assert "This merge request introduces 2 differences; 2 more already exist" in out
    # the note's changed line, whitespace made visible
    assert "    + Premium customer, self-managed, 4,000 seats, two geo-replicated sites." in out
    assert "    - Premium customer, self-managed, 4,000 seats, two geo-replicated··sites." in out
