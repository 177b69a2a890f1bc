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
:mod:`.dashboard`); the planner's methods decide one org's things each and return what they
decided (:class:`Learnt`: actions, questions, people's decisions, the dashboard's references),
which :func:`make_plan` adds up. Over 400 lines: the walk over one org's issue, support-ops
request and merge request is one piece, and reads best in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

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
from checker.reconcile.decisions import (
    NOTHING,
    Accepted,
    Closed,
    Learnt,
    Pending,
    PersonDecision,
    ack_ref,
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


@dataclass(frozen=True, slots=True)
class _Planner:
    """What planning reads (never changes): each method decides one thing and returns it."""

    ctx: PlanContext
    combined: CombinedReport
    specs: Mapping[OrgKey, OrgSpec]
    state: GitLabState
    index: Index
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

    def _history(self, kind: Kind, key: OrgKey | None) -> tuple[Pending | Closed, Learnt]:
        """The newest closed thing with our marker (or none), or a pending lookup."""
        lookup = Lookup(kind, key)
        if lookup not in self.state.history:
            asked = Learnt(lookups=(lookup,))
            return (Closed(None) if self.asking else Pending()), asked
        return Closed(self.state.history[lookup]), NOTHING

    def _unlisted(
        self, kind: Kind, key: OrgKey | None, title: str
    ) -> tuple[bool, tuple[TrackedIssue, Marker] | None, Learnt]:
        """An open issue of ``kind`` for ``key`` that the labelled listing did not show as
        ours: a person removed its label, or its marker (then it is known by its title).
        (answered, (issue, marker) or None, questions); unanswered: a lookup is pending."""
        labelled = self.index.by_title.get(title)
        if labelled is not None:
            return True, (labelled, Marker(kind, key)), NOTHING
        lookup = Lookup(kind, key, opened=True, title=title)
        if lookup not in self.state.history:
            if self.asking:
                return True, None, Learnt(lookups=(lookup,))
            # asked in the same round: whether a person closed it, needed when none is open
            closed = Lookup(kind, key)
            also = closed not in self.state.history and (kind, key) not in self.index.acks
            return False, None, Learnt(lookups=(lookup, closed) if also else (lookup,))
        found = self.state.history[lookup]
        if not isinstance(found, TrackedIssue) or not found.is_open:
            return True, None, NOTHING
        return True, (found, Marker.parse(found.description) or Marker(kind, key)), NOTHING

    def _person_closed(self, kind: Kind, key: OrgKey, drift: str) -> tuple[PersonDecision, Learnt]:
        """Whether a person closed this org's ``kind`` thing while drift ``drift`` persisted
        (:class:`Accepted`), or not (:class:`Closed`, with the thing to follow), or whether
        GitLab must be asked first (:class:`Pending`)."""
        ack = self.index.acks.get((kind, key))
        if ack is not None and ack.drift == drift:
            return Accepted(ack), Learnt(acks=(ack,))
        history, asked = self._history(kind, key)
        if isinstance(history, Pending):
            return history, asked
        previous = history.previous
        if previous is not None:
            marker = Marker.parse(previous.description)
            # The drift that person accepted went away since: its return is news, not the
            # same decision.
            cleared = ack is not None and ack.drift == RESOLVED and ack.iid == previous.iid
            if marker is not None and marker.drift == drift and not cleared:
                accepted = Ack(kind, key, drift, previous.iid)
                return Accepted(accepted), asked + Learnt(acks=(accepted,))
        return history, asked

    def _org_links(self, org: OrgDrift) -> tuple[str, str]:
        instance = self.settings.instances.get(org.instance)
        zendesk_url = (
            instance.agent_org_url(org.org_id) if instance is not None else org.zendesk_url or ""
        )
        spec = self.specs.get((org.instance, org.org_id))
        return zendesk_url, self.ctx.links.file(spec.path if spec else org.file)

    # -------------------------------------------------------------- per org

    def org_plan(self, key: OrgKey, org: OrgDrift | None) -> Learnt:
        """Everything decided for one org: its actions (in the order they run) and the rest."""
        if org is None:
            return self._absent(key)
        if org.status is OrgStatus.UNKNOWN:
            # Could not be checked: whatever is open stays exactly as it is.
            return self._remember_refs(key)
        org, adoption = self._check_adoption(key, org)
        ops_url, ops = self._support_ops(key, org)
        issue_url, issue = self._drift_issue(key, org, ops_url)
        return ops + issue + self._merge_request(key, org, adoption, issue_url)

    def _check_adoption(self, key: OrgKey, org: OrgDrift) -> tuple[OrgDrift, Adoption | str | None]:
        """Adopt the Zendesk-owned items as far as the file stays valid (``checker validate``
        with the same settings, across files). Items that would make it invalid stay on the
        org's issue as repo-owned drift, with the reason."""
        spec = self.specs.get(key)
        # The file is found from the org key in the current specs, never from the report.
        text = self.ctx.files.get(spec.path) if spec is not None else None
        if spec is None or text is None:
            return org, None
        others = list(self.specs.values())
        today = _day(self.combined.checked_on)
        return check_adoption(org, spec, text, self.settings, others, today)

    def _remember_refs(self, key: OrgKey) -> Learnt:
        """An org left as it is: the dashboard still links what is open, or what a person
        closed (and their decisions are kept)."""
        learnt = Learnt(
            issue_ref=next((i.web_url for i, _ in self.index.issues.get(("org", key), [])), None),
            mr_ref=next((mr.web_url for mr, _ in self.index.mrs.get(key, [])), None),
        )
        for kind in ("org", "adopt"):
            ack = self.index.acks.get((kind, key))
            if ack is not None:
                learnt += Learnt(acks=(ack,)) + ack_ref(ack, self.state.project.web_url)
        return learnt

    def _clear_ack(self, kind: Kind, key: OrgKey) -> Learnt:
        """The drift a person accepted is gone: remember that, so that its return opens a
        fresh issue instead of counting as the old decision."""
        ack = self.index.acks.get((kind, key))
        return Learnt(acks=(replace(ack, drift=RESOLVED),)) if ack is not None else NOTHING

    def _absent(self, key: OrgKey) -> Learnt:
        """An org no report covers: closed only when the file is gone and the set is complete."""
        removed = self.combined.complete and key not in self.specs
        if not removed:
            return self._remember_refs(key)
        actions: list[Action] = []
        for kind in ("ops", "org"):
            actions.extend(
                close_removed_issue(key, kind, issue, marker)
                for issue, marker in self.index.issues.get((kind, key), [])
            )
        actions.extend(
            close_merge_request(key, mr, mr_marker, "mr-removed", "the org file was removed")
            for mr, mr_marker in self.index.mrs.get(key, [])
        )
        return Learnt(actions=tuple(actions))

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
    ) -> tuple[str | None, Learnt]:
        """The create / update / close decision shared by drift issues and support-ops
        requests: the web URL (or placeholder) of the open issue, if there is one, and what
        was decided."""
        found = self.index.issues.get((kind, key), [])
        learnt = Learnt(actions=close_duplicate_issues(key, kind, found) if found else ())
        if not needed:
            if found:
                close = close_issue(key, kind, *found[0], org, self.combined.checked_on)
                learnt += Learnt(actions=(close,))
            return None, learnt + self._clear_ack(kind, key)
        want = Tracked(kind, key, org, drift, items, title)
        url, wanted = self._wanted_issue(want, found, render_body)
        return url, learnt + wanted

    def _wanted_issue(
        self,
        want: Tracked,
        found: Sequence[tuple[TrackedIssue, Marker]],
        render_body: Callable[[str | None], str],
    ) -> tuple[str | None, Learnt]:
        """An issue is wanted: the open one brought up to date, or one created (unless a
        person closed it while this drift persisted, or GitLab must be asked first)."""
        kind, key = want.kind, want.key
        restore: tuple[str, ...] = ()
        ack = self.index.acks.get((kind, key))
        asked = NOTHING
        if not found and not (ack is not None and ack.drift == want.drift):
            answered, unlisted, asked = self._unlisted(kind, key, want.title)
            if not answered:
                return placeholder(kind, key), asked
            if unlisted is not None:
                found = [unlisted]
                restore = tuple(lb for lb in self.labels[:1] if lb not in unlisted[0].labels)
        if found and self.asking:
            return found[0][0].web_url, asked  # an open one: nothing to ask about it
        if found:
            issue, marker = found[0]
            project = self.state.ops_project if kind == "ops" else self.state.project
            follows_url = (
                f"{project.web_url}/-/issues/{marker.follows}"
                if marker.follows is not None and project is not None
                else None
            )
            update = update_issue(want, issue, marker, render_body(follows_url), restore)
            return issue.web_url, asked + Learnt(actions=(update,) if update else ())
        decision, learnt = self._person_closed(kind, key, want.drift)
        learnt = asked + learnt
        match decision:
            case Pending():
                return placeholder(kind, key), learnt
            case Accepted(ack):
                return None, learnt + ack_ref(ack, self.state.project.web_url)
            case Closed(_) if self.asking:
                return placeholder(kind, key), learnt
            case Closed(previous):
                body = render_body(previous.web_url if previous is not None else None)
                gitlab = self.settings.gitlab
                create = create_issue(want, body, previous, self.labels, gitlab.confidential)
                return placeholder(kind, key), learnt + Learnt(actions=(create,))

    def _support_ops(self, key: OrgKey, org: OrgDrift) -> tuple[str | None, Learnt]:
        if self.state.ops_project is None:
            return None, NOTHING
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
        )

    def _drift_issue(
        self, key: OrgKey, org: OrgDrift, ops_url: str | None
    ) -> tuple[str | None, Learnt]:
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

        url, learnt = self._tracked_issue(
            kind="org",
            key=key,
            org=org,
            needed=org.status in (OrgStatus.DRIFTED, OrgStatus.MISSING),
            drift=drift_hash(org.status, org.items),
            items=org.items,
            title=tracker.issue_title(org),
            render_body=render_body,
        )
        # the open (or new) issue is the dashboard's link, before a closed one's
        return url, Learnt(issue_ref=url) + learnt

    def _merge_request(
        self,
        key: OrgKey,
        org: OrgDrift,
        checked: Adoption | str | None,
        issue_url: str | None,
    ) -> Learnt:
        found = self.index.mrs.get(key, [])
        spec = self.specs.get(key)
        if isinstance(checked, str):
            return Learnt(notices=(f"{key_text(key)}: no merge request: {checked}",))
        adoption = checked if org.status is OrgStatus.DRIFTED else None
        if adoption is None or not adoption.changed:
            closes = tuple(
                close_merge_request(key, mr, marker, "mr-resolved", "the drift is gone", org.file)
                for mr, marker in found
            )
            return self._clear_ack("adopt", key) + Learnt(actions=closes)
        assert spec is not None  # text was found through it
        if found and self.asking:
            return NOTHING  # an open one: nothing to ask about it
        zendesk_url, file_url = self._org_links(org)
        links = tracker.OrgLinks(zendesk_url=zendesk_url, file_url=file_url)
        body = tracker.mr_body(org, links, adoption.applied, adoption.skipped, issue_url)
        change = Adopt(key, org, adoption, spec.path, body)
        if found:
            mr = found[0][0]
            duplicates = tuple(
                close_merge_request(key, extra, marker, "mr-resolved", f"duplicate of !{mr.iid}")
                for extra, marker in found[1:]
            )
            update = update_merge_request(change, *found[0])
            return Learnt(actions=duplicates + ((update,) if update else ()), mr_ref=mr.web_url)
        decision, learnt = self._person_closed("adopt", key, change.marker.drift)
        match decision:
            case Pending():
                return learnt + Learnt(mr_ref=placeholder("adopt", key))
            case Accepted(ack):
                return learnt + ack_ref(ack, self.state.project.web_url)
            case Closed():
                create = create_merge_request(change, self.labels)
                return learnt + Learnt(actions=(create,), mr_ref=placeholder("adopt", key))

    # -------------------------------------------------------------- dashboard

    def dashboard(self, refs: Refs) -> tuple[Action | None, Learnt]:
        """The dashboard's action from what the walk over the orgs learnt (``refs``: each
        org's references and people's decisions), with the questions it asks or a notice."""
        if not self.combined.complete:
            return None, Learnt(notices=("dashboard: not updated (the reports are partial)",))
        title = self.settings.gitlab.dashboard_title
        current = self.index.dashboard
        restore: tuple[str, ...] = ()
        asked = NOTHING
        previous: TrackedIssue | TrackedMergeRequest | None = None
        if current is None:
            answered, unlisted, asked = self._unlisted("dashboard", None, title)
            if not answered:
                return None, asked
            if unlisted is not None:
                current = unlisted
                restore = tuple(lb for lb in self.labels[:1] if lb not in unlisted[0].labels)
        if self.asking and current is not None:
            return None, asked  # the questions only
        if current is None:
            history, more = self._history("dashboard", None)
            asked += more
            if isinstance(history, Pending) or self.asking:
                return None, asked
            previous = history.previous
        body, summary = dashboard_body(self.specs, self.combined, refs, self.state.project.web_url)
        acks = tuple(sorted(set(refs.acks), key=lambda a: (a.kind, a.org)))
        marker = Marker("dashboard", acks=acks)
        if current is not None:
            return update_dashboard(current, body, summary, marker, restore), asked
        if isinstance(previous, TrackedIssue):
            return reopen_dashboard(previous, body, summary, marker), asked
        new = NewDashboard(title, self.labels, self.settings.gitlab.confidential)
        return create_dashboard(new, body, summary, marker), asked


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


def _keys(combined: CombinedReport, specs: Mapping[OrgKey, OrgSpec], index: Index) -> list[OrgKey]:
    """Every org to decide: reported, declared, or with something of ours open."""
    keys: set[OrgKey] = set(combined.orgs) | set(specs)
    keys.update(k for kind, k in index.issues if kind in ("org", "ops") and k is not None)
    keys.update(index.mrs)
    return sorted(keys)


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
    plans: list[OrgPlan] = []
    walked = NOTHING
    issue_refs: dict[OrgKey, str] = {}
    mr_refs: dict[OrgKey, str] = {}
    for key in _keys(combined, by_key, index):
        org = combined.orgs.get(key)
        learnt = planner.org_plan(key, org)
        if learnt.actions:
            plans.append(OrgPlan(key_text(key), org.name if org else "", learnt.actions))
        if learnt.issue_ref is not None:
            issue_refs[key] = learnt.issue_ref
        if learnt.mr_ref is not None:
            mr_refs[key] = learnt.mr_ref
        walked += replace(learnt, actions=(), issue_ref=None, mr_ref=None)
    dashboard, learnt = planner.dashboard(Refs(issue_refs, mr_refs, list(walked.acks)))
    walked += learnt
    duplicates = duplicate_dashboards(index)
    if duplicates:
        plans.append(OrgPlan("dashboard", "", duplicates))
    notices = list(walked.notices)
    if not combined.complete:
        notices.append(
            "partial reports"
            + (f" ({combined.partial_reason})" if combined.partial_reason else "")
            + ": nothing is closed for orgs they do not cover"
        )
    return Plan(tuple(plans), dashboard, tuple(dict.fromkeys(walked.lookups)), tuple(notices))
