"""Every output workbook opens in LibreOffice (headless conversion to PDF) — no repair, no failure."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import new_workspace, write_xlsx

from pipeline.reports import rowblocks
from pipeline.reports.workbook import SheetData, write_workbook
from pipeline.run import run
from pipeline.sample import write_worked_example

PERIOD = "2025-10"


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def test_every_workbook_converts_to_pdf(tmp_path: Path) -> None:
    soffice = _soffice()
    if soffice is None:
        pytest.skip("未安装 LibreOffice（apt-get install libreoffice-calc），跳过打开检查")
    ws = tmp_path / "ws"
    new_workspace(ws)
    write_worked_example(ws / "inbox")
    run(ws, PERIOD)
    books = sorted((ws / "outbox" / PERIOD).rglob("*.xlsx"))
    assert len(books) >= 8
    _convert_all(soffice, books, tmp_path)


def test_workbooks_built_from_the_last_runs_row_blocks_convert_to_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks copied from the previous file (rowblocks.py) make one deflate stream LibreOffice reads."""
    soffice = _soffice()
    if soffice is None:
        pytest.skip("未安装 LibreOffice（apt-get install libreoffice-calc），跳过打开检查")
    monkeypatch.setattr(rowblocks, "BLOCK_ROWS", 4)
    monkeypatch.setattr(rowblocks, "MIN_ROWS", 8)
    ws = tmp_path / "ws"
    new_workspace(ws)
    write_worked_example(ws / "inbox")
    first = run(ws, PERIOD)
    blocks = json.loads((first.outdir / "run.json").read_text(encoding="utf-8"))["row_blocks"]
    assert len(blocks) >= 2
    write_xlsx(ws / "inbox" / "回款补录.xlsx", [["回款日期", "客户名称", "回款金额"], ["2025-10-20", "华北电力", 321]])
    second = run(ws, PERIOD)
    again = json.loads((second.outdir / "run.json").read_text(encoding="utf-8"))["row_blocks"]
    kept = {r.split(" ")[0] for records in blocks.values() for r in records}
    assert any(r.split(" ")[0] in kept for records in again.values() for r in records)  # some were copied
    _convert_all(soffice, sorted(second.outdir / name for name in again), tmp_path)


def _convert_all(soffice: str, books: list[Path], tmp_path: Path) -> None:
    pdf_dir = tmp_path / "pdf"
    # One soffice for every book: starting LibreOffice is most of the cost of a conversion.
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--convert-to", "pdf",
         "--outdir", str(pdf_dir), *map(str, books)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    for book in books:
        pdf = pdf_dir / (book.stem + ".pdf")
        assert pdf.exists() and pdf.stat().st_size > 1000, f"LibreOffice 无法打开 {book.name}"
        assert pdf.read_bytes().startswith(b"%PDF")


def test_rows_without_numbers_land_where_numbered_rows_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big tables' rows carry no row numbers (rowblocks.py): LibreOffice puts every value, blank cells and blank
    rows included, where it puts the same table's numbered rows."""
    soffice = _soffice()
    if soffice is None:
        pytest.skip("未安装 LibreOffice（apt-get install libreoffice-calc），跳过打开检查")
    monkeypatch.setattr(rowblocks, "BLOCK_ROWS", 4)
    frame = pd.DataFrame(
        {
            "客户": pd.Series([None if i % 9 == 4 else f"客户{i}" for i in range(40)], dtype="str"),
            "金额": pd.array([None if i % 3 == 0 else i * 101 for i in range(40)], dtype="Int64"),
            "备注": pd.Series([f"第{i}行" if i % 9 != 4 else None for i in range(40)], dtype="str"),
        }
    )
    frame.iloc[4] = None  # nothing in the fifth row
    for name, min_rows in (("blocks", 8), ("numbered", 10**9)):
        monkeypatch.setattr(rowblocks, "MIN_ROWS", min_rows)
        write_workbook(tmp_path / f"{name}.xlsx", None, [SheetData("明细", frame, total_row=True)])
    assert b"<row><c" in zipfile.ZipFile(tmp_path / "blocks.xlsx").read("xl/worksheets/sheet1.xml")
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(tmp_path / "csv"),
         str(tmp_path / "blocks.xlsx"), str(tmp_path / "numbered.xlsx")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    blocks, numbered = ((tmp_path / "csv" / f"{n}.csv").read_text(encoding="utf-8") for n in ("blocks", "numbered"))
    lines = blocks.splitlines()
    assert len(lines) == 42 and lines[5] == ",," and lines[-1].startswith("合计")
    assert blocks == numbered
