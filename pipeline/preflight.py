"""Pre-flight safety check of one input file, run before any parser touches it.

The inbox is a shared folder, so every file is hostile until shown otherwise. `preflight` decides from the
bytes alone, without an XML parser and without trusting any size the file declares:

- the type from the magic bytes (zip / OLE / HTML-XML / text / empty), never from the extension;
- zip containers (xlsx, xlsm, ods): every entry is inflated in bounded chunks and its real bytes counted, with
  caps on the entry size, the total and the compression ratio (Apache POI ZipSecureFile: compressed/inflated
  below `min_compression_ratio` once past a 100 KB grace is a bomb); a DTD or entity declaration in any XML
  part is refused (xlsx/ods never have one); the declared `<dimension>` of each sheet and the largest cell
  address really present (a 5 KB file with cells only at A1 and XFD1048576 makes python-calamine abort the
  whole process) are checked against `max_cells` and Excel's 1,048,576 × 16,384;
- OLE containers: an `EncryptionInfo` stream (an encrypted xlsx) or a FILEPASS record (a password-protected
  .xls) is an encrypted file; an OLE file without a workbook stream is not a spreadsheet;
- HTML: `<!ENTITY` declarations are refused; rowspan × colspan expansion is capped like cells;
- every file: empty, or larger than `max_uncompressed_mb`.

The whole check runs under the parse time budget (`parse_timeout_seconds`), holds at most a few MB, and never
raises for bad input: whatever is wrong comes back as a `Problem` with a zh-CN message.
"""

from __future__ import annotations

import array
import codecs
import contextlib
import os
import re
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn

from pipeline.config import Limits
from pipeline.problems import Problem, problem

MIB = 1 << 20
GRACE_BYTES = 100 * 1024  # POI ZipSecureFile: the ratio is only judged past this many inflated bytes
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384
MAX_ZIP_ENTRIES = 10_000  # a real workbook has tens of parts; 10,000 is generous
HEAD_BYTES = 4096
READ_BYTES = 1 << 16  # compressed bytes read at a time
INFLATE_BYTES = 1 << 20  # inflated bytes produced at a time
DIMENSION_WINDOW = 64 * 1024  # <dimension> sits near the top of a sheet part
MAX_CARRY = 1 << 16  # an element split across chunks is carried over, up to this size

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
XML_SUFFIXES = (".xml", ".rels", ".vml")
MACRO_PARTS = re.compile(r"(^|/)vbaProject\.bin$|^xl/macrosheets/|^(Basic|Scripts)/", re.I)


class _Refused(Exception):
    """Internal: stops the check with the problem that decides it."""

    def __init__(self, found: Problem) -> None:
        super().__init__(found.message)
        self.problem = found


class _Corrupt(Exception):
    """Internal: the container structure is broken (message is the zh-CN reason)."""


def preflight(
    path: Path, limits: Limits, *, name: str | None = None, warnings: bool = False
) -> list[Problem]:
    """Problems that make `path` unsafe or impossible to parse: empty = safe to parse. Never raises for bad input.

    At most one error comes back (the first thing found wrong). With `warnings=True` the list also holds
    warnings that do not block parsing (`macro-ignored` for a VBA/XLM/ODS-Basic part). `name` is the file name
    shown in problems (default: a readable form of the on-disk name, also for a GBK-encoded name).
    """
    display = name or readable_name(path)
    check = _Check(path, display, limits)
    try:
        check.run()
    except _Refused as refused:
        check.problems.append(refused.problem)
    except _Corrupt as exc:
        check.problems.append(problem(display, "cannot-open", detail=str(exc)))
    except MemoryError:
        check.problems.append(problem(display, "file-too-large", detail="检查文件时内存不足"))
    except OSError as exc:
        check.problems.append(
            problem(display, "cannot-open", detail=f"无法读取文件（{exc.strerror or exc}）")
        )
    except Exception as exc:  # noqa: BLE001 — a check that cannot finish refuses the file, it never crashes the run
        detail = f"文件结构异常，无法完成安全检查（{type(exc).__name__}）"
        check.problems.append(problem(display, "cannot-open", detail=detail))
    return check.problems if warnings else [p for p in check.problems if p.severity == "error"]


def is_safe(problems: list[Problem]) -> bool:
    """True when preflight found nothing that blocks parsing (warnings allowed)."""
    return not any(p.severity == "error" for p in problems)


def readable_name(path: Path) -> str:
    """The file name as a person reads it, also when the share delivered it GBK-encoded on a UTF-8 system."""
    raw = os.fsencode(path.name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def sniff(head: bytes) -> str:
    """zip | ole | markup | text | empty, from a file's first bytes (same rules as pipeline.read)."""
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<":
        return "markup"
    if not head.strip():
        return "empty"
    return "text"


class _Check:
    def __init__(self, path: Path, display: str, limits: Limits) -> None:
        self.path = path
        self.display = display
        self.limits = limits
        self.deadline = time.monotonic() + limits.parse_timeout_seconds
        self.problems: list[Problem] = []

    def fail(self, code: str, detail: str = "", sheet: str = "") -> NoReturn:
        raise _Refused(problem(self.display, code, detail=detail, sheet=sheet))

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Refused(problem(self.display, "read-timeout"))

    def run(self) -> None:
        size = self.path.stat().st_size
        if size == 0:
            self.fail("empty-file")
        cap = self.limits.max_uncompressed_mb * MIB
        if size > cap:
            self.fail(
                "file-too-large",
                f"文件大小 {size / MIB:.0f} MB，超过上限 {self.limits.max_uncompressed_mb} MB",
            )
        with self.path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
            kind = sniff(head)
            if kind == "empty":
                if _all_blank(fh):
                    self.fail("empty-file")
                kind = "text"
            if kind == "zip":
                _ZipCheck(self, fh, size).run()
            elif kind == "ole":
                self._ole(fh, size)
            elif kind == "markup":
                self._markup(fh)

    # --- OLE: legacy .xls, or an encrypted OOXML package --------------------------------------------------

    def _ole(self, fh: BinaryIO, size: int) -> None:
        ole = _Ole(fh, size)
        streams = {e.name.lower(): e for e in ole.entries}
        if "encryptioninfo" in streams or "encryptedpackage" in streams:
            self.fail("encrypted")
        book = streams.get("workbook") or streams.get("book")
        if book is None:
            self.fail("cannot-open", "不是 Excel 文件（可能是 Word 等其他 Office 文件）")
        if any(n.startswith("_vba_project") for n in streams):
            self.problems.append(problem(self.display, "macro-ignored"))
        try:
            head = ole.read(book, 64 * 1024)
        except _Corrupt:
            return  # the reader will say what is wrong; nothing unsafe was found
        if _biff_filepass(head):
            self.fail("encrypted")

    # --- HTML / XML text -----------------------------------------------------------------------------------

    def _markup(self, fh: BinaryIO) -> None:
        fh.seek(0)
        carry = b""
        spanned = 0
        while chunk := fh.read(INFLATE_BYTES):
            self.tick()
            buf, carry = _split_at_tag(carry + chunk)
            if _HTML_ENTITY.search(buf):
                self.fail("unsafe-file", "HTML 中声明了实体（<!ENTITY>），可能导致实体膨胀攻击")
            if _SPAN_ANY_CASE.search(buf):
                for tag in _HTML_SPAN_CELL.findall(buf):
                    spanned += _span(tag, _ROWSPAN) * _span(tag, _COLSPAN)
                if spanned > self.limits.max_cells:
                    self.fail(
                        "file-too-large",
                        f"HTML 表格的合并单元格（rowspan/colspan）展开后超过{_count(self.limits.max_cells)}个单元格",
                    )
        if _HTML_ENTITY.search(carry):
            self.fail("unsafe-file", "HTML 中声明了实体（<!ENTITY>），可能导致实体膨胀攻击")


def _all_blank(fh: BinaryIO) -> bool:
    fh.seek(0)
    while chunk := fh.read(INFLATE_BYTES):
        if chunk.strip():
            return False
    return True


def _split_at_tag(buf: bytes) -> tuple[bytes, bytes]:
    """Cut before the last '<' so that no tag is split between two chunks (bounded carry)."""
    cut = buf.rfind(b"<")
    if cut <= 0 or len(buf) - cut > MAX_CARRY:
        return buf, b""
    return buf[:cut], buf[cut:]


def _count(n: int) -> str:
    """A cell count as a person reads it: 171.8亿, 6000万, 9,999."""
    if n >= 100_000_000:
        return f"{n / 100_000_000:.1f}亿"
    if n >= 100_000:
        return f"{n / 10_000:.0f}万"
    return f"{n:,}"


_HTML_ENTITY = re.compile(rb"<!\s*ENTITY", re.I)
_SPAN_ANY_CASE = re.compile(rb"span", re.I)
_HTML_SPAN_CELL = re.compile(rb"<t[dh]\b[^>]*?(?:row|col)span[^>]*>", re.I)
_ROWSPAN = re.compile(rb"rowspan\s*=\s*[\"']?\s*(\d+)", re.I)
_COLSPAN = re.compile(rb"colspan\s*=\s*[\"']?\s*(\d+)", re.I)


def _span(tag: bytes, pattern: re.Pattern[bytes]) -> int:
    """A span as pipeline.read clamps it (1..1000)."""
    m = pattern.search(tag)
    return max(1, min(int(m.group(1)[:6]), 1000)) if m else 1


# --- zip containers ---------------------------------------------------------------------------------------


class _ZipCheck:
    """Every entry of an xlsx/xlsm/ods inflated once, in bounded chunks, counting what really comes out."""

    def __init__(self, check: _Check, fh: BinaryIO, size: int) -> None:
        self.check = check
        self.fh = fh
        self.size = size
        self.limits = check.limits
        self.total = 0
        self.sheet_names: dict[str, str] | None = None

    def run(self) -> None:
        check = self.check
        self._directory_size()
        try:
            zf = zipfile.ZipFile(self.fh)
        except (zipfile.BadZipFile, ValueError, EOFError, struct.error, NotImplementedError) as exc:
            raise _Corrupt("Excel 文件已损坏或不完整（压缩包结构损坏，可能是下载或复制未完成）") from exc
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(infos) > MAX_ZIP_ENTRIES:
            check.fail("unsafe-file", f"压缩包内有 {len(infos)} 个文件，远超正常表格文件，疑似压缩炸弹")
        if not infos:
            raise _Corrupt("压缩包是空的，不是 Excel 文件")
        self.zf = zf
        self.ods = "mimetype" in names and not any(n.startswith("xl/") for n in names)
        if not self.ods:
            if "xl/workbook.bin" in names:
                check.fail(
                    "cannot-open",
                    "这是 Excel 二进制工作簿（.xlsb），不支持读取；请在 Excel 中另存为 .xlsx 后重新放入",
                )
            if not any(n.startswith("xl/") for n in names):
                check.fail("cannot-open", "不是 Excel 文件（可能是 Word 文档或普通压缩包）")
        end = 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            check.tick()
            start = self._data_start(info)
            if start < end:
                check.fail("unsafe-file", "压缩包内的文件数据相互重叠，疑似压缩炸弹")
            end = start + info.compress_size
            if end > self.size:
                raise _Corrupt("Excel 文件已损坏或不完整（文件被截断）")
            self._entry(info, start)
        if any(MACRO_PARTS.search(n) for n in names):
            check.problems.append(problem(check.display, "macro-ignored"))

    def _directory_size(self) -> None:
        """Refuse a central directory with absurdly many entries before zipfile builds objects for them."""
        fh, size = self.fh, self.size
        tail_len = min(size, 22 + 65535)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or pos + 22 > len(tail):
            raise _Corrupt("Excel 文件已损坏或不完整（找不到压缩包目录，可能是下载或复制未完成）")
        entries, cd_size = struct.unpack_from("<HI", tail, pos + 10)
        if entries != 0xFFFF and entries > MAX_ZIP_ENTRIES:
            self.check.fail("unsafe-file", f"压缩包内有 {entries} 个文件，远超正常表格文件，疑似压缩炸弹")
        if cd_size != 0xFFFFFFFF and cd_size > size:
            raise _Corrupt("Excel 文件已损坏或不完整（压缩包目录超出文件末尾）")

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        self.fh.seek(info.header_offset)
        header = self.fh.read(30)
        if len(header) < 30 or not header.startswith(b"PK\x03\x04"):
            raise _Corrupt(f"Excel 文件已损坏或不完整（压缩包中的 {info.filename} 找不到）")
        name_len, extra_len = struct.unpack_from("<HH", header, 26)
        return info.header_offset + 30 + name_len + extra_len

    def _entry(self, info: zipfile.ZipInfo, start: int) -> None:
        check, limits, name = self.check, self.limits, info.filename
        if info.flag_bits & 0x1:
            check.fail("encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Corrupt(
                f"压缩包中的 {name} 使用了不支持的压缩方式（{info.compress_type}），文件可能已损坏"
            )
        lower = name.lower()
        is_xml = lower.endswith(XML_SUFFIXES)
        text = _Utf8() if is_xml else None
        dtd = _DtdWatch(allow_doctype=self.ods and lower == "meta-inf/manifest.xml") if is_xml else None
        cells: _CellScan | _OdsScan | None = None
        if is_xml and not self.ods:
            cells = _CellScan()
        elif self.ods and lower == "content.xml":
            cells = _OdsScan()
        head: bytes | None = b"" if is_xml and not self.ods else None
        out = 0
        entry_cap, total_cap = limits.max_entry_mb * MIB, limits.max_uncompressed_mb * MIB
        for chunk, raw in _inflate(self.fh, start, info.compress_size, info.compress_type, name):
            out += len(chunk)
            if out > entry_cap:
                check.fail(
                    "file-too-large", f"压缩包中的 {name} 解压后超过 {limits.max_entry_mb} MB，疑似压缩炸弹"
                )
            if self.total + out > total_cap:
                check.fail("file-too-large", f"解压后超过 {limits.max_uncompressed_mb} MB，疑似压缩炸弹")
            if out > GRACE_BYTES and raw < out * limits.min_compression_ratio:
                check.fail(
                    "unsafe-file",
                    f"压缩包中的 {name} 压缩比异常（解压后是压缩数据的 {out // max(raw, 1)} 倍），疑似压缩炸弹",
                )
            check.tick()
            if text is None or dtd is None:
                continue
            data = text.decode(chunk)
            if dtd.feed(data):
                check.fail(
                    "unsafe-file",
                    f"压缩包中的 {name} 含有 XML 文档类型/实体声明（DTD），可能导致实体膨胀攻击",
                )
            if head is not None:
                head += data[: DIMENSION_WINDOW - len(head)]
                if len(head) >= DIMENSION_WINDOW:
                    self._dimension(head, name)
                    head = None
            if cells is not None:
                cells.feed(data)
                self._judge(cells.early(), name)
        self.total += out
        if head is not None:
            self._dimension(head, name)
        if cells is not None:
            cells.feed(b"", final=True)
            self._cells(cells, info, start)

    def _dimension(self, head: bytes, name: str) -> None:
        m = _DIMENSION.search(head)
        if m is None:
            return
        ref = m.group(1).decode("ascii", "replace").strip()
        corners = [_parse_ref(p) for p in ref.split(":")]
        if not corners or any(c is None for c in corners) or len(corners) > 2:
            return
        (r1, c1), (r2, c2) = corners[0], corners[-1]  # type: ignore[misc]
        rows, cols = abs(r2 - r1) + 1, abs(c2 - c1) + 1
        if max(r1, r2) > EXCEL_MAX_ROWS or max(c1, c2) > EXCEL_MAX_COLS:
            reason = f"超出 Excel 的上限（{EXCEL_MAX_ROWS:,} 行 × {EXCEL_MAX_COLS:,} 列）"
        elif rows * cols > self.limits.max_cells:
            reason = f"过大（约{_count(rows * cols)}个单元格，上限{_count(self.limits.max_cells)}个）"
        else:
            return
        self.check.fail(
            "file-too-large", f"声明的数据区域 {ref} {reason}，读取会耗尽内存", sheet=self._sheet(name)
        )

    def _cells(self, scan: _CellScan | _OdsScan, info: zipfile.ZipInfo, start: int) -> None:
        """Judge the largest cell address; re-read the part exactly when the cheap bounds cannot decide."""
        verdict = scan.verdict(self.limits.max_cells)
        if verdict is None:
            return
        if isinstance(verdict, tuple):
            self._judge(verdict, info.filename)
            return
        exact = _ExactScan() if verdict == "exact" else _SlowScan()
        exact.merge_extent(scan)
        text = _Utf8()
        for chunk, _ in _inflate(self.fh, start, info.compress_size, info.compress_type, info.filename):
            self.check.tick()
            exact.feed(text.decode(chunk))
        exact.feed(b"", final=True)
        self._judge(exact.extent(), info.filename)

    def _judge(self, extent: tuple[int, int] | None, name: str) -> None:
        if extent is None:
            return
        rows, cols = extent
        cells = rows * cols
        if rows <= EXCEL_MAX_ROWS and cols <= EXCEL_MAX_COLS and cells <= self.limits.max_cells:
            return
        area = f"A1:{_col_letters(cols)}{rows}"
        if rows > EXCEL_MAX_ROWS or cols > EXCEL_MAX_COLS:
            reason = f"超出 Excel 的上限（{EXCEL_MAX_ROWS:,} 行 × {EXCEL_MAX_COLS:,} 列）"
        else:
            reason = f"过大（约{_count(cells)}个单元格，上限{_count(self.limits.max_cells)}个）"
        self.check.fail(
            "file-too-large", f"数据区域 {area} {reason}，读取会耗尽内存", sheet=self._sheet(name)
        )

    def _sheet(self, part: str) -> str:
        """The sheet name a part belongs to (from workbook.xml and its relationships), or the part name."""
        if self.sheet_names is None:
            self.sheet_names = {}
            with contextlib.suppress(_Corrupt, KeyError):
                workbook = self._small_part("xl/workbook.xml")
                self.sheet_names = _sheet_names(workbook, self._small_part("xl/_rels/workbook.xml.rels"))
        return self.sheet_names.get(part, "" if self.ods else part)

    def _small_part(self, name: str) -> bytes:
        info = self.zf.getinfo(name)
        out = b""
        text = _Utf8()
        for chunk, _ in _inflate(
            self.fh, self._data_start(info), info.compress_size, info.compress_type, name
        ):
            out += text.decode(chunk)
            if len(out) > 8 * MIB:
                break
        return out


def _inflate(fh: BinaryIO, start: int, length: int, method: int, name: str) -> Iterator[tuple[bytes, int]]:
    """Inflated chunks of one entry (at most INFLATE_BYTES each) with the compressed bytes consumed so far.

    Reads at most the entry's compressed length; the inflated size is whatever really comes out. Seeks before
    every read, so that other reads of the same file between two chunks do no harm.
    """
    broken = f"Excel 文件已损坏或不完整（压缩包中的 {name} 数据不完整）"
    pos, end = start, start + length
    consumed = 0

    def read(n: int) -> bytes:
        nonlocal pos
        fh.seek(pos)
        buf = fh.read(min(n, end - pos))
        if not buf:
            raise _Corrupt(broken)
        pos += len(buf)
        return buf

    if method == zipfile.ZIP_STORED:
        while pos < end:
            buf = read(INFLATE_BYTES)
            consumed += len(buf)
            yield buf, consumed
        return
    if length == 0:
        return  # an empty entry some writers still mark as deflated
    inflater = zlib.decompressobj(-15)
    try:
        while not inflater.eof:
            buf = read(READ_BYTES)
            while True:
                out = inflater.decompress(buf, INFLATE_BYTES)
                consumed += len(buf) - len(inflater.unconsumed_tail)
                buf = inflater.unconsumed_tail
                if out:
                    yield out, consumed
                if inflater.eof or (not buf and len(out) < INFLATE_BYTES):
                    break
    except zlib.error as exc:
        raise _Corrupt(f"Excel 文件已损坏（压缩包中的 {name} 数据损坏）") from exc


class _Utf8:
    """XML parts are UTF-8 (or ASCII-compatible); a UTF-16 part is transcoded so that byte patterns work."""

    def __init__(self) -> None:
        self.decoder: codecs.IncrementalDecoder | None = None
        self.started = False

    def decode(self, chunk: bytes) -> bytes:
        if not self.started:
            self.started = True
            enc = None
            if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                enc = "utf-16"
            elif len(chunk) >= 2 and chunk[0] and not chunk[1]:
                enc = "utf-16-le"
            elif len(chunk) >= 2 and not chunk[0] and chunk[1]:
                enc = "utf-16-be"
            if enc:
                self.decoder = codecs.getincrementaldecoder(enc)(errors="replace")
        if self.decoder is None:
            return chunk
        return self.decoder.decode(chunk).encode("utf-8")


class _DtdWatch:
    """`<!DOCTYPE` / `<!ENTITY` anywhere in a part, also across chunk boundaries."""

    def __init__(self, allow_doctype: bool) -> None:
        self.needles = (b"<!ENTITY",) if allow_doctype else (b"<!ENTITY", b"<!DOCTYPE")
        self.tail = b""

    def feed(self, data: bytes) -> bool:
        seam = self.tail + data[:16]
        self.tail = data[-16:]
        return any(n in data or n in seam for n in self.needles)


_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?dimension\s+ref\s*=\s*[\"']([^\"']*)[\"']")
_REF = re.compile(r"\$?([A-Za-z]{1,7})\$?(\d{1,12})")


def _parse_ref(text: str) -> tuple[int, int] | None:
    """'XFD1048576' → (row, col), 1-based; None when not a cell reference."""
    m = _REF.fullmatch(text.strip())
    if m is None:
        return None
    return int(m.group(2)), _col_number(m.group(1).upper())


def _col_number(letters: str | bytes) -> int:
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.upper().decode("ascii"):
        n = n * 26 + ord(ch) - 64
    return n


def _col_letters(n: int) -> str:
    letters = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters or "A"


# --- the largest cell address of an xlsx sheet part -------------------------------------------------------
#
# Fast path (every part, one regex pass per chunk): only references that can matter are extracted — columns
# with two or more letters (AA and beyond) and rows with seven or more digits (1,000,000 and beyond). With no
# wide column the sheet is at most 26 wide, with no tall row at most 999,999 tall; when these bounds keep
# rows × columns within max_cells the part is safe without looking at every reference. Otherwise the part is
# read again exactly (every reference). A part whose cells do not all carry a plain r="A1" attribute (cells
# without r take their position from their order, as python-calamine does; odd quoting, lowercase) is read
# again by a small tokenizer that follows the reader's position rules.

# After ` r="`, a plain reference (one letter, at most six digits) fails the lookahead at once: only what
# matters is extracted. Groups: wide column letters, the row of a wide reference if ≥ 1,000,000, such a row
# of any other reference; all three empty = an odd reference (lowercase, $, empty) → the slow path.
_FAST_REF = re.compile(
    rb' r="(?![A-Z]\d{1,6}")(?:([A-Z]{2,})(?:(\d{7,})|\d{1,6})|[A-Z]?(\d{7,})|[^"A-Z0-9][^"]*|)"'
)
_ALL_REFS = re.compile(rb' r="([A-Z]+)(\d+)"')
_ODD_CELL = re.compile(rb'<(?:[A-Za-z_][\w.\-]*:)?c(?: (?!r=")|[>/\t\n\r])')
_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?mergeCell\b[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
_TOKEN = re.compile(rb"<(/?)(?:[A-Za-z_][\w.\-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"(?:^|\s)r\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _canonical(buf: bytes) -> bool:
    """Every cell element in `buf` starts with a plain r="…" attribute (what every real writer produces).

    Counts decide (bytes.count is far cheaper than a regex): in the usual chunk of sheetData every element
    name starting with c is a plain cell; other c-elements (<cols>, <cfRule>…) only cost a few more counts.
    Prefixed cells (<x:c>, OpenXML SDK) are checked by a regex.
    """
    plain = buf.count(b'<c r="')
    if buf.count(b"<c") != plain and (
        buf.count(b"<c ") != plain or any(odd in buf for odd in (b"<c>", b"<c/", b"<c\t", b"<c\n", b"<c\r"))
    ):
        return False
    return b":c" not in buf or _ODD_CELL.search(buf) is None


class _Extent:
    """Merged-cell corners count as cells: the body fill widens every row they cover."""

    def __init__(self) -> None:
        self.carry = b""
        self.merge_rows = 0
        self.merge_cols = 0

    def _chunk(self, data: bytes, final: bool) -> bytes:
        if final:
            buf, self.carry = self.carry + data, b""
            return buf
        buf, self.carry = _split_at_tag(self.carry + data)
        return buf

    def _merges(self, buf: bytes) -> None:
        if b"mergeCell" not in buf:
            return
        for ref in _MERGE.findall(buf):
            for corner in ref.decode("ascii", "replace").split(":"):
                pos = _parse_ref(corner)
                if pos is not None:
                    self.merge_rows = max(self.merge_rows, pos[0])
                    self.merge_cols = max(self.merge_cols, pos[1])

    def merge_extent(self, other: _Extent) -> None:
        self.merge_rows = max(self.merge_rows, other.merge_rows)
        self.merge_cols = max(self.merge_cols, other.merge_cols)


class _CellScan(_Extent):
    def __init__(self) -> None:
        super().__init__()
        self.wide: set[bytes] = set()  # column letters of references at AA or beyond
        self.tall = 0  # largest row number ≥ 1,000,000 seen (cell or row element)
        self.odd = False

    def feed(self, data: bytes, final: bool = False) -> None:
        buf = self._chunk(data, final)
        self._merges(buf)
        if self.odd:
            return
        if not _canonical(buf):
            self.odd = True
            return
        for wide, wide_tall, tall in set(_FAST_REF.findall(buf)):
            if wide:
                self.wide.add(wide)
            tall = wide_tall or tall
            if tall:
                self.tall = max(self.tall, int(tall[:12]))
            elif not wide:
                self.odd = True

    def _wide_cols(self) -> int:
        return max((_col_number(w[:8]) for w in self.wide), default=0)

    def early(self) -> tuple[int, int] | None:
        """An address already beyond Excel's limits: no need to read further."""
        if self.tall > EXCEL_MAX_ROWS:
            return self.tall, max(1, self._wide_cols())
        if self.wide and max(len(w) for w in self.wide) > 3:
            return max(1, self.tall), self._wide_cols()
        return None

    def verdict(self, max_cells: int) -> tuple[int, int] | str | None:
        """None: safe; (rows, cols): the extent to judge; "exact"/"slow": read the part again."""
        if self.odd:
            return "slow"
        cols = max(self._wide_cols(), self.merge_cols)
        rows = max(self.tall, self.merge_rows)
        if rows > EXCEL_MAX_ROWS or cols > EXCEL_MAX_COLS:
            return rows, max(cols, 1)
        col_bound = max(cols, 26)
        row_bound = max(rows, 999_999)
        if col_bound * row_bound <= max_cells:
            return None
        return "exact"


class _ExactScan(_Extent):
    """Every r="A1" reference of a canonical part."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0
        self.letters: set[bytes] = set()

    def feed(self, data: bytes, final: bool = False) -> None:
        buf = self._chunk(data, final)
        self._merges(buf)
        refs = _ALL_REFS.findall(buf)
        if refs:
            self.letters.update({w for w, _ in refs})
            self.rows = max(self.rows, max(int(d[:12]) for _, d in refs))

    def extent(self) -> tuple[int, int] | None:
        cols = max((_col_number(w[:8]) for w in self.letters), default=0)
        return max(self.rows, self.merge_rows), max(cols, self.merge_cols)


class _SlowScan(_Extent):
    """Positions as python-calamine assigns them: r when present, else the next column / the next row."""

    def __init__(self) -> None:
        super().__init__()
        self.row = 0  # 0-based current row
        self.col = 0
        self.rows = 0  # largest 1-based row / column seen on a cell
        self.cols = 0

    def feed(self, data: bytes, final: bool = False) -> None:
        buf = self._chunk(data, final)
        self._merges(buf)
        for end, tag, attrs in _TOKEN.findall(buf):
            closing = attrs.rstrip().endswith(b"/")
            if tag == b"row":
                if end:
                    self.row, self.col = self.row + 1, 0
                    continue
                ref = _r_attr(attrs)
                if ref is not None and ref.isdigit():
                    self.row = int(ref[:12]) - 1
                if closing:
                    self.row, self.col = self.row + 1, 0
                continue
            if end:
                continue
            ref = _r_attr(attrs)
            pos = _parse_ref(ref) if ref is not None else None
            if pos is not None:
                row, col = pos
                self.col = col - 1
            else:
                row, col = self.row + 1, self.col + 1
            self.rows, self.cols = max(self.rows, row), max(self.cols, col)
            self.col += 1

    def extent(self) -> tuple[int, int] | None:
        return max(self.rows, self.merge_rows), max(self.cols, self.merge_cols)


def _r_attr(attrs: bytes) -> str | None:
    m = _R_ATTR.search(attrs)
    if m is None:
        return None
    return (m.group(1) or m.group(2) or b"").decode("ascii", "replace").strip()


# --- ods: repeated rows/columns are positions too ------------------------------------------------------------

_ODS_TOKEN = re.compile(rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*)>")
_ROWS_REPEATED = re.compile(rb"number-rows-repeated\s*=\s*[\"'](\d+)")
_COLS_REPEATED = re.compile(rb"number-columns-repeated\s*=\s*[\"'](\d+)")


class _OdsScan(_Extent):
    """Largest position holding a value in content.xml (rows and columns repeated count, empty ones do not)."""

    def __init__(self) -> None:
        super().__init__()
        self.row = 0
        self.col = 0
        self.repeat = 1
        self.row_has_value = False
        self.rows = 0
        self.cols = 0

    def feed(self, data: bytes, final: bool = False) -> None:
        buf = self._chunk(data, final)
        for end, tag, attrs in _ODS_TOKEN.findall(buf):
            closing = attrs.rstrip().endswith(b"/")
            if tag == b"table":
                if not end:
                    self.row = 0
            elif tag == b"table-row":
                if not end:
                    self.col, self.row_has_value = 0, False
                    self.repeat = _repeated(_ROWS_REPEATED, attrs)
                if end or closing:
                    if self.row_has_value:
                        self.rows = max(self.rows, self.row + self.repeat)
                    self.row += self.repeat
                    self.repeat = 1
            elif not end:
                span = _repeated(_COLS_REPEATED, attrs)
                if b"value-type" in attrs or not closing:
                    self.cols = max(self.cols, self.col + span)
                    self.row_has_value = True
                self.col += span

    def early(self) -> tuple[int, int] | None:
        return None

    def verdict(self, max_cells: int) -> tuple[int, int] | str | None:
        return self.rows, self.cols


def _repeated(pattern: re.Pattern[bytes], attrs: bytes) -> int:
    m = pattern.search(attrs)
    return max(1, int(m.group(1)[:12])) if m else 1


def _sheet_names(workbook: bytes, rels: bytes) -> dict[str, str]:
    """Part path → sheet name."""
    targets: dict[str, str] = {}
    for tag in re.findall(rb"<(?:\w+:)?Relationship\b[^>]*>", rels):
        rid, target = re.search(rb'Id="([^"]+)"', tag), re.search(rb'Target="([^"]+)"', tag)
        if rid and target:
            t = target.group(1).decode("utf-8", "replace").lstrip("/")
            targets[rid.group(1).decode("utf-8", "replace")] = t if t.startswith("xl/") else "xl/" + t
    out: dict[str, str] = {}
    for tag in re.findall(rb"<(?:\w+:)?sheet\b[^>]*>", workbook):
        name, rid = re.search(rb'name="([^"]*)"', tag), re.search(rb'r:id="([^"]+)"', tag)
        if name and rid and rid.group(1).decode("utf-8", "replace") in targets:
            text = name.group(1).decode("utf-8", "replace")
            for a, b in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
                text = text.replace(a, b)
            out[targets[rid.group(1).decode("utf-8", "replace")]] = text
    return out


# --- OLE compound files (MS-CFB) ----------------------------------------------------------------------------

_END_OF_CHAIN = 0xFFFFFFFA  # sector ids at or above this are markers, not sectors


class _OleEntry:
    def __init__(self, name: str, kind: int, start: int, size: int) -> None:
        self.name, self.kind, self.start, self.size = name, kind, start, size


class _Ole:
    """Just enough of MS-CFB to list the streams and read the head of one."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.file_size = fh, size
        broken = "Excel 97-2003 文件已损坏或不完整"
        fh.seek(0)
        header = fh.read(512)
        if len(header) < 512:
            raise _Corrupt(broken)
        major, _byte_order, shift, mini_shift = struct.unpack_from("<HHHH", header, 0x1A)
        if shift not in (9, 12) or mini_shift != 6:
            raise _Corrupt(broken)
        self.sector = 1 << shift
        n_fat, first_dir = struct.unpack_from("<II", header, 0x2C)
        self.mini_cutoff, first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from(
            "<IIIII", header, 0x38
        )
        sectors = max(1, (size - 512 + self.sector - 1) // self.sector)
        if n_fat > sectors or n_minifat > sectors or n_difat > sectors:
            raise _Corrupt(broken)
        difat = [s for s in struct.unpack_from("<109I", header, 0x4C) if s < _END_OF_CHAIN]
        sec = first_difat
        per = self.sector // 4
        for _ in range(n_difat):
            if sec >= _END_OF_CHAIN:
                break
            ids = struct.unpack(f"<{per}I", self._sector(sec))
            difat += [s for s in ids[:-1] if s < _END_OF_CHAIN]
            sec = ids[-1]
        fat_bytes = b"".join(self._sector(s) for s in difat[:n_fat])
        self.fat = _u32_array(fat_bytes)
        directory = self._chain(first_dir, 16 * MIB)
        self.entries: list[_OleEntry] = []
        for off in range(0, len(directory) - 127, 128):
            raw = directory[off : off + 128]
            name_len = min(struct.unpack_from("<H", raw, 0x40)[0], 64)
            kind = raw[0x42]
            start, length = struct.unpack_from("<IQ", raw, 0x74)
            if major == 3:
                length &= 0xFFFFFFFF
            if kind in (1, 2, 5):
                name = raw[: max(0, name_len - 2)].decode("utf-16-le", "replace")
                self.entries.append(_OleEntry(name, kind, start, length))
        if not self.entries or self.entries[0].kind != 5:
            raise _Corrupt(broken)
        self.root = self.entries[0]
        self.first_minifat = first_minifat

    def _sector(self, sec: int) -> bytes:
        offset = (sec + 1) * self.sector
        if offset >= self.file_size:
            raise _Corrupt("Excel 97-2003 文件已损坏或不完整（文件被截断）")
        self.fh.seek(offset)
        return self.fh.read(self.sector)

    def _chain(self, start: int, limit: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        sec = start
        for _ in range(len(self.fat) + 1):
            if sec >= _END_OF_CHAIN or got >= limit:
                break
            if sec >= len(self.fat):
                raise _Corrupt("Excel 97-2003 文件已损坏或不完整（扇区链断裂）")
            data = self._sector(sec)
            parts.append(data)
            got += len(data)
            sec = self.fat[sec]
        return b"".join(parts)

    def read(self, entry: _OleEntry, limit: int) -> bytes:
        """The first `limit` bytes of a stream."""
        want = min(entry.size, limit)
        if entry.size >= self.mini_cutoff:
            return self._chain(entry.start, want)[:want]
        mini = self._chain(self.root.start, 16 * MIB)
        minifat_bytes = self._chain(self.first_minifat, 16 * MIB)
        minifat = _u32_array(minifat_bytes)
        out = b""
        sec = entry.start
        for _ in range(len(minifat) + 1):
            if sec >= _END_OF_CHAIN or len(out) >= want:
                break
            if sec >= len(minifat):
                raise _Corrupt("Excel 97-2003 文件已损坏或不完整（扇区链断裂）")
            out += mini[sec * 64 : sec * 64 + 64]
            sec = minifat[sec]
        return out[:want]


def _u32_array(data: bytes) -> array.array[int]:
    """Little-endian u32 sector ids, compact (a FAT can hold millions)."""
    ids = array.array("I")
    ids.frombytes(data[: len(data) // 4 * 4])
    if sys.byteorder == "big":
        ids.byteswap()
    return ids


def _biff_filepass(stream: bytes) -> bool:
    """A FILEPASS record (0x002F) in the workbook globals: the .xls is password-protected."""
    if len(stream) < 4 or struct.unpack_from("<H", stream, 0)[0] not in (0x0809, 0x0409, 0x0209, 0x0009):
        return False
    pos = 0
    while pos + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, pos)
        if kind == 0x002F:
            return True
        if kind == 0x000A:  # EOF of the globals substream
            return False
        pos += 4 + length
    return False
