"""A small GitLab REST API v4 look-alike for tests, served over real HTTP on loopback.

The server keeps one project (issues, merge requests, notes, labels, a repository of text
files on branches) in memory, speaks enough of the real API for python-gitlab to drive it
unchanged, and can inject faults (error statuses, dropped connections, failures after the
write was carried out).

Use it as a context manager::

    with FakeGitLab() as server:
        gl = gitlab.Gitlab(server.url, private_token=server.token)
        project = gl.projects.get(server.project_id, lazy=True)

or run it standalone (for CI scripts)::

    python -m tests.fakes.gitlab_server --port-file port.txt --state-out state.json

Only the standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import re
import signal
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit

__all__ = ["FakeGitLab", "RequestRecord", "main"]

API_PREFIX = "/api/v4"
DEFAULT_TOKEN = "glpat-test-token"
BOT_USER_ID = 1
BOT_USERNAME = "checker-bot"
BOT_NAME = "Checker Bot"
DEFAULT_LABEL_COLOR = "#6699cc"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20

_ISSUE_UPDATE_KEYS = (
    "title",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "confidential",
    "assignee_ids",
    "assignee_id",
    "state_event",
    "discussion_locked",
    "due_date",
    "milestone_id",
)
_MR_UPDATE_KEYS = (
    "title",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "assignee_ids",
    "assignee_id",
    "state_event",
    "target_branch",
    "remove_source_branch",
    "discussion_locked",
    "squash",
    "milestone_id",
)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received (including refused and faulted ones)."""

    method: str
    """Upper-case HTTP method."""
    path: str
    """Request path as sent, percent-encoding kept, e.g. ``/api/v4/projects/7/issues``."""
    query: dict[str, list[str]]
    """Query string as ``urllib.parse.parse_qs`` returns it."""
    status: int
    """Status answered; 0 when the connection was dropped without an answer."""
    body: Any
    """Parsed JSON body, form fields as a dict, or None when the body was empty."""
    fault: str | None = None
    """"status" or "drop" when an injected fault shaped the answer."""

    @property
    def decoded_path(self) -> str:
        """The path with percent-escapes decoded (``support%2Fzendesk-orgs`` -> ``/``)."""
        return unquote(self.path)


@dataclass
class _Fault:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    times: int
    status: int
    after_commit: bool
    skip: int = 0

    def matches(self, method: str, raw_path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        return bool(self.path.search(raw_path) or self.path.search(unquote(raw_path)))


@dataclass
class _Request:
    method: str
    raw_path: str
    query_pairs: list[tuple[str, str]]
    query: dict[str, list[str]]
    params: dict[str, Any]
    body: Any


@dataclass
class _Response:
    status: int
    payload: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def encode(self) -> bytes:
        if self.status == HTTPStatus.NO_CONTENT:
            return b""
        if self.raw is not None:
            return self.raw
        return json.dumps(self.payload).encode("utf-8")


class _ApiError(Exception):
    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(f"{status} {payload}")
        self.status = status
        self.payload = payload


def _missing(*names: str) -> _ApiError:
    return _ApiError(400, {"error": ", ".join(f"{name} is missing" for name in names)})


def _invalid(name: str) -> _ApiError:
    return _ApiError(400, {"error": f"{name} does not have a valid value"})


def _not_found(what: str = "") -> _ApiError:
    return _ApiError(404, {"message": f"404 {what} Not Found" if what else "404 Not Found"})


def _bad_request(message: Any) -> _ApiError:
    return _ApiError(400, {"message": message})


# --------------------------------------------------------------------------- helpers


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "on", "t"}:
            return True
        if lowered in {"false", "0", "no", "off", "f", ""}:
            return False
    return None


def _as_list(value: Any) -> list[str]:
    """A list from a JSON array or a comma-separated string, items stripped, blanks dropped."""
    if value is None:
        return []
    items: Iterable[Any] = value if isinstance(value, list) else str(value).split(",")
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_int_list(value: Any) -> list[int]:
    out: list[int] = []
    for item in _as_list(value):
        number = _as_int(item)
        if number is not None:
            out.append(number)
    return out


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _blob_id(data: bytes) -> str:
    header = f"blob {len(data)}\0".encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def _flatten_params(source: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in source.items():
        if key.endswith("[]"):
            out[key[:-2]] = list(values)
        else:
            out[key] = values[-1]
    return out


def _parse_body(content_type: str, data: bytes) -> Any:
    """Parsed request body; raises ValueError on malformed JSON."""
    if not data:
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _flatten_params(parse_qs(data.decode("utf-8"), keep_blank_values=True))
    if kind in {"application/json", ""} or kind.endswith("+json"):
        return json.loads(data.decode("utf-8"))
    return data.decode("utf-8", "replace")


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], fake: FakeGitLab) -> None:
        self.fake = fake
        self.conn_lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.closing = False
        self.accepted = 0
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup (socket.getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: a broken client connection is not a test failure."""

    def register(self, conn: socket.socket) -> bool:
        with self.conn_lock:
            if self.closing:
                return False
            self.conns.add(conn)
            self.accepted += 1
            return True

    def unregister(self, conn: socket.socket) -> None:
        with self.conn_lock:
            self.conns.discard(conn)

    def close_connections(self) -> None:
        with self.conn_lock:
            self.closing = True
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeGitLab/1.0"
    sys_version = ""
    timeout = 120
    # Buffer the answer so headers and body leave in one segment (no Nagle/delayed-ACK
    # stalls); BaseHTTPRequestHandler flushes after every request.
    wbufsize = -1

    def _srv(self) -> _HTTPServer:
        return cast(_HTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._srv().register(self.connection):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        self._srv().unregister(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """No logging to stderr."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        response = self._srv().fake._process(self.command, self.path, self.headers, body)
        if response is None:  # injected "drop": close without answering
            self.close_connection = True
            return
        payload = response.encode()
        try:
            self.send_response(response.status)
            if response.status != HTTPStatus.NO_CONTENT:
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


Handler = Callable[[_Request, dict[str, str]], _Response]


# --------------------------------------------------------------------------- the fake


class FakeGitLab:
    """In-memory GitLab (one project) behind a real HTTP server on 127.0.0.1.

    Public state (``issues``, ``merge_requests``, ``labels``, ``branches``, ``commits``,
    ``users``, ``requests``) is live: read it after the client calls returned, or hold
    ``lock`` while the server may be busy.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        project_id: int = 7,
        project_path: str = "support/zendesk-orgs",
        default_branch: str = "main",
    ) -> None:
        self.token = token
        self.project_id = project_id
        self.project_path = project_path
        self.default_branch = default_branch
        self._requested_port = port
        self.lock = threading.RLock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._frozen_now: datetime | None = None
        self._faults: list[_Fault] = []
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []
        """Tracebacks of bugs inside the fake (answered with 501, never retried)."""
        self._routes = self._build_routes()
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGitLab:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", self._requested_port), self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeGitLab:{self.port}",
            daemon=True,
        )
        self._thread.start()
        with self.lock:
            for issue in self.issues:
                issue["web_url"] = f"{self.web_url}/-/issues/{issue['iid']}"
            for mr in self.merge_requests:
                mr["web_url"] = f"{self.web_url}/-/merge_requests/{mr['iid']}"
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeGitLab is not started")
        return int(self._httpd.server_address[1])

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (keep-alive reuses one per client session)."""
        return self._httpd.accepted if self._httpd is not None else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}{API_PREFIX}"

    @property
    def web_url(self) -> str:
        """The project's web URL, ``{url}/{project_path}``."""
        return f"{self.url}/{self.project_path}"

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self._next_id = 1
        self._next_label_id = 1
        self._next_iid: dict[str, int] = {"issue": 1, "merge_request": 1}
        self._commit_counter = 0
        self.users: dict[int, dict[str, Any]] = {
            BOT_USER_ID: {"id": BOT_USER_ID, "username": BOT_USERNAME, "name": BOT_NAME}
        }
        self.issues: list[dict[str, Any]] = []
        self.merge_requests: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self.branches: dict[str, dict[str, str]] = {}
        self.heads: dict[str, str] = {}
        self.commits: list[dict[str, Any]] = []
        self._trees: dict[str, dict[str, str]] = {}
        self._new_commit(
            self.default_branch, {}, "Initial commit", parents=[], actions=[], seed=True
        )

    def _now(self) -> str:
        return _iso(self._frozen_now or datetime.now(UTC))

    def set_now(self, moment: datetime | str | None) -> None:
        """Freeze the server clock (timestamps it writes); None unfreezes."""
        with self.lock:
            if isinstance(moment, str):
                parsed = _parse_time(moment)
                if parsed is None:
                    raise ValueError(f"not an ISO 8601 time: {moment!r}")
                moment = parsed
            self._frozen_now = moment

    def _take_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def _take_iid(self, kind: str) -> int:
        value = self._next_iid[kind]
        self._next_iid[kind] = value + 1
        return value

    # ------------------------------------------------------------------ seeding

    def add_user(self, user_id: int, username: str, name: str | None = None) -> None:
        with self.lock:
            self.users[user_id] = {"id": user_id, "username": username, "name": name or username}

    def set_file(self, path: str, content: str, branch: str = "main") -> None:
        """Put a file on a branch as a seed commit (``"seed": True`` in ``commits``).

        A missing branch is first created from the default branch."""
        with self.lock:
            if branch not in self.branches:
                self._create_branch(branch, self.default_branch)
            tree = dict(self.branches[branch])
            action = "update" if path in tree else "create"
            tree[path] = content
            self._new_commit(
                branch,
                tree,
                f"seed {path}",
                parents=[self.heads[branch]],
                actions=[{"action": action, "file_path": path}],
                seed=True,
            )

    def delete_file(self, path: str, branch: str = "main") -> None:
        with self.lock:
            tree = dict(self.branches[branch])
            if tree.pop(path, None) is not None:
                self._new_commit(
                    branch,
                    tree,
                    f"seed: delete {path}",
                    parents=[self.heads[branch]],
                    actions=[{"action": "delete", "file_path": path}],
                    seed=True,
                )

    def file(self, path: str, branch: str = "main") -> str | None:
        with self.lock:
            return self.branches.get(branch, {}).get(path)

    def add_label(self, name: str, color: str = "#428BCA", description: str = "") -> None:
        with self.lock:
            if self._find_label(name) is None:
                self._store_label(name, color, description)

    def add_issue(
        self,
        title: str,
        description: str | None = None,
        *,
        labels: Iterable[str] = (),
        state: str = "opened",
        confidential: bool = False,
        assignee_ids: Iterable[int] = (),
    ) -> dict[str, Any]:
        """Store an issue as if created earlier (not logged in ``requests``)."""
        with self.lock:
            issue = self._create_issue(
                {
                    "title": title,
                    "description": description,
                    "labels": list(labels),
                    "confidential": confidential,
                    "assignee_ids": list(assignee_ids),
                }
            )
            if state == "closed":
                self._set_issuable_state(issue, "close")
            return issue

    def add_merge_request(
        self,
        source_branch: str,
        title: str,
        description: str | None = None,
        *,
        target_branch: str | None = None,
        labels: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Store an open merge request (the source branch must exist)."""
        with self.lock:
            return self._create_mr(
                {
                    "source_branch": source_branch,
                    "target_branch": target_branch or self.default_branch,
                    "title": title,
                    "description": description,
                    "labels": list(labels),
                }
            )

    def issue(self, iid: int) -> dict[str, Any] | None:
        with self.lock:
            return next((i for i in self.issues if i["iid"] == iid), None)

    def merge_request(self, iid: int) -> dict[str, Any] | None:
        with self.lock:
            return next((m for m in self.merge_requests if m["iid"] == iid), None)

    # ------------------------------------------------------------------ request log

    def writes(self) -> list[RequestRecord]:
        with self.lock:
            return [r for r in self.requests if r.method in WRITE_METHODS]

    def reads(self) -> list[RequestRecord]:
        with self.lock:
            return [r for r in self.requests if r.method in READ_METHODS]

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # ------------------------------------------------------------------ faults

    def add_fault(
        self,
        *,
        kind: str,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        status: int = 500,
        after_commit: bool = False,
        skip: int = 0,
    ) -> None:
        """Fail the next ``times`` matching requests (-1: every one).

        kind "status" answers ``status`` with ``{"message": "<status> <reason>"}``; kind
        "drop" closes the connection without answering. ``path`` is a regex searched in the
        raw and in the percent-decoded request path. With ``after_commit`` the request is
        carried out first (the issue / note / commit is stored) and then fails. ``skip``
        lets that many matching requests through unharmed first (to hit the N-th one)."""
        if kind not in {"status", "drop"}:
            raise ValueError(f"unknown fault kind {kind!r}")
        if times == 0 or times < -1:
            raise ValueError("times must be positive or -1")
        if skip < 0:
            raise ValueError("skip must not be negative")
        with self.lock:
            self._faults.append(
                _Fault(
                    kind=kind,
                    method=method.upper() if method else None,
                    path=re.compile(path) if path is not None else None,
                    times=times,
                    status=status,
                    after_commit=after_commit,
                    skip=skip,
                )
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self.lock:
            return len(self._faults)

    def _take_fault(self, method: str, raw_path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, raw_path):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: _Fault) -> _Response | None:
        if fault.kind == "drop":
            return None
        try:
            reason = HTTPStatus(fault.status).phrase
        except ValueError:
            reason = "Error"
        return _Response(fault.status, {"message": f"{fault.status} {reason}"})

    # ------------------------------------------------------------------ dump / load

    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            state = {
                "version": 1,
                "project": {
                    "id": self.project_id,
                    "path_with_namespace": self.project_path,
                    "default_branch": self.default_branch,
                },
                "next_id": self._next_id,
                "next_label_id": self._next_label_id,
                "next_iid": dict(self._next_iid),
                "commit_counter": self._commit_counter,
                "users": [self.users[k] for k in sorted(self.users)],
                "issues": self.issues,
                "merge_requests": self.merge_requests,
                "labels": self.labels,
                "branches": self.branches,
                "heads": self.heads,
                "commits": self.commits,
                "trees": self._trees,
            }
            return cast(dict[str, Any], json.loads(json.dumps(state)))

    def load_state(self, data: dict[str, Any]) -> None:
        """Replace the state by ``data`` (a ``dump_state`` result, or a hand-written subset:
        missing keys keep a fresh server's defaults, missing counters are derived)."""
        data = json.loads(json.dumps(data))
        with self.lock:
            self._reset_state()
            for user in data.get("users", []):
                self.users[int(user["id"])] = {
                    "id": int(user["id"]),
                    "username": user["username"],
                    "name": user.get("name") or user["username"],
                }
            self.labels = list(data.get("labels", []))
            for label in self.labels:
                label.setdefault("id", 0)
                label.setdefault("color", DEFAULT_LABEL_COLOR)
                label.setdefault("description", None)
            if "branches" in data:
                self.branches = {b: dict(files) for b, files in data["branches"].items()}
                self.heads = dict(data.get("heads", {}))
                self.commits = list(data.get("commits", []))
                self._trees = {k: dict(v) for k, v in data.get("trees", {}).items()}
                for branch, files in self.branches.items():
                    head = self.heads.get(branch)
                    if head is None or head not in self._trees:
                        self._new_commit(branch, dict(files), "seed", parents=[], seed=True)
            if self.default_branch not in self.branches:
                self._new_commit(self.default_branch, {}, "Initial commit", parents=[], seed=True)
            self.issues = list(data.get("issues", []))
            self.merge_requests = list(data.get("merge_requests", []))
            ids = [0]
            for kind, records in (("issue", self.issues), ("merge_request", self.merge_requests)):
                for record in records:
                    self._normalize_issuable(record, kind)
                    self._ensure_labels(record["labels"])
                    ids.append(int(record["id"]))
                    ids.extend(int(n["id"]) for n in record["notes"])
                iids = [int(r["iid"]) for r in records] or [0]
                self._next_iid[kind] = max(
                    int(data.get("next_iid", {}).get(kind, 0)), max(iids) + 1
                )
            self._next_id = max(int(data.get("next_id", 0)), max(ids) + 1)
            label_ids = [int(label["id"]) for label in self.labels] or [0]
            self._next_label_id = max(int(data.get("next_label_id", 0)), max(label_ids) + 1)
            for label in self.labels:
                if not label["id"]:
                    label["id"] = self._next_label_id
                    self._next_label_id += 1
            self._commit_counter = max(
                int(data.get("commit_counter", 0)), self._commit_counter, len(self.commits)
            )

    def _normalize_issuable(self, record: dict[str, Any], kind: str) -> None:
        if "id" not in record:
            record["id"] = self._take_id()
        if "iid" not in record:
            record["iid"] = self._take_iid(kind)
        now = self._now()
        record.setdefault("project_id", self.project_id)
        record.setdefault("title", "")
        record.setdefault("description", None)
        record.setdefault("state", "opened")
        record["labels"] = sorted(_as_list(record.get("labels")))
        record.setdefault("assignee_ids", [])
        record.setdefault("author_id", BOT_USER_ID)
        record.setdefault("created_at", now)
        record.setdefault("updated_at", record["created_at"])
        record.setdefault("closed_at", None)
        record.setdefault("closed_by_id", None)
        record.setdefault("discussion_locked", None)
        record.setdefault("notes", [])
        if kind == "issue":
            record.setdefault("confidential", False)
            record.setdefault("due_date", None)
        else:
            record.setdefault("source_branch", "")
            record.setdefault("target_branch", self.default_branch)
            record.setdefault("merged_at", None)
            record.setdefault("merged_by_id", None)
            record.setdefault("merge_commit_sha", None)
            record.setdefault("force_remove_source_branch", False)
            record.setdefault("squash", False)
        record["assignees"] = self._assignee_briefs(record["assignee_ids"])
        record.setdefault("web_url", "")
        for note in record["notes"]:
            note.setdefault("system", False)
            note.setdefault("author_id", BOT_USER_ID)
            note.setdefault("created_at", now)
            note.setdefault("updated_at", note["created_at"])
            note.setdefault("internal", False)
            note.setdefault("noteable_id", record["id"])
            note.setdefault("noteable_iid", record["iid"])
            note.setdefault("noteable_type", "Issue" if kind == "issue" else "MergeRequest")

    # ------------------------------------------------------------------ request processing

    def _process(
        self, method: str, target: str, headers: Any, body_bytes: bytes
    ) -> _Response | None:
        split = urlsplit(target)
        raw_path = split.path
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query = parse_qs(split.query, keep_blank_values=True)
        with self.lock:
            try:
                body = _parse_body(headers.get("Content-Type", ""), body_bytes)
            except (ValueError, UnicodeDecodeError):
                response = _Response(400, {"error": "request body is not valid JSON"})
                self._log(method, raw_path, query, response, body_bytes.decode("latin-1"))
                return response
            if not self._authorized(headers, query):
                response = _Response(401, {"message": "401 Unauthorized"})
                self._log(method, raw_path, query, response, body)
                return response
            fault = self._take_fault(method, raw_path)
            if fault is not None and not fault.after_commit:
                faulted = self._fault_response(fault)
                self._log(method, raw_path, query, faulted, body, fault.kind)
                return faulted
            params = _flatten_params(query)
            if isinstance(body, dict):
                for key, value in body.items():
                    params[key[:-2] if key.endswith("[]") else key] = value
            request = _Request(method, raw_path, pairs, query, params, body)
            response = self._dispatch(request)
            if fault is not None:
                faulted = self._fault_response(fault)
                self._log(method, raw_path, query, faulted, body, fault.kind)
                return faulted
            self._log(method, raw_path, query, response, body)
            return response

    def _log(
        self,
        method: str,
        raw_path: str,
        query: dict[str, list[str]],
        response: _Response | None,
        body: Any,
        fault: str | None = None,
    ) -> None:
        self.requests.append(
            RequestRecord(
                method=method,
                path=raw_path,
                query=query,
                status=response.status if response is not None else 0,
                body=body,
                fault=fault,
            )
        )

    def _authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        if headers.get("PRIVATE-TOKEN") == self.token:
            return True
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Bearer ") and authorization[7:].strip() == self.token:
            return True
        return any(query.get(key, [""])[-1] == self.token for key in ("private_token",))

    def _dispatch(self, req: _Request) -> _Response:
        segments = req.raw_path.split("/")
        if req.raw_path.startswith(API_PREFIX + "/"):
            parts = [unquote(s) for s in segments[3:]]
        else:
            return _Response(404, {"message": "404 Not Found"})
        method = "GET" if req.method == "HEAD" else req.method
        path_matched = False
        for route_method, pattern, handler in self._routes:
            captured = self._match(pattern, parts)
            if captured is None:
                continue
            path_matched = True
            if route_method != method:
                continue
            try:
                return handler(req, captured)
            except _ApiError as err:
                return _Response(err.status, err.payload)
            except Exception as err:
                self.errors.append(traceback.format_exc())
                return _Response(501, {"message": f"fake GitLab internal error: {err!r}"})
        if path_matched:
            return _Response(405, {"message": "405 Method Not Allowed"})
        return _Response(404, {"message": "404 Not Found"})

    @staticmethod
    def _match(pattern: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
        if len(pattern) != len(parts):
            return None
        captured: dict[str, str] = {}
        for expected, actual in zip(pattern, parts, strict=True):
            if expected.startswith(":"):
                if not actual:
                    return None
                captured[expected[1:]] = actual
            elif expected != actual:
                return None
        return captured

    def _build_routes(self) -> list[tuple[str, tuple[str, ...], Handler]]:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "version", self._h_version),
            ("GET", "user", self._h_current_user),
            ("GET", "users", self._h_list_users),
            ("GET", "users/:uid", self._h_get_user),
            ("GET", "projects/:pid", self._h_get_project),
            # issues
            ("GET", "projects/:pid/issues", self._h_list_issues),
            ("POST", "projects/:pid/issues", self._h_create_issue),
            ("GET", "projects/:pid/issues/:iid", self._h_get_issue),
            ("PUT", "projects/:pid/issues/:iid", self._h_update_issue),
            ("DELETE", "projects/:pid/issues/:iid", self._h_delete_issue),
            ("GET", "projects/:pid/issues/:iid/notes", self._h_list_notes),
            ("POST", "projects/:pid/issues/:iid/notes", self._h_create_note),
            ("GET", "projects/:pid/issues/:iid/notes/:nid", self._h_get_note),
            ("PUT", "projects/:pid/issues/:iid/notes/:nid", self._h_update_note),
            ("DELETE", "projects/:pid/issues/:iid/notes/:nid", self._h_delete_note),
            # merge requests
            ("GET", "projects/:pid/merge_requests", self._h_list_mrs),
            ("POST", "projects/:pid/merge_requests", self._h_create_mr),
            ("GET", "projects/:pid/merge_requests/:iid", self._h_get_mr),
            ("PUT", "projects/:pid/merge_requests/:iid", self._h_update_mr),
            ("DELETE", "projects/:pid/merge_requests/:iid", self._h_delete_mr),
            ("PUT", "projects/:pid/merge_requests/:iid/merge", self._h_merge_mr),
            ("GET", "projects/:pid/merge_requests/:iid/notes", self._h_list_notes),
            ("POST", "projects/:pid/merge_requests/:iid/notes", self._h_create_note),
            ("GET", "projects/:pid/merge_requests/:iid/notes/:nid", self._h_get_note),
            ("PUT", "projects/:pid/merge_requests/:iid/notes/:nid", self._h_update_note),
            ("DELETE", "projects/:pid/merge_requests/:iid/notes/:nid", self._h_delete_note),
            # labels
            ("GET", "projects/:pid/labels", self._h_list_labels),
            ("POST", "projects/:pid/labels", self._h_create_label),
            ("PUT", "projects/:pid/labels", self._h_update_label),
            ("GET", "projects/:pid/labels/:label", self._h_get_label),
            ("PUT", "projects/:pid/labels/:label", self._h_update_label),
            ("DELETE", "projects/:pid/labels/:label", self._h_delete_label),
            # repository
            ("GET", "projects/:pid/repository/branches", self._h_list_branches),
            ("POST", "projects/:pid/repository/branches", self._h_create_branch),
            ("GET", "projects/:pid/repository/branches/:branch", self._h_get_branch),
            ("DELETE", "projects/:pid/repository/branches/:branch", self._h_delete_branch),
            ("GET", "projects/:pid/repository/files/:file", self._h_get_file),
            ("POST", "projects/:pid/repository/files/:file", self._h_create_file),
            ("PUT", "projects/:pid/repository/files/:file", self._h_update_file),
            ("DELETE", "projects/:pid/repository/files/:file", self._h_delete_file),
            ("GET", "projects/:pid/repository/files/:file/raw", self._h_get_raw_file),
            ("GET", "projects/:pid/repository/tree", self._h_tree),
            ("GET", "projects/:pid/repository/commits", self._h_list_commits),
            ("POST", "projects/:pid/repository/commits", self._h_create_commit),
            ("GET", "projects/:pid/repository/commits/:sha", self._h_get_commit),
        ]
        return [(m, tuple(p.split("/")), h) for m, p, h in table]

    # ------------------------------------------------------------------ common bits

    def _project(self, p: dict[str, str]) -> None:
        if p["pid"] not in (str(self.project_id), self.project_path):
            raise _not_found("Project")

    def _paginate(self, req: _Request, items: list[Any]) -> _Response:
        per_page = _as_int(req.params.get("per_page")) or DEFAULT_PER_PAGE
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        page = max(_as_int(req.params.get("page")) or 1, 1)
        total = len(items)
        total_pages = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        next_page = page + 1 if page < total_pages else None
        prev_page = page - 1 if 1 < page <= total_pages + 1 else None
        base_pairs = [(k, v) for k, v in req.query_pairs if k not in {"page", "per_page"}]

        def link(target: int) -> str:
            query = urlencode([*base_pairs, ("page", str(target)), ("per_page", str(per_page))])
            return f"{self.url}{req.raw_path}?{query}"

        links: list[str] = []
        if prev_page is not None:
            links.append(f'<{link(prev_page)}>; rel="prev"')
        if next_page is not None:
            links.append(f'<{link(next_page)}>; rel="next"')
        links.append(f'<{link(1)}>; rel="first"')
        links.append(f'<{link(total_pages)}>; rel="last"')
        headers = [
            ("X-Page", str(page)),
            ("X-Per-Page", str(per_page)),
            ("X-Total", str(total)),
            ("X-Total-Pages", str(total_pages)),
            ("X-Next-Page", str(next_page) if next_page else ""),
            ("X-Prev-Page", str(prev_page) if prev_page else ""),
            ("Link", ", ".join(links)),
        ]
        return _Response(200, chunk, headers=headers)

    def _user_brief(self, user_id: int | None) -> dict[str, Any] | None:
        if user_id is None or user_id not in self.users:
            return None
        user = self.users[user_id]
        return {
            "id": user["id"],
            "username": user["username"],
            "name": user["name"],
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{self.url}/{user['username']}",
        }

    def _assignee_briefs(self, ids: list[int]) -> list[dict[str, Any]]:
        return [
            {"id": u["id"], "username": u["username"], "name": u["name"]}
            for u in (self.users[i] for i in ids if i in self.users)
        ]

    def _assignees_from(self, params: dict[str, Any]) -> list[int] | None:
        """Assignee ids from ``assignee_ids``/``assignee_id``; None when neither given.
        Unknown user ids are dropped, 0 clears (as GitLab does)."""
        if "assignee_ids" in params:
            raw = params["assignee_ids"]
            ids = [int(x) for x in raw] if isinstance(raw, list) else _as_int_list(raw)
        elif "assignee_id" in params:
            single = _as_int(params["assignee_id"])
            ids = [single] if single else []
        else:
            return None
        out: list[int] = []
        for user_id in ids:
            if user_id in self.users and user_id not in out:
                out.append(user_id)
        return out

    def _find_label(self, name_or_id: str) -> dict[str, Any] | None:
        for label in self.labels:
            if label["name"] == name_or_id or str(label["id"]) == name_or_id:
                return label
        return None

    def _store_label(self, name: str, color: str, description: str | None) -> dict[str, Any]:
        label = {
            "id": self._next_label_id,
            "name": name,
            "color": color,
            "description": description or None,
            "priority": None,
        }
        self._next_label_id += 1
        self.labels.append(label)
        return label

    def _ensure_labels(self, names: list[str]) -> None:
        for name in names:
            if self._find_label(name) is None:
                self._store_label(name, DEFAULT_LABEL_COLOR, None)

    def _normalize_labels(self, value: Any) -> list[str]:
        names = _as_list(value)
        self._ensure_labels(names)
        return sorted(names)

    def _filter_issuables(
        self, records: list[dict[str, Any]], params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        items = list(records)
        state = str(params.get("state") or "all")
        if state != "all":
            items = [r for r in items if r["state"] == state]
        if params.get("labels") not in (None, ""):
            wanted = _as_list(params["labels"])
            lowered = [w.lower() for w in wanted]
            if lowered == ["none"]:
                items = [r for r in items if not r["labels"]]
            elif lowered == ["any"]:
                items = [r for r in items if r["labels"]]
            else:
                items = [r for r in items if all(w in r["labels"] for w in wanted)]
        if "iids" in params:
            iids = set(_as_int_list(params["iids"]))
            items = [r for r in items if r["iid"] in iids]
        if params.get("search"):
            needle = str(params["search"]).lower()
            fields = _as_list(params.get("in")) or ["title", "description"]
            items = [r for r in items if any(needle in str(r.get(f) or "").lower() for f in fields)]
        if "confidential" in params:
            flag = _as_bool(params["confidential"])
            items = [r for r in items if bool(r.get("confidential")) == flag]
        if params.get("assignee_id") not in (None, ""):
            raw = str(params["assignee_id"]).lower()
            if raw == "none":
                items = [r for r in items if not r["assignee_ids"]]
            elif raw == "any":
                items = [r for r in items if r["assignee_ids"]]
            else:
                items = [r for r in items if _as_int(raw) in r["assignee_ids"]]
        if params.get("author_id") not in (None, ""):
            author = _as_int(params["author_id"])
            items = [r for r in items if r["author_id"] == author]
        for branch_key in ("source_branch", "target_branch"):
            if params.get(branch_key):
                items = [r for r in items if r.get(branch_key) == params[branch_key]]
        for time_key, column, after in (
            ("created_after", "created_at", True),
            ("created_before", "created_at", False),
            ("updated_after", "updated_at", True),
            ("updated_before", "updated_at", False),
        ):
            bound = _parse_time(params.get(time_key))
            if bound is not None:
                items = [
                    r
                    for r in items
                    if (stamp := _parse_time(r[column])) is not None
                    and (stamp >= bound if after else stamp <= bound)
                ]
        order_by = str(params.get("order_by") or "created_at")
        if order_by not in {"created_at", "updated_at", "title"}:
            order_by = "created_at"
        descending = str(params.get("sort") or "desc").lower() != "asc"

        def sort_key(record: dict[str, Any]) -> tuple[str, int]:
            value = str(record.get(order_by) or "")
            return (value.lower() if order_by == "title" else value, int(record["id"]))

        items.sort(key=sort_key, reverse=descending)
        return items

    def _apply_label_changes(self, record: dict[str, Any], params: dict[str, Any]) -> bool:
        labels = list(record["labels"])
        if "labels" in params:
            labels = _as_list(params["labels"])
        for name in _as_list(params.get("add_labels")):
            if name not in labels:
                labels.append(name)
        removed = set(_as_list(params.get("remove_labels")))
        labels = sorted(name for name in labels if name not in removed)
        self._ensure_labels(labels)
        if labels != record["labels"]:
            record["labels"] = labels
            return True
        return False

    def _set_issuable_state(self, record: dict[str, Any], event: str) -> bool:
        if event == "close" and record["state"] == "opened":
            record["state"] = "closed"
            record["closed_at"] = self._now()
            record["closed_by_id"] = BOT_USER_ID
            return True
        if event == "reopen" and record["state"] == "closed":
            record["state"] = "opened"
            record["closed_at"] = None
            record["closed_by_id"] = None
            return True
        return False

    def _update_common(self, record: dict[str, Any], params: dict[str, Any]) -> bool:
        changed = False
        if "title" in params:
            title = str(params["title"] or "").strip()
            if not title:
                raise _bad_request({"title": ["can't be blank"]})
            if title != record["title"]:
                record["title"] = title
                changed = True
        if "description" in params and params["description"] != record["description"]:
            record["description"] = params["description"]
            changed = True
        if self._apply_label_changes(record, params):
            changed = True
        assignees = self._assignees_from(params)
        if assignees is not None and assignees != record["assignee_ids"]:
            record["assignee_ids"] = assignees
            record["assignees"] = self._assignee_briefs(assignees)
            changed = True
        if "discussion_locked" in params:
            record["discussion_locked"] = _as_bool(params["discussion_locked"])
            changed = True
        if "state_event" in params:
            event = str(params["state_event"])
            if event not in {"close", "reopen"}:
                raise _invalid("state_event")
            if self._set_issuable_state(record, event):
                changed = True
        return changed

    # ------------------------------------------------------------------ users & project

    def _render_user(self, user_id: int) -> dict[str, Any]:
        brief = self._user_brief(user_id)
        assert brief is not None
        return {**brief, "bot": user_id == BOT_USER_ID, "is_admin": False}

    def _h_version(self, req: _Request, p: dict[str, str]) -> _Response:
        return _Response(200, {"version": "17.11.0-fake", "revision": "fake"})

    def _h_current_user(self, req: _Request, p: dict[str, str]) -> _Response:
        return _Response(200, self._render_user(BOT_USER_ID))

    def _h_list_users(self, req: _Request, p: dict[str, str]) -> _Response:
        users = [self.users[k] for k in sorted(self.users)]
        username = req.params.get("username")
        if username is not None:
            users = [u for u in users if u["username"].lower() == str(username).lower()]
        search = req.params.get("search")
        if search:
            needle = str(search).lower()
            users = [u for u in users if needle in u["username"].lower() + u["name"].lower()]
        return self._paginate(req, [self._render_user(u["id"]) for u in users])

    def _h_get_user(self, req: _Request, p: dict[str, str]) -> _Response:
        user_id = _as_int(p["uid"])
        if user_id is None or user_id not in self.users:
            raise _not_found("User")
        return _Response(200, self._render_user(user_id))

    def _render_project(self) -> dict[str, Any]:
        namespace, _, name = self.project_path.rpartition("/")
        return {
            "id": self.project_id,
            "name": name,
            "path": name,
            "path_with_namespace": self.project_path,
            "name_with_namespace": self.project_path.replace("/", " / "),
            "namespace": {
                "id": 2,
                "name": namespace,
                "path": namespace,
                "kind": "group",
                "full_path": namespace,
            },
            "description": None,
            "default_branch": self.default_branch,
            "visibility": "private",
            "archived": False,
            "web_url": self.web_url,
            "http_url_to_repo": f"{self.web_url}.git",
            "ssh_url_to_repo": f"git@127.0.0.1:{self.project_path}.git",
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "created_at": self.commits[0]["created_at"] if self.commits else self._now(),
            "_links": {
                "self": f"{self.api_url}/projects/{self.project_id}",
                "issues": f"{self.api_url}/projects/{self.project_id}/issues",
                "merge_requests": f"{self.api_url}/projects/{self.project_id}/merge_requests",
                "repo_branches": f"{self.api_url}/projects/{self.project_id}/repository/branches",
                "labels": f"{self.api_url}/projects/{self.project_id}/labels",
            },
        }

    def _h_get_project(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        return _Response(200, self._render_project())

    # ------------------------------------------------------------------ issues

    def _render_issue(self, issue: dict[str, Any]) -> dict[str, Any]:
        iid = issue["iid"]
        assignees = [self._user_brief(i) for i in issue["assignee_ids"] if i in self.users]
        api = f"{self.api_url}/projects/{self.project_id}/issues/{iid}"
        return {
            "id": issue["id"],
            "iid": iid,
            "project_id": self.project_id,
            "title": issue["title"],
            "description": issue["description"],
            "state": issue["state"],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "closed_by": self._user_brief(issue["closed_by_id"]),
            "labels": list(issue["labels"]),
            "milestone": None,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": self._user_brief(issue["author_id"]),
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": sum(1 for n in issue["notes"] if not n["system"]),
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": issue.get("due_date"),
            "confidential": bool(issue["confidential"]),
            "discussion_locked": issue["discussion_locked"],
            "web_url": f"{self.web_url}/-/issues/{iid}",
            "references": {
                "short": f"#{iid}",
                "relative": f"#{iid}",
                "full": f"{self.project_path}#{iid}",
            },
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
            "task_completion_status": {"count": 0, "completed_count": 0},
            "_links": {
                "self": api,
                "notes": f"{api}/notes",
                "award_emoji": f"{api}/award_emoji",
                "project": f"{self.api_url}/projects/{self.project_id}",
            },
        }

    def _create_issue(self, params: dict[str, Any]) -> dict[str, Any]:
        title = params.get("title")
        if title is None:
            raise _missing("title")
        if not str(title).strip():
            raise _bad_request({"title": ["can't be blank"]})
        now = self._now()
        iid = self._take_iid("issue")
        assignees = self._assignees_from(params) or []
        issue: dict[str, Any] = {
            "id": self._take_id(),
            "iid": iid,
            "project_id": self.project_id,
            "title": str(title).strip(),
            "description": params.get("description"),
            "state": "opened",
            "labels": self._normalize_labels(params.get("labels")),
            "confidential": bool(_as_bool(params.get("confidential"))),
            "assignee_ids": assignees,
            "assignees": self._assignee_briefs(assignees),
            "author_id": BOT_USER_ID,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "closed_by_id": None,
            "discussion_locked": None,
            "due_date": params.get("due_date"),
            "web_url": f"{self.web_url}/-/issues/{iid}" if self._httpd else "",
            "notes": [],
        }
        self.issues.append(issue)
        return issue

    def _issue(self, p: dict[str, str]) -> dict[str, Any]:
        self._project(p)
        iid = _as_int(p["iid"])
        for issue in self.issues:
            if issue["iid"] == iid:
                return issue
        raise _not_found("Issue")

    def _h_list_issues(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        items = self._filter_issuables(self.issues, req.params)
        return self._paginate(req, [self._render_issue(i) for i in items])

    def _h_create_issue(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        return _Response(201, self._render_issue(self._create_issue(req.params)))

    def _h_get_issue(self, req: _Request, p: dict[str, str]) -> _Response:
        return _Response(200, self._render_issue(self._issue(p)))

    def _h_update_issue(self, req: _Request, p: dict[str, str]) -> _Response:
        issue = self._issue(p)
        if not any(key in req.params for key in _ISSUE_UPDATE_KEYS):
            raise _ApiError(
                400,
                {
                    "error": ", ".join(_ISSUE_UPDATE_KEYS) + " are missing, at least one "
                    "parameter must be provided"
                },
            )
        changed = self._update_common(issue, req.params)
        if "confidential" in req.params:
            flag = bool(_as_bool(req.params["confidential"]))
            if flag != issue["confidential"]:
                issue["confidential"] = flag
                changed = True
        if "due_date" in req.params:
            issue["due_date"] = req.params["due_date"]
            changed = True
        if changed:
            issue["updated_at"] = self._now()
        return _Response(200, self._render_issue(issue))

    def _h_delete_issue(self, req: _Request, p: dict[str, str]) -> _Response:
        issue = self._issue(p)
        self.issues.remove(issue)
        return _Response(204)

    # ------------------------------------------------------------------ notes

    def _noteable(self, req: _Request, p: dict[str, str]) -> tuple[dict[str, Any], str]:
        if "/merge_requests/" in req.raw_path:
            return self._mr(p), "MergeRequest"
        return self._issue(p), "Issue"

    def _render_note(self, note: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": note["id"],
            "type": None,
            "body": note["body"],
            "attachment": None,
            "author": self._user_brief(note["author_id"]),
            "created_at": note["created_at"],
            "updated_at": note["updated_at"],
            "system": bool(note["system"]),
            "noteable_id": note["noteable_id"],
            "noteable_type": note["noteable_type"],
            "noteable_iid": note["noteable_iid"],
            "project_id": self.project_id,
            "resolvable": False,
            "confidential": bool(note["internal"]),
            "internal": bool(note["internal"]),
            "commands_changes": {},
        }

    def _note(self, req: _Request, p: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        parent, _ = self._noteable(req, p)
        note_id = _as_int(p["nid"])
        for note in parent["notes"]:
            if note["id"] == note_id:
                return parent, note
        raise _not_found("Note")

    def _h_list_notes(self, req: _Request, p: dict[str, str]) -> _Response:
        parent, _ = self._noteable(req, p)
        order_by = "updated_at" if req.params.get("order_by") == "updated_at" else "created_at"
        descending = str(req.params.get("sort") or "desc").lower() != "asc"
        notes = sorted(parent["notes"], key=lambda n: (n[order_by], n["id"]), reverse=descending)
        return self._paginate(req, [self._render_note(n) for n in notes])

    def _h_create_note(self, req: _Request, p: dict[str, str]) -> _Response:
        parent, noteable_type = self._noteable(req, p)
        body = req.params.get("body")
        if body is None:
            raise _missing("body")
        if not str(body).strip():
            raise _bad_request({"note": ["can't be blank"]})
        now = self._now()
        internal = bool(_as_bool(req.params.get("internal", req.params.get("confidential"))))
        note = {
            "id": self._take_id(),
            "body": str(body),
            "author_id": BOT_USER_ID,
            "created_at": now,
            "updated_at": now,
            "system": False,
            "internal": internal,
            "noteable_id": parent["id"],
            "noteable_iid": parent["iid"],
            "noteable_type": noteable_type,
        }
        parent["notes"].append(note)
        parent["updated_at"] = now
        return _Response(201, self._render_note(note))

    def _h_get_note(self, req: _Request, p: dict[str, str]) -> _Response:
        _, note = self._note(req, p)
        return _Response(200, self._render_note(note))

    def _h_update_note(self, req: _Request, p: dict[str, str]) -> _Response:
        _, note = self._note(req, p)
        body = req.params.get("body")
        if body is None:
            raise _missing("body")
        if not str(body).strip():
            raise _bad_request({"note": ["can't be blank"]})
        if str(body) != note["body"]:
            note["body"] = str(body)
            note["updated_at"] = self._now()
        return _Response(200, self._render_note(note))

    def _h_delete_note(self, req: _Request, p: dict[str, str]) -> _Response:
        parent, note = self._note(req, p)
        parent["notes"].remove(note)
        return _Response(204)

    # ------------------------------------------------------------------ merge requests

    def _render_mr(self, mr: dict[str, Any]) -> dict[str, Any]:
        iid = mr["iid"]
        assignees = [self._user_brief(i) for i in mr["assignee_ids"] if i in self.users]
        source_head = self.heads.get(mr["source_branch"])
        return {
            "id": mr["id"],
            "iid": iid,
            "project_id": self.project_id,
            "title": mr["title"],
            "description": mr["description"],
            "state": mr["state"],
            "created_at": mr["created_at"],
            "updated_at": mr["updated_at"],
            "merged_at": mr["merged_at"],
            "merged_by": self._user_brief(mr["merged_by_id"]),
            "merge_user": self._user_brief(mr["merged_by_id"]),
            "closed_at": mr["closed_at"],
            "closed_by": self._user_brief(mr["closed_by_id"]),
            "target_branch": mr["target_branch"],
            "source_branch": mr["source_branch"],
            "source_project_id": self.project_id,
            "target_project_id": self.project_id,
            "labels": list(mr["labels"]),
            "author": self._user_brief(mr["author_id"]),
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "reviewers": [],
            "draft": mr["title"].lower().startswith(("draft:", "[draft]", "(draft)")),
            "work_in_progress": False,
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged" if mr["state"] == "opened" else "unchecked",
            "detailed_merge_status": "mergeable" if mr["state"] == "opened" else "not_open",
            "has_conflicts": False,
            "sha": source_head,
            "merge_commit_sha": mr["merge_commit_sha"],
            "squash": bool(mr["squash"]),
            "squash_commit_sha": None,
            "discussion_locked": mr["discussion_locked"],
            "should_remove_source_branch": None,
            "force_remove_source_branch": bool(mr["force_remove_source_branch"]),
            "user_notes_count": sum(1 for n in mr["notes"] if not n["system"]),
            "upvotes": 0,
            "downvotes": 0,
            "web_url": f"{self.web_url}/-/merge_requests/{iid}",
            "references": {
                "short": f"!{iid}",
                "relative": f"!{iid}",
                "full": f"{self.project_path}!{iid}",
            },
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
        }

    def _mr(self, p: dict[str, str]) -> dict[str, Any]:
        self._project(p)
        iid = _as_int(p["iid"])
        for mr in self.merge_requests:
            if mr["iid"] == iid:
                return mr
        raise _not_found("Merge Request")

    def _create_mr(self, params: dict[str, Any]) -> dict[str, Any]:
        missing = [k for k in ("source_branch", "target_branch", "title") if not params.get(k)]
        if missing:
            raise _missing(*missing)
        source, target = str(params["source_branch"]), str(params["target_branch"])
        if source == target:
            raise _ApiError(
                422, {"message": ["You can't use same project/branch for source and target"]}
            )
        errors = [
            f'{side} branch "{name}" does not exist'
            for side, name in (("Source", source), ("Target", target))
            if name not in self.branches
        ]
        if errors:
            raise _bad_request(errors)
        for other in self.merge_requests:
            if (
                other["state"] == "opened"
                and other["source_branch"] == source
                and other["target_branch"] == target
            ):
                raise _ApiError(
                    409,
                    {
                        "message": [
                            "Another open merge request already exists for this source "
                            f"branch: !{other['iid']}"
                        ]
                    },
                )
        now = self._now()
        iid = self._take_iid("merge_request")
        assignees = self._assignees_from(params) or []
        mr: dict[str, Any] = {
            "id": self._take_id(),
            "iid": iid,
            "project_id": self.project_id,
            "title": str(params["title"]).strip(),
            "description": params.get("description"),
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "labels": self._normalize_labels(params.get("labels")),
            "assignee_ids": assignees,
            "assignees": self._assignee_briefs(assignees),
            "author_id": BOT_USER_ID,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "closed_by_id": None,
            "merged_at": None,
            "merged_by_id": None,
            "merge_commit_sha": None,
            "force_remove_source_branch": bool(_as_bool(params.get("remove_source_branch"))),
            "squash": bool(_as_bool(params.get("squash"))),
            "discussion_locked": None,
            "web_url": f"{self.web_url}/-/merge_requests/{iid}" if self._httpd else "",
            "notes": [],
        }
        self.merge_requests.append(mr)
        return mr

    def _h_list_mrs(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        items = self._filter_issuables(self.merge_requests, req.params)
        return self._paginate(req, [self._render_mr(m) for m in items])

    def _h_create_mr(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        return _Response(201, self._render_mr(self._create_mr(req.params)))

    def _h_get_mr(self, req: _Request, p: dict[str, str]) -> _Response:
        return _Response(200, self._render_mr(self._mr(p)))

    def _h_update_mr(self, req: _Request, p: dict[str, str]) -> _Response:
        mr = self._mr(p)
        if not any(key in req.params for key in _MR_UPDATE_KEYS):
            raise _ApiError(
                400,
                {
                    "error": ", ".join(_MR_UPDATE_KEYS) + " are missing, at least one "
                    "parameter must be provided"
                },
            )
        if mr["state"] == "merged" and "state_event" in req.params:
            raise _ApiError(422, {"message": "Cannot change the state of a merged merge request"})
        changed = self._update_common(mr, req.params)
        if "target_branch" in req.params and req.params["target_branch"] != mr["target_branch"]:
            if str(req.params["target_branch"]) not in self.branches:
                raise _bad_request(
                    [f'Target branch "{req.params["target_branch"]}" does not exist']
                )
            mr["target_branch"] = str(req.params["target_branch"])
            changed = True
        if "remove_source_branch" in req.params:
            mr["force_remove_source_branch"] = bool(_as_bool(req.params["remove_source_branch"]))
            changed = True
        if "squash" in req.params:
            mr["squash"] = bool(_as_bool(req.params["squash"]))
            changed = True
        if changed:
            mr["updated_at"] = self._now()
        return _Response(200, self._render_mr(mr))

    def _h_delete_mr(self, req: _Request, p: dict[str, str]) -> _Response:
        mr = self._mr(p)
        self.merge_requests.remove(mr)
        return _Response(204)

    def _h_merge_mr(self, req: _Request, p: dict[str, str]) -> _Response:
        """Merge: the target branch gets the source branch's tree (no 3-way merge)."""
        mr = self._mr(p)
        if mr["state"] != "opened":
            raise _ApiError(405, {"message": "405 Method Not Allowed"})
        source, target = mr["source_branch"], mr["target_branch"]
        if source not in self.branches or target not in self.branches:
            raise _ApiError(422, {"message": "Branch cannot be merged"})
        sha = req.params.get("sha")
        if sha and sha != self.heads[source]:
            raise _ApiError(409, {"message": "SHA does not match HEAD of source branch"})
        message = str(
            req.params.get("merge_commit_message")
            or f"Merge branch '{source}' into '{target}'\n\n{mr['title']}\n\n"
            f"See merge request {self.project_path}!{mr['iid']}"
        )
        commit = self._new_commit(
            target,
            dict(self.branches[source]),
            message,
            parents=[self.heads[target], self.heads[source]],
            actions=[],
        )
        now = self._now()
        mr.update(
            state="merged",
            merged_at=now,
            merged_by_id=BOT_USER_ID,
            updated_at=now,
            merge_commit_sha=commit["id"],
        )
        remove = _as_bool(req.params.get("should_remove_source_branch"))
        if (remove or mr["force_remove_source_branch"]) and source != self.default_branch:
            self.branches.pop(source, None)
            self.heads.pop(source, None)
        return _Response(200, self._render_mr(mr))

    # ------------------------------------------------------------------ labels

    def _render_label(self, label: dict[str, Any]) -> dict[str, Any]:
        name = label["name"]

        def count(records: list[dict[str, Any]], state: str) -> int:
            return sum(1 for r in records if r["state"] == state and name in r["labels"])

        return {
            "id": label["id"],
            "name": name,
            "color": label["color"],
            "text_color": "#FFFFFF",
            "description": label.get("description"),
            "description_html": label.get("description") or "",
            "open_issues_count": count(self.issues, "opened"),
            "closed_issues_count": count(self.issues, "closed"),
            "open_merge_requests_count": count(self.merge_requests, "opened"),
            "subscribed": False,
            "priority": label.get("priority"),
            "is_project_label": True,
        }

    def _h_list_labels(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        labels = sorted(self.labels, key=lambda lb: str(lb["name"]).lower())
        search = req.params.get("search")
        if search:
            labels = [lb for lb in labels if str(search).lower() in lb["name"].lower()]
        return self._paginate(req, [self._render_label(lb) for lb in labels])

    def _h_create_label(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        missing = [k for k in ("name", "color") if not req.params.get(k)]
        if missing:
            raise _missing(*missing)
        name = str(req.params["name"]).strip()
        if self._find_label(name) is not None:
            raise _ApiError(409, {"message": "Label already exists"})
        label = self._store_label(name, str(req.params["color"]), req.params.get("description"))
        if req.params.get("priority") is not None:
            label["priority"] = _as_int(req.params["priority"])
        return _Response(201, self._render_label(label))

    def _h_get_label(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        label = self._find_label(p["label"])
        if label is None:
            raise _not_found("Label")
        return _Response(200, self._render_label(label))

    def _h_update_label(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        key = p.get("label") or req.params.get("label_id") or req.params.get("name")
        if not key:
            raise _missing("name")
        label = self._find_label(str(key))
        if label is None:
            raise _not_found("Label")
        new_name = req.params.get("new_name")
        if new_name and new_name != label["name"]:
            if self._find_label(str(new_name)) is not None:
                raise _ApiError(409, {"message": "Label already exists"})
            old = label["name"]
            for record in [*self.issues, *self.merge_requests]:
                if old in record["labels"]:
                    record["labels"] = sorted(
                        str(new_name) if n == old else n for n in record["labels"]
                    )
            label["name"] = str(new_name)
        if req.params.get("color"):
            label["color"] = str(req.params["color"])
        if "description" in req.params:
            label["description"] = req.params["description"] or None
        if "priority" in req.params:
            label["priority"] = _as_int(req.params["priority"])
        return _Response(200, self._render_label(label))

    def _h_delete_label(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        label = self._find_label(p["label"])
        if label is None:
            raise _not_found("Label")
        self.labels.remove(label)
        for record in [*self.issues, *self.merge_requests]:
            if label["name"] in record["labels"]:
                record["labels"] = [n for n in record["labels"] if n != label["name"]]
        return _Response(204)

    # ------------------------------------------------------------------ repository

    def _new_commit(
        self,
        branch: str,
        tree: dict[str, str],
        message: str,
        *,
        parents: list[str],
        actions: list[dict[str, Any]] | None = None,
        seed: bool = False,
        author_name: str | None = None,
        author_email: str | None = None,
    ) -> dict[str, Any]:
        self._commit_counter += 1
        sha = _sha1(f"{self._commit_counter}\0{branch}\0{message}\0{sorted(tree.items())}")
        now = self._now()
        name = author_name or BOT_NAME
        email = author_email or f"{BOT_USERNAME}@noreply.example.com"
        commit: dict[str, Any] = {
            "id": sha,
            "short_id": sha[:8],
            "title": message.split("\n", 1)[0],
            "message": message,
            "author_name": name,
            "author_email": email,
            "authored_date": now,
            "committer_name": name,
            "committer_email": email,
            "committed_date": now,
            "created_at": now,
            "parent_ids": list(parents),
            "branch": branch,
            "actions": actions or [],
            "seed": seed,
        }
        self.commits.append(commit)
        self._trees[sha] = dict(tree)
        self.branches[branch] = dict(tree)
        self.heads[branch] = sha
        return commit

    def _render_commit(self, commit: dict[str, Any]) -> dict[str, Any]:
        hidden = {"branch", "actions", "seed"}
        out = {k: v for k, v in commit.items() if k not in hidden}
        changed = len(commit["actions"])
        out["web_url"] = f"{self.web_url}/-/commit/{commit['id']}"
        out["stats"] = {"additions": changed, "deletions": 0, "total": changed}
        out["status"] = None
        out["project_id"] = self.project_id
        out["trailers"] = {}
        out["extended_trailers"] = {}
        return out

    def _commit_by_sha(self, sha: str) -> dict[str, Any] | None:
        for commit in self.commits:
            if commit["id"] == sha or (len(sha) >= 7 and commit["id"].startswith(sha)):
                return commit
        return None

    def _resolve_ref(self, ref: str) -> tuple[dict[str, str], str] | None:
        """(tree, commit sha) for a branch name or a commit sha."""
        if ref in self.branches:
            return self.branches[ref], self.heads[ref]
        commit = self._commit_by_sha(ref)
        if commit is not None and commit["id"] in self._trees:
            return self._trees[commit["id"]], commit["id"]
        return None

    def _create_branch(self, branch: str, ref: str) -> None:
        resolved = self._resolve_ref(ref)
        if resolved is None:
            raise _bad_request(f"Invalid reference name: {ref}")
        tree, sha = resolved
        self.branches[branch] = dict(tree)
        self.heads[branch] = sha

    def _render_branch(self, name: str) -> dict[str, Any]:
        commit = self._commit_by_sha(self.heads[name])
        assert commit is not None
        return {
            "name": name,
            "commit": self._render_commit(commit),
            "merged": False,
            "protected": name == self.default_branch,
            "developers_can_push": False,
            "developers_can_merge": False,
            "can_push": True,
            "default": name == self.default_branch,
            "web_url": f"{self.web_url}/-/tree/{quote(name, safe='/')}",
        }

    def _h_list_branches(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        names = sorted(self.branches)
        search = req.params.get("search")
        if search:
            names = [n for n in names if str(search).lower() in n.lower()]
        return self._paginate(req, [self._render_branch(n) for n in names])

    def _h_create_branch(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        missing = [k for k in ("branch", "ref") if not req.params.get(k)]
        if missing:
            raise _missing(*missing)
        branch = str(req.params["branch"])
        if branch in self.branches:
            raise _bad_request("Branch already exists")
        self._create_branch(branch, str(req.params["ref"]))
        return _Response(201, self._render_branch(branch))

    def _h_get_branch(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        if p["branch"] not in self.branches:
            raise _not_found("Branch")
        return _Response(200, self._render_branch(p["branch"]))

    def _h_delete_branch(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        name = p["branch"]
        if name not in self.branches:
            raise _not_found("Branch")
        if name == self.default_branch:
            raise _bad_request("Cannot remove HEAD branch")
        del self.branches[name]
        del self.heads[name]
        return _Response(204)

    def _file_payload(self, path: str, ref: str) -> tuple[str, dict[str, Any]]:
        resolved = self._resolve_ref(ref)
        if resolved is None or path not in resolved[0]:
            raise _not_found("File")
        tree, sha = resolved
        content = tree[path]
        data = content.encode("utf-8")
        return content, {
            "file_name": path.rsplit("/", 1)[-1],
            "file_path": path,
            "size": len(data),
            "encoding": "base64",
            "content_sha256": hashlib.sha256(data).hexdigest(),
            "ref": ref,
            "blob_id": _blob_id(data),
            "commit_id": sha,
            "last_commit_id": sha,
            "execute_filemode": False,
            "content": base64.b64encode(data).decode("ascii"),
        }

    def _h_get_file(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        ref = req.params.get("ref")
        if not ref:
            raise _missing("ref")
        _, payload = self._file_payload(p["file"], str(ref))
        headers = [
            ("X-Gitlab-File-Name", quote(payload["file_name"])),
            ("X-Gitlab-File-Path", quote(payload["file_path"], safe="/")),
            ("X-Gitlab-Ref", quote(str(ref), safe="/")),
            ("X-Gitlab-Size", str(payload["size"])),
            ("X-Gitlab-Encoding", "base64"),
            ("X-Gitlab-Blob-Id", payload["blob_id"]),
            ("X-Gitlab-Commit-Id", payload["commit_id"]),
            ("X-Gitlab-Last-Commit-Id", payload["last_commit_id"]),
        ]
        return _Response(200, payload, headers=headers)

    def _h_get_raw_file(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        ref = str(req.params.get("ref") or self.default_branch)
        content, payload = self._file_payload(p["file"], ref)
        return _Response(
            200,
            raw=content.encode("utf-8"),
            content_type="text/plain; charset=utf-8",
            headers=[
                ("X-Gitlab-Blob-Id", payload["blob_id"]),
                ("X-Gitlab-Commit-Id", payload["commit_id"]),
                ("X-Gitlab-Size", str(payload["size"])),
            ],
        )

    def _single_file_commit(self, req: _Request, p: dict[str, str], action: str) -> None:
        self._project(p)
        needed = ["branch", "commit_message"] + (["content"] if action != "delete" else [])
        missing = [k for k in needed if req.params.get(k) is None]
        if missing:
            raise _missing(*missing)
        self._commit(
            branch=str(req.params["branch"]),
            start_branch=req.params.get("start_branch"),
            message=str(req.params["commit_message"]),
            actions=[
                {
                    "action": action,
                    "file_path": p["file"],
                    "content": req.params.get("content"),
                    "encoding": req.params.get("encoding"),
                }
            ],
            force=False,
            author_name=req.params.get("author_name"),
            author_email=req.params.get("author_email"),
        )

    def _h_create_file(self, req: _Request, p: dict[str, str]) -> _Response:
        self._single_file_commit(req, p, "create")
        return _Response(201, {"file_path": p["file"], "branch": req.params["branch"]})

    def _h_update_file(self, req: _Request, p: dict[str, str]) -> _Response:
        self._single_file_commit(req, p, "update")
        return _Response(200, {"file_path": p["file"], "branch": req.params["branch"]})

    def _h_delete_file(self, req: _Request, p: dict[str, str]) -> _Response:
        self._single_file_commit(req, p, "delete")
        return _Response(204)

    def _h_tree(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        ref = str(req.params.get("ref") or self.default_branch)
        resolved = self._resolve_ref(ref)
        if resolved is None:
            raise _not_found("Tree")
        tree = resolved[0]
        base = str(req.params.get("path") or "").strip("/")
        recursive = bool(_as_bool(req.params.get("recursive")))
        prefix = f"{base}/" if base else ""
        dirs: set[str] = set()
        blobs: list[str] = []
        for path in tree:
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            pieces = rest.split("/")
            for depth in range(1, len(pieces)):
                if recursive or depth == 1:
                    dirs.add(prefix + "/".join(pieces[:depth]))
            if recursive or len(pieces) == 1:
                blobs.append(path)
        if base and not dirs and not blobs:
            raise _not_found("Tree")
        entries = [
            {
                "id": _sha1(f"tree\0{d}"),
                "name": d.rsplit("/", 1)[-1],
                "type": "tree",
                "path": d,
                "mode": "040000",
            }
            for d in sorted(dirs)
        ] + [
            {
                "id": _blob_id(tree[b].encode("utf-8")),
                "name": b.rsplit("/", 1)[-1],
                "type": "blob",
                "path": b,
                "mode": "100644",
            }
            for b in sorted(blobs)
        ]
        return self._paginate(req, entries)

    def _h_list_commits(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        ref = str(req.params.get("ref_name") or self.default_branch)
        resolved = self._resolve_ref(ref)
        if resolved is None:
            raise _not_found("Tree")
        by_sha = {c["id"]: c for c in self.commits}
        seen: set[str] = set()
        pending = [resolved[1]]
        while pending:
            sha = pending.pop()
            if sha in seen or sha not in by_sha:
                continue
            seen.add(sha)
            pending.extend(by_sha[sha]["parent_ids"])
        chain = [c for c in reversed(self.commits) if c["id"] in seen]
        return self._paginate(req, [self._render_commit(c) for c in chain])

    def _h_get_commit(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        sha = self.heads.get(p["sha"], p["sha"])
        commit = self._commit_by_sha(sha)
        if commit is None:
            raise _not_found("Commit")
        return _Response(200, self._render_commit(commit))

    def _h_create_commit(self, req: _Request, p: dict[str, str]) -> _Response:
        self._project(p)
        missing = [k for k in ("branch", "commit_message", "actions") if not req.params.get(k)]
        if missing:
            raise _missing(*missing)
        actions = req.params["actions"]
        if not isinstance(actions, list):
            raise _invalid("actions")
        commit = self._commit(
            branch=str(req.params["branch"]),
            start_branch=req.params.get("start_branch") or req.params.get("start_sha"),
            message=str(req.params["commit_message"]),
            actions=actions,
            force=bool(_as_bool(req.params.get("force"))),
            author_name=req.params.get("author_name"),
            author_email=req.params.get("author_email"),
        )
        return _Response(201, self._render_commit(commit))

    def _commit(
        self,
        *,
        branch: str,
        start_branch: Any,
        message: str,
        actions: list[Any],
        force: bool,
        author_name: Any,
        author_email: Any,
    ) -> dict[str, Any]:
        start = str(start_branch) if start_branch else None
        if branch in self.branches and not (force and start):
            if start is not None and start != branch:
                raise _bad_request(
                    f"A branch called '{branch}' already exists. "
                    "Switch to that branch in order to make changes"
                )
            base_tree, parent = self.branches[branch], self.heads[branch]
        else:
            if start is None:
                raise _bad_request("You can only create or edit files when you are on a branch")
            resolved = self._resolve_ref(start)
            if resolved is None:
                raise _bad_request(f"Invalid reference name: {start}")
            base_tree, parent = resolved
        tree = dict(base_tree)
        for raw_action in actions:
            known = raw_action.get("last_commit_id") if isinstance(raw_action, dict) else None
            if known and raw_action.get("action") in ("update", "move", "delete"):
                path = str(raw_action.get("file_path") or "").lstrip("/")
                if self._last_commit_for(parent, path) != str(known):
                    raise _bad_request(
                        "You are attempting to update a file that has changed since you "
                        "started editing it."
                    )
        normalized: list[dict[str, Any]] = []
        for index, raw_action in enumerate(actions):
            if not isinstance(raw_action, dict):
                raise _invalid(f"actions[{index}]")
            normalized.append(self._apply_action(tree, index, raw_action))
        return self._new_commit(
            branch,
            tree,
            message,
            parents=[parent],
            actions=normalized,
            author_name=str(author_name) if author_name else None,
            author_email=str(author_email) if author_email else None,
        )

    def _last_commit_for(self, head: str, path: str) -> str | None:
        """The newest commit reachable from ``head`` (first parents) that changed ``path``, as
        the ``last_commit_id`` check of the commits API compares it."""
        sha: str | None = head
        while sha is not None:
            commit = self._commit_by_sha(sha)
            if commit is None:
                return None
            parents = commit["parent_ids"]
            before = self._trees.get(parents[0], {}) if parents else {}
            if self._trees.get(sha, {}).get(path) != before.get(path):
                return str(commit["id"])
            sha = parents[0] if parents else None
        return None

    @staticmethod
    def _apply_action(tree: dict[str, str], index: int, action: dict[str, Any]) -> dict[str, Any]:
        kind = action.get("action")
        if kind is None:
            raise _missing(f"actions[{index}][action]")
        if kind not in {"create", "update", "delete", "move", "chmod"}:
            raise _invalid(f"actions[{index}][action]")
        path = action.get("file_path")
        if not path:
            raise _missing(f"actions[{index}][file_path]")
        path = str(path).lstrip("/")
        content = action.get("content")
        if content is not None:
            content = str(content)
            if action.get("encoding") == "base64":
                content = base64.b64decode(content).decode("utf-8", "replace")
        if kind == "create":
            if path in tree:
                raise _bad_request("A file with this name already exists")
            tree[path] = content or ""
        elif kind == "update":
            if path not in tree:
                raise _bad_request("A file with this name doesn't exist")
            tree[path] = content or ""
        elif kind == "delete":
            if path not in tree:
                raise _bad_request("A file with this name doesn't exist")
            del tree[path]
        elif kind == "move":
            previous = str(action.get("previous_path") or "").lstrip("/")
            if not previous:
                raise _missing(f"actions[{index}][previous_path]")
            if previous not in tree:
                raise _bad_request("A file with this name doesn't exist")
            if path in tree and path != previous:
                raise _bad_request("A file with this name already exists")
            old = tree.pop(previous)
            tree[path] = old if content is None else content
        elif path not in tree:  # chmod
            raise _bad_request("A file with this name doesn't exist")
        out: dict[str, Any] = {"action": kind, "file_path": path}
        if content is not None:
            out["content"] = content
        if kind == "move":
            out["previous_path"] = str(action.get("previous_path")).lstrip("/")
        return out


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.gitlab_server",
        description="Serve a fake GitLab REST API v4 on 127.0.0.1 until SIGTERM/SIGINT.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="accepted access token")
    parser.add_argument("--project-id", type=int, default=7)
    parser.add_argument("--project-path", default="support/zendesk-orgs")
    parser.add_argument("--default-branch", default="main")
    parser.add_argument("--state-in", type=Path, help="load this JSON state at start")
    parser.add_argument("--state-out", type=Path, help="write the JSON state on shutdown")
    args = parser.parse_args(argv)

    server = FakeGitLab(
        port=args.port,
        token=args.token,
        project_id=args.project_id,
        project_path=args.project_path,
        default_branch=args.default_branch,
    )
    if args.state_in is not None:
        server.load_state(json.loads(args.state_in.read_text(encoding="utf-8")))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    try:
        if args.port_file is not None:
            partial = args.port_file.with_name(args.port_file.name + ".tmp")
            partial.write_text(f"{server.port}\n", encoding="utf-8")
            partial.replace(args.port_file)
        print(f"fake GitLab serving {server.url}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        if args.state_out is not None:
            args.state_out.write_text(
                json.dumps(server.dump_state(), indent=2, sort_keys=True) + "\n",
                encoding="utf-8",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
