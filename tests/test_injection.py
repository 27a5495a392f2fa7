"""Text from input files never becomes a formula, link or number in any output."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import xlsxwriter
from conftest import new_workspace

from pipeline.run import run

PERIOD = "2025-10"
INJECTIONS = (
    '=HYPERLINK("http://x","y")',
    "@SUM(1)",
    "+86 138 0000 0000",
    "=cmd|' /C calc'!A0",
    "-2+3",
    "http://example.com/phish",
)
# The only formulas taizhang writes itself: the SUBTOTAL cells of 合计 rows.
OWN_FORMULA = re.compile(r"^=?SUBTOTAL\(\d+,[A-Z]+\d+:[A-Z]+\d+\)$")


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    """A ledger whose text cells are literal text, as a clerk's file holds them ('=…' typed with a quote)."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write(r, c, value)
    wb.close()


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    new_workspace(ws)
    return ws


def test_injection_strings_stay_literal_in_every_output(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    customers = [["客户名称", "业务员", "信用额度", "联系人", "电话"]]
    customers += [[name, "张伟", 1000, name, name] for name in INJECTIONS]
    write_xlsx(ws / "inbox" / "客户档案.xlsx", customers)
    contracts = [["合同编号", "签订日期", "客户名称", "业务员", "合同金额", "备注"]]
    contracts += [[f"HT-{i}", "2025-10-02", name, "张伟", 5000, name] for i, name in enumerate(INJECTIONS)]
    write_xlsx(ws / "inbox" / "合同台账.xlsx", contracts)
    deliveries = [["发货日期", "客户名称", "发货金额", "合同编号"]]
    deliveries += [["2025-08-01", name, 5000, f"HT-{i}"] for i, name in enumerate(INJECTIONS)]
    deliveries += [["2025-13-45", INJECTIONS[0], 1, "HT-0"]]  # an error, so that 问题标注 holds a copy too
    write_xlsx(ws / "inbox" / "发货台账.xlsx", deliveries)
    run(ws, PERIOD)
    books = sorted((ws / "outbox" / PERIOD).rglob("*.xlsx"))
    assert len(books) >= 8
    seen: set[str] = set()
    for book in books:
        seen |= _scan(book)
    assert set(INJECTIONS) <= seen, set(INJECTIONS) - seen
    assert any("问题标注" in str(b) for b in books)


def _scan(book: Path) -> set[str]:
    """Literal texts found; fails on any formula taizhang did not write itself or any hyperlink."""
    with zipfile.ZipFile(book) as zf:
        assert not any("hyperlink" in n.lower() for n in zf.namelist() if n.endswith(".rels") and
                       b"hyperlink" in zf.read(n)), f"{book.name} 含有超链接"
    wb = openpyxl.load_workbook(book)
    texts: set[str] = set()
    for ws in wb.worksheets:
        assert not ws._hyperlinks, f"{book.name}/{ws.title} 含有超链接"
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert OWN_FORMULA.match(str(cell.value)), f"{book.name}/{ws.title}!{cell.coordinate}: {cell.value}"
                elif isinstance(cell.value, str):
                    texts.add(cell.value)
    return texts
