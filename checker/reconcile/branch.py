"""The adopt branch: the one commit the checker makes on it, whether a person's commits hold
it (then it is never force-pushed over), and the one note saying so."""

from __future__ import annotations

import hashlib
import re

from checker.reconcile.markers import content_digest, note_marker
from checker.tracker.port import GitLabPort
from checker.tracker.types import GitLabRejected

#: the last line of every adoption commit: names the file content the checker wrote
COMMIT_TRAILER = "Zendesk-Drift-Checker"


#: the key of the one note saying a person's commits hold the adopt branch
HELD_NOTE = "adopt-held"


#: how adoption commits began before they carried the trailer
LEGACY_SUBJECT = "Adopt Zendesk's values for org "


def held(branch: str) -> GitLabRejected:
    """A person pushed to the branch: it is never force-pushed over."""
    return GitLabRejected(
        f"branch {branch} holds commits the checker did not make; "
        "it was left as it is (delete it, or open the merge request by hand)"
    )


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def branch_is_ours(
    port: GitLabPort, branch: str, path: str, legacy_digest: str | None = None
) -> bool | None:
    """Whether ``branch`` holds only what the checker wrote: its head commit carries the
    checker's trailer, and the org file there is the content that trailer names (a person's
    commit on top, or an amended file, fails one or the other). None: no such branch.

    A branch written before commits carried the trailer counts as ours when its head is the
    checker's adoption commit (by its message) and the file is what the merge request's marker
    recorded (``legacy_digest``)."""
    head = port.branch_head(branch)
    if head is None:
        return None
    found = re.search(rf"^{COMMIT_TRAILER}: ([0-9a-f]{{16}})$", head.message, re.MULTILINE)
    if found is None:
        if legacy_digest is None or not head.message.startswith(LEGACY_SUBJECT):
            return False
        text = port.file_text(path, branch)
        return text is not None and content_digest(text) == legacy_digest
    text = port.file_text(path, branch)
    return text is not None and content_hash(text) == found.group(1)


def upsert_note(port: GitLabPort, iid: int, key: str, body: str) -> None:
    """One note of the checker's own on merge request ``iid``, created once, then edited in
    place when its text changes (found by its marker line and by its author)."""
    marker = note_marker(key)
    text = f"{marker}\n{body}"
    existing = port.find_own_note("merge_request", iid, marker)
    if existing is None:
        port.add_note("merge_request", iid, text)
    elif existing.body.strip() != text.strip():
        port.edit_note("merge_request", iid, existing.id, text)
