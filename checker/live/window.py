"""A bounded window of work: a fixed pool of daemon threads, tasks in, results out.

Each result comes back through one completion queue, so taking a result costs the same however
much work is pending (waiting on a set of futures touches all of them each time). The threads
are daemons: a run that is told to stop does not wait for them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Window(Generic[T, R]):
    def __init__(self, workers: int, work: Callable[[T], R]) -> None:
        self._work = work
        self._tasks: queue.SimpleQueue[tuple[T] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[T, R | None, BaseException | None]] = (
            queue.SimpleQueue()
        )
        self.in_flight = 0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        for t in self._threads:
            t.start()

    def put(self, task: T) -> None:
        self.in_flight += 1
        self._tasks.put((task,))

    def take(self, timeout: float) -> tuple[T, R | None, BaseException | None] | None:
        """The next finished task with its value or error; None when none finished in time."""
        try:
            result = self._done.get(timeout=timeout)
        except queue.Empty:
            return None
        self.in_flight -= 1
        return result

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)

    def _run(self) -> None:
        while (item := self._tasks.get()) is not None:
            task = item[0]
            try:
                self._done.put((task, self._work(task), None))
            except BaseException as e:  # every failure is handed back as data
                self._done.put((task, None, e))
