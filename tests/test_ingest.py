"""Each mess form of ledgers.md on a real file: parsed values and exact problem locations."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from conftest import flat, ingest, write_xlsx

HEADER = ["合同编号", "签订日期", "客户名称", "业务员", "合同金额"]


def contracts(result, *cols: str) -> list[tuple]:
    frame = result.frames["contracts"]
    return [tuple(r) for r in frame[list(cols)].itertuples(index=False)]


def test_title_rows_and_header_found_below(tmp: Path) -> None:
    rows = [
        ["XX机电设备有限公司"],
        ["2025年合同台账"],
        ["打印日期：2025-11-01"],
        [],
        HEADER,
        ["HT-1", date(2025, 3, 5), "华北电力", "张伟", 300000],
    ]
    r = ingest(write_xlsx(tmp / "合同台账.xlsx", rows))
    assert r.sheets[0].kind == "contracts" and r.sheets[0].header_row == 5
    assert contracts(r, "contract_no", "amount") == [("HT-1", 30000000)]
    assert r.frames["contracts"]["_row"].tolist() == [6]
    assert flat(r) == []


def test_two_row_merged_header_combines(tmp: Path) -> None:
    rows = [
        ["合同编号", "客户名称", "回款情况", None],
        [None, None, "日期", "金额"],
        ["HT-1", "华北电力", "2025-04-01", 1000],
    ]
    r = ingest(write_xlsx(tmp / "x.xlsx", rows, merges=["A1:A2", "B1:B2", "C1:D1"]))
    assert r.sheets[0].kind == "payments" and r.sheets[0].header_row == 2
    cols = r.sheets[0].columns
    assert cols["date"] == ("C", "回款情况-日期") and cols["amount"] == ("D", "回款情况-金额")
    assert r.frames["payments"][["contract_no", "amount"]].values.tolist() == [["HT-1", 100000]]


def test_generic_child_under_another_kinds_parent_is_not_taken(tmp: Path) -> None:
    # 合同台账 with a 回款情况 block but no 合同金额: 回款情况-金额 must not become the contract amount.
    rows = [
        ["合同信息", None, "客户名称", "业务员", "回款情况", None],
        ["合同编号", "签订日期", None, None, "日期", "金额"],
        ["HT-1", "2025-03-05", "华北电力", "张伟", "2025-04-01", 1000],
    ]
    r = ingest(write_xlsx(tmp / "合同台账.xlsx", rows, merges=["A1:B1", "C1:C2", "D1:D2", "E1:F1"]))
    assert [p.code for p in r.problems] == ["missing-column"] and "合同金额" in r.problems[0].message


def test_two_row_header_with_vertical_merges(tmp: Path) -> None:
    rows = [
        ["合同信息", None, "客户名称", "业务员", "合同金额"],
        ["合同编号", "签订日期", None, None, None],
        ["HT-1", "2025-03-05", "华北电力", "张伟", 12.5],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows, merges=["A1:B1", "C1:C2", "D1:D2", "E1:E2"]))
    assert r.sheets[0].header_row == 2
    assert contracts(r, "contract_no", "customer", "amount") == [("HT-1", "华北电力", 1250)]


def test_merged_body_cells_fill_down(tmp: Path) -> None:
    rows = [
        HEADER,
        ["HT-1", "2025-03-05", "华北电力", "张伟", 100],
        ["HT-2", "2025-03-06", None, "张伟", 200],
        ["HT-3", "2025-03-07", None, "张伟", 300],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows, merges=["C2:C4"]))
    assert contracts(r, "customer") == [("华北电力",)] * 3


def test_blank_repeated_header_and_total_rows_skipped(tmp: Path) -> None:
    rows = [
        HEADER,
        ["HT-1", "2025-03-05", "甲", "张伟", 100],
        [],
        HEADER,
        ["HT-2", "2025-03-06", "乙", "张伟", 200],
        ["小计", None, None, None, 300],
        ["HT-3", "2025-04-01", "丙", "李娜", 50],
        ["合 计", None, None, None, 350],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert contracts(r, "contract_no") == [("HT-1",), ("HT-2",), ("HT-3",)]
    assert r.sheets[0].skipped == {"空行": 1, "重复表头": 1, "合计行": 2}
    assert flat(r) == []


def test_total_row_mismatch_is_a_warning_at_the_total_cell(tmp: Path) -> None:
    rows = [
        HEADER,
        ["HT-1", "2025-03-05", "甲", "张伟", 100],
        ["HT-2", "2025-03-06", "乙", "张伟", 200],
        ["合计", None, None, None, 310],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert flat(r) == [(4, "E", "total-row-mismatch")]
    assert r.problems[0].severity == "warning"
    assert len(r.frames["contracts"]) == 2


def test_total_row_above_the_data(tmp: Path) -> None:
    rows = [
        HEADER,
        ["合计", None, None, None, 300],
        ["HT-1", "2025-03-05", "甲", "张伟", 100],
        ["HT-2", "2025-03-06", "乙", "张伟", 200],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert contracts(r, "contract_no") == [("HT-1",), ("HT-2",)] and flat(r) == []


def test_instruction_row_under_header_skipped(tmp: Path) -> None:
    rows = [
        HEADER,
        ["填写说明：日期格式为 2025-01-01，金额单位元"],
        ["HT-1", "2025-03-05", "甲", "张伟", 100],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert contracts(r, "contract_no") == [("HT-1",)] and r.sheets[0].skipped == {"填写说明": 1}


def test_rows_hidden_by_filter_are_read(tmp: Path) -> None:
    path = write_xlsx(
        tmp / "合同.xlsx",
        [HEADER, ["HT-1", "2025-03-05", "甲", "张伟", 1], ["HT-2", "2025-03-05", "乙", "张伟", 2]],
    )
    wb = openpyxl.load_workbook(path)
    wb.active.row_dimensions[3].hidden = True
    wb.save(path)
    assert len(ingest(path).frames["contracts"]) == 2


def test_padded_and_line_broken_headers_and_traditional(tmp: Path) -> None:
    rows = [
        [" 合同 编号 ", "签订\n日期", "客戶名稱", "業務員", "合同金额（元）"],
        ["HT-1", "2025-03-05", "甲", "张伟", "1,000"],
    ]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert contracts(r, "contract_no", "customer", "salesperson", "amount") == [
        ("HT-1", "甲", "张伟", 100000)
    ]


@pytest.mark.parametrize("ref", ["A1:A1", "A1:XEB71"])
def test_wrong_declared_dimension(tmp: Path, ref: str) -> None:
    path = write_xlsx(tmp / "合同.xlsx", [HEADER, ["HT-1", "2025-03-05", "甲", "张伟", 100]])
    _patch_sheet_xml(path, lambda xml: _set_dimension(xml, ref))
    assert contracts(ingest(path), "contract_no", "amount") == [("HT-1", 10000)]


def _set_dimension(xml: bytes, ref: str) -> bytes:
    import re

    return re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>'.encode(), xml)


def _patch_sheet_xml(path: Path, change) -> None:
    with zipfile.ZipFile(path) as zf:
        items = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in items:
            zf.writestr(info, change(data) if info.filename == "xl/worksheets/sheet1.xml" else data)


def test_null_markers_mean_empty(tmp: Path) -> None:
    rows = [
        ["发货日期", "客户名称", "发货金额", "合同编号", "发货单号", "承运单位"],
        ["2025-03-05", "甲", 100, "/", "无", "—"],
        ["2025-03-06", "乙", 200, "-", "未写明", "#N/A"],
    ]
    f = ingest(write_xlsx(tmp / "发货台账.xlsx", rows)).frames["deliveries"]
    assert f[["contract_no", "delivery_no", "carrier"]].isna().all().all()


def test_ids_keep_leading_zeros_and_phone_floats_become_text(tmp: Path) -> None:
    rows = [["客户名称", "电话", "客户编码"], ["甲", 13800138000.0, "008210327852813"]]
    f = ingest(write_xlsx(tmp / "客户档案.xlsx", rows)).frames["customers"]
    assert f.loc[0, "phone"] == "13800138000" and f.loc[0, "customer_code"] == "008210327852813"


def test_long_numeric_id_reported(tmp: Path) -> None:
    rows = [HEADER, [1234567890123456789, "2025-03-05", "甲", "张伟", 100]]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert flat(r) == [(2, "A", "long-number-id")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2025, 3, 5), "2025-03-05"),
        (datetime(2025, 3, 5, 14, 30), "2025-03-05"),
        (45721, "2025-03-05"),
        ("2025.3.5", "2025-03-05"),
        ("2025/3/5", "2025-03-05"),
        ("2025-03-05", "2025-03-05"),
        ("2025年3月5日", "2025-03-05"),
        ("20250305", "2025-03-05"),
        (20250305, "2025-03-05"),
        ("3月5日", "2025-03-05"),
        ("２０２５－０３－０５", "2025-03-05"),
    ],
)
def test_date_forms(tmp: Path, value: object, expected: str) -> None:
    rows = [["2025年合同台账"], HEADER, ["HT-1", value, "甲", "张伟", 100]]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert flat(r) == []
    assert r.frames["contracts"].loc[0, "date"] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("value", "code"), [("2025-13-45", "bad-date"), ("206-7-15", "implausible-date"), ("下周", "bad-date")]
)
def test_bad_dates_are_errors(tmp: Path, value: str, code: str) -> None:
    r = ingest(
        write_xlsx(
            tmp / "合同.xlsx",
            [HEADER, ["HT-1", value, "甲", "张伟", 100], ["HT-2", "2025-1-1", "甲", "张伟", 1]],
        )
    )
    assert flat(r) == [(2, "B", code)]
    assert contracts(r, "contract_no") == [("HT-2",)] and r.sheets[0].rejected == 1


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        (1234.5, 123450),
        ("¥1,234.50", 123450),
        ("1234.5元", 123450),
        ("１，２３４．５", 123450),
        ("(1,200.00)", -120000),
        ("（1,200.00）", -120000),
        (-1200, -120000),
        ("-1,200", -120000),
        ("1.2万", 1200000),
        ("1.005", 101),
        (0.125, 13),
        ("RMB 88", 8800),
    ],
)
def test_money_forms(tmp: Path, value: object, fen: int) -> None:
    r = ingest(write_xlsx(tmp / "合同.xlsx", [HEADER, ["HT-1", "2025-03-05", "甲", "张伟", value]]))
    assert r.frames["contracts"].loc[0, "amount"] == fen


def test_wan_yuan_header_scales_amounts(tmp: Path) -> None:
    rows = [
        ["合同编号", "签订日期", "客户名称", "业务员", "合同金额(万元)"],
        ["HT-1", "2025-03-05", "甲", "张伟", 12.3456],
        ["HT-2", "2025-03-05", "甲", "张伟", "0.5"],
    ]
    assert contracts(ingest(write_xlsx(tmp / "合同.xlsx", rows)), "amount") == [(12345600,), (500000,)]


def test_bad_and_missing_amounts_are_errors(tmp: Path) -> None:
    rows = [HEADER, ["HT-1", "2025-03-05", "甲", "张伟", "abc"], ["HT-2", "2025-03-05", "甲", "张伟", None]]
    r = ingest(write_xlsx(tmp / "合同.xlsx", rows))
    assert flat(r) == [(2, "E", "bad-money"), (3, "E", "missing-value")]
    assert "contracts" not in r.frames and not r.accepted


def test_error_cells_and_uncalculated_formulas_reported(tmp: Path) -> None:
    path = tmp / "合同.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, HEADER)
    ws.write_row(1, 0, ["HT-1", "2025-03-05", "甲", "张伟"])
    ws.write_formula(1, 4, "=1/0", None, "#DIV/0!")
    ws.write_row(2, 0, ["HT-2", "2025-03-05", "甲", "张伟"])
    ws.write_formula(2, 4, "=100*2", None, 200)
    ws.write_row(3, 0, ["HT-3", "2025-03-05", "甲", "张伟"])
    ws.write_formula(3, 4, "=100*3", None, "")
    wb.close()
    r = ingest(path)
    assert flat(r) == [(2, "E", "error-cell"), (4, "E", "uncalculated-formula")]
    assert contracts(r, "contract_no", "amount") == [("HT-2", 20000)]


def test_names_normalised(tmp: Path) -> None:
    rows = [HEADER, ["HT-1", "2025-03-05", " 华北电力（北京） 有限公司", "张 伟", 1]]
    assert contracts(ingest(write_xlsx(tmp / "合同.xlsx", rows)), "customer", "salesperson") == [
        ("华北电力(北京)有限公司", "张伟")
    ]


def test_wide_target_sheet_unpivoted(tmp: Path) -> None:
    rows = [
        ["2025年销售目标（元）"],
        ["业务员"] + [f"{m}月" for m in range(1, 13)],
        ["张伟"] + [100000] * 12,
        ["李娜"] + [50000] * 11 + [None],
    ]
    r = ingest(write_xlsx(tmp / "销售目标.xlsx", rows))
    f = r.frames["targets"]
    assert len(f) == 23 and set(f["year"]) == {2025}
    zhang = f[f["salesperson"] == "张伟"].sort_values("month")
    assert zhang["month"].tolist() == list(range(1, 13)) and zhang["sales_target"].sum() == 120000000


def test_kind_tie_broken_by_file_name(tmp: Path) -> None:
    rows = [["日期", "客户名称", "金额"], ["2025-03-05", "甲", 100]]
    assert ingest(write_xlsx(tmp / "回款台账.xlsx", rows)).sheets[0].kind == "payments"
    assert ingest(write_xlsx(tmp / "发货台账.xlsx", rows)).sheets[0].kind == "deliveries"
    assert (
        ingest(
            write_xlsx(
                tmp / "开票.xlsx", [["发票号码", "日期", "客户名称", "金额"], ["001", "2025-03-05", "甲", 1]]
            )
        )
        .sheets[0]
        .kind
        == "invoices"
    )


def test_finance_side_from_file_name_and_returns_negative(tmp: Path) -> None:
    pay = ingest(
        write_xlsx(
            tmp / "银行收款明细_财务.xlsx", [["到账日期", "付款单位", "到账金额"], ["2025-03-05", "甲", 100]]
        )
    )
    assert pay.frames["payments"]["source"].tolist() == ["财务"]
    rows = [
        ["发货日期", "客户名称", "发货金额", "类型", "数量"],
        ["2025-03-05", "甲", 100, "退货", 2],
        ["2025-03-06", "甲", 300, "发货", 3],
    ]
    d = ingest(write_xlsx(tmp / "发货.xlsx", rows)).frames["deliveries"]
    assert d["amount"].tolist() == [-10000, 30000] and d["quantity"].tolist() == [-2, 3]


def test_several_sheets_and_hidden_sheet(tmp: Path) -> None:
    path = write_xlsx(
        tmp / "回款.xlsx",
        [["回款日期", "客户名称", "回款金额"], ["2025-01-05", "甲", 1]],
        sheet="1月",
        extra_sheets={"2月": [["回款日期", "客户名称", "回款金额"], ["2025-02-05", "乙", 2]]},
    )
    wb = openpyxl.load_workbook(path)
    wb["2月"].sheet_state = "hidden"
    wb.save(path)
    r = ingest(path)
    assert [(s.name, s.kind, s.hidden) for s in r.sheets] == [
        ("1月", "payments", False),
        ("2月", "payments", True),
    ]
    assert r.frames["payments"]["_sheet"].tolist() == ["1月", "2月"]
    assert [p.code for p in r.problems] == ["hidden-sheet"]


def test_duplicate_key_with_conflicting_content(tmp: Path) -> None:
    rows = [
        ["发票号码", "开票日期", "客户名称", "价税合计"],
        ["001", "2025-03-05", "甲", 100],
        ["001", "2025-03-05", "甲", 200],
        ["002", "2025-03-05", "甲", 50],
    ]
    r = ingest(write_xlsx(tmp / "开票.xlsx", rows))
    assert flat(r) == [(2, "A", "duplicate-key"), (3, "A", "duplicate-key")]
    assert r.frames["invoices"]["invoice_no"].tolist() == ["002"]


def test_amount_mismatch_warning(tmp: Path) -> None:
    rows = [
        ["发货日期", "客户名称", "发货金额", "数量", "单价"],
        ["2025-03-05", "甲", 1000, 3, 300],
        ["2025-03-05", "甲", 900.5, 3, 300],
    ]
    r = ingest(write_xlsx(tmp / "发货.xlsx", rows))
    assert flat(r) == [(2, "C", "amount-mismatch")] and len(r.frames["deliveries"]) == 2


def test_future_date_warning(tmp: Path) -> None:
    r = ingest(write_xlsx(tmp / "合同.xlsx", [HEADER, ["HT-1", "2030-01-01", "甲", "张伟", 1]]))
    assert flat(r, "warning") == [(2, "B", "future-date")] and r.accepted


def test_to_date_reads_every_ledger_form_also_when_texts_repeat() -> None:
    from pipeline.normalise import to_date

    cells: list[object] = [
        "2025-03-05", "2025/3/5", "2025.3.5", "2025年3月5日", "20250305", "3月5日", "２０２５－０３－０５",
        "2025-03-05 10:20", 45721, 20250305, date(2025, 3, 5), datetime(2025, 3, 5, 9, 30),
        None, "", "abc", "1899-01-01", "2025年3月5日", "3月5日", "abc",
    ]
    values, unparseable, implausible = to_date(pd.Series(cells, dtype="object"), 2025)
    as_text = [None if pd.isna(v) else f"{v:%Y-%m-%d}" for v in values]
    assert as_text == ["2025-03-05"] * 12 + [None, None, None, None, "2025-03-05", "2025-03-05", None]
    assert unparseable.tolist() == [False] * 14 + [True, False, False, False, True]
    assert implausible.tolist() == [False] * 15 + [True, False, False, False]
