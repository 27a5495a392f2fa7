"""Child processes shared by the parse and report pools: how they start and that they die with the run."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import threading

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A worker must not outlive a killed run: it would hold pipes open and never exit (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above took effect
        os._exit(1)


def parse_context() -> mp.context.BaseContext:
    """Fork while the run is still single-threaded (a worker is ready in milliseconds, with every module
    already imported); otherwise forkserver, because forking a process with threads can deadlock the child."""
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")
