"""One run at a time per workspace: a lock file with pid and start time; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime
from pathlib import Path

LOCK_NAME = "run.lock"


class Locked(Exception):
    """Another live run holds the workspace (message in zh-CN)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkspaceLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now().isoformat()}
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(info, fh)
                fh.flush()
                os.fsync(fh.fileno())
            self.held = True
            return
        raise Locked("无法获得工作目录锁，请稍后重试")

    def _take_over_if_stale(self) -> None:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        pid = int(info.get("pid", 0) or 0)
        same_host = info.get("host") in (None, socket.gethostname())
        if pid and (_alive(pid) or not same_host):
            raise Locked(
                f"另一个 taizhang 正在运行（进程 {pid}，{info.get('host', '')}，开始于 {info.get('started', '?')}），"
                "请等它结束后再运行"
            )
        # The holder is dead (or the lock is unreadable): remove it and try again.
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
