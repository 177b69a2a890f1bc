"""Ctrl-C and SIGTERM for the whole CLI: stop within moments, say so, keep what was found.

:func:`install` replaces the default handlers. Outside a :func:`cooperative` section a signal
raises :class:`Interrupted` at once (nothing half-written matters there). Inside one — a
Zendesk fetch — it only sets :data:`STOP`: the fetch stops its requests, marks the orgs it did
not finish unknown and returns, so the command can write its partial report before
:func:`check` raises. A second signal always raises at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

STOP = threading.Event()
_state = {"signum": 0, "cooperative": 0}


class Interrupted(BaseException):
    """A signal asked the run to stop; the exit code is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handle(signum: int, frame: FrameType | None) -> None:
    first = not STOP.is_set()
    _state["signum"] = _state["signum"] or signum
    STOP.set()
    if not first or not _state["cooperative"]:
        raise Interrupted(signum)


def install() -> None:
    """Take over SIGINT and SIGTERM (main thread only). Worker processes forked later (the
    validator's) leave Ctrl-C to this process, which stops them."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handle)
        signal.signal(signal.SIGTERM, _handle)
        if not _state.get("fork_hook"):
            os.register_at_fork(after_in_child=_child_defaults)
            _state["fork_hook"] = 1


def _child_defaults() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def cooperative() -> Iterator[threading.Event]:
    """A section that watches :data:`STOP` itself instead of being interrupted."""
    _state["cooperative"] += 1
    try:
        yield STOP
    finally:
        _state["cooperative"] -= 1


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived (after a cooperative section)."""
    if STOP.is_set():
        raise Interrupted(_state["signum"] or signal.SIGINT)


@dataclass(frozen=True, slots=True)
class RunLimits:
    """When a fetch must stop early: an event set from outside (a signal), a monotonic
    deadline (the run's time budget), and what to say about the orgs left unchecked."""

    stop: threading.Event | None = None
    deadline: float | None = None
    budget_minutes: float | None = None

    def reason(self) -> str | None:
        if self.stop is not None and self.stop.is_set():
            return "not checked: the run was interrupted"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return f"not checked: the run's time budget of {self.budget_minutes:g} minutes ran out"
        return None
