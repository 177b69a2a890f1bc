"""Live Zendesk state, read through zenpy over a guarded session. The only module that imports
zenpy.

What it guarantees to the rest of the product:

* Every org asked for ends as a :class:`LiveOrg`, or a :class:`FetchFailure` that says *missing*
  (Zendesk answered its own 404 for that id) or *unknown* (anything else, after retries).
  A failure is never an empty org, and a 200 whose body is not the shape asked for is a failure.
* Requests go only to the configured instance's origin. zenpy builds its URLs and follows the
  pagination links of the answers, but it talks through our :class:`GuardedSession`, the single
  choke point: each request is re-based onto the instance URL by the listing open on its
  thread (:mod:`checker.live.zendesk_listing`), which only allows the listing's own endpoint and,
  after the first page, the next link the last page gave; anything else is refused before it
  is sent, and the org is unknown. Credentials never leave.
* Each answer's raw JSON is checked (:mod:`checker.live.zendesk_shapes`) before zenpy parses it;
  pages cannot loop, repeat items or exceed the page budget the settings' limits allow.
* Each request attempt is bounded by a wall-clock deadline (the session's adapter); requests
  are paced to the allowed share of the account's rate limit, and retried by our urllib3
  ``Retry`` (zenpy's own 429 sleep is unreachable: a last 429 raises first); the whole fetch
  stops at once when told to (Ctrl-C, a time budget), and the orgs it did not finish are unknown.
* zenpy's and requests' errors become ours here, without any data from the answer: a refused
  credential (401/403) stops the whole fetch with :class:`CredentialsRefused`.

Somewhat over 400 lines by reason: it is the one module that may import zenpy, so every
translation of zenpy's objects and errors into ours has to live here.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization, User
from zenpy.lib.exception import RecordNotFoundException

from checker.domain.models import FetchFailure, FetchState, LiveOrg
from checker.domain.settings import Instance, without_userinfo
from checker.interrupt import RunLimits
from checker.live import zendesk_listing as listing
from checker.live import zendesk_shapes as shapes
from checker.live.pacing import Counter, Pacer, Stopped, paced_retry
from checker.live.transport import DeadlineAdapter, ForeignOrigin, GuardedSession, deadline_hit
from checker.live.window import Window
from checker.live.zendesk_auth import (
    Credentials,
    CredentialsMissing,
    ZendeskError,
    credential_variables,
    credentials_from_env,
)
from checker.live.zendesk_listing import Check, Listing, RateLimited
from checker.live.zendesk_shapes import ShapeError

SHOW_MANY_LIMIT = 100
#: the longest a 429's Retry-After is obeyed (real answers were seen asking for 93 s)
MAX_RETRY_AFTER = 120.0
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")
_API = "/api/v2"
T = TypeVar("T")

__all__ = [
    "Credentials",
    "CredentialsMissing",
    "CredentialsRefused",
    "OrgNotFound",
    "Pacer",
    "RunLimits",
    "ZendeskError",
    "ZendeskReader",
    "ZendeskUnavailable",
    "credential_variables",
    "credentials_from_env",
]


class CredentialsRefused(ZendeskError):
    """Zendesk refused the credentials (401/403): the run cannot check anything on it."""


class ZendeskUnavailable(ZendeskError):
    """A request failed after retries, or the answer could not be understood."""


class Malformed(ZendeskUnavailable):
    """A 200 whose body is not the shape asked for."""


class OrgNotFound(ZendeskError):
    """Zendesk answered 404 for this org."""


class ZendeskReader:
    """Reads orgs and their users from one Zendesk instance, through zenpy."""

    def __init__(
        self,
        instance: Instance,
        credentials: Credentials,
        *,
        share: float = 0.5,
        concurrency: int = 8,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = MAX_RETRY_AFTER,
        max_user_pages: int = 10,
    ) -> None:
        self.instance = instance
        self.url = instance.url.rstrip("/")
        self.shown_url = without_userinfo(self.url)
        self.pacer = Pacer(share, instance.rate_limit_per_minute)
        self._counter = Counter()
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_user_pages = max_user_pages
        retry = paced_retry(
            self.pacer, self._counter, max_retry_after=max_retry_after, retries=retries,
            backoff=backoff,
        )  # fmt: skip
        adapter = DeadlineAdapter(
            timeout, max_retries=retry, pool_connections=2, pool_maxsize=concurrency + 2
        )
        self.session = GuardedSession(
            self.url, self.pacer, self._counter, adapter, route=listing.route,
            inspect=self._inspect,
        )  # fmt: skip
        self.session.headers["Accept"] = "application/json"
        self._credentials = credentials
        self._local = threading.local()
        self._answered = False  # some request was answered 200 (a later 403 is not the token's)
        self._client()  # zenpy puts the credentials on the session, once, here

    @property
    def requests_made(self) -> int:
        return self._counter.value

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ZendeskReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- zenpy over the guarded session --------------------------------------------------------

    def _client(self) -> Any:
        """This thread's zenpy client (zenpy's Api objects keep per-call state)."""
        client = getattr(self._local, "client", None)
        if client is None:
            c = self._credentials
            subdomain, domain = _zenpy_host(self.url)
            client = Zenpy(
                subdomain=subdomain,
                domain=domain,
                email=c.email,
                token=c.api_token,
                oauth_token=c.oauth_token,
                session=self.session,
                timeout=self.timeout,
                disable_cache=True,
                proactive_ratelimit=None,
            )
            self._local.client = client
        return client

    def _inspect(self, response: requests.Response) -> None:
        if response.status_code == 200:
            self._answered = True
        listing.inspect(response)

    def _read(
        self, what: str, path: str, check: Check, call: Callable[[Any], T], max_pages: int = 1
    ) -> T:
        """What ``call`` gets from zenpy, reading ``path`` only; or one of our errors."""
        reading = Listing(self.url, self.shown_url, _API + path, check, max_pages=max_pages)
        with listing.reading(reading):
            try:
                result = call(self._client())
            except Stopped:
                raise
            except Exception as e:  # zenpy and requests raise many types; all become ours
                raise self._fail(what, reading, e) from None
        if reading.more:
            raise ZendeskUnavailable(f"{what}: the pages ended before the last said it was the end")
        return result

    def _fail(self, what: str, reading: Listing, e: Exception) -> ZendeskError:
        """Our error for what zenpy or requests raised; never with data from the answer."""
        if isinstance(e, ZendeskError):
            return e
        if isinstance(e, ShapeError):
            return Malformed(f"{what}: {e}")
        if isinstance(e, ForeignOrigin):
            return ZendeskUnavailable(
                f"{what}: a link pointed away from {self.shown_url}; not followed"
            )
        if isinstance(e, RateLimited):
            return ZendeskUnavailable(f"{what}: rate limited (429) after retries")
        if isinstance(e, requests.exceptions.RetryError):
            m = _TOO_MANY.search(str(e))
            if m and m.group(1) == "429":
                return ZendeskUnavailable(f"{what}: rate limited (429) after retries")
            return ZendeskUnavailable(f"{what}: HTTP {m.group(1) if m else '?'} after retries")
        status = reading.status
        if isinstance(e, requests.exceptions.RequestException) and (status or 0) < 400:
            kind = "timed out" if deadline_hit() or _timed_out(e) else "connection failed"
            return ZendeskUnavailable(
                f"{what}: {kind} (deadline {self.timeout:g} s per attempt, with retries); "
                f"check that {self.shown_url} is reachable"
            )
        if status == 403 and self._answered:
            # Forbidden after other answers: this resource, not the credentials.
            return ZendeskUnavailable(f"{what}: Zendesk answered HTTP 403 (forbidden)")
        if status in (401, 403):
            return CredentialsRefused(
                f"Zendesk at {self.shown_url} refused the credentials of instance "
                f"{self.instance.name!r} (HTTP {status})"
            )
        if status == 404:
            if isinstance(e, RecordNotFoundException):  # Zendesk's own 404, not any server's
                return OrgNotFound(f"{what}: not found (404)")
            return _wrong_url(what, self.shown_url, "answered 404, not as Zendesk does")
        if status is not None and status >= 400:
            return ZendeskUnavailable(f"{what}: Zendesk answered HTTP {status}")
        return ZendeskUnavailable(f"{what}: {_internal(e)}")

    # -- reads -------------------------------------------------------------------------------

    def _show_many(self, ids: list[int]) -> dict[int, Any]:
        """The orgs of a batch; an answer of the wrong shape proves nothing, so it reads as no
        org found and each org is then read on its own."""
        what = f"organizations {ids[0]}…{ids[-1]}"
        try:
            orgs = self._read(
                what, "/organizations/show_many.json", listing.single(shapes.show_many),
                lambda zd: listing.every(zd.organizations(ids=ids), Organization),
            )  # fmt: skip
        except Malformed:
            return {}
        return {o.id: o for o in orgs}

    def _show(self, org_id: int) -> Any:
        def call(zd: Any) -> Any:
            return listing.one(zd.organizations(id=org_id), Organization)

        return self._read(
            f"org {org_id}", f"/organizations/{org_id}.json",
            listing.single(lambda body: shapes.show(body, org_id)), call,
        )  # fmt: skip

    def _users(self, org_id: int) -> list[Any]:
        def call(zd: Any) -> list[Any]:
            return listing.every(zd.organizations.users(org_id), User)

        return self._read(
            f"users of org {org_id}", f"/organizations/{org_id}/users.json",
            listing.pages("users", shapes.user), call, self.max_user_pages,
        )  # fmt: skip

    # -- the fetch ---------------------------------------------------------------------------

    def fetch(
        self,
        org_ids: Iterable[int],
        progress: Callable[[int], None] | None = None,
        limits: RunLimits | None = None,
    ) -> dict[int, LiveOrg | FetchFailure]:
        """Live state of every org id: show_many in batches of 100, then each org's users.

        A fixed pool of workers takes tasks from a window of at most two tasks per worker and
        hands results back through one completion queue, so the work per org stays constant
        however many orgs there are. The pacer keeps the whole within the allowed rate.
        """
        ids = sorted(set(org_ids))
        limits = limits or RunLimits()
        out: dict[int, LiveOrg | FetchFailure] = {}
        done = progress or (lambda n: None)
        batches = deque(ids[i : i + SHOW_MANY_LIMIT] for i in range(0, len(ids), SHOW_MANY_LIMIT))
        follow: deque[tuple[str, Any]] = deque()
        window: Window[tuple[str, Any], Any] = Window(self.concurrency, self._task)
        waiting = 0  # orgs of the batches opened, not yet settled
        try:
            while batches or follow or window.in_flight:
                while window.in_flight < 2 * self.concurrency and (batches or follow):
                    # Finish orgs already started before opening another batch of 100.
                    if follow and (waiting >= SHOW_MANY_LIMIT or not batches):
                        window.put(follow.popleft())
                    else:
                        waiting += len(batches[0])
                        window.put(("batch", batches.popleft()))
                finished = window.take(timeout=0.1)
                if finished is not None:
                    (kind, arg), value, error = finished
                    if isinstance(error, CredentialsRefused):
                        self.session.abort()
                        raise error
                    for org_id, state in self._settle(kind, arg, value, error, follow):
                        out[org_id] = state
                        waiting -= 1
                        done(1)
                reason = limits.reason()
                if reason is not None:
                    self.session.abort()
                    left = [i for i in ids if i not in out]
                    out.update((i, FetchFailure(FetchState.UNKNOWN, reason)) for i in left)
                    done(len(left))
                    return out
        finally:
            window.close()
        return out

    def _task(self, task: tuple[str, Any]) -> Any:
        kind, arg = task
        if kind == "batch":
            return self._show_many(arg)
        if kind == "show":
            return self._show(arg)
        return self._users(arg[0])

    def _settle(
        self,
        kind: str,
        arg: Any,
        value: Any,
        error: BaseException | None,
        follow: deque[tuple[str, Any]],
    ) -> list[tuple[int, LiveOrg | FetchFailure]]:
        """The orgs a finished task settles; the tasks it leads to go on ``follow``."""
        if error is not None:
            return self._failed(kind, arg, error)
        if kind == "batch":
            for org_id in arg:
                if org_id in value:
                    follow.append(("users", (org_id, value[org_id])))
                else:
                    # Absent from show_many: confirm with a direct read before calling it
                    # missing (a wrong report is worse than none).
                    follow.append(("show", org_id))
            return []
        if kind == "show":
            follow.appendleft(("users", (arg, value)))
            return []
        org_id, org = arg
        return [(org_id, shapes.live_org(self.instance.name, org_id, org, value))]

    def _failed(
        self, kind: str, arg: Any, error: BaseException
    ) -> list[tuple[int, LiveOrg | FetchFailure]]:
        if isinstance(error, OrgNotFound):
            if kind == "show":
                return [(arg, FetchFailure(FetchState.MISSING, str(error)))]
            if kind == "users":
                # The org was just read: a 404 for its users contradicts that.
                msg = f"{error}, although the org itself was read"
                return [(arg[0], FetchFailure(FetchState.UNKNOWN, msg))]
        message = str(error) if isinstance(error, ZendeskError) else _internal(error)
        failed = arg if kind == "batch" else [arg[0] if kind == "users" else arg]
        return [(org_id, FetchFailure(FetchState.UNKNOWN, message)) for org_id in failed]

    # -- listings for import -----------------------------------------------------------------

    def list_org_ids(self, *, query: str | None = None, with_field: str | None = None) -> list[int]:
        """Org ids by a Zendesk search query (every match, through the export-search endpoint,
        which pages by cursor without search's 1,000 cap), or every org whose field
        ``with_field`` is set. Every match or a failure, never fewer."""
        huge = 1_000_000
        if query is None:
            orgs = self._read(
                "organization listing", "/organizations.json",
                listing.pages("organizations", shapes.org),
                lambda zd: listing.every(zd.organizations(), Organization), huge,
            )  # fmt: skip
            return [
                int(o.id)
                for o in orgs
                if with_field is None or shapes.fields(o).get(with_field) not in shapes.UNSET
            ]
        found = self._read(
            "organization search", "/search/export.json",
            listing.pages("results", shapes.search_org),
            lambda zd: listing.every(zd.search_export(query, type="organization"), Organization),
            huge,
        )  # fmt: skip
        return [int(o.id) for o in found]


# -- zenpy's side ------------------------------------------------------------------------------


def _zenpy_host(url: str) -> tuple[str, str]:
    """(subdomain, domain) for zenpy, which builds ``https://<subdomain>.<domain>``: the
    instance's own host where it has that form (the session re-bases scheme, port and any
    path prefix), a stand-in otherwise. Either way the session decides where requests go."""
    netloc = urlsplit(url).netloc.rpartition("@")[2].lower()
    subdomain, dot, domain = netloc.partition(".")
    return (subdomain, domain) if dot and subdomain and domain else ("instance", "invalid")


def _timed_out(e: BaseException) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return "timeout" in text or "timed out" in text


def _wrong_url(what: str, url: str, happened: str) -> ZendeskUnavailable:
    return ZendeskUnavailable(
        f"{what}: {url} {happened}; check the instance URL (instances.<name>.url in "
        "checker.yaml, or ZENDESK_URL / ZENDESK_<INSTANCE>_URL)"
    )


def _internal(error: BaseException) -> str:
    # The type only: a vendor message can hold data from the answer.
    return f"could not be read ({type(error).__name__})"
