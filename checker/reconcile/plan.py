"""Drift reports + what GitLab holds now → the GitLab actions to take. Pure: no network, no files.

Each org has at most one open thing per purpose, found again by the hidden marker of the
checker's section wherever it sits in the description (:mod:`.section`: people may write
around it), and by its title only when a person removed the marker:

* ``org``: the drift issue in the project (drifted or missing orgs);
* ``ops``: the support-operations request in ``gitlab.support_ops_project`` (repo-owned drift);
* ``adopt``: the merge request adopting Zendesk's values (Zendesk-owned drift), on branch
  ``checker/adopt/<instance>-<org-id>``;
* ``dashboard``: the one living dashboard issue.

The marker carries a hash of the drift the thing was written for and a hash of its body, so an
unchanged org costs no request beyond the listings: only changed orgs produce actions.

History is fetched up front: :func:`questions` names every :class:`Lookup` planning will ask
(an org that needs an issue and has none open: was one closed by a person while the same drift
persists? is one open without the label?), from the open listings alone; the orchestrator
answers them all with as few requests as it can (:func:`checker.reconcile.history.answer`) into
:attr:`GitLabState.history`, and :func:`make_plan` plans once. Answers it already has are cached
in the dashboard's marker (``acks``), so a person's decision costs one lookup once, not one
every run.

Each action is decided by a small pure function (:mod:`.issues`, :mod:`.merge_requests`,
:mod:`.dashboard`); this module walks the orgs and keeps what the walk learns along the way (the
lookups still to ask, people's decisions to remember, each org's references for the dashboard).
Over 400 lines for that reason: the walk is one piece, and splitting it would scatter those
accumulators over several modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from checker.domain.models import DriftItem, OrgDrift, OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.edit.orgwriter import Adoption
from checker.reconcile.actions import Action, Lookup, OrgPlan, Plan
from checker.reconcile.dashboard import (
    NewDashboard,
    Refs,
    create_dashboard,
    dashboard_body,
    duplicate_dashboards,
    reopen_dashboard,
    update_dashboard,
)
from checker.reconcile.issues import (
    Tracked,
    close_duplicate_issues,
    close_issue,
    close_removed_issue,
    create_issue,
    update_issue,
)
from checker.reconcile.markers import (
    RESOLVED,
    Ack,
    Kind,
    Marker,
    OrgKey,
    branch_for,
    drift_hash,
    key_text,
)
from checker.reconcile.merge_requests import (
    Adopt,
    check_adoption,
    close_merge_request,
    create_merge_request,
    update_merge_request,
)
from checker.reconcile.placeholders import placeholder
from checker.reconcile.reportset import CombinedReport
from checker.reconcile.state import GitLabState, Index, PlanContext
from checker.render import tracker
from checker.tracker.types import TrackedIssue, TrackedMergeRequest

# --------------------------------------------------------------------------- keys & hashes


# --------------------------------------------------------------------------- markers


# --------------------------------------------------------------------------- reports


# --------------------------------------------------------------------------- GitLab state


# --------------------------------------------------------------------------- actions


# --------------------------------------------------------------------------- the planner


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


@dataclass
class _Planner:
    ctx: PlanContext
    combined: CombinedReport
    specs: Mapping[OrgKey, OrgSpec]
    state: GitLabState
    index: Index
    lookups: list[Lookup] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    #: web URL (or placeholder) of each org's issue and merge request, for the dashboard
    issue_refs: dict[OrgKey, str] = field(default_factory=dict)
    mr_refs: dict[OrgKey, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    #: each org's checked adoption (or why its file cannot be edited), by _check_adoption
    adoptions: dict[OrgKey, Adoption | str] = field(default_factory=dict)
    #: asking (:func:`questions`): an unanswered question counts as answered "nothing", so
    #: that the questions its answer leads to are asked in the same round
    asking: bool = False

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def labels(self) -> tuple[str, ...]:
        return self.settings.gitlab.labels

    # -------------------------------------------------------------- shared pieces

    def _history(self, kind: Kind, key: OrgKey | None) -> Pending | Closed:
        """The newest closed thing with our marker (or none), or a pending lookup."""
        lookup = Lookup(kind, key)
        if lookup not in self.state.history:
            self.lookups.append(lookup)
            return Closed(None) if self.asking else Pending()
        return Closed(self.state.history[lookup])

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
            if self.asking:
                return True, None
            # asked in the same round: whether a person closed it, needed when none is open
            closed = Lookup(kind, key)
            if closed not in self.state.history and (kind, key) not in self.index.acks:
                self.lookups.append(closed)
            return False, None
        found = self.state.history[lookup]
        if not isinstance(found, TrackedIssue) or not found.is_open:
            return True, None
        return True, (found, Marker.parse(found.description) or Marker(kind, key))

    def _person_closed(self, kind: Kind, key: OrgKey, drift: str) -> PersonDecision:
        """Whether a person closed this org's ``kind`` thing while drift ``drift`` persisted
        (:class:`Accepted`), or not (:class:`Closed`, with the thing to follow), or whether
        GitLab must be asked first (:class:`Pending`)."""
        ack = self.index.acks.get((kind, key))
        if ack is not None and ack.drift == drift:
            self.acks.append(ack)
            return Accepted(ack)
        history = self._history(kind, key)
        if isinstance(history, Pending):
            return history
        previous = history.previous
        if previous is not None:
            marker = Marker.parse(previous.description)
            # The drift that person accepted went away since: its return is news, not the
            # same decision.
            cleared = ack is not None and ack.drift == RESOLVED and ack.iid == previous.iid
            if marker is not None and marker.drift == drift and not cleared:
                self.acks.append(Ack(kind, key, drift, previous.iid))
                return Accepted(Ack(kind, key, drift, previous.iid))
        return history

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
        # The file is found from the org key in the current specs, never from the report.
        text = self.ctx.files.get(spec.path) if spec is not None else None
        if spec is None or text is None:
            return org
        others = list(self.specs.values())
        today = _day(self.combined.checked_on)
        org, adoption = check_adoption(org, spec, text, self.settings, others, today)
        if adoption is not None:
            self.adoptions[key] = adoption
        return org

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

    def _ack_ref(self, ack: Ack) -> None:
        if ack.drift == RESOLVED:
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
        for kind in ("ops", "org"):
            actions.extend(
                close_removed_issue(key, kind, issue, marker)
                for issue, marker in self.index.issues.get((kind, key), [])
            )
        for mr, mr_marker in self.index.mrs.get(key, []):
            actions.append(
                close_merge_request(key, mr, mr_marker, "mr-removed", "the org file was removed")
            )
        return OrgPlan(org, "", tuple(actions)) if actions else None

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
        render_body: Callable[[str | None], str],
        out: list[Action],
    ) -> str | None:
        """The create / update / close decision shared by drift issues and support-ops
        requests. Returns the web URL (or placeholder) of the open issue, if there is one."""
        found = self.index.issues.get((kind, key), [])
        if found:
            out.extend(close_duplicate_issues(key, kind, found))
        if not needed:
            if found:
                out.append(close_issue(key, kind, *found[0], org, self.combined.checked_on))
            self._clear_ack(kind, key)
            return None
        want = Tracked(kind, key, org, drift, items, title)
        restore: tuple[str, ...] = ()
        ack = self.index.acks.get((kind, key))
        decided_before = ack is not None and ack.drift == drift
        if not found and not decided_before:
            answered, unlisted = self._unlisted(kind, key, title)
            if not answered:
                return placeholder(kind, key)
            if unlisted is not None:
                found = [unlisted]
                restore = tuple(lb for lb in self.labels[:1] if lb not in unlisted[0].labels)
        if found and self.asking:
            return found[0][0].web_url  # an open one: nothing to ask about it
        if found:
            issue, marker = found[0]
            project = self.state.ops_project if kind == "ops" else self.state.project
            follows_url = (
                f"{project.web_url}/-/issues/{marker.follows}"
                if marker.follows is not None and project is not None
                else None
            )
            update = update_issue(want, issue, marker, render_body(follows_url), restore)
            if update is not None:
                out.append(update)
            return issue.web_url
        match self._person_closed(kind, key, drift):
            case Pending():
                return placeholder(kind, key)
            case Accepted(ack):
                self._ack_ref(ack)
                return None
            case Closed(_) if self.asking:
                return placeholder(kind, key)
            case Closed(previous):
                body = render_body(previous.web_url if previous is not None else None)
                gitlab = self.settings.gitlab
                out.append(create_issue(want, body, previous, self.labels, gitlab.confidential))
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
                    close_merge_request(
                        key, mr, marker, "mr-resolved", "the drift is gone", org.file
                    )
                )
            return
        assert spec is not None  # text was found through it
        if found and self.asking:
            return  # an open one: nothing to ask about it
        zendesk_url, file_url = self._org_links(org)
        links = tracker.OrgLinks(zendesk_url=zendesk_url, file_url=file_url)
        body = tracker.mr_body(org, links, adoption.applied, adoption.skipped, issue_url)
        change = Adopt(key, org, adoption, spec.path, body)
        if found:
            mr = found[0][0]
            for extra, extra_marker in found[1:]:
                out.append(
                    close_merge_request(
                        key, extra, extra_marker, "mr-resolved", f"duplicate of !{mr.iid}"
                    )
                )
            self.mr_refs[key] = mr.web_url
            update = update_merge_request(change, *found[0])
            if update is not None:
                out.append(update)
            return
        match self._person_closed("adopt", key, change.marker.drift):
            case Pending():
                self.mr_refs[key] = placeholder("adopt", key)
            case Accepted(ack):
                self._ack_ref(ack)
            case Closed():
                self.mr_refs[key] = placeholder("adopt", key)
                out.append(create_merge_request(change, self.labels))

    # -------------------------------------------------------------- dashboard

    def dashboard(self) -> tuple[Action | None, str | None]:
        if not self.combined.complete:
            return None, "dashboard: not updated (the reports are partial)"
        title = self.settings.gitlab.dashboard_title
        if self.asking:  # the questions only: whether one is open unlabelled, or closed
            if self.index.dashboard is None and self._unlisted("dashboard", None, title)[1] is None:
                self._history("dashboard", None)
            return None, None
        body, summary = dashboard_body(
            self.specs,
            self.combined,
            Refs(self.issue_refs, self.mr_refs, self.acks),
            self.state.project.web_url,
        )
        acks = tuple(sorted(set(self.acks), key=lambda a: (a.kind, a.org)))
        marker = Marker("dashboard", acks=acks)
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
            return update_dashboard(current, body, summary, marker, restore), None
        match self._history("dashboard", None):
            case Pending():
                return None, None
            case Closed(TrackedIssue() as previous):
                return reopen_dashboard(previous, body, summary, marker), None
        new = NewDashboard(title, self.labels, self.settings.gitlab.confidential)
        return create_dashboard(new, body, summary, marker), None


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return dt.date.today()


def questions(
    ctx: PlanContext,
    combined: CombinedReport,
    specs: Sequence[OrgSpec],
    state: GitLabState,
) -> tuple[Lookup, ...]:
    """Every question planning will ask GitLab about what is closed or unlabelled, given the
    open listings in ``state`` (and the answers it already holds): answer them all into
    ``state.history`` (:func:`checker.reconcile.history.answer`), then plan once. Pure.

    Computed by the planner's own walk, so that it cannot ask differently from planning: each
    unanswered question counts as answered "nothing", so the questions that answer leads to
    (was the issue nobody finds open closed by a person?) are asked in the same round."""
    return make_plan(ctx, combined, specs, state, asking=True).lookups


def make_plan(
    ctx: PlanContext,
    combined: CombinedReport,
    specs: Sequence[OrgSpec],
    state: GitLabState,
    *,
    asking: bool = False,
) -> Plan:
    """Every action to take, per org, then the dashboard. ``Plan.lookups`` lists the questions
    still unanswered (none when ``state.history`` answers :func:`questions`); the actions
    that depend on one are left out (an unknown is never taken for "nothing closed")."""
    by_key = {s.key: s for s in specs}
    index = Index(state)
    planner = _Planner(ctx, combined, by_key, state, index, asking=asking)
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
    duplicates = duplicate_dashboards(index)
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
