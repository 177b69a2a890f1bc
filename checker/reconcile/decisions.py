"""What the planner's small functions return: what GitLab's history says about a person's
decision (:data:`PersonDecision`), and what deciding one org learnt (:class:`Learnt`), which the
caller adds up."""

from __future__ import annotations

from dataclasses import dataclass

from checker.reconcile.actions import Action, Lookup
from checker.reconcile.markers import RESOLVED, Ack
from checker.tracker.types import TrackedIssue, TrackedMergeRequest


@dataclass(frozen=True, slots=True)
class Pending:
    """GitLab must be asked first: a lookup is pending (planned again once answered)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A person closed the org's thing while this same drift persisted: their decision stands."""

    ack: Ack


@dataclass(frozen=True, slots=True)
class Closed:
    """Nobody accepted this drift; the newest closed thing of the org (to follow), if any."""

    previous: TrackedIssue | TrackedMergeRequest | None


#: what GitLab's history says about an org's closed issue or merge request
PersonDecision = Pending | Accepted | Closed


@dataclass(frozen=True, slots=True)
class Learnt:
    """What deciding one org (or one of its things) returns besides actions: the questions
    still unanswered, people's decisions to remember, and its references for the dashboard.
    The caller adds them up (``+``); a reference already known is kept."""

    actions: tuple[Action, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    acks: tuple[Ack, ...] = ()
    #: web URL (or placeholder) of the org's issue and merge request, for the dashboard
    issue_ref: str | None = None
    mr_ref: str | None = None
    notices: tuple[str, ...] = ()

    def __add__(self, other: Learnt) -> Learnt:
        return Learnt(
            self.actions + other.actions,
            self.lookups + other.lookups,
            self.acks + other.acks,
            self.issue_ref if self.issue_ref is not None else other.issue_ref,
            self.mr_ref if self.mr_ref is not None else other.mr_ref,
            self.notices + other.notices,
        )


NOTHING = Learnt()


def ack_ref(ack: Ack, base: str) -> Learnt:
    """Where the dashboard links an org whose drift a person accepted: the closed thing."""
    if ack.drift == RESOLVED:
        return NOTHING
    if ack.kind == "org":
        return Learnt(issue_ref=f"{base}/-/issues/{ack.iid}")
    if ack.kind == "adopt":
        return Learnt(mr_ref=f"{base}/-/merge_requests/{ack.iid}")
    return NOTHING
