"""What an adopt merge request would commit must pass ``checker validate`` first: the edited
org file on its own (schema and rules, with the same settings) and across files (no other org
file declares the same org or Salesforce id).

Drift items are adopted one at a time, in order, each kept only when the file stays valid; the
rest are refused with the first problem validation found, so that a value the repository cannot
accept (an email the schema refuses, a name too long, a malformed Salesforce id, one contact too
many) never reaches a merge request. Pure: text in, decisions out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from checker.domain.models import DriftItem, OrgSpec
from checker.domain.normalise import salesforce_key
from checker.domain.settings import Settings
from checker.edit.orgwriter import Adoption, OrgWriteError, adopt
from checker.load.orgfile import check_loaded
from checker.load.yamlload import YamlLoadError, load_yaml

__all__ = ["REFUSED", "CheckedAdoption", "checked_adoption", "problem"]

#: how a refused item is explained on the org's issue
REFUSED = "Zendesk holds a value this repository cannot accept"


@dataclass(frozen=True, slots=True)
class CheckedAdoption:
    """The adoption of the items that keep the file valid, and the items refused (with why)."""

    adoption: Adoption
    refused: tuple[tuple[DriftItem, str], ...] = ()


def problem(
    text: str, path: str, settings: Settings, others: Sequence[OrgSpec], today: dt.date
) -> str | None:
    """The first error ``checker validate`` would report for ``text`` as the file ``path``
    (alongside the other org files ``others``), or None when it is valid."""
    body = text[1:] if text.startswith("\ufeff") else text
    try:
        loaded = load_yaml(body)
    except YamlLoadError as e:
        first = e.problems[0]
        return f"{first.rule}: {first.message}"
    result = check_loaded(loaded, path, settings, today)
    errors = [f for f in result.findings if f.severity == "error"]
    if errors:
        return f"{errors[0].rule}: {errors[0].message}"
    spec = result.spec
    assert spec is not None
    for other in others:
        if other.path == path:
            continue
        if other.key == spec.key:
            return f"duplicate-org-id: org {spec.org_id} is also declared in {other.path}"
        mine, theirs = spec.salesforce_id, other.salesforce_id
        if (
            isinstance(mine, str)
            and isinstance(theirs, str)
            and salesforce_key(mine) == salesforce_key(theirs)
        ):
            return f"duplicate-salesforce-id: {mine} is also declared in {other.path}"
    return None


def checked_adoption(
    text: str,
    items: Sequence[DriftItem],
    *,
    path: str,
    settings: Settings,
    others: Sequence[OrgSpec],
    today: dt.date,
) -> CheckedAdoption:
    """Adopt ``items`` into ``text`` as far as the result stays valid (see the module
    docstring). Raises :class:`OrgWriteError` when the file cannot be edited at all."""
    whole = adopt(text, items)
    if not whole.changed or problem(whole.text, path, settings, others, today) is None:
        return CheckedAdoption(whole)
    kept: list[DriftItem] = []
    refused: list[tuple[DriftItem, str]] = []
    for item in whole.applied:
        trial = adopt(text, [*kept, item])
        why = problem(trial.text, path, settings, others, today) if trial.changed else None
        if why is None:
            kept.append(item)
        else:
            refused.append((item, why))
    final = adopt(text, kept) if kept else Adoption(text, (), whole.skipped)
    if final.changed and problem(final.text, path, settings, others, today) is not None:
        raise OrgWriteError("the adopted file does not validate")  # pragma: no cover - guard
    return CheckedAdoption(Adoption(final.text, final.applied, whole.skipped), tuple(refused))
