"""Table rows as worksheet XML, built a column at a time with pyarrow and streamed into xlsxwriter.

xlsxwriter spends about 6 µs of Python per cell (`write_string` → `_write_single_row` → `_write_cell`), which made
writing 80% of a run at a million ledger rows. Here a whole chunk of rows becomes `<row>` XML in a handful of
vectorised string kernels, written exactly as xlsxwriter's constant_memory mode writes them (inline strings,
the same control-character and whitespace rules), into the sheet's row file, which deflates them as they come
(DeflatedRows). Big tables' rows leave out their row numbers and cell references (row_elements, rowblocks.py);
otherwise they are the same. Headers, formats, widths, formulas and everything else still go through xlsxwriter's public API.

The row file (`row_data_fh`, made in `_initialize`), `previous_row`, `_check_dimensions`, `_write_single_row`
and `_write_optimized_sheet_data` are xlsxwriter internals: pyproject pins xlsxwriter below the next major
version, and tests/test_sheetxml.py and tests/test_workbook.py compare every cell with what
`write_string`/`write_number` produce, so a change there fails the tests instead of a user's workbook.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipeline.reports.rowblocks import Block

TEXT = pa.large_string()
# What xlsxwriter escapes as _xHHHH_ (control characters, U+FFFE/U+FFFF) or protects (a literal "_x0041_").
_NEEDS_CONTROL_ESCAPE = r"[\x00-\x08\x0b-\x1f\x{fffe}\x{ffff}]|_x[0-9a-fA-F]{4}_"
# Python's str.isspace() characters that survive the control escape; RE2's \s alone is ASCII-only.
_SPACE = r"[\t\n\f\r \x{85}\p{Z}]"
_EDGE_SPACE = f"^{_SPACE}|{_SPACE}$"
_NEEDS_ANY_ESCAPE = f"[&<>]|{_NEEDS_CONTROL_ESCAPE}|{_EDGE_SPACE}"
_LITERAL_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")


# Deflate level of every workbook's zip, for ISA-L (levels 0-3). Its level 1 deflates sheet XML 3.7x faster
# than zlib's level 1 (itself 2.8x faster than the default 6), into slightly smaller files: with zlib, deflating
# was a quarter of writing the 合同对账 workbook at a million ledger rows.
ZIP_LEVEL = 1


def deflater() -> Any:
    """A raw-deflate compressor at ZIP_LEVEL: what a zip entry holds."""
    return isal_zlib.compressobj(ZIP_LEVEL, isal_zlib.DEFLATED, -15)


class DeflatedRows:
    """A constant_memory sheet's row file, deflated as the rows arrive, with the CRC and length of what went in.

    xlsxwriter keeps the rows of a constant_memory sheet in a temporary text file, copies it into the sheet XML
    at the end, and the zip reads that back to deflate it: 合同对账 at a million ledger rows wrote 420 MB to
    temporary files twice (a third of its writing time). Here the rows are deflated once, into a temporary file
    an eighth of that size, and the workbook's zip splices them between the deflated head and tail of the sheet
    (workbook._FastZipFile). Text comes from xlsxwriter's own rows (`write`), bytes from write_rows (`buffer`).
    """

    def __init__(self, tmpdir: str | None) -> None:
        self.file = tempfile.TemporaryFile(dir=tmpdir)  # noqa: SIM115  (closed with the sheet)
        self.packer = deflater()
        self.crc = 0
        self.size = 0
        self.head = 0  # bytes of the sheet XML before the rows, set when the sheet is assembled
        self.start = 0  # where the deflated rows begin in the workbook file, set when the zip writes them
        self.blocks: list[Block] = []  # rows deflated on their own (rowblocks.py), offsets in self.file
        self.pending = False  # deflated since the last block boundary
        self.buffer = _RawRows(self)

    def write(self, text: str) -> int:
        self.take(text.encode("utf-8"))
        return len(text)

    def take(self, data: bytes | memoryview) -> None:
        self.crc = isal_zlib.crc32(data, self.crc)
        self.size += len(data)
        self.file.write(self.packer.compress(data))
        self.pending = True

    def add_block(self, digest: str, xml: bytes | memoryview, cut: tuple[int, ...]) -> None:
        """Rows deflated as a block of their own: nothing before them refers into them, nor they into it."""
        self._boundary()
        deflated = self.packer.compress(xml) + self.packer.flush(isal_zlib.Z_FULL_FLUSH)
        self._append(deflated, Block(digest, 0, len(deflated), isal_zlib.crc32(xml), len(xml), cut))

    def copy_block(self, deflated: bytes, block: Block) -> None:
        """A block another file holds, as it was deflated there (`block` says what it holds)."""
        self._boundary()
        self._append(deflated, block)

    def _boundary(self) -> None:
        if self.pending:  # the header row: flushed so that the block starts byte-aligned and without history
            self.file.write(self.packer.flush(isal_zlib.Z_FULL_FLUSH))
            self.pending = False

    def _append(self, deflated: bytes, block: Block) -> None:
        self.blocks.append(dataclasses.replace(block, offset=self.file.tell()))
        self.file.write(deflated)
        self.crc = isal_zlib.crc32_combine(self.crc, block.crc, block.size)
        self.size += block.size

    def flush(self) -> None:
        """Nothing to do: flushing the compressor here would only cost compression."""

    def finish(self, head: int) -> None:
        # Byte-aligned and not final: the sheet's tail is deflated after these rows.
        self.file.write(self.packer.flush(isal_zlib.Z_SYNC_FLUSH))
        self.head = head

    def pieces(self) -> Iterator[bytes]:
        self.file.seek(0)
        while piece := self.file.read(1 << 20):
            yield piece

    def close(self) -> None:
        self.file.close()


class _RawRows:
    def __init__(self, rows: DeflatedRows) -> None:
        self.rows = rows

    def write(self, data: bytes | memoryview) -> int:
        self.rows.take(data)
        return len(data)


_ASSEMBLED: dict[str, DeflatedRows] = {}  # sheet XML file → its deflated rows, until the zip takes them


def take_deflated_rows(sheet_file: str | os.PathLike[str]) -> DeflatedRows | None:
    """The deflated rows that belong inside `sheet_file` (written by a StreamedSheet), once."""
    return _ASSEMBLED.pop(os.path.abspath(sheet_file), None)


class StreamedSheet(Worksheet):
    """A constant_memory worksheet whose rows are deflated as they are written (DeflatedRows); its sheet XML
    file holds everything but the rows, which the workbook's zip puts back in place."""

    row_data_fh: Any  # xlsxwriter's temporary text file; a DeflatedRows here

    def _initialize(self, init_data: Any) -> None:
        super()._initialize(init_data)
        if self.constant_memory:
            self.row_data_fh.close()
            os.unlink(self.row_data_filename)
            self.row_data_fh = self.fh = DeflatedRows(self.tmpdir)

    def _write_optimized_sheet_data(self) -> None:
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
            return
        self._xml_start_tag("sheetData")
        sheet: Any = self.fh  # the sheet XML file by now (the packager's `_set_xml_writer`)
        sheet.flush()
        self.row_data_fh.finish(head=sheet.buffer.tell())
        _ASSEMBLED[os.path.abspath(sheet.name)] = self.row_data_fh
        self._xml_end_tag("sheetData")


def lit(text: str) -> pa.Scalar:
    return pa.scalar(text, TEXT)


def row_numbers(first: int, count: int) -> pa.Array:
    """1-based row numbers as text for 0-based rows first .. first+count-1."""
    return row_numbers_of(np.arange(first, first + count, dtype=np.int64))


def row_numbers_of(rows: np.ndarray) -> pa.Array:
    """1-based row numbers as text for 0-based rows."""
    return pc.cast(pa.array(np.asarray(rows, dtype=np.int64) + 1), TEXT)


def style(fmt: Format | None) -> str:
    """The cell's ` s="…"` attribute, as xlsxwriter writes it; none without a format."""
    return "" if fmt is None else f' s="{fmt._get_xf_index()}"'


def _opening(letter: str, rows: pa.Array | None, rest: str) -> list[pa.Scalar | pa.Array]:
    """The start of each `<c>` up to its content: with its reference (column letter, row number), or, for rows
    None, without one: the cell then takes the column after the previous cell of its row (ECMA-376 §18.3.1.4)."""
    if rows is None:
        return [lit("<c" + rest)]
    return [lit(f'<c r="{letter}'), rows, lit('"' + rest)]


def number_cells(values: np.ndarray, letter: str, rows: pa.Array | None, fmt: Format | None) -> pa.Array:
    """`<c>` of each float; NaN is no cell, ±inf the #DIV/0! error cell xlsxwriter writes with nan_inf_to_errors."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    infinite = np.isinf(values)
    text = pc.cast(pa.array(np.where(infinite, 0.0, values), mask=missing), TEXT)
    attrs = style(fmt)
    cells = pc.binary_join_element_wise(*_opening(letter, rows, f"{attrs}><v>"), text, lit("</v></c>"), lit(""))
    if not infinite.any():
        return cells
    errors = pc.binary_join_element_wise(
        *_opening(letter, rows, f'{attrs} t="e"><f>'),
        pa.array(np.where(values < 0, "-1/0", "1/0"), TEXT),
        lit("</f><v>#DIV/0!</v></c>"),
        lit(""),
    )
    return pc.if_else(pa.array(infinite), errors, cells)


def text_cells(values: pa.Array, letter: str, rows: pa.Array | None, fmt: Format | None) -> pa.Array:
    """`<c t="inlineStr">` of each text; null and "" are no cell. Texts must already fit Excel's cell limit."""
    values = pc.cast(_flat(values), TEXT)
    values = pc.if_else(pc.equal(pc.utf8_length(values), 0), pa.scalar(None, TEXT), values)
    opening: pa.Scalar | pa.Array = lit("<t>")
    # Most columns (numbers, names, codes) need no escaping at all: one scan instead of five passes.
    if pc.any(pc.match_substring_regex(values, _NEEDS_ANY_ESCAPE)).as_py():
        values = _escape_controls(values)
        for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            values = pc.replace_substring(values, raw, escaped)
        opening = pc.if_else(
            pc.match_substring_regex(values, _EDGE_SPACE), lit('<t xml:space="preserve">'), lit("<t>")
        )
    return pc.binary_join_element_wise(
        *_opening(letter, rows, f'{style(fmt)} t="inlineStr"><is>'),
        opening,
        values,
        lit("</t></is></c>"),
        lit(""),
    )


def _escape_controls(values: pa.Array) -> pa.Array:
    """xlsxwriter's `_escape_control_characters`, in Python for the rare texts that need it."""
    flagged = pc.fill_null(pc.match_substring_regex(values, _NEEDS_CONTROL_ESCAPE), False)
    if not pc.any(flagged).as_py():
        return values
    texts = values.to_pylist()
    for i in np.flatnonzero(flagged.to_numpy(zero_copy_only=False)).tolist():
        text = _LITERAL_ESCAPE.sub(r"_x005F\1", texts[i])
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
        texts[i] = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return pa.array(texts, TEXT)


def start_rows(ws: Worksheet, first: int) -> None:
    """Hand xlsxwriter's pending row (the header) to its row file before rows first.. are built, so that formats
    get their style numbers in the order xlsxwriter itself would give them."""
    if not ws.constant_memory or ws.previous_row > first or (ws.previous_row == first and ws.table):
        raise ValueError("sheet rows must be written top to bottom into a constant_memory sheet")
    ws._write_single_row(first)


def write_rows(ws: Worksheet, first: int, rows: pa.Array, cells: Sequence[pa.Array], last_col: int) -> None:
    """Append rows first.. (0-based, after `start_rows`) of `cells`: one fragment array per column, null = blank.
    Rows without any cell are left out, as xlsxwriter leaves them out."""
    if ws.previous_row != first or ws.table:
        raise ValueError("start_rows(ws, first) must come right before write_rows(ws, first, ...)")
    occupied = occupied_rows(cells)
    if not occupied.any():
        return
    xml = row_elements(rows, cells)
    xml = xml.filter(pa.array(occupied))
    ws.row_data_fh.flush()
    data, offsets = joined(xml)
    ws.row_data_fh.buffer.write(data[offsets[0] : offsets[-1]])
    rows_written(ws, first + int(np.argmax(occupied)), first + int(np.flatnonzero(occupied)[-1]), last_col)


def rows_written(ws: Worksheet, first: int, last: int, last_col: int) -> None:
    """Tell xlsxwriter that rows first..last (0-based, columns 0..last_col) are in its row file."""
    ws._check_dimensions(first, 0)
    ws._check_dimensions(last, last_col)
    ws.previous_row = last


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def row_elements(rows: pa.Array | None, cells: Sequence[pa.Array]) -> pa.Array:
    """`<row r="…">…</row>` of each row from its cells (one fragment array per column, null = blank).

    Rows None: `<row>` without a number, each the row after the one before (ECMA-376 §18.3.1.73), from cells
    without references (`number_cells`, `text_cells`), a blank `<c/>` holding the place of each blank cell. Such
    rows are the same bytes wherever they land in the sheet, so that a block of them can be copied from the
    previous run's file after rows above it came or went (rowblocks.py). Every row must then be written, blank
    or not; rows with references before and after them are placed by their own numbers."""
    if rows is None:
        filled = [pc.fill_null(c, lit("<c/>")) for c in cells]
        return pc.binary_join_element_wise(lit("<row>"), *filled, lit("</row>"), lit(""))
    filled = [pc.fill_null(c, lit("")) for c in cells]
    return pc.binary_join_element_wise(lit('<row r="'), rows, lit('">'), *filled, lit("</row>"), lit(""))


def occupied_rows(cells: Sequence[pa.Array]) -> np.ndarray:
    """Rows with at least one cell: xlsxwriter writes no element for the others."""
    occupied = np.zeros(len(cells[0]) if cells else 0, dtype=bool)
    for c in cells:
        occupied |= c.is_valid().to_numpy(zero_copy_only=False)
    return occupied


def joined(xml: pa.Array) -> tuple[memoryview, np.ndarray]:
    """The data buffer of a null-free text array and its offsets: string i is data[offsets[i]:offsets[i + 1]]."""
    xml = pc.cast(_flat(xml), TEXT)
    offsets = np.frombuffer(xml.buffers()[1], dtype=np.int64)[xml.offset : xml.offset + len(xml) + 1]
    data = xml.buffers()[2]
    return (memoryview(b"") if data is None else memoryview(data)), offsets
