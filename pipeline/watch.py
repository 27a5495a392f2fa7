"""`taizhang watch`: poll the inbox and run once dropped files have stopped changing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pipeline.config import load_settings
from pipeline.inbox import scan_inbox

POLL_SECONDS = 2.0


def inbox_state(inbox: Path) -> dict[str, tuple[int, float]]:
    return {str(s.path): (s.size, s.mtime) for s in scan_inbox(inbox).ready}


def watch(workspace: Path, run_once: Callable[[], int], max_runs: int | None = None) -> int:
    """Run whenever the inbox holds files unchanged for `inbox.settle_seconds`; Ctrl-C stops cleanly."""
    settle = load_settings(workspace).inbox.settle_seconds
    inbox = workspace / "inbox"
    print(f"正在监视 {inbox.resolve()}（文件稳定 {settle:g} 秒后自动运行，按 Ctrl-C 停止）")
    last_state: dict[str, tuple[int, float]] = {}
    stable_since = time.monotonic()
    runs = 0
    try:
        while max_runs is None or runs < max_runs:
            state = inbox_state(inbox)
            if state != last_state:
                last_state, stable_since = state, time.monotonic()
            elif state and time.monotonic() - stable_since >= settle:
                run_once()
                runs += 1
                last_state, stable_since = inbox_state(inbox), time.monotonic()
            time.sleep(POLL_SECONDS if max_runs is None else 0.2)
    except KeyboardInterrupt:
        print("\n已停止监视。")
    return 0
