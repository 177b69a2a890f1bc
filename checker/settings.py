"""``config/checker.yaml`` → :class:`Settings`, validated by its own schema."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from checker.models import Finding, Truth
from checker.schema import SETTINGS_SCHEMA, checked_view
from checker.yamlload import YamlLoadError, read_yaml_file

SETTINGS_FILE = "checker.yaml"
ORGS_DIR = "orgs"

DEFAULT_FIELD_KEYS: dict[str, str] = {
    "collaboration_project_id": "am_project_id",
    "contact_management_project_id": "cmp_id",
    "contact_management_project_developers": "cmp_developers",
    "salesforce_id": "salesforce_id",
}

DEFAULT_TRUTH: dict[str, Truth] = {
    "salesforce_id": "zendesk",
    "collaboration_project": "repo",
    "contact_management_project": "repo",
    "notes": "repo",
    "details": "repo",
    "support_contacts_missing_in_zendesk": "repo",
    "support_contacts_unexpected_in_zendesk": "zendesk",
    "support_contacts_name": "zendesk",
}


def without_userinfo(url: str) -> str:
    """The URL as it may be shown anywhere: a ``user:password@`` part is dropped."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    url: str
    fields: Mapping[str, str]
    rate_limit_per_minute: int | None = None

    def field_key(self, declared: str) -> str:
        return self.fields.get(declared, DEFAULT_FIELD_KEYS[declared])

    def agent_org_url(self, org_id: int) -> str:
        return f"{self.url.rstrip('/')}/agent/organizations/{org_id}/tickets"


@dataclass(frozen=True, slots=True)
class GitLabSettings:
    labels: tuple[str, ...] = ("zendesk-drift",)
    confidential: bool = True
    support_ops_project: str | None = None
    dashboard_title: str = "Zendesk drift dashboard"
    repository_url: str | None = None


@dataclass(frozen=True, slots=True)
class RequestForm:
    """The support-operations request's form: the adopter's template (its text; None: the
    built-in generic one) and the handbook page cited per top-level field."""

    template_text: str | None = None
    template_path: str | None = None
    handbook_links: Mapping[str, str] = field(default_factory=dict)


#: where ``checker init`` puts the request's template, relative to the config folder
REQUEST_TEMPLATE = "templates/support_request.md.j2"


@dataclass(frozen=True, slots=True)
class Settings:
    config_dir: Path
    instances: Mapping[str, Instance]
    default_instance: str
    rate_limit_share: float = 0.5
    max_concurrency: int = 8
    request_timeout: float = 30.0
    source_of_truth: Mapping[str, Truth] = field(default_factory=lambda: dict(DEFAULT_TRUTH))
    unlisted_contacts_are_drift: bool = True
    contact_limit: int = 30
    contact_limit_with_cmp: int = 50
    gitlab: GitLabSettings = GitLabSettings()
    support_request: RequestForm = RequestForm()
    #: Zendesk user roles that count as support contacts; other members are staff
    contact_roles: tuple[str, ...] = ("end-user",)
    #: the whole run's budget; past it the remaining orgs are unknown and the report is written
    max_run_minutes: float | None = 50.0
    retries: int = 4
    retry_backoff: float = 0.5

    @property
    def max_user_pages(self) -> int:
        """Pages of an org's users a listing may take: the contact limits with headroom (four
        times the larger limit, at least ten pages of 100)."""
        return max(10, -(-4 * max(self.contact_limit, self.contact_limit_with_cmp) // 100) + 1)

    @property
    def orgs_dir(self) -> Path:
        return self.config_dir / ORGS_DIR

    def truth(self, key: str) -> Truth:
        return self.source_of_truth.get(key, DEFAULT_TRUTH.get(key, "repo"))

    def instance(self, name: str | None) -> Instance:
        return self.instances[name or self.default_instance]

    def env_prefix(self, instance: str) -> str:
        """``ZENDESK_`` for the default instance; ``ZENDESK_US_GOV_`` for instance ``us-gov``."""
        if instance == self.default_instance:
            return "ZENDESK_"
        return "ZENDESK_" + "".join(c if c.isalnum() else "_" for c in instance.upper()) + "_"

    def with_url_override(self, environ: Mapping[str, str] | None = None) -> Settings:
        """``ZENDESK_URL`` replaces the default instance's URL (any scheme, host and port);
        ``ZENDESK_<INSTANCE>_URL`` another instance's."""
        env = os.environ if environ is None else environ
        instances = dict(self.instances)
        for name, inst in self.instances.items():
            url = env.get(self.env_prefix(name) + "URL", "").strip()
            if url:
                url = without_userinfo(url)
                instances[name] = Instance(
                    inst.name, url.rstrip("/"), inst.fields, inst.rate_limit_per_minute
                )
        return replace(self, instances=instances)


def display_path(path: Path) -> str:
    """A path as reports show it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_settings(config_dir: Path) -> tuple[Settings | None, list[Finding]]:
    """Read and validate the settings file; a missing file means all defaults and one instance."""
    path = config_dir / SETTINGS_FILE
    shown = display_path(path)
    if not path.exists():
        return None, [
            Finding(
                shown,
                1,
                1,
                "settings-missing",
                f"settings file not found; create {shown} (see README: Settings)",
            )
        ]
    try:
        loaded = read_yaml_file(path)
    except YamlLoadError as e:
        return None, [Finding(shown, p.line, p.column, p.rule, p.message) for p in e.problems]
    if not isinstance(loaded.data, dict):
        return None, [Finding(shown, 1, 1, "not-a-mapping", "the settings file must be a mapping")]
    data, findings = checked_view(shown, loaded, SETTINGS_SCHEMA)
    if findings:
        return None, findings
    instances = {
        name: Instance(
            name=name,
            url=str(raw["url"]).rstrip("/"),
            fields={**DEFAULT_FIELD_KEYS, **raw.get("fields", {})},
            rate_limit_per_minute=raw.get("rate_limit_per_minute"),
        )
        for name, raw in data["instances"].items()
    }
    default = data.get("default_instance")
    if default is None:
        if len(instances) > 1:
            pos = loaded.pos(("instances",), prefer_key=True)
            return None, [
                Finding(
                    shown,
                    pos.line,
                    pos.column,
                    "settings-default-instance",
                    "several instances are configured: name one as default_instance",
                )
            ]
        default = next(iter(instances))
    elif default not in instances:
        pos = loaded.pos(("default_instance",))
        return None, [
            Finding(
                shown,
                pos.line,
                pos.column,
                "unknown-instance",
                f"default_instance {default!r} is not one of the instances: "
                + ", ".join(sorted(instances)),
            )
        ]
    gl = data.get("gitlab", {})
    limits = data.get("contact_limits", {})
    ops = gl.get("support_ops_project")
    settings = Settings(
        config_dir=config_dir,
        instances=instances,
        default_instance=default,
        rate_limit_share=float(data.get("rate_limit_share", 0.5)),
        max_concurrency=int(data.get("max_concurrency", 8)),
        request_timeout=float(data.get("request_timeout_seconds", 30)),
        source_of_truth={**DEFAULT_TRUTH, **data.get("source_of_truth", {})},
        unlisted_contacts_are_drift=bool(data.get("unlisted_contacts_are_drift", True)),
        contact_limit=int(limits.get("default", 30)),
        contact_limit_with_cmp=int(limits.get("with_contact_management_project", 50)),
        gitlab=GitLabSettings(
            labels=tuple(gl.get("labels", ["zendesk-drift"])),
            confidential=bool(gl.get("confidential", True)),
            support_ops_project=None if ops is None else str(ops),
            dashboard_title=str(gl.get("dashboard_title", "Zendesk drift dashboard")),
            repository_url=gl.get("repository_url"),
        ),
        contact_roles=tuple(data.get("contact_roles", ["end-user"])),
        max_run_minutes=data.get("max_run_minutes", 50),
        retries=int(data.get("retries", 4)),
        retry_backoff=float(data.get("retry_backoff_seconds", 0.5)),
    )
    form, form_findings = _request_form(config_dir, data.get("support_request", {}))
    if form_findings:
        return None, form_findings
    return replace(settings, support_request=form), []


def _request_form(config_dir: Path, raw: Mapping[str, object]) -> tuple[RequestForm, list[Finding]]:
    """The adopter's request template (checked: it must render for a sample org) and links."""
    links = raw.get("handbook_links") or {}
    assert isinstance(links, Mapping)
    configured = raw.get("template")
    relative = str(configured) if configured else REQUEST_TEMPLATE
    path = config_dir / relative
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if configured:
            return RequestForm(), [
                Finding(shown, 1, 1, "request-template", "support_request.template: file not found")
            ]
        return RequestForm(handbook_links=dict(links)), []
    except (OSError, UnicodeDecodeError) as e:
        return RequestForm(), [Finding(shown, 1, 1, "request-template", f"cannot read: {e}")]
    form = RequestForm(text, shown, {str(k): str(v) for k, v in links.items()})
    from checker.render.request_form import problems  # jinja2 only when there is a template

    return form, [Finding(shown, line, 1, "request-template", msg) for line, msg in problems(form)]
