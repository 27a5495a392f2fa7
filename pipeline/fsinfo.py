"""Whether a folder lives on a network share: SQLite's WAL journal must not be used there.

WAL keeps its index in shared memory (the `-wal` and `-shm` files are mapped by every connection), which only
works when every process using the database runs on one machine with a local file system; over SMB/NFS two
machines can each see their own copy and corrupt the store. The workspace is the department's shared folder,
so taizhang may well be run from a clerk's PC on a mapped drive: there the store uses the rollback journal.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

NETWORK_FILESYSTEMS = frozenset(
    {"cifs", "smb3", "smbfs", "nfs", "nfs4", "ncpfs", "afs", "9p", "davfs", "fuse.sshfs", "fuse.rclone",
     "fuse.s3fs", "glusterfs", "fuse.glusterfs", "ceph", "fuse.ceph", "lustre", "gpfs"}
)  # fmt: skip
_DRIVE_REMOTE = 4  # GetDriveTypeW
_OCTAL = re.compile(r"\\([0-7]{3})")


def on_network_share(path: Path) -> bool:
    """True when `path` (or the nearest folder of it that exists) is on a network file system we can recognise:
    a Linux mount of a network type, or a Windows UNC path or mapped network drive. Unknown: False."""
    folder = _existing(Path(path))
    if sys.platform == "win32":
        return _windows_remote(folder)
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return filesystem_type(folder, mountinfo) in NETWORK_FILESYSTEMS


def filesystem_type(path: Path, mountinfo: str) -> str:
    """The type of the mount holding `path`, from the text of /proc/self/mountinfo ("" when none matches)."""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mountinfo.splitlines():
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not rest:
            continue
        point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), parts[4])  # a space comes as \040
        if _within(target, point) and len(point) >= len(best):
            best, kind = point, rest.split()[0]
    return kind


def _within(target: str, mount_point: str) -> bool:
    return mount_point == "/" or target == mount_point or target.startswith(mount_point.rstrip("/") + "/")


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _windows_remote(folder: Path) -> bool:
    resolved = str(folder.resolve())
    if resolved.startswith("\\\\"):  # \\server\share, also after resolving a mapped drive
        return True
    drive = os.path.splitdrive(resolved)[0]
    if not drive:
        return False
    import ctypes

    return bool(ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == _DRIVE_REMOTE)  # type: ignore[attr-defined]
