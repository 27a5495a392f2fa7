"""Which inbox files are ready, which are junk to skip, which are still being written; moving them after a run."""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

# Lock and system files that appear in shared folders: skipped and listed, never read, never moved.
JUNK_PATTERNS = ("~$*", ".~lock.*#", "Thumbs.db", "desktop.ini", "*.tmp", "*:Zone.Identifier", ".DS_Store")
JUNK_REASONS = {
    "~$*": "Office 打开文件时生成的锁文件",
    ".~lock.*#": "LibreOffice/WPS 的锁文件",
    "*.tmp": "临时文件",
    "*:Zone.Identifier": "Windows 下载标记文件",
}


@dataclass(frozen=True)
class Seen:
    path: Path
    size: int
    mtime: float


@dataclass
class InboxScan:
    ready: list[Seen] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, zh reason)


def display_name(name: str) -> str:
    """A readable file name: bytes that were not UTF-8 (a GBK name from a Windows share) decoded as GB18030."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace")


def junk_reason(name: str) -> str | None:
    for pattern in JUNK_PATTERNS:
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatch(name.lower(), pattern.lower()):
            return JUNK_REASONS.get(pattern, "系统文件")
    if name.startswith("."):
        return "隐藏文件"
    return None


def scan_inbox(inbox: Path) -> InboxScan:
    """Every file under inbox/ (sub-folders too), junk separated, in a stable order."""
    scan = InboxScan()
    if not inbox.is_dir():
        return scan
    for path in sorted(inbox.rglob("*")):
        rel = path.relative_to(inbox)
        hidden_dir = any(part.startswith(".") for part in rel.parts[:-1])
        if hidden_dir or path.is_dir():
            continue
        reason = junk_reason(path.name)
        if reason:
            scan.skipped.append((path, reason))
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        scan.ready.append(Seen(path, st.st_size, st.st_mtime))
    return scan


def settled(
    files: list[Seen], settle_seconds: float, now: float | None = None
) -> tuple[list[Seen], list[Seen]]:
    """(ready, still changing): a file modified within the settle time is looked at again after a pause."""
    now = time.time() if now is None else now
    recent = [f for f in files if now - f.mtime < settle_seconds]
    if recent:
        time.sleep(min(settle_seconds, 2.0))
    ready: list[Seen] = []
    changing: list[Seen] = []
    for f in files:
        try:
            st = f.path.stat()
        except OSError:
            continue
        same = st.st_size == f.size and st.st_mtime == f.mtime
        young = time.time() - st.st_mtime < min(settle_seconds, 2.0)
        (ready if same and not (f in recent and young) else changing).append(f)
    return ready, changing


def move_unique(source: Path, folder: Path) -> Path:
    """Move a file into folder, never overwriting: a name collision gets a suffix (name (2).xlsx)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = unique_path(folder / source.name)
    try:
        os.replace(source, target)
    except OSError:
        shutil.move(str(source), str(target))  # across file systems
    return target


def unique_path(path: Path) -> Path:
    if not path.exists():
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1
