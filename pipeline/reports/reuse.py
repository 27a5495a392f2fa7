"""Outputs whose content did not change since the last run are copied, not written again.

Each workbook's fingerprint is a hash of everything it is built from (frames, headers, layout; not the
generation time) and of the code that writes it. A run records the fingerprints in run.json, each with its
file's size and modification time; the next run links (or copies) a file from the previous output folder when
its fingerprint is the same and the file is still as written (not saved over from Excel). A second run after
one small new file then rewrites only the workbooks and customer statements that file touched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import xlsxwriter

from pipeline import __version__

EPOCH = datetime(2000, 1, 1)


@dataclass
class Reuse:
    previous: Path | None  # the last complete output folder of this period
    staging: Path
    old: dict[str, str]
    old_blocks: dict[str, list[str]] = field(default_factory=dict)  # per file: its row blocks (rowblocks.py)
    new: dict[str, str] = field(default_factory=dict)
    new_blocks: dict[str, list[str]] = field(default_factory=dict)
    copied: int = 0  # whole files taken again
    reused_blocks: int = 0  # row blocks copied from the previous files
    numbered_rows: bool = False  # settings.outputs.numbered_rows: big tables' rows with their numbers

    def rel(self, path: Path) -> str | None:
        """The output's name in the output folder; None for a file written elsewhere (a scratch file)."""
        return path.relative_to(self.staging).as_posix() if path.is_relative_to(self.staging) else None


_ACTIVE: ContextVar[Reuse | None] = ContextVar("taizhang_output_reuse", default=None)


@contextmanager
def reusing(
    previous: Path | None,
    staging: Path,
    old: dict[str, str],
    old_blocks: dict[str, list[str]] | None = None,
    numbered_rows: bool = False,
) -> Iterator[Reuse]:
    reuse = Reuse(previous, staging, old, old_blocks or {}, numbered_rows=numbered_rows)
    token = _ACTIVE.set(reuse)
    try:
        yield reuse
    finally:
        _ACTIVE.reset(token)


def active() -> bool:
    """Whether a run is writing its outputs with reuse (fingerprints are then worth computing)."""
    return _ACTIVE.get() is not None


def numbered_rows() -> bool:
    """Whether big tables' rows are written with their numbers (only a run sets it: settings.outputs)."""
    reuse = _ACTIVE.get()
    return reuse is not None and reuse.numbered_rows


def writer_code(folder: Path = Path(__file__).parent) -> bytes:
    """A digest of the code that turns report tables into files: this package's source and the libraries that
    make the XML. A taizhang that writes a workbook differently (a number format, a width) must not hand the
    user the file an older version made from the same data. Unreadable source: a digest no run shares."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"taizhang {__version__} xlsxwriter {xlsxwriter.__version__} pyarrow {pa.__version__}".encode())
    try:
        for path in sorted(folder.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    except OSError:
        h.update(os.urandom(16))
    return h.digest()


_WRITER_CODE = writer_code()  # once per process: the writers of a run share it


def fingerprint(*parts: object) -> str:
    # SHA-256: 1.7 GB/s on CPUs with SHA instructions, where blake2b hashes 0.6 GB/s.
    h = hashlib.sha256(_WRITER_CODE + (b" numbered rows" if numbered_rows() else b""))  # another way of writing
    for part in parts:
        _feed(h, part)
    return h.hexdigest()[:32]


def _feed(h: Any, obj: object) -> None:
    if isinstance(obj, pd.DataFrame):
        h.update(repr([(str(c), str(t)) for c, t in obj.dtypes.items()]).encode())
        h.update(f"rows {len(obj)}".encode())
        for name in obj.columns:
            _feed_column(h, obj[name])
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(type(obj).__name__.encode())
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            _feed(h, EPOCH if f.name == "generated_at" else value)
    elif isinstance(obj, list | tuple):
        h.update(f"[{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, dict):
        _feed(h, sorted(obj.items(), key=lambda kv: str(kv[0])))
    else:
        h.update(pickle.dumps(obj) if not isinstance(obj, str | int | float) else repr(obj).encode())


def reuse_previous(path: Path, print_: str) -> bool:
    """Record the fingerprint of `path`; copy the previous run's file there when it is unchanged."""
    reuse = _ACTIVE.get()
    if reuse is None:
        return False
    rel = reuse.rel(path)
    if rel is None:
        return False
    reuse.new[rel] = print_
    if reuse.previous is None:
        return False
    source = reuse.previous / rel
    if _print_if_unchanged(source, reuse.old.get(rel, "")) != print_:
        return False
    if rel in reuse.old_blocks:  # the same file again: its blocks are where they were
        reuse.new_blocks[rel] = reuse.old_blocks[rel]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # A second name for the same file: one system call, where copying the 4,000 unchanged statements took
        # 2 s of a second run at a million ledger rows. Nothing writes into an output file after it is made
        # (they are replaced whole), and the previous folder is deleted when this run's is swapped in.
        os.link(source, path)
    except OSError:  # a file system without hard links (FAT, some network shares)
        shutil.copy2(source, path)
    reuse.copied += 1
    return True


def previous_blocks(path: Path) -> tuple[Path | None, list[str]] | None:
    """The previous run's file of `path` and the row blocks it recorded for it; (None, []) when there are none to
    take (a first run, a file saved over since); None when no run is writing (no blocks to record either)."""
    reuse = _ACTIVE.get()
    rel = None if reuse is None else reuse.rel(path)
    if reuse is None or rel is None:
        return None
    records = reuse.old_blocks.get(rel)
    if reuse.previous is None or not isinstance(records, list):
        return None, []
    source = reuse.previous / rel
    if _print_if_unchanged(source, reuse.old.get(rel, "")) is None:
        return None, []
    return source, records


def record_blocks(path: Path, records: list[str], reused: int) -> None:
    """The row blocks of the workbook just written at `path`, `reused` of them copied from the previous file."""
    reuse = _ACTIVE.get()
    rel = None if reuse is None else reuse.rel(path)
    if reuse is not None and rel is not None and records:
        reuse.new_blocks[rel] = records
        reuse.reused_blocks += reused


def stamped(folder: Path, prints: dict[str, str]) -> dict[str, str]:
    """The fingerprints as run.json keeps them: each with the size and modification time its file has now, when
    the run has just written it. A file changed since (saved from Excel, edited) is then not taken again."""
    out = {}
    for rel, print_ in prints.items():
        try:
            st = (folder / rel).stat()
        except OSError:
            continue
        out[rel] = f"{print_} {st.st_size} {st.st_mtime_ns}"
    return out


def _print_if_unchanged(source: Path, recorded: str) -> str | None:
    """The fingerprint run.json recorded ("print size mtime_ns") for `source`, when the file still has that size
    and modification time, i.e. is the file the previous run wrote, untouched since; None otherwise."""
    parts = recorded.split(" ")
    try:
        st = source.stat()
    except OSError:
        return None
    same = len(parts) == 3 and stat.S_ISREG(st.st_mode) and [str(st.st_size), str(st.st_mtime_ns)] == parts[1:]
    return parts[0] if same else None


def _feed_column(h: Any, column: pd.Series) -> None:
    """The column's values as compact Arrow buffers: half the time of pandas' row hashes (合同对账's big frames at
    a million ledger rows: 0.18 s instead of 0.36 s). Compacted, a slice of a bigger frame hashes as the same
    values built afresh do, so a workbook another file left unchanged is still recognised."""
    try:
        values = pa.array(column)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # mixed object values
        # Each value's type as well as its text: the text "1" and the number 1 print alike but are written
        # differently (a text cell against a number cell), so a file holding one must not stand in for the other.
        h.update("\x1f".join(type(v).__name__ for v in column.to_numpy(dtype=object)).encode())
        h.update(column.astype(str).to_csv(index=False).encode())
        return
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    h.update(f"{values.type} {len(values)} {values.null_count}".encode())
    if pa.types.is_nested(values.type) or pa.types.is_dictionary(values.type):
        # One value type per column here, already fed with the Arrow type above: the text is enough.
        h.update(column.astype(str).to_csv(index=False).encode())
        return
    if values.null_count:
        # Where the nulls are, then only the values: what lies under a null (whatever memory pandas left
        # there) must not change the fingerprint.
        valid = values.is_valid()
        h.update(valid.to_numpy(zero_copy_only=False).tobytes())
        values = values.filter(valid)
    else:
        values = pa.concat_arrays([values])  # offset 0, the data of these rows only
    if pa.types.is_boolean(values.type):  # bits, with unspecified padding bits in the last byte
        h.update(values.to_numpy(zero_copy_only=False).tobytes())
        return
    for buffer in values.buffers():
        h.update(b"-" if buffer is None else buffer)
