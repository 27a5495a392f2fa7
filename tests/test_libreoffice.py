"""Every output workbook opens in LibreOffice (headless conversion to PDF) — no repair, no failure."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import new_workspace, write_xlsx

from pipeline.reports import rowblocks
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
