"""What the Zendesk reader is reading on each thread, and the checks every answer to it passes.

zenpy builds the URLs (``https://<subdomain>.<domain>/api/v2/...``) and follows the pagination
links of the answers. The reader opens a :class:`Listing` around each zenpy call — one endpoint,
the shape its answers must have, how many pages it may take — and the guarded session
(:class:`checker.live.transport.GuardedSession`) consults the listing open on its thread:

* :func:`route`, before a request is sent: the URL is re-based onto the configured instance URL,
  which only works for the listing's own endpoint; after the first page only the next link the
  previous page gave (checked, never followed before) may be asked for. Anything else — another
  endpoint, a foreign origin outside that rule, a request with no listing open — is refused
  before it is sent (:class:`checker.live.transport.ForeignOrigin`), so credentials never leave.
* :func:`inspect`, when an answer has arrived and before zenpy parses it: a ``200`` must be
  JSON of the listing's shape (:mod:`checker.live.zendesk_shapes`), pages must not repeat
  items, and a listing that says more follow must give a next link that can be re-based, has
  not been followed and stays within the page budget. Anything else raises
  :class:`checker.live.zendesk_shapes.ShapeError`, which zenpy passes through untouched. A
  redirect or another 2xx is refused the same way (never followed); a 429 that outlasted our
  retries raises :class:`RateLimited` (zenpy's own 429 loop would sleep as long as asked).
  Other error answers (4xx, 5xx) are left to zenpy's handling; their status is kept for the
  reader.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import requests
from requests.utils import requote_uri

from checker.live import zendesk_shapes as shapes
from checker.live.transport import ForeignOrigin, rebase
from checker.live.zendesk_shapes import Page, ShapeError

#: checks one answer's JSON: a :class:`Page` for cursor listings, ``None`` for single answers
Check = Callable[[Any], "Page | None"]

_local = threading.local()


class RateLimited(Exception):
    """A 429 that outlasted our retries: never handed to zenpy, whose own 429 handling sleeps
    for as long as the answer asks, uncapped and deaf to a stop."""


class Listing:
    """One zenpy call's reads: ``path`` (``/api/v2/...``) on the instance at ``base``."""

    def __init__(
        self, base: str, shown: str, path: str, check: Check, *, max_pages: int = 1
    ) -> None:
        self.base = base.rstrip("/")
        self.shown = shown
        self.path = path
        self.check = check
        self.max_pages = max_pages
        self.pages = 0
        #: the status of the last answer (the reader reads errors by it)
        self.status: int | None = None
        #: the last page said more follow (zenpy stops at an empty page whatever it says)
        self.more = False
        #: how many items the pages held (cursor listings)
        self.items: int | None = None
        self._next: str | None = None
        self._followed: set[str] = set()
        self._seen: set[int] = set()

    def route(self, url: str) -> str:
        wire = rebase(url, self.base, self.path)
        if wire is None:
            raise ForeignOrigin(f"{self.path}: a request for another endpoint or origin; not sent")
        wire = requote_uri(wire)
        if not self._followed:  # the first page
            self._followed.add(wire)
            return wire
        if wire != self._next:
            raise ForeignOrigin(f"{self.path}: not the next link the last page gave; not sent")
        self._next = None
        return wire

    def inspect(self, response: requests.Response) -> None:
        status = self.status = response.status_code
        if status != 200:
            if status == 429:
                raise RateLimited()
            if status < 400:  # 1xx, another 2xx, a redirect: not an answer this reader uses
                raise ShapeError(f"Zendesk answered HTTP {status}")
            return
        try:
            body = response.json()
        except ValueError:
            raise ShapeError(
                f"the answer was not valid JSON (is {self.shown} a Zendesk instance?)"
            ) from None
        except RecursionError:
            raise ShapeError("the answer was nested too deeply") from None
        _cache_json(response, body)
        self.pages += 1
        page = self.check(body)
        if page is None:
            return
        for item in page.items:
            if item["id"] in self._seen:
                raise ShapeError("the pages repeat items")
            self._seen.add(item["id"])
        self.items = len(self._seen)
        self.more = page.has_more
        if not page.has_more:
            return
        if self.pages >= self.max_pages:
            raise ShapeError(
                f"more than {self.max_pages} pages (the settings' contact limits allow fewer)"
            )
        nxt = requote_uri(shapes.next_link(page.next_url, self.base, self.path))
        if nxt in self._followed:
            raise ShapeError("the pages loop (a next link already followed)")
        self._followed.add(nxt)
        self._next = nxt


def _cache_json(response: requests.Response, body: Any) -> None:
    """zenpy parses each answer again (up to twice); it gets the body already parsed."""
    response.json = lambda **kwargs: body  # type: ignore[method-assign]


@contextlib.contextmanager
def reading(listing: Listing) -> Iterator[Listing]:
    """``listing`` is what this thread reads until the block ends."""
    _local.listing = listing
    try:
        yield listing
    finally:
        _local.listing = None


def current() -> Listing | None:
    listing: Listing | None = getattr(_local, "listing", None)
    return listing


def route(url: str) -> str:
    listing = current()
    if listing is None:
        raise ForeignOrigin("a request outside any listing; not sent")
    return listing.route(url)


def inspect(response: requests.Response) -> None:
    listing = current()
    if listing is None:
        raise ShapeError("an answer outside any listing")
    listing.inspect(response)


# -- what the reader asks zenpy for ----------------------------------------------------------


def single(check: Callable[[Any], object]) -> Check:
    """A check for an endpoint that answers once (no pages)."""

    def run(body: Any) -> None:
        check(body)

    return run


def pages(key: str, item: Callable[[Any], dict[str, Any]]) -> Check:
    """A check for each page of a cursor listing of ``key``."""
    return lambda body: shapes.cursor_page(body, key, item)


def every(found: Any, kind: type) -> list[Any]:
    """Every object of a zenpy listing (zenpy reads the pages as it is iterated), each of the
    kind asked for (zenpy picks what to build by the keys it finds), as many as the pages held.
    Call it inside :func:`reading`."""
    items = list(found)
    if not all(isinstance(x, kind) for x in items):
        raise ShapeError(f"zenpy read something else than {kind.__name__} objects")
    now = current()
    if now is not None and now.items is not None and now.items != len(items):
        raise ShapeError("zenpy's objects disagree with the pages read")
    return items


def one(found: Any, kind: type) -> Any:
    if not isinstance(found, kind):
        raise ShapeError(f"zenpy read something else than an {kind.__name__}")
    return found
