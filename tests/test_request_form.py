"""The support-operations request belongs to the adopter: their sandboxed template and handbook
links, the same inert-text guard, a generic default naming no company, checked by validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checker.domain.models import DriftItem, DriftKind, OrgDrift, OrgStatus
from checker.load.settings import load_settings
from checker.load.validate import validate
from checker.render import tracker
from checker.render.request_form import default_text

ZD = "https://acme.zendesk.example/agent/organizations/7/tickets"
FILE_URL = "https://gitlab.example/support/orgs/-/blob/main/config/orgs/acme.yaml"
ORG = OrgDrift(
    org_id=7,
    instance="global",
    file="config/orgs/acme.yaml",
    name="Acme @all /close",
    status=OrgStatus.DRIFTED,
    items=(
        DriftItem(
            "support_contacts",
            DriftKind.MISSING_IN_ZENDESK,
            "ann@acme.example",
            None,
            "repo",
            "ann@acme.example",
        ),
        DriftItem("notes", DriftKind.CHANGED, "New\n/close\n@all", "Old", "repo"),
    ),
    csm="jdoe",
)


def _config(config_dir: Path, template: str | None, settings_extra: str = "") -> Path:
    if template is not None:
        (config_dir / "templates").mkdir(exist_ok=True)
        (config_dir / "templates" / "support_request.md.j2").write_text(template, "utf-8")
    if settings_extra:
        with (config_dir / "checker.yaml").open("a", encoding="utf-8") as out:
            out.write(settings_extra)
    return config_dir


def test_the_default_names_no_company_and_carries_the_seed_fields() -> None:
    text = default_text()
    assert not re.search(r"gitlab\.com|about\.gitlab|GitLab Inc", text, re.I)
    request = tracker.support_request(ORG, ZD, file_url=FILE_URL)
    assert request is not None
    for field in ("**Context/Request**", "**Org**: " + ZD, "**Reference**: "):
        assert field in request
    assert "**This user should be associated with the org**: `ann@acme.example`" in request
    assert "    /close" in request  # the notes as an indented code block: inert
    assert "http" not in request.replace(ZD, "").replace(FILE_URL, "")


def test_the_adopters_template_and_handbook_links_are_used(config_dir: Path) -> None:
    _config(
        config_dir,
        "Dear ops, please fix {{ name|text }} ({{ org_id }}):\n"
        "{% for line in lines %}- {{ line.label|ours }}: {{ line.value|text }}\n{% endfor %}"
        "{% for ref in references %}See {{ ref|url }}\n{% endfor %}",
        "support_request:\n  handbook_links:\n"
        "    support_contacts: https://handbook.acme.example/contacts\n"
        "    notes: https://handbook.acme.example/notes\n",
    )
    settings, problems = load_settings(config_dir)
    assert problems == []
    assert settings is not None
    request = tracker.support_request(ORG, ZD, file_url=FILE_URL, form=settings.support_request)
    assert request is not None
    assert request.startswith("Dear ops, please fix `Acme @all /close` (7):")
    assert (
        "See https://handbook.acme.example/contacts\nSee https://handbook.acme.example/notes"
        in (request)
    )
    body = tracker.support_ops_body(
        ORG, tracker.OrgLinks(ZD, FILE_URL), form=settings.support_request
    )
    assert "Dear ops, please fix" in body


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        ("**Org**: {{ zendesk_url }}\n", 1, "did not pass an inert filter"),
        ("ok\n{{ name.__class__.__mro__ }}\n", 2, "is unsafe"),
        ("ok\nok\n{% for x in lines %}\n", 3, "template syntax"),
        ("{{ nobody|text }}\n", 1, "'nobody' is undefined"),
        ("{{ name|text }}{{ ''.__class__.__subclasses__() }}\n", 1, "unsafe"),
    ],
)
def test_validate_refuses_a_template_that_cannot_render(
    config_dir: Path, template: str, line: int, message: str
) -> None:
    _config(config_dir, template)
    result = validate(config_dir, workers=1)
    assert not result.ok
    (finding,) = result.errors
    assert finding.rule == "request-template"
    assert finding.path.endswith("config/templates/support_request.md.j2")
    assert finding.line == line
    assert message in finding.message


def test_a_configured_template_that_is_missing_is_an_error(config_dir: Path) -> None:
    _config(config_dir, None, "support_request:\n  template: templates/ours.md.j2\n")
    settings, problems = load_settings(config_dir)
    assert settings is None
    assert [(p.rule, p.message) for p in problems] == [
        ("request-template", "support_request.template: file not found")
    ]


def test_without_a_template_file_the_default_is_used(config_dir: Path) -> None:
    settings, problems = load_settings(config_dir)
    assert problems == []
    assert settings is not None
    assert settings.support_request.template_text is None
