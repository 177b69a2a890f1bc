"""The shape of each Zendesk answer the reader uses, checked on the raw JSON before zenpy parses
it (:mod:`checker.live.zendesk_listing` runs these checks from the guarded session), so what zenpy
builds its objects from, and :func:`live_org` reads, has already passed them.

A ``200`` whose body is not what was asked for (another endpoint's answer, a page without its
pagination envelope, users whose email is not a string, a count that disagrees with the list)
raises :class:`ShapeError`, whose message names the problem and never the data (an answer can
hold personal data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checker.domain.models import LiveContact, LiveOrg, Scalar
from checker.live.transport import rebase

#: values that leave a custom field unset
UNSET: tuple[object, ...] = (None, "", [], False)


class ShapeError(Exception):
    """An answer that is not the shape asked for."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool
    next_url: object


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_or_null(value: object) -> bool:
    return value is None or isinstance(value, str)


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def org(obj: object) -> dict[str, Any]:
    """An organization: an integer id, text (or null) name, notes and details, and custom
    field values that are scalars or lists of scalars. ``organization_fields`` null or absent
    reads as no fields (the drift check then names the missing keys)."""
    if not isinstance(obj, dict) or not _is_int(obj.get("id")):
        raise ShapeError("an organization without an integer id")
    if not all(_text_or_null(obj.get(k)) for k in ("name", "notes", "details")):
        raise ShapeError("an organization whose name, notes or details are not text")
    fields = obj.get("organization_fields")
    if fields is not None and (
        not isinstance(fields, dict)
        or not all(
            _scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))
            for v in fields.values()
        )
    ):
        raise ShapeError("an organization whose organization_fields are not field values")
    return obj


def user(obj: object) -> dict[str, Any]:
    """A user: integer id, text (or null) email and name, a role, a suspended flag."""
    if not isinstance(obj, dict) or not _is_int(obj.get("id")):
        raise ShapeError("a user without an integer id")
    if not _text_or_null(obj.get("email")) or not _text_or_null(obj.get("name")):
        raise ShapeError("a user whose email or name is not text")
    if not isinstance(obj.get("role"), str) or not isinstance(obj.get("suspended", False), bool):
        raise ShapeError("a user without a role or with a suspended flag that is not true/false")
    return obj


def search_org(obj: object) -> dict[str, Any]:
    """An export-search result: an organization that says so."""
    if not isinstance(obj, dict) or obj.get("result_type") != "organization":
        raise ShapeError("a search result that is not an organization")
    return org(obj)


def show_many(body: object) -> dict[int, dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("organizations"), list):
        raise ShapeError("the answer is not a list of organizations")
    orgs = [org(o) for o in body["organizations"]]
    count = body.get("count")
    if count is not None and (not _is_int(count) or count != len(orgs)):
        raise ShapeError("the answer's count disagrees with the organizations listed")
    if body.get("next_page") is not None:  # one page answers up to 100 ids
        raise ShapeError("the answer says more pages follow")
    return {o["id"]: o for o in orgs}


def show(body: object, org_id: int) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("organization"), dict):
        raise ShapeError("the answer is not an organization")
    found = org(body["organization"])
    if found["id"] != org_id:
        raise ShapeError("Zendesk answered with another org id")
    return found


def cursor_page(body: object, key: str, item: Callable[[Any], dict[str, Any]]) -> Page:
    """One page of a cursor-paginated listing: ``{key: [...], meta: {has_more}, links: {next}}``.

    ``has_more`` is what counts: the last page still carries a ``links.next``."""
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise ShapeError(f"the answer is not a page of {key}")
    meta, links = body.get("meta"), body.get("links")
    if not isinstance(meta, dict) or not isinstance(meta.get("has_more"), bool):
        raise ShapeError(f"a page of {key} without its pagination envelope")
    if not isinstance(links, dict):
        raise ShapeError(f"a page of {key} without its links")
    items = [item(x) for x in body[key]]
    count = body.get("count")
    if count is not None and not meta["has_more"] and (not _is_int(count) or count < len(items)):
        raise ShapeError(f"a page of {key} whose count disagrees with the list")
    return Page(items, meta["has_more"], links.get("next"))


def next_link(url: object, base: str, path: str) -> str:
    if not isinstance(url, str) or not url:
        raise ShapeError("a page says more follow but gives no next link")
    rebased = rebase(url, base, path)
    if rebased is None:
        raise ShapeError("a next link that cannot be re-based onto the instance URL; not followed")
    return rebased


def fields(org: Any) -> dict[str, Any]:
    """An organization object's custom field values (none when it has none)."""
    found = getattr(org, "organization_fields", None)
    return dict(dict.items(found)) if isinstance(found, dict) else {}


def _value(value: Any) -> Scalar | list[Scalar]:
    return list(value) if isinstance(value, list) else value


def live_org(instance: str, org_id: int, org: Any, users: list[Any]) -> LiveOrg:
    """Our LiveOrg from the objects zenpy built of answers whose shape was checked."""
    return LiveOrg(
        instance=instance,
        org_id=org_id,
        name=org.name or "",
        notes=org.notes,
        details=org.details,
        fields=tuple(sorted((str(k), _value(v)) for k, v in fields(org).items())),
        contacts=tuple(
            LiveContact(
                email=u.email or "",
                name=u.name,
                user_id=u.id,
                role=u.role,
                suspended=bool(u.suspended),
            )
            for u in users
        ),
    )
