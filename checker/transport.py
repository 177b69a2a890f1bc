"""HTTP transport for the outside systems: a deadline per request, pacing and retries.

No vendor client lives here (no zenpy, no python-gitlab): only requests and urllib3, so the
same pieces serve Zendesk and GitLab.

* :class:`DeadlineAdapter` bounds the *whole* request — connect, send, headers and body — by a
  wall-clock deadline. A socket timeout only bounds each read, so a server that trickles one
  byte a second would hold a run for ever; here a watchdog shuts the socket down when the
  deadline passes, and the attempt fails like any dropped connection (retried, then a failure).
* :class:`Pacer` spaces requests to the share of the account's rate limit this product may use.
* :func:`paced_retry` is urllib3's ``Retry`` that counts attempts, pauses the pacer on a 429 and
  waits once (the pacer's pause, not that plus urllib3's own sleep).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

#: the lowest plan's limit (Team: 200/min): assumed until an answer tells the real one, and the
#: least a header is believed to claim
LOWEST_PLAN_LIMIT = 200
#: no Zendesk plan allows more; a header claiming more is nonsense
HIGHEST_BELIEVABLE_LIMIT = 1_000_000
#: how many missed request slots the pacer lets workers catch up on
BURST = 4


class Stopped(Exception):
    """The run was told to stop (interrupted, or its time budget ran out)."""


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
    """
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None

    def bare(path: str) -> str:
        return path.removesuffix(".json").rstrip("/")

    if bare(parts.path) != bare(endpoint_path):
        return None
    target = urlsplit(base)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))


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


# ---------------------------------------------------------------------------- pacing


def rate_headers(headers: Mapping[str, str]) -> tuple[int | None, int | None]:
    """(limit, remaining) from any era's headers: ``X-Rate-Limit``/``X-Rate-Limit-Remaining``,
    ``ratelimit-limit``/``-remaining`` (2024) or ``rate-limit-limit``/``-remaining`` (2023).

    A limit outside what any plan allows, or a remaining above the limit, is not believed."""

    def first(*names: str) -> int | None:
        for name in names:
            value = _int_header(headers, name)
            if value is not None:
                return value
        return None

    limit = first("X-Rate-Limit", "ratelimit-limit", "rate-limit-limit", "rate-limit")
    remaining = first("X-Rate-Limit-Remaining", "ratelimit-remaining", "rate-limit-remaining")
    if limit is not None and not LOWEST_PLAN_LIMIT <= limit <= HIGHEST_BELIEVABLE_LIMIT:
        limit = None
    if remaining is not None and (remaining < 0 or (limit is not None and remaining > limit)):
        remaining = None
    return limit, remaining


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) else None


class Pacer:
    """Spaces requests to an allowed rate, shared by all worker threads.

    The allowed rate is ``limit × share`` per minute; it is lowered while the account's
    ``Remaining`` is low (other tools are busy too) and paused after a 429, but never below the
    lowest plan's share unless the settings name a lower limit. Slots are taken when they are
    due, not reserved ahead, so a better-known limit applies at once.
    """

    def __init__(
        self,
        share: float,
        limit: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.share = share
        self.limit = limit or LOWEST_PLAN_LIMIT
        self._limit_known = limit is not None
        # The slowest a run may go: the lowest plan's share, unless the settings name a limit
        # (then theirs, at the slowest the Remaining-based slow-down allows).
        self._floor = LOWEST_PLAN_LIMIT * share if limit is None else limit * share * 0.2
        self._clock = clock
        self._cond = threading.Condition()
        self._last = -math.inf
        self._factor = 1.0
        self._paused_until = 0.0
        self._stopped = False
        self.rate_limited = 0

    @property
    def interval(self) -> float:
        per_minute = max(self.limit * self.share * self._factor, self._floor)
        return 60.0 / per_minute

    def acquire(self) -> None:
        with self._cond:
            while True:
                if self._stopped:
                    raise Stopped("stopped")
                now = self._clock()
                # Slots missed while workers were busy may be used late, up to BURST of them:
                # the rate over any minute stays within the share, and pacing loses no time.
                slot = max(
                    self._last + self.interval, now - self.interval * BURST, self._paused_until
                )
                if slot <= now:
                    self._last = slot
                    return
                self._cond.wait(min(slot - now, 0.25))

    def observe(self, headers: Mapping[str, str]) -> None:
        limit, remaining = rate_headers(headers)
        with self._cond:
            before = self.interval
            if limit is not None and not self._limit_known:
                self.limit = limit
                self._limit_known = True
            if remaining is not None:
                left = remaining / self.limit
                # Leave room for the support team's tools when the account runs low.
                self._factor = 1.0 if left >= 0.2 else 0.5 if left >= 0.1 else 0.2
            if self.interval < before:
                self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        with self._cond:
            self.rate_limited += 1
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


class Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


def paced_retry(
    pacer: Pacer, counter: Counter, *, max_retry_after: float, retries: int, backoff: float
) -> Retry:
    """urllib3's Retry for GETs, told about each failed attempt (to count it and to pause every
    worker on a 429), waiting once per retry: on a 429 the pacer's pause *is* the wait."""

    class PacedRetry(Retry):
        def increment(  # type: ignore[override]  # same parameters, passed through
            self, *args: Any, **kwargs: Any
        ) -> Retry:
            counter.add()
            response = kwargs.get("response")
            if response is not None and response.status == 429:
                pacer.pause(min(self._after(response) or 1.0, max_retry_after))
            return super().increment(*args, **kwargs)  # raises when retries are exhausted

        def _after(self, response: Any) -> float | None:
            value = response.headers.get("Retry-After")
            if not value:
                return None
            try:
                return float(self.parse_retry_after(value))
            except (InvalidHeader, ValueError):  # "soon": fall back to backoff
                return None

        def sleep(self, response: Any = None) -> None:
            if response is None or response.status != 429:
                self._sleep_backoff()
            pacer.acquire()  # a retry is a request too: it waits for its slot (and any pause)

    return PacedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff,
        backoff_jitter=backoff / 2,
        backoff_max=30,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=True,
    )


# ---------------------------------------------------------------------------- one-origin session


class ForeignOrigin(Exception):
    """A request to another origin than the configured one: refused, never sent."""


class GuardedSession(requests.Session):
    """A session bound to one origin (the configured instance URL).

    * It never sends a request to any other origin, whatever a response says, so credentials
      cannot leak: the request is refused with :class:`ForeignOrigin` before anything is sent.
    * Every request waits for its pacer slot, is counted, and teaches the pacer the rate headers.
    * Every attempt is bounded by the adapter's deadline, body included; a body cut short (by
      the deadline or the server) is retried like a failed attempt, up to ``body_retries``.
    """

    def __init__(
        self,
        base_url: str,
        pacer: Pacer,
        counter: Counter,
        adapter: DeadlineAdapter,
        *,
        body_retries: int = 1,
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self._origin = origin(base_url)
        self.pacer = pacer
        self.counter = counter
        self.adapter = adapter
        self.body_retries = body_retries
        self.max_redirects = 0
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if origin(request.url or "") != self._origin:
            raise ForeignOrigin("refused a request to another origin than the instance URL")
        kwargs.pop("stream", None)
        attempt = 0
        while True:
            self.pacer.acquire()
            response = super().send(request, stream=True, **kwargs)
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
            return response

    def abort(self) -> None:
        """Stop at once: no more slots, every open connection shut down."""
        self.pacer.stop()
        self.adapter.abort()
