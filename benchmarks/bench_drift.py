"""Benchmark: ``checker drift`` over many orgs against the loopback Zendesk server.

The server adds latency to every request and enforces a per-minute rate limit; the checker's
allowed share is set to 1.0 for the run. Prints requests per org, wall time against the floor the
allowed rate sets (requests ÷ allowed rate), the same reads done one org at a time with plain
zenpy calls, 429s received and peak memory. Not a test: it asserts nothing about speed.

    .venv/bin/python benchmarks/bench_drift.py [--orgs 1000] [--contacts 10] [--latency 0.05]
        [--rate-limit 3000] [--baseline-orgs 1000]

With ``--unpaced`` it measures CPU instead: drift at 1,000 and 10,000 orgs (``--sizes``) with
no latency and no effective rate limit, the checker's CPU time (user + system, its worker
processes included) per org, for ``checker drift`` and for ``checker validate`` of the same
files; their difference is the CPU of reading Zendesk and comparing, per org.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure
from gen_orgs import generate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EMAIL, TOKEN = "bench@example.example", "bench-token"

SETTINGS = """\
schema_version: 1
default_instance: global
instances:
  global:
    url: https://bench.zendesk.example
rate_limit_share: 1.0
max_concurrency: 8
"""


def zendesk_state(orgs: int, contacts: int) -> dict[str, object]:
    """What the server holds: the generated files' values, with one org in ten drifted."""
    import re

    from gen_orgs import org_yaml

    out_orgs, users = [], []
    for i in range(orgs):
        text = org_yaml(i, contacts)
        name = re.search(r"^name: (.*)$", text, re.M)
        assert name is not None
        slug = name.group(1).lower().replace(" ", "-")
        org_id = 360000000000 + i
        am = str(10000000 + i + (1 if i % 10 == 0 else 0))  # every tenth org: wrong AM ID
        fields: dict[str, object] = {
            "am_project_id": am,
            "salesforce_id": f"0016100{i:08d}AAA",
            "cmp_id": 50000000 + i if i % 3 == 0 else None,
            "cmp_developers": f"dev1@{slug}.example\ndev2@{slug}.example" if i % 3 == 0 else None,
        }
        notes = re.search(r"^notes: \|\n((?:  .*\n)+)", text, re.M)
        details = re.search(r"^details: (.*)$", text, re.M)
        assert notes is not None and details is not None
        out_orgs.append(
            {
                "id": org_id,
                "name": name.group(1),
                "notes": "".join(line[2:] + "\n" for line in notes.group(1).splitlines()),
                "details": details.group(1),
                "organization_fields": fields,
            }
        )
        for c in range(contacts):
            users.append(
                {
                    "id": org_id * 100 + c,
                    "name": f"Person {c} of {name.group(1)}",
                    "email": f"person{c}@{slug}.example",
                    "organization_id": org_id,
                }
            )
    keys = ["am_project_id", "salesforce_id", "cmp_id", "cmp_developers"]
    return {
        "orgs": out_orgs,
        "users": users,
        "organization_fields": [{"key": k, "title": k, "type": "text"} for k in keys],
    }


def start_server(
    work: Path, state: Path, rate_limit: int, latency: float
) -> tuple[subprocess.Popen[bytes], int]:
    port_file = work / "port"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tests.fakes.zendesk_server",
            "--state", str(state), "--port-file", str(port_file),
            "--email", EMAIL, "--token", TOKEN,
            "--rate-limit", str(rate_limit), "--latency", str(latency),
        ],
        cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the Zendesk server did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def baseline(port: int, ids: list[int]) -> tuple[float, int]:
    """The same reads, one org at a time, with plain zenpy calls: org, then its users."""
    from zenpy import Zenpy

    os.environ["ZENPY_FORCE_SCHEME"] = "http"
    os.environ["ZENPY_FORCE_NETLOC"] = f"127.0.0.1:{port}"
    client = Zenpy(subdomain="bench", email=EMAIL, token=TOKEN, disable_cache=True)
    start = time.perf_counter()
    requests = 0
    for org_id in ids:
        org = client.organizations(id=org_id)
        requests += 1
        _ = [u.email for u in client.organizations.users(org)]
        requests += 1
    elapsed = time.perf_counter() - start
    client.organizations.session.close()
    return elapsed, requests


def _cpu_of(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(CPU seconds of the command and its children, wall seconds, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.returncode


def unpaced(sizes: list[int], contacts: int) -> None:
    """CPU per org of drift at several fleet sizes, no pacing: is it constant?"""
    per_org: dict[int, float] = {}
    for orgs in sizes:
        work = Path(tempfile.mkdtemp(prefix="bench-drift-cpu-"))
        server = None
        try:
            cfg = work / "config"
            cfg.mkdir()
            (cfg / "checker.yaml").write_text(SETTINGS)
            generate(cfg / "orgs", orgs, contacts)
            state = work / "state.json"
            state.write_text(json.dumps(zendesk_state(orgs, contacts)))
            server, port = start_server(work, state, 1_000_000, 0.0)
            env = {
                **os.environ,
                "ZENDESK_URL": f"http://127.0.0.1:{port}",
                "ZENDESK_EMAIL": EMAIL,
                "ZENDESK_API_TOKEN": TOKEN,
            }
            checker = str(BIN / "checker")
            v_cpu, _, _ = _cpu_of([checker, "validate"], work, env)
            cmd = [checker, "drift", "--format", "json", "--output", "report.json"]
            d_cpu, d_wall, code = _cpu_of(cmd, work, env)
            if code not in (0, 3):
                raise SystemExit(f"checker drift exited {code}")
            report = json.loads((work / "report.json").read_text())
            requests = report["zendesk_requests"]
            probe = subprocess.run(
                [sys.executable, str(Path(__file__).parent / "_fetch_cpu.py")],
                cwd=work, env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            inner = json.loads(probe.stdout.strip().splitlines()[-1])
            fetch = inner["cpu"] / orgs * 1000
            per_org[orgs] = fetch
            print(
                f"{orgs:>6} orgs: checker drift {d_cpu:6.1f} s CPU ({d_wall:5.1f} s wall, "
                f"{requests} requests, {requests / orgs:.3f} per org), checker validate alone "
                f"{v_cpu:5.1f} s CPU; reading Zendesk + comparing, in-process: "
                f"{inner['cpu']:.1f} s CPU = {fetch:.2f} ms per org "
                f"({inner['cpu'] / inner['requests'] * 1000:.2f} ms per request)"
            )
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
            shutil.rmtree(work, ignore_errors=True)
    small, large = min(per_org), max(per_org)
    print(
        f"CPU per org at {large} / at {small}: {per_org[large] / per_org[small]:.2f}x "
        "(target <= 1.3x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--orgs", type=int, default=1000)
    ap.add_argument("--contacts", type=int, default=10)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--rate-limit", type=int, default=3000)
    ap.add_argument("--baseline-orgs", type=int, default=1000, help="0 skips the baseline")
    ap.add_argument("--unpaced", action="store_true", help="measure CPU per org instead")
    ap.add_argument("--sizes", default="1000,10000", help="fleet sizes for --unpaced")
    args = ap.parse_args()
    if args.unpaced:
        unpaced([int(n) for n in args.sizes.split(",")], args.contacts)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    server = None
    try:
        cfg = work / "config"
        cfg.mkdir()
        (cfg / "checker.yaml").write_text(SETTINGS)
        generate(cfg / "orgs", args.orgs, args.contacts)
        state = work / "state.json"
        state.write_text(json.dumps(zendesk_state(args.orgs, args.contacts)))
        server, port = start_server(work, state, args.rate_limit, args.latency)
        env = {
            **os.environ,
            "ZENDESK_URL": f"http://127.0.0.1:{port}",
            "ZENDESK_EMAIL": EMAIL,
            "ZENDESK_API_TOKEN": TOKEN,
        }
        run = measure(
            [str(BIN / "checker"), "drift", "--format", "json", "--output", "report.json"],
            work,
            env,
        )
        if run.returncode not in (0, 3):
            raise SystemExit(f"checker drift exited {run.returncode}")
        report = json.loads((work / "report.json").read_text())
        requests = report["zendesk_requests"]
        summary = report["summary"]
        allowed_per_s = args.rate_limit * 1.0 / 60
        floor = requests / allowed_per_s
        print(
            f"{args.orgs} orgs x {args.contacts} contacts; server: {args.latency * 1000:.0f} ms "
            f"per request, {args.rate_limit} requests/min, allowed share 1.0"
        )
        print(
            f"result: {summary['in_sync']} in sync, {summary['drifted']} drifted, "
            f"{summary['unknown']} unknown"
        )
        per_org = requests / args.orgs
        print(f"requests                {requests}  ({per_org:.3f} per org; target <= 1.02)")
        print(f"wall time               {run.seconds:6.1f} s")
        ratio = run.seconds / floor
        print(f"floor (requests/rate)   {floor:6.1f} s   ratio {ratio:.2f}x (target <= 1.15x)")
        print(f"429 responses           {report['zendesk_rate_limited']}")
        print(f"peak memory             {run.peak_rss_mb:6.0f} MB (checker process)")
        if args.baseline_orgs:
            ids = [360000000000 + i for i in range(min(args.baseline_orgs, args.orgs))]
            secs, reqs = baseline(port, ids)
            per_org = secs / len(ids)
            projected = per_org * args.orgs
            print(
                f"plain zenpy, one org at a time: {len(ids)} orgs in {secs:.1f} s "
                f"({reqs / len(ids):.2f} requests per org)"
                + (f", {projected:.1f} s projected for {args.orgs}" if len(ids) < args.orgs else "")
            )
            print(f"speed-up                {projected / run.seconds:.1f}x")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
