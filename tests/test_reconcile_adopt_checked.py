"""What reconcile writes is checked first: an adopt merge request's file passes ``checker
validate`` (same settings, across files); values the repository cannot accept stay on the org's
issue as repo-owned drift with the reason; adopted contacts carry their Zendesk name; IDN emails
are valid and equal in either form. Against the loopback GitLab server."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.emails import canonical
from checker.domain.models import DriftItem, DriftKind, OrgSpec
from checker.domain.normalise import norm_email
from checker.load.validate import validate
from tests.fakes.gitlab_server import FakeGitLab
from tests.reconcile_support import (
    Runner,
    drift_issues,
    extra_contact,
    load,
    org_drift,
    report,
    seed_repo,
)

BRANCH = "checker/adopt/global-301"
PATH = "config/orgs/acme.yaml"

ACME = """\
schema_version: 1
name: Acme Corp
zendesk:
  org_id: 301
salesforce_id: 0016100001ABCDEAAA
csm: akim
support_contacts:
  - name: Ann Example
    email: ann@acme.example
"""
GLOBEX = """\
schema_version: 1
name: Globex
zendesk:
  org_id: 302
salesforce_id: 0016100001ZZZZZAAA
"""


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        fake.add_user(42, "akim")
        yield fake
    assert fake.errors == []


@pytest.fixture
def run(server: FakeGitLab, config_dir: Path) -> Runner:
    (config_dir / "orgs" / "acme.yaml").write_text(ACME)
    (config_dir / "orgs" / "globex.yaml").write_text(GLOBEX)
    settings, specs = load(config_dir)
    seed_repo(server, config_dir)
    return Runner(server, settings, specs)


def acme(run: Runner) -> OrgSpec:
    return next(s for s in run.specs if s.org_id == 301)


def branch_file_validates(server: FakeGitLab, tmp_path: Path, config_dir: Path) -> bool:
    """Put the branch's file beside the other org files and run ``checker validate``."""
    text = server.file(PATH, BRANCH)
    assert text is not None
    check = tmp_path / "check"
    shutil.copytree(config_dir, check)
    (check / "orgs" / "acme.yaml").write_text(text)
    return validate(check, today=dt.date(2026, 1, 15)).ok


REFUSALS = [
    (
        "an email the schema refuses",
        extra_contact("not an email@acme"),
        "invalid-email",
    ),
    (
        "a name too long",
        DriftItem(
            "support_contacts",
            DriftKind.CONTACT_NAME_DIFFERS,
            "Ann Example",
            "A" * 300,
            "zendesk",
            "ann@acme.example",
        ),
        "",
    ),
    (
        "a Salesforce id of the wrong form",
        DriftItem("salesforce_id", DriftKind.CHANGED, "0016100001ABCDEAAA", "001-bad", "zendesk"),
        "",
    ),
    (
        "another file's Salesforce id",
        DriftItem(
            "salesforce_id",
            DriftKind.CHANGED,
            "0016100001ABCDEAAA",
            "0016100001ZZZZZAAA",
            "zendesk",
        ),
        "duplicate-salesforce-id",
    ),
]


@pytest.mark.parametrize(("name", "bad", "rule"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_value_the_repository_cannot_accept_is_not_adopted(
    run: Runner, config_dir: Path, tmp_path: Path, name: str, bad: DriftItem, rule: str
) -> None:
    server = run.server
    good = extra_contact("new@acme.example")
    outcome = run(report([org_drift(acme(run), items=[good, bad])]))
    assert not outcome.incomplete
    [mr] = server.merge_requests
    text = server.file(PATH, BRANCH)
    assert text is not None and "new@acme.example" in text
    assert str(bad.actual) not in text, "the refused value is not in the merge request"
    assert branch_file_validates(server, tmp_path, config_dir)
    [issue] = drift_issues(server)
    description = str(issue["description"])
    assert "Zendesk holds a value this repository cannot accept" in description
    assert rule in description
    # the refused item is asked of support operations (repo-owned), not adopted
    assert "Support-operations request" in description
    assert mr["state"] == "opened"


def test_nothing_adoptable_opens_no_merge_request(run: Runner) -> None:
    outcome = run(report([org_drift(acme(run), items=[extra_contact("bad address@x")])]))
    assert not outcome.incomplete
    assert run.server.merge_requests == [] and BRANCH not in run.server.branches
    [issue] = drift_issues(run.server)
    assert "cannot accept" in str(issue["description"])


def test_adopted_contacts_carry_their_zendesk_name(run: Runner, config_dir: Path) -> None:
    item = DriftItem(
        "support_contacts",
        DriftKind.UNEXPECTED_IN_ZENDESK,
        None,
        "zoe@acme.example",
        "zendesk",
        "zoe@acme.example",
        name="Zoë Zendesk",
    )
    run(report([org_drift(acme(run), items=[item])]))
    text = run.server.file(PATH, BRANCH)
    assert text is not None
    assert "  - name: Zoë Zendesk\n    email: zoe@acme.example\n" in text


def test_idn_emails_are_valid_and_equal_in_either_form(
    run: Runner, config_dir: Path, tmp_path: Path
) -> None:
    assert canonical("Ann@Bücher.Example") == canonical("ann@xn--bcher-kva.example")
    assert norm_email(" ann@BÜCHER.example ") == "ann@xn--bcher-kva.example"
    for form in ("ann@bücher.example", "ann@xn--bcher-kva.example", "änn@bücher.example"):
        (config_dir / "orgs" / "acme.yaml").write_text(ACME.replace("ann@acme.example", form))
        assert validate(config_dir, today=dt.date(2026, 1, 15)).ok, form
    (config_dir / "orgs" / "acme.yaml").write_text(
        ACME.replace("ann@acme.example", "ann@bü_x.example")
    )
    assert not validate(config_dir, today=dt.date(2026, 1, 15)).ok
    (config_dir / "orgs" / "acme.yaml").write_text(ACME)
    # an IDN address Zendesk holds is adopted in a form validate accepts
    run(report([org_drift(acme(run), items=[extra_contact(canonical("zoë@bücher.example"))])]))
    assert branch_file_validates(run.server, tmp_path, config_dir)


def test_a_suppression_matches_either_form_of_an_idn_email() -> None:
    from checker.domain.models import Suppression

    ignore = Suppression("support_contacts", "Bot@Bücher.example", "integration user", TODAY)
    assert ignore.covers("support_contacts", canonical("bot@bücher.example"))
    assert ignore.covers("support_contacts", "bot@xn--bcher-kva.example")
    assert not ignore.covers("support_contacts", "bot@bucher.example")


TODAY = dt.date(2026, 1, 15)
