"""A hostile network on loopback: a reverse proxy between a client and an upstream server.

Each request is forwarded to the upstream server; its answer may then be spoiled by the fault
the schedule names for that request:

``trickle``   the answer, one byte at a time, slowly (it never finishes within a deadline)
``stall``     nothing at all for a long while, then the answer
``truncate``  headers promising the whole body, half of it, then the connection closes
``replace``   a 200 with another valid JSON shape in place of the body (``REPLACEMENTS``)
``foreign``   every absolute URL in the body rewritten to the ``foreign`` origin
``foreign_path``  ``links.next`` pointing at another path on the ``foreign`` origin
``loop``      ``links.next`` pointing back at the request itself, with ``has_more: true``

The schedule is a function of (label, attempt): the label names the request (``show_many``,
``org:<id>``, ``users:<id>:p1`` for an org's first users page, ``users:<id>:p2`` for later
ones), the attempt counts earlier requests with that label. So a schedule means the same thing
whatever order concurrent requests arrive in.

:class:`Recorder` is the "foreign" origin: a server that records every request it receives,
with its ``Authorization`` header, and answers with a plausible page of users.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULTS = ("trickle", "stall", "truncate", "replace", "foreign", "foreign_path", "loop")

#: bodies of another shape than any endpoint the reader asks (each valid JSON)
REPLACEMENTS: tuple[object, ...] = (
    {},
    [],
    None,
    "ok",
    {"users": None},
    {"users": [], "next_page": None},  # a users page without its cursor envelope
    {"organizations": [], "meta": {"has_more": False}, "links": {}},
    {"users": [{"id": "7", "email": 1}], "meta": {"has_more": False}, "links": {}},
    {"organization": None},
    {"error": "Unavailable", "description": "try later"},
)

Schedule = Callable[[str, int], "tuple[str, int] | None"]

_ABSOLUTE = re.compile(r"https?://[^/\"\s]+")


def label(path: str, query: dict[str, list[str]]) -> str:
    m = re.search(r"/organizations/(\d+)/users", path)
    if m:
        return f"users:{m.group(1)}:{'p2' if 'page[after]' in query else 'p1'}"
    if "show_many" in path:
        return "show_many"
    m = re.search(r"/organizations/(\d+)", path)
    return f"org:{m.group(1)}" if m else path


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.owner.handle(self)


class _Base:
    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self.port = int(self._server.server_address[1])
        self.stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


class Recorder(_Base):
    """The foreign origin: records (path, Authorization) of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        self.seen.append((h.path, h.headers.get("Authorization")))
        body = json.dumps(
            {"users": [], "meta": {"has_more": False}, "links": {"next": None}}
        ).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


class FaultProxy(_Base):
    """Forwards to ``upstream`` and spoils answers as ``schedule`` says."""

    def __init__(
        self, upstream: str, schedule: Schedule, *, foreign: str, stall: float = 5.0
    ) -> None:
        super().__init__()
        up = urlsplit(upstream)
        self._host, self._port = up.hostname or "127.0.0.1", up.port or 80
        self.schedule = schedule
        self.foreign = foreign
        self.stall = stall
        self.attempts: Counter[str] = Counter()
        self.applied: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        name = label(split.path, parse_qs(split.query))
        with self._lock:
            attempt = self.attempts[name]
            self.attempts[name] += 1
        fault = self.schedule(name, attempt)
        if fault is not None:
            with self._lock:
                self.applied.append((name, fault[0]))
        status, headers, body = self._forward(h)
        if fault is None:
            self._send(h, status, headers, body)
            return
        kind, variant = fault
        if kind == "stall":
            self.stopping.wait(self.stall)
            self._send(h, status, headers, body)
        elif kind == "trickle":
            self._send(h, status, headers, body, trickle=True)
        elif kind == "truncate":
            self._send(h, status, headers, body, cut=True)
        elif kind == "replace":
            replacement = REPLACEMENTS[variant % len(REPLACEMENTS)]
            self._send(h, 200, headers, json.dumps(replacement).encode())
        else:
            self._send(h, status, headers, self._rewrite(kind, h.path, body))

    def _rewrite(self, kind: str, path: str, body: bytes) -> bytes:
        if kind == "foreign":
            return _ABSOLUTE.sub(self.foreign, body.decode()).encode()
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        if not isinstance(doc, dict):
            return body
        links = doc.setdefault("links", {})
        meta = doc.setdefault("meta", {})
        if isinstance(links, dict) and isinstance(meta, dict):
            if kind == "foreign_path":
                links["next"] = f"{self.foreign}/api/v2/users/me.json?page[size]=100"
            else:  # loop
                links["next"] = f"http://{self._host}:{self._port}{path}"
            meta["has_more"] = True
        return json.dumps(doc).encode()

    def _forward(self, h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP | {"host"}}
            conn.request("GET", h.path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            keep = {k: v for k, v in r.getheaders() if k.lower() not in _HOP}
            return r.status, keep, body
        finally:
            conn.close()

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        trickle: bool = False,
        cut: bool = False,
    ) -> None:
        with contextlib.suppress(OSError):
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if cut:
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            if trickle:
                for i in range(len(body)):
                    if self.stopping.wait(0.05):
                        break
                    h.wfile.write(body[i : i + 1])
                    h.wfile.flush()
                h.close_connection = True
                return
            h.wfile.write(body)


_HOP = {"content-length", "connection", "keep-alive", "transfer-encoding", "date", "server"}
