"""Rows built as XML with pyarrow must be the cells xlsxwriter's own write_string/write_number would write."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from pipeline.reports import sheetxml
from pipeline.reports.workbook import WORKBOOK_OPTIONS

# Characters every escaping rule of xlsxwriter touches, plus ordinary ledger text.
TRICKY = (
    "\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1f \u00a0\u3000\u2028\x85&<>\"'_x0041_ABCDEFabcdef0123456789"
    "华东机械有限公司（）ＡＢ—…\ufffe\uffff😀"
)
texts = st.lists(st.none() | st.text(alphabet=TRICKY, max_size=12), min_size=1, max_size=30)
numbers = st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=30)
_NUMBER = re.compile(r"<v>([-+0-9.eE]+)</v>")


def _sheet_data(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    return xml[xml.index("<sheetData") : xml.index("</sheetData>")]


def _by_xlsxwriter(path: Path, values: list[str | float | None], num_format: str | None) -> str:
    wb = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    fmt = wb.add_format({"num_format": num_format}) if num_format else None
    ws = wb.add_worksheet("s")
    ws.write_string(0, 0, "表头")
    for r, v in enumerate(values, start=1):
        if isinstance(v, str) and v:
            ws.write_string(r, 1, v, fmt)
        elif isinstance(v, float) and not math.isnan(v):  # the report writer leaves NaN blank
            ws.write_number(r, 1, v, fmt)
    ws.write_string(len(values) + 2, 0, "表尾")
    wb.close()
    return _sheet_data(path)


def _by_sheetxml(path: Path, values: list[str | float | None], num_format: str | None) -> str:
    wb = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    fmt = wb.add_format({"num_format": num_format}) if num_format else None
    ws = wb.add_worksheet("s")
    ws.write_string(0, 0, "表头")
    sheetxml.start_rows(ws, 1)
    rows = sheetxml.row_numbers(1, len(values))
    if all(v is None or isinstance(v, str) for v in values):
        cells = sheetxml.text_cells(pa.array(values, pa.string()), "B", rows, fmt)
    else:
        cells = sheetxml.number_cells(np.array(values, dtype=np.float64), "B", rows, fmt)
    sheetxml.write_rows(ws, 1, rows, [pa.nulls(len(values), sheetxml.TEXT), cells], 1)
    ws.write_string(len(values) + 2, 0, "表尾")
    wb.close()
    return _sheet_data(path)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_text_cells_are_byte_for_byte_what_xlsxwriter_writes(tmp_path_factory, values: list[str | None]) -> None:
    folder = tmp_path_factory.mktemp("t")
    ours = _by_sheetxml(folder / "ours.xlsx", values, None)
    assert ours == _by_xlsxwriter(folder / "ref.xlsx", values, None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.none() | st.text(alphabet="华东机械ABC01-_x", max_size=8), min_size=1, max_size=30), texts)
def test_plain_columns_take_the_short_way_to_the_same_bytes(
    tmp_path_factory, plain: list[str | None], tricky: list[str | None]
) -> None:
    """Columns with nothing to escape skip the escaping passes; one tricky text among them takes them all."""
    folder = tmp_path_factory.mktemp("p")
    for values in (plain, plain + tricky[:1]):
        ours = _by_sheetxml(folder / "ours.xlsx", values, None)
        assert ours == _by_xlsxwriter(folder / "ref.xlsx", values, None)


@settings(max_examples=150, deadline=None)
@given(numbers)
def test_number_cells_match_xlsxwriter_and_keep_every_digit(tmp_path_factory, values: list[float]) -> None:
    folder = tmp_path_factory.mktemp("n")
    ours = _by_sheetxml(folder / "ours.xlsx", values, "#,##0.00")
    ref = _by_xlsxwriter(folder / "ref.xlsx", values, "#,##0.00")
    # xlsxwriter writes 16 significant digits; ours is the shortest text that reads back as the same double.
    finite = [v for v in values if math.isfinite(v)]
    assert [float(v) for v in _NUMBER.findall(ours)] == finite
    assert _NUMBER.sub("<v>n</v>", ours) == _NUMBER.sub("<v>n</v>", ref)


def test_written_rows_read_back_in_excel_readers(tmp_path: Path) -> None:
    values = ["  前后有空格 ", "a&b<c>", "换\n行", "\x07铃", "_x0041_", None, ""]
    _by_sheetxml(tmp_path / "ours.xlsx", values, None)
    # calamine (our own reader) undoes the _xHHHH_ escapes as Excel does; openpyxl leaves them.
    grid = CalamineWorkbook.from_path(str(tmp_path / "ours.xlsx")).get_sheet_by_name("s").to_python()
    assert [row[1] for row in grid[1:8]] == ["  前后有空格 ", "a&b<c>", "换\n行", "\x07铃", "_x0041_", "", ""]
    assert grid[9][0] == "表尾"
    ws = openpyxl.load_workbook(tmp_path / "ours.xlsx")["s"]
    assert ws["B2"].value == "  前后有空格 " and ws["B3"].value == "a&b<c>" and ws["B7"].value is None


def test_rows_must_be_written_top_to_bottom(tmp_path: Path) -> None:
    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"), WORKBOOK_OPTIONS)
    ws = wb.add_worksheet("s")
    ws.write_string(5, 0, "已写到第 6 行")
    with pytest.raises(ValueError, match="top to bottom"):
        sheetxml.start_rows(ws, 3)
    wb.close()
