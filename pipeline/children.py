"""Child processes shared by the parse and report pools: how they start and that they die with the run."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Protocol, TypeVar

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


T = TypeVar("T")


class Aside(Protocol):
    """Starts a computation; gives back how to get its result when it is needed."""

    def __call__(self, compute: Callable[[], T]) -> Callable[[], T]: ...


def inline(compute: Callable[[], T]) -> Callable[[], T]:
    """An Aside that computes when the result is asked for, in this process."""
    return compute


def forked(compute: Callable[[], T]) -> Callable[[], T]:
    """An Aside that starts `compute` now in a forked child, so that it runs on another core while the caller
    goes on; the result comes back pickled through a pipe. A bare process, not a pool: a pool would add
    threads to the parent, which later forks (the report writers). The child takes no lock another thread
    may hold (the progress bar's console): it computes and writes to its own pipe, like the report writers.
    Without fork (Windows), `compute` runs here when the result is asked for."""
    if "fork" not in mp.get_all_start_methods():
        return inline(compute)
    context = mp.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_compute_and_send, args=(compute, send), daemon=True)
    child.start()
    send.close()

    def result() -> T:
        try:
            outcome = receive.recv()
        except EOFError:
            child.join()
            # An OSError, as the run reports resource failures (e.g. the child killed for memory).
            raise OSError(f"计算子进程异常退出（退出码 {child.exitcode}），可能是内存不足") from None
        finally:
            receive.close()
        child.join()
        if isinstance(outcome, _Failed):
            raise outcome.error
        return outcome

    return result


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _compute_and_send(compute: Callable[[], object], send: Connection) -> None:
    die_with_parent()
    # Short-lived: reference counting frees what it makes. The collector would walk (and so copy, page by
    # page) the tables it inherited from the parent.
    gc.disable()
    try:
        outcome: object = compute()
    except BaseException as exc:  # raised again in the parent, where the run handles it
        outcome = _Failed(exc)
    try:
        send.send(outcome)
    except Exception as exc:  # e.g. an exception that cannot be pickled: its text still reaches the parent
        what = outcome.error if isinstance(outcome, _Failed) else outcome
        send.send(_Failed(RuntimeError(f"{type(what).__name__}: {str(what)[:500]} (not picklable: {exc})")))
