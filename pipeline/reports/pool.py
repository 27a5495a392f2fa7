"""Writing the outputs on every core: independent report tasks run in forked worker processes.

Writing workbooks is most of a large run, and it is pure Python per cell, so one process uses one core. The
tasks only read tables the parent computed before forking, so the workers inherit them for free (copy on
write) instead of receiving pickles. Each task returns the paths it wrote and the fingerprints it recorded.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.children import die_with_parent
from pipeline.reports.reuse import reusing

Task = Callable[[], list[Path]]


@dataclass(frozen=True)
class Previous:
    """The last complete output folder of the period and what its run.json recorded of its files."""

    folder: Path | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    blocks: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Written:
    paths: list[Path]
    fingerprints: dict[str, str]
    seconds: float = 0.0  # wall time of the task in its worker
    blocks: dict[str, list[str]] = field(default_factory=dict)  # row blocks per workbook (rowblocks.py)


@dataclass(frozen=True)
class _Plan:
    tasks: list[Task]
    staging: Path
    previous: Previous
    numbered_rows: bool


_PLAN: _Plan | None = None  # set in the parent just before forking; the workers read their copy


def run_tasks(
    tasks: list[Task], staging: Path, previous: Previous, workers: int, numbered_rows: bool = False
) -> Iterator[Written]:
    """What each task wrote, in task order; tasks run in `workers` forked processes when that is possible.
    `numbered_rows`: settings.outputs.numbered_rows (reuse.numbered_rows)."""
    global _PLAN
    plan = _Plan(tasks, staging, previous, numbered_rows)
    if workers <= 1 or len(tasks) <= 1 or "fork" not in mp.get_all_start_methods():
        yield from (_run(plan, i) for i in range(len(tasks)))
        return
    _PLAN = plan
    # Objects alive now are the workers' inherited tables. Frozen, the workers' garbage collector never walks
    # them: walking writes to each object's header, and every page written is copied into the worker
    # (copy on write), so the tree's memory grew with each collection during the write.
    gc.collect()
    gc.freeze()
    try:
        size = min(workers, len(tasks))
        with ProcessPoolExecutor(size, mp_context=mp.get_context("fork"), initializer=die_with_parent) as pool:
            futures = [pool.submit(_run_inherited, i) for i in range(len(tasks))]
            for future in futures:
                yield future.result()
    finally:
        _PLAN = None
        gc.unfreeze()


def _run_inherited(index: int) -> Written:
    assert _PLAN is not None, "forked without a plan"
    return _run(_PLAN, index)


def _run(plan: _Plan, index: int) -> Written:
    start = time.perf_counter()
    last = plan.previous
    with reusing(last.folder, plan.staging, last.fingerprints, last.blocks, plan.numbered_rows) as reuse:
        paths = plan.tasks[index]()
    return Written(paths, reuse.new, round(time.perf_counter() - start, 3), reuse.new_blocks)


def default_workers(configured: int) -> int:
    return max(1, min(configured, os.cpu_count() or 1))
