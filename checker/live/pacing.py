"""Pacing and retries of Zendesk requests, shared by all worker threads of a run.

* :class:`Pacer` spaces requests to the share of the account's rate limit this product may use.
* :func:`paced_retry` is urllib3's ``Retry`` that counts attempts, pauses the pacer on a 429 and
  waits once (the pacer's pause, not that plus urllib3's own sleep).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

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
