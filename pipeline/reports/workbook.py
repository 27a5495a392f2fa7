"""The one .xlsx writer every report uses: typed columns, literal text, streamed rows, atomic file."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter
from isal import isal_zlib
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipeline.reports import reuse, rowblocks, sheetxml
from pipeline.reports.reuse import fingerprint, reuse_previous

ColumnKind = Literal["text", "money", "rate", "date", "int", "decimal", "days"]
ChartKind = Literal["column", "line", "stacked"]

MAX_ROWS = 1_048_576  # rows per Excel sheet, header and 合计 included
MAX_COLS = 16_384
MAX_TEXT = 32_767  # UTF-16 code units per Excel cell
MAX_SHEET_NAME = 31  # UTF-16 code units
MAX_WIDTH = 60
MIN_WIDTH = 6
CHUNK_ROWS = 98 * rowblocks.BLOCK_ROWS  # rows converted at once (50,176): bounds memory on big frames
BATCH_ROWS = 200_000  # rows of many small documents built at once (write_documents): bounds their XML in memory
INTRO_SHEET = "说明"
TOTAL_LABEL = "合计"

NUMBER_FORMATS: dict[ColumnKind, str | None] = {
    "text": None,
    "money": "#,##0.00;[Red]-#,##0.00",
    "rate": "0.0%",
    "date": "yyyy-mm-dd",
    "int": "0",
    "decimal": "#,##0.00",
    "days": "0",
}
SUMMABLE: frozenset[ColumnKind] = frozenset({"money", "int", "decimal"})
NUMERIC: frozenset[ColumnKind] = frozenset({"money", "rate", "int", "decimal", "days"})
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FILL = "#DDEBF7"
WORKBOOK_OPTIONS: dict[str, bool] = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}
class _FastZipFile(zipfile.ZipFile):
    """The ZipFile xlsxwriter assembles a workbook with: entries deflated by ISA-L (xlsxwriter has no option for
    it), and a StreamedSheet's rows spliced in already deflated. Set on xlsxwriter's module, so once this module
    is imported the templates and sample ledgers other modules write with xlsxwriter are deflated the same way.
    The output is ordinary deflate: any reader opens it.
    """

    def _open_to_write(self, zinfo: zipfile.ZipInfo, force_zip64: bool = False) -> IO[bytes]:
        # Private, so not in typeshed; zipfile's own write paths (open(..., "w"), write, writestr) all go through it.
        handle: Any = super()._open_to_write(zinfo, force_zip64)  # type: ignore[misc]
        if zinfo.compress_type == zipfile.ZIP_DEFLATED:
            # zipfile's writer takes any object with zlib's compress()/flush(); raw deflate, as zipfile's own.
            handle._compressor = sheetxml.deflater()
        return handle

    def write(
        self,
        filename: str | os.PathLike[str],
        arcname: str | os.PathLike[str] | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        """As ZipFile.write, in 1 MiB pieces instead of 8 KiB (per-call overhead was a third of deflating), and
        with a StreamedSheet's deflated rows put back into its sheet XML."""
        strict = getattr(self, "_strict_timestamps", True)
        info = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=strict)
        if info.is_dir():
            super().write(filename, arcname, compress_type, compresslevel)
            return
        info.compress_type = self.compression if compress_type is None else compress_type
        rows = sheetxml.take_deflated_rows(filename)
        if rows is not None:
            if info.compress_type != zipfile.ZIP_DEFLATED:  # xlsxwriter always deflates; the rows are deflated
                raise ValueError("a StreamedSheet's rows can only go into a deflated zip entry")
            self._write_spliced(info, Path(filename).read_bytes(), rows)
            return
        with open(filename, "rb") as src, self.open(info, "w") as dest:
            shutil.copyfileobj(src, dest, 1 << 20)

    def _write_spliced(self, info: zipfile.ZipInfo, sheet: bytes, rows: sheetxml.DeflatedRows) -> None:
        """One entry from the sheet XML before the rows, the rows as deflated when written, and the rest. Each part
        comes from its own compressor and all but the last end byte-aligned and not final, so the three make one
        deflate stream with no part referring back into another. zipfile's writer keeps the CRC and sizes of
        what passes through it: the rows' are added to them."""
        head, tail = sheet[: rows.head], sheet[rows.head :]
        total = len(sheet) + rows.size
        with self.open(info, "w", force_zip64=total * 1.05 > zipfile.ZIP64_LIMIT) as dest:
            writer: Any = dest  # zipfile._ZipWriteFile; its fields are private
            writer.write(head)
            _write_raw(writer, writer._compressor.flush(isal_zlib.Z_SYNC_FLUSH))
            rows.start = writer._fileobj.tell()  # where its blocks are, for the next run (rowblocks.py)
            for piece in rows.pieces():
                _write_raw(writer, piece)
            writer._crc = isal_zlib.crc32_combine(writer._crc, rows.crc, rows.size)
            writer._file_size += rows.size
            writer._compressor = sheetxml.deflater()
            writer.write(tail)
        rows.close()


def _write_raw(writer: Any, deflated: bytes) -> None:
    """Bytes already deflated, straight into the zip entry `writer` is writing."""
    writer._fileobj.write(deflated)
    writer._compress_size += len(deflated)


xlsxwriter.workbook.ZipFile = _FastZipFile


class _Workbook(Workbook):
    worksheet_class = sheetxml.StreamedSheet

_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_ONE_DAY = pd.Timedelta(days=1)
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_RESERVED_SHEET_NAMES = frozenset({"history"})
# East Asian wide and full-width ranges, as literal characters so both `re` and pyarrow's RE2 read them.
_WIDE_RANGES = (
    "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd"
)
_WIDE_PATTERN = f"[{_WIDE_RANGES}]"
_WIDE = re.compile(_WIDE_PATTERN)

Cell = float | str | None


@dataclass(frozen=True)
class Column:
    """One output column: the zh-CN header shown, how its values are typed, and the frame column it reads."""

    header: str
    kind: ColumnKind = "text"
    source: str | None = None

    @property
    def src(self) -> str:
        return self.header if self.source is None else self.source


@dataclass(frozen=True)
class Chart:
    """A native Excel chart over the sheet's own cells; category and series name column headers."""

    kind: ChartKind
    title: str
    category: str
    series: tuple[str, ...]
    anchor: str | None = None  # top-left cell such as "N2"; default: right of the data


@dataclass(frozen=True)
class SheetData:
    """One table sheet. Money columns hold integer fen; `note` lines sit above the header row."""

    name: str
    frame: pd.DataFrame
    columns: tuple[Column, ...] = ()  # empty: every frame column, kind inferred from its dtype
    total_row: bool = False
    charts: tuple[Chart, ...] = ()
    note: str | None = None  # one line per "\n"; the header row moves down by that many rows
    footer: tuple[str, ...] = ()  # lines after the table, e.g. a signature block
    landscape: bool = False
    fit_width: bool = False  # print 1 page wide (A4)

    @property
    def note_lines(self) -> tuple[str, ...]:
        return tuple(self.note.splitlines()) if self.note else ()

    @property
    def header_row(self) -> int:
        """0-based row of the header; data starts on the next row."""
        return len(self.note_lines)

    @property
    def resolved_columns(self) -> tuple[Column, ...]:
        return self.columns or columns_from(self.frame)


@dataclass(frozen=True)
class Block:
    """A piece of a printable document: text lines, then optionally a table (money in fen, as everywhere)."""

    lines: tuple[str, ...] = ()
    frame: pd.DataFrame | None = None
    columns: tuple[Column, ...] = ()  # empty with a frame: every frame column, kind inferred
    heading: bool = False  # first line in the title font
    rows: tuple[int, int] | None = None  # only rows start:stop of `frame`: documents of a batch share frames

    @property
    def table_columns(self) -> tuple[Column, ...]:
        if self.frame is None:
            return ()
        return self.columns or columns_from(self.frame)

    @property
    def span(self) -> tuple[int, int]:
        """The frame's rows this block shows, start:stop."""
        return self.rows or (0, 0 if self.frame is None else len(self.frame))

    @property
    def height(self) -> int:
        """Rows used: the lines, then a header and the rows when there is a table."""
        start, stop = self.span
        return len(self.lines) + (0 if self.frame is None else 1 + stop - start)


@dataclass(frozen=True)
class Intro:
    """The first sheet, 说明: what the workbook covers, what it was made from, and how to read it."""

    title: str
    period: str
    as_of: date
    generated_at: datetime
    inputs: pd.DataFrame  # 文件名, 类型, 已用行数, 拒绝行数, sha256 (prefix)
    settings: Sequence[tuple[str, str]] = ()
    how_to_read: Sequence[str] = ()


# ---------------------------------------------------------------- public helpers


def text_width(s: str) -> int:
    """Display width in Excel column units: CJK and full-width characters count two."""
    return len(s) + len(_WIDE.findall(s))


def columns_from(frame: pd.DataFrame, kinds: Mapping[str, ColumnKind] | None = None) -> tuple[Column, ...]:
    """Columns for every frame column, kinds from `kinds` or else inferred (integers never become money)."""
    kinds = kinds or {}
    return tuple(
        Column(str(name), kinds.get(str(name)) or _infer_kind(frame[name])) for name in frame.columns
    )


def write_workbook(path: Path, intro: Intro | None, sheets: Sequence[SheetData]) -> list[str]:
    """Write the workbook atomically and return zh-CN warnings (text cut, sheets split or renamed)."""
    for sheet in sheets:
        _check_sheet(sheet)

    def fill(wb: Workbook, fmts: _Formats) -> list[str]:
        names = _SheetNames()
        warnings: list[str] = []
        if intro is not None:
            warnings += _write_intro(wb, fmts, names.claim(INTRO_SHEET)[0], intro)
            wb.set_properties(
                {"title": intro.title, "comments": f"{intro.period}，截止 {intro.as_of:%Y-%m-%d}"}
            )
        for sheet in sheets:
            warnings += _write_sheet(wb, fmts, names, sheet)
        return warnings

    return _write_atomic(Path(path), fill, fingerprint("workbook", intro, list(sheets)))


def write_document(
    path: Path,
    sheet_name: str,
    blocks: Sequence[Block],
    *,
    landscape: bool = False,
    fit_width: bool = True,
    widths: Sequence[int] | None = None,
) -> list[str]:
    """Write one printable sheet of stacked blocks (A4, one page wide) atomically; returns zh-CN warnings.

    `widths` fixes the column widths; by default they fit this document's tables."""
    if widths is None:
        widths = shared_widths([(b.frame, b.table_columns) for b in blocks if b.frame is not None])
    layout = DocumentLayout(sheet_name, tuple(widths), landscape, fit_width)
    return write_documents([path], [blocks], layout)[0]


# ---------------------------------------------------------------- workbook and sheets


def _write_atomic(path: Path, fill: Callable[[Workbook, _Formats], list[str]], print_: str = "") -> list[str]:
    """Build the workbook in a temporary file beside `path` and move it into place only when complete."""
    if print_ and reuse_previous(path, print_):
        return []
    warnings: list[str] = []

    def build(tmp: Path) -> None:
        with (
            tempfile.TemporaryDirectory(prefix="taizhang-xlsx-", ignore_cleanup_errors=True) as rows_dir,
            rowblocks.shelf_for(path),
        ):
            wb = _Workbook(str(tmp), {**WORKBOOK_OPTIONS, "tmpdir": rows_dir})
            warnings.extend(fill(wb, _Formats(wb)))
            wb.close()

    _replace_atomically(path, build)
    return warnings


def _replace_atomically(path: Path, build: Callable[[Path], None]) -> None:
    """`build` writes a temporary file beside `path`, which then replaces `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        build(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Formats:
    """Every cell format a workbook needs, created once."""

    def __init__(self, wb: Workbook) -> None:
        self.header = wb.add_format(
            {"bold": True, "bg_color": HEADER_FILL, "border": 1, "align": "center", "valign": "vcenter"}
        )
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.bold = wb.add_format({"bold": True})
        self.total_label = wb.add_format({"bold": True, "top": 1})
        self.datetime = wb.add_format({"num_format": DATETIME_FORMAT, "align": "left"})
        self.date_left = wb.add_format({"num_format": NUMBER_FORMATS["date"], "align": "left"})
        self.cell: dict[ColumnKind, Format | None] = {}
        self.total: dict[ColumnKind, Format] = {}
        for kind, num_format in NUMBER_FORMATS.items():
            self.cell[kind] = wb.add_format({"num_format": num_format}) if num_format else None
            self.total[kind] = wb.add_format({"bold": True, "top": 1, "num_format": num_format or "General"})
        # Style numbers fixed now, in creation order, instead of in order of first use: styles.xml is then the
        # same for every workbook, which lets write_documents build thousands of documents from one package.
        for fmt in wb.formats[1:]:  # [0] is xlsxwriter's default format, already numbered
            fmt._get_xf_index()


class _SheetNames:
    """Excel-legal, case-insensitively unique sheet names."""

    def __init__(self) -> None:
        self.used: set[str] = set(_RESERVED_SHEET_NAMES)

    def claim(self, wanted: str, suffix: str = "") -> tuple[str, str | None]:
        clean = _BAD_SHEET_CHARS.sub("_", wanted).strip().strip("'") or "Sheet"
        name, n = _fit_name(clean, suffix), 1
        while name.lower() in self.used:
            n += 1
            name = _fit_name(clean, f"{suffix}({n})")
        self.used.add(name.lower())
        if suffix or name == wanted:
            return name, None
        return (
            name,
            f"工作表名「{wanted}」不符合 Excel 规则（最长 31 字符、不含 []:*?/\\、不重名），已改为「{name}」。",
        )


def _fit_name(base: str, suffix: str) -> str:
    room = MAX_SHEET_NAME - _utf16_len(suffix)
    while _utf16_len(base) > room:
        base = base[:-1]
    return (base.rstrip("'") or "Sheet") + suffix


def _write_sheet(wb: Workbook, fmts: _Formats, names: _SheetNames, sheet: SheetData) -> list[str]:
    cols = sheet.resolved_columns
    widths = _table_widths(sheet.frame, cols)
    n, capacity = len(sheet.frame), _capacity(sheet)
    starts = range(0, max(n, 1), capacity)
    warnings: list[str] = []
    cut = [0] * len(cols)
    part_names: list[str] = []
    for k, start in enumerate(starts):
        name, renamed = names.claim(sheet.name, "" if k == 0 else f"({k + 1})")
        warnings += [renamed] if renamed else []
        part_names.append(name)
        ws = wb.add_worksheet(name)
        end = min(start + capacity, n)
        part_cut = _write_part(ws, fmts, sheet, cols, widths, start, end)
        cut = [a + b for a, b in zip(cut, part_cut, strict=True)]
        if k == 0:
            warnings += _add_charts(wb, ws, sheet, cols, end - start)
    return warnings + _cut_warnings(sheet.name, cols, cut) + _split_warnings(sheet.name, n, part_names)


def _split_warnings(sheet: str, rows: int, parts: list[str]) -> list[str]:
    if len(parts) < 2:
        return []
    return [
        f"「{sheet}」共 {rows:,} 行，超过 Excel 单个工作表的行数上限，已拆分为 {len(parts)} 个工作表："
        + "、".join(parts)
        + "。"
    ]


def _capacity(sheet: SheetData) -> int:
    """Data rows that fit on one sheet below the notes and header, above 合计 and the footer."""
    footer = len(sheet.footer) + 1 if sheet.footer else 0
    return MAX_ROWS - sheet.header_row - 1 - int(sheet.total_row) - footer


def _write_part(
    ws: Worksheet,
    fmts: _Formats,
    sheet: SheetData,
    cols: tuple[Column, ...],
    widths: list[int],
    start: int,
    end: int,
) -> list[int]:
    """One sheet of a (possibly split) table, top to bottom as constant_memory requires."""
    for r, line in enumerate(sheet.note_lines):
        ws.write_string(r, 0, line)
    top = sheet.header_row
    part = sheet.frame.iloc[start:end]
    cut = _write_table(ws, fmts, part, cols, top)
    last = top + len(part)
    _set_widths(ws, widths)
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, last, len(cols) - 1)
    if sheet.total_row:
        last += 1
        _write_total(ws, fmts, part, cols, top + 1, last)
    for i, line in enumerate(sheet.footer):
        ws.write_string(last + 2 + i, 0, line)
    _page_setup(ws, top, sheet.landscape, sheet.fit_width)
    return cut


def _page_setup(ws: Worksheet, header_row: int | None, landscape: bool, fit_width: bool) -> None:
    ws.set_paper(9)  # A4
    if header_row is not None:
        ws.repeat_rows(header_row)
    if landscape:
        ws.set_landscape()
    if fit_width:
        ws.fit_to_pages(1, 0)


def _set_widths(ws: Worksheet, widths: list[int]) -> None:
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)


# ---------------------------------------------------------------- tables


def _write_table(
    ws: Worksheet, fmts: _Formats, frame: pd.DataFrame, cols: tuple[Column, ...], top: int
) -> list[int]:
    """Header at row `top`, then the frame's rows; returns how many texts were cut, per column."""
    for c, col in enumerate(cols):
        ws.write_string(top, c, col.header, fmts.header)
    letters = [xl_col_to_name(c) for c in range(len(cols))]
    if len(frame) >= rowblocks.MIN_ROWS:
        return _write_blocks(ws, fmts, frame, cols, letters, top + 1).tolist()
    cut = np.zeros(len(cols), dtype=np.int64)
    row = top + 1
    for chunk in _chunks(frame):
        sheetxml.start_rows(ws, row)
        rows = sheetxml.row_numbers(row, len(chunk))
        cells, cut_at = _chunk_cells(fmts, chunk, cols, letters, rows)
        cut += [len(c) for c in cut_at]
        sheetxml.write_rows(ws, row, rows, cells, len(cols) - 1)
        row += len(chunk)
    return cut.tolist()


def _chunk_cells(
    fmts: _Formats, chunk: pd.DataFrame, cols: tuple[Column, ...], letters: list[str], rows: pa.Array | None
) -> tuple[list[pa.Array], list[list[int]]]:
    """The `<c>` XML of every column of `chunk` (sheet row numbers `rows`; None: cells without references), and
    the positions of texts cut."""
    cells, cut = [], []
    for c, col in enumerate(cols):
        xml, cut_at = _column_cells(chunk[col.src], col.kind, letters[c], rows, fmts.cell[col.kind])
        cells.append(xml)
        cut.append(cut_at)
    return cells, cut


def _write_blocks(
    ws: Worksheet, fmts: _Formats, frame: pd.DataFrame, cols: tuple[Column, ...], letters: list[str], first: int
) -> np.ndarray:
    """A big table's rows (sheet rows from `first`) in blocks (rowblocks.py): in a run, those the previous run's
    file holds are copied from it, the others built and deflated on their own; outside a run, every block built
    into one deflate stream. Returns how many texts were cut, per column."""
    layout = [(col.src, f"{letters[c]} {col.kind}{sheetxml.style(fmts.cell[col.kind])}") for c, col in enumerate(cols)]
    table = rowblocks.Table(frame, layout)
    top = first if reuse.numbered_rows() else None  # rows written with their numbers from sheet row `first`
    shelf = rowblocks.active()
    apart = shelf is not None  # blocks deflated on their own only where a next run may copy them
    shelf = shelf or rowblocks.Shelf(None, {})
    rows: sheetxml.DeflatedRows = ws.row_data_fh
    shelf.sheets.append(rows)
    cut = np.zeros(len(cols), dtype=np.int64)
    for lo, hi in table.chunks(CHUNK_ROWS):
        start, stop = int(table.starts[lo]), int(table.starts[hi])
        sheetxml.start_rows(ws, first + start)
        digests = table.digests(lo, hi, top) if apart else [""] * (hi - lo)
        known, copies = shelf.take(digests)
        wanted = [k is None for k in known]
        at = None if top is None else top + start
        built = _build_blocks(fmts, frame.iloc[start:stop], cols, letters, table.starts[lo : hi + 1] - start, wanted, at)
        for digest, block, deflated in zip(digests, known, copies, strict=True):
            if block is not None:
                rows.copy_block(deflated, block)
                cut += block.cut or 0
                continue
            xml, block_cut = next(built)
            cut += block_cut or 0
            if apart:
                rows.add_block(digest, xml, block_cut)
            else:
                rows.take(xml)
        sheetxml.rows_written(ws, first + start, first + stop - 1, len(cols) - 1)
    return cut


def _build_blocks(
    fmts: _Formats,
    chunk: pd.DataFrame,
    cols: tuple[Column, ...],
    letters: list[str],
    starts: np.ndarray,
    wanted: list[bool],
    at: int | None,
) -> Iterator[tuple[memoryview, tuple[int, ...]]]:
    """Each wanted block of `chunk` (block i: rows starts[i]:starts[i + 1]) in order: its XML and the texts cut
    per column (() when none). Rows without numbers, or numbered from sheet row `at` (the chunk's first row).
    The rows of all wanted blocks are converted together."""
    blocks = np.flatnonzero(wanted)
    sizes = np.diff(starts)[blocks]
    if not sizes.sum():
        return
    owner = np.repeat(blocks, sizes)  # the block of each row built
    ends = np.cumsum(sizes)
    positions = np.arange(len(owner)) + np.repeat(starts[blocks] - (ends - sizes), sizes)
    numbers = None if at is None else sheetxml.row_numbers_of(at + positions)
    cells, cut_at = _chunk_cells(fmts, chunk.iloc[positions], cols, letters, numbers)
    data, offsets = sheetxml.joined(sheetxml.row_elements(numbers, cells))
    cut = np.array([np.bincount(owner[c], minlength=len(wanted)) for c in cut_at]).reshape(len(cols), -1)
    for b, lo, hi in zip(blocks.tolist(), (ends - sizes).tolist(), ends.tolist(), strict=True):
        block_cut = tuple(cut[:, b].tolist())
        yield data[offsets[lo] : offsets[hi]], block_cut if any(block_cut) else ()


def _chunks(frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), CHUNK_ROWS):
        yield frame.iloc[start : start + CHUNK_ROWS]


def _write_total(
    ws: Worksheet, fmts: _Formats, part: pd.DataFrame, cols: tuple[Column, ...], first: int, row: int
) -> None:
    """合计 row of SUBTOTAL(109, …) so it follows the autofilter; cached values for viewers that never recalc."""
    ws.write_string(row, 0, TOTAL_LABEL, fmts.total_label)
    for c, col in enumerate(cols[1:], start=1):
        if col.kind not in SUMMABLE:
            ws.write_blank(row, c, None, fmts.total_label)
            continue
        total = _column_total(part[col.src], col.kind)
        if row == first:  # no data rows: a formula would refer to itself
            ws.write_number(row, c, 0, fmts.total[col.kind])
            continue
        letter = xl_col_to_name(c)
        ws.write_formula(
            row, c, f"=SUBTOTAL(109,{letter}{first + 1}:{letter}{row})", fmts.total[col.kind], total
        )


def _column_total(s: pd.Series, kind: ColumnKind) -> float:
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    numbers = s if numeric else pd.to_numeric(s.astype(object), errors="coerce")
    total = float(numbers.sum()) if len(numbers) else 0.0
    if not np.isfinite(total):  # the formula shows the error; the cached value must stay a valid number
        return 0.0
    return total / 100 if kind == "money" else total


# ---------------------------------------------------------------- cell values


def _column_cells(
    s: pd.Series, kind: ColumnKind, letter: str, rows: pa.Array | None, fmt: Format | None
) -> tuple[pa.Array, list[int]]:
    """The `<c>` XML of one chunk of one column (null where blank) and the positions of the texts cut."""
    if kind == "text":
        texts, cut = _text_values(s)
        return sheetxml.text_cells(texts, letter, rows, fmt), cut
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return sheetxml.number_cells(_serials(s), letter, rows, fmt), []
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        arr = s.to_numpy(dtype="float64", na_value=np.nan)
        return sheetxml.number_cells(arr / 100 if kind == "money" else arr, letter, rows, fmt), []
    # A typed column holding mixed values: text stays text, numbers and dates become numbers.
    values, cut = _fit_texts([_object_cell(v, kind) for v in s.to_numpy(dtype=object)])
    numbers = np.array([np.nan if v is None or v.__class__ is str else v for v in values], dtype=np.float64)
    texts = pa.array([v if v.__class__ is str else None for v in values], sheetxml.TEXT)
    return pc.coalesce(
        sheetxml.text_cells(texts, letter, rows, fmt), sheetxml.number_cells(numbers, letter, rows, fmt)
    ), cut


def _serials(s: pd.Series) -> np.ndarray:
    """Excel serial day numbers (1900 system) for a datetime64 column, NaN where missing."""
    naive = s.dt.tz_localize(None) if s.dt.tz is not None else s
    return ((naive - _EXCEL_EPOCH) / _ONE_DAY).to_numpy(dtype="float64", na_value=np.nan)


def _text_values(s: pd.Series) -> tuple[pa.Array, list[int]]:
    """A text column's cell texts (over-long ones cut with a marker) and the positions of those cut."""
    if s.dtype != object and pd.api.types.is_string_dtype(s.dtype):
        texts = pa.array(s.array, from_pandas=True)
        suspects = np.flatnonzero(
            pc.fill_null(pc.greater(pc.utf8_length(texts), MAX_TEXT // 2), False).to_numpy(zero_copy_only=False)
        )
        if not len(suspects):
            return texts, []
        values: list[Cell] = texts.to_pylist()
        values, cut = _fit_texts(values, suspects.tolist())
        return pa.array(values, sheetxml.TEXT), cut
    values, cut = _fit_texts([_as_text(v) for v in s.to_numpy(dtype=object)])
    return pa.array(values, sheetxml.TEXT), cut


def _fit_texts(values: list[Cell], suspects: list[int] | None = None) -> tuple[list[Cell], list[int]]:
    """Blank out empty strings and cut over-long ones with a visible marker; the positions cut."""
    indices = range(len(values)) if suspects is None else suspects
    cut: list[int] = []
    for i in indices:
        v = values[i]
        if v.__class__ is not str:
            continue
        if v == "":
            values[i] = None
        elif len(v) > MAX_TEXT // 2 and _utf16_len(v) > MAX_TEXT:
            values[i] = _cut_text(v)
            cut.append(i)
    return values, cut


def _cut_text(v: str) -> str:
    marker = f"…【已截断：原文共 {len(v):,} 个字符，超出 Excel 单元格上限】"
    keep = MAX_TEXT - _utf16_len(marker)
    return v.encode("utf-16-le")[: 2 * keep].decode("utf-16-le", errors="ignore") + marker


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", errors="surrogatepass")) // 2


def _is_missing(v: object) -> bool:
    return v is None or (pd.api.types.is_scalar(v) and bool(pd.isna(v)))


def _object_cell(v: object, kind: ColumnKind) -> Cell:
    """One value of a mixed column: text stays text, numbers and dates become numbers, missing is blank."""
    if _is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return "是" if v else "否"
    if isinstance(v, datetime | date | np.datetime64):
        return _serial(v)
    if isinstance(v, int | float | Decimal | np.integer | np.floating):
        number = float(v)
        return number / 100 if kind == "money" else number
    return str(v)


def _serial(v: datetime | date | np.datetime64) -> float:
    ts = pd.Timestamp(v)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return float((ts - _EXCEL_EPOCH) / _ONE_DAY)


def _as_text(v: object) -> str | None:
    """A value of a text column as the text a clerk would have typed."""
    if _is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return "是" if v else "否"
    if isinstance(v, datetime | np.datetime64):
        ts = pd.Timestamp(v)
        return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M:%S}"
    if isinstance(v, date):
        return f"{v:%Y-%m-%d}"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _infer_kind(s: pd.Series) -> ColumnKind:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "date"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "text"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "int"
    if pd.api.types.is_float_dtype(s.dtype):
        return "decimal"
    return "text"


# ---------------------------------------------------------------- widths


def _table_widths(frame: pd.DataFrame, cols: tuple[Column, ...]) -> list[int]:
    """Column widths from header and content; +3 on the header leaves room for the filter button."""
    widths = []
    for col in cols:
        content = _content_width(frame[col.src], col.kind)
        widths.append(_clamp_width(max(text_width(col.header) + 3, content + 2)))
    return widths


def _clamp_width(width: int) -> int:
    return max(MIN_WIDTH, min(MAX_WIDTH, width))


def _content_width(s: pd.Series, kind: ColumnKind) -> int:
    s = s.dropna()
    if s.empty:
        return 0
    if s.dtype != object and pd.api.types.is_string_dtype(s.dtype):
        if getattr(s.dtype, "storage", None) == "pyarrow":
            return _arrow_text_width(s)
        return int((s.str.len() + s.str.count(_WIDE_PATTERN)).max())
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return 10 if kind != "text" else 19
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return max(text_width(_display(v, kind)) for v in (s.min(), s.max()))
    return max(text_width(_display(v, kind)) for v in s.drop_duplicates().tolist())


def _arrow_text_width(s: pd.Series) -> int:
    """The widest text's display width without a regex: a CJK or full-width character is 3 bytes in UTF-8 and
    one character, so (bytes - characters) // 2 counts it once more. 20-50x faster than `text_width` per cell;
    a few 3-byte symbols (…, —) count wide too, which only makes a column a little wider."""
    values = pa.array(s.array)
    chars = pc.utf8_length(values)
    extra = pc.divide(pc.subtract(pc.binary_length(values), chars), 2)
    return int(pc.max(pc.add(chars, extra)).as_py() or 0)


def _display(v: Any, kind: ColumnKind) -> str:
    """Roughly what Excel shows for a value, for width fitting only."""
    if isinstance(v, str) or kind == "text":
        return _as_text(v) or ""
    if isinstance(v, datetime | date | np.datetime64):
        return "0000-00-00"
    number = float(v)
    if kind == "money":
        return f"{number / 100:,.2f}"
    if kind == "rate":
        return f"{number:.1%}"
    if kind == "decimal":
        return f"{number:,.2f}"
    return f"{number:.0f}"


def _sheet_cut_warning(sheet: str, cut: int) -> list[str]:
    """The warning for `cut` texts cut anywhere on a sheet (none when there are none)."""
    return [f"「{sheet}」工作表有 {cut:,} 个单元格超过 Excel 单元格上限，已截断并在末尾标注。"] if cut else []


def _cut_warnings(sheet: str, cols: tuple[Column, ...], cut: list[int]) -> list[str]:
    return [
        f"「{sheet}」工作表「{col.header}」列有 {n:,} 个单元格超过 Excel 单元格上限 {MAX_TEXT:,} 个字符，"
        "已截断并在末尾标注。"
        for col, n in zip(cols, cut, strict=True)
        if n
    ]


# ---------------------------------------------------------------- charts


_CHART_TYPES: dict[ChartKind, dict[str, str]] = {
    "column": {"type": "column"},
    "line": {"type": "line"},
    "stacked": {"type": "column", "subtype": "stacked"},
}
_CHART_AXIS_FORMATS: dict[ColumnKind, str] = {"money": "#,##0", "rate": "0%", "decimal": "#,##0", "int": "0"}
_CHART_ROWS = 20  # vertical step between charts placed automatically


def _add_charts(
    wb: Workbook, ws: Worksheet, sheet: SheetData, cols: tuple[Column, ...], rows: int
) -> list[str]:
    if rows == 0:
        return [f"「{sheet.name}」没有数据行，未生成图表「{chart.title}」。" for chart in sheet.charts]
    index = {col.header: c for c, col in enumerate(cols)}
    top = sheet.header_row
    for i, chart in enumerate(sheet.charts):
        native = wb.add_chart(_CHART_TYPES[chart.kind])
        _fill_chart(native, ws.name, chart, index, top, top + rows)
        native.set_y_axis(
            {"num_format": _CHART_AXIS_FORMATS.get(cols[index[chart.series[0]]].kind, "General")}
        )
        anchor = chart.anchor or xl_rowcol_to_cell(top + i * _CHART_ROWS, len(cols) + 1)
        ws.insert_chart(anchor, native)
    return []


def _fill_chart(native: Any, sheet: str, chart: Chart, index: dict[str, int], top: int, last: int) -> None:
    cat = index[chart.category]
    for header in chart.series:
        c = index[header]
        native.add_series(
            {
                "name": [sheet, top, c],
                "categories": [sheet, top + 1, cat, last, cat],
                "values": [sheet, top + 1, c, last, c],
                **({"marker": {"type": "circle"}} if chart.kind == "line" else {}),
            }
        )
    native.set_title({"name": chart.title})
    native.set_legend({"position": "bottom"})
    native.set_size({"width": 720, "height": 360})


# ---------------------------------------------------------------- checks


def _check_sheet(sheet: SheetData) -> None:
    """Programming errors in a report's declaration fail before any file is touched."""
    cols = sheet.resolved_columns
    headers = [col.header for col in cols]
    if not cols or len(cols) > MAX_COLS:
        raise ValueError(f"sheet {sheet.name!r}: needs 1..{MAX_COLS} columns, got {len(cols)}")
    if len(set(headers)) != len(headers):
        raise ValueError(f"sheet {sheet.name!r}: duplicate headers {headers}")
    missing = [col.src for col in cols if col.src not in sheet.frame.columns]
    if missing:
        raise KeyError(f"sheet {sheet.name!r}: frame lacks columns {missing}")
    if not sheet.frame.columns.is_unique:
        raise ValueError(f"sheet {sheet.name!r}: frame has duplicate column names")
    for chart in sheet.charts:
        _check_chart(sheet.name, chart, {col.header: col.kind for col in cols})


def _check_chart(sheet: str, chart: Chart, kinds: dict[str, ColumnKind]) -> None:
    unknown = [h for h in (chart.category, *chart.series) if h not in kinds]
    if unknown or not chart.series:
        raise ValueError(f"sheet {sheet!r}, chart {chart.title!r}: unknown or no columns {unknown}")
    not_numeric = [h for h in chart.series if kinds[h] not in NUMERIC]
    if not_numeric:
        raise ValueError(f"sheet {sheet!r}, chart {chart.title!r}: series must be numeric, got {not_numeric}")


def _check_block(block: Block, checked: set[tuple[int, tuple[Column, ...]]] | None = None) -> None:
    """`checked` remembers the frames already checked: the documents of a batch share theirs."""
    if block.frame is not None:
        key = (id(block.frame), block.table_columns)
        if checked is None or key not in checked:
            _check_sheet(SheetData("document", block.frame, block.table_columns))
        if checked is not None:
            checked.add(key)
        start, stop = block.span
        if not 0 <= start <= stop <= len(block.frame):
            raise ValueError(f"block rows {block.rows} outside a frame of {len(block.frame)} rows")


# ---------------------------------------------------------------- widths of stacked tables


def shared_widths(tables: Sequence[tuple[pd.DataFrame, tuple[Column, ...]]]) -> list[int]:
    """One width per column index: the widest any of the stacked tables needs there."""
    per_table = [_table_widths(frame, cols) for frame, cols in tables]
    if not per_table:
        return []
    return [max(t[c] for t in per_table if c < len(t)) for c in range(max(len(t) for t in per_table))]


# ---------------------------------------------------------------- printable documents, by the thousand


@dataclass(frozen=True)
class DocumentLayout:
    """What every document of a batch shares: its sheet's name, column widths and page setup."""

    sheet_name: str
    widths: tuple[int, ...]
    landscape: bool = False
    fit_width: bool = True


def write_documents(
    paths: Sequence[Path], documents: Sequence[Sequence[Block]], layout: DocumentLayout
) -> list[list[str]]:
    """Write printable one-sheet documents of stacked blocks (customer statements), each atomically; returns
    each one's zh-CN warnings.

    Each file holds what xlsxwriter writes for it cell by cell (a blank row between blocks, the first line of a
    heading block in the title font), but the rows of all documents are built in one vectorised pass, and the
    package parts other than the sheet (styles, theme, workbook) once: a statement costs a slice of bytes and
    a zip instead of a workbook's 25 ms. A document the last run wrote from the same blocks is linked, not
    built: its fingerprint hashes its blocks' texts, columns and rows (one slice of the shared frames each)."""
    if len(paths) != len(documents):
        raise ValueError("one path per document")
    checked: set[tuple[int, tuple[Column, ...]]] = set()
    for blocks in documents:
        _check_document(layout.sheet_name, blocks, checked)
    package = _document_package(layout)
    prints = _document_prints(documents, package) if reuse.active() else [None] * len(documents)
    warnings = [list(package.warnings) for _ in documents]
    todo = [
        d
        for d, (path, p) in enumerate(zip(paths, prints, strict=True))
        if not (p and reuse_previous(Path(path), p))
    ]
    for group in _batches([documents[d] for d in todo]):
        chosen = [todo[i] for i in group]
        found = _write_batch(
            [paths[d] for d in chosen], [documents[d] for d in chosen], package, [prints[d] for d in chosen]
        )
        for d, w in zip(chosen, found, strict=True):
            warnings[d] = w
    return warnings


def _document_prints(documents: Sequence[Sequence[Block]], package: _Package) -> list[str | None]:
    """Each document's fingerprint, from its blocks; None for one whose texts may be cut (built, to count them)."""
    runs: dict[tuple[int, int], rowblocks.Runs] = {}
    # Columns by id: the documents of a batch share their column tuples. The tuple is kept with its text, so that
    # no other tuple (one table_columns made for a block without columns) takes its id while this runs.
    shown: dict[int, tuple[tuple[Column, ...], bytes]] = {}
    prints: list[str | None] = []
    for blocks in documents:
        h = hashlib.sha256(f"documents {package.digest}".encode())
        may_cut = False
        for block in blocks:
            cols = block.table_columns
            if id(cols) not in shown:
                shown[id(cols)] = (cols, repr(cols).encode())
            h.update(repr((block.lines, block.heading)).encode() + shown[id(cols)][1])
            may_cut |= any(len(line) > MAX_TEXT // 2 for line in block.lines)
            if block.frame is not None:
                key = (id(block.frame), id(cols))
                if key not in runs:
                    runs[key] = rowblocks.Runs(block.frame, [c.src for c in cols], MAX_TEXT // 2)
                runs[key].feed(h, *block.span)
                may_cut |= runs[key].may_cut(*block.span)
        prints.append(None if may_cut else h.hexdigest()[:32])
    return prints


def _batches(documents: Sequence[Sequence[Block]]) -> Iterator[range]:
    """Consecutive documents of about BATCH_ROWS rows together: their XML is held in memory at once."""
    start, rows = 0, 0
    for d, blocks in enumerate(documents):
        rows += sum(block.height for block in blocks)
        if rows >= BATCH_ROWS:
            yield range(start, d + 1)
            start, rows = d + 1, 0
    if start < len(documents):
        yield range(start, len(documents))


def _write_batch(
    paths: Sequence[Path],
    documents: Sequence[Sequence[Block]],
    package: _Package,
    prints: Sequence[str | None],
) -> list[list[str]]:
    """Build and write documents; one without a fingerprint yet is fingerprinted by its sheet and may still be
    linked from the last run."""
    rows, cuts = _document_rows(documents, package.fmts)
    data, offsets = sheetxml.joined(rows.xml)
    bounds = np.searchsorted(rows.doc, np.arange(len(documents) + 1))
    warnings = []
    for d, path in enumerate(paths):
        a, b = int(bounds[d]), int(bounds[d + 1])
        sheet = package.sheet(_dimension(rows, a, b), data[offsets[a] : offsets[b]])
        if prints[d] is not None or not reuse_previous(
            Path(path), fingerprint("documents", package.digest, sheet)
        ):
            _replace_atomically(Path(path), partial(package.write, sheet=sheet))
        warnings.append(package.warnings + _sheet_cut_warning(package.sheet_name, int(cuts[d])))
    return warnings


def _check_document(
    sheet_name: str, blocks: Sequence[Block], checked: set[tuple[int, tuple[Column, ...]]]
) -> None:
    for block in blocks:
        _check_block(block, checked)
    if sum(block.height for block in blocks) + len(blocks) > MAX_ROWS:
        raise ValueError(f"document {sheet_name!r} does not fit on one sheet")


@dataclass(frozen=True)
class _Package:
    """A one-sheet workbook xlsxwriter wrote for the layout, cut open where each document's rows go."""

    parts: list[tuple[str, bytes]]  # every zip member in xlsxwriter's order
    sheet_part: str
    before_ref: bytes  # the sheet XML up to the <dimension> range
    before_rows: bytes  # from the end of the range up to <sheetData>
    after_rows: bytes  # from </sheetData> on
    sheet_name: str
    warnings: list[str]
    fmts: _Formats
    digest: str

    def sheet(self, ref: str, rows: memoryview) -> bytes:
        body = b"<sheetData>" + bytes(rows) + b"</sheetData>" if len(rows) else b"<sheetData/>"
        return self.before_ref + ref.encode() + self.before_rows + body + self.after_rows

    def write(self, path: Path, sheet: bytes) -> None:
        with _FastZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in self.parts:
                info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, sheet if name == self.sheet_part else data)


_SHEET_DATA = re.compile(rb"<sheetData>.*</sheetData>|<sheetData/>", re.DOTALL)
_DIMENSION = re.compile(rb'<dimension ref="([^"]*)"/>')


def _document_package(layout: DocumentLayout) -> _Package:
    made: dict[str, Any] = {}

    def fill(wb: Workbook, fmts: _Formats) -> list[str]:
        name, renamed = _SheetNames().claim(layout.sheet_name)
        ws = wb.add_worksheet(name)
        ws.write_string(0, 0, "-")
        _set_widths(ws, list(layout.widths))
        _page_setup(ws, None, layout.landscape, layout.fit_width)
        made.update(name=name, fmts=fmts)
        return [renamed] if renamed else []

    with tempfile.TemporaryDirectory(prefix="taizhang-doc-") as tmp:
        probe = Path(tmp) / "probe.xlsx"
        warnings = _write_atomic(probe, fill)
        with zipfile.ZipFile(probe) as z:
            parts = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    sheet_part = "xl/worksheets/sheet1.xml"
    xml = dict(parts)[sheet_part]
    ref, rows = _DIMENSION.search(xml), _SHEET_DATA.search(xml)
    if ref is None or rows is None:
        raise RuntimeError("xlsxwriter wrote a sheet without <dimension> or <sheetData>")
    digest = fingerprint([data for name, data in parts if name not in (sheet_part, "docProps/core.xml")])
    return _Package(
        parts, sheet_part, xml[: ref.start(1)], xml[ref.end(1) : rows.start()], xml[rows.end() :],
        made["name"], warnings, made["fmts"], fingerprint(digest, xml[: rows.start()], xml[rows.end() :]),
    )  # fmt: skip


@dataclass(frozen=True)
class _Rows:
    """Whole `<row>` elements of many documents, sorted by document and row: the 0-based row, its XML, and
    the first and last column holding a cell."""

    doc: np.ndarray
    row: np.ndarray
    xml: pa.Array
    first_col: np.ndarray
    last_col: np.ndarray


def _dimension(rows: _Rows, a: int, b: int) -> str:
    """The <dimension> range xlsxwriter gives a sheet whose cells are rows a..b-1."""
    if a == b:
        return "A1"
    top, bottom = int(rows.row[a]), int(rows.row[b - 1])
    left, right = int(rows.first_col[a:b].min()), int(rows.last_col[a:b].max())
    first = xl_rowcol_to_cell(top, left)
    return first if (top, left) == (bottom, right) else f"{first}:{xl_rowcol_to_cell(bottom, right)}"


def _document_rows(documents: Sequence[Sequence[Block]], fmts: _Formats) -> tuple[_Rows, np.ndarray]:
    """Every row of every document, and how many texts were cut in each document."""
    lines: list[tuple[int, int, str, bool]] = []
    tables: dict[tuple[Column, ...], list[_Placed]] = {}
    cuts = np.zeros(len(documents), dtype=np.int64)
    for d, blocks in enumerate(documents):
        row = 0
        for block in blocks:
            texts, cut = _fit_texts(list(block.lines))
            cuts[d] += len(cut)
            lines += [(d, row + i, str(t), block.heading and i == 0) for i, t in enumerate(texts) if t is not None]
            row += len(texts)
            if block.frame is not None:
                start, stop = block.span
                tables.setdefault(block.table_columns, []).append(_Placed(d, row, block.frame, start, stop))
                row += 1 + stop - start
            row += 1
    parts = [_line_rows(lines, fmts)]
    for cols, placed in tables.items():
        parts += _table_rows(cols, placed, fmts, cuts)
    return _sorted_rows(parts), cuts


def _line_rows(lines: list[tuple[int, int, str, bool]], fmts: _Formats) -> _Rows:
    doc, row = (np.array([x[i] for x in lines], dtype=np.int64) for i in (0, 1))
    texts = pa.array([x[2] for x in lines], sheetxml.TEXT)
    numbers = sheetxml.row_numbers_of(row)
    cells = pc.if_else(
        pa.array([x[3] for x in lines], pa.bool_()),
        sheetxml.text_cells(texts, "A", numbers, fmts.title),
        sheetxml.text_cells(texts, "A", numbers, None),
    )
    zero = np.zeros(len(lines), dtype=np.int64)
    return _Rows(doc, row, sheetxml.row_elements(numbers, [cells]), zero, zero)


class _Placed(NamedTuple):
    """A table of a document: its header row and rows start:stop of its frame."""

    doc: int
    top: int
    frame: pd.DataFrame
    start: int
    stop: int


def _table_rows(cols: tuple[Column, ...], placed: list[_Placed], fmts: _Formats, cuts: np.ndarray) -> list[_Rows]:
    """The header row and the data rows of every document's table with these columns."""
    doc = np.array([p.doc for p in placed], dtype=np.int64)
    top = np.array([p.top for p in placed], dtype=np.int64)
    header = sheetxml.row_numbers_of(top)
    heads = [sheetxml.text_cells(pa.array([c.header] * len(placed), sheetxml.TEXT), xl_col_to_name(i), header, fmts.header)
             for i, c in enumerate(cols)]  # fmt: skip
    last = np.full(len(placed), len(cols) - 1, dtype=np.int64)
    parts = [_Rows(doc, top, sheetxml.row_elements(header, heads), np.zeros_like(last), last)]
    sizes = np.array([p.stop - p.start for p in placed], dtype=np.int64)
    frame = _gathered(placed, sizes)
    row_doc = np.repeat(doc, sizes)
    row_no = np.repeat(top + 1 - np.cumsum(sizes) + sizes, sizes) + np.arange(len(frame))
    for start in range(0, len(frame), CHUNK_ROWS):
        end = min(start + CHUNK_ROWS, len(frame))
        parts.append(_data_rows(frame.iloc[start:end], cols, row_doc[start:end], row_no[start:end], fmts, cuts))
    return parts


def _gathered(placed: list[_Placed], sizes: np.ndarray) -> pd.DataFrame:
    """Every placed table's rows, one after the other: a single take when they all share one frame."""
    first = placed[0].frame
    if all(p.frame is first for p in placed):
        starts = np.array([p.start for p in placed], dtype=np.int64)
        offsets = np.cumsum(sizes) - sizes
        return first.iloc[np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))]
    return pd.concat([p.frame.iloc[p.start : p.stop] for p in placed], ignore_index=True)


def _data_rows(
    chunk: pd.DataFrame, cols: tuple[Column, ...], doc: np.ndarray, row: np.ndarray, fmts: _Formats, cuts: np.ndarray
) -> _Rows:
    numbers = sheetxml.row_numbers_of(row)
    cells = []
    for i, col in enumerate(cols):
        xml, cut_at = _column_cells(chunk[col.src], col.kind, xl_col_to_name(i), numbers, fmts.cell[col.kind])
        np.add.at(cuts, doc[cut_at], 1)
        cells.append(xml)
    valid = np.vstack([c.is_valid().to_numpy(zero_copy_only=False) for c in cells])
    occupied = valid.any(axis=0)
    first_col = valid.argmax(axis=0)
    last_col = len(cols) - 1 - valid[::-1].argmax(axis=0)
    xml = sheetxml.row_elements(numbers, cells).filter(pa.array(occupied))
    return _Rows(doc[occupied], row[occupied], xml, first_col[occupied], last_col[occupied])


def _sorted_rows(parts: list[_Rows]) -> _Rows:
    doc = np.concatenate([p.doc for p in parts])
    row = np.concatenate([p.row for p in parts])
    order = np.lexsort((row, doc))
    xml = pa.concat_arrays([pc.cast(p.xml, sheetxml.TEXT) for p in parts]).take(pa.array(order))
    first = np.concatenate([p.first_col for p in parts])[order]
    last = np.concatenate([p.last_col for p in parts])[order]
    return _Rows(doc[order], row[order], xml, first, last)


# ---------------------------------------------------------------- 说明


_INTRO_SECTIONS = ("输入文件", "配置参数", "阅读说明")


def _write_intro(wb: Workbook, fmts: _Formats, name: str, intro: Intro) -> list[str]:
    ws = wb.add_worksheet(name)
    ws.write_string(0, 0, intro.title, fmts.title)
    _write_meta(ws, fmts, intro)
    settings = pd.DataFrame(
        [(str(k), str(v)) for k, v in intro.settings], columns=["参数", "值"], dtype="str"
    )
    row, cut_inputs = _write_section(ws, fmts, 6, _INTRO_SECTIONS[0], intro.inputs)
    row, cut_settings = _write_section(ws, fmts, row + 1, _INTRO_SECTIONS[1], settings)
    ws.write_string(row + 1, 0, _INTRO_SECTIONS[2], fmts.bold)
    lines, cut_lines = _fit_texts(list(intro.how_to_read))
    for i, line in enumerate(lines):
        if line is not None:
            ws.write_string(row + 2 + i, 0, str(line))
    _set_widths(ws, _intro_widths(intro.inputs, settings))
    ws.set_paper(9)
    return _sheet_cut_warning(name, cut_inputs + cut_settings + len(cut_lines))


def _write_meta(ws: Worksheet, fmts: _Formats, intro: Intro) -> None:
    generated = intro.generated_at
    if generated.tzinfo is not None:  # shown in the reader's wall-clock time
        generated = generated.astimezone().replace(tzinfo=None)
    ws.write_string(2, 0, "期间", fmts.bold)
    ws.write_string(2, 1, intro.period)
    ws.write_string(3, 0, "截止日期", fmts.bold)
    ws.write_number(3, 1, _serial(intro.as_of), fmts.date_left)
    ws.write_string(4, 0, "生成时间", fmts.bold)
    ws.write_number(4, 1, _serial(generated), fmts.datetime)


def _write_section(
    ws: Worksheet, fmts: _Formats, row: int, title: str, frame: pd.DataFrame
) -> tuple[int, int]:
    """A titled table; returns the row after it and how many texts were cut."""
    ws.write_string(row, 0, title, fmts.bold)
    cut = _write_table(ws, fmts, frame, columns_from(frame), row + 1)
    return row + 2 + len(frame), sum(cut)


def _intro_widths(inputs: pd.DataFrame, settings: pd.DataFrame) -> list[int]:
    """One width per column shared by both tables; column B also holds 生成时间."""
    widths = shared_widths([(f, columns_from(f)) for f in (inputs, settings)])
    widths[1] = max(widths[1], len("0000-00-00 00:00:00") + 2)
    return widths
