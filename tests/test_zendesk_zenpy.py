"""zenpy over the guarded session: zenpy builds its own URLs and follows links, the session is
the single place that decides where a request goes. Real zenpy, real requests, real HTTP to the
loopback fake."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from checker.domain.models import LiveOrg
from checker.domain.settings import DEFAULT_FIELD_KEYS, Instance
from checker.live.transport import ForeignOrigin, rebase
from checker.live.zendesk import Credentials, ZendeskReader
from tests.fakes.fault_proxy import Recorder
from tests.test_review_zendesk import QuirkyZendesk

EMAIL, TOKEN = "bot@example.example", "zenpy-token-ABC321"


@pytest.fixture
def zd() -> Iterator[QuirkyZendesk]:
    with QuirkyZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000, real_shapes=True) as server:
        for key in DEFAULT_FIELD_KEYS.values():
            server.add_org_field(key, key)
        for i in (1, 2):
            server.add_org(i, f"Org {i}", fields={"am_project_id": str(100 + i)})
            server.add_user(i * 10, f"Person {i}", f"p@org{i}.example", i)
        yield server


def reader(url: str, **kw: Any) -> ZendeskReader:
    options: dict[str, Any] = {"share": 1.0, "concurrency": 2, "timeout": 2, "retries": 0}
    instance = Instance("global", url, DEFAULT_FIELD_KEYS, None)
    return ZendeskReader(instance, Credentials(email=EMAIL, api_token=TOKEN), **options, **kw)


def test_a_host_zenpy_cannot_name_is_read_through_a_stand_in(zd: QuirkyZendesk) -> None:
    """zenpy only builds ``https://<subdomain>.<domain>``; ``localhost`` has no such form, so
    zenpy addresses a stand-in and the session re-bases every request onto the instance URL,
    without the process-wide ZENPY_FORCE_* variables."""
    with reader(f"http://localhost:{zd.port}") as r:
        result = r.fetch([1, 2])
    assert all(isinstance(result[i], LiveOrg) for i in (1, 2)), result
    assert [c.email for c in result[1].contacts] == ["p@org1.example"]  # type: ignore[union-attr]
    assert zd.count("/show_many") == 1 and zd.count("/organizations/2/users") == 1
    assert "ZENPY_FORCE_NETLOC" not in os.environ and "ZENPY_FORCE_SCHEME" not in os.environ


def test_a_request_outside_any_listing_is_refused_before_it_is_sent(zd: QuirkyZendesk) -> None:
    with reader(zd.url) as r, pytest.raises(ForeignOrigin):
        r.session.get(zd.url + "/api/v2/users/me.json", timeout=2)
    assert zd.auth_seen == []


def test_a_redirect_is_never_followed_and_the_org_is_unknown(zd: QuirkyZendesk) -> None:
    with Recorder() as foreign:
        location = foreign.url + "/api/v2/organizations/1/users.json"
        zd.hook = lambda path, query: (
            (302, {}, {"Location": location}) if "/organizations/1/users" in path else None
        )
        with reader(zd.url) as r:
            result = r.fetch([1, 2])
        assert foreign.seen == []
    assert isinstance(result[2], LiveOrg)
    failure = result[1]
    assert not isinstance(failure, LiveOrg) and failure.state.value == "unknown"
    assert "HTTP 302" in failure.message


def test_a_path_prefix_of_the_instance_url_is_kept_for_every_page() -> None:
    """zenpy's URLs and Zendesk's links both start at ``/api/v2``; an instance behind a path
    prefix gets the prefix on the first page and on every next link alike."""
    path = "/api/v2/organizations/1/users.json"
    link = "https://acme.zendesk.com/api/v2/organizations/1/users.json?page%5Bafter%5D=x"
    assert rebase(link, "http://127.0.0.1:9/zd/", path) == (
        "http://127.0.0.1:9/zd/api/v2/organizations/1/users.json?page%5Bafter%5D=x"
    )


def test_a_show_many_that_says_more_pages_follow_proves_nothing(zd: QuirkyZendesk) -> None:
    """One ``show_many`` answers up to 100 ids; one that names a next page is not followed
    (zenpy would) and proves nothing: each org is then read on its own."""
    batch = {
        "organizations": [],
        "next_page": zd.url + "/api/v2/organizations/show_many.json?ids=1,2&page=2",
        "count": 0,
    }
    zd.hook = lambda path, query: (200, batch) if "show_many" in path else None
    with reader(zd.url) as r:
        result = r.fetch([1, 2])
    assert all(isinstance(result[i], LiveOrg) for i in (1, 2)), result
    assert zd.count("/show_many") == 1 and zd.count(r"/organizations/1\.json") == 1
