"""The fake Zendesk server, driven over real HTTP by the real zenpy client and requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from zenpy import Zenpy
from zenpy.lib.exception import (
    APIException,
    RecordNotFoundException,
    TooManyValuesException,
)

from tests.fakes.zendesk_server import FakeZendesk

EMAIL = "bot@example.example"
TOKEN = "test-token"
AUTH = (f"{EMAIL}/token", TOKEN)
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk(email=EMAIL, token=TOKEN) as server:
        yield server
    assert server.errors == []


def _point_zenpy_at(monkeypatch: pytest.MonkeyPatch, server: FakeZendesk) -> None:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"{server.host}:{server.port}")


def _close(client: Any) -> None:
    client.organizations.session.close()


@pytest.fixture
def zd(fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    _point_zenpy_at(monkeypatch, fake)
    client = Zenpy(subdomain="fake", email=EMAIL, token=TOKEN, disable_cache=True)
    yield client
    _close(client)


def _get(
    server: FakeZendesk, path: str, *, timeout: float = 5, auth: Any = AUTH, **kwargs: Any
) -> requests.Response:
    return requests.get(f"{server.url}{path}", timeout=timeout, auth=auth, **kwargs)


# --------------------------------------------------------------------------- zenpy paths


def test_show_many_150_ids_in_two_calls(fake: FakeZendesk, zd: Any) -> None:
    for org_id in range(1, 201):
        fake.add_org(org_id, f"Org {org_id}", fields={"tier": "gold"})
    wanted = [*range(1, 141), *range(5001, 5011)]  # 150 ids, the last 10 do not exist
    found: list[Any] = []
    for start in range(0, len(wanted), 100):
        found.extend(zd.organizations(ids=wanted[start : start + 100]))
    assert sorted(org.id for org in found) == list(range(1, 141))
    assert fake.count(r"/organizations/show_many") == 2
    first = fake.requests[0]
    assert first.path == "/api/v2/organizations/show_many.json"
    assert len(first.query["ids"][0].split(",")) == 100
    assert found[0].organization_fields == {"tier": "gold"}

    with pytest.raises(TooManyValuesException):
        zd.organizations(ids=list(range(1, 102)))
    assert fake.requests[-1].status == 400


def test_show_many_by_external_ids_is_case_insensitive(fake: FakeZendesk) -> None:
    fake.add_org(1, "A", external_id="Ext-1")
    fake.add_org(2, "B", external_id="ext-2")
    body = _get(fake, "/api/v2/organizations/show_many.json?external_ids=EXT-1,ext-2,nope").json()
    assert [org["id"] for org in body["organizations"]] == [1, 2]
    assert body["count"] == 2
    assert body["next_page"] is None


def test_org_users_follow_three_cursor_pages(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(42, "Acme")
    fake.add_org(43, "Other")
    for user_id in range(1000, 1250):
        fake.add_user(user_id, f"User {user_id}", f"u{user_id}@acme.example", 42)
    fake.add_user(5000, "Outsider", "out@other.example", 43)
    users = list(zd.organizations.users(42))
    assert [user.id for user in users] == list(range(1000, 1250))
    assert users[0].email == "u1000@acme.example"
    assert users[0].organization_id == 42
    calls = [r for r in fake.requests if r.path == "/api/v2/organizations/42/users.json"]
    assert len(calls) == 3
    assert all(call.query["page[size]"] == ["100"] for call in calls)
    assert "page[after]" not in calls[0].query
    assert "page[after]" in calls[1].query
    assert "page[after]" in calls[2].query


def test_cursor_links_meta_and_prev(fake: FakeZendesk) -> None:
    for org_id in range(1, 6):
        fake.add_org(org_id, f"Org {org_id}")
    first = _get(fake, "/api/v2/organizations.json?page[size]=2").json()
    assert [o["id"] for o in first["organizations"]] == [1, 2]
    assert first["meta"]["has_more"] is True
    assert first["links"]["prev"] is None
    assert first["links"]["next"].startswith(fake.url + "/api/v2/organizations.json?")
    second = requests.get(first["links"]["next"], auth=AUTH, timeout=5).json()
    assert [o["id"] for o in second["organizations"]] == [3, 4]
    back = requests.get(second["links"]["prev"], auth=AUTH, timeout=5).json()
    assert [o["id"] for o in back["organizations"]] == [1, 2]
    third = requests.get(second["links"]["next"], auth=AUTH, timeout=5).json()
    assert [o["id"] for o in third["organizations"]] == [5]
    assert third["meta"]["has_more"] is False
    assert third["links"]["next"] is None
    too_big = _get(fake, "/api/v2/organizations.json?page[size]=101")
    assert too_big.status_code == 400


def test_offset_pagination_without_page_size(fake: FakeZendesk) -> None:
    for org_id in range(1, 151):
        fake.add_org(org_id, f"Org {org_id}")
    page1 = _get(fake, "/api/v2/organizations").json()
    assert len(page1["organizations"]) == 100
    assert page1["count"] == 150
    assert page1["previous_page"] is None
    page2 = requests.get(page1["next_page"], auth=AUTH, timeout=5).json()
    assert [o["id"] for o in page2["organizations"]] == list(range(101, 151))
    assert page2["next_page"] is None
    assert page2["previous_page"] is not None
    small = _get(fake, "/api/v2/organizations.json?per_page=30&page=5").json()
    assert [o["id"] for o in small["organizations"]] == list(range(121, 151))


def test_org_json_shape_and_json_suffix(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org_field("tier", "Tier")
    fake.add_org_field("region", "Region", "dropdown")
    fake.add_org(7, "Acme", notes=None, details="HQ", fields={"tier": "gold"}, external_id="x7")
    with_suffix = _get(fake, "/api/v2/organizations/7.json").json()["organization"]
    without = _get(fake, "/api/v2/organizations/7").json()["organization"]
    assert with_suffix == without
    assert with_suffix == {
        "url": f"{fake.url}/api/v2/organizations/7.json",
        "id": 7,
        "name": "Acme",
        "shared_tickets": False,
        "shared_comments": False,
        "external_id": "x7",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "domain_names": [],
        "details": "HQ",
        "notes": None,
        "group_id": None,
        "tags": [],
        "organization_fields": {"tier": "gold", "region": None},
    }
    org = zd.organizations(id=7)
    assert org.name == "Acme"
    assert org.organization_fields["tier"] == "gold"
    fields = list(zd.organization_fields())
    assert [(f.key, f.title, f.type, f.active) for f in fields] == [
        ("tier", "Tier", "text", True),
        ("region", "Region", "dropdown", True),
    ]


def test_memberships(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(1, "One")
    fake.add_org(2, "Two")
    fake.add_user(10, "A", "a@x.example", 1)
    fake.add_user(11, "B", "b@x.example", 2)
    fake.add_user(12, "C", "c@x.example", None)
    memberships = list(zd.organizations.organization_memberships(1))
    assert [(m.user_id, m.organization_id, m.default) for m in memberships] == [(10, 1, True)]
    everything = _get(fake, "/api/v2/organization_memberships.json?page[size]=100").json()
    assert [m["user_id"] for m in everything["organization_memberships"]] == [10, 11]
    assert everything["meta"]["has_more"] is False
    assert _get(fake, "/api/v2/organizations/99/organization_memberships").status_code == 404


def test_record_not_found(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(1, "One")
    with pytest.raises(RecordNotFoundException):
        zd.organizations(id=999)
    response = _get(fake, "/api/v2/organizations/999.json")
    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}
    assert _get(fake, "/api/v2/organizations/999/users.json").status_code == 404
    fake.remove_org(1)
    with pytest.raises(RecordNotFoundException):
        zd.organizations(id=1)


def test_unknown_route_and_methods(fake: FakeZendesk) -> None:
    response = _get(fake, "/api/v2/no_such_thing.json")
    assert response.status_code == 404
    assert response.json()["error"] == "InvalidEndpoint"
    posted = requests.post(f"{fake.url}/api/v2/organizations.json", json={}, auth=AUTH, timeout=5)
    assert posted.status_code == 404
    assert posted.headers["Content-Type"].startswith("application/json")


# --------------------------------------------------------------------------- auth


def test_auth_failures_and_bearer(fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add_org(1, "One")
    _point_zenpy_at(monkeypatch, fake)
    wrong = Zenpy(subdomain="fake", email=EMAIL, token="nope", disable_cache=True)
    try:
        with pytest.raises(APIException) as caught:
            wrong.organizations(id=1)
    finally:
        _close(wrong)
    assert caught.value.response.status_code == 401
    anonymous = requests.get(f"{fake.url}/api/v2/organizations/1.json", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Couldn't authenticate you"}
    assert _get(fake, "/api/v2/organizations/1", auth=(EMAIL, TOKEN)).status_code == 401

    with FakeZendesk(oauth_token="oauth-secret") as oauth_server:
        oauth_server.add_org(1, "Bearer org")
        _point_zenpy_at(monkeypatch, oauth_server)
        client = Zenpy(subdomain="fake", oauth_token="oauth-secret", disable_cache=True)
        try:
            assert client.organizations(id=1).name == "Bearer org"
        finally:
            _close(client)
        bad = requests.get(
            f"{oauth_server.url}/api/v2/organizations/1.json",
            headers={"Authorization": "Bearer other"},
            timeout=5,
        )
        assert bad.status_code == 401


# --------------------------------------------------------------------------- faults


def test_429_with_retry_after_is_retried_by_zenpy(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(42, "Acme")
    fake.add_fault(kind="429", path=r"/organizations/42", retry_after=1)
    started = time.monotonic()
    assert zd.organizations(id=42).name == "Acme"
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in fake.requests] == [429, 200]
    assert fake.rate_limited == 1


def test_429_without_retry_after_is_not_retried(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(42, "Acme")
    fake.add_fault(kind="429")
    with pytest.raises(APIException) as caught:
        zd.organizations(id=42)
    assert caught.value.response.status_code == 429
    assert "Retry-After" not in caught.value.response.headers
    assert fake.count() == 1


def test_status_faults(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(1, "One")
    fake.add_fault(kind="status", status=503, times=2)
    fake.add_fault(kind="status", status=404)
    for _ in range(2):
        with pytest.raises(APIException) as caught:
            zd.organizations(id=1)
        assert caught.value.response.status_code == 503
        assert caught.value.response.json()["error"] == "ServiceUnavailable"
    with pytest.raises(RecordNotFoundException):
        zd.organizations(id=1)
    assert zd.organizations(id=1).name == "One"
    assert [r.status for r in fake.requests] == [503, 503, 404, 200]


def test_fault_path_method_and_forever(fake: FakeZendesk) -> None:
    fake.add_org(1, "One")
    fake.add_org(2, "Two")
    fake.add_fault(kind="status", status=502, path=r"/organizations/2\b", times=-1)
    fake.add_fault(kind="status", status=500, method="POST")
    for _ in range(3):
        assert _get(fake, "/api/v2/organizations/2.json").status_code == 502
        assert _get(fake, "/api/v2/organizations/1.json").status_code == 200
    fake.clear_faults()
    assert _get(fake, "/api/v2/organizations/2.json").status_code == 200
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake.add_fault(kind="explode")


def test_slow_fault_exceeds_client_timeout(fake: FakeZendesk) -> None:
    fake.add_org(1, "One")
    fake.add_fault(kind="slow", delay=2.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(fake, "/api/v2/organizations/1.json", timeout=0.2)
    fake.add_fault(kind="slow", delay=0.3)
    started = time.monotonic()
    response = _get(fake, "/api/v2/organizations/1.json")
    assert response.status_code == 200
    assert response.json()["organization"]["name"] == "One"
    assert time.monotonic() - started >= 0.3


def test_malformed_body(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(1, "One")
    fake.add_fault(kind="malformed")
    response = _get(fake, "/api/v2/organizations/1.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    # zenpy does not raise on an unparsable 200: it hands back the raw requests.Response.
    fake.add_fault(kind="malformed")
    assert isinstance(zd.organizations(id=1), requests.Response)


def test_html_error(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org(1, "One")
    fake.add_fault(kind="html_error")
    response = _get(fake, "/api/v2/organizations/1.json")
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text
    fake.add_fault(kind="html_error", status=502)
    with pytest.raises(requests.exceptions.HTTPError):
        zd.organizations(id=1)


def test_drop_closes_connection_without_response(fake: FakeZendesk) -> None:
    fake.add_org(1, "One")
    fake.add_fault(kind="drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(fake, "/api/v2/organizations/1.json")
    assert _get(fake, "/api/v2/organizations/1.json").status_code == 200
    assert [r.status for r in fake.requests] == [0, 200]


# --------------------------------------------------------------------------- rate limit


def test_rate_limit_headers_and_limiter(fake: FakeZendesk) -> None:
    fake.add_org(1, "One")
    fake.set_rate_limit(5)
    with requests.Session() as session:
        session.auth = AUTH
        seen = []
        for _ in range(5):
            response = session.get(f"{fake.url}/api/v2/organizations/1.json", timeout=5)
            assert response.status_code == 200
            assert response.headers["X-Rate-Limit"] == "5"
            seen.append(int(response.headers["X-Rate-Limit-Remaining"]))
        assert seen == [4, 3, 2, 1, 0]
        limited = session.get(f"{fake.url}/api/v2/organizations.json", timeout=5)
    assert limited.status_code == 429
    assert limited.json()["error"] == "APIRateLimitExceeded"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    assert limited.headers["ratelimit-limit"] == "5"
    assert fake.rate_limited == 1
    assert fake.connections_accepted == 1  # keep-alive: one connection for six requests


def test_list_endpoints_carry_ratelimit_headers(fake: FakeZendesk) -> None:
    fake.add_org(1, "One")
    listing = _get(fake, "/api/v2/organizations.json?page[size]=10")
    assert listing.headers["ratelimit-limit"] == "700"
    assert listing.headers["ratelimit-remaining"] == "699"
    assert 1 <= int(listing.headers["ratelimit-reset"]) <= 60
    single = _get(fake, "/api/v2/organizations/1.json")
    assert "ratelimit-limit" not in single.headers
    assert single.headers["X-Rate-Limit-Remaining"] == "698"
    unauthenticated = requests.get(f"{fake.url}/api/v2/organizations/1.json", timeout=5)
    assert unauthenticated.headers["X-Rate-Limit-Remaining"] == "697"


def test_rate_limit_without_retry_after() -> None:
    with FakeZendesk(rate_limit=1, retry_after_on_429=False) as server:
        server.add_org(1, "One")
        assert _get(server, "/api/v2/organizations/1.json").status_code == 200
        limited = _get(server, "/api/v2/organizations/1.json")
        assert limited.status_code == 429
        assert "Retry-After" not in limited.headers
        assert server.rate_limited == 1


# --------------------------------------------------------------------------- search


def test_search_terms(fake: FakeZendesk, zd: Any) -> None:
    fake.add_org_field("tier", "Tier")
    fake.add_org(1, "Acme Corp", fields={"tier": "Gold"})
    fake.add_org(2, "Beta", fields={"tier": "silver"})
    fake.add_org(3, "Gamma", fields={"tier": ""})
    fake.add_org(4, "Acme Labs")
    fake.add_user(10, "Acme Person", "p@acme.example", 1)

    def ids(**kwargs: Any) -> list[int]:
        return [result.id for result in zd.search(type="organization", **kwargs)]

    assert ids(tier="gold") == [1]
    assert ids(tier="*") == [1, 2]
    assert ids(name="Acme Corp") == [1]
    assert ids(name="acme*") == [1, 4]
    assert ids(minus="tier:gold") == [2, 3, 4]
    body = _get(fake, "/api/v2/search.json", params={"query": "type:organization tier:silver"})
    result = body.json()["results"][0]
    assert result["result_type"] == "organization"
    assert result["id"] == 2
    users = _get(fake, "/api/v2/search.json", params={"query": "type:user email:p@acme.example"})
    assert [r["id"] for r in users.json()["results"]] == [10]


def test_search_1000_result_cap(fake: FakeZendesk, zd: Any) -> None:
    for org_id in range(1, 1051):
        fake.add_org(org_id, f"Org {org_id}", fields={"tier": "gold"})
    results = zd.search(type="organization", tier="gold")
    assert len(results) == 1050  # count is the true total
    assert len(list(results)) == 1000  # zenpy stops at the cap after the 422
    assert fake.requests[-1].status == 422
    query = {"query": "type:organization tier:gold", "per_page": "100"}
    last = _get(fake, "/api/v2/search.json", params={**query, "page": "10"})
    assert last.status_code == 200
    assert len(last.json()["results"]) == 100
    assert last.json()["next_page"] is not None
    beyond = _get(fake, "/api/v2/search.json", params={**query, "page": "11"})
    assert beyond.status_code == 422
    assert beyond.json()["error"] == "invalid"


# --------------------------------------------------------------------------- server


def test_concurrency_and_latency() -> None:
    with FakeZendesk(latency=0.3) as server:
        server.add_org(1, "One")
        statuses: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            response = _get(server, "/api/v2/organizations/1.json")
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 8
        assert server.max_in_flight >= 4  # served at once, not one after the other
        server.set_latency(0.0)
        assert _get(server, "/api/v2/organizations/1.json").status_code == 200
        assert server.errors == []


def test_state_round_trip(fake: FakeZendesk) -> None:
    fake.add_org_field("tier", "Tier")
    fake.add_org(1, "One", fields={"tier": "gold"}, external_id="e1", tags=["vip"])
    fake.add_user(10, "A", "a@x.example", 1, role="agent")
    state = fake.dump_state()
    json.dumps(state)
    with FakeZendesk() as other:
        other.load_state(state)
        assert other.dump_state() == state
        user = _get(other, "/api/v2/users/10.json").json()["user"]
        assert (user["role"], user["organization_id"], user["active"]) == ("agent", 1, True)


def test_stop_with_open_keep_alive_connection() -> None:
    server = FakeZendesk().start()
    server.add_org(1, "One")
    session = requests.Session()
    try:
        assert session.get(f"{server.url}/api/v2/organizations/1", auth=AUTH).status_code == 200
        server.stop()  # must return: pytest's timeout would catch a hang
        assert server.errors == []
    finally:
        session.close()
        server.stop()


def test_cli_serves_state_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"orgs": [{"id": 5, "name": "Five"}], "users": []}))
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.zendesk_server",
            "--state",
            str(state),
            "--port-file",
            str(port_file),
            "--token",
            "cli-token",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            deadline = time.monotonic() + 10
            while not port_file.exists() and time.monotonic() < deadline:
                assert proc.poll() is None
                time.sleep(0.05)
            port = int(port_file.read_text())
            response = requests.get(
                f"http://127.0.0.1:{port}/api/v2/organizations/5.json",
                auth=(f"{EMAIL}/token", "cli-token"),
                timeout=5,
            )
            assert response.json()["organization"]["name"] == "Five"
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert not port_file.exists()
