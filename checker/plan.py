"""Drift reports + what GitLab holds now → the GitLab actions to take. Pure: no network, no files.

Each org has at most one open thing per purpose, found again by the hidden marker of the
checker's section wherever it sits in the description (:mod:`checker.section`: people may write
around it), and by its title only when a person removed the marker:

* ``org``: the drift issue in the project (drifted or missing orgs);
* ``ops``: the support-operations request in ``gitlab.support_ops_project`` (repo-owned drift);
* ``adopt``: the merge request adopting Zendesk's values (Zendesk-owned drift), on branch
  ``checker/adopt/<instance>-<org-id>``;
* ``dashboard``: the one living dashboard issue.

The marker carries a hash of the drift the thing was written for and a hash of its body, so an
unchanged org costs no request beyond the listings: only changed orgs produce actions.

Planning happens in two passes. The first pass names the :class:`Lookup` s it needs (an org that
needs an issue and has none open: was one closed by a person while the same drift persists?); the
orchestrator answers them with one request each and plans again with the answers in
:attr:`GitLabState.history`. Answers it already has are cached in the dashboard's marker
(``acks``), so a person's decision costs one lookup once, not one every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from checker import section
from checker.adoptcheck import REFUSED, checked_adoption
from checker.domain.models import DriftItem, DriftKind, InfoItem, OrgDrift, OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.gitlab import ProjectInfo, TrackedIssue, TrackedMergeRequest
from checker.orgwriter import Adoption, OrgWriteError
from checker.render import inert, tracker
from checker.reportset import CombinedReport
from checker.reportset import ReportSetError as ReportSetError
from checker.reportset import combine as combine

OrgKey = tuple[str, int]
Kind = Literal["org", "ops", "adopt", "dashboard"]
Target = Literal["issue", "support-ops", "merge-request", "dashboard"]
Verb = Literal["create", "update", "comment", "close", "reopen"]

MARKER_TAG = "zendesk-drift-checker"
RESOLVED = "resolved"
BRANCH_PREFIX = "checker/adopt/"

_FIELD = r"[a-z]+=[A-Za-z0-9_.,:/~=-]*"
_MARKER_RE = re.compile(rf"<!-- zendesk-drift-checker ({_FIELD}(?: {_FIELD})*) -->")
_KIND_CODE = {
    DriftKind.CHANGED: "c",
    DriftKind.MISSING_IN_ZENDESK: "m",
    DriftKind.UNEXPECTED_IN_ZENDESK: "u",
    DriftKind.CONTACT_NAME_DIFFERS: "n",
    DriftKind.CONTACT_SUSPENDED: "s",
}


# --------------------------------------------------------------------------- keys & hashes


def key_text(key: OrgKey) -> str:
    return f"{key[0]}/{key[1]}"


def parse_key(text: str) -> OrgKey | None:
    instance, _, org_id = text.rpartition("/")
    if not instance or not org_id.isdigit():
        return None
    return (instance, int(org_id))


def branch_for(key: OrgKey) -> str:
    return f"{BRANCH_PREFIX}{key[0]}-{key[1]}"


def _digest(value: Any, size: int = 16) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def content_digest(text: str) -> str:
    """The digest of an org file's text that adopt merge request markers record."""
    return _digest(text)


def _item_tuple(i: DriftItem) -> list[Any]:
    return [i.field, i.kind.value, i.item, i.expected, i.actual, i.truth]


def drift_hash(status: OrgStatus, items: Iterable[DriftItem]) -> str:
    """Identifies one state of drift: equal hashes mean nothing changed that needs a note."""
    return _digest([status.value, sorted(json.dumps(_item_tuple(i), default=str) for i in items)])


def body_hash(body: str) -> str:
    return _digest(body)


def item_fingerprint(i: DriftItem) -> str:
    """``field/kind/which/value``: enough to tell new, changed and gone items apart later,
    without keeping emails or notes in the hidden marker."""
    kind = _KIND_CODE.get(i.kind, "x")
    return f"{i.field}/{kind}/{_digest(i.item, 8)}/{_digest([i.expected, i.actual], 8)}"


# --------------------------------------------------------------------------- markers


@dataclass(frozen=True, slots=True)
class Ack:
    """A person closed ``kind``'s issue or merge request ``iid`` while drift ``drift`` persisted."""

    kind: Kind
    org: OrgKey
    drift: str
    iid: int

    def encode(self) -> str:
        return f"{self.kind}:{key_text(self.org)}:{self.drift}:{self.iid}"

    @classmethod
    def decode(cls, text: str) -> Ack | None:
        parts = text.split(":")
        if len(parts) != 4 or parts[0] not in ("org", "ops", "adopt") or not parts[3].isdigit():
            return None
        key = parse_key(parts[1])
        if key is None:
            return None
        return cls(parts[0], key, parts[2], int(parts[3]))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Marker:
    """The hidden first line of every description the checker writes."""

    kind: Kind
    org: OrgKey | None = None
    drift: str = ""
    body: str = ""
    items: tuple[str, ...] = ()
    acks: tuple[Ack, ...] = ()
    #: the closed issue this one follows (a person closed it; the drift changed since)
    follows: int | None = None

    def render(self) -> str:
        parts = [f"kind={self.kind}"]
        if self.org is not None:
            parts.append(f"org={key_text(self.org)}")
        if self.drift:
            parts.append(f"drift={self.drift}")
        if self.body:
            parts.append(f"body={self.body}")
        if self.items:
            parts.append("items=" + ",".join(self.items))
        if self.acks:
            parts.append("acks=" + ",".join(a.encode() for a in self.acks))
        if self.follows is not None:
            parts.append(f"follows={self.follows}")
        return f"<!-- {MARKER_TAG} {' '.join(parts)} -->"

    @classmethod
    def parse(cls, description: str) -> Marker | None:
        """The marker of the checker's section wherever it sits (see :mod:`checker.section`),
        or None. Only a line that is exactly a marker counts: outside text, rendered inert, is
        indented or in a code span and can never form one, so it cannot forge a marker."""
        cut = section.split(description, _MARKER_RE)
        if cut is None:
            return None
        m = _MARKER_RE.fullmatch(cut.marker)
        if m is None:
            return None
        fields = dict(p.split("=", 1) for p in m.group(1).split(" "))
        kind = fields.get("kind")
        if kind not in ("org", "ops", "adopt", "dashboard"):
            return None
        org = parse_key(fields["org"]) if "org" in fields else None
        if kind != "dashboard" and org is None:
            return None
        acks = tuple(
            a for a in (Ack.decode(t) for t in fields.get("acks", "").split(",") if t) if a
        )
        return cls(
            kind=kind,  # type: ignore[arg-type]
            org=org,
            drift=fields.get("drift", ""),
            body=fields.get("body", ""),
            items=tuple(t for t in fields.get("items", "").split(",") if t),
            acks=acks,
            follows=int(fields["follows"]) if fields.get("follows", "").isdigit() else None,
        )


def body_of(description: str) -> str:
    """The checker's section of a description, without its marker and end lines."""
    cut = section.split(description, _MARKER_RE)
    return description if cut is None else cut.body


def outside_of(description: str) -> tuple[str, str]:
    """What people wrote above and below the checker's section (all of it when there is no
    section: a description whose marker a person removed is kept whole, above ours)."""
    cut = section.split(description, _MARKER_RE)
    if cut is None:
        return (description.strip("\n"), "")
    return (cut.before, cut.after)


def note_marker(key: str) -> str:
    return f"<!-- {MARKER_TAG} note={key} -->"


def with_marker(marker: Marker, body: str, outside: tuple[str, str] = ("", "")) -> str:
    """A full description: people's text above, the marker (with the body's hash), the body,
    the end line, people's text below."""
    return section.compose(
        replace(marker, body=body_hash(body)).render(), body, outside[0], outside[1]
    )


# --------------------------------------------------------------------------- reports


# --------------------------------------------------------------------------- GitLab state


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
class GitLabState:
    """What GitLab holds now, as read by the orchestrator (listings plus lookup answers)."""

    project: ProjectInfo
    issues: tuple[TrackedIssue, ...] = ()
    merge_requests: tuple[TrackedMergeRequest, ...] = ()
    ops_project: ProjectInfo | None = None
    ops_issues: tuple[TrackedIssue, ...] = ()
    history: Mapping[Lookup, TrackedIssue | TrackedMergeRequest | None] = field(
        default_factory=dict
    )


# --------------------------------------------------------------------------- actions


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


def placeholder(kind: Kind, org: OrgKey | None) -> str:
    """Stands for the web URL of something created earlier in the same run. NUL never occurs
    in rendered outside text (inert shows it as ␀), so it cannot be forged."""
    return f"\x00pending:{kind}:{key_text(org) if org else '-'}\x00"


PLACEHOLDER_RE = tracker.PLACEHOLDER_RE


# --------------------------------------------------------------------------- the planner


@dataclass(frozen=True, slots=True)
class PlanContext:
    settings: Settings
    links: tracker.Links
    #: org files' text by path, for merge requests (only orgs with Zendesk-owned drift need one)
    files: Mapping[str, str] = field(default_factory=dict)


def files_needed(combined: CombinedReport, specs: Sequence[OrgSpec]) -> list[str]:
    """Paths of org files the planner will read: those with Zendesk-owned drift. Taken from the
    current specs by org key, never from a report."""
    by_key = {s.key: s.path for s in specs}
    return sorted(
        {
            by_key[k]
            for k, o in combined.orgs.items()
            if k in by_key and o.status is OrgStatus.DRIFTED and tracker.zendesk_owned(o)
        }
    )


class _Index:
    """Open things by (kind, org), from the listings."""

    def __init__(self, state: GitLabState) -> None:
        self.issues: dict[tuple[str, OrgKey | None], list[tuple[TrackedIssue, Marker]]] = {}
        #: open labelled issues whose marker a person removed, by title (the fallback)
        self.by_title: dict[str, TrackedIssue] = {}
        for source in (state.issues, state.ops_issues):
            for issue in source:
                marker = Marker.parse(issue.description)
                if marker is not None and issue.is_open:
                    self.issues.setdefault((marker.kind, marker.org), []).append((issue, marker))
                elif marker is None and issue.is_open:
                    self.by_title.setdefault(issue.title, issue)
        for found in self.issues.values():
            found.sort(key=lambda pair: pair[0].iid)
        self.mrs: dict[OrgKey, list[tuple[TrackedMergeRequest, Marker | None]]] = {}
        for mr in state.merge_requests:
            marker = Marker.parse(mr.description)
            key = marker.org if marker is not None and marker.kind == "adopt" else None
            if key is None and mr.source_branch.startswith(BRANCH_PREFIX):
                key = _key_from_branch(mr.source_branch)
            if key is not None and mr.is_open and mr.source_branch == branch_for(key):
                self.mrs.setdefault(key, []).append((mr, marker))
        dashboards = self.issues.get(("dashboard", None), [])
        self.dashboard = dashboards[0] if dashboards else None
        acks = self.dashboard[1].acks if self.dashboard else ()
        self.acks = {(a.kind, a.org): a for a in acks}


def _key_from_branch(branch: str) -> OrgKey | None:
    rest = branch[len(BRANCH_PREFIX) :]
    instance, _, org_id = rest.rpartition("-")
    return (instance, int(org_id)) if instance and org_id.isdigit() else None


@dataclass
class _Planner:
    ctx: PlanContext
    combined: CombinedReport
    specs: Mapping[OrgKey, OrgSpec]
    state: GitLabState
    index: _Index
    lookups: list[Lookup] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    #: web URL (or placeholder) of each org's issue and merge request, for the dashboard
    issue_refs: dict[OrgKey, str] = field(default_factory=dict)
    mr_refs: dict[OrgKey, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    #: each org's checked adoption (or why its file cannot be edited), by _check_adoption
    adoptions: dict[OrgKey, Adoption | str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def labels(self) -> tuple[str, ...]:
        return self.settings.gitlab.labels

    # -------------------------------------------------------------- shared pieces

    def _history(self, kind: Kind, key: OrgKey) -> tuple[bool, Any]:
        """(answered, newest closed thing with our marker or None)."""
        lookup = Lookup(kind, key)
        if lookup not in self.state.history:
            self.lookups.append(lookup)
            return False, None
        return True, self.state.history[lookup]

    def _unlisted(
        self, kind: Kind, key: OrgKey | None, title: str
    ) -> tuple[bool, tuple[TrackedIssue, Marker] | None]:
        """An open issue of ``kind`` for ``key`` that the labelled listing did not show as
        ours: a person removed its label, or its marker (then it is known by its title).
        (answered, (issue, marker) or None); unanswered means a lookup is pending."""
        labelled = self.index.by_title.get(title)
        if labelled is not None:
            return True, (labelled, Marker(kind, key))
        lookup = Lookup(kind, key, opened=True, title=title)
        if lookup not in self.state.history:
            self.lookups.append(lookup)
            # asked in the same round: whether a person closed it, needed when none is open
            closed = Lookup(kind, key)
            if closed not in self.state.history and (kind, key) not in self.index.acks:
                self.lookups.append(closed)
            return False, None
        found = self.state.history[lookup]
        if not isinstance(found, TrackedIssue) or not found.is_open:
            return True, None
        return True, (found, Marker.parse(found.description) or Marker(kind, key))

    def _person_closed(self, kind: Kind, key: OrgKey, drift: str) -> tuple[bool, Any]:
        """Whether a person closed this org's ``kind`` thing while drift ``drift`` persisted:
        (decided, previous closed thing). Undecided means a lookup is pending."""
        ack = self.index.acks.get((kind, key))
        if ack is not None and ack.drift == drift:
            self.acks.append(ack)
            return True, ack
        answered, previous = self._history(kind, key)
        if not answered:
            return False, None
        if previous is not None:
            marker = Marker.parse(previous.description)
            # The drift that person accepted went away since: its return is news, not the
            # same decision.
            cleared = ack is not None and ack.drift == RESOLVED and ack.iid == previous.iid
            if marker is not None and marker.drift == drift and not cleared:
                self.acks.append(Ack(kind, key, drift, previous.iid))
                return True, Ack(kind, key, drift, previous.iid)
        return True, previous

    def _org_links(self, org: OrgDrift) -> tuple[str, str]:
        instance = self.settings.instances.get(org.instance)
        zendesk_url = (
            instance.agent_org_url(org.org_id) if instance is not None else org.zendesk_url or ""
        )
        spec = self.specs.get((org.instance, org.org_id))
        return zendesk_url, self.ctx.links.file(spec.path if spec else org.file)

    # -------------------------------------------------------------- per org

    def org_plan(self, key: OrgKey, org: OrgDrift | None) -> OrgPlan | None:
        if org is None:
            return self._absent(key)
        if org.status is OrgStatus.UNKNOWN:
            # Could not be checked: whatever is open stays exactly as it is.
            self._remember_refs(key)
            return None
        actions: list[Action] = []
        org = self._check_adoption(key, org)
        ops_url = self._support_ops(key, org, actions)
        issue_url = self._drift_issue(key, org, actions, ops_url)
        self._merge_request(key, org, actions, issue_url)
        return OrgPlan(key_text(key), org.name, tuple(actions)) if actions else None

    def _check_adoption(self, key: OrgKey, org: OrgDrift) -> OrgDrift:
        """Adopt the Zendesk-owned items as far as the file stays valid (``checker validate``
        with the same settings, across files). Items that would make it invalid stay on the
        org's issue as repo-owned drift, with the reason."""
        spec = self.specs.get(key)
        items = tracker.zendesk_owned(org)
        # The file is found from the org key in the current specs, never from the report.
        text = self.ctx.files.get(spec.path) if spec is not None else None
        if spec is None or text is None or org.status is not OrgStatus.DRIFTED or not items:
            return org
        try:
            checked = checked_adoption(
                text,
                items,
                path=spec.path,
                settings=self.settings,
                others=list(self.specs.values()),
                today=_day(self.combined.checked_on),
            )
        except OrgWriteError as e:
            self.adoptions[key] = str(e)
            return org
        self.adoptions[key] = checked.adoption
        if not checked.refused:
            return org
        refused = {id(item): why for item, why in checked.refused}
        return replace(
            org,
            items=tuple(replace(i, truth="repo") if id(i) in refused else i for i in org.items),
            info=(
                *org.info,
                *(
                    InfoItem(item.field, item.expected, item.actual, f"{REFUSED}: {why}")
                    for item, why in checked.refused
                ),
            ),
        )

    def _remember_refs(self, key: OrgKey) -> None:
        for issue, _ in self.index.issues.get(("org", key), [])[:1]:
            self.issue_refs[key] = issue.web_url
        for mr, _ in self.index.mrs.get(key, [])[:1]:
            self.mr_refs[key] = mr.web_url
        for kind in ("org", "adopt"):
            ack = self.index.acks.get((kind, key))
            if ack is not None:
                self.acks.append(ack)
                self._ack_ref(ack)

    def _clear_ack(self, kind: Kind, key: OrgKey) -> None:
        """The drift a person accepted is gone: remember that, so that its return opens a
        fresh issue instead of counting as the old decision."""
        ack = self.index.acks.get((kind, key))
        if ack is not None:
            self.acks.append(replace(ack, drift=RESOLVED))

    def _ack_ref(self, ack: Ack | Any) -> None:
        if not isinstance(ack, Ack) or ack.drift == RESOLVED:
            return
        base = self.state.project.web_url
        if ack.kind == "org":
            self.issue_refs.setdefault(ack.org, f"{base}/-/issues/{ack.iid}")
        elif ack.kind == "adopt":
            self.mr_refs.setdefault(ack.org, f"{base}/-/merge_requests/{ack.iid}")

    def _absent(self, key: OrgKey) -> OrgPlan | None:
        """An org no report covers: closed only when the file is gone and the set is complete."""
        removed = self.combined.complete and key not in self.specs
        if not removed:
            self._remember_refs(key)
            return None
        actions: list[Action] = []
        org = key_text(key)
        for kind, target in (("ops", "support-ops"), ("org", "issue")):
            for issue, marker in self.index.issues.get((kind, key), []):
                actions.append(
                    Action(
                        org=org,
                        target=target,  # type: ignore[arg-type]
                        verb="close",
                        summary=f"close #{issue.iid}: the org file was removed",
                        iid=issue.iid,
                        note=tracker.note("removed"),
                        note_key=f"removed:{marker.drift}",
                        body=body_of(issue.description),
                        outside=outside_of(issue.description),
                        marker=replace(marker, drift=RESOLVED),
                        state_event="close",
                        search=str(key[1]),
                    )
                )
        for mr, mr_marker in self.index.mrs.get(key, []):
            actions.append(
                self._close_mr(key, mr, mr_marker, "mr-removed", "the org file was removed")
            )
        return OrgPlan(org, "", tuple(actions)) if actions else None

    def _close_issue(
        self, key: OrgKey, kind: Kind, issue: TrackedIssue, marker: Marker, org: OrgDrift
    ) -> Action:
        return Action(
            org=key_text(key),
            target="issue" if kind == "org" else "support-ops",
            verb="close",
            summary=f"close #{issue.iid}: the drift is gone",
            iid=issue.iid,
            note=tracker.note("resolved", file=org.file, date=self.combined.checked_on or None),
            note_key=f"resolved:{marker.drift}",
            body=body_of(issue.description),
            outside=outside_of(issue.description),
            marker=replace(marker, drift=RESOLVED),
            state_event="close",
        )

    def _close_duplicates(
        self, key: OrgKey, kind: Kind, found: list[tuple[TrackedIssue, Marker]], out: list[Action]
    ) -> None:
        keep = found[0][0]
        for issue, _ in found[1:]:
            out.append(
                Action(
                    org=key_text(key),
                    target="issue" if kind == "org" else "support-ops",
                    verb="close",
                    summary=f"close #{issue.iid}: duplicate of #{keep.iid}",
                    iid=issue.iid,
                    note=f"Duplicate of {keep.web_url}; closing.\n",
                    note_key=f"duplicate:{keep.iid}",
                    state_event="close",
                )
            )

    def _tracked_issue(
        self,
        *,
        kind: Kind,
        key: OrgKey,
        org: OrgDrift,
        needed: bool,
        drift: str,
        items: Sequence[DriftItem],
        title: str,
        render_body: Any,
        out: list[Action],
    ) -> str | None:
        """The create / update / close decision shared by drift issues and support-ops
        requests. Returns the web URL (or placeholder) of the open issue, if there is one."""
        found = self.index.issues.get((kind, key), [])
        target: Target = "issue" if kind == "org" else "support-ops"
        if found:
            self._close_duplicates(key, kind, found, out)
        if not needed:
            if found:
                out.append(self._close_issue(key, kind, found[0][0], found[0][1], org))
            self._clear_ack(kind, key)
            return None
        fingerprints = tuple(item_fingerprint(i) for i in items)
        restore: tuple[str, ...] = ()
        ack = self.index.acks.get((kind, key))
        decided_before = ack is not None and ack.drift == drift
        if not found and needed and not decided_before:
            answered, unlisted = self._unlisted(kind, key, title)
            if not answered:
                return placeholder(kind, key)
            if unlisted is not None:
                found = [unlisted]
                restore = tuple(lb for lb in self.labels[:1] if lb not in unlisted[0].labels)
        if found:
            issue, marker = found[0]
            project = self.state.ops_project if kind == "ops" else self.state.project
            follows_url = (
                f"{project.web_url}/-/issues/{marker.follows}"
                if marker.follows is not None and project is not None
                else None
            )
            body = render_body(follows_url)
            if marker.body == body_hash(body) and marker.drift == drift and not restore:
                return issue.web_url
            note = None
            if marker.drift != drift and marker.drift:
                note = _change_note(marker.items, items, body_of(issue.description))
            out.append(
                Action(
                    org=key_text(key),
                    target=target,
                    verb="update",
                    summary=(
                        f"update #{issue.iid}: the drift changed"
                        if note
                        else f"update #{issue.iid}: new description"
                    )
                    + (f" and put label {restore[0]} back" if restore else ""),
                    iid=issue.iid,
                    body=body,
                    marker=Marker(kind, key, drift, items=fingerprints, follows=marker.follows),
                    note=note,
                    note_key=f"changed:{drift}" if note else None,
                    search=str(key[1]),
                    outside=outside_of(issue.description),
                    add_labels=restore,
                )
            )
            return issue.web_url
        decided, previous = self._person_closed(kind, key, drift)
        if not decided:
            return placeholder(kind, key)
        if isinstance(previous, Ack):
            self._ack_ref(previous)
            return None
        previous_url = previous.web_url if previous is not None else None
        assignee = org.csm if kind == "org" else None
        out.append(
            Action(
                org=key_text(key),
                target=target,
                verb="create",
                summary=(
                    f"create: {org.status.value}"
                    + (f" ({len(items)} item{'s' if len(items) != 1 else ''})" if items else "")
                    + (f", follows closed #{previous.iid}" if previous is not None else "")
                ),
                title=title,
                body=render_body(previous_url),
                marker=Marker(
                    kind,
                    key,
                    drift,
                    items=fingerprints,
                    follows=previous.iid if previous is not None else None,
                ),
                assignee=assignee,
                labels=self.labels,
                confidential=self.settings.gitlab.confidential,
                provides=placeholder(kind, key),
                search=str(key[1]),
            )
        )
        return placeholder(kind, key)

    def _support_ops(self, key: OrgKey, org: OrgDrift, out: list[Action]) -> str | None:
        if self.state.ops_project is None:
            return None
        items = tracker.repo_owned(org)
        zendesk_url, file_url = self._org_links(org)
        links = tracker.OrgLinks(zendesk_url=zendesk_url, file_url=file_url)
        return self._tracked_issue(
            kind="ops",
            key=key,
            org=org,
            needed=org.status is OrgStatus.DRIFTED and bool(items),
            drift=drift_hash(org.status, items),
            items=items,
            title=tracker.support_ops_title(org),
            render_body=lambda _previous: tracker.support_ops_body(
                org, links, form=self.settings.support_request
            ),
            out=out,
        )

    def _drift_issue(
        self, key: OrgKey, org: OrgDrift, out: list[Action], ops_url: str | None
    ) -> str | None:
        zendesk_url, file_url = self._org_links(org)
        spec = self.specs.get(key)
        line_of = dict(spec.lines) if spec is not None else {}
        has_mr = (
            org.status is OrgStatus.DRIFTED
            and bool(tracker.zendesk_owned(org))
            and spec is not None
            and spec.path in self.ctx.files
        )
        branch = branch_for(key)
        mr_url = (
            f"{self.state.project.web_url}/-/merge_requests?source_branch={branch}"
            if has_mr
            else None
        )
        ops = self.state.ops_project

        def render_body(previous_url: str | None) -> str:
            links = tracker.OrgLinks(
                zendesk_url=zendesk_url,
                file_url=file_url,
                ops_url=ops_url,
                ops_project=ops.path if ops else None,
                ops_new_issue_url=f"{ops.web_url}/-/issues/new" if ops else None,
                mr_url=mr_url,
                mr_branch=branch if has_mr else None,
                previous_url=previous_url,
            )
            return tracker.issue_body(
                org, self.ctx.links, links, line_of, form=self.settings.support_request
            )

        url = self._tracked_issue(
            kind="org",
            key=key,
            org=org,
            needed=org.status in (OrgStatus.DRIFTED, OrgStatus.MISSING),
            drift=drift_hash(org.status, org.items),
            items=org.items,
            title=tracker.issue_title(org),
            render_body=render_body,
            out=out,
        )
        if url is not None:
            self.issue_refs[key] = url
        return url

    def _close_mr(
        self,
        key: OrgKey,
        mr: TrackedMergeRequest,
        marker: Marker | None,
        reason: str,
        why: str,
        file: str | None = None,
    ) -> Action:
        return Action(
            org=key_text(key),
            target="merge-request",
            verb="close",
            summary=f"close !{mr.iid} and delete its branch: {why}",
            iid=mr.iid,
            note=tracker.note(reason, file=file),
            note_key=f"{reason}:{marker.drift if marker else ''}",
            body=body_of(mr.description) if marker is not None else None,
            outside=outside_of(mr.description) if marker is not None else ("", ""),
            marker=replace(marker, drift=RESOLVED) if marker is not None else None,
            state_event="close",
            branch=mr.source_branch,
            delete_branch=True,
        )

    def _merge_request(
        self, key: OrgKey, org: OrgDrift, out: list[Action], issue_url: str | None
    ) -> None:
        found = self.index.mrs.get(key, [])
        spec = self.specs.get(key)
        checked = self.adoptions.get(key)
        if isinstance(checked, str):
            self.notices.append(f"{key_text(key)}: no merge request: {checked}")
            return
        adoption = checked if org.status is OrgStatus.DRIFTED else None
        if adoption is None or not adoption.changed:
            self._clear_ack("adopt", key)
            for mr, marker in found:
                out.append(
                    self._close_mr(key, mr, marker, "mr-resolved", "the drift is gone", org.file)
                )
            return
        drift = drift_hash(org.status, adoption.applied)
        zendesk_url, file_url = self._org_links(org)
        links = tracker.OrgLinks(zendesk_url=zendesk_url, file_url=file_url)
        body = tracker.mr_body(org, links, adoption.applied, adoption.skipped, issue_url)
        content_hash = _digest(adoption.text)
        marker = Marker("adopt", key, drift, items=(f"file/{content_hash}",))
        assert spec is not None  # text was found through it
        path = spec.path
        commit_message = (
            f"Adopt Zendesk's values for org {key[1]} ({inert.plain(org.name, limit=80)})\n\n"
            + "\n".join(f"- {i.field}: {i.kind.value}" for i in adoption.applied)
        )
        branch = branch_for(key)
        if found:
            mr, old = found[0]
            for extra, extra_marker in found[1:]:
                out.append(
                    self._close_mr(
                        key, extra, extra_marker, "mr-resolved", f"duplicate of !{mr.iid}"
                    )
                )
            self.mr_refs[key] = mr.web_url
            held = f"held/{content_hash}"
            if old is not None and held in old.items:
                return  # a person's commits hold the branch, and this news was told already
            same_file = old is not None and old.items == marker.items
            if same_file and old is not None and old.body == body_hash(body):
                return
            held_description = (
                with_marker(
                    replace(
                        old, items=(*(i for i in old.items if not i.startswith("held/")), held)
                    ),
                    body_of(mr.description),
                    outside_of(mr.description),
                )
                if old is not None
                else None
            )
            out.append(
                Action(
                    org=key_text(key),
                    target="merge-request",
                    verb="update",
                    summary=(
                        f"update !{mr.iid}: Zendesk's values changed"
                        if not same_file
                        else f"update !{mr.iid}: new description"
                    ),
                    iid=mr.iid,
                    body=body,
                    marker=marker,
                    outside=outside_of(mr.description) if old is not None else ("", ""),
                    note=tracker.note("mr-updated") if not same_file else None,
                    note_key=f"mr-updated:{content_hash}" if not same_file else None,
                    held_note=tracker.note("mr-held", values=adoption.applied),
                    held_description=held_description,
                    branch_digest=next(
                        (i[5:] for i in (old.items if old else ()) if i.startswith("file/")),
                        None,
                    ),
                    branch=branch,
                    file_path=path if not same_file else None,
                    content=adoption.text if not same_file else None,
                    commit_message=commit_message,
                )
            )
            return
        decided, previous = self._person_closed("adopt", key, drift)
        if not decided:
            self.mr_refs[key] = placeholder("adopt", key)
            return
        if isinstance(previous, Ack):
            self._ack_ref(previous)
            return
        self.mr_refs[key] = placeholder("adopt", key)
        out.append(
            Action(
                org=key_text(key),
                target="merge-request",
                verb="create",
                summary=f"create on {branch}: {len(adoption.applied)} value(s) from Zendesk",
                title=tracker.mr_title(org),
                body=body,
                marker=marker,
                labels=self.labels,
                branch=branch,
                file_path=path,
                content=adoption.text,
                commit_message=commit_message,
                provides=placeholder("adopt", key),
            )
        )

    # -------------------------------------------------------------- dashboard

    def dashboard(self) -> tuple[Action | None, str | None]:
        if not self.combined.complete:
            return None, "dashboard: not updated (the reports are partial)"
        body, summary = self._dashboard_body()
        acks = tuple(sorted(set(self.acks), key=lambda a: (a.kind, a.org)))
        marker = Marker("dashboard", acks=acks)
        title = self.settings.gitlab.dashboard_title
        current = self.index.dashboard
        restore: tuple[str, ...] = ()
        if current is None:
            answered, unlisted = self._unlisted("dashboard", None, title)
            if not answered:
                return None, None
            if unlisted is not None:
                current = unlisted
                restore = tuple(lb for lb in self.labels[:1] if lb not in unlisted[0].labels)
        if current is not None:
            issue, old = current
            if (
                old.body == body_hash(body)
                and old.acks == acks
                and PLACEHOLDER_RE.search(body) is None
                and not restore
            ):
                return None, None
            return (
                Action(
                    org="dashboard",
                    target="dashboard",
                    verb="update",
                    summary=f"update #{issue.iid}: {summary}",
                    iid=issue.iid,
                    body=body,
                    marker=marker,
                    outside=outside_of(issue.description),
                    add_labels=restore,
                ),
                None,
            )
        answered, previous = self._history_dashboard()
        if not answered:
            return None, None
        if previous is not None:
            return (
                Action(
                    org="dashboard",
                    target="dashboard",
                    verb="reopen",
                    summary=f"reopen #{previous.iid} (closed by a person) and update it: {summary}",
                    iid=previous.iid,
                    body=body,
                    marker=marker,
                    outside=outside_of(previous.description),
                    state_event="reopen",
                ),
                None,
            )
        return (
            Action(
                org="dashboard",
                target="dashboard",
                verb="create",
                summary=f"create: {summary}",
                title=title,
                body=body,
                marker=marker,
                labels=self.labels,
                confidential=self.settings.gitlab.confidential,
                search=title,
            ),
            None,
        )

    def _dashboard_body(self) -> tuple[str, str]:
        """The dashboard's text and its one-line summary: counts for every declared org, a
        row only for those that need attention (by CSM, orgs without one last)."""
        project_url = self.state.project.web_url
        rows: list[tuple[tuple[Any, ...], tracker.DashboardRow]] = []
        counts: dict[str, int] = {}
        per_csm: dict[str | None, dict[str, int]] = {}
        for key, spec in self.specs.items():
            org = self.combined.orgs.get(key)
            status = tracker.dashboard_status(org)
            counts[status] = counts.get(status, 0) + 1
            bucket = per_csm.setdefault(spec.csm, {})
            group = {"suppressed": "in_sync", "not_checked": "unknown"}.get(status, status)
            bucket[group] = bucket.get(group, 0) + 1
            if status not in tracker.NEEDS_ATTENTION:
                continue
            order = (
                spec.csm is None,
                (spec.csm or "").lower(),
                tracker.STATUS_ORDER.get(status, 9),
                spec.name.lower(),
                spec.org_id,
            )
            row = tracker.DashboardRow(
                name=spec.name,
                instance=spec.instance,
                org_id=spec.org_id,
                csm=spec.csm,
                status=tracker.status_cell(org),
                issue=_ref_cell(self.issue_refs.get(key), self._acked("org", key), project_url),
                mr=_ref_cell(self.mr_refs.get(key), self._acked("adopt", key), project_url),
                notes=tracker.notes_cell(org),
            )
            rows.append((order, row))
        rows.sort(key=lambda r: r[0])
        states = ("drifted", "missing", "unknown", "not_checked", "in_sync", "suppressed")
        words = {
            "unknown": "could not be checked",
            "in_sync": "in sync",
            "suppressed": "in sync with accepted differences",
            "not_checked": "not checked",
        }
        summary = f"{len(self.specs):,} orgs: " + ", ".join(
            f"{counts.get(s, 0):,} {words.get(s, s)}"
            for s in states
            if counts.get(s) or s not in ("not_checked", "suppressed")
        )
        csm_rows = sorted(
            (
                tracker.CsmCount(
                    csm,
                    drifted=c.get("drifted", 0),
                    missing=c.get("missing", 0),
                    unknown=c.get("unknown", 0),
                    in_sync=c.get("in_sync", 0),
                )
                for csm, c in per_csm.items()
            ),
            key=lambda c: (c.csm is None, -c.attention, (c.csm or "").lower()),
        )
        in_sync = counts.get("in_sync", 0) + counts.get("suppressed", 0)
        body = tracker.dashboard_body(
            [r[1] for r in rows], summary, self.combined.checked_on, csm_rows, in_sync
        )
        return body, summary

    def _history_dashboard(self) -> tuple[bool, Any]:
        lookup = Lookup("dashboard")
        if lookup not in self.state.history:
            self.lookups.append(lookup)
            return False, None
        return True, self.state.history[lookup]

    def _acked(self, kind: Kind, key: OrgKey) -> bool:
        return any(a.kind == kind and a.org == key and a.drift != RESOLVED for a in self.acks)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return dt.date.today()


def _ref_cell(url: str | None, acked: bool, project_url: str = "") -> tracker.Inert:
    """An issue or merge request as its GitLab reference (``#12``, ``!3``). Something created
    later in this run is a placeholder, filled in with its URL (which GitLab shows as its
    reference too); the next run writes the reference."""
    if url is None:
        return tracker.Inert("")
    cell = tracker.reference(url, project_url) if project_url else url
    if not project_url and not url.startswith("\x00"):
        cell = inert.url(url) or ""
    if acked:
        cell += " closed by a person"
    return tracker.Inert(cell)


_KIND_FROM_CODE = {code: kind for kind, code in _KIND_CODE.items()}


def _named_items(description: str) -> dict[str, str]:
    """Every word of an earlier description by the digest an item fingerprint keeps of it, so
    that an item no longer drifting can be named (the marker keeps no emails)."""
    out: dict[str, str] = {}
    for word in re.split(r"[\s`]+", description):
        word = word.strip(".,;:()[]*|<>\\")
        if word and ("@" in word or word.startswith("user:")):
            out.setdefault(_digest(word, 8), word)
    return out


def _change_note(
    before: Sequence[str], items: Sequence[DriftItem], old_description: str = ""
) -> str:
    """What changed between the items a description was written for and ``items``."""
    old = {fp.rsplit("/", 1)[0]: fp for fp in before}
    new_lines: list[str] = []
    changed_lines: list[str] = []
    seen: set[str] = set()
    for item in items:
        fp = item_fingerprint(item)
        ident = fp.rsplit("/", 1)[0]
        seen.add(ident)
        if ident not in old:
            new_lines.append(tracker.describe(item))
        elif old[ident] != fp:
            changed_lines.append(tracker.describe(item))
    names = _named_items(old_description)
    gone_lines: list[str] = []
    unnamed: dict[str, int] = {}
    for ident in old:
        if ident in seen:
            continue
        parts = ident.split("/")
        field_name, code, which = parts[0], parts[1] if len(parts) > 1 else "", parts[-1]
        kind = _KIND_FROM_CODE.get(code)
        named = names.get(which) if which != _digest(None, 8) else None
        if kind is None or (which != _digest(None, 8) and named is None):
            unnamed[field_name] = unnamed.get(field_name, 0) + 1
            continue
        gone_lines.append(tracker.describe(DriftItem(field_name, kind, None, None, item=named)))
    gone_lines += [
        tracker.Inert(inert.inline(f, table=False) + (f" ({n} items)" if n > 1 else " (an item)"))
        for f, n in sorted(unnamed.items())
    ]
    return tracker.note("changed", new=new_lines, changed=changed_lines, gone=sorted(gone_lines))


def _duplicate_dashboards(index: _Index) -> tuple[Action, ...]:
    """Dashboards beyond the oldest (left by a crash or a race) are closed, linking it."""
    found = index.issues.get(("dashboard", None), [])
    if len(found) < 2:
        return ()
    keep = found[0][0]
    return tuple(
        Action(
            org="dashboard",
            target="dashboard",
            verb="close",
            summary=f"close #{issue.iid}: duplicate of #{keep.iid}",
            iid=issue.iid,
            note=f"Duplicate of {keep.web_url}; closing.\n",
            note_key=f"duplicate:{keep.iid}",
            state_event="close",
        )
        for issue, _ in found[1:]
    )


def make_plan(
    ctx: PlanContext,
    combined: CombinedReport,
    specs: Sequence[OrgSpec],
    state: GitLabState,
) -> Plan:
    """Every action to take, per org, then the dashboard. ``Plan.lookups`` lists the questions
    still to answer: when it is not empty, answer them into ``state.history`` and plan again
    (the actions of a plan with open lookups are incomplete)."""
    by_key = {s.key: s for s in specs}
    index = _Index(state)
    planner = _Planner(ctx, combined, by_key, state, index)
    keys: dict[OrgKey, None] = dict.fromkeys(sorted(set(combined.orgs) | set(by_key)))
    for kind_key in index.issues:
        if kind_key[0] in ("org", "ops") and kind_key[1] is not None:
            keys.setdefault(kind_key[1], None)
    for key in index.mrs:
        keys.setdefault(key, None)
    plans: list[OrgPlan] = []
    for key in sorted(keys):
        plan = planner.org_plan(key, combined.orgs.get(key))
        if plan is not None:
            plans.append(plan)
    dashboard, notice = planner.dashboard()
    duplicates = _duplicate_dashboards(index)
    if duplicates:
        plans.append(OrgPlan("dashboard", "", duplicates))
    notices = [*planner.notices, *([notice] if notice else [])]
    if not combined.complete:
        notices.append(
            "partial reports"
            + (f" ({combined.partial_reason})" if combined.partial_reason else "")
            + ": nothing is closed for orgs they do not cover"
        )
    return Plan(tuple(plans), dashboard, tuple(dict.fromkeys(planner.lookups)), tuple(notices))
