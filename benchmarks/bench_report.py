"""Benchmark: the HTML drift report of 5,000 orgs, 500 of them drifting.

Writes the run as 3 shard reports, renders the page with ``checker report`` (in a subprocess, as
CI runs it), and opens it in headless Chromium (Debian's, through Playwright) several times.
Prints the file size, the time to render it, and the time from navigation start until the
table is interactive (the page's script has built the rows and attached its handlers: it
records ``performance.now()`` then). Targets: under 3 MB and under 1 s. Asserts nothing.

    .venv/bin/python benchmarks/bench_report.py [--orgs 5000] [--drifting 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.report_support import (  # noqa: E402
    Sealed,
    browser,
    chromium_missing,
    fleet_report,
    shards,
    write,
    write_settings,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=5000)
    parser.add_argument("--drifting", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    why = chromium_missing()
    if why:
        sys.exit(f"bench-report: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = write_settings(work)
        report = fleet_report(args.orgs, args.drifting, missing=20, unknown=30)
        paths = [write(r, work / f"drift-{n + 1}.json") for n, r in enumerate(shards(report, 3))]
        page = work / "drift.html"
        cmd = [sys.executable, "-m", "checker", "report", "--config-dir", str(cfg)]
        for p in paths:
            cmd += ["--report", str(p)]
        started = time.perf_counter()
        subprocess.run([*cmd, "--output", str(page)], check=True, capture_output=True)
        render_s = time.perf_counter() - started
        size = page.stat().st_size
        ready: list[float] = []
        painted: list[float] = []
        complete: list[float] = []
        with browser() as b:
            for _ in range(args.runs):
                sealed = Sealed(b, page.as_uri())
                p = sealed.open(page.as_uri())
                ready.append(p.evaluate("window.reportReadyAt") / 1000)
                p.wait_for_function("() => window.reportPaintedAt !== undefined")
                painted.append(p.evaluate("window.reportPaintedAt") / 1000)
                p.wait_for_function("() => window.reportCompleteAt !== undefined")
                complete.append(p.evaluate("window.reportCompleteAt") / 1000)
                rows_total = p.locator("#rows > tr").count()
                foreign = sealed.foreign_requests()
                sealed.close()
        print(f"orgs: {args.orgs} ({args.drifting} drifting, 20 missing, 30 unknown), 3 shards")
        print(f"checker report (html): {render_s:.2f} s")
        print(f"file size: {size / 1e6:.2f} MB (target < 3 MB: {size / 3e6:.2f} of it)")
        print(
            "time until the table is interactive in Chromium: median "
            f"{statistics.median(ready):.3f} s"
            f" over {args.runs} loads (min {min(ready):.3f}, max {max(ready):.3f}; target < 1 s)"
        )
        print(
            f"time until the rows are painted: median {statistics.median(painted):.3f} s"
            f" (min {min(painted):.3f}, max {max(painted):.3f})"
        )
        print(
            f"time until all {rows_total} rows are in and painted: median "
            f"{statistics.median(complete):.3f} s"
            f" (min {min(complete):.3f}, max {max(complete):.3f})"
        )
        print(f"requests other than the page itself: {len(foreign)}")


if __name__ == "__main__":
    main()
