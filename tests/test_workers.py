"""The parse workers' memory cap: what a worker may take for one file, not what it inherited."""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os

import pytest

from pipeline.workers import _limit_memory

MIB = 2**20


def _inherit_then_cap() -> None:
    inherited = mmap.mmap(-1, 3 * 1024 * MIB)  # address space a worker forked after a large run starts with
    _limit_memory(512)
    try:
        bytearray(200 * MIB)
    except MemoryError:
        os._exit(1)  # the cap counted the inherited space: no file could be read
    try:
        bytearray(1024 * MIB)
    except MemoryError:
        inherited.close()
        os._exit(0)
    os._exit(2)  # no cap at all


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_memory_cap_counts_from_what_a_forked_worker_inherits() -> None:
    child = mp.get_context("fork").Process(target=_inherit_then_cap)
    child.start()
    child.join(60)
    assert child.exitcode == 0, {1: "inherited space counted against the cap", 2: "no cap"}.get(child.exitcode)


# ---------------------------------------------------------------- computations beside the run (children.forked)


def _boom() -> int:
    raise ValueError("坏数据")


def test_forked_computes_in_another_process_and_hands_back_the_result() -> None:
    from pipeline.children import forked

    later = forked(lambda: (os.getpid(), [1, 2, 3]))
    pid, value = later()
    assert value == [1, 2, 3] and pid != os.getpid()


def test_forked_raises_the_childs_error_or_its_death_in_the_parent() -> None:
    from pipeline.children import forked

    with pytest.raises(ValueError, match="坏数据"):
        forked(_boom)()
    with pytest.raises(OSError, match="退出码 3"):
        forked(lambda: os._exit(3))()
    with pytest.raises(RuntimeError, match="not picklable"):  # a result that cannot travel back
        forked(lambda: (lambda: None))()


def test_forked_works_beside_the_progress_bars_thread() -> None:
    """On a terminal the progress bar refreshes from a thread during the whole run."""
    import threading

    from pipeline.children import forked

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert forked(os.getpid)() != os.getpid()
    finally:
        stop.set()
        thread.join()
