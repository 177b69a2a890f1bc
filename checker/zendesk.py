"""Live Zendesk state: the port to Zendesk, in our words.

What it guarantees to the rest of the product:

* Every org asked for ends as a :class:`LiveOrg`, or a :class:`FetchFailure` that says *missing*
  (Zendesk answered its own 404 for that id) or *unknown* (anything else, after retries).
  A failure is never an empty org, and a 200 whose body is not the shape asked for is a failure
  (each endpoint's answer is checked by :mod:`checker.zendesk_shapes` before it is used).
* Requests go only to the configured instance's origin (:class:`checker.transport.GuardedSession`):
  pagination links, which name the account's canonical host, are re-based onto it, and a link
  that cannot be re-based ends the listing (the org is unknown). Credentials never leave.
* Each request attempt is bounded by a wall-clock deadline; pagination cannot loop; requests are
  paced to the allowed share of the account's rate limit; the whole fetch stops at once when
  told to (Ctrl-C, a time budget), and the orgs it did not finish are unknown.
* A refused credential (401/403) stops the whole fetch with :class:`CredentialsRefused`.

The reader speaks HTTP through requests and urllib3 itself rather than through zenpy: zenpy
hides the pagination envelope and links this module must check, follows links to any host with
the credentials attached, and building its objects was most of drift's CPU per org.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

from checker import zendesk_shapes as shapes
from checker.domain.models import FetchFailure, FetchState, LiveOrg
from checker.domain.settings import Instance, without_userinfo
from checker.interrupt import RunLimits
from checker.pacing import Counter, Pacer, Stopped, paced_retry
from checker.transport import DeadlineAdapter, ForeignOrigin, GuardedSession, deadline_hit
from checker.window import Window
from checker.zendesk_auth import (
    Credentials,
    CredentialsMissing,
    TokenAuth,
    ZendeskError,
    credential_variables,
    credentials_from_env,
)
from checker.zendesk_shapes import ShapeError

SHOW_MANY_LIMIT = 100
PAGE_SIZE = 100
#: the longest a 429's Retry-After is obeyed (real answers were seen asking for 93 s)
MAX_RETRY_AFTER = 120.0
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")

__all__ = [
    "Credentials",
    "CredentialsMissing",
    "CredentialsRefused",
    "OrgNotFound",
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


class OrgNotFound(ZendeskError):
    """Zendesk answered 404 for this org."""


class ZendeskReader:
    """Reads orgs and their users from one Zendesk instance."""

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
        self.session = GuardedSession(self.url, self.pacer, self._counter, adapter)
        self.session.auth = TokenAuth(credentials)
        self.session.headers["Accept"] = "application/json"
        self._answered = False  # some request was answered 200 (a later 403 is not the token's)

    @property
    def requests_made(self) -> int:
        return self._counter.value

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ZendeskReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request -------------------------------------------------------------------------

    def _get(self, what: str, url: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON body of a 200 answer, or one of our errors (never with the body in it)."""
        if not url.startswith(("http://", "https://")):
            url = self.url + url
        try:
            r = self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
        except Stopped:
            raise
        except ForeignOrigin:
            raise ZendeskUnavailable(
                f"{what}: a link pointed away from {self.shown_url}; not followed"
            ) from None
        except requests.exceptions.RetryError as e:
            m = _TOO_MANY.search(str(e))
            if m and m.group(1) == "429":
                raise ZendeskUnavailable(f"{what}: rate limited (429) after retries") from None
            status = m.group(1) if m else "?"
            raise ZendeskUnavailable(f"{what}: HTTP {status} after retries") from None
        except requests.exceptions.RequestException as e:
            kind = "timed out" if deadline_hit() or _timed_out(e) else "connection failed"
            raise ZendeskUnavailable(
                f"{what}: {kind} (deadline {self.timeout:g} s per attempt, with retries); "
                f"check that {self.shown_url} is reachable"
            ) from None
        if r.status_code == 403 and self._answered:
            # Forbidden after other answers: this resource, not the credentials.
            raise ZendeskUnavailable(f"{what}: Zendesk answered HTTP 403 (forbidden)")
        if r.status_code in (401, 403):
            raise CredentialsRefused(
                f"Zendesk at {self.shown_url} refused the credentials of instance "
                f"{self.instance.name!r} (HTTP {r.status_code})"
            )
        if r.status_code == 404:
            raise (
                OrgNotFound(f"{what}: not found (404)")
                if _zendesk_404(r)
                else _wrong_url(what, self.shown_url, "answered 404, not as Zendesk does")
            )
        if r.status_code != 200:
            raise ZendeskUnavailable(f"{what}: Zendesk answered HTTP {r.status_code}")
        self._answered = True
        try:
            return r.json()
        except ValueError:
            raise ZendeskUnavailable(
                f"{what}: the answer was not valid JSON (is {self.shown_url} a Zendesk instance?)"
            ) from None
        except RecursionError:
            raise ZendeskUnavailable(f"{what}: the answer was nested too deeply") from None

    # -- reads -------------------------------------------------------------------------------

    def _show_many(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The orgs of a batch; an answer of the wrong shape proves nothing, so it reads as no
        org found and each org is then read on its own."""
        what = f"organizations {ids[0]}…{ids[-1]}"
        body = self._get(what, "/api/v2/organizations/show_many.json", {"ids": _csv(ids)})
        try:
            return shapes.show_many(body)
        except ShapeError:
            return {}

    def _show(self, org_id: int) -> dict[str, Any]:
        what = f"org {org_id}"
        body = self._get(what, f"/api/v2/organizations/{org_id}.json")
        try:
            return shapes.show(body, org_id)
        except ShapeError as e:
            raise ZendeskUnavailable(f"{what}: {e}") from None

    def _users(self, org_id: int) -> list[dict[str, Any]]:
        what = f"users of org {org_id}"
        path = f"/api/v2/organizations/{org_id}/users.json"
        try:
            return self._pages(what, path, "users", shapes.user, self.max_user_pages)
        except ShapeError as e:
            raise ZendeskUnavailable(f"{what}: {e}") from None

    def _pages(
        self,
        what: str,
        path: str,
        key: str,
        item: Callable[[Any], dict[str, Any]],
        max_pages: int,
        params: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated listing, or a failure: a page of the wrong shape, a
        next link that cannot be re-based or was already followed, no progress, too many pages."""
        url = self.url + path
        query: Mapping[str, str] | None = {**(params or {}), "page[size]": str(PAGE_SIZE)}
        items: list[dict[str, Any]] = []
        seen_ids: set[int] = set()
        followed: set[str] = set()
        for _ in range(max_pages):
            page = shapes.cursor_page(self._get(what, url, query), key, item)
            for it in page.items:
                if it["id"] in seen_ids:
                    raise ShapeError("the pages repeat items")
                seen_ids.add(it["id"])
            items.extend(page.items)
            if not page.has_more:
                return items
            nxt = shapes.next_link(page.next_url, self.url, path)
            if nxt in followed:
                raise ShapeError("the pages loop (a next link already followed)")
            followed.add(nxt)
            url, query = nxt, None
        raise ShapeError(f"more than {max_pages} pages (the settings' contact limits allow fewer)")

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
        try:
            if query is None:
                orgs = self._pages(
                    "organization listing", "/api/v2/organizations.json", "organizations",
                    shapes.org, huge,
                )  # fmt: skip
                return [
                    int(o["id"])
                    for o in orgs
                    if with_field is None
                    or (o.get("organization_fields") or {}).get(with_field) not in shapes.UNSET
                ]
            found = self._pages(
                "organization search", "/api/v2/search/export.json", "results", shapes.org, huge,
                {"query": query, "filter[type]": "organization"},
            )  # fmt: skip
        except ShapeError as e:
            raise ZendeskUnavailable(f"organization listing: {e}") from None
        return [int(o["id"]) for o in found]


def _csv(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in ids)


def _timed_out(e: BaseException) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return "timeout" in text or "timed out" in text


def _zendesk_404(r: requests.Response) -> bool:
    """Zendesk's own 404 (``{"error": "RecordNotFound", ...}``), not any server's."""
    try:
        body = r.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "RecordNotFound"


def _wrong_url(what: str, url: str, happened: str) -> ZendeskUnavailable:
    return ZendeskUnavailable(
        f"{what}: {url} {happened}; check the instance URL (instances.<name>.url in "
        "checker.yaml, or ZENDESK_URL / ZENDESK_<INSTANCE>_URL)"
    )


def _internal(error: BaseException) -> str:
    # The type only: a vendor message can hold data from the answer.
    return f"could not be read ({type(error).__name__})"
