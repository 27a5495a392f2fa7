"""Parse files in child processes: both cores used, and a reader that crashes, hangs or eats memory costs one file.

A small pool of long-lived workers (not a process per file or sheet): each worker takes one file at a time
over a pipe, under an address-space limit; the parent kills a worker that runs past the timeout and starts
a fresh one. A file whose worker died or was killed comes back as a quarantining problem, never an exception.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection, wait
from pathlib import Path

from pipeline.children import die_with_parent, parse_context
from pipeline.config import Settings
from pipeline.ingest import FileResult, file_digest, ingest_file
from pipeline.problems import problem

POLL_SECONDS = 0.5
STARTUP_SECONDS = 120  # a worker that never starts its job (stuck importing) is given up on eventually


@dataclass(frozen=True)
class Job:
    path: Path
    name: str
    digest: tuple[str, int]


def _limit_memory(megabytes: int) -> None:
    """At most `megabytes` more address space than the worker holds when it starts.

    A forked worker inherits the parent's address space: a few hundred MB after imports, several GB in a
    long-lived `taizhang watch` after a large run (pyarrow keeps what it reserved). An absolute limit would
    leave such a worker no room, and every file would come back as too large."""
    if megabytes > 0:
        limit = _address_space() + megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _address_space() -> int:
    """This process's virtual size in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _serve(conn: Connection, settings: Settings, today: date) -> None:
    """Worker loop: parse each job sent, send back the FileResult (or the error text)."""
    die_with_parent()
    _skip_hypothesis()
    _limit_memory(settings.limits.parse_memory_mb)
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(("started", ""))  # the clock starts now, not while the worker was still importing
        try:
            _fault(job.name)
            conn.send(("ok", ingest_file(job.path, settings, today, name=job.name, digest=job.digest)))
        except MemoryError:
            conn.send(("memory", ""))
        except Exception:  # noqa: BLE001 — a reader bug on one file must not stop the run
            conn.send(("error", traceback.format_exc(limit=3)))


def _skip_hypothesis() -> None:
    """pandera's first validation in a process registers its backends, whose data-synthesis strategies import
    hypothesis when it is installed (the test extra): 0.12 s per worker on the path of every run, for a library
    validation never uses. Unimportable here, pandera leaves the strategies out. A process that has it loaded
    already (a test run forking workers) keeps it."""
    if "hypothesis" not in sys.modules:
        sys.modules["hypothesis"] = None  # type: ignore[assignment]  # how Python marks a module unimportable


def _fault(name: str) -> None:
    """Test seam: TAIZHANG_FAULT=<crash|hang|memory>:<file name> makes this worker misbehave on that file."""
    kind, _, target = os.environ.get("TAIZHANG_FAULT", "").partition(":")
    if target != name:
        return
    if kind == "crash":
        os.abort()
    if kind == "hang":
        time.sleep(3600)
    if kind == "memory":
        bytearray(1 << 40)


class _Worker:
    def __init__(self, ctx: mp.context.BaseContext, settings: Settings, today: date) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, settings, today), daemon=True)  # type: ignore[attr-defined]
        self.proc.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0  # when the worker began the current job (0 until it says so)
        self.given = 0.0

    def give(self, job: Job) -> None:
        self.job, self.started = job, 0.0
        self.given = time.monotonic()
        self.conn.send(job)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _failed(job: Job, code: str, detail: str = "") -> FileResult:
    result = FileResult(path=job.path, name=job.name, sha256=job.digest[0], size=job.digest[1])
    result.problems.append(problem(job.name, code, detail=detail))
    return result


def parse_files(jobs: Sequence[Job], settings: Settings, today: date) -> Iterator[FileResult]:
    """FileResults in completion order; at most `limits.workers` files parsed at once."""
    if not jobs:
        return
    ctx = parse_context()
    size = max(1, min(settings.limits.workers, len(jobs)))
    workers = [_Worker(ctx, settings, today) for _ in range(size)]
    queue = list(reversed(jobs))
    try:
        for w in workers:
            if queue:
                w.give(queue.pop())
        while any(w.job for w in workers):
            yield from _collect(workers, ctx, settings, today, queue)
    finally:
        for w in workers:
            w.stop(kill=w.job is not None)


def _collect(
    workers: list[_Worker], ctx: mp.context.BaseContext, settings: Settings, today: date, queue: list[Job]
) -> Iterator[FileResult]:
    busy = [w for w in workers if w.job]
    ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=POLL_SECONDS)
    for i, w in enumerate(workers):
        if w.job is None:
            continue
        result = _outcome(w, ready, settings.limits.parse_timeout_seconds)
        if result is None:
            continue
        if (
            not w.proc.is_alive()
            or result.problems
            and result.problems[-1].code in ("read-timeout", "reader-crashed")
        ):
            w.stop(kill=True)
            w = workers[i] = _Worker(ctx, settings, today)
        w.job = None
        if queue:
            w.give(queue.pop())
        yield result


def _outcome(w: _Worker, ready: Sequence[object], timeout: float) -> FileResult | None:
    job = w.job
    assert job is not None
    if w.conn in ready:
        try:
            status, payload = w.conn.recv()
        except (EOFError, OSError):
            return _failed(job, "reader-crashed", "读取进程意外退出")
        if status == "started":
            w.started = time.monotonic()
            return None
        if status == "ok":
            return payload
        if status == "memory":
            return _failed(job, "file-too-large", "读取时内存超过上限（parse_memory_mb）")
        return _failed(job, "reader-crashed", payload.strip().splitlines()[-1][:200])
    if w.proc.sentinel in ready or not w.proc.is_alive():
        return _failed(job, "reader-crashed", f"读取进程异常退出（退出码 {w.proc.exitcode}）")
    now = time.monotonic()
    if (w.started and now - w.started > timeout) or (not w.started and now - w.given > timeout + STARTUP_SECONDS):
        return _failed(job, "read-timeout")
    return None


def jobs_for(
    paths: Sequence[tuple[Path, str]], digest: Callable[[Path], tuple[str, int]] = file_digest
) -> list[Job]:
    return [Job(path, name, digest(path)) for path, name in paths]
