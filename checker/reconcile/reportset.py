"""Drift reports as evidence: one set of shards that holds together, made with these settings
and these files. Shared by ``checker reconcile`` and every other command that reads reports.

A report is evidence only when

* it holds together: it says where it came from (``source``), every org's status agrees with
  its items (``drifted`` has items; ``in_sync``, ``missing`` and ``unknown`` have none), the
  summary agrees with the orgs, and its fingerprint names exactly the orgs it reports;
* the shards form one run: every shard present once, no org in two of them;
* it was made with the settings in force now (the fingerprint's settings hash);
* every org's ``file`` is below ``config/orgs/`` and is the file that declares that org now.
  Paths are only compared: whatever reads an org file takes the path from the current
  specs, never from a report.

An org whose file changed since the report (its hash differs, or the file is gone) is *stale*:
the caller treats it as could-not-be-checked, never acting on old evidence.

The entry point for files is :func:`load`; :func:`combine` and :func:`check_against` serve
reports made in memory. Every refusal is a :class:`ReportSetError` whose message names the first
problem (and the file it is in).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.domain.models import DriftReport, Fingerprint, OrgDrift, OrgSpec, OrgStatus
from checker.domain.settings import Settings
from checker.report import ReportError, from_dict, summary

__all__ = [
    "CombinedReport",
    "ReportSetError",
    "check_against",
    "combine",
    "file_hash",
    "fingerprint",
    "load",
    "settings_hash",
]

OrgKey = tuple[str, int]

#: Settings fields that change how a run behaves but not what it finds (pacing, timeouts, where
#: GitLab things go). Matched as parts of field names, so keys added later are covered unless
#: they are about pacing. Everything else in the settings (instances and their field keys, source
#: of truth, contact rules) goes into the fingerprint.
_OPERATIONAL = ("config_dir", "timeout", "concurrency", "rate_limit", "gitlab")


class ReportSetError(Exception):
    """The drift reports given cannot be used as evidence: the one-line reason."""


@dataclass(frozen=True, slots=True)
class CombinedReport:
    """The shard reports of one run, merged. ``complete``: every declared org was checked."""

    orgs: Mapping[OrgKey, OrgDrift]
    complete: bool
    checked_on: str = ""
    #: why the set is not complete (for the plan's output), None when it is
    partial_reason: str | None = None
    #: orgs whose file changed since the report: to be treated as could-not-be-checked
    stale: frozenset[OrgKey] = frozenset()
    #: the reports combined, in the order given
    reports: tuple[DriftReport, ...] = ()


def _key_text(key: OrgKey) -> str:
    return f"{key[0]}/{key[1]}"


# --------------------------------------------------------------------------- fingerprint


def _as_data(value: Any) -> Any:
    """Settings as plain JSON-able data, operational fields left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _as_data(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not any(part in f.name for part in _OPERATIONAL)
        }
    if isinstance(value, Mapping):
        return {str(k): _as_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_as_data(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, Path):
        return str(value)
    return value


def settings_hash(settings: object) -> str:
    """SHA-256 of the settings that decide what drift is (see ``_OPERATIONAL``)."""
    text = json.dumps(_as_data(settings), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_hash(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes; None when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def fingerprint(settings: Settings, specs: Sequence[OrgSpec]) -> Fingerprint:
    """The fingerprint of a report about ``specs`` made with ``settings``."""
    files = ((_key_text(s.key), file_hash(s.path) or "") for s in specs)
    return Fingerprint(settings_hash(settings), tuple(sorted(files)))


# --------------------------------------------------------------------------- one report


def _check_orgs(report: DriftReport, name: str) -> None:
    for o in report.orgs:
        where = f"{name}: org {_key_text((o.instance, o.org_id))}"
        if o.status is OrgStatus.DRIFTED and not o.items:
            raise ReportSetError(f"{where} is drifted but lists no difference")
        if o.status is not OrgStatus.DRIFTED and o.items:
            raise ReportSetError(
                f"{where} is {o.status.value} but lists {len(o.items)} difference(s)"
            )
    fp = report.fingerprint
    if fp is not None:
        named = {k for k, _ in fp.files}
        reported = {_key_text((o.instance, o.org_id)) for o in report.orgs}
        if named != reported:
            odd = sorted(named ^ reported)[0]
            raise ReportSetError(
                f"{name}: the fingerprint and the orgs disagree (org {odd} is in only one)"
            )


def _parse(text: str, name: str, *, need_fingerprint: bool) -> DriftReport:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportSetError(f"{name}: not JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise ReportSetError(f"{name}: not usable: nested too deeply") from None
    try:
        report = from_dict(doc)
    except ReportError as e:
        raise ReportSetError(f"{name}: {e}") from None
    if "source" not in doc:
        raise ReportSetError(f"{name}: the report does not say its source (live or snapshot)")
    if "scope" not in doc:
        raise ReportSetError(f"{name}: the report does not say its scope (full or partial)")
    if need_fingerprint and report.fingerprint is None:
        raise ReportSetError(
            f"{name}: the report has no fingerprint; make it with this checker version "
            "(checker drift --format json)"
        )
    _check_orgs(report, name)
    stated = doc["summary"]
    actual = summary(report)
    for key, value in actual.items():
        if key in stated and stated[key] != value:
            raise ReportSetError(
                f"{name}: the summary says {key} {stated[key]}, but the orgs say {value}"
            )
    return report


# --------------------------------------------------------------------------- the set


def _parse_shard(text: str) -> tuple[int, int]:
    parts = text.strip().split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ReportSetError(f"shard {text!r} is not I/N with 1 <= I <= N")
    index, count = int(parts[0]), int(parts[1])
    if not 1 <= index <= count:
        raise ReportSetError(f"shard {text!r} is not I/N with 1 <= I <= N")
    return index, count


def _check_shards(reports: Sequence[DriftReport], label: Sequence[str]) -> None:
    if len(reports) == 1 and reports[0].shard is None:
        return
    shards: dict[int, str] = {}
    total: int | None = None
    for name, r in zip(label, reports, strict=True):
        if r.shard is None:
            raise ReportSetError(
                f"{name} has no shard, but several reports were given: "
                "pass the shard reports of one run, or one full report"
            )
        index, count = _parse_shard(r.shard)
        if total is not None and count != total:
            raise ReportSetError(
                f"{name} is shard {r.shard} but another report is of {total} shards: "
                "the reports come from different runs"
            )
        total = count
        if index in shards:
            raise ReportSetError(f"shard {index}/{count} is given twice ({shards[index]}, {name})")
        shards[index] = name
    assert total is not None
    missing = [f"{i}/{total}" for i in range(1, total + 1) if i not in shards]
    if missing:
        raise ReportSetError(
            f"shard {', '.join(missing)} missing: pass every shard report of the run"
        )


def combine(reports: Sequence[DriftReport], names: Sequence[str] | None = None) -> CombinedReport:
    """Merge the shard reports of one run. Raises :class:`ReportSetError` for a report that
    contradicts itself, a missing or repeated shard, shards of different runs or settings, or
    an org in two reports."""
    if not reports:
        raise ReportSetError("no drift report given")
    label = list(names) if names is not None else [f"report {n + 1}" for n in range(len(reports))]
    for name, r in zip(label, reports, strict=True):
        _check_orgs(r, name)
    _check_shards(reports, label)
    settings_hashes = {r.fingerprint.settings for r in reports if r.fingerprint is not None}
    if len(settings_hashes) > 1:
        raise ReportSetError("the reports were made with different settings: they are not one run")
    orgs: dict[OrgKey, OrgDrift] = {}
    where: dict[OrgKey, str] = {}
    for name, r in zip(label, reports, strict=True):
        for o in r.orgs:
            key = (o.instance, o.org_id)
            if key in orgs:
                raise ReportSetError(
                    f"org {_key_text(key)} is in two reports ({where[key]} and {name})"
                )
            orgs[key] = o
            where[key] = name
    partial = [name for name, r in zip(label, reports, strict=True) if r.scope != "full"]
    return CombinedReport(
        orgs=orgs,
        reports=tuple(reports),
        complete=not partial,
        checked_on=max((r.checked_on for r in reports), default=""),
        partial_reason=(
            None if not partial else f"{', '.join(partial)} checked a selection of orgs only"
        ),
    )


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _resolved(path: str) -> Path | None:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def check_against(
    reports: Sequence[DriftReport],
    combined: CombinedReport,
    settings: Settings,
    specs: Sequence[OrgSpec],
    names: Sequence[str] | None = None,
) -> CombinedReport:
    """Hold ``combined`` against the settings and org files in force now.

    Refuses (:class:`ReportSetError`) a report made with other settings, and an org whose
    ``file`` lies outside ``config/orgs/`` or is not the file that declares that org now.
    Returns ``combined`` with :attr:`CombinedReport.stale` set: orgs whose file changed since
    the report (or is gone), which are turned into could-not-be-checked orgs. A few lines over
    60: each check is one refusal with its own message, in the order they are reported."""
    label = list(names) if names is not None else [f"report {n + 1}" for n in range(len(reports))]
    current = settings_hash(settings)
    for name, r in zip(label, reports, strict=True):
        if r.fingerprint is not None and r.fingerprint.settings != current:
            raise ReportSetError(
                f"{name} was made with other settings than config/checker.yaml holds now "
                "(instances, field keys, source of truth or contact rules differ); "
                "run the drift check again"
            )
    orgs_dir = settings.orgs_dir.resolve()
    by_key = {s.key: s for s in specs}
    by_path = {p: s for s in specs if (p := _resolved(s.path)) is not None}
    hashes = {k: v for r in reports if r.fingerprint is not None for k, v in r.fingerprint.files}
    stale: set[OrgKey] = set()
    for key, org in combined.orgs.items():
        named = _resolved(org.file)
        if named is None or not _inside(named, orgs_dir):
            raise ReportSetError(
                f"org {_key_text(key)}: the report names {org.file!r}, which is not an org file "
                f"below {settings.orgs_dir}; the report is refused"
            )
        spec = by_key.get(key)
        owner = by_path.get(named)
        if owner is not None and owner.key != key:
            raise ReportSetError(
                f"org {_key_text(key)}: the report names {org.file}, which declares org "
                f"{_key_text(owner.key)}; the report is refused"
            )
        if spec is None:
            stale.add(key)  # the file was removed since the report: old evidence
            continue
        if _resolved(spec.path) != named:
            raise ReportSetError(
                f"org {_key_text(key)}: the report names {org.file}, but {spec.path} declares "
                "it; the report is refused"
            )
        recorded = hashes.get(_key_text(key))
        if recorded is not None and recorded != file_hash(spec.path):
            stale.add(key)
    orgs = dict(combined.orgs)
    for key in stale:
        orgs[key] = dataclasses.replace(
            orgs[key],
            status=OrgStatus.UNKNOWN,
            items=(),
            error="the org file changed since the drift report was made: not acted on",
        )
    return dataclasses.replace(combined, orgs=orgs, stale=frozenset(stale))


def load(paths: Sequence[Path], settings: Settings, specs: Sequence[OrgSpec]) -> CombinedReport:
    """Read drift report files of one run and check them as evidence (see the module
    docstring). The one function to call for report files before acting on them: raises
    :class:`ReportSetError` naming the first problem; returns the combined set with its stale
    orgs."""
    reports = read(paths)
    names = [str(p) for p in paths]
    combined = combine(reports, names)
    return check_against(reports, combined, settings, specs, names)


def read(paths: Sequence[Path], *, need_fingerprint: bool = True) -> list[DriftReport]:
    """Read drift report files of one run, each checked on its own (it holds together, says
    its source and scope, carries its fingerprint unless ``need_fingerprint`` is false, one
    schema version for all). Showing them (``checker report``) needs no more; acting on them
    needs :func:`load`."""
    if not paths:
        raise ReportSetError("no drift report given")
    reports: list[DriftReport] = []
    versions: dict[object, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8"
            raise ReportSetError(f"{path}: cannot read: {reason}") from None
        try:
            version = json.loads(text).get("schema_version")
        except (ValueError, AttributeError, RecursionError):
            version = None
        versions.setdefault(version, str(path))
        if len(versions) > 1:
            (first, first_path), (second, second_path) = list(versions.items())[:2]
            raise ReportSetError(
                f"the reports have different schema versions: {first_path} has {first!r}, "
                f"{second_path} has {second!r}; make them with the same checker version"
            )
        reports.append(_parse(text, str(path), need_fingerprint=need_fingerprint))
    return reports
