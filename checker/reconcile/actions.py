"""What a plan holds: the GitLab changes to make, in the order they run, and the questions
(:class:`Lookup`) still to ask GitLab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from checker.reconcile.markers import Kind, Marker, OrgKey

Target = Literal["issue", "support-ops", "merge-request", "dashboard"]


Verb = Literal["create", "update", "comment", "close", "reopen"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A question for GitLab: the newest closed ``kind`` thing of ``org`` (or the dashboard)."""

    kind: Kind
    org: OrgKey | None = None
    #: an open issue without the checker's label (found by marker, or by its title)
    opened: bool = False
    #: the title the checker gives it, for the fallback
    title: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """One GitLab change. ``body`` excludes the marker (``with_marker`` adds it at execution,
    once placeholders for things created earlier in the run are filled in)."""

    org: str
    target: Target
    verb: Verb
    summary: str
    iid: int | None = None
    title: str | None = None
    body: str | None = None
    marker: Marker | None = None
    note: str | None = None
    #: identifies the note, so that a rerun after a failure does not post it twice
    note_key: str | None = None
    state_event: Literal["close", "reopen"] | None = None
    assignee: str | None = None
    labels: tuple[str, ...] = ()
    confidential: bool = False
    #: merge requests: branch, file and its new content, commit message, delete the branch
    branch: str | None = None
    file_path: str | None = None
    content: str | None = None
    commit_message: str | None = None
    delete_branch: bool = False
    #: the placeholder this create's web URL fills in later bodies
    provides: str | None = None
    #: text to search for to find what an uncertain create may have stored
    search: str | None = None
    #: what people wrote above and below the checker's section: kept as it is
    outside: tuple[str, str] = ("", "")
    #: labels to put back (a person removed the checker's label)
    add_labels: tuple[str, ...] = ()
    #: merge requests: the note (edited in place) when the branch holds a person's commits,
    #: and the description then (unchanged text, the marker remembering the news was told)
    held_note: str | None = None
    held_description: str | None = None
    #: the org file digest the merge request's marker recorded (recognises older branches)
    branch_digest: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, without bodies (they hold personal data and are in GitLab anyway)."""
        return {
            "org": self.org,
            "target": self.target,
            "verb": self.verb,
            "summary": self.summary,
            "iid": self.iid,
            "branch": self.branch,
        }


@dataclass(frozen=True, slots=True)
class OrgPlan:
    """The actions for one org, in the order they must run (a failure skips the rest)."""

    org: str
    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    orgs: tuple[OrgPlan, ...]
    dashboard: Action | None
    lookups: tuple[Lookup, ...] = ()
    #: lines worth printing that are not actions (e.g. why nothing is closed for absent orgs)
    notices: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[Action, ...]:
        out = [a for p in self.orgs for a in p.actions]
        if self.dashboard is not None:
            out.append(self.dashboard)
        return tuple(out)
