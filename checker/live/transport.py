"""HTTP transport for the outside systems: a deadline per request, pacing and retries.

No vendor client lives here (no zenpy, no python-gitlab): only requests and urllib3, so the
same pieces serve Zendesk and GitLab.

* :class:`DeadlineAdapter` bounds the *whole* request — connect, send, headers and body — by a
  wall-clock deadline. A socket timeout only bounds each read, so a server that trickles one
  byte a second would hold a run for ever; here a watchdog shuts the socket down when the
  deadline passes, and the attempt fails like any dropped connection (retried, then a failure).
* :class:`GuardedSession` sends requests only to one origin, paced by a
  :class:`checker.live.pacing.Pacer`; a vendor client may build its own URLs and follow links from
  answers, the session's ``route`` decides where (if anywhere) each request really goes and its
  ``inspect`` sees every answer before the client does.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

from checker.live.pacing import Counter, Pacer

# ---------------------------------------------------------------------------- URLs


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def rebase(link: str, base: str, endpoint_path: str) -> str | None:
    """A pagination link re-based onto ``base`` (the configured instance URL).

    Zendesk names its canonical host in links, whatever host was called (a proxy, an alias).
    Only a link to the same endpoint is followed: its path must equal ``endpoint_path`` (the
    path that was requested, ``.json`` or not). Anything else cannot be re-based: ``None``.
    A path in ``base`` (a proxy's prefix) is kept in front of the link's path.
    """
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None

    def bare(path: str) -> str:
        return path.removesuffix(".json").rstrip("/")

    if bare(parts.path) != bare(endpoint_path):
        return None
    target = urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, ""))


# ---------------------------------------------------------------------------- deadline


class _Watchdog:
    """One thread for the process: shuts down the socket of a request past its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _DeadlineMixin, int]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, conn: _DeadlineMixin, deadline: float, generation: int) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._seq), conn, generation))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                _, _, conn, generation = heapq.heappop(self._heap)
            conn.expire(generation)


_WATCHDOG = _Watchdog()
_LAST = threading.local()


def deadline_hit() -> bool:
    """Whether this thread's last request attempt was cut off by its deadline."""
    conn = getattr(_LAST, "conn", None)
    return bool(conn is not None and conn.expired)


class _DeadlineMixin:
    """A connection whose every request must be over by ``deadline_seconds``."""

    deadline_seconds: float = 30.0
    sock: socket.socket | None
    _generation = 0
    expired = False

    def start_deadline(self) -> None:
        _LAST.conn = self
        self._generation += 1
        self.expired = False
        _WATCHDOG.watch(self, time.monotonic() + self.deadline_seconds, self._generation)

    def end_deadline(self) -> None:
        self._generation += 1  # any pending watch is now stale

    def expire(self, generation: int) -> None:
        sock = self.sock
        if generation != self._generation or sock is None:
            return
        self.expired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def request(self, *args: Any, **kwargs: Any) -> None:
        self.start_deadline()
        super().request(*args, **kwargs)  # type: ignore[misc]


def _pool_classes(
    deadline: float, active: weakref.WeakSet[_DeadlineMixin], lock: threading.Lock
) -> dict[str, type[HTTPConnectionPool]]:
    class Conn(_DeadlineMixin, HTTPConnection):
        deadline_seconds = deadline

    class SConn(_DeadlineMixin, HTTPSConnection):
        deadline_seconds = deadline

    def tracked(pool_cls: type[HTTPConnectionPool], conn_cls: type[Any]) -> type[Any]:
        class Pool(pool_cls):  # type: ignore[valid-type,misc]
            ConnectionCls = conn_cls

            def _new_conn(self) -> Any:
                conn = super()._new_conn()
                with lock:
                    active.add(conn)
                return conn

            def _put_conn(self, conn: Any) -> None:
                # Back in the pool: the request (body included) is over.
                if conn is not None:
                    conn.end_deadline()
                super()._put_conn(conn)

        return Pool

    return {"http": tracked(HTTPConnectionPool, Conn), "https": tracked(HTTPSConnectionPool, SConn)}


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose every request attempt ends within ``deadline`` seconds, wall clock.

    Mount it on any ``requests.Session`` (python-gitlab's too). :meth:`abort` shuts down every
    connection at once, so a run can stop within moments instead of waiting for its requests.
    """

    def __init__(self, deadline: float, **kwargs: Any) -> None:
        self.deadline = deadline
        self._active: weakref.WeakSet[_DeadlineMixin] = weakref.WeakSet()
        self._lock = threading.Lock()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(
            self.deadline, self._active, self._lock
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through an HTTP(S) proxy (HTTPS_PROXY in CI) too; SOCKS keeps its own connections.
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager) and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _pool_classes(self.deadline, self._active, self._lock)
        return manager

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # The socket timeout never outlasts the deadline (the watchdog handles trickles).
        timeout = kwargs.get("timeout")
        if timeout is None or isinstance(timeout, tuple) or timeout > self.deadline:
            kwargs["timeout"] = self.deadline
        return super().send(request, *args, **kwargs)

    def abort(self) -> None:
        with self._lock:
            conns = list(self._active)
        for conn in conns:
            conn.expire(conn._generation)


# ---------------------------------------------------------------------------- one-origin session


class ForeignOrigin(Exception):
    """A request to another origin than the configured one: refused, never sent."""


#: where a request really goes: the URL on the wire, or :class:`ForeignOrigin` (never sent)
Route = Callable[[str], str]
#: sees every answer (body read) before the caller does; raises to refuse it
Inspect = Callable[[requests.Response], None]


class GuardedSession(requests.Session):
    """A session bound to one origin (the configured instance URL).

    * ``route`` (if given) maps each request's URL onto the wire URL, or refuses it; a vendor
      client that builds its own URLs (zenpy: ``https://<subdomain>.zendesk.com``) and follows
      links from answers is re-based here, in one place. The answer handed back carries the
      request as the caller made it (zenpy recognises its answers by its own URL).
    * It never sends a request to any other origin than ``base_url``, whatever a response or a
      route says, so credentials cannot leak: :class:`ForeignOrigin` before anything is sent.
      Redirects are never followed.
    * Every request waits for its pacer slot, is counted, and teaches the pacer the rate headers.
    * Every attempt is bounded by the adapter's deadline, body included; a body cut short (by
      the deadline or the server) is retried like a failed attempt, up to ``body_retries``.
    * ``inspect`` (if given) sees each final answer, body read, before the caller does.
    """

    def __init__(
        self,
        base_url: str,
        pacer: Pacer,
        counter: Counter,
        adapter: DeadlineAdapter,
        *,
        body_retries: int = 1,
        route: Route | None = None,
        inspect: Inspect | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self._origin = origin(base_url)
        self.pacer = pacer
        self.counter = counter
        self.adapter = adapter
        self.body_retries = body_retries
        self.route = route
        self.inspect = inspect
        self._proxies: dict[tuple[Any, ...], Any] = {}
        # Redirects are never followed (``send`` forces allow_redirects off); requests still
        # works out the next request of a 3xx without sending it, which 0 would refuse.
        self.max_redirects = 1
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def _wire(self, request: requests.PreparedRequest, kwargs: dict[str, Any]) -> Any:
        """The request as it goes on the wire (re-based by ``route``), or ForeignOrigin."""
        wire = request
        if self.route is not None:
            url = self.route(request.url or "")
            if url != request.url:
                wire = request.copy()
                wire.url = url
                kwargs["proxies"] = self._proxies_for(url)
        if origin(wire.url or "") != self._origin:
            raise ForeignOrigin("refused a request to another origin than the instance URL")
        return wire

    def _proxies_for(self, url: str) -> Any:
        """Proxies (and NO_PROXY) for where a request really goes: they depend on its origin,
        the environment and the session's settings, worked out once for each."""
        key = (origin(url), self.trust_env, tuple(sorted(self.proxies.items())))
        found = self._proxies.get(key)
        if found is None:
            settings = self.merge_environment_settings(url, {}, None, None, None)
            found = self._proxies[key] = settings["proxies"]
        return found

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        wire = self._wire(request, kwargs)
        kwargs.pop("stream", None)
        kwargs["allow_redirects"] = False
        attempt = 0
        while True:
            self.pacer.acquire()
            response = super().send(wire, stream=True, **kwargs)
            self.counter.add()
            try:
                response.content  # noqa: B018 - reads the body within the deadline
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
                requests.exceptions.ConnectionError,
            ):
                response.close()
                if attempt >= self.body_retries:
                    raise
                attempt += 1
                continue
            self.pacer.observe(response.headers)
            if self.inspect is not None:
                self.inspect(response)
            response.request = request
            return response

    def abort(self) -> None:
        """Stop at once: no more slots, every open connection shut down."""
        self.pacer.stop()
        self.adapter.abort()
