"""One writer at a time: a lock held in GitLab itself, so the product is safe without CI's
``resource_group``.

The lock is the branch ``checker/reconcile-lock`` holding one commit that adds the file
``.checker-lock`` (who holds it, since when). GitLab creates a branch through the commits API
only when it does not exist, so of two runs creating it at the same moment exactly one
succeeds; the winner then reads the branch back and checks that the head is its own commit
(its unique run key is in the message) before it writes anything.

* **Taken only when there is something to write.** A run plans first from what GitLab holds; a
  plan without actions finishes without touching the lock, so an unchanged rerun costs no write.
  A run with actions takes the lock, then reads GitLab again and plans again: whatever another
  run did meanwhile is seen, and nothing is created twice.
* **Held by heartbeat.** While it writes, the holder refreshes the lock file every
  :data:`REFRESH_AFTER` seconds with a compare-and-swap commit (``last_commit_id``: the commit
  fails if anyone else changed the file). A lock not refreshed for :data:`STALE_AFTER` seconds
  (by GitLab's clock on the commit) is stale: a run that crashed left it. A waiting run takes it
  over with the same compare-and-swap, so two runs finding it stale cannot both win.
* **Waited for, then left.** A run that finds a live lock polls until it is released or
  ``wait`` seconds have passed; then it gives up, writing nothing (:class:`LockBusy`).
* **Released** by deleting the branch, after checking the head is still the holder's commit.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from checker.tracker.port import GitLabPort
from checker.tracker.types import CommitInfo, FileChange, GitLabUnavailable

__all__ = ["LOCK_BRANCH", "LOCK_FILE", "LockBusy", "LockLost", "ReconcileLock"]

LOCK_BRANCH = "checker/reconcile-lock"
LOCK_FILE = ".checker-lock"
#: a lock not refreshed for this long was left by a run that died
STALE_AFTER = 15 * 60
#: the holder refreshes its lock this often while it writes
REFRESH_AFTER = 5 * 60
_TAG = "zendesk-drift-checker lock"


class LockBusy(Exception):
    """Another run holds the lock and did not release it in time: the one-line reason."""


class LockLost(Exception):
    """The lock was taken over (this run was too slow to refresh it): stop writing."""


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass
class ReconcileLock:
    """The lock of one run (see the module docstring). Use :meth:`acquire`, then
    :meth:`keep` between pieces of work, and :meth:`release` in a ``finally``."""

    port: GitLabPort
    default_branch: str
    environ: Mapping[str, str]
    wait: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    say: Callable[[str], None] = lambda _line: None
    key: str = ""
    _head: CommitInfo | None = None
    _refreshed: float = 0.0

    def __post_init__(self) -> None:
        self.key = self.key or uuid.uuid4().hex

    @property
    def held(self) -> bool:
        return self._head is not None

    def _content(self) -> str:
        job = self.environ.get("CI_JOB_URL", "")
        return f"{_TAG}\nrun: {self.key}\nsince: {self.now().isoformat(timespec='seconds')}\n" + (
            f"job: {job}\n" if job else ""
        )

    def _message(self) -> str:
        return f"Reconcile lock ({_TAG} run={self.key})"

    def _ours(self, head: CommitInfo | None) -> bool:
        return head is not None and f"run={self.key}" in head.message

    def _stale(self, head: CommitInfo) -> bool:
        moment = _parse_time(head.committed_date)
        if moment is None:
            return True  # a lock that cannot say its age cannot be waited for
        return (self.now() - moment).total_seconds() > STALE_AFTER

    def _holder(self, head: CommitInfo) -> str:
        return f"since {head.committed_date or 'an unknown time'}"

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait`` seconds. Raises :class:`LockBusy`, or the
        GitLab error when the lock cannot be created at all."""
        waited = 0.0
        pause = 0.25
        announced = False
        failures = 0
        change = FileChange(LOCK_FILE, self._content(), "create")
        while True:
            head = self.port.branch_head(LOCK_BRANCH)
            if head is None:
                error: GitLabUnavailable | None = None
                try:
                    self.port.create_branch_commit(
                        branch=LOCK_BRANCH,
                        start_branch=self.default_branch,
                        message=self._message(),
                        changes=[change],
                    )
                except GitLabUnavailable as e:
                    error = e  # it may or may not have been created: the read decides
                head = self.port.branch_head(LOCK_BRANCH)  # checked after creation, always
                if head is None:
                    # released between our attempt and the read (try again at once), or our
                    # create keeps failing
                    failures += error is not None
                    if error is not None and failures >= 3:
                        raise error
                    continue
            if self._ours(head):
                self._take(head)
                return
            if self._stale(head):
                self.say(f"lock: taking over a stale lock ({self._holder(head)})")
                taken = self.port.commit_if_unchanged(
                    branch=LOCK_BRANCH,
                    message=self._message(),
                    change=FileChange(LOCK_FILE, self._content()),
                    last_commit_id=head.id,
                )
                if taken is not None and self._ours(self.port.branch_head(LOCK_BRANCH)):
                    self._take(taken)
                    return
                continue
            if waited >= self.wait:
                raise LockBusy(
                    f"another reconcile run holds the lock (branch {LOCK_BRANCH}, "
                    f"{self._holder(head)}); waited {self.wait:.0f} s, nothing was changed"
                )
            if not announced:
                self.say(f"lock: another reconcile run is writing ({self._holder(head)}); waiting")
                announced = True
            jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreads polls, not a secret
            step = min(pause * jitter, self.wait - waited)
            self.sleep(step)
            waited += step
            pause = min(pause * 1.5, 10.0)

    def clear_stale(self) -> bool:
        """Remove a lock a crashed run left behind (one read when there is none): take it
        over, then release it. Returns whether there was one."""
        head = self.port.branch_head(LOCK_BRANCH)
        if head is None or not self._stale(head):
            return False
        self.say(f"lock: removing a stale lock ({self._holder(head)})")
        taken = self.port.commit_if_unchanged(
            branch=LOCK_BRANCH,
            message=self._message(),
            change=FileChange(LOCK_FILE, self._content()),
            last_commit_id=head.id,
        )
        if taken is not None:
            self._take(taken)
            self.release()
        return True

    def _take(self, head: CommitInfo | None) -> None:
        self._head = head
        self._refreshed = self.clock()

    def keep(self) -> None:
        """Refresh the lock when it is due; raises :class:`LockLost` when another run has it."""
        if self._head is None:
            raise LockLost("this run does not hold the lock")
        if self.clock() - self._refreshed < REFRESH_AFTER:
            return
        refreshed = self.port.commit_if_unchanged(
            branch=LOCK_BRANCH,
            message=self._message(),
            change=FileChange(LOCK_FILE, self._content()),
            last_commit_id=self._head.id,
        )
        if refreshed is None:
            self._head = None
            raise LockLost("another run took over the lock; this run stopped writing")
        self._take(refreshed)

    def release(self) -> None:
        """Delete the lock branch if it is still ours (a taken-over lock is left alone)."""
        if self._head is None:
            return
        self._head = None
        if self._ours(self.port.branch_head(LOCK_BRANCH)):
            self.port.delete_branch(LOCK_BRANCH)
