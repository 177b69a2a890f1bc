"""Zendesk as it really answers: staff and suspended members, members without an email,
canonical-host links, ``key: null`` fields, text/plain 429s, rate headers of every era, answers
of the wrong shape, export search past 1,000 results, and the per-request deadline (Zendesk and
GitLab). The reader talks to the loopback fake in its real-shapes mode over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from checker.domain.drift import build_report, compare
from checker.domain.models import Contact, DriftKind, LiveContact, LiveOrg, OrgSpec, Suppression
from checker.domain.settings import DEFAULT_FIELD_KEYS, Instance, Settings
from checker.live.pacing import Pacer, rate_headers
from checker.live.transport import rebase
from checker.live.zendesk import Credentials, ZendeskReader
from checker.tracker import gitlab as gl
from tests.fakes.fault_proxy import FaultProxy, Recorder
from tests.fakes.gitlab_server import DEFAULT_TOKEN, FakeGitLab
from tests.fakes.zendesk_server import FakeZendesk

EMAIL, TOKEN = "bot@example.example", "real-token-QQQ555"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000, real_shapes=True) as server:
        for key in DEFAULT_FIELD_KEYS.values():
            server.add_org_field(key, key)
        server.add_org(1, "Org 1", notes=None, details=None, fields={"am_project_id": "101"})
        server.add_user(10, "Ana", "ana@org1.example", 1)
        server.add_user(11, "Agent Smith", "agent@support.example", 1, role="agent")
        server.add_user(12, "Admin", "admin@support.example", 1, role="admin")
        server.add_user(13, "Phone Only", None, 1)
        server.add_user(14, "Sus Pended", "sus@org1.example", 1, suspended=True)
        yield server


def reader(server: FakeZendesk, url: str | None = None, **kw: Any) -> ZendeskReader:
    options: dict[str, Any] = {"share": 1.0, "concurrency": 4, "timeout": 0.5, "retries": 1}
    options.update({"backoff": 0, **kw})
    instance = Instance("global", url or server.url, DEFAULT_FIELD_KEYS, None)
    return ZendeskReader(instance, Credentials(email=EMAIL, api_token=TOKEN), **options)


def settings(**kw: Any) -> Settings:
    inst = Instance("global", "https://support.zendesk.example", DEFAULT_FIELD_KEYS)
    return Settings(Path("config"), {"global": inst}, "global", **kw)


def spec(contacts: tuple[Contact, ...], ignore: tuple[Suppression, ...] = ()) -> OrgSpec:
    return OrgSpec(
        path="config/orgs/org-1.yaml",
        org_id=1,
        instance="global",
        name="Org 1",
        collaboration_project_id=101,
        support_contacts=contacts,
        ignore=ignore,
    )


def live(*contacts: LiveContact) -> LiveOrg:
    return LiveOrg("global", 1, "Org 1", None, None, (("am_project_id", "101"),), contacts)


# --------------------------------------------------------------------------- the drift engine

ANA = LiveContact("ana@org1.example", "Ana", 10)
AGENT = LiveContact("agent@support.example", "Agent Smith", 11, role="agent")


def test_staff_are_information_not_unexpected_contacts() -> None:
    drift = compare(
        spec((Contact("ana@org1.example", "Ana"),)), live(ANA, AGENT), settings(), TODAY
    )
    assert drift.status.value == "in_sync"
    assert [(i.field, i.actual) for i in drift.info] == [
        ("support_contacts", "agent@support.example")
    ]
    assert "staff member (agent)" in drift.info[0].message


def test_contact_roles_can_count_agents_as_contacts() -> None:
    s = settings(contact_roles=("end-user", "agent"))
    drift = compare(spec((Contact("ana@org1.example", "Ana"),)), live(ANA, AGENT), s, TODAY)
    assert [(i.kind, i.actual) for i in drift.items] == [
        (DriftKind.UNEXPECTED_IN_ZENDESK, "agent@support.example")
    ]


def test_a_declared_staff_member_is_found() -> None:
    declared = (Contact("ana@org1.example", "Ana"), Contact("agent@support.example", None))
    assert compare(spec(declared), live(ANA, AGENT), settings(), TODAY).status.value == "in_sync"


def test_a_suspended_declared_contact_is_its_own_drift() -> None:
    sus = LiveContact("ana@org1.example", "Ana", 10, suspended=True)
    drift = compare(spec((Contact("ana@org1.example", "Ana"),)), live(sus), settings(), TODAY)
    assert drift.status.value == "drifted"
    [item] = drift.items
    assert (item.kind, item.item, item.truth) == (
        DriftKind.CONTACT_SUSPENDED,
        "ana@org1.example",
        "repo",
    )


def test_a_member_without_email_is_accepted_by_a_user_ignore_entry() -> None:
    phone = LiveContact("", "Phone Only", 13)
    rule = Suppression("support_contacts", "user:13", "no email", dt.date(2027, 1, 1))
    plain = compare(
        spec((Contact("ana@org1.example", "Ana"),)), live(ANA, phone), settings(), TODAY
    )
    assert [i.item for i in plain.items] == ["user:13"]
    ignored = compare(
        spec((Contact("ana@org1.example", "Ana"),), (rule,)), live(ANA, phone), settings(), TODAY
    )
    assert ignored.status.value == "in_sync" and [i.item for i in ignored.suppressed] == ["user:13"]


# --------------------------------------------------------------------------- the reader, real shapes


def test_real_shapes_read_with_roles_suspension_and_null_emails(zd: FakeZendesk) -> None:
    with reader(zd) as r:
        org = r.fetch([1])[1]
    assert isinstance(org, LiveOrg)
    by_id = {c.user_id: c for c in org.contacts}
    assert by_id[11].role == "agent" and by_id[12].role == "admin"
    assert by_id[13].email == "" and by_id[14].suspended
    assert org.field("cmp_id") is None and org.has_field("cmp_id")  # key: null is "unset"
    assert org.notes is None


def test_canonical_host_links_are_rebased_and_credentials_stay_home(zd: FakeZendesk) -> None:
    for u in range(150):
        zd.add_user(1000 + u, f"M {u}", f"m{u}@org1.example", 1)
    with reader(zd) as r:
        org = r.fetch([1])[1]
    assert isinstance(org, LiveOrg) and len(org.contacts) == 155
    assert zd.count("/organizations/1/users") == 2  # the second page came from our host


def test_rebase_keeps_only_links_to_the_same_endpoint() -> None:
    base, path = "http://127.0.0.1:9", "/api/v2/organizations/1/users.json"
    link = "https://acme.zendesk.com/api/v2/organizations/1/users.json?page%5Bafter%5D=x"
    assert rebase(link, base, path) == (
        "http://127.0.0.1:9/api/v2/organizations/1/users.json?page%5Bafter%5D=x"
    )
    assert rebase("https://evil.example/api/v2/users/me.json", base, path) is None
    assert rebase("ftp://acme.zendesk.com/api/v2/organizations/1/users.json", base, path) is None


def test_an_account_without_field_definitions_is_unknown_naming_the_key() -> None:
    with FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000, real_shapes=True) as bare:
        bare.add_org(1, "Org 1")
        bare.add_user(10, "Ana", "ana@org1.example", 1)
        with reader(bare) as r:
            state = r.fetch([1])
    report = build_report(
        [spec((Contact("ana@org1.example", "Ana"),))],
        {("global", 1): state[1]},
        settings(),
        TODAY,
    )
    [org] = report.orgs
    assert org.status.value == "unknown" and "'am_project_id'" in (org.error or "")


def test_a_plain_text_429_is_waited_on_once_and_retried(zd: FakeZendesk) -> None:
    zd.add_fault(kind="429", path=r"/organizations/1/users", retry_after=0.05)
    with reader(zd) as r:
        org = r.fetch([1])[1]
        assert r.pacer.rate_limited == 1
    assert isinstance(org, LiveOrg)
    assert zd.rate_limited == 1


def test_rate_headers_of_every_era_and_nonsense() -> None:
    assert rate_headers({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "650"}) == (700, 650)
    assert rate_headers({"ratelimit-limit": "400", "ratelimit-remaining": "3"}) == (400, 3)
    assert rate_headers({"rate-limit-limit": "2500", "rate-limit-remaining": "9"}) == (2500, 9)
    assert rate_headers({"X-Rate-Limit": "5"}) == (None, None)  # below the lowest plan
    assert rate_headers({"X-Rate-Limit": "nan", "X-Rate-Limit-Remaining": "-1"}) == (None, None)
    assert rate_headers({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "9000"}) == (700, None)


def test_a_learned_rate_never_paces_slower_than_the_lowest_plan() -> None:
    pacer = Pacer(0.5, None)
    pacer.observe({"X-Rate-Limit": "1", "X-Rate-Limit-Remaining": "0"})
    assert pacer.interval == pytest.approx(60 / (200 * 0.5))


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        (lambda d: {"users": d["users"]}, "without its pagination envelope"),
        (lambda d: {**d, "users": [{**d["users"][0], "email": 5}]}, "email or name is not text"),
        (lambda d: {**d, "users": [{**d["users"][0], "role": None}]}, "without a role"),
        (lambda d: {"organizations": []}, "not a page of users"),
    ],
    ids=["no-envelope", "email-not-text", "no-role", "other-endpoint"],
)
def test_a_users_page_of_the_wrong_shape_is_unknown_without_its_data(
    zd: FakeZendesk, patch: Any, problem: str
) -> None:
    original = zd._r_org_users

    def spoiled(ctx: Any, match: Any) -> object:
        return patch(original(ctx, match))

    zd._routes = [(p, spoiled if h == original else h, lst) for p, h, lst in zd._routes]
    with reader(zd) as r:
        failure = r.fetch([1])[1]
    assert not isinstance(failure, LiveOrg)
    assert failure.state.value == "unknown" and problem in failure.message
    assert "org1.example" not in failure.message


def test_a_listing_beyond_the_page_limit_is_unknown(zd: FakeZendesk) -> None:
    for u in range(150):
        zd.add_user(1000 + u, f"M {u}", f"m{u}@org1.example", 1)
    with reader(zd, max_user_pages=1) as r:
        failure = r.fetch([1])[1]
    assert not isinstance(failure, LiveOrg) and "more than 1 pages" in failure.message


def test_a_wrong_url_names_the_url_and_what_to_check(zd: FakeZendesk) -> None:
    with reader(zd, url=zd.url + "/not-zendesk") as r:
        failure = r.fetch([1])[1]
    assert not isinstance(failure, LiveOrg)
    assert (
        zd.url + "/not-zendesk" in failure.message and "check the instance URL" in failure.message
    )


def test_export_search_reads_past_the_1000_cap_of_plain_search(zd: FakeZendesk) -> None:
    for i in range(2, 1052):
        zd.add_org(i, f"Widget {i}", tags=["widget"])
    with reader(zd) as r:
        ids = r.list_org_ids(query="tags:widget")
    assert sorted(ids) == list(range(2, 1052))
    plain = requests.get(
        zd.url + "/api/v2/search.json",
        params={"query": "tags:widget type:organization", "page": "11"},
        auth=(f"{EMAIL}/token", TOKEN),
        timeout=10,
    )
    assert plain.status_code == 422


# --------------------------------------------------------------------------- GitLab's deadline


def test_gitlab_requests_have_a_whole_request_deadline() -> None:
    """A trickled answer is cut off at the deadline and retried (python-gitlab's transient
    retry) instead of holding the run: the second attempt answers."""

    def trickle_first(name: str, attempt: int) -> tuple[str, int] | None:
        return ("trickle", 0) if attempt == 0 else None

    with FakeGitLab() as gitlab_server, Recorder() as foreign:
        with FaultProxy(gitlab_server.url, trickle_first, foreign=foreign.url) as proxy:
            config = gl.GitLabConfig(url=proxy.url, project="7", token=DEFAULT_TOKEN)
            info = gl.connect(config, timeout=0.3).info()
            assert info.path == "support/zendesk-orgs"
            assert max(proxy.attempts.values()) == 2  # the trickled attempt was cut off
        assert foreign.seen == []


def test_settings_refuse_userinfo_in_an_instance_url(tmp_path: Path) -> None:
    from checker.load.settings import load_settings

    cfg = tmp_path / "config"
    (cfg / "orgs").mkdir(parents=True)
    (cfg / "checker.yaml").write_text(
        "schema_version: 1\ninstances:\n  global:\n    url: https://me:pw@acme.zendesk.example\n"
    )
    found, problems = load_settings(cfg)
    assert found is None
    assert [(p.rule, p.line) for p in problems] == [("invalid-value", 4)], problems


def test_the_fake_speaks_real_shapes(zd: FakeZendesk) -> None:
    """The real-shapes mode itself: canonical-host links, a next link on the last page, a prev
    link on the first, null emails, roles, suspension, ``key: null`` fields, text/plain 429s."""
    auth = (f"{EMAIL}/token", TOKEN)
    page = requests.get(
        zd.url + "/api/v2/organizations/1/users.json", params={"page[size]": "100"}, auth=auth,
        timeout=10,
    ).json()  # fmt: skip
    assert page["meta"]["has_more"] is False
    assert page["links"]["next"].startswith("https://acme.zendesk.example/api/v2/organizations/1/")
    assert page["links"]["prev"] is not None
    users = {u["id"]: u for u in page["users"]}
    assert users[13]["email"] is None and users[14]["suspended"] is True
    assert users[11]["role"] == "agent"
    org = requests.get(zd.url + "/api/v2/organizations/1.json", auth=auth, timeout=10).json()
    assert org["organization"]["organization_fields"]["cmp_id"] is None
    zd.add_fault(kind="429", retry_after=93)
    limited = requests.get(zd.url + "/api/v2/organizations/1.json", auth=auth, timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "93"
    assert limited.headers["Content-Type"].startswith("text/plain")


def test_the_deadline_holds_through_an_http_proxy(zd: FakeZendesk) -> None:
    """HTTPS_PROXY-style forwarding (the fault proxy also forwards absolute-form requests): the
    first, trickled answer is cut off at the deadline and the retry reads the org."""

    def trickle_first(name: str, attempt: int) -> tuple[str, int] | None:
        return ("trickle", 0) if name == "users:1:p1" and attempt == 0 else None

    with Recorder() as foreign, FaultProxy(zd.url, trickle_first, foreign=foreign.url) as proxy:
        with reader(zd, timeout=0.3) as r:
            r.session.proxies = {"http": proxy.url}
            r.session.trust_env = False
            org = r.fetch([1])[1]
        assert isinstance(org, LiveOrg) and len(org.contacts) == 5
        assert proxy.attempts["users:1:p1"] == 2


def test_a_suspended_contact_becomes_a_support_ops_request() -> None:
    from checker.render.tracker import support_request

    sus = LiveContact("ana@org1.example", "Ana", 10, suspended=True)
    drift = compare(spec((Contact("ana@org1.example", "Ana"),)), live(sus), settings(), TODAY)
    request = support_request(drift, "https://support.zendesk.example/agent/organizations/1")
    assert request is not None
    assert "This user is suspended and should be unsuspended" in request
    assert "ana@org1.example" in request
