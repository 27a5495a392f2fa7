"""The shared workbook writer: values, formats, literal text, limits, charts and atomic files."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter.workbook
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.workbook.workbook import Workbook as OpenpyxlWorkbook
from python_calamine import CalamineWorkbook

from pipeline.reports import sheetxml
from pipeline.reports import workbook as wbmod
from pipeline.reports.workbook import (
    Chart,
    Column,
    Intro,
    SheetData,
    _content_width,
    columns_from,
    text_width,
    write_workbook,
)

MONEY = "#,##0.00;[Red]-#,##0.00"
INJECTIONS = [
    '=HYPERLINK("http://x","y")',
    "@SUM(A1)",
    "+86 138 0000 0000",
    "-1",
    "=cmd|' /C calc'!A0",
    "http://example.com",
    "1e5",
]


def _contracts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "客户名称": pd.Series(["华东机械", "北京精工", None], dtype="str"),
            "amount_fen": pd.array([123456, -500, None], dtype="Int64"),
            "回款率": pd.Series([0.5, "无目标", None], dtype=object),
            "签订日期": pd.Series(pd.to_datetime(["2024-01-31", None, "2024-03-01"])).astype("datetime64[s]"),
            "合同数": pd.array([3, None, 4], dtype="Int64"),
            "账龄天数": pd.array([10, 20, 30], dtype="Int64"),
        }
    )


CONTRACT_COLUMNS = (
    Column("客户名称"),
    Column("合同金额", "money", source="amount_fen"),
    Column("回款率", "rate"),
    Column("签订日期", "date"),
    Column("合同数", "int"),
    Column("账龄天数", "days"),
)


def _write(
    tmp_path: Path, sheets: list[SheetData], intro: Intro | None = None, name: str = "out.xlsx"
) -> tuple[OpenpyxlWorkbook, list[str], Path]:
    path = tmp_path / name
    warnings = write_workbook(path, intro, sheets)
    return openpyxl.load_workbook(path), warnings, path


def _sheet_xml(path: Path, index: int = 1) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{index}.xml").decode("utf-8")


def test_values_and_number_formats(tmp_path: Path) -> None:
    wb, warnings, _ = _write(tmp_path, [SheetData("合同执行", _contracts(), CONTRACT_COLUMNS)])
    ws = wb["合同执行"]
    assert warnings == []
    assert [c.value for c in ws[1]] == ["客户名称", "合同金额", "回款率", "签订日期", "合同数", "账龄天数"]
    assert ws["B2"].value == 1234.56
    assert ws["B2"].number_format == MONEY
    assert ws["B3"].value == -5
    assert ws["B4"].value is None
    assert (ws["C2"].value, ws["C2"].number_format) == (0.5, "0.0%")
    assert (ws["C3"].value, ws["C3"].data_type) == ("无目标", "s")
    assert ws["C4"].value is None
    assert ws["D2"].is_date and ws["D2"].value == datetime(2024, 1, 31)
    assert ws["D2"].number_format == "yyyy-mm-dd"
    assert ws["D3"].value is None
    assert ws["D4"].value == datetime(2024, 3, 1)
    assert (ws["E2"].value, ws["E2"].number_format, ws["E3"].value) == (3, "0", None)
    assert ws["A4"].value is None
    assert ws.max_row == 4


def test_header_freeze_filter_and_total_row(tmp_path: Path) -> None:
    wb, _, path = _write(tmp_path, [SheetData("合同执行", _contracts(), CONTRACT_COLUMNS, total_row=True)])
    ws = wb["合同执行"]
    header = ws["B1"]
    assert header.font.b is True
    assert header.fill.fgColor.rgb == "FFDDEBF7"
    assert header.border.bottom.style == "thin"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F4"
    assert ws["A5"].value == "合计"
    assert ws["B5"].value == "=SUBTOTAL(109,B2:B4)"
    assert ws["B5"].number_format == MONEY
    assert ws["E5"].value == "=SUBTOTAL(109,E2:E4)"
    assert ws["C5"].value is None  # rates are not summed
    assert ws["F5"].value is None  # neither are days
    cached = openpyxl.load_workbook(path, data_only=True)["合同执行"]
    assert cached["B5"].value == pytest.approx(1229.56)
    assert cached["E5"].value == 7


def test_injection_strings_stay_literal_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"客户名称": pd.Series(INJECTIONS, dtype="str"), "对象列": pd.Series(INJECTIONS, dtype=object)}
    )
    wb, _, path = _write(tmp_path, [SheetData("客户", frame, columns_from(frame))])
    ws = wb["客户"]
    for row, text in enumerate(INJECTIONS, start=2):
        for col in "AB":
            cell = ws[f"{col}{row}"]
            assert (cell.value, cell.data_type) == (text, "s")
            assert cell.hyperlink is None
    assert ws._hyperlinks == []
    xml = _sheet_xml(path)
    assert "<f>" not in xml and "<f " not in xml
    assert "hyperlink" not in xml
    with zipfile.ZipFile(path) as z:
        assert not [n for n in z.namelist() if n.endswith(".rels") and "worksheets" in n]


def test_text_column_from_numbers_and_dates_is_text(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "电话": pd.array([13800000000, None], dtype="Int64"),
            "单据日期": pd.Series([date(2024, 5, 6), "不详"], dtype=object),
        }
    )
    cols = (Column("电话"), Column("单据日期", "date"))
    ws = _write(tmp_path, [SheetData("明细", frame, cols)])[0]["明细"]
    assert (ws["A2"].value, ws["A2"].data_type) == ("13800000000", "s")
    assert ws["A3"].value is None
    assert ws["B2"].is_date and ws["B2"].value == datetime(2024, 5, 6)
    assert (ws["B3"].value, ws["B3"].data_type) == ("不详", "s")


def test_text_over_cell_limit_is_cut_with_marker_and_warning(tmp_path: Path) -> None:
    long_text = "甲" + "x" * 39_999
    astral = "\U00020000" * 20_000  # 20,000 characters but 40,000 UTF-16 units
    frame = pd.DataFrame({"说明": pd.Series([long_text, astral, "短"], dtype="str")})
    wb, warnings, _ = _write(tmp_path, [SheetData("异常清单", frame, (Column("说明"),))])
    ws = wb["异常清单"]
    cut = ws["A2"].value
    assert cut.startswith("甲xxx")
    assert "已截断" in cut and "40,000" in cut
    assert len(cut) <= 32_767
    assert len(ws["A3"].value.encode("utf-16-le")) // 2 <= 32_767
    assert "已截断" in ws["A3"].value
    assert ws["A4"].value == "短"
    assert len(warnings) == 1
    assert "「说明」列有 2 个单元格" in warnings[0]


def test_text_width_counts_cjk_double() -> None:
    assert text_width("abc") == 3
    assert text_width("合同金额") == 8
    assert text_width("ＡＢ") == 4
    assert text_width("A公司") == 5


@given(st.lists(st.text(alphabet="abcXYZ019-（）公司华北电力ＡＢ", max_size=30) | st.none(), min_size=1, max_size=20))
def test_vectorised_width_equals_per_cell_width_for_ledger_text(values: list[str | None]) -> None:
    expected = max((text_width(v) for v in values if v is not None), default=0)
    assert _content_width(pd.Series(values, dtype="str"), "text") == expected


def test_column_widths_fit_cjk_content(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "甲": pd.Series(["中文" * 6], dtype="str"),
            "乙": pd.Series(["abcdefghijkl"], dtype="str"),
            "丙": pd.Series(["长" * 100], dtype="str"),
        }
    )
    ws = _write(tmp_path, [SheetData("宽度", frame)])[0]["宽度"]
    width = {c: int(ws.column_dimensions[c].width) for c in "ABC"}
    assert width == {"A": 26, "B": 14, "C": 60}


def test_chart_is_native_and_named_from_headers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "月份": pd.Series(["2024-01", "2024-02", "2024-03"], dtype="str"),
            "新签合同额": pd.array([100, 200, 300], dtype="Int64"),
            "回款金额": pd.array([50, 150, 250], dtype="Int64"),
        }
    )
    cols = (Column("月份"), Column("新签合同额", "money"), Column("回款金额", "money"))
    charts = (
        Chart("line", "月度趋势", "月份", ("新签合同额", "回款金额")),
        Chart("stacked", "构成", "月份", ("新签合同额", "回款金额")),
    )
    wb, warnings, path = _write(tmp_path, [SheetData("月度趋势", frame, cols, charts=charts)])
    assert warnings == []
    assert len(wb["月度趋势"]._charts) == 2
    with zipfile.ZipFile(path) as z:
        line = z.read("xl/charts/chart1.xml").decode("utf-8")
        stacked = z.read("xl/charts/chart2.xml").decode("utf-8")
        drawing = z.read("xl/drawings/drawing1.xml").decode("utf-8")
    assert "<c:lineChart>" in line
    assert "<c:f>月度趋势!$B$1</c:f>" in line
    assert "<c:f>月度趋势!$A$2:$A$4</c:f>" in line
    assert "<c:f>月度趋势!$C$2:$C$4</c:f>" in line
    assert '<c:grouping val="stacked"/>' in stacked
    assert "<xdr:col>4</xdr:col>" in drawing  # right of the data, one column gap


def test_failure_mid_write_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "合同对账.xlsx"
    path.write_bytes(b"old")

    def broken_close(self: xlsxwriter.workbook.Workbook) -> None:
        Path(self.filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.workbook.Workbook, "close", broken_close)
    with pytest.raises(OSError, match="disk full"):
        write_workbook(path, None, [SheetData("合同执行", _contracts(), CONTRACT_COLUMNS)])
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["合同对账.xlsx"]


def test_failure_while_writing_rows_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(wbmod, "_write_total", boom)
    with pytest.raises(RuntimeError, match="boom"):
        write_workbook(
            tmp_path / "a.xlsx", None, [SheetData("合同执行", _contracts(), CONTRACT_COLUMNS, total_row=True)]
        )
    assert list(tmp_path.iterdir()) == []


def test_bad_declaration_fails_before_any_file(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="nope"):
        write_workbook(tmp_path / "a.xlsx", None, [SheetData("x", _contracts(), (Column("nope", "money"),))])
    with pytest.raises(ValueError, match="numeric"):
        chart = Chart("column", "t", "合同金额", ("客户名称",))
        write_workbook(
            tmp_path / "a.xlsx", None, [SheetData("x", _contracts(), CONTRACT_COLUMNS, charts=(chart,))]
        )
    assert list(tmp_path.iterdir()) == []


def test_sheet_names_are_sanitised_and_unique(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": pd.Series(["1"], dtype="str")})
    sheets = [
        SheetData("a/b:c*?", frame),
        SheetData("客户" * 20, frame),
        SheetData("明细", frame),
        SheetData("明细", frame),
        SheetData("说明", frame),
    ]
    intro = Intro(
        "t", "2024-03", date(2024, 3, 31), datetime(2024, 4, 1, 8, 0), pd.DataFrame({"文件名": ["a"]})
    )
    wb, warnings, _ = _write(tmp_path, sheets, intro)
    assert wb.sheetnames == ["说明", "a_b_c__", "客户" * 15 + "客", "明细", "明细(2)", "说明(2)"]
    assert len(warnings) == 4
    assert "「a/b:c*?」" in warnings[0] and "「a_b_c__」" in warnings[0]


def test_long_frame_continues_on_numbered_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wbmod, "MAX_ROWS", 10)  # 1 header + 9 data, or 8 data + 1 合计, per sheet
    frame = pd.DataFrame({"行号": pd.array(range(1, 21), dtype="Int64")})
    wb, warnings, _ = _write(
        tmp_path, [SheetData("发货明细", frame, (Column("行号", "int"),), total_row=False)]
    )
    assert wb.sheetnames == ["发货明细", "发货明细(2)", "发货明细(3)"]
    assert [wb[n].max_row for n in wb.sheetnames] == [10, 10, 3]
    assert wb["发货明细(2)"]["A2"].value == 10
    assert wb["发货明细(3)"]["A3"].value == 20
    assert len(warnings) == 1 and "拆分为 3 个工作表" in warnings[0]
    wb2, _, _ = _write(
        tmp_path, [SheetData("发货明细", frame, (Column("行号", "int"),), total_row=True)], name="t.xlsx"
    )
    assert [wb2[n].max_row for n in wb2.sheetnames] == [10, 10, 6]
    assert wb2["发货明细(2)"]["A2"].value == 9
    assert (wb2["发货明细(2)"]["A10"].value, wb2["发货明细(2)"]["B10"].value) == ("合计", None)
    assert wb2["发货明细(3)"]["A6"].value == "合计"


def test_chunks_keep_row_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wbmod, "CHUNK_ROWS", 3)
    frame = pd.DataFrame(
        {"n": pd.array(range(10), dtype="Int64"), "s": pd.Series(list("abcdefghij"), dtype="str")}
    )
    ws = _write(tmp_path, [SheetData("x", frame)])[0]["x"]
    assert [(r[0].value, r[1].value) for r in ws.iter_rows(min_row=2)] == list(
        zip(range(10), "abcdefghij", strict=True)
    )


def test_empty_frame_writes_header_and_zero_totals(tmp_path: Path) -> None:
    chart = Chart("column", "金额", "客户名称", ("合同金额",))
    sheet = SheetData("空", _contracts().iloc[0:0], CONTRACT_COLUMNS, total_row=True, charts=(chart,))
    wb, warnings, _ = _write(tmp_path, [sheet])
    ws = wb["空"]
    assert [c.value for c in ws[2]][:2] == ["合计", 0]
    assert ws.auto_filter.ref == "A1:F1"
    assert ws._charts == []
    assert warnings == ["「空」没有数据行，未生成图表「金额」。"]


def test_note_footer_and_page_setup(tmp_path: Path) -> None:
    frame = pd.DataFrame({"摘要": pd.Series(["发货"], dtype="str"), "金额": pd.array([1000], dtype="Int64")})
    sheet = SheetData(
        "对账单",
        frame,
        (Column("摘要"), Column("金额", "money")),
        total_row=True,
        note="某某公司 客户对账单\n期间：2024-03",
        footer=("客户确认（盖章）：", "日期："),
        landscape=True,
        fit_width=True,
    )
    assert sheet.header_row == 2
    ws = _write(tmp_path, [sheet])[0]["对账单"]
    assert [ws["A1"].value, ws["A2"].value, ws["A3"].value] == [
        "某某公司 客户对账单",
        "期间：2024-03",
        "摘要",
    ]
    assert ws.freeze_panes == "A4"
    assert ws.auto_filter.ref == "A3:B4"
    assert ws["B5"].value == "=SUBTOTAL(109,B4:B4)"
    assert [ws["A7"].value, ws["A8"].value] == ["客户确认（盖章）：", "日期："]
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws.page_setup.fitToWidth in (None, 1)  # 1 is the OOXML default, left out by xlsxwriter
    assert ws.page_setup.fitToHeight == 0


def test_intro_sheet(tmp_path: Path) -> None:
    inputs = pd.DataFrame(
        {
            "文件名": pd.Series(["=合同.xlsx"], dtype="str"),
            "类型": pd.Series(["合同"], dtype="str"),
            "已用行数": [120],
            "拒绝行数": [3],
            "sha256": pd.Series(["9f86d081"], dtype="str"),
        }
    )
    intro = Intro(
        title="合同对账 2024年3月",
        period="2024-03",
        as_of=date(2024, 3, 31),
        generated_at=datetime(2024, 4, 1, 9, 30, 5),
        inputs=inputs,
        settings=[("账龄区间", "0-30、31-60、61-90、90以上")],
        how_to_read=["金额单位为元。", "合计行随筛选变化。"],
    )
    sheet = SheetData("合同执行", _contracts(), CONTRACT_COLUMNS)
    wb, warnings, _ = _write(tmp_path, [sheet], intro)
    assert warnings == []
    assert wb.sheetnames[0] == "说明"
    ws = wb["说明"]
    assert ws["A1"].value == "合同对账 2024年3月"
    assert [ws["A3"].value, ws["B3"].value] == ["期间", "2024-03"]
    assert ws["B4"].value == datetime(2024, 3, 31) and ws["B4"].number_format == "yyyy-mm-dd"
    assert ws["B5"].value == datetime(2024, 4, 1, 9, 30, 5)
    assert ws["A7"].value == "输入文件"
    assert [c.value for c in ws[8]] == ["文件名", "类型", "已用行数", "拒绝行数", "sha256"]
    assert [c.value for c in ws[9]] == ["=合同.xlsx", "合同", 120, 3, "9f86d081"]
    assert ws["A9"].data_type == "s"
    assert [ws["A11"].value, ws["A12"].value, ws["A13"].value, ws["B13"].value] == [
        "配置参数",
        "参数",
        "账龄区间",
        "0-30、31-60、61-90、90以上",
    ]
    assert [ws["A15"].value, ws["A16"].value, ws["A17"].value] == [
        "阅读说明",
        "金额单位为元。",
        "合计行随筛选变化。",
    ]


def test_document_stacks_blocks_on_one_printable_sheet(tmp_path: Path) -> None:
    lines = pd.DataFrame(
        {"摘要": pd.Series(["期初余额", "=发货"], dtype="str"), "余额": pd.array([10000, -2550])}
    )
    blocks = [
        wbmod.Block(("某某公司", "客户对账单", "客户名称：@华东"), heading=True),
        wbmod.Block(("往来明细",), lines, (Column("摘要"), Column("余额", "money"))),
        wbmod.Block(("客户确认（盖章）：", "", "日期：")),
    ]
    path = tmp_path / "对账单" / "华东_2024-03.xlsx"
    warnings = wbmod.write_document(path, "对账单", blocks)
    ws = openpyxl.load_workbook(path)["对账单"]
    assert warnings == []
    assert ws["A1"].font.sz == 14 and ws["A2"].font.sz != 14
    assert (ws["A3"].value, ws["A3"].data_type) == ("客户名称：@华东", "s")
    assert [ws["A5"].value, ws["A6"].value, ws["B6"].value] == ["往来明细", "摘要", "余额"]
    assert ws["B6"].font.b is True
    assert (ws["A8"].value, ws["A8"].data_type, ws["B8"].value) == ("=发货", "s", -25.5)
    assert ws["B8"].number_format == MONEY
    assert [ws["A10"].value, ws["A11"].value, ws["A12"].value] == ["客户确认（盖章）：", None, "日期："]
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.fitToHeight == 0
    assert ws.freeze_panes is None and ws.auto_filter.ref is None
    assert sorted(p.name for p in path.parent.iterdir()) == ["华东_2024-03.xlsx"]


def _by_cell(path: Path, blocks: list[wbmod.Block], layout: wbmod.DocumentLayout) -> None:
    """The document layout written cell by cell with xlsxwriter's public API: the reference for the batch."""
    wb = xlsxwriter.workbook.Workbook(str(path), wbmod.WORKBOOK_OPTIONS)
    fmts = wbmod._Formats(wb)
    ws = wb.add_worksheet(layout.sheet_name)
    row = 0
    for block in blocks:
        for i, line in enumerate(block.lines):
            if line:
                ws.write_string(row + i, 0, line, fmts.title if block.heading and i == 0 else None)
        row += len(block.lines)
        if block.frame is not None:
            cols = block.table_columns
            for c, col in enumerate(cols):
                ws.write_string(row, c, col.header, fmts.header)
            for r, values in enumerate(block.frame.itertuples(index=False), start=row + 1):
                for c, (col, v) in enumerate(zip(cols, values, strict=True)):
                    if isinstance(v, str) and v:
                        ws.write_string(r, c, v, fmts.cell[col.kind])
                    elif isinstance(v, pd.Timestamp):
                        ws.write_number(r, c, wbmod._serial(v), fmts.cell[col.kind])
                    elif pd.api.types.is_number(v) and not pd.isna(v):
                        ws.write_number(r, c, v / 100 if col.kind == "money" else v, fmts.cell[col.kind])
            row += 1 + len(block.frame)
        row += 1
    for c, width in enumerate(layout.widths):
        ws.set_column(c, c, width)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    wb.close()


def _statement_like(customer: str, rows: int, with_items: bool) -> list[wbmod.Block]:
    lines = pd.DataFrame(
        {
            "date": pd.Series(pd.date_range("2025-11-01", periods=rows)).astype("datetime64[s]"),
            "event": pd.Series([f"发货 & <{i}>" if i % 3 else "" for i in range(rows)], dtype="str"),
            "amount": pd.array([i * 12345 - 500 if i % 4 else None for i in range(rows)], dtype="Int64"),
        }
    )
    cols = (Column("日期", "date", "date"), Column("摘要", source="event"), Column("金额", "money", "amount"))
    items = pd.DataFrame({"单据号": pd.Series(["FH-1", " 前导空格"], dtype="str"), "天数": pd.array([3, 40])})
    blocks = [
        wbmod.Block(("某某公司", "客户对账单", f"客户名称：{customer}"), heading=True),
        wbmod.Block(("往来明细",), lines, cols),
        wbmod.Block(("未结清款项",) + (() if with_items else ("无",)), items if with_items else None),
        wbmod.Block(("客户确认（盖章）：", "", "日期：")),
    ]
    return blocks


def test_documents_in_a_batch_are_what_xlsxwriter_writes_cell_by_cell(tmp_path: Path) -> None:
    documents = [_statement_like("华东", 5, True), _statement_like("北京", 0, False), _statement_like("=x", 40, True)]
    layout = wbmod.DocumentLayout("对账单", (12, 20, 14))
    paths = [tmp_path / f"{i}.xlsx" for i in range(len(documents))]
    assert wbmod.write_documents(paths, documents, layout) == [[], [], []]
    for path, blocks in zip(paths, documents, strict=True):
        _by_cell(tmp_path / "ref.xlsx", blocks, layout)
        ours, ref = _sheet_xml(path), _sheet_xml(tmp_path / "ref.xlsx")
        number = re.compile(r"<v>([-0-9.Ee+]+)</v>")
        assert number.sub(lambda m: f"<v>{float(m.group(1)):.12g}</v>", ours) == number.sub(
            lambda m: f"<v>{float(m.group(1)):.12g}</v>", ref
        )
        with zipfile.ZipFile(path) as z, zipfile.ZipFile(tmp_path / "ref.xlsx") as r:
            assert z.namelist() == r.namelist()
            assert z.read("xl/styles.xml") == r.read("xl/styles.xml")


def test_document_batch_cuts_over_long_text_per_document(tmp_path: Path) -> None:
    long = pd.DataFrame({"摘要": pd.Series(["长" * 40_000, "短"], dtype="str")})
    documents = [[wbmod.Block(("甲",))], [wbmod.Block(("乙",), long)]]
    paths = [tmp_path / "a.xlsx", tmp_path / "b.xlsx"]
    warnings = wbmod.write_documents(paths, documents, wbmod.DocumentLayout("对账单", (60,)))
    assert warnings[0] == [] and len(warnings[1]) == 1 and "1 个单元格" in warnings[1][0]
    ws = openpyxl.load_workbook(paths[1])["对账单"]
    assert ws["A3"].value.endswith("超出 Excel 单元格上限】") and ws["A4"].value == "短"


def test_workbooks_and_documents_are_deflated_by_isal_at_the_fast_level(tmp_path: Path) -> None:
    frame = pd.DataFrame({"单据号": pd.Series([f"FH-{i:06d}" for i in range(20_000)], dtype="str")})
    write_workbook(tmp_path / "w.xlsx", None, [SheetData("明细", frame)])
    wbmod.write_documents([tmp_path / "d.xlsx"], [[wbmod.Block(("抬头",), frame)]], wbmod.DocumentLayout("对账单", (12,)))
    for name in ("w.xlsx", "d.xlsx"):
        with zipfile.ZipFile(tmp_path / name) as z:
            assert z.testzip() is None  # every entry inflates to its recorded CRC and size
            info = z.getinfo("xl/worksheets/sheet1.xml")
            packer = sheetxml.deflater()
            fast = len(packer.compress(z.read(info)) + packer.flush())
            # The sheet's rows are deflated apart from its head and tail (DeflatedRows), so the size is not exactly
            # that of deflating the whole at once; zlib's is 0.7% (level 1) or 2.6% (level 6) away on this sheet.
            assert abs(info.compress_size - fast) < 0.005 * fast, name


def test_a_sheets_rows_are_spliced_back_between_its_head_and_tail(tmp_path: Path) -> None:
    """The deflated rows go back exactly where they belong: head, rows and tail read as one sheet."""
    frame = pd.DataFrame({"单据号": pd.Series([f"FH-{i:06d}" for i in range(3_000)], dtype="str"), "金额": range(3_000)})
    sheets = [SheetData("明细", frame, total_row=True), SheetData("空表", frame.iloc[:0])]
    write_workbook(tmp_path / "w.xlsx", None, sheets)
    with zipfile.ZipFile(tmp_path / "w.xlsx") as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert xml.count("<sheetData>") == 1 and xml.index("<sheetData>") < xml.index('<row r="1"')
    assert xml.index('<row r="3001"') < xml.index("</sheetData>") < xml.index("<pageMargins")
    ws = openpyxl.load_workbook(tmp_path / "w.xlsx")["明细"]
    assert ws.max_row == 3_002 and ws["A3001"].value == "FH-002999" and ws["B3001"].value == 2_999
    grid = CalamineWorkbook.from_path(str(tmp_path / "w.xlsx")).get_sheet_by_name("明细").to_python()
    assert grid[3000][:2] == ["FH-002999", 2_999] and len(grid) == 3_002


def test_documents_split_into_batches_are_the_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    documents = [_statement_like(f"客户{i}", i * 3, i % 2 == 0) for i in range(7)]
    layout = wbmod.DocumentLayout("对账单", (12, 20, 14))
    one = [tmp_path / "one" / f"{i}.xlsx" for i in range(7)]
    wbmod.write_documents(one, documents, layout)
    monkeypatch.setattr(wbmod, "BATCH_ROWS", 20)
    assert [list(r) for r in wbmod._batches(documents)] == [[0, 1], [2, 3], [4], [5], [6]]  # 12+13, 18+19, ...
    many = [tmp_path / "many" / f"{i}.xlsx" for i in range(7)]
    wbmod.write_documents(many, documents, layout)
    assert [_sheet_xml(p) for p in one] == [_sheet_xml(p) for p in many]
