"""Helpers for the reconcile tests: org files in a config folder, reports built from the
dataclasses, and a run of ``run_reconcile`` against the fake GitLab server."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from checker.domain.models import DriftItem, DriftKind, DriftReport, OrgDrift, OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.load.settings import load_settings
from checker.load.validate import validate
from checker.reconcile.reportset import fingerprint
from checker.reconcile.run import ReconcileOutcome, run_reconcile
from checker.tracker.gitlab import GitLabConfig, GitLabProject, connect
from tests.fakes.gitlab_server import FakeGitLab

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 1, 15)

ORG_TEMPLATE = """\
# {name}: generated for a test.
schema_version: 1
name: {name}
zendesk:
  org_id: {org_id}
csm: {csm}
collaboration_project:
  id: {project_id}  # the AM ID
support_contacts:
  - name: Ann Example
    email: ann@{domain}.example
notes: |
  Static note for {name}.
"""


def write_org(cfg: Path, org_id: int, name: str | None = None, csm: str = "akim") -> Path:
    name = name or f"Org {org_id}"
    path = cfg / "orgs" / f"org-{org_id}.yaml"
    path.write_text(
        ORG_TEMPLATE.format(
            name=name, org_id=org_id, csm=csm, project_id=1000 + org_id, domain=f"org{org_id}"
        ),
        encoding="utf-8",
    )
    return path


def copy_repo_orgs(cfg: Path) -> None:
    for p in sorted((ROOT / "examples" / "config" / "orgs").glob("*.yaml")):
        shutil.copy(p, cfg / "orgs" / p.name)


def load(cfg: Path) -> tuple[Settings, list[OrgSpec]]:
    settings, findings = load_settings(cfg)
    assert settings is not None, findings
    result = validate(cfg, today=TODAY)
    assert result.ok, result.errors
    return settings, sorted(result.specs, key=lambda s: s.key)


def changed(field_name: str, expected: object, actual: object, truth: str = "repo") -> DriftItem:
    return DriftItem(field_name, DriftKind.CHANGED, expected, actual, truth)  # type: ignore[arg-type]


def am_id(spec: OrgSpec, actual: int = 1) -> DriftItem:
    return changed("collaboration_project.id", spec.collaboration_project_id, actual)  # type: ignore[arg-type]


def extra_contact(email: str) -> DriftItem:
    return DriftItem(
        "support_contacts", DriftKind.UNEXPECTED_IN_ZENDESK, None, email, "zendesk", email
    )


def org_drift(
    spec: OrgSpec,
    status: OrgStatus = OrgStatus.DRIFTED,
    items: Iterable[DriftItem] = (),
    *,
    suppressed: Iterable[DriftItem] = (),
    error: str | None = None,
) -> OrgDrift:
    return OrgDrift(
        org_id=spec.org_id,
        instance=spec.instance,
        file=spec.path,
        name=spec.name,
        status=status,
        items=tuple(items),
        suppressed=tuple(suppressed),
        error=error,
        csm=spec.csm,
        collaboration_project_url=spec.collaboration_project_url,
    )


def report(
    orgs: Sequence[OrgDrift], *, scope: str = "full", shard: str | None = None
) -> DriftReport:
    return DriftReport(
        orgs=tuple(orgs), scope=scope, shard=shard, checked_on=TODAY.isoformat(), source="live"
    )


def fingerprinted(r: DriftReport, settings: Settings, specs: Sequence[OrgSpec]) -> DriftReport:
    """``r`` with the fingerprint ``checker drift`` would give it (of the orgs it reports)."""
    keys = {(o.instance, o.org_id) for o in r.orgs}
    return replace(r, fingerprint=fingerprint(settings, [s for s in specs if s.key in keys]))


def port_for(server: FakeGitLab, token: str | None = None) -> GitLabProject:
    config = GitLabConfig(server.url, str(server.project_id), token or server.token)
    return connect(config, timeout=5)


@dataclass
class Runner:
    """Runs reconcile against ``server`` and keeps what it printed."""

    server: FakeGitLab
    settings: Settings
    specs: list[OrgSpec]
    lines: list[str] = field(default_factory=list)

    def __call__(
        self,
        *reports: DriftReport,
        dry_run: bool = False,
        specs: Sequence[OrgSpec] | None = None,
        settings: Settings | None = None,
        port: GitLabProject | None = None,
    ) -> ReconcileOutcome:
        self.lines.clear()
        return run_reconcile(
            settings or self.settings,
            list(reports),
            self.specs if specs is None else specs,
            port or port_for(self.server),
            dry_run=dry_run,
            out=self.lines.append,
            environ={},
            sleep=lambda _s: None,
        )


def seed_repo(server: FakeGitLab, cfg: Path) -> None:
    """Put the org files on the fake server's default branch, where GitLab would have them."""
    for path in sorted((cfg / "orgs").glob("*.yaml")):
        server.set_file(f"config/orgs/{path.name}", path.read_text(encoding="utf-8"))


def with_ops(settings: Settings, project: str) -> Settings:
    return replace(settings, gitlab=replace(settings.gitlab, support_ops_project=project))


def drift_issues(server: FakeGitLab, state: str | None = "opened") -> list[dict[str, object]]:
    return [
        i
        for i in server.issues
        if "kind=org " in str(i["description"]).split("\n", 1)[0]
        and (state is None or i["state"] == state)
    ]


def notes_of(issue: dict[str, object]) -> list[str]:
    return [str(n["body"]) for n in issue["notes"]]  # type: ignore[attr-defined]
