"""What a plan holds: the GitLab changes to make, in the order they run, and the questions
(:class:`Lookup`) still to ask GitLab."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from checker.reconcile.markers import Kind, Marker, OrgKey

Target = Literal["issue", "support-ops", "merge-request", "dashboard"]


Verb = Literal["create", "update", "close", "reopen"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A question for GitLab: the newest closed ``kind`` thing of ``org`` (or the dashboard)."""

    kind: Kind
    org: OrgKey | None = None
    #: an open issue without the checker's label (found by marker, or by its title)
    opened: bool = False
    #: the title the checker gives it, for the fallback
    title: str = ""


IssueTarget = Literal["issue", "support-ops", "dashboard"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Action:
    """What every GitLab change has: the org it is for (``dashboard`` for the dashboard) and
    one line saying what it does. The kinds below are the only actions; the properties here
    answer for the kinds that lack a field (None), so that a caller listing every action reads
    them alike. ``body`` excludes the marker (the writer adds it at execution, once
    placeholders for things created earlier in the run are filled in)."""

    org: str
    summary: str

    @property
    def target(self) -> Target:
        raise NotImplementedError  # pragma: no cover

    @property
    def verb(self) -> Verb:
        raise NotImplementedError  # pragma: no cover

    @property
    def iid(self) -> int | None:
        return None

    @property
    def branch(self) -> str | None:
        return None

    @property
    def title(self) -> str | None:
        return None

    @property
    def body(self) -> str | None:
        return None

    @property
    def marker(self) -> Marker | None:
        return None

    @property
    def note(self) -> str | None:
        return None

    @property
    def note_key(self) -> str | None:
        """Identifies the note, so that a rerun after a failure does not post it twice."""
        return None

    @property
    def provides(self) -> str | None:
        """The placeholder this create's web URL fills in later bodies."""
        return None

    @property
    def commit_message(self) -> str | None:
        return None

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


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateIssue(_Action):
    """A new issue: drift, support-ops request or the dashboard."""

    target: IssueTarget = field()
    title: str = field()
    body: str = field()
    marker: Marker = field()
    labels: tuple[str, ...] = ()
    confidential: bool = False
    assignee: str | None = None
    provides: str | None = None
    #: text to search for to find what an uncertain create may have stored
    search: str = ""

    @property
    def verb(self) -> Verb:
        return "create"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateIssue(_Action):
    """An open issue brought up to date (or, ``reopen``, a closed one reopened and updated),
    with an optional note."""

    target: IssueTarget = field()
    iid: int = field()
    body: str = field()
    marker: Marker = field()
    #: what people wrote above and below the checker's section: kept as it is
    outside: tuple[str, str] = ("", "")
    note: str | None = None
    note_key: str | None = None
    #: labels to put back (a person removed the checker's label)
    add_labels: tuple[str, ...] = ()
    reopen: bool = False

    @property
    def verb(self) -> Verb:
        return "reopen" if self.reopen else "update"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseIssue(_Action):
    """An issue closed with a note; its description (when given) rewritten, the marker saying
    it was resolved."""

    target: IssueTarget = field()
    iid: int = field()
    note: str = field()
    note_key: str = field()
    body: str | None = None
    marker: Marker | None = None
    outside: tuple[str, str] = ("", "")

    @property
    def verb(self) -> Verb:
        return "close"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseDuplicate(_Action):
    """An issue beyond the oldest open one of the same kind and org, closed linking it."""

    target: IssueTarget = field()
    iid: int = field()
    keep_iid: int = field()
    keep_url: str = field()

    @property
    def verb(self) -> Verb:
        return "close"

    @property
    def note(self) -> str:
        return f"Duplicate of {self.keep_url}; closing.\n"

    @property
    def note_key(self) -> str:
        return f"duplicate:{self.keep_iid}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateMergeRequest(_Action):
    """A new adopt merge request with its branch's one commit."""

    title: str = field()
    body: str = field()
    marker: Marker = field()
    labels: tuple[str, ...] = ()
    branch: str = field()
    file_path: str = field()
    content: str = field()
    commit_message: str = field()
    provides: str | None = None

    @property
    def target(self) -> Target:
        return "merge-request"

    @property
    def verb(self) -> Verb:
        return "create"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateMergeRequest(_Action):
    """An open adopt merge request brought up to date; a new commit when the file changed
    (``content``), never over a person's commits (then ``held_note`` is told once)."""

    iid: int = field()
    branch: str = field()
    body: str = field()
    marker: Marker = field()
    outside: tuple[str, str] = ("", "")
    note: str | None = None
    note_key: str | None = None
    #: the file and its new content when Zendesk's values changed (None: description only)
    file_path: str | None = None
    content: str | None = None
    commit_message: str | None = None
    #: the note (edited in place) when the branch holds a person's commits, and the
    #: description then (unchanged text, the marker remembering the news was told)
    held_note: str | None = None
    held_description: str | None = None
    #: the org file digest the merge request's marker recorded (recognises older branches)
    branch_digest: str | None = None

    @property
    def target(self) -> Target:
        return "merge-request"

    @property
    def verb(self) -> Verb:
        return "update"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseMergeRequest(_Action):
    """A merge request closed with a note, its branch deleted."""

    iid: int = field()
    branch: str = field()
    note: str = field()
    note_key: str = field()
    body: str | None = None
    marker: Marker | None = None
    outside: tuple[str, str] = ("", "")

    @property
    def target(self) -> Target:
        return "merge-request"

    @property
    def verb(self) -> Verb:
        return "close"


#: one GitLab change: each kind of write is its own frozen class (dispatched with ``match``)
Action = (
    CreateIssue
    | UpdateIssue
    | CloseIssue
    | CloseDuplicate
    | CreateMergeRequest
    | UpdateMergeRequest
    | CloseMergeRequest
)


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
