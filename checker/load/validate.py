"""``checker validate``: every org file and the settings, then the rules across files.

Parsing YAML dominates the time on many small files, so files are checked in worker processes
when there are enough of them to repay the start-up (each worker compiles the schema once).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from checker.domain.models import Finding, OrgSpec
from checker.domain.normalise import salesforce_key
from checker.domain.settings import Settings
from checker.load.keyindex import display_paths, read_keys
from checker.load.orgfile import OrgFileResult, check_org_file
from checker.load.schema import ORG_SCHEMA, validator
from checker.load.settings import display_path, load_settings

#: below this many files a process pool costs more than it saves
PARALLEL_THRESHOLD = 400


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of validating: findings, the valid specs, and what was looked at."""

    settings: Settings | None
    findings: tuple[Finding, ...]
    specs: tuple[OrgSpec, ...]
    files_checked: int
    paths: tuple[str, ...] = ()

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def discover(orgs_dir: Path) -> tuple[list[Path], list[Finding]]:
    """Every file under ``orgs_dir`` (subfolders too); anything not ``*.yaml`` is a finding."""
    files: list[Path] = []
    findings: list[Finding] = []
    if not orgs_dir.is_dir():
        return files, [
            Finding(
                display_path(orgs_dir),
                1,
                1,
                "orgs-dir-missing",
                "the org files folder does not exist",
            )
        ]
    for root, dirs, names in os.walk(orgs_dir):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            if name == ".gitkeep":
                continue  # git keeps no empty folder: `checker init` leaves this placeholder
            if name.endswith(".yaml"):
                files.append(path)
            else:
                hint = (
                    f"rename it to {name[:-4]}.yaml"
                    if name.endswith(".yml")
                    else "only .yaml org files belong here"
                )
                findings.append(
                    Finding(
                        display_path(path),
                        1,
                        1,
                        "file-extension",
                        f"{name} is not an org file: {hint}",
                    )
                )
    return files, findings


#: what every file of a run is checked against, set once per worker process
_CONTEXT: tuple[Settings, dt.date, bool] | None = None


def _start_worker(settings: Settings, today: dt.date, keep_specs: bool) -> None:
    global _CONTEXT  # one context per worker process, set by its initializer
    _CONTEXT = (settings, today, keep_specs)
    validator(ORG_SCHEMA)


def _check_one(job: tuple[Path, str]) -> OrgFileResult:
    assert _CONTEXT is not None
    settings, today, keep_specs = _CONTEXT
    result = check_org_file(job[0], job[1], settings, today)
    # A spec holds every contact: only send it back to the parent process when it is used.
    return result if keep_specs else replace(result, spec=None)


def check_files(
    paths: Sequence[Path],
    settings: Settings,
    today: dt.date,
    *,
    workers: int | None = None,
    keep_specs: bool = True,
) -> list[OrgFileResult]:
    jobs = list(zip(paths, display_paths(paths), strict=True))
    cpus = workers if workers is not None else (os.cpu_count() or 1)
    if cpus > 1 and len(jobs) >= PARALLEL_THRESHOLD:
        chunk = max(16, len(jobs) // (cpus * 8))
        with ProcessPoolExecutor(
            max_workers=cpus, initializer=_start_worker, initargs=(settings, today, keep_specs)
        ) as pool:
            return list(pool.map(_check_one, jobs, chunksize=chunk))
    return [check_org_file(path, shown, settings, today) for path, shown in jobs]


def cross_file(results: Iterable[OrgFileResult]) -> list[Finding]:
    """Unique org id per instance, unique Salesforce id, unique file name."""
    out: list[Finding] = []
    by_id: dict[tuple[str, int], list[OrgFileResult]] = defaultdict(list)
    by_sf: dict[str, list[OrgFileResult]] = defaultdict(list)
    by_name: dict[str, list[OrgFileResult]] = defaultdict(list)
    for r in results:
        if r.org_id is not None and r.instance is not None:
            by_id[(r.instance, r.org_id)].append(r)
        if r.salesforce_id:
            by_sf[salesforce_key(r.salesforce_id)].append(r)
        by_name[Path(r.path).name.lower()].append(r)
    for (instance, org_id), group in by_id.items():
        out += _duplicates(
            group,
            "duplicate-org-id",
            f"org {org_id} on instance {instance!r} is also declared in ",
            lambda r: r.org_id_pos,
            "zendesk.org_id",
        )
    for sf, group in by_sf.items():
        out += _duplicates(
            group,
            "duplicate-salesforce-id",
            f"Salesforce id {sf} is also declared in ",
            lambda r: r.salesforce_pos,
            "salesforce_id",
        )
    for name, group in by_name.items():
        out += _duplicates(
            group,
            "duplicate-file-name",
            f"another org file is named {name}: ",
            lambda r: (1, 1),
            "",
        )
    return out


def _duplicates(
    group: list[OrgFileResult],
    rule: str,
    message: str,
    position: Callable[[OrgFileResult], tuple[int, int]],
    locator: str,
) -> list[Finding]:
    """One finding per file of a group that shares what must be unique: ``message`` followed by
    the other files."""
    if len(group) < 2:
        return []
    return [
        Finding(
            r.path,
            *position(r),
            rule,
            message + ", ".join(o.path for o in group if o is not r),
            locator=locator,
        )
        for r in group
    ]


def validate(
    config_dir: Path,
    paths: Sequence[Path] = (),
    *,
    today: dt.date | None = None,
    workers: int | None = None,
    keep_specs: bool = True,
    partial: bool = False,
) -> Validation:
    """Validate the settings, every org file, and the rules across files.

    With ``paths`` (or ``partial``, when even no path is to be checked), only those files are
    checked and only their findings reported, but the rules across files still compare them with
    every file in the org folder (a duplicate id is a duplicate of a file that is already there):
    through the key index of :mod:`checker.load.keyindex`, with the same findings as a full run.
    """
    today = today or dt.date.today()
    settings, findings = load_settings(config_dir)
    if settings is None:
        return Validation(None, tuple(findings), (), 0)
    if paths or partial:
        return _validate_selected(settings, findings, paths, today, workers, keep_specs)
    all_files, stray = discover(settings.orgs_dir)
    results = check_files(all_files, settings, today, workers=workers, keep_specs=keep_specs)
    findings.extend(stray)
    for r in results:
        findings.extend(r.findings)
    findings.extend(cross_file(results))
    findings.sort(key=Finding.sort_key)
    specs = tuple(r.spec for r in results if r.spec is not None)
    return Validation(
        settings, tuple(findings), specs, len(results), tuple(r.path for r in results)
    )


def _under(shown: str, dirs: Sequence[str]) -> bool:
    """Whether a displayed path lies in one of the displayed folders ("." holds every relative
    path)."""
    for d in dirs:
        if d == ".":
            if not shown.startswith(("/", "../")):
                return True
        elif shown.startswith(d.rstrip("/") + "/"):
            return True
    return False


def _validate_selected(
    settings: Settings,
    findings: list[Finding],
    paths: Sequence[Path],
    today: dt.date,
    workers: int | None,
    keep_specs: bool,
) -> Validation:
    """Check ``paths`` in full and every other org file only as far as the rules across files
    need: linear in the number of files, and the same findings for ``paths`` as a full run."""
    all_files, stray = discover(settings.orgs_dir)
    shown = display_paths(all_files)
    known = set(shown)
    stray_paths = {f.path for f in stray}
    is_dir = [p.is_dir() for p in paths]
    dirs = [display_path(p) for p, d in zip(paths, is_dir, strict=True) if d]
    files = [p for p, d in zip(paths, is_dir, strict=True) if not d]
    selected: set[str] = set()
    extra: dict[str, Path] = {}  # files outside the org folder, checked as org files
    for p, name in zip(files, display_paths(files), strict=True):
        selected.add(name)
        if name not in known and name not in stray_paths:
            extra.setdefault(name, p)
    chosen = [i for i, s in enumerate(shown) if s in selected or _under(s, dirs)]
    checked = check_files(
        [all_files[i] for i in chosen] + list(extra.values()),
        settings,
        today,
        workers=workers,
        keep_specs=keep_specs,
    )
    by_file: dict[int, OrgFileResult] = dict(zip(chosen, checked, strict=False))
    extra_results = checked[len(chosen) :]
    others = _related(all_files, shown, by_file, extra_results, settings, today, workers)
    in_order = [
        by_file.get(i) or others[i] for i in range(len(all_files)) if i in by_file or i in others
    ]
    keep = {r.path for r in checked}
    # What is not about the selection (the settings file too) is left out, as it always was.
    findings = [f for f in [*findings, *stray] if f.path in selected or _under(f.path, dirs)]
    for r in checked:
        findings.extend(r.findings)
    findings.extend(f for f in cross_file(in_order + extra_results) if f.path in keep)
    findings.sort(key=Finding.sort_key)
    specs = tuple(r.spec for r in checked if r.spec is not None)
    return Validation(
        settings, tuple(findings), specs, len(checked), tuple(r.path for r in checked)
    )


def _sf_head(value: str) -> str:
    return value.strip()[:15].lower()


def _related(
    all_files: Sequence[Path],
    shown: Sequence[str],
    checked: dict[int, OrgFileResult],
    extra: Sequence[OrgFileResult],
    settings: Settings,
    today: dt.date,
    workers: int | None,
) -> dict[int, OrgFileResult]:
    """The files outside the selection that the rules across files must compare it with.

    Every other file's keys come from the index; a file the index cannot read, or whose keys
    collide with a checked file's, is checked in full (only its identity is used). A file that
    shares only its name needs no more than that name."""
    targets = [*checked.values(), *extra]
    if not targets:
        return {}
    ids = {(r.instance, r.org_id) for r in targets if r.org_id is not None}
    sfs = {salesforce_key(r.salesforce_id) for r in targets if r.salesforce_id}
    # Equal Salesforce keys begin alike without regard to case: a cheap test before the key.
    sf_heads = {_sf_head(sf) for sf in sfs}
    names = {os.path.basename(r.path).lower() for r in targets}
    confirm: list[int] = []
    out: dict[int, OrgFileResult] = {}
    for i, path in enumerate(all_files):
        if i in checked:
            continue
        keys = read_keys(path, settings.default_instance)
        if (
            keys is None
            or (keys.org_id is not None and (keys.instance, keys.org_id) in ids)
            or (
                keys.salesforce_id
                and _sf_head(keys.salesforce_id) in sf_heads
                and salesforce_key(keys.salesforce_id) in sfs
            )
        ):
            confirm.append(i)
        elif os.path.basename(shown[i]).lower() in names:
            out[i] = OrgFileResult(shown[i], None, ())
    full = check_files(
        [all_files[i] for i in confirm], settings, today, workers=workers, keep_specs=False
    )
    for i, r in zip(confirm, full, strict=True):
        out[i] = replace(r, findings=())
    return out
