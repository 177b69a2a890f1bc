"""Benchmark: ``checker validate`` against ``check-jsonschema`` on 5,000 synthetic org files.

Prints both wall times (median of several runs), their ratio, peak memory (all processes of a
run together), and where the checker's time goes on one core. Not a test: it asserts nothing.

    .venv/bin/python benchmarks/bench_validate.py [--orgs 5000] [--contacts 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
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
    from checker.orgfile import check_loaded
    from checker.schema import ORG_SCHEMA, validator
    from checker.settings import load_settings
    from checker.yamlload import read_yaml_file

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orgs", type=int, default=5000)
    ap.add_argument("--contacts", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
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
        print(
            f"check-jsonschema      {t:7.2f} s   peak {max(r.peak_rss_mb for r in theirs):6.0f} MB"
        )
        print(f"ratio (checker / check-jsonschema): {o / t:.2f}   (target <= 0.50)")
        print("where the checker's time goes, one core, in process:")
        for name, secs in breakdown(cfg).items():
            print(f"  {name:36s} {secs:6.2f} s  ({secs / args.orgs * 1e3:.3f} ms per file)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
