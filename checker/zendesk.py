"""Live Zendesk state, read through zenpy. The only module that imports zenpy.

What it guarantees to the rest of the product:

* Every org asked for ends as a :class:`LiveOrg`, or a :class:`FetchFailure` that says *missing*
  (Zendesk answered 404 for that id) or *unknown* (anything else went wrong after retries).
  A failure is never an empty org.
* Requests are paced to the share of the account's rate limit this product may use, learned from
  ``X-Rate-Limit`` / ``X-Rate-Limit-Remaining`` (or settings), and slowed when ``Remaining`` falls
  (the limit is shared with the support team's own tools).
* The retry policy is ours (urllib3's ``Retry`` mounted for both schemes): zenpy's own adapter
  only covers https, retries only 503/413 and never backs off; it also sleeps on 429 without a
  cap, which our adapter makes unreachable by retrying 429 itself and raising when exhausted.
* Credentials come only from the environment and never appear in messages.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, ReadTimeoutError
from urllib3.util.retry import Retry
from zenpy import Zenpy
from zenpy.lib.exception import APIException, RecordNotFoundException, ZenpyException

from checker.models import FetchFailure, FetchState, LiveContact, LiveOrg, Scalar
from checker.settings import Instance, Settings

SHOW_MANY_LIMIT = 100
#: the lowest plan's limit (Team: 200/min), assumed until a response tells the real one
FALLBACK_RATE_LIMIT = 200
MAX_RETRY_AFTER = 60.0
#: how many missed request slots the pacer lets workers catch up on
BURST = 4
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")


class ZendeskError(Exception):
    """A Zendesk problem in our words."""


class CredentialsMissing(ZendeskError):
    """No usable credentials in the environment; the message names the variable."""


class ZendeskUnavailable(ZendeskError):
    """A request failed after retries, or the answer could not be understood."""


class OrgNotFound(ZendeskError):
    """Zendesk answered 404 for this org."""


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str | None = None
    api_token: str | None = None
    oauth_token: str | None = None

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_token, self.oauth_token) if s)


def credentials_from_env(
    instance: Instance, settings: Settings, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Credentials for an instance, from the environment only; raises CredentialsMissing."""
    env = os.environ if environ is None else environ
    prefix = settings.env_prefix(instance.name)
    oauth = env.get(prefix + "OAUTH_TOKEN", "").strip()
    if oauth:
        return Credentials(oauth_token=oauth)
    token = env.get(prefix + "API_TOKEN", "").strip()
    email = env.get(prefix + "EMAIL", "").strip()
    if token and email:
        return Credentials(email=email, api_token=token)
    if token:
        missing = prefix + "EMAIL"
    elif email:
        missing = prefix + "API_TOKEN"
    else:
        missing = f"{prefix}EMAIL and {prefix}API_TOKEN (or {prefix}OAUTH_TOKEN)"
    raise CredentialsMissing(
        f"Zendesk credentials for instance {instance.name!r} are missing: set {missing}"
    )


class Pacer:
    """Spaces requests to an allowed rate, shared by all worker threads.

    The allowed rate is ``limit × share`` per minute; it is lowered while the account's
    ``Remaining`` is low (other tools are busy too) and paused after a 429. Slots are taken
    when they are due, not reserved ahead, so a better-known limit applies at once.
    """

    def __init__(
        self, share: float, limit: int | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.share = share
        self.limit = limit or FALLBACK_RATE_LIMIT
        self._limit_known = limit is not None
        self._clock = clock
        self._cond = threading.Condition()
        self._last = -math.inf
        self._factor = 1.0
        self._paused_until = 0.0
        self.rate_limited = 0

    @property
    def interval(self) -> float:
        return 60.0 / (self.limit * self.share * self._factor)

    def acquire(self) -> None:
        with self._cond:
            while True:
                now = self._clock()
                # Slots missed while workers were busy may be used late, up to BURST of them:
                # the rate over any minute stays within the share, and pacing loses no time.
                slot = max(
                    self._last + self.interval, now - self.interval * BURST, self._paused_until
                )
                if slot <= now:
                    self._last = slot
                    return
                self._cond.wait(slot - now)

    def observe(self, headers: Mapping[str, str]) -> None:
        limit = _int_header(headers, "X-Rate-Limit") or _int_header(headers, "ratelimit-limit")
        remaining = _int_header(headers, "X-Rate-Limit-Remaining")
        if remaining is None:
            remaining = _int_header(headers, "ratelimit-remaining")
        with self._cond:
            before = self.interval
            if limit is not None and limit >= 1 and not self._limit_known:
                self.limit = limit
                self._limit_known = True
            if remaining is not None and remaining >= 0:
                left = remaining / self.limit
                # Leave room for the support team's tools when the account runs low.
                self._factor = 1.0 if left >= 0.2 else 0.5 if left >= 0.1 else 0.2
            if self.interval < before:
                self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        with self._cond:
            self.rate_limited += 1
            self._paused_until = max(self._paused_until, self._clock() + seconds)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


def _retry_class(pacer: Pacer, counter: _Counter, max_retry_after: float) -> type[Retry]:
    """urllib3's Retry, told about each failed attempt (to count it and to pause on 429)."""

    class PacedRetry(Retry):
        def increment(  # type: ignore[override]  # same parameters, passed through
            self, *args: Any, **kwargs: Any
        ) -> Retry:
            counter.add()
            response = kwargs.get("response")
            if response is not None and response.status == 429:
                pacer.pause(min(self._after(response) or 1.0, max_retry_after))
            retry = super().increment(*args, **kwargs)  # raises when retries are exhausted
            pacer.acquire()  # a retry is a request too: it waits for its slot
            return retry

        def _after(self, response: Any) -> float | None:
            value = response.headers.get("Retry-After")
            if not value:
                return None
            try:
                return float(self.parse_retry_after(value))
            except (InvalidHeader, ValueError):  # "soon": fall back to backoff
                return None

        def get_retry_after(self, response: Any) -> float | None:
            after = self._after(response)
            return None if after is None else min(after, max_retry_after)

    return PacedRetry


class _PacedSession(requests.Session):
    def __init__(self, pacer: Pacer, counter: _Counter) -> None:
        super().__init__()
        self._pacer = pacer
        self._counter = counter

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._pacer.acquire()
        response = super().send(request, **kwargs)
        self._counter.add()
        self._pacer.observe(response.headers)
        return response


def _zenpy_location(url: str) -> tuple[str, str, dict[str, str]]:
    """(subdomain, domain, env overrides) for zenpy, which hard-codes https://<sub>.<domain>.

    zenpy reads ZENPY_FORCE_SCHEME / ZENPY_FORCE_NETLOC on every request, which is how a
    local Zendesk-compatible server (http, a port) is reached.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""  # lower-cased: zenpy compares it with the URLs it builds
    labels = host.split(".")
    if parts.scheme == "https" and parts.port is None and len(labels) >= 3:
        return labels[0], ".".join(labels[1:]), {}
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return "local", "invalid", {"ZENPY_FORCE_SCHEME": parts.scheme, "ZENPY_FORCE_NETLOC": netloc}


@contextlib.contextmanager
def _zenpy_env(overrides: Mapping[str, str]) -> Iterator[None]:
    """Sets zenpy's process-wide overrides while one instance is read (instances are read one
    after the other, so two never need different overrides at once)."""
    saved = {k: os.environ.get(k) for k in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC")}
    for k in saved:
        os.environ.pop(k, None)
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ZendeskReader:
    """Reads orgs, their users and field definitions of one Zendesk instance."""

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
    ) -> None:
        self.instance = instance
        self._secrets = credentials.secrets()
        self.pacer = Pacer(share, instance.rate_limit_per_minute)
        self._counter = _Counter()
        self.concurrency = concurrency
        self.timeout = timeout
        retry = _retry_class(self.pacer, self._counter, max_retry_after)(
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
        self.session = _PacedSession(self.pacer, self._counter)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=concurrency + 2)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._subdomain, self._domain, self._env = _zenpy_location(instance.url)
        self._credentials = credentials
        self._local = threading.local()
        self._env_scope = contextlib.ExitStack()
        # Always entered: it also clears overrides inherited from the environment, which
        # would send an https instance's requests, token included, to another host.
        self._env_scope.enter_context(_zenpy_env(self._env))

    @property
    def requests_made(self) -> int:
        return self._counter.value

    def close(self) -> None:
        self.session.close()
        self._env_scope.close()

    def __enter__(self) -> ZendeskReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            c = self._credentials
            client = Zenpy(
                subdomain=self._subdomain,
                domain=self._domain,
                email=c.email,
                token=c.api_token,
                oauth_token=c.oauth_token,
                session=self.session,
                timeout=self.timeout,
                disable_cache=True,
            )
            self._local.client = client
        return client

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _fail(self, what: str, exc: BaseException) -> ZendeskError:
        """Translate a vendor or transport error into ours, without secrets."""
        if isinstance(exc, RecordNotFoundException):
            return OrgNotFound(f"{what}: not found (404)")
        if isinstance(exc, requests.exceptions.RetryError):
            # urllib3 says "too many 503 error responses" when the status retries ran out.
            m = _TOO_MANY.search(str(exc))
            if m and m.group(1) == "429":
                return ZendeskUnavailable(f"{what}: rate limited (429) after retries")
            if m:
                return ZendeskUnavailable(f"{what}: HTTP {m.group(1)} after retries")
            return ZendeskUnavailable(f"{what}: retries exhausted")
        if isinstance(exc, requests.exceptions.Timeout):
            return ZendeskUnavailable(f"{what}: timed out after {self.timeout:g} s (with retries)")
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = getattr(exc.args[0] if exc.args else None, "reason", None)
            if isinstance(reason, ReadTimeoutError):
                return ZendeskUnavailable(
                    f"{what}: timed out after {self.timeout:g} s (with retries)"
                )
            return ZendeskUnavailable(f"{what}: connection failed (with retries)")
        if isinstance(exc, APIException):
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status == 401:
                return ZendeskUnavailable(f"{what}: Zendesk refused the credentials (401)")
            if status == 404:
                return OrgNotFound(f"{what}: not found (404)")
            return ZendeskUnavailable(f"{what}: Zendesk answered HTTP {status or '?'}")
        if isinstance(exc, requests.exceptions.HTTPError):
            status = getattr(exc.response, "status_code", "?")
            return ZendeskUnavailable(f"{what}: Zendesk answered HTTP {status} (not JSON)")
        if isinstance(exc, ValueError):
            return ZendeskUnavailable(f"{what}: the answer was not valid JSON")
        if isinstance(exc, ZenpyException):
            return ZendeskUnavailable(f"{what}: {self._scrub(str(exc))[:200]}")
        return ZendeskUnavailable(f"{what}: {type(exc).__name__}: {self._scrub(str(exc))[:200]}")

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except ZendeskError:
            raise
        except Exception as e:  # vendor errors arrive as many types; all become ours
            raise self._fail(what, e) from None
        if isinstance(result, requests.Response):
            # zenpy hands back the raw response when it cannot parse it.
            raise ZendeskUnavailable(f"{what}: the answer was not valid JSON")
        return result

    # -- reads -------------------------------------------------------------------------------

    def _show_many(self, ids: Sequence[int]) -> dict[int, Any]:
        def run() -> dict[int, Any]:
            found = {}
            for o in self._client().organizations(ids=list(ids)):
                if isinstance(getattr(o, "id", None), int):
                    found[o.id] = o
            return found

        found: dict[int, Any] = self._call(f"organizations {ids[0]}…{ids[-1]}", run)
        return found

    def _show(self, org_id: int) -> Any:
        return self._call(f"org {org_id}", lambda: self._client().organizations(id=org_id))

    def _users(self, org_id: int) -> tuple[LiveContact, ...]:
        what = f"users of org {org_id}"

        def run() -> tuple[LiveContact, ...]:
            users = self._client().organizations.users(org_id)
            if isinstance(users, requests.Response):
                return users  # type: ignore[return-value]  # rejected by _call
            contacts = tuple(
                LiveContact(
                    email=str(u.email or ""),
                    name=None if u.name is None else str(u.name),
                    user_id=int(u.id),
                )
                for u in users
            )
            self._check_last_page(what, getattr(users, "_response_json", None))
            return contacts

        contacts: tuple[LiveContact, ...] = self._call(what, run)
        return contacts

    def _check_last_page(self, what: str, last: Any) -> None:
        """zenpy stops at the first empty page without reading its ``has_more``; Zendesk sends
        an empty last page when the total is a multiple of the page size. When the last page
        zenpy kept says more follow, read the next one: only an empty page that says it is the
        end makes the list complete. Anything else is a failure, not a shorter list."""
        if not isinstance(last, dict):
            raise ZendeskUnavailable(f"{what}: the answer was not a page of users")
        meta = last.get("meta")
        if not isinstance(meta, dict) or not meta.get("has_more"):
            return
        links = last.get("links")
        url = links.get("next") if isinstance(links, dict) else None
        if not isinstance(url, str) or not url:
            raise ZendeskUnavailable(f"{what}: a page says more follow but gives no next link")
        response = self.session.get(url, timeout=self.timeout)
        response.raise_for_status()
        page = response.json()
        if (
            not isinstance(page, dict)
            or page.get("users") != []
            or (page.get("meta") or {}).get("has_more")
        ):
            raise ZendeskUnavailable(f"{what}: the pages of users ended early")

    def _live(self, org_id: int, org: Any, contacts: tuple[LiveContact, ...]) -> LiveOrg:
        """Our LiveOrg from zenpy's object; an org that is not what was asked for, or not
        shaped like an org, is a failure."""
        what = f"org {org_id}"
        if getattr(org, "id", None) != org_id:
            raise ZendeskUnavailable(f"{what}: Zendesk answered with another or no org id")
        fields = getattr(org, "organization_fields", None) or {}
        notes, details = getattr(org, "notes", None), getattr(org, "details", None)
        if not isinstance(fields, dict) or not all(
            v is None or isinstance(v, str) for v in (notes, details)
        ):
            raise ZendeskUnavailable(f"{what}: the org's data is not shaped as expected")
        return LiveOrg(
            instance=self.instance.name,
            org_id=org_id,
            name=str(getattr(org, "name", None) or ""),
            notes=notes,
            details=details,
            fields=tuple(sorted((str(k), _scalar(v)) for k, v in fields.items())),
            contacts=contacts,
        )

    def fetch(
        self, org_ids: Iterable[int], progress: Callable[[int], None] | None = None
    ) -> dict[int, LiveOrg | FetchFailure]:
        """Live state of every org id: show_many in batches of 100, then each org's users.

        Work runs on a bounded pool; the pacer keeps the whole of it within the allowed rate.
        """
        ids = sorted(set(org_ids))
        out: dict[int, LiveOrg | FetchFailure] = {}
        done = progress or (lambda n: None)
        batches = [ids[i : i + SHOW_MANY_LIMIT] for i in range(0, len(ids), SHOW_MANY_LIMIT)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            pending: dict[Future[Any], tuple[str, Any]] = {}
            for batch in batches:
                pending[pool.submit(self._show_many, batch)] = ("batch", batch)
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    kind, arg = pending.pop(fut)
                    try:
                        value = fut.result()
                    except OrgNotFound as e:
                        if kind == "batch":
                            for org_id in arg:
                                out[org_id] = FetchFailure(FetchState.UNKNOWN, str(e))
                            done(len(arg))
                        elif kind == "show":
                            out[arg] = FetchFailure(FetchState.MISSING, str(e))
                            done(1)
                        else:
                            # The org was just read: a 404 for its users contradicts that.
                            out[arg[0]] = FetchFailure(
                                FetchState.UNKNOWN, f"{e}, although the org itself was read"
                            )
                            done(1)
                        continue
                    except ZendeskError as e:
                        failed = arg if kind == "batch" else [arg[0] if kind == "users" else arg]
                        for org_id in failed:
                            out[org_id] = FetchFailure(FetchState.UNKNOWN, str(e))
                        done(len(failed))
                        continue
                    if kind == "batch":
                        for org_id in arg:
                            if org_id in value:
                                task = pool.submit(self._users, org_id)
                                pending[task] = ("users", (org_id, value[org_id]))
                            else:
                                # Absent from show_many: confirm with a direct read before
                                # calling it missing (a wrong report is worse than none).
                                pending[pool.submit(self._show, org_id)] = ("show", org_id)
                    elif kind == "show":
                        task = pool.submit(self._users, arg)
                        pending[task] = ("users", (arg, value))
                    else:
                        org_id, org = arg
                        try:
                            out[org_id] = self._live(org_id, org, value)
                        except ZendeskError as e:
                            out[org_id] = FetchFailure(FetchState.UNKNOWN, str(e))
                        except Exception as e:  # zenpy objects can hold anything: never crash
                            failure = self._fail(f"org {org_id}", e)
                            out[org_id] = FetchFailure(FetchState.UNKNOWN, str(failure))
                        done(1)
        return out

    def list_org_ids(self, *, query: str | None = None, with_field: str | None = None) -> list[int]:
        """Org ids by a Zendesk search query, or every org whose field ``with_field`` is set.

        Search stops at 1,000 results (Zendesk's cap); listing all orgs has no such cap.
        """

        def run() -> list[int]:
            client = self._client()
            if query is not None:
                results = client.search(query, type="organization")
                return [int(o.id) for o in results]
            found = []
            for org in client.organizations():
                fields = getattr(org, "organization_fields", None) or {}
                value = fields.get(with_field) if with_field else True
                if value not in (None, "", [], False):
                    found.append(int(org.id))
            return found

        ids: list[int] = self._call("organization listing", run)
        return ids


def _scalar(value: Any) -> Scalar | list[Scalar]:
    if isinstance(value, list):
        return [
            v if isinstance(v, str | int | float | bool) or v is None else str(v) for v in value
        ]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
