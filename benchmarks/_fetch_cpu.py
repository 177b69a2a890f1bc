"""Helper of bench_drift.py --unpaced: the CPU of reading Zendesk and comparing, in-process.

Validates the config folder in the current directory (not measured), then measures the process's
CPU time (all threads) around the live fetch and the comparison. Prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

from checker.domain.drift import build_report
from checker.live.zendesk_api import check_credentials, fetch_live
from checker.load.validate import validate
from checker.usecases.drift import run_limits


def main() -> None:
    result = validate(Path("config"), today=dt.date(2026, 6, 1))
    assert result.settings is not None
    settings = result.settings.with_url_override()
    specs = result.specs
    creds = check_credentials(specs, settings, os.environ)
    cpu, wall = time.process_time(), time.perf_counter()
    state, requests, _ = fetch_live(
        specs, settings, creds, share=1.0, limits=run_limits(settings, None, None)
    )
    build_report(specs, state, settings, dt.date(2026, 6, 1))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"cpu": cpu, "wall": wall, "requests": requests, "orgs": len(specs)}))


if __name__ == "__main__":
    main()
