"""Flapping: Zendesk answering well one run and badly the next (a users page that is sometimes
malformed: could not be checked) must not churn. Ten alternating drift + reconcile runs against
the loopback Zendesk and GitLab servers open no new issue and close none."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from checker.domain.models import OrgStatus
from checker.live.zendesk_api import ZendeskSource, check_credentials
from checker.load.validate import validate
from checker.reconcile.run import run_reconcile
from checker.usecases.drift import run_drift
from tests.cli_support import EMAIL, GOV_TOKEN, TOKEN
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk
from tests.reconcile_support import port_for

NORTHWIND = 360001234501
TODAY = dt.date(2026, 11, 26)


def test_ten_alternating_runs_neither_open_nor_close(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, gov = servers
    env = {
        "ZENDESK_URL": main.url,
        "ZENDESK_EMAIL": EMAIL,
        "ZENDESK_API_TOKEN": TOKEN,
        "ZENDESK_US_GOV_URL": gov.url,
        "ZENDESK_US_GOV_OAUTH_TOKEN": GOV_TOKEN,
    }
    validation = validate(repo / "config", today=TODAY)
    assert validation.ok and validation.settings is not None
    settings = validation.settings.with_url_override(env)
    credentials = check_credentials(validation.specs, settings, env)
    with FakeGitLab() as gitlab:
        gitlab.add_user(31, "mrivera")
        for path in sorted((repo / "config" / "orgs").glob("*.yaml")):
            gitlab.set_file(f"config/orgs/{path.name}", path.read_text())
        created: list[int] = []
        statuses: list[OrgStatus] = []
        for n in range(10):
            main.clear_faults()
            if n % 2:
                main.add_fault(
                    kind="malformed", path=rf"/organizations/{NORTHWIND}/users", times=-1
                )
            report = run_drift(
                validation.specs,
                settings,
                ZendeskSource(settings, credentials),
                today=TODAY,
                scope="full",
                shard=None,
            )
            [northwind] = [o for o in report.orgs if o.org_id == NORTHWIND]
            statuses.append(northwind.status)
            gitlab.reset_log()
            outcome = run_reconcile(
                settings,
                [report],
                validation.specs,
                port_for(gitlab),
                dry_run=False,
                out=lambda _line: None,
                environ={},
                sleep=lambda _s: None,
            )
            assert not outcome.incomplete, outcome.failures
            creates = [
                w for w in gitlab.writes() if w.method == "POST" and w.path.endswith("/issues")
            ]
            created.append(len(creates))
            assert all(i["state"] == "opened" for i in gitlab.issues), f"run {n} closed an issue"
        assert statuses == [OrgStatus.DRIFTED, OrgStatus.UNKNOWN] * 5
        assert created[0] > 0 and created[1:] == [0] * 9, created
        titles = [i["title"] for i in gitlab.issues]
        assert len(titles) == len(set(titles))
        assert any(str(NORTHWIND) in t for t in titles)
