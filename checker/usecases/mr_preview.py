"""The drift preview on a merge request: what the merge request introduces, set apart from drift
that already exists on the target branch, as one note that is created once and then edited in
place.

The split is computed against the merge request's base: the org files as they are there
(``git show BASE:path``) are compared with the same live Zendesk state as the changed files, and
an item that the base's file drifts by too is "already drifting on the target branch", not
something the merge request causes.

The note is ours by author, not by text: only a note written by the token's own user that
carries the marker is edited. A look-alike from anyone else (a copied marker) is left alone,
and then ours is created once and found again on every later run.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from checker.domain.drift import compare
from checker.domain.models import DriftItem, FetchFailure, LiveOrg, OrgDrift, OrgSpec
from checker.domain.settings import Settings
from checker.load.orgfile import check_loaded
from checker.load.yamlload import YamlLoadError, load_yaml

if TYPE_CHECKING:
    from checker.tracker.port import GitLabPort

MARKER = "<!-- zendesk-drift-checker:preview -->"

PreviewOutcome = Literal["created", "updated", "unchanged"]
OrgKey = tuple[str, int]


def upsert_preview_note(project: GitLabPort, mr_iid: int, markdown: str) -> PreviewOutcome:
    """Write ``markdown`` as the merge request's one preview note; no write when unchanged."""
    body = f"{MARKER}\n{markdown.strip()}\n"
    existing = project.find_own_note("merge_request", mr_iid, MARKER)
    if existing is None:
        project.add_note("merge_request", mr_iid, body)
        return "created"
    if existing.body.strip() == body.strip():
        return "unchanged"
    project.edit_note("merge_request", mr_iid, existing.id, body)
    return "updated"


# --------------------------------------------------------------------------- against the base


@dataclass(frozen=True, slots=True)
class Baseline:
    """The target branch's drift of the orgs a merge request changes (None: the org has no
    valid file there, so all of its drift is the merge request's)."""

    ref: str
    orgs: Mapping[OrgKey, OrgDrift | None]


def item_identity(item: DriftItem) -> tuple[object, ...]:
    return (item.field, item.kind.value, item.item, item.expected, item.actual)


def split(org: OrgDrift, base: OrgDrift | None) -> tuple[list[DriftItem], list[DriftItem]]:
    """(introduced by the merge request, already drifting on the target branch)."""
    before = {item_identity(i) for i in base.items} if base is not None else set()
    introduced = [i for i in org.items if item_identity(i) not in before]
    existing = [i for i in org.items if item_identity(i) in before]
    return introduced, existing


def resolved(org: OrgDrift, base: OrgDrift | None) -> list[DriftItem]:
    """Drift on the target branch that the merge request makes go away."""
    if base is None:
        return []
    now = {item_identity(i) for i in org.items}
    return [i for i in base.items if item_identity(i) not in now]


def _git_show(ref: str, path: str) -> str | None:
    """The file at ``ref`` (None when it does not exist there or git cannot tell)."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if top.returncode != 0:
            return None
        rel = Path(path).resolve().relative_to(Path(top.stdout.strip()))
        shown = subprocess.run(
            ["git", "show", "--end-of-options", f"{ref}:{rel.as_posix()}"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if shown.returncode != 0:
        return None
    try:
        return shown.stdout.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def base_spec(ref: str, spec: OrgSpec, settings: Settings, today: dt.date) -> OrgSpec | None:
    """The org as the file at ``ref`` declares it, when that file exists and is valid."""
    text = _git_show(ref, spec.path)
    if text is None:
        return None
    try:
        loaded = load_yaml(text)
    except YamlLoadError:
        return None
    return check_loaded(loaded, spec.path, settings, today).spec


def baseline(
    ref: str,
    specs: Sequence[OrgSpec],
    live: Mapping[OrgKey, LiveOrg | FetchFailure],
    settings: Settings,
    today: dt.date,
) -> Baseline:
    """The target branch's drift of ``specs``' orgs against the same live state."""
    orgs: dict[OrgKey, OrgDrift | None] = {}
    for spec in specs:
        old = base_spec(ref, spec, settings, today)
        state = live.get(spec.key)
        if old is None or old.key != spec.key or state is None:
            orgs[spec.key] = None
            continue
        orgs[spec.key] = compare(old, state, settings, today)
    return Baseline(ref, orgs)
