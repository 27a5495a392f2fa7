"""问题标注: the clerk's own file with problem cells filled red/yellow and the reason as a comment."""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import column_index_from_string

from pipeline.problems import Problem
from pipeline.read import RawBook, read_book

FILLS = {
    "error": PatternFill(fill_type="solid", start_color="FFFF9999", end_color="FFFF9999"),
    "warning": PatternFill(fill_type="solid", start_color="FFFFFF99", end_color="FFFFFF99"),
}
AUTHOR = "taizhang"


def annotated_name(name: str) -> str:
    stem, _, ext = name.rpartition(".")
    return name if ext.lower() in ("xlsx", "xlsm") and stem else f"{name}.xlsx"


def write_annotated(source: Path, display_name: str, problems: list[Problem], outdir: Path) -> Path | None:
    """A copy of `source` with its problems marked; None when the file has no located problems."""
    located = [p for p in problems if p.row is not None and p.sheet]
    if not located:
        return None
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / annotated_name(display_name)
    workbook = _load_own_layout(source)
    if workbook is None:
        workbook = _rebuild_from_raw(source)
    if workbook is None:
        return None
    _mark(workbook, located)
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=outdir)
    os.close(fd)
    try:
        workbook.save(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load_own_layout(source: Path) -> openpyxl.Workbook | None:
    """The clerk's .xlsx/.xlsm itself, so every format, merge and width stays as they left it (macros dropped)."""
    with source.open("rb") as fh:
        is_zip = fh.read(2) == b"PK"
    if not is_zip:
        return None
    try:
        # Values only: a formula or DDE link in a dropped file must not travel on in our output.
        return openpyxl.load_workbook(source, data_only=True, rich_text=False)
    except Exception:  # noqa: BLE001 — any openpyxl failure: fall back to a rebuilt copy
        return None


def _rebuild_from_raw(source: Path) -> openpyxl.Workbook | None:
    """For .xls/.csv/HTML sources: the same cells in an .xlsx, merges kept."""
    book, _ = read_book(source)
    if book is None:
        return None
    return _workbook_from(book)


def _workbook_from(book: RawBook) -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in book.sheets:
        ws = wb.create_sheet(sheet.name[:31])
        for r, row in enumerate(sheet.rows, start=1):
            for c, value in enumerate(row, start=1):
                if value != "" and value is not None:
                    _put_literal(ws.cell(row=r, column=c), value)
        for r0, c0, r1, c1 in sheet.merges:
            if (r1, c1) != (r0, c0):
                ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    return wb


def _put_literal(cell: object, value: object) -> None:
    cell.value = value  # type: ignore[attr-defined]
    if isinstance(value, str):
        # openpyxl would store text starting with '=' as a formula; the clerk's text stays text.
        cell.data_type = "s"  # type: ignore[attr-defined]


def _mark(wb: openpyxl.Workbook, problems: list[Problem]) -> None:
    by_cell: dict[tuple[str, int, str], list[Problem]] = defaultdict(list)
    for p in problems:
        by_cell[(p.sheet, p.row or 0, p.column or "A")].append(p)
    for (sheet, row, column), items in by_cell.items():
        if sheet not in wb.sheetnames:
            continue
        ws = wb[sheet]
        cell = ws.cell(row=row, column=column_index_from_string(column))
        if type(cell).__name__ == "MergedCell":
            continue
        severity = "error" if any(p.severity == "error" for p in items) else "warning"
        cell.fill = FILLS[severity]
        text = "\n".join(
            f"{'错误' if p.severity == 'error' else '警告'}：{p.message}{p.suggestion}" for p in items
        )
        cell.comment = Comment(text[:2000], AUTHOR, width=320, height=120)
