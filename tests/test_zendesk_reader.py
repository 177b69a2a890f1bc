"""The Zendesk reader against the loopback Zendesk server, through the real zenpy client.

Each fault shows which orgs end unknown, that none ends drifted because of it, and that the
run still finishes with every other org read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.domain.drift import build_report
from checker.domain.models import FetchFailure, FetchState, LiveOrg, OrgSpec, OrgStatus
from checker.domain.settings import DEFAULT_FIELD_KEYS, Instance, Settings
from checker.live.zendesk import (
    Credentials,
    CredentialsMissing,
    CredentialsRefused,
    Pacer,
    ZendeskReader,
    credentials_from_env,
)
from tests.fakes.zendesk_server import FakeZendesk

EMAIL, TOKEN = "bot@example.example", "s3cret-token-value"
ORGS = 150  # two show_many batches


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000) as server:
        for key in ("am_project_id", "cmp_id", "cmp_developers", "salesforce_id"):
            server.add_org_field(key, key)
        for i in range(1, ORGS + 1):
            server.add_org(
                i, f"Org {i}", notes="Static notes", fields={"am_project_id": str(1000 + i)}
            )
            for u in range(2):
                server.add_user(i * 10 + u, f"Person {u}", f"p{u}@org{i}.example", i)
        yield server


def reader(server: FakeZendesk, **kw: object) -> ZendeskReader:
    options: dict[str, object] = {
        "share": 1.0,
        "concurrency": 4,
        "timeout": 0.5,
        "retries": 2,
        "backoff": 0.01,
    }
    options.update(kw)
    instance = Instance("global", server.url, DEFAULT_FIELD_KEYS, None)
    return ZendeskReader(instance, Credentials(email=EMAIL, api_token=TOKEN), **options)  # type: ignore[arg-type]


def fetch(
    server: FakeZendesk, ids: list[int] | None = None, **kw: object
) -> dict[int, LiveOrg | FetchFailure]:
    with reader(server, **kw) as r:
        return r.fetch(ids or list(range(1, ORGS + 1)))


def states(result: dict[int, LiveOrg | FetchFailure]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {"found": set(), "missing": set(), "unknown": set()}
    for org_id, value in result.items():
        key = "found" if isinstance(value, LiveOrg) else value.state.value
        out[key].add(org_id)
    return out


def settings() -> Settings:
    return Settings(
        config_dir=Path("config"),
        instances={
            "global": Instance("global", "https://support.zendesk.example", DEFAULT_FIELD_KEYS)
        },
        default_instance="global",
    )


def spec(org_id: int) -> OrgSpec:
    """What the file says: exactly what the seeded server holds."""
    from checker.domain.models import Contact

    return OrgSpec(
        path=f"config/orgs/org-{org_id}.yaml",
        org_id=org_id,
        instance="global",
        name=f"Org {org_id}",
        collaboration_project_id=1000 + org_id,
        support_contacts=tuple(
            Contact(f"p{u}@org{org_id}.example", f"Person {u}") for u in range(2)
        ),
        notes="Static notes\n",
    )


def assert_no_false_drift(
    result: dict[int, LiveOrg | FetchFailure], expect_unknown: set[int]
) -> None:
    live = {("global", k): v for k, v in result.items()}
    report = build_report([spec(i) for i in result], live, settings(), dt.date(2026, 6, 1))
    by_status = {s: {o.org_id for o in report.orgs if o.status is s} for s in OrgStatus}
    assert by_status[OrgStatus.UNKNOWN] == expect_unknown
    assert by_status[OrgStatus.DRIFTED] == set()
    assert by_status[OrgStatus.IN_SYNC] == set(result) - expect_unknown


def test_reads_every_org_with_its_contacts_in_few_requests(zd: FakeZendesk) -> None:
    result = fetch(zd)
    assert states(result)["found"] == set(range(1, ORGS + 1))
    org = result[7]
    assert isinstance(org, LiveOrg)
    assert org.field("am_project_id") == "1007"
    assert org.has_field("cmp_id") and org.field("cmp_id") is None
    assert {c.email for c in org.contacts} == {"p0@org7.example", "p1@org7.example"}
    # two show_many calls plus one users call per org: 1.013 requests per org
    assert zd.count(r"/show_many") == 2
    assert len(zd.requests) == ORGS + 2
    assert_no_false_drift(result, set())


def test_concurrency_is_bounded(zd: FakeZendesk) -> None:
    zd.set_latency(0.02)
    fetch(zd, concurrency=3)
    assert 1 < zd.max_in_flight <= 3


def test_users_of_an_org_follow_cursor_pages(zd: FakeZendesk) -> None:
    for u in range(2, 252):
        zd.add_user(5000 + u, f"Extra {u}", f"extra{u}@org9.example", 9)
    org = fetch(zd, [9])[9]
    assert isinstance(org, LiveOrg)
    assert len(org.contacts) == 252
    assert zd.count(r"/organizations/9/users") == 3


def test_404_means_missing_and_is_confirmed_by_a_direct_read(zd: FakeZendesk) -> None:
    result = fetch(zd, [1, 2, 9999])
    assert states(result) == {"found": {1, 2}, "missing": {9999}, "unknown": set()}
    missing = result[9999]
    assert isinstance(missing, FetchFailure) and "404" in missing.message
    assert zd.count(r"/organizations/9999") == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "status", "status": 500}, "HTTP 500"),
        ({"kind": "status", "status": 502}, "HTTP 502"),
        ({"kind": "status", "status": 503}, "HTTP 503"),
        ({"kind": "429", "retry_after": 1}, "rate limited"),
        ({"kind": "429", "retry_after": None}, "rate limited"),
        ({"kind": "slow", "delay": 1.0}, "timed out"),
        ({"kind": "malformed"}, "not valid JSON"),
        ({"kind": "html_error"}, "HTTP 500"),
        ({"kind": "drop"}, "connection failed"),
    ],
    ids=lambda v: (
        v if isinstance(v, str) else v["kind"] + str(v.get("status") or v.get("retry_after") or "")
    ),
)
def test_persistent_fault_on_one_org_makes_only_that_org_unknown(
    zd: FakeZendesk, fault: dict[str, object], message: str
) -> None:
    zd.add_fault(path=r"/organizations/42/users", times=-1, **fault)  # type: ignore[arg-type]
    result = fetch(zd, list(range(1, 61)))
    assert states(result) == {"found": set(range(1, 61)) - {42}, "missing": set(), "unknown": {42}}
    failure = result[42]
    assert isinstance(failure, FetchFailure)
    assert failure.state is FetchState.UNKNOWN
    assert message in failure.message
    assert TOKEN not in failure.message
    assert_no_false_drift(result, {42})


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 503},
        {"kind": "429", "retry_after": 1},
        {"kind": "429", "retry_after": None},
        {"kind": "slow", "delay": 1.0},
        {"kind": "drop"},
    ],
    ids=lambda v: str(v["kind"]) + str(v.get("status") or ""),
)
def test_transient_fault_is_retried_and_the_org_is_read(
    zd: FakeZendesk, fault: dict[str, object]
) -> None:
    zd.add_fault(path=r"/organizations/42/users", times=1, **fault)  # type: ignore[arg-type]
    result = fetch(zd, [41, 42, 43])
    assert states(result)["found"] == {41, 42, 43}
    if fault["kind"] != "slow":  # a request the client gave up on is not always logged
        assert zd.count(r"/organizations/42/users") == 2
    assert_no_false_drift(result, set())


def test_failed_show_many_batch_makes_its_orgs_unknown_and_spares_the_other_batch(
    zd: FakeZendesk,
) -> None:
    # One worker: the first batch (ids 1-100) is asked first and gets all three 500s
    # (the first try and two retries); the second batch is then answered.
    zd.add_fault(kind="status", status=500, path=r"/show_many", times=3)
    result = fetch(zd, concurrency=1)
    got = states(result)
    assert got["unknown"] == set(range(1, 101))
    assert got["found"] == set(range(101, ORGS + 1))
    assert_no_false_drift(result, set(range(1, 101)))


def test_wrong_credentials_stop_the_fetch_and_say_why(zd: FakeZendesk) -> None:
    """A refused credential is not an org's problem: the whole fetch stops with one error
    naming the instance (the CLI makes it exit 2), before any org is marked."""
    instance = Instance("global", zd.url, DEFAULT_FIELD_KEYS, None)
    with (
        ZendeskReader(
            instance,
            Credentials(email=EMAIL, api_token="wrong-token-123"),
            share=1.0,
            retries=1,
            backoff=0.01,
        ) as r,
        pytest.raises(CredentialsRefused) as caught,
    ):
        r.fetch(list(range(1, ORGS + 1)))
    assert "401" in str(caught.value) and "'global'" in str(caught.value)
    assert "wrong-token-123" not in str(caught.value)
    assert zd.count("/users") == 0


def test_rate_limit_is_learned_from_headers_and_429s_pause_everyone(zd: FakeZendesk) -> None:
    zd.set_rate_limit(900)
    zd.add_fault(kind="429", retry_after=1, path=r"/organizations/3/users", times=1)
    with reader(zd) as r:
        result = r.fetch([1, 2, 3, 4])
        assert r.pacer.limit == 900
        assert r.pacer.rate_limited == 1
        assert r.requests_made == len(zd.requests)
    assert states(result)["found"] == {1, 2, 3, 4}


def test_pacer_spacing_and_slowdown_when_the_account_runs_low() -> None:
    pacer = Pacer(0.5, 600)
    assert pacer.interval == pytest.approx(0.2)  # 600/min x 0.5 = 5 requests a second
    pacer.observe({"X-Rate-Limit": "600", "X-Rate-Limit-Remaining": "100"})
    assert pacer.interval == pytest.approx(0.4)
    pacer.observe({"X-Rate-Limit-Remaining": "30"})
    assert pacer.interval == pytest.approx(1.0)
    pacer.observe({"X-Rate-Limit-Remaining": "500"})
    assert pacer.interval == pytest.approx(0.2)
    unknown = Pacer(1.0, None)
    assert unknown.limit == 200  # the lowest plan until a header tells
    unknown.observe({"X-Rate-Limit": "2500"})
    assert unknown.limit == 2500


def test_credentials_come_from_the_environment_only() -> None:
    s = Settings(
        config_dir=Path("config"),
        instances={
            "global": Instance("global", "https://a.zendesk.example", DEFAULT_FIELD_KEYS),
            "us-gov": Instance("us-gov", "https://b.zendesk.example", DEFAULT_FIELD_KEYS),
        },
        default_instance="global",
    )
    env = {
        "ZENDESK_EMAIL": "a@x.example",
        "ZENDESK_API_TOKEN": "t1",
        "ZENDESK_US_GOV_OAUTH_TOKEN": "o2",
    }
    assert credentials_from_env(s.instance("global"), s, env) == Credentials("a@x.example", "t1")
    assert credentials_from_env(s.instance("us-gov"), s, env) == Credentials(oauth_token="o2")
    with pytest.raises(CredentialsMissing, match="ZENDESK_EMAIL"):
        credentials_from_env(s.instance("global"), s, {"ZENDESK_API_TOKEN": "t1"})
    with pytest.raises(
        CredentialsMissing, match="ZENDESK_US_GOV_EMAIL and ZENDESK_US_GOV_API_TOKEN"
    ):
        credentials_from_env(s.instance("us-gov"), s, {})
    overridden = s.with_url_override(
        {"ZENDESK_URL": "http://127.0.0.1:9/", "ZENDESK_US_GOV_URL": "http://[::1]:8"}
    )
    assert overridden.instance("global").url == "http://127.0.0.1:9"
    assert overridden.instance("us-gov").url == "http://[::1]:8"
