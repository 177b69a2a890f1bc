"""``config/checker.yaml`` → :class:`~checker.domain.settings.Settings`, validated by its own
schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from checker.domain.models import Finding
from checker.domain.settings import (
    DEFAULT_FIELD_KEYS,
    DEFAULT_TRUTH,
    REQUEST_TEMPLATE,
    GitLabSettings,
    Instance,
    RequestForm,
    Settings,
)
from checker.load.schema import SETTINGS_SCHEMA, checked_view
from checker.load.yamlload import Loaded, YamlLoadError, read_yaml_file

SETTINGS_FILE = "checker.yaml"


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
    instances = _instances(data["instances"])
    default = _default_instance(shown, loaded, data.get("default_instance"), instances)
    if isinstance(default, Finding):
        return None, [default]
    settings = _settings(config_dir, data, instances, default)
    form, form_findings = _request_form(config_dir, data.get("support_request", {}))
    if form_findings:
        return None, form_findings
    return replace(settings, support_request=form), []


def _instances(raw: Mapping[str, Any]) -> dict[str, Instance]:
    return {
        name: Instance(
            name=name,
            url=str(inst["url"]).rstrip("/"),
            fields={**DEFAULT_FIELD_KEYS, **inst.get("fields", {})},
            rate_limit_per_minute=inst.get("rate_limit_per_minute"),
        )
        for name, inst in raw.items()
    }


def _default_instance(
    shown: str, loaded: Loaded, default: str | None, instances: Mapping[str, Instance]
) -> str | Finding:
    """The default instance's name, or the finding that says why there is none."""
    if default is None:
        if len(instances) > 1:
            pos = loaded.pos(("instances",), prefer_key=True)
            return Finding(
                shown,
                pos.line,
                pos.column,
                "settings-default-instance",
                "several instances are configured: name one as default_instance",
            )
        return next(iter(instances))
    if default not in instances:
        pos = loaded.pos(("default_instance",))
        return Finding(
            shown,
            pos.line,
            pos.column,
            "unknown-instance",
            f"default_instance {default!r} is not one of the instances: "
            + ", ".join(sorted(instances)),
        )
    return default


def _settings(
    config_dir: Path, data: Mapping[str, Any], instances: dict[str, Instance], default: str
) -> Settings:
    """The checked file's values over the defaults (the support request form comes after)."""
    gl = data.get("gitlab", {})
    limits = data.get("contact_limits", {})
    ops = gl.get("support_ops_project")
    return Settings(
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
            retries=int(gl.get("retries", 5)),
            retry_backoff=float(gl.get("retry_backoff_seconds", 0.5)),
        ),
        contact_roles=tuple(data.get("contact_roles", ["end-user"])),
        max_run_minutes=data.get("max_run_minutes", 50),
        retries=int(data.get("retries", 4)),
        retry_backoff=float(data.get("retry_backoff_seconds", 0.5)),
    )


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
