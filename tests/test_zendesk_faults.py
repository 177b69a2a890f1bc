"""The reader under a hostile network: random fault schedules through a loopback fault proxy.

The invariant, for every schedule: each org's verdict is the verdict of a fault-free run or
*unknown*; no request (so no credential) reaches a foreign origin; and the run is bounded (every
request label is tried at most as often as the retry policy allows, each attempt bounded by the
deadline). Schedules are drawn by hypothesis, derandomized, a bounded number of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.domain.drift import build_report
from checker.domain.models import Contact, OrgSpec
from checker.domain.settings import DEFAULT_FIELD_KEYS, Instance, Settings
from checker.live.zendesk import Credentials, ZendeskReader
from tests.fakes.fault_proxy import FAULTS, FaultProxy, Recorder
from tests.fakes.zendesk_server import FakeZendesk

EMAIL, TOKEN = "bot@example.example", "fault-token-XYZ987"
RETRIES, BODY_RETRIES = 1, 1
LABELS = (
    "show_many",
    "org:5",
    "users:1:p1",
    "users:2:p1",
    "users:3:p1",
    "users:3:p2",
    "users:4:p1",
)
SCHEDULES = 40


@dataclass
class World:
    upstream: FakeZendesk
    foreign: Recorder
    proxy: FaultProxy


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with (
        FakeZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000, real_shapes=True) as up,
        Recorder() as foreign,
    ):
        for key in DEFAULT_FIELD_KEYS.values():
            up.add_org_field(key, key)
        for i in (1, 2, 3, 4):
            up.add_org(i, f"Org {i}", notes="Notes", fields={"am_project_id": str(100 + i)})
            up.add_user(i * 1000, f"Person {i}", f"p@org{i}.example", i, suspended=i == 4)
        up.add_org(2, "Org 2", notes="Notes", fields={"am_project_id": "999"})  # drifted
        up.add_user(1001, "Agent", "agent@support.example", 1, role="agent")  # staff
        for u in range(1, 150):  # org 3: two pages of users
            up.add_user(3000 + u, f"Member {u}", f"m{u}@org3.example", 3)
        with FaultProxy(up.url, lambda name, attempt: None, foreign=foreign.url) as proxy:
            yield World(up, foreign, proxy)


def specs() -> list[OrgSpec]:
    def spec(i: int, extra: tuple[Contact, ...] = ()) -> OrgSpec:
        return OrgSpec(
            path=f"config/orgs/org-{i}.yaml",
            org_id=i,
            instance="global",
            name=f"Org {i}",
            collaboration_project_id=100 + i,
            support_contacts=(Contact(f"p@org{i}.example", f"Person {i}"), *extra),
            notes="Notes\n",
        )

    members = tuple(Contact(f"m{u}@org3.example", f"Member {u}") for u in range(1, 150))
    return [spec(1), spec(2), spec(3, members), spec(4), spec(5)]


def verdicts(world: World) -> dict[int, str]:
    instance = Instance("global", world.proxy.url, DEFAULT_FIELD_KEYS, None)
    with ZendeskReader(
        instance,
        Credentials(email=EMAIL, api_token=TOKEN),
        share=1.0,
        concurrency=4,
        timeout=0.3,
        retries=RETRIES,
        backoff=0,
        max_retry_after=0.01,
    ) as reader:
        live = reader.fetch([1, 2, 3, 4, 5])
    config = Settings(
        config_dir=Path("config"),
        instances={"global": instance},
        default_instance="global",
    )
    report = build_report(
        specs(), {("global", k): v for k, v in live.items()}, config, dt.date(2026, 6, 1)
    )
    return {o.org_id: o.status.value for o in report.orgs}


def test_fault_free_verdicts_through_the_proxy(world: World) -> None:
    world.proxy.schedule = lambda name, attempt: None
    assert verdicts(world) == {
        1: "in_sync",
        2: "drifted",
        3: "in_sync",
        4: "drifted",
        5: "missing",
    }
    assert world.foreign.seen == []


FAULT = st.tuples(st.sampled_from(FAULTS), st.integers(0, 9))
SCHEDULE = st.dictionaries(
    st.tuples(st.sampled_from(LABELS), st.integers(0, 1)), FAULT, min_size=1, max_size=4
)


@settings(
    max_examples=SCHEDULES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=SCHEDULE)
def test_any_fault_schedule_gives_the_fault_free_verdict_or_unknown(
    world: World, schedule: dict[tuple[str, int], tuple[str, int]]
) -> None:
    expected = {1: "in_sync", 2: "drifted", 3: "in_sync", 4: "drifted", 5: "missing"}
    world.proxy.schedule = lambda name, attempt: schedule.get((name, attempt))
    world.proxy.attempts.clear()
    got = verdicts(world)
    assert set(got) == set(expected)
    for org_id, verdict in got.items():
        assert verdict in (expected[org_id], "unknown"), (org_id, verdict, schedule)
    assert world.foreign.seen == [], "a request reached a foreign origin"
    # Bounded: each request is tried at most (retries + 1) × (body retries + 1) times, and a
    # first page at most twice more (a looping next link is followed once before it shows).
    bound = (RETRIES + 1) * (BODY_RETRIES + 1) * 2
    assert max(world.proxy.attempts.values()) <= bound, world.proxy.attempts
