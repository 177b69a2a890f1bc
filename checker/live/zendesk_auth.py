"""Zendesk credentials: from the environment only. zenpy puts them on the reader's guarded
session, which sends requests to the instance's origin only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from checker.domain.settings import Instance, Settings


class ZendeskError(Exception):
    """A Zendesk problem in our words."""


class CredentialsMissing(ZendeskError):
    """No usable credentials in the environment; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str | None = None
    api_token: str | None = None
    oauth_token: str | None = None

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_token, self.oauth_token) if s)


def credentials_from_env(
    instance: Instance, settings: Settings, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Credentials for an instance, from the environment only; raises CredentialsMissing."""
    env = os.environ if environ is None else environ
    prefix = settings.env_prefix(instance.name)
    oauth = env.get(prefix + "OAUTH_TOKEN", "").strip()
    if oauth:
        return Credentials(oauth_token=oauth)
    token = env.get(prefix + "API_TOKEN", "").strip()
    email = env.get(prefix + "EMAIL", "").strip()
    if token and email:
        return Credentials(email=email, api_token=token)
    if token:
        missing = prefix + "EMAIL"
    elif email:
        missing = prefix + "API_TOKEN"
    else:
        missing = f"{prefix}EMAIL and {prefix}API_TOKEN (or {prefix}OAUTH_TOKEN)"
    raise CredentialsMissing(
        f"Zendesk credentials for instance {instance.name!r} are missing: set {missing}"
    )


def credential_variables(instance: str, settings: Settings) -> str:
    p = settings.env_prefix(instance)
    return f"{p}EMAIL and {p}API_TOKEN (or {p}OAUTH_TOKEN)"
