"""The fake GitLab server, driven over real HTTP by the real python-gitlab client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from tests.fakes.gitlab_server import BOT_USERNAME, FakeGitLab

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        yield fake
    assert fake.errors == []


def _client(server: FakeGitLab, *, retry: bool = True) -> gitlab.Gitlab:
    return gitlab.Gitlab(
        server.url, private_token=server.token, timeout=5, retry_transient_errors=retry
    )


@pytest.fixture
def gl(server: FakeGitLab) -> Iterator[gitlab.Gitlab]:
    with _client(server) as client:
        yield client


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Project:
    return gl.projects.get(7, lazy=True)


# --------------------------------------------------------------------------- auth & project


def test_auth_and_current_user(server: FakeGitLab, gl: gitlab.Gitlab) -> None:
    gl.auth()
    assert gl.user is not None
    assert gl.user.username == BOT_USERNAME
    with gitlab.Gitlab(server.url, oauth_token=server.token, timeout=5) as bearer:
        bearer.auth()
        assert bearer.user is not None
        assert bearer.user.username == BOT_USERNAME


def test_wrong_token_is_refused(server: FakeGitLab) -> None:
    with (
        gitlab.Gitlab(server.url, private_token="nope", timeout=5) as bad,
        pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as caught,
    ):
        bad.projects.get(7)
    assert caught.value.response_code == 401
    assert server.requests[-1].status == 401


def test_project_by_id_and_by_path(server: FakeGitLab, gl: gitlab.Gitlab) -> None:
    by_id = gl.projects.get(7)
    by_path = gl.projects.get("support/zendesk-orgs")
    assert by_id.id == by_path.id == 7
    assert by_path.path_with_namespace == "support/zendesk-orgs"
    assert by_path.web_url == f"{server.url}/support/zendesk-orgs"
    assert by_path.default_branch == "main"
    assert server.requests[-1].path == "/api/v4/projects/support%2Fzendesk-orgs"
    with pytest.raises(gitlab.exceptions.GitlabGetError) as caught:
        gl.projects.get(8)
    assert caught.value.response_code == 404


def test_unknown_route_and_pagination_headers(server: FakeGitLab, gl: gitlab.Gitlab) -> None:
    with pytest.raises(gitlab.exceptions.GitlabHttpError) as caught:
        gl.http_request("get", "/projects/7/nonsense")
    assert caught.value.response_code == 404
    for n in range(5):
        server.add_issue(f"issue {n}", labels=["drift"])
    response = gl.http_request(
        "get", "/projects/7/issues", query_data={"per_page": 2, "page": 2, "labels": "drift"}
    )
    headers = response.headers
    assert (headers["X-Page"], headers["X-Per-Page"]) == ("2", "2")
    assert (headers["X-Total"], headers["X-Total-Pages"]) == ("5", "3")
    assert (headers["X-Next-Page"], headers["X-Prev-Page"]) == ("3", "1")
    assert int(headers["Content-Length"]) == len(response.content)
    links = response.links
    assert set(links) == {"next", "prev", "first", "last"}
    assert links["next"]["url"].startswith(f"{server.url}/api/v4/projects/7/issues?")
    assert "labels=drift" in links["next"]["url"]
    assert "page=3" in links["next"]["url"]
    capped = gl.http_request("get", "/projects/7/issues", query_data={"per_page": 500})
    assert capped.headers["X-Per-Page"] == "100"


# --------------------------------------------------------------------------- issues


def test_issue_create_and_list_filters(server: FakeGitLab, project: Project) -> None:
    first = project.issues.create(
        {"title": "Drift: acme", "description": "org acme differs", "labels": ["drift", "acme"]}
    )
    second = project.issues.create({"title": "Drift: globex", "labels": "drift,globex"})
    third = project.issues.create({"title": "Unrelated"})
    assert (first.iid, second.iid, third.iid) == (1, 2, 3)
    assert first.id < second.id < third.id
    assert first.state == "opened"
    assert first.labels == ["acme", "drift"]
    assert first.web_url == f"{server.url}/support/zendesk-orgs/-/issues/1"
    assert first.references["short"] == "#1"
    assert first.author["username"] == BOT_USERNAME

    drift = project.issues.list(labels=["drift"], get_all=True)
    assert sorted(i.iid for i in drift) == [1, 2]
    both = project.issues.list(labels="drift,acme", get_all=True)
    assert [i.iid for i in both] == [1]
    assert [i.iid for i in project.issues.list(search="ACME", get_all=True)] == [1]
    assert [i.iid for i in project.issues.list(iids=[2, 3], get_all=True, sort="asc")] == [2, 3]
    assert [i.iid for i in project.issues.list(get_all=True)] == [3, 2, 1]

    second.state_event = "close"
    second.save()
    opened = project.issues.list(state="opened", labels="drift", get_all=True)
    closed = project.issues.list(state="closed", get_all=True)
    assert [i.iid for i in opened] == [1]
    assert [i.iid for i in closed] == [2]
    assert len(project.issues.list(state="all", get_all=True)) == 3
    assert {lb.name for lb in project.labels.list(get_all=True)} == {"acme", "drift", "globex"}


def test_pagination_over_three_pages(server: FakeGitLab, project: Project) -> None:
    for n in range(45):
        server.add_issue(f"issue {n}", labels=["bulk"])
    server.reset_log()

    lazy = project.issues.list(iterator=True, labels="bulk")
    titles = [issue.title for issue in lazy]
    assert len(titles) == 45
    assert len(set(titles)) == 45
    assert [r.query.get("page") for r in server.reads()] == [None, ["2"], ["3"]]

    server.reset_log()
    everything = project.issues.list(get_all=True, labels="bulk")
    assert len(everything) == 45
    assert len(server.reads()) == 3

    with pytest.warns(UserWarning, match="get_all=True"):
        first_page = project.issues.list(labels="bulk")
    assert len(first_page) == 20
    assert len(project.issues.list(labels="bulk", per_page=10, page=5)) == 5


def test_update_description_labels_and_close(server: FakeGitLab, project: Project) -> None:
    issue = project.issues.create({"title": "Drift", "description": "old", "labels": ["drift"]})
    issue.description = "new body"
    issue.save()
    assert issue.description == "new body"
    assert server.issues[0]["description"] == "new body"

    project.issues.update(issue.iid, {"add_labels": "stale", "remove_labels": "drift"})
    assert project.issues.get(issue.iid).labels == ["stale"]

    issue = project.issues.get(issue.iid)
    issue.state_event = "close"
    issue.save()
    assert issue.state == "closed"
    assert issue.closed_at is not None
    assert server.issues[0]["state"] == "closed"

    issue.state_event = "reopen"
    issue.save()
    assert issue.state == "opened"
    assert issue.closed_at is None
    put = server.writes()[-1]
    assert put.method == "PUT"
    assert put.body == {"state_event": "reopen"}


def test_issue_notes_create_and_edit(server: FakeGitLab, project: Project) -> None:
    issue = project.issues.create({"title": "Drift"})
    note = issue.notes.create({"body": "first finding"})
    assert note.noteable_type == "Issue"
    assert note.noteable_iid == issue.iid
    assert note.system is False
    assert note.id > issue.id
    note.body = "edited finding"
    note.save()
    issue.notes.create({"body": "second finding"})
    bodies = [n.body for n in issue.notes.list(get_all=True)]
    assert bodies == ["second finding", "edited finding"]
    ascending = [n.body for n in issue.notes.list(get_all=True, sort="asc")]
    assert ascending == ["edited finding", "second finding"]
    assert [n["body"] for n in server.issues[0]["notes"]] == ["edited finding", "second finding"]
    assert project.issues.get(issue.iid).user_notes_count == 2
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
        issue.notes.create({"body": ""})
    assert caught.value.response_code == 400


def test_confidential_and_assignees(server: FakeGitLab, project: Project) -> None:
    server.add_user(42, "alice", "Alice Agent")
    server.add_user(43, "bob")
    issue = project.issues.create(
        {"title": "Secret drift", "confidential": True, "assignee_ids": [42, 43, 999]}
    )
    assert issue.confidential is True
    assert [a["username"] for a in issue.assignees] == ["alice", "bob"]
    assert issue.assignee["id"] == 42
    assert server.issues[0]["assignee_ids"] == [42, 43]
    project.issues.create({"title": "Public drift"})
    secret = project.issues.list(confidential=True, get_all=True)
    assert [i.title for i in secret] == ["Secret drift"]
    assert [i.iid for i in project.issues.list(assignee_id=43, get_all=True)] == [1]

    issue.assignee_ids = []
    issue.save()
    assert issue.assignees == []
    assert issue.assignee is None


def test_users_lookup(server: FakeGitLab, gl: gitlab.Gitlab) -> None:
    server.add_user(42, "alice", "Alice Agent")
    found = gl.users.list(username="alice", get_all=True)
    assert [(u.id, u.name) for u in found] == [(42, "Alice Agent")]
    assert gl.users.list(username="nobody", get_all=True) == []
    assert gl.users.get(42).username == "alice"


def test_label_create_and_conflict(server: FakeGitLab, project: Project) -> None:
    label = project.labels.create({"name": "drift", "color": "#FF0000"})
    assert label.name == "drift"
    assert label.color == "#FF0000"
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
        project.labels.create({"name": "drift", "color": "#00FF00"})
    assert caught.value.response_code == 409
    assert caught.value.error_message == "Label already exists"
    assert [lb["name"] for lb in server.labels] == ["drift"]


# --------------------------------------------------------------------------- repository


def test_commit_creates_branch_and_file_reads_back(server: FakeGitLab, project: Project) -> None:
    server.set_file("orgs/acme.yaml", "name: acme\n")
    commit = project.commits.create(
        {
            "branch": "drift/acme",
            "start_branch": "main",
            "commit_message": "Sync acme\n\nfrom Zendesk",
            "actions": [
                {"action": "update", "file_path": "orgs/acme.yaml", "content": "name: ACME\n"},
                {
                    "action": "create",
                    "file_path": "orgs/new.yaml",
                    "content": "bmV3Cg==",
                    "encoding": "base64",
                },
            ],
        }
    )
    assert len(commit.id) == 40
    assert commit.title == "Sync acme"
    assert commit.web_url == f"{server.url}/support/zendesk-orgs/-/commit/{commit.id}"

    on_branch = project.files.get("orgs/acme.yaml", ref="drift/acme")
    assert on_branch.decode() == b"name: ACME\n"
    assert on_branch.file_name == "acme.yaml"
    assert on_branch.last_commit_id == commit.id
    assert project.files.raw("orgs/new.yaml", ref="drift/acme") == b"new\n"
    assert project.files.get("orgs/acme.yaml", ref="main").decode() == b"name: acme\n"
    assert server.file("orgs/acme.yaml", branch="drift/acme") == "name: ACME\n"
    assert server.file("orgs/new.yaml") is None
    assert project.branches.get("drift/acme").commit["id"] == commit.id
    paths = [
        e["path"] for e in project.repository_tree(ref="drift/acme", recursive=True, get_all=True)
    ]
    assert paths == ["orgs", "orgs/acme.yaml", "orgs/new.yaml"]

    bad_actions = [
        {"action": "create", "file_path": "orgs/acme.yaml", "content": "x"},
        {"action": "update", "file_path": "orgs/missing.yaml", "content": "x"},
    ]
    for action in bad_actions:
        data = {"branch": "drift/acme", "commit_message": "bad", "actions": [action]}
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
            project.commits.create(data)
        assert caught.value.response_code == 400


def test_missing_file_and_existing_branch_conflict(server: FakeGitLab, project: Project) -> None:
    with pytest.raises(gitlab.exceptions.GitlabGetError) as missing:
        project.files.get("orgs/missing.yaml", ref="main")
    assert missing.value.response_code == 404
    server.set_file("a.txt", "a")
    project.branches.create({"branch": "work", "ref": "main"})
    data = {
        "branch": "work",
        "start_branch": "main",
        "commit_message": "again",
        "actions": [{"action": "update", "file_path": "a.txt", "content": "b"}],
    }
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
        project.commits.create(data)
    assert caught.value.response_code == 400
    assert "already exists" in str(caught.value.error_message)
    with pytest.raises(gitlab.exceptions.GitlabCreateError):
        project.branches.create({"branch": "work", "ref": "main"})


def test_branch_delete(server: FakeGitLab, project: Project) -> None:
    project.branches.create({"branch": "tmp", "ref": "main"})
    assert "tmp" in server.branches
    project.branches.delete("tmp")
    assert "tmp" not in server.branches
    with pytest.raises(gitlab.exceptions.GitlabGetError) as caught:
        project.branches.get("tmp")
    assert caught.value.response_code == 404
    with pytest.raises(gitlab.exceptions.GitlabDeleteError):
        project.branches.delete("tmp")


def test_merge_request_create_list_close(server: FakeGitLab, project: Project) -> None:
    server.set_file("orgs/acme.yaml", "name: acme\n")
    project.commits.create(
        {
            "branch": "drift/acme",
            "start_branch": "main",
            "commit_message": "Sync acme",
            "actions": [{"action": "update", "file_path": "orgs/acme.yaml", "content": "x\n"}],
        }
    )
    mr = project.mergerequests.create(
        {
            "source_branch": "drift/acme",
            "target_branch": "main",
            "title": "Sync acme",
            "description": "Generated",
            "labels": ["drift"],
            "remove_source_branch": True,
        }
    )
    assert (mr.iid, mr.state, mr.labels) == (1, "opened", ["drift"])
    assert mr.web_url == f"{server.url}/support/zendesk-orgs/-/merge_requests/1"
    assert mr.force_remove_source_branch is True
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as duplicate:
        project.mergerequests.create(
            {"source_branch": "drift/acme", "target_branch": "main", "title": "again"}
        )
    assert duplicate.value.response_code == 409

    listed = project.mergerequests.list(source_branch="drift/acme", state="opened", get_all=True)
    assert [m.iid for m in listed] == [1]
    assert project.mergerequests.list(source_branch="other", get_all=True) == []

    note = mr.notes.create({"body": "updated"})
    assert note.noteable_type == "MergeRequest"
    note.body = "updated twice"
    note.save()
    assert [n.body for n in mr.notes.list(get_all=True)] == ["updated twice"]

    mr.state_event = "close"
    mr.save()
    assert mr.state == "closed"
    assert server.merge_requests[0]["state"] == "closed"
    assert project.mergerequests.list(state="opened", get_all=True) == []
    assert [m.iid for m in project.mergerequests.list(state="closed", get_all=True)] == [1]


def test_merge_request_merge(server: FakeGitLab, project: Project) -> None:
    server.set_file("a.txt", "1")
    server.set_file("a.txt", "2", branch="feature")
    mr = project.mergerequests.create(
        {"source_branch": "feature", "target_branch": "main", "title": "f"}
    )
    mr.merge(should_remove_source_branch=True)
    assert mr.state == "merged"
    assert server.file("a.txt") == "2"
    assert "feature" not in server.branches


# --------------------------------------------------------------------------- faults


def test_status_fault_then_success_with_retries(server: FakeGitLab, project: Project) -> None:
    server.add_fault(kind="status", method="POST", path=r"/issues$", status=500)
    issue = project.issues.create({"title": "retried"})
    assert issue.iid == 1
    assert len(server.issues) == 1
    posts = [(r.status, r.fault) for r in server.writes()]
    assert posts == [(500, "status"), (201, None)]
    assert server.pending_faults() == 0


def test_drop_fault(server: FakeGitLab, project: Project) -> None:
    server.add_fault(kind="drop", method="GET", path=r"/issues/1$")
    project.issues.create({"title": "x"})
    assert project.issues.get(1).title == "x"  # retried after the dropped connection
    assert [r.status for r in server.reads()] == [0, 200]

    server.add_fault(kind="drop", method="POST", path=r"/issues$")
    with _client(server, retry=False) as no_retry:
        lazy = no_retry.projects.get(7, lazy=True)
        with pytest.raises(requests.exceptions.ConnectionError):
            lazy.issues.create({"title": "never stored"})
        assert lazy.issues.get(1).title == "x"  # the connection pool recovers
    assert len(server.issues) == 1


def test_after_commit_fault_stores_although_client_raised(server: FakeGitLab) -> None:
    server.add_fault(kind="status", method="POST", path="/issues$", status=502, after_commit=True)
    with _client(server, retry=False) as no_retry:
        lazy = no_retry.projects.get("support/zendesk-orgs", lazy=True)
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
            lazy.issues.create({"title": "created anyway"})
        assert caught.value.response_code == 502
        assert [i["title"] for i in server.issues] == ["created anyway"]

        server.add_fault(kind="drop", path="/notes", after_commit=True)
        issue = lazy.issues.get(1, lazy=True)
        with pytest.raises(requests.exceptions.ConnectionError):
            issue.notes.create({"body": "stored anyway"})
    assert [n["body"] for n in server.issues[0]["notes"]] == ["stored anyway"]


def test_after_commit_fault_with_retries_duplicates(server: FakeGitLab, project: Project) -> None:
    server.add_fault(kind="status", method="POST", path="/issues$", after_commit=True)
    project.issues.create({"title": "twice"})
    assert [i["title"] for i in server.issues] == ["twice", "twice"]


def test_fault_with_skip_hits_the_nth_matching_request(
    server: FakeGitLab, project: Project
) -> None:
    server.add_fault(kind="status", method="POST", path=r"/issues$", skip=2, status=503)
    with _client(server, retry=False) as no_retry:
        lazy = no_retry.projects.get(7, lazy=True)
        lazy.issues.create({"title": "first"})
        lazy.issues.get(1)  # other requests neither count nor fault
        lazy.issues.create({"title": "second"})
        assert server.pending_faults() == 1
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
            lazy.issues.create({"title": "third"})
        assert caught.value.response_code == 503
        lazy.issues.create({"title": "fourth"})
    assert [i["title"] for i in server.issues] == ["first", "second", "fourth"]
    assert [r.fault for r in server.writes()] == [None, None, "status", None]
    assert server.pending_faults() == 0
    with pytest.raises(ValueError, match="skip"):
        server.add_fault(kind="drop", skip=-1)


def test_persistent_fault_and_clear(server: FakeGitLab, project: Project) -> None:
    server.add_fault(kind="status", method="GET", path="/issues", status=404, times=-1)
    for _ in range(2):
        with pytest.raises(gitlab.exceptions.GitlabListError):
            project.issues.list(get_all=True)
    server.clear_faults()
    assert project.issues.list(get_all=True) == []


# --------------------------------------------------------------------------- log & state


def test_writes_and_reads_counts(server: FakeGitLab, project: Project) -> None:
    issue = project.issues.create({"title": "one"})
    project.issues.get(issue.iid)
    project.issues.list(get_all=True)
    issue.notes.create({"body": "n"})
    issue.title = "renamed"
    issue.save()
    assert [(r.method, r.status) for r in server.writes()] == [
        ("POST", 201),
        ("POST", 201),
        ("PUT", 200),
    ]
    assert len(server.reads()) == 2
    assert server.writes()[0].body == {"title": "one"}
    assert server.connections_accepted == 1  # HTTP/1.1 keep-alive: one connection for all
    server.reset_log()
    assert server.requests == []


def test_dump_and_load_state(server: FakeGitLab, project: Project) -> None:
    issue = project.issues.create({"title": "kept", "labels": ["drift"]})
    issue.notes.create({"body": "n"})
    server.set_file("orgs/a.yaml", "a: 1\n", branch="feature")
    state = server.dump_state()
    json.dumps(state)
    with FakeGitLab() as other, _client(other) as gl2:
        other.load_state(state)
        reloaded = gl2.projects.get(7, lazy=True)
        assert reloaded.issues.get(1).title == "kept"
        assert reloaded.files.raw("orgs/a.yaml", ref="feature") == b"a: 1\n"
        fresh = reloaded.issues.create({"title": "next"})
        assert fresh.iid == 2
        assert fresh.id > state["issues"][0]["notes"][0]["id"]
    with FakeGitLab() as minimal:
        minimal.load_state({"issues": [{"title": "hand-written"}], "branches": {"main": {}}})
        assert minimal.issues[0]["iid"] == 1


def test_cli_serves_until_sigterm_and_writes_state(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    state_out = tmp_path / "state.json"
    state_in = tmp_path / "in.json"
    state_in.write_text(json.dumps({"issues": [{"title": "preexisting"}]}), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "tests.fakes.gitlab_server",
        "--port-file",
        str(port_file),
        "--state-in",
        str(state_in),
        "--state-out",
        str(state_out),
        "--token",
        "cli-token",
    ]
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        deadline = time.monotonic() + 5
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port_file.read_text(encoding='utf-8').strip()}"
        with gitlab.Gitlab(url, private_token="cli-token", timeout=5) as client:
            lazy = client.projects.get(7, lazy=True)
            assert [i.title for i in lazy.issues.list(get_all=True)] == ["preexisting"]
            lazy.issues.create({"title": "from CI"})
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert stderr == b""
    state = json.loads(state_out.read_text(encoding="utf-8"))
    assert [i["title"] for i in state["issues"]] == ["preexisting", "from CI"]
