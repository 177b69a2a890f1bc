"""What a merge request's ``validate`` must check: the org files changed since its base commit,
or everything when that cannot be said safely.

The rules across files only ever *add* findings when files are added or changed (a deleted file
can only end a duplicate), so checking the changed and added org files, with the rules across
files over the index of all of them, finds every problem the change brings. Anything else that
changed (the settings, the schemas, the checker, the pipeline that pins its version) can change
the verdict on files the merge request did not touch: then every file is checked.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from checker.domain.selection import SelectionError


@dataclass(frozen=True, slots=True)
class Scope:
    """The files to validate (None: all of them) and why, in one line for the job log."""

    files: tuple[Path, ...] | None
    reason: str


class _GitError(Exception):
    pass


def _git(cwd: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise _GitError(f"cannot run git: {e}") from None
    if proc.returncode != 0:
        raise _GitError((proc.stderr.strip().splitlines() or ["git failed"])[-1])
    return proc.stdout


def changed_scope(base: str, config_dir: Path) -> Scope:
    """The org files added, changed or renamed since ``base`` (committed or not, and new files
    git does not ignore), when nothing else in the repository changed; otherwise every file."""
    if not base.strip():
        return Scope(None, "no base commit was given: validating every file")
    if base.startswith("-"):
        return Scope(None, f"{base!r} is not a git revision: validating every file")
    orgs = (config_dir / "orgs").resolve()
    where = orgs if orgs.is_dir() else Path.cwd()
    try:
        top = Path(_git(where, "rev-parse", "--show-toplevel").strip()).resolve()
    except _GitError as e:
        return Scope(None, f"git cannot read the repository ({e}): validating every file")
    try:
        _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}")
    except _GitError:
        return Scope(
            None,
            f"the base commit {base} is not in this clone (a shallow clone?): "
            "validating every file",
        )
    try:
        prefix = PurePosixPath(orgs.relative_to(top).as_posix())
    except ValueError:
        return Scope(None, "the org files are outside the git repository: validating every file")
    try:
        # --no-renames: a renamed file is its old name deleted and its new name added.
        diff = _git(top, "diff", "--name-status", "-z", "--no-renames", "--end-of-options", base)
        untracked = _git(top, "ls-files", "-z", "--others", "--exclude-standard", "--", str(orgs))
    except _GitError as e:
        return Scope(None, f"git diff {base} failed ({e}): validating every file")
    fields = diff.split("\0")
    changed: list[str] = []
    outside: list[str] = []
    for status, name in zip(fields[0::2], fields[1::2], strict=False):
        inside = PurePosixPath(name).is_relative_to(prefix)
        if not inside:
            outside.append(name)
        elif not status.startswith("D"):
            changed.append(name)
    if outside:
        more = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
        return Scope(None, f"{outside[0]}{more} changed since {base[:12]}: validating every file")
    files = sorted({*changed, *(n for n in untracked.split("\0") if n)})
    found = tuple(top / n for n in files if (top / n).exists())
    return Scope(
        found,
        f"{len(found)} org file{'s' if len(found) != 1 else ''} added or changed since "
        f"{base[:12]}: validating {'it' if len(found) == 1 else 'them'}, with the rules "
        "across files over every org file",
    )


def changed_org_files(ref: str, orgs_dir: Path) -> set[str]:
    """Org files added, changed or renamed since ``ref`` (git), as absolute paths.

    Works from any folder of the repository and with any file name (``-z``: no quoting).
    """
    if not ref or ref.startswith("-"):
        raise SelectionError(f"--changed-since {ref!r} is not a git revision")

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(
                ["git", *args], capture_output=True, text=True, check=False, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SelectionError(f"--changed-since: cannot run git: {e}") from None
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or ["git failed"])[-1]
            raise SelectionError(f"--changed-since {ref}: {detail}")
        return proc.stdout

    top = Path(git("rev-parse", "--show-toplevel").strip())
    try:
        git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except SelectionError:
        raise SelectionError(
            f"--changed-since {ref}: not a commit in this repository (is the clone too shallow?)"
        ) from None
    listing = git(
        "diff", "--name-only", "-z", "--diff-filter=ACMR", "--end-of-options", ref,
        "--", str(orgs_dir.resolve()),
    )  # fmt: skip
    return {str((top / name).resolve()) for name in listing.split("\0") if name}
