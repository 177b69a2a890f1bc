"""The drift preview on a merge request: one note, created once and then edited in place.

The note is ours by author, not by text: only a note written by the token's own user that
carries the marker is edited. A look-alike from anyone else (a copied marker) is left alone,
and then ours is created once and found again on every later run.
"""

from __future__ import annotations

from typing import Literal

from checker.gitlab import GitLabProject

MARKER = "<!-- zendesk-drift-checker:preview -->"

PreviewOutcome = Literal["created", "updated", "unchanged"]


def upsert_preview_note(project: GitLabProject, mr_iid: int, markdown: str) -> PreviewOutcome:
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
