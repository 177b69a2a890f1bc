"""The settings as values: instances, field keys, source of truth, limits (read by
:mod:`checker.load.settings`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from checker.domain.models import Truth

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
    #: retries of each idempotent GitLab request after a 5xx, 429 or dropped connection
    #: (python-gitlab backs off between them; ``checker.tracker.gitlab.MAX_RETRIES``)
    retries: int = 5
    #: seconds before the writer's second attempt of a create after an uncertain failure,
    #: doubling each attempt (it looks for what the failure may have stored first)
    retry_backoff: float = 0.5


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
