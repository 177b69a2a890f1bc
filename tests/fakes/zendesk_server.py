"""A Zendesk-API-compatible HTTP server for tests, benchmarks and CI.

It serves the read-only part of the Zendesk Support REST API that the checker uses
(organizations, their users and memberships, organization fields and search) over real
HTTP on loopback, so the real zenpy client can be pointed at it with::

    ZENPY_FORCE_SCHEME=http ZENPY_FORCE_NETLOC=127.0.0.1:PORT

Besides the API it can inject faults (error statuses, 429s, slow answers, malformed
bodies, dropped connections), enforce a sliding one-minute rate limit, add latency and
record every request it saw.

``real_shapes=True`` (or ``FAKE_ZENDESK_REAL_SHAPES=1`` in the environment, or ``--real-shapes``)
answers the way real Zendesk does where it differs from the tidy default: links and ``url``s name
the account's canonical host (``canonical_host``), not the host that was called; the last cursor
page has ``has_more: false`` and still a ``links.next``, the first a ``links.prev``; 429s are
``text/plain``. Staff (``role``), suspended users and users without an email can be seeded in
either mode, and unset custom fields always come back as ``key: null``.

Run ``python -m tests.fakes.zendesk_server --help`` for the command-line server.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import math
import os
import re
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FAULT_KINDS", "FakeZendesk", "RequestRecord", "main"]

DEFAULT_TIMESTAMP = "2024-01-01T00:00:00Z"
MAX_PAGE_SIZE = 100
MAX_SHOW_MANY = 100
SEARCH_RESULT_CAP = 1000
RATE_WINDOW = 60.0
FAULT_KINDS = frozenset({"status", "429", "slow", "malformed", "html_error", "drop"})

_JSON = "application/json; charset=utf-8"
_API = "/api/v2"
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "RecordNotFound",
    409: "Conflict",
    422: "UnprocessableEntity",
    429: "APIRateLimitExceeded",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (or dropped: status 0)."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    time: float


@dataclass
class _Org:
    id: int
    name: str
    notes: str | None = ""
    details: str | None = ""
    external_id: str | None = None
    fields: dict[str, object] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    domain_names: list[str] = field(default_factory=list)
    group_id: int | None = None
    shared_tickets: bool = False
    shared_comments: bool = False
    created_at: str = DEFAULT_TIMESTAMP
    updated_at: str = DEFAULT_TIMESTAMP


@dataclass
class _User:
    id: int
    name: str
    email: str | None
    organization_id: int | None
    role: str = "end-user"
    membership_id: int | None = None
    suspended: bool = False
    created_at: str = DEFAULT_TIMESTAMP
    updated_at: str = DEFAULT_TIMESTAMP


@dataclass
class _OrgField:
    id: int
    key: str
    title: str
    type: str = "text"
    position: int = 0
    active: bool = True
    description: str = ""
    created_at: str = DEFAULT_TIMESTAMP
    updated_at: str = DEFAULT_TIMESTAMP


@dataclass
class _Fault:
    kind: str
    path: re.Pattern[str] | None
    method: str
    remaining: int
    status: int | None
    delay: float
    retry_after: float | None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class _HTTPError(Exception):
    """Raised by route handlers to answer with an error status and JSON body."""

    def __init__(self, status: int, payload: object) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


@dataclass(frozen=True)
class _Ctx:
    base: str  # scheme://host[:port] as the client addressed us (or the canonical host)
    path: str  # raw request path (with .json if the client sent it)
    query: dict[str, list[str]]
    real: bool = False  # answer in real Zendesk's shapes

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class _Term:
    key: str | None
    value: str
    negate: bool


_Handler = Callable[[_Ctx, re.Match[str]], object]


def _json_bytes(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _not_found() -> _HTTPError:
    return _HTTPError(404, {"error": "RecordNotFound", "description": "Not found"})


def _invalid_attribute(name: str, detail: str) -> _HTTPError:
    return _HTTPError(
        400,
        {
            "error": {
                "title": "Invalid attribute",
                "message": f"You passed an invalid value for the {name} attribute. {detail}",
            }
        },
    )


def _fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _encode_cursor(item_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{item_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, name: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "id":
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid_attribute(name, f"Invalid cursor {cursor!r}") from None


def _link(ctx: _Ctx, drop: tuple[str, ...], extra: dict[str, str]) -> str:
    params: list[tuple[str, str]] = [
        (key, value)
        for key, values in ctx.query.items()
        if key not in drop and not key.startswith("page[")
        for value in values
    ]
    params.extend(extra.items())
    return f"{ctx.base}{ctx.path}?{urlencode(params)}"


def _int_param(ctx: _Ctx, name: str, default: int) -> int:
    raw = ctx.first(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _invalid_attribute(name, f"Invalid parameter: {name} must be an integer") from None


def _uses_cursor(ctx: _Ctx) -> bool:
    return any(key in ctx.query for key in ("page[size]", "page[after]", "page[before]"))


def _cursor_page(ctx: _Ctx, items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Cursor pagination over items sorted by id, the way Zendesk's CBP answers."""
    size = _int_param(ctx, "page[size]", MAX_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid_attribute("page[size]", f"page[size] must be between 1 and {MAX_PAGE_SIZE}")
    after = ctx.first("page[after]")
    before = ctx.first("page[before]")
    backwards = False
    if after:
        start = _decode_cursor(after, "page[after]")
        page = [item for item in items if item["id"] > start][:size]
    elif before:
        end = _decode_cursor(before, "page[before]")
        page = [item for item in items if item["id"] < end][-size:]
        backwards = True
    else:
        page = items[:size]
    first_id = page[0]["id"] if page else None
    last_id = page[-1]["id"] if page else None
    more_after = last_id is not None and any(item["id"] > last_id for item in items)
    more_before = first_id is not None and any(item["id"] < first_id for item in items)
    after_cursor = _encode_cursor(last_id) if last_id is not None else None
    before_cursor = _encode_cursor(first_id) if first_id is not None else None
    size_param = {"page[size]": str(size)}
    return {
        key: page,
        "meta": {
            "has_more": more_before if backwards else more_after,
            "after_cursor": after_cursor,
            "before_cursor": before_cursor,
        },
        "links": {
            "prev": _link(ctx, (), {**size_param, "page[before]": before_cursor})
            if (more_before or ctx.real) and before_cursor
            else None,
            # Real Zendesk links the next page even from the last one: has_more decides.
            "next": _link(ctx, (), {**size_param, "page[after]": after_cursor})
            if (more_after or ctx.real) and after_cursor
            else None,
        },
    }


def _offset_page(
    ctx: _Ctx, items: list[dict[str, Any]], key: str, *, cap: int | None = None
) -> dict[str, Any]:
    """Offset pagination (page, per_page) with absolute next/previous URLs."""
    page = _int_param(ctx, "page", 1)
    if page < 1:
        raise _invalid_attribute("page", "Invalid parameter: page must be a positive integer")
    per_page = min(max(_int_param(ctx, "per_page", MAX_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    if cap is not None and page * per_page > cap:
        raise _HTTPError(
            422,
            {
                "error": "invalid",
                "description": "Invalid search: Requested response size was greater than "
                "Search Response Limits",
            },
        )
    total = len(items)
    chunk = items[(page - 1) * per_page : page * per_page]
    drop = ("page", "per_page")
    per = {"per_page": str(per_page)}
    return {
        key: chunk,
        "next_page": _link(ctx, drop, {"page": str(page + 1), **per})
        if page * per_page < total
        else None,
        "previous_page": _link(ctx, drop, {"page": str(page - 1), **per}) if page > 1 else None,
        "count": total,
    }


def _paginate(ctx: _Ctx, items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return _cursor_page(ctx, items, key) if _uses_cursor(ctx) else _offset_page(ctx, items, key)


def _tokenize(query: str) -> list[str]:
    tokens: list[str] = []
    buf: list[str] = []
    quoted = False
    for char in query:
        if char == '"':
            quoted = not quoted
            buf.append(char)
        elif char.isspace() and not quoted:
            if buf:
                tokens.append("".join(buf))
                buf = []
        else:
            buf.append(char)
    if buf:
        tokens.append("".join(buf))
    return tokens


def _parse_query(query: str) -> list[_Term]:
    terms: list[_Term] = []
    for token in _tokenize(query):
        negate = token.startswith("-") and len(token) > 1
        body = token[1:] if negate else token
        key: str | None = None
        match = re.match(r"([A-Za-z_][\w.\[\]-]*):(.*)\Z", body, re.DOTALL)
        if match:
            key, body = match.group(1).lower(), match.group(2)
        if len(body) >= 2 and body.startswith('"') and body.endswith('"'):
            body = body[1:-1]
        terms.append(_Term(key, body, negate))
    return terms


def _norm(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _is_set(value: object) -> bool:
    return value is not None and value != "" and value != [] and value is not False


def _value_matches(actual: object, pattern: str) -> bool:
    if pattern == "*":
        return _is_set(actual)
    if isinstance(actual, list):
        return any(_value_matches(item, pattern) for item in actual)
    wanted = pattern.lower()
    if wanted.endswith("*"):
        return _is_set(actual) and _norm(actual).startswith(wanted[:-1])
    return _norm(actual) == wanted


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeZendesk) -> None:
        self.fake = fake
        self._threads_lock = threading.Lock()
        self.handler_threads: set[threading.Thread] = set()
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN, which can be slow; we do not need it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fake-zendesk-conn",
            daemon=True,
        )
        with self._threads_lock:
            self.handler_threads.add(thread)
        thread.start()

    def process_request_thread(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._threads_lock:
                self.handler_threads.discard(threading.current_thread())

    def snapshot_threads(self) -> list[threading.Thread]:
        with self._threads_lock:
            return list(self.handler_threads)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.fake.errors.append(error)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeZendesk/1.0"
    disable_nagle_algorithm = True
    timeout = 30.0  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._register_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._unregister_connection(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: no access log on stderr."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        host = self.headers.get("Host") or f"{self.server.server_name}:{self.server.server_port}"
        response = self.server.fake._handle(
            self.command, self.path, f"http://{host}", self.headers.get("Authorization")
        )
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


class FakeZendesk:
    """In-process fake Zendesk: a ThreadingHTTPServer on 127.0.0.1 plus seeding helpers."""

    def __init__(
        self,
        *,
        port: int = 0,
        email: str = "bot@example.example",
        token: str = "test-token",  # noqa: S107 - a test credential
        oauth_token: str | None = None,
        rate_limit: int = 700,
        latency: float = 0.0,
        retry_after_on_429: bool = True,
        real_shapes: bool | None = None,
        canonical_host: str = "acme.zendesk.example",
    ) -> None:
        if rate_limit < 0:
            raise ValueError("rate_limit must be >= 0")
        self.host = "127.0.0.1"
        self.port = port
        self.email = email
        self.token = token
        self.oauth_token = oauth_token
        self.rate_limit = rate_limit
        self.latency = latency
        self.retry_after_on_429 = retry_after_on_429
        if real_shapes is None:
            real_shapes = os.environ.get("FAKE_ZENDESK_REAL_SHAPES", "") not in ("", "0")
        self.real_shapes = real_shapes
        self.canonical_host = canonical_host
        self.requests: list[RequestRecord] = []
        self.rate_limited = 0
        self.max_in_flight = 0
        self.connections_accepted = 0
        self.errors: list[BaseException] = []
        self._requested_port = port
        self._lock = threading.RLock()
        self._in_flight = 0
        self._window: deque[float] = deque()
        self._faults: list[_Fault] = []
        self._orgs: dict[int, _Org] = {}
        self._users: dict[int, _User] = {}
        self._fields: dict[str, _OrgField] = {}
        self._next_membership_id = 1
        self._next_field_id = 1001
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._stopping = False
        self._stop_event = threading.Event()
        self._routes: list[tuple[re.Pattern[str], _Handler, bool]] = [
            (re.compile(r"/organizations"), self._r_orgs, True),
            (re.compile(r"/organizations/show_many"), self._r_orgs_show_many, True),
            (re.compile(r"/organizations/count"), self._r_orgs_count, False),
            (re.compile(r"/organizations/(\d+)"), self._r_org, False),
            (re.compile(r"/organizations/(\d+)/users"), self._r_org_users, True),
            (
                re.compile(r"/organizations/(\d+)/organization_memberships"),
                self._r_org_memberships,
                True,
            ),
            (re.compile(r"/organization_memberships"), self._r_memberships, True),
            (re.compile(r"/organization_memberships/(\d+)"), self._r_membership, False),
            (re.compile(r"/organization_fields"), self._r_fields, True),
            (re.compile(r"/organization_fields/(\d+)"), self._r_field, False),
            (re.compile(r"/users/(\d+)"), self._r_user, False),
            (
                re.compile(r"/users/(\d+)/organization_memberships"),
                self._r_user_memberships,
                True,
            ),
            (re.compile(r"/search"), self._r_search, True),
            (re.compile(r"/search/export"), self._r_search_export, True),
        ]

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeZendesk:
        if self._server is not None:
            raise RuntimeError("FakeZendesk is already running")
        self._stopping = False
        self._stop_event.clear()
        server = _Server((self.host, self._requested_port), self)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-zendesk-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # no more accepts
        with self._lock:
            self._stopping = True
            connections = list(self._connections)
        self._stop_event.set()  # wake sleeping handlers (latency, slow faults)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for handler_thread in server.snapshot_threads():
            handler_thread.join(timeout=10)
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeZendesk:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _register_connection(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections_accepted += 1
            if not self._stopping:
                self._connections.add(conn)
                return
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)

    def _unregister_connection(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    # ------------------------------------------------------------------ seeding
    def add_org(
        self,
        org_id: int,
        name: str,
        *,
        notes: str | None = "",
        details: str | None = "",
        fields: dict[str, object] | None = None,
        external_id: str | None = None,
        tags: list[str] | None = None,
        domain_names: list[str] | None = None,
        group_id: int | None = None,
        created_at: str = DEFAULT_TIMESTAMP,
        updated_at: str = DEFAULT_TIMESTAMP,
    ) -> None:
        with self._lock:
            self._orgs[int(org_id)] = _Org(
                id=int(org_id),
                name=name,
                notes=notes,
                details=details,
                external_id=external_id,
                fields=dict(fields or {}),
                tags=list(tags or []),
                domain_names=list(domain_names or []),
                group_id=group_id,
                created_at=created_at,
                updated_at=updated_at,
            )

    def add_user(
        self,
        user_id: int,
        name: str,
        email: str | None,
        org_id: int | None,
        *,
        role: str = "end-user",
        suspended: bool = False,
        created_at: str = DEFAULT_TIMESTAMP,
        updated_at: str = DEFAULT_TIMESTAMP,
    ) -> None:
        with self._lock:
            old = self._users.get(int(user_id))
            membership_id: int | None = None
            if org_id is not None:
                if old is not None and old.organization_id == org_id and old.membership_id:
                    membership_id = old.membership_id
                else:
                    membership_id = self._next_membership_id
                    self._next_membership_id += 1
            self._users[int(user_id)] = _User(
                id=int(user_id),
                name=name,
                email=email,
                organization_id=org_id,
                role=role,
                membership_id=membership_id,
                suspended=suspended,
                created_at=created_at,
                updated_at=updated_at,
            )

    def add_org_field(self, key: str, title: str, type_: str = "text") -> None:
        with self._lock:
            old = self._fields.get(key)
            if old is not None:
                old.title, old.type = title, type_
                return
            self._fields[key] = _OrgField(
                id=self._next_field_id, key=key, title=title, type=type_, position=len(self._fields)
            )
            self._next_field_id += 1

    def remove_org(self, org_id: int) -> None:
        """Delete an org; like Zendesk, its members lose the membership."""
        with self._lock:
            self._orgs.pop(int(org_id), None)
            for user in self._users.values():
                if user.organization_id == org_id:
                    user.organization_id = None
                    user.membership_id = None

    def load_state(self, data: Mapping[str, Any]) -> None:
        """Replace all data with ``{"orgs": [...], "users": [...], "organization_fields": [...]}``.

        Orgs take Zendesk's keys (``organization_fields`` or ``fields`` for values).
        """
        with self._lock:
            self._orgs.clear()
            self._users.clear()
            self._fields.clear()
            self._next_membership_id = 1
            self._next_field_id = 1001
            for raw in data.get("organization_fields", []):
                self.add_org_field(
                    str(raw["key"]), str(raw.get("title", raw["key"])), str(raw.get("type", "text"))
                )
                loaded = self._fields[str(raw["key"])]
                if "id" in raw:
                    loaded.id = int(raw["id"])
                    self._next_field_id = max(self._next_field_id, loaded.id + 1)
                loaded.active = bool(raw.get("active", True))
                loaded.description = str(raw.get("description") or "")
            for raw in data.get("orgs", data.get("organizations", [])):
                self.add_org(
                    int(raw["id"]),
                    str(raw["name"]),
                    notes=raw.get("notes", ""),
                    details=raw.get("details", ""),
                    fields=dict(raw.get("organization_fields") or raw.get("fields") or {}),
                    external_id=raw.get("external_id"),
                    tags=list(raw.get("tags") or []),
                    domain_names=list(raw.get("domain_names") or []),
                    group_id=raw.get("group_id"),
                    created_at=str(raw.get("created_at") or DEFAULT_TIMESTAMP),
                    updated_at=str(raw.get("updated_at") or DEFAULT_TIMESTAMP),
                )
                org = self._orgs[int(raw["id"])]
                org.shared_tickets = bool(raw.get("shared_tickets", False))
                org.shared_comments = bool(raw.get("shared_comments", False))
            for raw in data.get("users", []):
                org_id = raw.get("organization_id", raw.get("org_id"))
                self.add_user(
                    int(raw["id"]),
                    str(raw["name"]),
                    None if raw.get("email") is None else str(raw["email"]),
                    None if org_id is None else int(org_id),
                    role=str(raw.get("role", "end-user")),
                    suspended=bool(raw.get("suspended", False)),
                    created_at=str(raw.get("created_at") or DEFAULT_TIMESTAMP),
                    updated_at=str(raw.get("updated_at") or DEFAULT_TIMESTAMP),
                )

    def dump_state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "orgs": [
                    {
                        "id": org.id,
                        "name": org.name,
                        "notes": org.notes,
                        "details": org.details,
                        "external_id": org.external_id,
                        "organization_fields": dict(org.fields),
                        "tags": list(org.tags),
                        "domain_names": list(org.domain_names),
                        "group_id": org.group_id,
                        "shared_tickets": org.shared_tickets,
                        "shared_comments": org.shared_comments,
                        "created_at": org.created_at,
                        "updated_at": org.updated_at,
                    }
                    for org in sorted(self._orgs.values(), key=lambda o: o.id)
                ],
                "users": [
                    {
                        "id": user.id,
                        "name": user.name,
                        "email": user.email,
                        "organization_id": user.organization_id,
                        "role": user.role,
                        "suspended": user.suspended,
                        "created_at": user.created_at,
                        "updated_at": user.updated_at,
                    }
                    for user in sorted(self._users.values(), key=lambda u: u.id)
                ],
                "organization_fields": [
                    {
                        "id": f.id,
                        "key": f.key,
                        "title": f.title,
                        "type": f.type,
                        "active": f.active,
                        "description": f.description,
                    }
                    for f in sorted(self._fields.values(), key=lambda f: f.position)
                ],
            }

    # ------------------------------------------------------------------ knobs
    def add_fault(
        self,
        *,
        kind: str,
        path: str | None = None,
        method: str = "GET",
        times: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        """Queue a fault; ``path`` is a regex searched in the request path, ``times=-1``
        means forever, ``method="*"`` matches any method."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times == 0 or times < -1:
            raise ValueError("times must be a positive count or -1 (forever)")
        with self._lock:
            self._faults.append(
                _Fault(
                    kind=kind,
                    path=re.compile(path) if path is not None else None,
                    method=method.upper(),
                    remaining=times,
                    status=status,
                    delay=delay,
                    retry_after=retry_after,
                )
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_rate_limit(self, per_minute: int) -> None:
        if per_minute < 0:
            raise ValueError("rate limit must be >= 0")
        with self._lock:
            self.rate_limit = per_minute

    def set_latency(self, seconds: float) -> None:
        with self._lock:
            self.latency = seconds

    def count(self, path_regex: str = "") -> int:
        pattern = re.compile(path_regex)
        with self._lock:
            return sum(1 for record in self.requests if pattern.search(record.path))

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------ request path
    def _handle(self, method: str, raw_path: str, base: str, auth: str | None) -> _Response:
        arrived = time.monotonic()
        split = urlsplit(raw_path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            try:
                response = self._respond(method, path, query, base, auth)
            except Exception as error:  # a bug in the fake: answer 500, keep serving
                self.errors.append(error)
                response = _Response(500, _json_bytes({"error": "FakeZendeskInternalError"}))
            with self._lock:
                self.requests.append(
                    RequestRecord(
                        method=method,
                        path=path,
                        query=query,
                        status=0 if response.drop else response.status,
                        time=arrived,
                    )
                )
                if response.status == 429 and not response.drop:
                    self.rate_limited += 1
            return response
        finally:
            with self._lock:
                self._in_flight -= 1

    def _rate_headers(self, *, is_list: bool, now: float, limited: bool = False) -> dict[str, str]:
        with self._lock:
            self._expire(now)
            limit = self.rate_limit
            remaining = 0 if limited else max(limit - len(self._window), 0)
            reset = self._seconds_until_slot(now)
        headers = {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining)}
        if is_list:
            headers["ratelimit-limit"] = str(limit)
            headers["ratelimit-remaining"] = str(remaining)
            headers["ratelimit-reset"] = str(reset)
        return headers

    def _expire(self, now: float) -> None:
        while self._window and self._window[0] <= now - RATE_WINDOW:
            self._window.popleft()

    def _seconds_until_slot(self, now: float) -> int:
        if not self._window:
            return int(RATE_WINDOW)
        return max(1, math.ceil(self._window[0] + RATE_WINDOW - now))

    def _admit(self, now: float) -> bool:
        with self._lock:
            self._expire(now)
            if len(self._window) >= self.rate_limit:
                return False
            self._window.append(now)
            return True

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining == 0:
                    continue
                if fault.method not in ("*", method):
                    continue
                if fault.path is not None and not fault.path.search(path):
                    continue
                if fault.remaining > 0:
                    fault.remaining -= 1
                return fault
        return None

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop_event.wait(seconds)

    def _route(self, method: str, path: str) -> tuple[_Handler, re.Match[str], bool] | None:
        if method != "GET":
            return None
        if path.endswith(".json"):
            path = path[: -len(".json")]
        path = path.rstrip("/")
        if not path.startswith(_API + "/"):
            return None
        rest = path[len(_API) :]
        for pattern, handler, is_list in self._routes:
            match = pattern.fullmatch(rest)
            if match:
                return handler, match, is_list
        return None

    def _authorized(self, auth: str | None) -> bool:
        if not auth:
            return False
        scheme, _, credentials = auth.partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer":
            return self.oauth_token is not None and credentials == self.oauth_token
        if scheme != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, secret = decoded.partition(":")
        return bool(sep) and user.lower() == f"{self.email}/token".lower() and secret == self.token

    def _respond(
        self, method: str, path: str, query: dict[str, list[str]], base: str, auth: str | None
    ) -> _Response:
        self._sleep(self.latency)
        route = self._route(method, path)
        is_list = route is not None and route[2]

        fault = self._take_fault(method, path)
        if fault is not None:
            if fault.kind == "slow":
                self._sleep(fault.delay)
            else:
                return self._fault_response(fault, is_list)

        now = time.monotonic()
        if not self._admit(now):
            headers = self._rate_headers(is_list=is_list, now=now, limited=True)
            if self.retry_after_on_429:
                with self._lock:
                    headers["Retry-After"] = str(self._seconds_until_slot(now))
            return self._too_many(headers)

        headers = self._rate_headers(is_list=is_list, now=now)
        if not self._authorized(auth):
            return _Response(
                401, _json_bytes({"error": "Couldn't authenticate you"}), headers=headers
            )
        if route is None:
            body = {"error": "InvalidEndpoint", "description": "Not found"}
            return _Response(404, _json_bytes(body), headers=headers)
        handler, match, _ = route
        if self.real_shapes:
            base = f"https://{self.canonical_host}"
        ctx = _Ctx(base=base, path=path, query=query, real=self.real_shapes)
        try:
            with self._lock:
                payload = handler(ctx, match)
        except _HTTPError as error:
            return _Response(error.status, _json_bytes(error.payload), headers=headers)
        return _Response(200, _json_bytes(payload), headers=headers)

    def _too_many(self, headers: dict[str, str]) -> _Response:
        text = "Number of allowed API requests per minute exceeded"
        if self.real_shapes:  # real Zendesk answers a 429 in plain text
            return _Response(429, text.encode(), "text/plain; charset=utf-8", headers)
        body = {"error": "APIRateLimitExceeded", "description": text}
        return _Response(429, _json_bytes(body), headers=headers)

    def _fault_response(self, fault: _Fault, is_list: bool) -> _Response:
        now = time.monotonic()
        headers = self._rate_headers(is_list=is_list, now=now, limited=fault.kind == "429")
        if fault.retry_after is not None:
            headers["Retry-After"] = _fmt_seconds(fault.retry_after)
        if fault.kind == "drop":
            return _Response(0, drop=True)
        if fault.kind == "429":
            return self._too_many(headers)
        if fault.kind == "malformed":
            return _Response(200, b'{"organizations": [{"id": 1, "name": "trunc', headers=headers)
        status = fault.status or 500
        if fault.kind == "html_error":
            html = (
                f"<!DOCTYPE html><html><head><title>{status} Error</title></head>"
                f"<body><h1>{status} {_REASONS.get(status, 'Error')}</h1></body></html>"
            )
            return _Response(
                status, html.encode(), content_type="text/html; charset=utf-8", headers=headers
            )
        # kind == "status"
        if status == 404:
            body = {"error": "RecordNotFound", "description": "Not found"}
        else:
            error = _REASONS.get(status, f"HTTP{status}")
            body = {"error": error, "description": f"Injected fault: HTTP {status}"}
        return _Response(status, _json_bytes(body), headers=headers)

    # ------------------------------------------------------------------ JSON views
    def _org_json(self, org: _Org, base: str) -> dict[str, Any]:
        values: dict[str, object] = dict.fromkeys(self._fields)
        values.update(org.fields)
        return {
            "url": f"{base}{_API}/organizations/{org.id}.json",
            "id": org.id,
            "name": org.name,
            "shared_tickets": org.shared_tickets,
            "shared_comments": org.shared_comments,
            "external_id": org.external_id,
            "created_at": org.created_at,
            "updated_at": org.updated_at,
            "domain_names": list(org.domain_names),
            "details": org.details,
            "notes": org.notes,
            "group_id": org.group_id,
            "tags": list(org.tags),
            "organization_fields": values,
        }

    def _user_json(self, user: _User, base: str) -> dict[str, Any]:
        return {
            "id": user.id,
            "url": f"{base}{_API}/users/{user.id}.json",
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "organization_id": user.organization_id,
            "active": True,
            "verified": True,
            "suspended": user.suspended,
            "external_id": None,
            "tags": [],
            "user_fields": {},
            "created_at": user.created_at,
            "updated_at": user.updated_at,
        }

    def _membership_json(self, user: _User, base: str) -> dict[str, Any]:
        return {
            "id": user.membership_id,
            "url": f"{base}{_API}/organization_memberships/{user.membership_id}.json",
            "user_id": user.id,
            "organization_id": user.organization_id,
            "default": True,
            "organization_name": self._orgs[user.organization_id].name
            if user.organization_id in self._orgs
            else None,
            "view_tickets": False,
            "created_at": user.created_at,
            "updated_at": user.updated_at,
        }

    def _field_json(self, f: _OrgField, base: str) -> dict[str, Any]:
        return {
            "id": f.id,
            "url": f"{base}{_API}/organization_fields/{f.id}.json",
            "key": f.key,
            "type": f.type,
            "title": f.title,
            "raw_title": f.title,
            "description": f.description,
            "raw_description": f.description,
            "position": f.position,
            "active": f.active,
            "system": False,
            "regexp_for_validation": None,
            "custom_field_options": [] if f.type == "dropdown" else None,
            "created_at": f.created_at,
            "updated_at": f.updated_at,
        }

    def _sorted_orgs(self) -> list[_Org]:
        return [self._orgs[key] for key in sorted(self._orgs)]

    def _members(self) -> list[_User]:
        return [
            self._users[key]
            for key in sorted(self._users)
            if self._users[key].membership_id is not None
        ]

    # ------------------------------------------------------------------ routes
    def _r_orgs(self, ctx: _Ctx, match: re.Match[str]) -> object:
        orgs = [self._org_json(org, ctx.base) for org in self._sorted_orgs()]
        return _paginate(ctx, orgs, "organizations")

    def _r_orgs_count(self, ctx: _Ctx, match: re.Match[str]) -> object:
        return {"count": {"value": len(self._orgs), "refreshed_at": DEFAULT_TIMESTAMP}}

    def _r_orgs_show_many(self, ctx: _Ctx, match: re.Match[str]) -> object:
        raw_ids = ctx.first("ids")
        raw_external = ctx.first("external_ids")
        if raw_ids is not None:
            name, values = "ids", [v.strip() for v in raw_ids.split(",") if v.strip()]
        elif raw_external is not None:
            name, values = "external_ids", [v.strip() for v in raw_external.split(",") if v.strip()]
        else:
            raise _HTTPError(
                400, {"error": "InvalidValue", "description": "ids or external_ids is required"}
            )
        if len(values) > MAX_SHOW_MANY:
            raise _HTTPError(
                400,
                {
                    "error": "TooManyValues",
                    "description": f"Parameter {name} cannot specify more than "
                    f"{MAX_SHOW_MANY} values",
                    "max_count": MAX_SHOW_MANY,
                },
            )
        found: list[_Org] = []
        if name == "ids":
            for value in dict.fromkeys(values):
                if value.isdigit() and int(value) in self._orgs:
                    found.append(self._orgs[int(value)])
        else:
            wanted = {value.lower() for value in values}
            found = [
                org
                for org in self._sorted_orgs()
                if org.external_id is not None and org.external_id.lower() in wanted
            ]
        return {
            "organizations": [self._org_json(org, ctx.base) for org in found],
            "next_page": None,
            "previous_page": None,
            "count": len(found),
        }

    def _org_or_404(self, match: re.Match[str]) -> _Org:
        org = self._orgs.get(int(match.group(1)))
        if org is None:
            raise _not_found()
        return org

    def _r_org(self, ctx: _Ctx, match: re.Match[str]) -> object:
        return {"organization": self._org_json(self._org_or_404(match), ctx.base)}

    def _r_org_users(self, ctx: _Ctx, match: re.Match[str]) -> object:
        org = self._org_or_404(match)
        users = [
            self._user_json(self._users[key], ctx.base)
            for key in sorted(self._users)
            if self._users[key].organization_id == org.id
        ]
        return _paginate(ctx, users, "users")

    def _r_org_memberships(self, ctx: _Ctx, match: re.Match[str]) -> object:
        org = self._org_or_404(match)
        items = [self._membership_json(u, ctx.base) for u in self._members()]
        items = [m for m in items if m["organization_id"] == org.id]
        items.sort(key=lambda m: int(m["id"]))
        return _paginate(ctx, items, "organization_memberships")

    def _r_memberships(self, ctx: _Ctx, match: re.Match[str]) -> object:
        items = sorted(
            (self._membership_json(u, ctx.base) for u in self._members()),
            key=lambda m: int(m["id"]),
        )
        return _paginate(ctx, items, "organization_memberships")

    def _r_membership(self, ctx: _Ctx, match: re.Match[str]) -> object:
        wanted = int(match.group(1))
        for user in self._members():
            if user.membership_id == wanted:
                return {"organization_membership": self._membership_json(user, ctx.base)}
        raise _not_found()

    def _r_user_memberships(self, ctx: _Ctx, match: re.Match[str]) -> object:
        user = self._users.get(int(match.group(1)))
        if user is None:
            raise _not_found()
        items = [self._membership_json(user, ctx.base)] if user.membership_id else []
        return _paginate(ctx, items, "organization_memberships")

    def _r_user(self, ctx: _Ctx, match: re.Match[str]) -> object:
        user = self._users.get(int(match.group(1)))
        if user is None:
            raise _not_found()
        return {"user": self._user_json(user, ctx.base)}

    def _r_fields(self, ctx: _Ctx, match: re.Match[str]) -> object:
        items = [
            self._field_json(f, ctx.base)
            for f in sorted(self._fields.values(), key=lambda f: f.position)
        ]
        if _uses_cursor(ctx):
            items.sort(key=lambda item: int(item["id"]))
        return _paginate(ctx, items, "organization_fields")

    def _r_field(self, ctx: _Ctx, match: re.Match[str]) -> object:
        wanted = int(match.group(1))
        for f in self._fields.values():
            if f.id == wanted:
                return {"organization_field": self._field_json(f, ctx.base)}
        raise _not_found()

    def _r_search(self, ctx: _Ctx, match: re.Match[str]) -> object:
        query = (ctx.first("query") or "").strip()
        if not query:
            raise _HTTPError(
                400, {"error": "invalid", "description": "Invalid search: query is required"}
            )
        terms = _parse_query(query)
        types = {"organization", "user"}
        filter_type = ctx.first("filter[type]")
        if filter_type:
            types &= {filter_type.lower()}
        for term in terms:
            if term.key == "type":
                types &= {term.value.lower()}
        terms = [term for term in terms if term.key != "type"]
        results: list[dict[str, Any]] = []
        if "organization" in types:
            for org in self._sorted_orgs():
                if all(self._org_term(org, term) != term.negate for term in terms):
                    results.append({**self._org_json(org, ctx.base), "result_type": "organization"})
        if "user" in types:
            for key in sorted(self._users):
                user = self._users[key]
                if all(self._user_term(user, term) != term.negate for term in terms):
                    results.append({**self._user_json(user, ctx.base), "result_type": "user"})
        body = _offset_page(ctx, results, "results", cap=SEARCH_RESULT_CAP)
        body["facets"] = None
        return body

    def _r_search_export(self, ctx: _Ctx, match: re.Match[str]) -> object:
        """Export search: cursor pages without plain search's 1,000-result cap; it needs
        ``filter[type]`` and answers organizations only here."""
        query = (ctx.first("query") or "").strip()
        if not query or (ctx.first("filter[type]") or "").lower() != "organization":
            raise _HTTPError(
                400,
                {"error": "invalid", "description": "query and filter[type] are required"},
            )
        terms = [t for t in _parse_query(query) if t.key != "type"]
        results = [
            {**self._org_json(org, ctx.base), "result_type": "organization"}
            for org in self._sorted_orgs()
            if all(self._org_term(org, term) != term.negate for term in terms)
        ]
        body = _cursor_page(ctx, results, "results")
        body["facets"] = None
        return body

    def _org_term(self, org: _Org, term: _Term) -> bool:
        attributes: dict[str, object] = {
            "name": org.name,
            "notes": org.notes,
            "details": org.details,
            "external_id": org.external_id,
            "tags": org.tags,
            "tag": org.tags,
        }
        if term.key is None:
            needle = term.value.lower()
            haystack = [org.name, org.notes, org.details, org.external_id, *org.tags]
            haystack.extend(str(v) for v in org.fields.values() if v is not None)
            return any(needle in _norm(item) for item in haystack)
        if term.key in attributes:
            return _value_matches(attributes[term.key], term.value)
        if term.key in org.fields or term.key in self._fields:
            return _value_matches(org.fields.get(term.key), term.value)
        return False

    def _user_term(self, user: _User, term: _Term) -> bool:
        attributes: dict[str, object] = {
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "organization_id": user.organization_id,
        }
        if term.key is None:
            needle = term.value.lower()
            return needle in user.name.lower() or needle in (user.email or "").lower()
        if term.key in attributes:
            return _value_matches(attributes[term.key], term.value)
        return False


# ---------------------------------------------------------------------- CLI
def _write_port_file(path: str, port: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.zendesk_server",
        description="Serve a fake Zendesk API on 127.0.0.1 until SIGTERM/SIGINT.",
    )
    parser.add_argument("--state", help="JSON file: {orgs, users, organization_fields}")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--port-file", help="write the chosen port to this file once listening")
    parser.add_argument("--email", default="bot@example.example")
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--oauth-token", default=None)
    parser.add_argument("--rate-limit", type=int, default=700, help="requests per minute")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--no-retry-after", action="store_true", help="omit Retry-After on rate-limit 429s"
    )
    parser.add_argument(
        "--real-shapes", action="store_true", help="answer in real Zendesk's shapes (see module)"
    )
    args = parser.parse_args(argv)

    fake = FakeZendesk(
        port=args.port,
        email=args.email,
        token=args.token,
        oauth_token=args.oauth_token,
        rate_limit=args.rate_limit,
        latency=args.latency,
        retry_after_on_429=not args.no_retry_after,
        real_shapes=True if args.real_shapes else None,
    )
    if args.state:
        with open(args.state, encoding="utf-8") as handle:
            fake.load_state(json.load(handle))

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    fake.start()
    try:
        if args.port_file:
            _write_port_file(args.port_file, fake.port)
        print(f"fake zendesk listening on {fake.url}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        fake.stop()
        if args.port_file:
            with contextlib.suppress(OSError):
                os.remove(args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
