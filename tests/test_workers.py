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
