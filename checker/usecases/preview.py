"""The merge request's drift preview: its Markdown (apart from the base's drift) and its note."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from checker.domain.models import OrgSpec
from checker.domain.settings import Settings
from checker.render import drift_markdown
from checker.usecases.drift import DriftCheck


def preview_markdown(
    check: DriftCheck,
    specs: Sequence[OrgSpec],
    settings: Settings,
    today: dt.date,
    changed_since: str | None,
) -> str:
    """The preview: with ``changed_since`` (the merge request's base), what the change introduces
    is set apart from what already drifts on the base (the same live state, the base's files)."""
    from checker.usecases import mr_preview as preview

    base = (
        preview.baseline(changed_since, specs, check.state, settings, today)
        if changed_since is not None
        else None
    )
    return drift_markdown.render(check.report, baseline=base)


def write_preview_note(
    settings: Settings, environ: Mapping[str, str], mr_iid: int, markdown: str
) -> str:
    """Create or update the merge request's one preview note; what was done ("created", ...).
    Raises the GitLab errors (the CLI names the project and the merge request)."""
    from checker.reconcile import run as reconcile
    from checker.usecases.mr_preview import upsert_preview_note

    gitlab = reconcile.connect_from_env(environ, settings)
    return str(upsert_preview_note(gitlab, mr_iid, markdown))
