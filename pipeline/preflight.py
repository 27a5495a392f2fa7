"""Checks before any parser touches a file: zip bombs, XML entity expansion, absurd sheet extents, encryption.

The zip entries are inflated in chunks and their real sizes counted (declared sizes can lie); nothing is kept.
Modelled on Apache POI's ZipSecureFile: an entry whose compressed/uncompressed ratio falls below the minimum
once it has inflated past a grace size is a bomb. A sheet whose cell references reach beyond `max_cells`
(a 5 KB file with cells only at A1 and XFD1048576 crashes the whole reader process) is refused too.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from pipeline.config import Limits
from pipeline.problems import Problem, problem
from pipeline.read import ENCRYPTION_MARK, OLE_MAGIC

CHUNK = 1 << 20
GRACE_BYTES = 100 * 1024
MAX_ROWS, MAX_COLS = 1_048_576, 16_384
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_WIDE_REF = re.compile(
    rb' r="([A-Z]{2,3})([0-9]{1,7})"'
)  # columns beyond Z; the literal prefix keeps it fast
_ROW = re.compile(rb'<row\s[^>]*?\br="([0-9]{1,7})"')
_DIMENSION = re.compile(rb'<dimension ref="(?:[A-Z]+[0-9]+:)?([A-Z]{1,3})([0-9]{1,7})"')


class Refused(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def preflight(path: Path, limits: Limits) -> list[Problem]:
    """Problems that make the file unsafe or impossible to parse; empty when a parser may open it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
        if head.startswith(b"PK"):
            _check_zip(path, limits)
        elif head.startswith(OLE_MAGIC):
            _check_ole(path)
        elif head.lstrip().startswith(b"<"):
            _check_markup(path)
    except Refused as exc:
        return [problem(path.name, exc.code, detail=exc.detail)]
    except OSError as exc:
        return [problem(path.name, "cannot-open", detail=str(exc))]
    return []


def _check_ole(path: Path) -> None:
    # The directory sits in the first sectors of the file; an encrypted OOXML carries an EncryptionInfo stream.
    with path.open("rb") as fh:
        if ENCRYPTION_MARK in fh.read(1 << 22):
            raise Refused("encrypted")


def _check_markup(path: Path) -> None:
    with path.open("rb") as fh:
        if re.search(rb"<!ENTITY", fh.read(1 << 20), re.I):
            raise Refused("unsafe-file", "文件中含有 XML 实体定义（可能是实体膨胀攻击）")


def _check_zip(path: Path, limits: Limits) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused("cannot-open", f"Excel 文件已损坏或不完整（{exc}）") from exc
    total = 0
    with zf:
        for info in zf.infolist():
            total += _inflate(zf, info, limits, total)


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, total: int) -> int:
    """Real size of one entry, refusing bombs; sheet XML also scanned for DTDs and its furthest cell."""
    is_xml = info.filename.endswith((".xml", ".rels", ".vml"))
    is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
    max_entry, max_total = limits.max_entry_mb << 20, limits.max_uncompressed_mb << 20
    size, tail, rows, cols = 0, b"", 0, 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                size += len(chunk)
                if size > max_entry or total + size > max_total:
                    raise Refused(
                        "file-too-large",
                        f"解压后超过 {min(limits.max_entry_mb, limits.max_uncompressed_mb)} MB，疑似压缩炸弹",
                    )
                if size > GRACE_BYTES and info.compress_size / size < limits.min_compression_ratio:
                    raise Refused(
                        "unsafe-file",
                        f"「{info.filename}」压缩比异常（{info.compress_size} → {size}+ 字节），疑似压缩炸弹",
                    )
                if is_xml:
                    window = tail + chunk
                    # A DTD can only sit in the prolog, before the root element: the first chunk holds it.
                    if size == len(chunk) and _DTD.search(chunk, 0, 65536):
                        raise Refused("unsafe-file", "文件中含有 XML 文档类型/实体定义（可能是实体膨胀攻击）")
                    if is_sheet:
                        rows, cols = _extent(window, rows, cols, limits)
                    tail = chunk[-64:]
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise Refused("cannot-open", f"Excel 文件已损坏或不完整（{info.filename}：{exc}）") from exc
    return size


def _extent(window: bytes, rows: int, cols: int, limits: Limits) -> tuple[int, int]:
    """The furthest row and column the sheet reaches so far (rows ascend, so a chunk's last row is enough)."""
    last_row = window.rfind(b"<row ")
    if last_row >= 0:
        found = _ROW.match(window, last_row)
        rows = max(rows, int(found.group(1))) if found else rows
    for col_letters, row_digits in (*_DIMENSION.findall(window[:4096]), *_WIDE_REF.findall(window)):
        rows, cols = max(rows, int(row_digits)), max(cols, _col_number(col_letters))
    cols = max(cols, 1)
    if rows > MAX_ROWS or cols > MAX_COLS or rows * cols > limits.max_cells:
        raise Refused(
            "file-too-large", f"工作表的数据区域过大（{rows:,} 行 × {cols:,} 列），请删除多余的行列后重新放入"
        )
    return rows, cols


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n
