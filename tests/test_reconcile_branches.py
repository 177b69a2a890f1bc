"""People may push to an adopt branch, and the preview note is ours by author: against the
loopback GitLab server, asserting on branches, commits, file contents and notes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.usecases.mr_preview import MARKER as PREVIEW_MARKER
from checker.usecases.mr_preview import upsert_preview_note
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    extra_contact,
    load,
    notes_of,
    org_drift,
    port_for,
    report,
    seed_repo,
    write_org,
)

BRANCH = "checker/adopt/global-102"
PATH = "config/orgs/org-102.yaml"


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        fake.add_user(77, "reviewer")
        yield fake
    assert fake.errors == []


@pytest.fixture
def run(server: FakeGitLab, config_dir: Path) -> Runner:
    write_org(config_dir, 102)
    settings, specs = load(config_dir)
    seed_repo(server, config_dir)
    return Runner(server, settings, specs)


def adopt(run: Runner, email: str) -> object:
    [s] = run.specs
    return report([org_drift(s, items=[extra_contact(email)])])


def test_a_persons_commit_on_the_adopt_branch_is_never_overwritten(run: Runner) -> None:
    server = run.server
    run(adopt(run, "first@org102.example"))  # type: ignore[arg-type]
    [mr] = server.merge_requests
    ours = server.file(PATH, BRANCH)
    assert ours is not None and "first@org102.example" in ours
    # a reviewer fixes the file on the branch by hand
    theirs = ours.replace("first@org102.example", "first@org102.example\n    name: First Person")
    server.set_file(PATH, theirs, branch=BRANCH)
    head = server.heads[BRANCH]

    for email in ("second@org102.example", "third@org102.example"):
        outcome = run(adopt(run, email))  # type: ignore[arg-type]
        assert not outcome.incomplete
        assert server.heads[BRANCH] == head, "no force-push over the reviewer's commit"
        assert server.file(PATH, BRANCH) == theirs
    held = [n for n in notes_of(mr) if "holds commits the checker did not make" in n]
    assert len(held) == 1, "one note, edited in place"
    assert "third@org102.example" in held[0] and "second@org102.example" not in held[0]
    assert len(server.merge_requests) == 1

    server.reset_log()
    run(adopt(run, "third@org102.example"))  # type: ignore[arg-type]
    assert server.writes() == [], "the same news is not written twice"


def test_the_checkers_own_branch_is_still_rebuilt(run: Runner) -> None:
    server = run.server
    run(adopt(run, "first@org102.example"))  # type: ignore[arg-type]
    run(adopt(run, "second@org102.example"))  # type: ignore[arg-type]
    text = server.file(PATH, BRANCH)
    assert text is not None and "second@org102.example" in text and "first@" not in text
    head = next(c for c in server.commits if c["id"] == server.heads[BRANCH])
    assert "Zendesk-Drift-Checker: " in head["message"]


def test_a_branch_a_person_made_under_the_checkers_name_is_left_alone(run: Runner) -> None:
    server = run.server
    server.set_file(PATH, "schema_version: 1  # a person's work in progress\n", branch=BRANCH)
    head = server.heads[BRANCH]
    outcome = run(adopt(run, "first@org102.example"))  # type: ignore[arg-type]
    assert outcome.incomplete
    assert any("holds commits the checker did not make" in (f[1]) for f in outcome.failures)
    assert server.heads[BRANCH] == head and server.merge_requests == []


def _mr_with_lookalike(server: FakeGitLab) -> dict[str, object]:
    server.set_file("README.md", "x\n", branch="feature")
    mr = server.add_merge_request("feature", "Change an org file")
    mr["notes"].append(  # type: ignore[attr-defined]
        {
            "id": 9001,
            "body": f"{PREVIEW_MARKER}\nI copied the checker's marker.",
            "author_id": 77,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "system": False,
            "internal": False,
            "noteable_id": mr["id"],
            "noteable_iid": mr["iid"],
            "noteable_type": "MergeRequest",
        }
    )
    return mr


def test_the_preview_note_is_ours_by_author_not_by_text(server: FakeGitLab) -> None:
    mr = _mr_with_lookalike(server)
    port = port_for(server)
    iid = int(mr["iid"])  # type: ignore[call-overload]
    assert upsert_preview_note(port, iid, "No drift.") == "created"
    assert upsert_preview_note(port, iid, "No drift.") == "unchanged"
    assert upsert_preview_note(port, iid, "1 org drifted.") == "updated"
    notes = mr["notes"]
    assert len(notes) == 2  # type: ignore[arg-type]
    lookalike, ours = notes  # type: ignore[misc]
    assert lookalike["body"] == f"{PREVIEW_MARKER}\nI copied the checker's marker."
    assert ours["author_id"] == 1 and "1 org drifted." in ours["body"]


def test_a_branch_written_before_the_trailer_existed_is_still_the_checkers(run: Runner) -> None:
    server = run.server
    run(adopt(run, "first@org102.example"))  # type: ignore[arg-type]
    head = next(c for c in server.commits if c["id"] == server.heads[BRANCH])
    head["message"] = head["message"].split("\n\nZendesk-Drift-Checker:", 1)[0]
    assert head["message"].startswith("Adopt Zendesk's values for org 102")
    run(adopt(run, "second@org102.example"))  # type: ignore[arg-type]
    text = server.file(PATH, BRANCH)
    assert text is not None and "second@org102.example" in text
    [mr] = server.merge_requests
    assert not [n for n in notes_of(mr) if "did not make" in n]
