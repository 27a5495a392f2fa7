"""Issue 8: what parsing in worker processes costs against parsing in-process, on the same files.

    python bench/bench_isolation.py [inbox]   (default: a fresh demo inbox)

Three timings: in-process on one core; the isolated pool with one worker (the cost of isolation itself:
starting the worker, sending each FileResult back through a pipe); the pool with `limits.workers` workers
(what a run does: isolation plus both cores).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from pipeline.config import Settings
from pipeline.ingest import file_digest, ingest_file
from pipeline.sample import write_demo_inbox
from pipeline.workers import Job, parse_files


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
        if len(sys.argv) <= 1:
            write_demo_inbox(inbox)
        files = sorted(p for p in inbox.rglob("*") if p.is_file())
        settings, today = Settings(), date(2026, 1, 1)
        jobs = [Job(p, p.name, file_digest(p)) for p in files]
        ingest_file(files[0], settings, today)  # warm up imports in this process
        one_worker = replace(settings, limits=replace(settings.limits, workers=1))
        timings = {
            "in-process, one core": lambda: [ingest_file(j.path, settings, today) for j in jobs],
            "worker pool, 1 worker": lambda: list(parse_files(jobs, one_worker, today)),
            f"worker pool, {settings.limits.workers} workers": lambda: list(parse_files(jobs, settings, today)),
        }
        base = 0.0
        for label, one in timings.items():
            t = time.perf_counter()
            results = one()
            took = time.perf_counter() - t
            base = base or took
            print(f"{label:26s} {took:7.2f} s  {took / base:5.2f}×  ({len(results)} files, "
                  f"{sum(s.used for r in results for s in r.sheets):,} rows)")

if __name__ == "__main__":
    main()
