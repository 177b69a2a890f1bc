"""The support-operations request, from the adopter's Jinja template.

The wording of the request belongs to the support team that receives it, so it is a template in
the config folder (``config/templates/support_request.md.j2``, written by ``checker init``),
with a generic built-in default that names no company. It is rendered in Jinja's sandbox (a
template is configuration, and configuration is reviewed less than code) with the same filters
and the same ``finalize`` guard as every other GitLab text: an expression that does not pass
its value through an inert filter fails instead of rendering outside text as Markdown.

Variables a template sees: ``name``, ``org_id``, ``instance``, ``csm`` (or none), ``file``,
``file_url`` (or none), ``zendesk_url``, ``lines`` (each with ``label``, ``value``,
``multiline``, ``point_to``, ``field``, ``kind``), ``fields`` (the fields concerned),
``only_collaboration_project`` (the request is only about the AM ID) and ``references`` (the
handbook links configured for those fields, in order, without repeats).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from checker.domain.models import DriftItem, DriftKind, OrgDrift, OrgStatus
from checker.domain.settings import RequestForm

__all__ = ["FormLine", "default_text", "problems", "render_request"]

DEFAULT_TEMPLATE = "templates/support_request.md.j2"


@dataclass(frozen=True, slots=True)
class FormLine:
    """One value the request asks for, as a template sees it."""

    label: Any
    value: Any
    multiline: bool
    point_to: str | None
    field: str
    kind: str


def default_text() -> str:
    """The built-in generic request (also what ``checker init`` writes for editing)."""
    return resources.files("checker").joinpath(DEFAULT_TEMPLATE).read_text(encoding="utf-8")


@functools.cache
def _env() -> jinja2.Environment:
    from checker.render import tracker

    base = tracker.environment()
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=base.finalize,
    )
    env.filters.update({k: base.filters[k] for k in tracker.INERT_FILTERS})
    return env


@functools.cache
def _compiled(text: str) -> jinja2.Template:
    return _env().from_string(text)


def render_request(
    form: RequestForm | None,
    org: OrgDrift,
    lines: Sequence[FormLine],
    *,
    zendesk_url: str,
    file_url: str | None,
) -> str:
    """The request's text (Jinja errors propagate: ``validate`` has checked the template)."""
    text = form.template_text if form is not None and form.template_text else default_text()
    links = form.handbook_links if form is not None else {}
    fields = [line.field for line in lines]
    references: list[str] = []
    for f in fields:
        link = links.get(f.split(".", 1)[0])
        if link and link not in references:
            references.append(link)
    return _compiled(text).render(
        name=org.name,
        org_id=org.org_id,
        instance=org.instance,
        csm=org.csm,
        file=org.file,
        file_url=file_url,
        zendesk_url=zendesk_url,
        lines=list(lines),
        fields=fields,
        only_collaboration_project=all(f == "collaboration_project.id" for f in fields),
        references=references,
    )


def _sample_org() -> OrgDrift:
    """Every kind of line a request can hold, with outside text that must stay inert."""
    items = (
        DriftItem("collaboration_project.id", DriftKind.CHANGED, 1234, 1200, "repo"),
        DriftItem("contact_management_project.id", DriftKind.CHANGED, 55, None, "repo"),
        DriftItem(
            "contact_management_project.developers",
            DriftKind.MISSING_IN_ZENDESK,
            "dev@sample.example",
            None,
            "repo",
            "dev@sample.example",
        ),
        DriftItem(
            "support_contacts",
            DriftKind.MISSING_IN_ZENDESK,
            "alex@sample.example",
            None,
            "repo",
            "alex@sample.example",
        ),
        DriftItem(
            "support_contacts",
            DriftKind.CONTACT_NAME_DIFFERS,
            "Alex Sample",
            "@all",
            "repo",
            "alex@sample.example",
        ),
        DriftItem("notes", DriftKind.CHANGED, "Line one\n/close\n@all", "old", "repo"),
        DriftItem("details", DriftKind.CHANGED, None, "old", "repo"),
        DriftItem("salesforce_id", DriftKind.CHANGED, "0016100001ABCDEAAA", None, "repo"),
    )
    return OrgDrift(
        org_id=42,
        instance="global",
        file="config/orgs/sample.yaml",
        name="Sample <Org> @all #1",
        status=OrgStatus.DRIFTED,
        items=items,
        csm="sample-csm",
        collaboration_project_url="https://gitlab.example/sample",
    )


def problems(form: RequestForm) -> list[tuple[int, str]]:
    """Why ``form``'s template cannot render a request for a sample org: (line, message)."""
    from checker.render import tracker

    if not form.template_text:
        return []
    try:
        _compiled(form.template_text)
    except jinja2.TemplateSyntaxError as e:
        return [(e.lineno or 1, f"template syntax: {e.message}")]
    org = _sample_org()
    for sample in (org, OrgDrift(**{**_fields(org), "items": org.items[:1]})):
        try:
            tracker.support_request(
                sample,
                "https://zendesk.example/agent/organizations/42/tickets",
                form=form,
                file_url="https://gitlab.example/config/orgs/sample.yaml",
            )
        except jinja2.TemplateError as e:
            return [(_line_of(e), f"does not render for a sample org: {e}")]
        except TypeError as e:  # the finalize guard: a value without an inert filter
            return [(_line_of(e), f"does not render for a sample org: {e}")]
    return []


def _fields(org: OrgDrift) -> dict[str, Any]:
    return {name: getattr(org, name) for name in org.__dataclass_fields__}


def _line_of(error: Exception) -> int:
    """The template line a render error happened on, from the traceback Jinja rewrites."""
    tb = error.__traceback__
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
