"""Review tests: the Zendesk reader, drift/snapshot/import CLI paths, in tricky cases.

Each test drives the real code (real zenpy, real HTTP on loopback). A failing test here is a
confirmed defect; a passing one pins down a tricky case the other tests do not cover.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from checker.domain.drift import build_report
from checker.domain.models import Contact, FetchFailure, LiveOrg, OrgSpec
from checker.domain.selection import Shard
from checker.domain.settings import DEFAULT_FIELD_KEYS, Instance
from checker.live.zendesk import Credentials, Pacer, ZendeskReader
from tests.cli_support import drift_json, env_for, run
from tests.fakes.zendesk_server import FakeZendesk, _Response
from tests.test_zendesk_reader import EMAIL, TOKEN, settings, states

from .conftest import ROOT

Hook = Callable[[str, dict[str, list[str]]], "tuple[Any, ...] | None"]


class QuirkyZendesk(FakeZendesk):
    """The loopback fake, plus a hook that may answer a request with any status and body."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.hook: Hook | None = None
        self.org_patch: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.user_patch: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.auth_seen: list[str | None] = []

    def _respond(
        self, method: str, path: str, query: dict[str, list[str]], base: str, auth: str | None
    ) -> _Response:
        with self._lock:
            self.auth_seen.append(auth)
        hook = self.hook
        answer = hook(path, query) if hook is not None else None
        if answer is not None:
            status, body, *extra = answer
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers = self._rate_headers(is_list=True, now=time.monotonic())
            headers.update(*extra)
            return _Response(status, raw, headers=headers)
        return super()._respond(method, path, query, base, auth)

    def _org_json(self, org: Any, base: str) -> dict[str, Any]:
        data = super()._org_json(org, base)
        patch = self.org_patch.get(org.id)
        return patch(data) if patch else data

    def _user_json(self, user: Any, base: str) -> dict[str, Any]:
        data = super()._user_json(user, base)
        patch = self.user_patch.get(user.id)
        return patch(data) if patch else data


@pytest.fixture
def qz() -> Iterator[QuirkyZendesk]:
    with QuirkyZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000) as server:
        for key in ("am_project_id", "cmp_id", "cmp_developers", "salesforce_id"):
            server.add_org_field(key, key)
        for i in range(1, 11):
            server.add_org(
                i, f"Org {i}", notes="Static notes", fields={"am_project_id": str(1000 + i)}
            )
            for u in range(2):
                server.add_user(i * 10 + u, f"Person {u}", f"p{u}@org{i}.example", i)
        yield server


def make_reader(server: FakeZendesk, *, rate_limit: int | None = None, **kw: Any) -> ZendeskReader:
    options: dict[str, Any] = {
        "share": 1.0,
        "concurrency": 4,
        "timeout": 0.5,
        "retries": 2,
        "backoff": 0.01,
    }
    options.update(kw)
    instance = Instance("global", server.url, DEFAULT_FIELD_KEYS, rate_limit)
    return ZendeskReader(instance, Credentials(email=EMAIL, api_token=TOKEN), **options)


def fetch(server: FakeZendesk, ids: list[int], **kw: Any) -> dict[int, LiveOrg | FetchFailure]:
    with make_reader(server, **kw) as r:
        return r.fetch(ids)


def spec(org_id: int, *, contacts: int = 2) -> OrgSpec:
    """What the file says: exactly what the seeded server holds."""
    return OrgSpec(
        path=f"config/orgs/org-{org_id}.yaml",
        org_id=org_id,
        instance="global",
        name=f"Org {org_id}",
        collaboration_project_id=1000 + org_id,
        support_contacts=tuple(
            Contact(f"p{u}@org{org_id}.example", f"Person {u}") for u in range(contacts)
        ),
        notes="Static notes\n",
    )


def statuses(
    result: dict[int, LiveOrg | FetchFailure], specs: dict[int, OrgSpec] | None = None
) -> dict[int, str]:
    specs = specs or {}
    live = {("global", k): v for k, v in result.items()}
    report = build_report(
        [specs.get(i) or spec(i) for i in result], live, settings(), dt.date(2026, 6, 1)
    )
    return {o.org_id: o.status.value for o in report.orgs}


def users_page(org_id: int, after: bool) -> Callable[[str, dict[str, list[str]]], bool]:
    def match(path: str, query: dict[str, list[str]]) -> bool:
        return path.startswith(f"/api/v2/organizations/{org_id}/users") and (
            ("page[after]" in query) == after
        )

    return match


def add_many_users(server: FakeZendesk, org_id: int, n: int) -> None:
    for u in range(2, 2 + n):
        server.add_user(org_id * 1000 + u, f"Extra {u}", f"extra{u}@org{org_id}.example", org_id)


def big_spec(org_id: int, n: int) -> OrgSpec:
    base = spec(org_id)
    extra = tuple(Contact(f"extra{u}@org{org_id}.example", f"Extra {u}") for u in range(2, 2 + n))
    return OrgSpec(
        path=base.path,
        org_id=org_id,
        instance="global",
        name=base.name,
        collaboration_project_id=base.collaboration_project_id,
        support_contacts=base.support_contacts + extra,  # type: ignore[operator]
        notes=base.notes,
    )


# --------------------------------------------------------------------------- shapes of answers


@pytest.mark.parametrize(
    "patch",
    [
        lambda d: {**d, "organization_fields": None},
        lambda d: {k: v for k, v in d.items() if k != "organization_fields"},
        lambda d: {**d, "organization_fields": {}},
    ],
    ids=["null", "absent", "empty"],
)
def test_org_without_organization_fields_is_unknown_not_drifted(
    qz: QuirkyZendesk, patch: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    qz.org_patch[3] = patch
    result = fetch(qz, [2, 3, 4])
    assert statuses(result) == {2: "in_sync", 3: "unknown", 4: "in_sync"}


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": "InternalServerError"}),
        (200, b'{"users": [{"id": 1, "name": "tr'),
        (200, {"error": "Something", "description": "a 200 that is an error"}),
        (200, {"users": None, "meta": {"has_more": False}}),
        (403, {"error": "Forbidden"}),
    ],
    ids=["500", "malformed", "200-error-body", "users-null", "403"],
)
def test_a_later_users_page_that_fails_makes_the_org_unknown(
    qz: QuirkyZendesk, answer: tuple[int, object]
) -> None:
    add_many_users(qz, 9, 150)  # 152 users: two pages
    page2 = users_page(9, after=True)
    qz.hook = lambda path, query: answer if page2(path, query) else None
    specs = {9: big_spec(9, 150)}
    result = fetch(qz, [8, 9, 10])
    assert statuses(result, specs) == {8: "in_sync", 9: "unknown", 10: "in_sync"}


def test_a_later_users_page_that_times_out_makes_the_org_unknown(qz: QuirkyZendesk) -> None:
    add_many_users(qz, 9, 150)
    page2 = users_page(9, after=True)

    def slow(path: str, query: dict[str, list[str]]) -> None:
        if page2(path, query):
            time.sleep(0.8)  # longer than the 0.5 s timeout, every try

    qz.hook = slow  # type: ignore[assignment]
    result = fetch(qz, [9], retries=1)
    assert statuses(result, {9: big_spec(9, 150)}) == {9: "unknown"}
    assert "timed out" in result[9].message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "answer",
    [
        (200, {"error": "Something", "description": "a 200 that is an error"}),
        (200, {}),
        (200, []),
        (200, {"users": [], "meta": {"has_more": True}, "links": {"next": None}}),
    ],
    ids=["200-error-body", "empty-object", "json-list", "has-more-without-next"],
)
def test_a_first_users_page_of_the_wrong_shape_makes_the_org_unknown(
    qz: QuirkyZendesk, answer: tuple[int, object]
) -> None:
    first = users_page(5, after=False)
    qz.hook = lambda path, query: answer if first(path, query) else None
    result = fetch(qz, [4, 5])
    assert statuses(result) == {4: "in_sync", 5: "unknown"}


def test_show_many_answering_200_with_an_error_body_is_never_taken_at_its_word(
    qz: QuirkyZendesk,
) -> None:
    """A batch answer without orgs proves nothing: each org is then read on its own, and only
    what those reads say counts (here: the orgs exist and match their files)."""
    qz.hook = lambda path, query: (
        (200, {"error": "Oops", "description": "x"}) if "show_many" in path else None
    )
    result = fetch(qz, [1, 2])
    assert statuses(result) == {1: "in_sync", 2: "in_sync"}
    assert qz.count(r"/organizations/1\.json") == 1
    assert qz.count(r"/organizations/2\.json") == 1


def test_an_empty_users_page_that_says_has_more_is_not_the_end(qz: QuirkyZendesk) -> None:
    """Page 2 of 3 comes back empty but says more follow: the contacts on page 3 were never
    read, so the org's contacts are not known. Declared contacts on page 3 must not become
    'missing in Zendesk'."""
    add_many_users(qz, 9, 250)  # 252 users: three pages of 100
    page2_cursor: list[str] = []

    def hook(path: str, query: dict[str, list[str]]) -> tuple[int, object] | None:
        if not users_page(9, after=True)(path, query):
            return None
        if page2_cursor and query["page[after]"][0] != page2_cursor[0]:
            return None  # page 3 is served normally
        page2_cursor.append(query["page[after]"][0])
        return (200, {"users": [], "meta": {"has_more": True}, "links": {"next": "x"}})

    qz.hook = hook
    result = fetch(qz, [9])
    assert statuses(result, {9: big_spec(9, 250)}) == {9: "unknown"}


def test_show_answering_an_org_without_id_does_not_crash_the_run(qz: QuirkyZendesk) -> None:
    """show_many omits org 5; the direct read answers 200 with an org lacking its id. That org
    is unknown; the run must still report orgs 4 and 6."""

    def hook(path: str, query: dict[str, list[str]]) -> tuple[int, object] | None:
        if "show_many" in path:
            return (200, {"organizations": [], "next_page": None, "count": 0})
        if path.rstrip("/").removesuffix(".json") == "/api/v2/organizations/5":
            return (200, {"organization": {"name": "Org 5", "organization_fields": {}}})
        return None

    qz.hook = hook
    result = fetch(qz, [4, 5, 6])
    assert statuses(result) == {4: "in_sync", 5: "unknown", 6: "in_sync"}


def test_404_on_users_of_an_org_that_show_many_just_returned_is_not_missing(
    qz: QuirkyZendesk,
) -> None:
    """show_many returned org 5, then its users endpoint answers 404: the answers contradict
    each other, so the org's state is unknown (not 'missing', which files a wrong report)."""
    qz.add_fault(kind="status", status=404, path=r"/organizations/5/users", times=-1)
    result = fetch(qz, [4, 5])
    assert statuses(result) == {4: "in_sync", 5: "unknown"}


def test_user_without_email_is_not_silently_dropped(qz: QuirkyZendesk) -> None:
    """A third member of org 6 has no email (e.g. created from a phone call). The file does
    not list them and unlisted contacts are drift: 'in sync' would hide a contact."""
    qz.add_user(999, "Phone Only", "", 6)
    qz.user_patch[999] = lambda d: {**d, "email": None}
    result = fetch(qz, [6])
    assert isinstance(result[6], LiveOrg)
    assert statuses(result) != {6: "in_sync"}


def test_error_body_echoing_the_token_is_scrubbed(qz: QuirkyZendesk) -> None:
    qz.hook = lambda path, query: (
        (200, {"error": "weird", "description": f"token {TOKEN} rejected"})
        if "/organizations/7/users" in path
        else None
    )
    result = fetch(qz, [7])
    failure = result[7]
    assert isinstance(failure, FetchFailure)
    assert TOKEN not in failure.message


# --------------------------------------------------------------------------- pacing


def test_retries_of_5xx_go_through_the_pacer(qz: QuirkyZendesk) -> None:
    """The allowed rate is 600/min x 1.0 = one request per 0.1 s. Each org's users call fails
    once with 500 and is retried: every request Zendesk sees, retries included, counts against
    the share, so N requests span at least (N - 1 - BURST) intervals."""
    qz.set_rate_limit(600)
    for i in range(1, 11):
        qz.add_fault(kind="status", status=500, path=rf"/organizations/{i}/users", times=1)
    with make_reader(qz, rate_limit=600, concurrency=4, retries=4, backoff=0.5) as r:
        result = r.fetch(list(range(1, 11)))
        interval = r.pacer.interval
    assert states(result)["found"] == set(range(1, 11))
    times = sorted(rec.time for rec in qz.requests)
    assert len(times) == 21
    floor = (len(times) - 1 - 4) * interval
    assert times[-1] - times[0] >= 0.9 * floor, (times[-1] - times[0], floor)


def test_a_429_without_retry_after_is_not_retried_at_once(qz: QuirkyZendesk) -> None:
    """No Retry-After: exponential backoff, and the pacer pauses everyone for 1 s. The
    retrying request itself fired again immediately instead."""
    qz.add_fault(kind="429", retry_after=None, path=r"/organizations/3/users", times=1)
    with make_reader(qz, retries=4, backoff=0.5) as r:
        result = r.fetch([3])
    assert isinstance(result[3], LiveOrg)
    hits = [rec for rec in qz.requests if "/organizations/3/users" in rec.path]
    assert [h.status for h in hits] == [429, 200]
    assert hits[1].time - hits[0].time >= 0.5, hits[1].time - hits[0].time


def test_a_429_with_an_unparsable_retry_after_is_unknown_and_says_rate_limited(
    qz: QuirkyZendesk,
) -> None:
    qz.hook = lambda path, query: (
        (429, {"error": "APIRateLimitExceeded"}, {"Retry-After": "soon"})
        if "/organizations/3/users" in path
        else None
    )
    result = fetch(qz, [2, 3])
    assert statuses(result) == {2: "in_sync", 3: "unknown"}
    failure = result[3]
    assert isinstance(failure, FetchFailure)
    assert "429" in failure.message or "rate limit" in failure.message, failure.message


def test_a_nonsense_rate_limit_header_cannot_stall_the_pacer() -> None:
    pacer = Pacer(0.5, None)
    pacer.observe({"X-Rate-Limit": "-1", "X-Rate-Limit-Remaining": "5"})
    assert pacer.interval > 0, pacer.interval
    t = threading.Thread(target=pacer.acquire, daemon=True)
    t.start()
    t.join(2.0)
    assert not t.is_alive(), "acquire() still waiting after 2 s"


def test_the_pacer_stays_within_the_share_over_a_window() -> None:
    """Three threads, 600/min x 0.5 = one slot per 0.2 s: 18 slots span >= (18 - 1 - BURST) x 0.2 s."""
    pacer = Pacer(0.5, 600)  # one request per 0.2 s
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(6):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    stamps.sort()
    assert len(stamps) == 18
    assert stamps[-1] - stamps[0] >= (18 - 1 - 4) * 0.2 * 0.95


# --------------------------------------------------------------------------- environment


def test_inherited_zenpy_force_variables_do_not_redirect_an_https_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An https instance configured without ZENDESK_URL must be read from its own URL. A
    ZENPY_FORCE_NETLOC left in the environment sent its requests, with its token, to another
    host, and that host's data became the org's live state."""
    with QuirkyZendesk(email=EMAIL, token=TOKEN, rate_limit=600_000) as decoy:
        for key in DEFAULT_FIELD_KEYS.values():
            decoy.add_org_field(key, key)
        decoy.add_org(1, "Decoy", fields={"am_project_id": "1001"})
        monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
        monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"127.0.0.1:{decoy.port}")
        instance = Instance("global", "https://support.zendesk.invalid", DEFAULT_FIELD_KEYS)
        with ZendeskReader(
            instance,
            Credentials(email=EMAIL, api_token=TOKEN),
            share=1.0,
            retries=0,
            timeout=2,
        ) as r:
            result = r.fetch([1])
        assert decoy.auth_seen == [], "credentials were sent to a host that is not the instance"
        assert isinstance(result[1], FetchFailure)


def test_reader_leaves_the_environment_alone(qz: QuirkyZendesk) -> None:
    before = dict(os.environ)
    with make_reader(qz) as r:
        r.fetch([1])
        assert dict(os.environ) == before
    assert dict(os.environ) == before


# --------------------------------------------------------------------------- sharding


def test_shards_are_a_stable_partition() -> None:
    specs = [
        OrgSpec(path=f"o{i}.yaml", org_id=i, instance=inst, name=str(i))
        for i in range(1, 400)
        for inst in ("global", "us-gov")
    ]
    for n in (1, 2, 3, 7):
        owners = [[s for s in specs if Shard(i, n).holds(s)] for i in range(1, n + 1)]
        assert sum(len(o) for o in owners) == len(specs)
        assert {s.key for o in owners for s in o} == {s.key for s in specs}
    # A pure function of (instance, org id): the same on every run and machine.
    s = OrgSpec(path="x.yaml", org_id=360001234501, instance="global", name="x")
    assert Shard(zlib.crc32(b"global:360001234501") % 3 + 1, 3).holds(s)


# --------------------------------------------------------------------------- CLI


def git(repo: Path, *args: str) -> None:
    base = ["git", "-c", "user.email=t@example.example", "-c", "user.name=t"]
    subprocess.run([*base, *args], cwd=repo, check=True, capture_output=True)


def committed(repo: Path) -> None:
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")


def touch_notes(path: Path) -> None:
    path.write_text(path.read_text().replace("900 seats", "950 seats"))


def test_changed_since_a_ref_that_looks_like_an_option_is_a_usage_error(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    committed(repo)
    leak = repo / "leak.txt"
    proc = run(["drift", "--changed-since", f"--output={leak}"], repo, env_for(servers))
    assert not leak.exists(), "the ref was passed to git as an option"
    assert proc.returncode == 2, (proc.returncode, proc.stderr)


def test_changed_since_selects_a_file_with_spaces_in_its_name(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    orgs = repo / "config/orgs"
    (orgs / "bluepeak-analytics.yaml").rename(orgs / "blue peak analytics.yaml")
    committed(repo)
    touch_notes(orgs / "blue peak analytics.yaml")
    doc = drift_json(
        run(["drift", "--format", "json", "--changed-since", "HEAD"], repo, env_for(servers))
    )
    assert [o["org_id"] for o in doc["orgs"]] == [360001234502]


def test_changed_since_selects_a_file_with_a_non_ascii_name(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    orgs = repo / "config/orgs"
    (orgs / "bluepeak-analytics.yaml").rename(orgs / "bluepeak-analytík.yaml")
    committed(repo)
    touch_notes(orgs / "bluepeak-analytík.yaml")
    proc = run(["drift", "--format", "json", "--changed-since", "HEAD"], repo, env_for(servers))
    assert [o["org_id"] for o in drift_json(proc)["orgs"]] == [360001234502]


def test_changed_since_selects_a_renamed_file(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    committed(repo)
    git(repo, "mv", "config/orgs/bluepeak-analytics.yaml", "config/orgs/bluepeak.yaml")
    git(repo, "commit", "-qm", "rename")
    proc = run(["drift", "--format", "json", "--changed-since", "HEAD~1"], repo, env_for(servers))
    assert [o["org_id"] for o in drift_json(proc)["orgs"]] == [360001234502]


def test_changed_since_from_a_subdirectory(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    (repo / "tools").mkdir()
    (repo / "tools/.keep").write_text("")
    committed(repo)
    touch_notes(repo / "config/orgs/bluepeak-analytics.yaml")
    proc = run(
        ["drift", "--config-dir", "../config", "--format", "json", "--changed-since", "HEAD"],
        repo / "tools",
        env_for(servers),
    )
    assert [o["org_id"] for o in drift_json(proc)["orgs"]] == [360001234502], proc.stderr


def test_snapshot_org_without_contacts_is_not_drift(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    """A 'found' org in a snapshot without its contacts (or notes) does not say Zendesk has
    none: reading it as an empty org reports every declared contact missing in Zendesk."""
    snap = json.loads((ROOT / "examples/snapshot.json").read_text())
    for org in snap["orgs"]:
        if org["org_id"] == 360001234502:
            del org["contacts"]
    path = repo / "snap.json"
    path.write_text(json.dumps(snap))
    proc = run(["drift", "--format", "json", "--snapshot", str(path)], repo, env_for(servers))
    if proc.returncode == 1:
        return  # rejected as an invalid snapshot: fine
    bluepeak = next(o for o in json.loads(proc.stdout)["orgs"] if o["org_id"] == 360001234502)
    assert bluepeak["status"] == "unknown", bluepeak["items"]


def test_import_of_an_org_with_six_cmp_developers_is_in_sync_or_flagged(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    devs = "\n".join(f"dev{i}@six.example" for i in range(6))
    main.add_org(
        777010,
        "Six Devs Ltd",
        notes="",
        details="",
        fields={"am_project_id": "5550010", "cmp_id": 4242, "cmp_developers": devs},
    )
    env = env_for(servers)
    imported = run(["import", "--org", "777010"], repo, env)
    drift = run(["drift", "--format", "json", "--org", "777010"], repo, env)
    status = json.loads(drift.stdout)["orgs"][0]["status"] if drift.stdout else None
    assert imported.returncode != 0 or status == "in_sync", (imported.returncode, status)


def test_import_force_does_not_overwrite_a_file_written_in_the_same_run(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path
) -> None:
    main, _ = servers
    main.add_org(777021, "Twin Corp", fields={"am_project_id": "5550021"})
    main.add_org(777022, "Twin Corp", fields={"am_project_id": "5550022"})
    env = env_for(servers)
    proc = run(["import", "--org", "777021", "--org", "777022", "--force"], repo, env)
    written = sorted(p.name for p in (repo / "config/orgs").glob("twin-corp*.yaml"))
    assert len(written) == 2, (written, proc.stderr)


@pytest.mark.parametrize(
    "notes",
    [
        "  indented first line\nsecond line\n",
        "key: value",
        "- looks like a list",
        "tab\there\r\nand CRLF  \r\n\r\n\r\n",
        "# looks like a comment",
        "ends with spaces   ",
    ],
    ids=["indented", "colon", "dash", "tab-crlf", "hash", "trailing-spaces"],
)
def test_imported_notes_are_in_sync_right_after(
    servers: tuple[FakeZendesk, FakeZendesk], repo: Path, notes: str
) -> None:
    main, _ = servers
    main.add_org(777030, "Notes Inc", notes=notes, fields={"am_project_id": "5550030"})
    main.add_user(88030, "Nia Notes", "Nia@Notes.example", 777030)
    env = env_for(servers)
    imported = run(["import", "--org", "777030"], repo, env)
    assert imported.returncode == 0, imported.stderr
    doc = drift_json(run(["drift", "--format", "json", "--org", "777030"], repo, env))
    assert doc["orgs"][0]["status"] == "in_sync", doc["orgs"][0]
