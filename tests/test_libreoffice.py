"""Every output workbook opens in LibreOffice (headless conversion to PDF) — no repair, no failure."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import new_workspace

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
