"""Benchmark: ``checker validate`` against ``check-jsonschema`` on 5,000 synthetic org files,
and validating a few files of a large repository (issue 14).

Prints both wall times (median of several runs), their ratio, peak memory (all processes of a
run together), and where the checker's time goes on one core. Then: ``validate`` with 2,000
paths against the same 2,000 files without paths; a merge request that changes one file of a
20,000-file repository (``validate --changed-since``) against the full run; and what a cache of
the key index by content hash could save. Not a test: it asserts nothing.

    .venv/bin/python benchmarks/bench_validate.py [--orgs 5000] [--contacts 10] [--runs 3]
        [--paths 2000] [--repo 20000] [--skip-check-jsonschema]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure, median
from gen_orgs import generate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def breakdown(cfg: Path) -> dict[str, float]:
    """One core, in process: reading YAML, JSON Schema, rules; to know where time goes."""
    from checker.load.orgfile import check_loaded
    from checker.load.schema import ORG_SCHEMA, validator
    from checker.load.settings import load_settings
    from checker.load.yamlload import read_yaml_file

    settings, _ = load_settings(cfg)
    assert settings is not None
    files = sorted((cfg / "orgs").glob("*.yaml"))
    t0 = time.perf_counter()
    loaded = [read_yaml_file(p) for p in files]
    t1 = time.perf_counter()
    v = validator(ORG_SCHEMA)
    for doc in loaded:
        for _ in v.iter_errors(doc.data):
            pass
    t2 = time.perf_counter()
    import datetime as dt

    today = dt.date.today()
    for p, doc in zip(files, loaded, strict=True):
        check_loaded(doc, str(p), settings, today)
    t3 = time.perf_counter()
    return {
        "yaml": t1 - t0,
        "schema": t2 - t1,
        "schema+rules+specs (check_loaded)": t3 - t2,
    }


def compare_check_jsonschema(work: Path, args: argparse.Namespace) -> None:
    cfg = work / "config"
    cfg.mkdir()
    shutil.copy(ROOT / "examples" / "config" / "checker.yaml", cfg / "checker.yaml")
    files = generate(cfg / "orgs", args.orgs, args.contacts)
    size = sum(p.stat().st_size for p in files)
    print(f"{args.orgs} org files x {args.contacts} contacts, {size / 1e6:.1f} MB of YAML")
    ours_cmd = [str(BIN / "checker"), "validate"]
    theirs_cmd = [
        str(BIN / "check-jsonschema"),
        "--schemafile",
        str(ROOT / "schemas" / "org.schema.json"),
        *[str(p.relative_to(work)) for p in files],
    ]
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(measure(ours_cmd, work))
        theirs.append(measure(theirs_cmd, work))
    assert all(r.returncode == 0 for r in ours + theirs), "both must find the files valid"
    o = median([r.seconds for r in ours])
    t = median([r.seconds for r in theirs])
    print(f"checker validate      {o:7.2f} s   peak {max(r.peak_rss_mb for r in ours):6.0f} MB")
    print(f"check-jsonschema      {t:7.2f} s   peak {max(r.peak_rss_mb for r in theirs):6.0f} MB")
    print(f"ratio (checker / check-jsonschema): {o / t:.2f}   (target <= 0.50)")
    print("where the checker's time goes, one core, in process:")
    for name, secs in breakdown(cfg).items():
        print(f"  {name:36s} {secs:6.2f} s  ({secs / args.orgs * 1e3:.3f} ms per file)")


def _repo(work: Path, name: str, count: int, contacts: int) -> tuple[Path, list[Path]]:
    root = work / name
    cfg = root / "config"
    cfg.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "config" / "checker.yaml", cfg / "checker.yaml")
    return root, generate(cfg / "orgs", count, contacts)


def _runs(cmds: list[list[str]], cwd: Path, runs: int) -> list[tuple[float, float]]:
    """(median wall time, median CPU time of the process tree) of each command, the commands
    run in turn so that a busy machine weighs on each alike."""
    walls: list[list[float]] = [[] for _ in cmds]
    cpus: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = measure(cmd, cwd)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert result.returncode == 0, f"{cmd[:3]} must find the files valid"
            walls[i].append(result.seconds)
            cpus[i].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return [(median(w), median(c)) for w, c in zip(walls, cpus, strict=True)]


def with_paths(work: Path, args: argparse.Namespace) -> None:
    """The same files, named one by one on the command line or found in the folder."""
    root, files = _repo(work, "paths", args.paths, args.contacts)
    names = [str(p.relative_to(root)) for p in files]
    (without, without_cpu), (given, given_cpu) = _runs(
        [[str(BIN / "checker"), "validate"], [str(BIN / "checker"), "validate", *names]],
        root,
        args.runs,
    )
    print(f"\nvalidate, {args.paths} org files (wall time, CPU time of all processes):")
    print(f"  without paths            {without:7.2f} s   cpu {without_cpu:6.2f} s")
    print(f"  with the {args.paths} paths     {given:7.2f} s   cpu {given_cpu:6.2f} s")
    print(f"  ratio (paths / without): {given / without:.2f}   (target <= 1.2)")


def _git(root: Path, *argv: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.example",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.example",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    proc = subprocess.run(
        ["git", *argv], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def one_changed_file(work: Path, args: argparse.Namespace) -> None:
    """A merge request changing one org file of a large repository, as the MR job runs it."""
    root, files = _repo(work, "large", args.repo, args.contacts)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    base = _git(root, "rev-parse", "HEAD")
    changed = files[len(files) // 2]
    changed.write_text(
        changed.read_text(encoding="utf-8").replace("details: ", "details: Changed. "),
        encoding="utf-8",
    )
    _git(root, "commit", "-q", "-am", "change one org file")
    checker = str(BIN / "checker")
    (full, full_cpu), (mr, mr_cpu), (one, one_cpu) = _runs(
        [
            [checker, "validate"],
            [checker, "validate", "--changed-since", base],
            [checker, "validate", str(changed.relative_to(root))],
        ],
        root,
        args.runs,
    )
    print(f"\none changed org file in a {args.repo}-file repository (wall, CPU):")
    print(f"  full run (default branch)                 {full:7.2f} s   cpu {full_cpu:6.2f} s")
    print(
        f"  merge request (--changed-since the base)  {mr:7.2f} s   cpu {mr_cpu:6.2f} s"
        "   (target <= 2 s)"
    )
    print(f"  the changed file as a path                {one:7.2f} s   cpu {one_cpu:6.2f} s")
    print(f"  ratio (merge request / full run): {mr / full:.3f}   (target <= 0.15)")
    index_cache(root / "config", files)


def index_cache(cfg: Path, files: list[Path]) -> None:
    """Whether caching the key index by content hash could pay: the scan it would save against
    the hashing it would add (both read every file)."""
    from checker.load.keyindex import read_keys

    t0 = time.perf_counter()
    for p in files:
        read_keys(p, "global")
    scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in files:
        hashlib.blake2b(p.read_bytes(), digest_size=16).digest()
    hashing = time.perf_counter() - t0
    print(f"  key index of {len(files)} files, one core: read + scan {scan:.2f} s;")
    print(
        f"  read + hash (what a cache by content hash needs before any hit) {hashing:.2f} s:"
        f" a cache could save at most {max(scan - hashing, 0):.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orgs", type=int, default=5000)
    ap.add_argument("--contacts", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--repo", type=int, default=20000)
    ap.add_argument("--skip-check-jsonschema", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        if not args.skip_check_jsonschema:
            compare_check_jsonschema(work, args)
        with_paths(work, args)
        one_changed_file(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
