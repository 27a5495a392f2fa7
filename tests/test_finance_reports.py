"""The finance workbooks read back with openpyxl by header name: 合同对账, 应收账龄, 客户对账单."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from test_reconcile import (
    DF,
    HB,
    NF,
    OCT,
    PROPERTY,
    ZW,
    fen,
    ledger,
    ledgers,
    random_ledgers,
    worked_example,
)

from pipeline.config import Settings
from pipeline.model import Ledgers, Period, Reconciled
from pipeline.reconcile import reconcile
from pipeline.reports.aging_report import write_aging
from pipeline.reports.reconciliation import write_reconciliation
from pipeline.reports.statements import safe_file_name, statement_lines, write_statements

STAMP = datetime(2025, 11, 3, 9, 30)


def table(path: Path, sheet: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(data rows as header → value, the 合计 row or None); header on the first row, cached values."""
    ws = openpyxl.load_workbook(path, data_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    total = body.pop() if body and body[-1][header[0]] == "合计" else None
    return body, total


def money(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def keyed(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


@pytest.fixture(scope="module")
def example() -> Reconciled:
    return reconcile(worked_example(), Settings(), OCT)


@pytest.fixture(scope="module")
def outbox(example: Reconciled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outbox")
    settings = Settings()
    write_reconciliation(example, settings, out, generated_at=STAMP)
    write_aging(example, settings, out, generated_at=STAMP)
    write_statements(example, settings, out)
    return out


# ---------------------------------------------------------------- golden: the worked example, from the files


def test_golden_contract_execution(outbox: Path) -> None:
    rows, total = table(outbox / "合同对账_2025-10.xlsx", "合同执行")
    got = {
        r["合同编号"]: (
            money(r["合同金额"]), money(r["发货金额"]), money(r["回款金额"]), money(r["应收余额"]),
            money(r["预收款"]), money(r["未发货金额"]), r["执行状态"],
        )
        for r in rows
    }  # fmt: skip
    assert got == {
        "HT-2025-001": (fen(300_000), fen(250_000), fen(150_000), fen(100_000), 0, fen(50_000), "部分发货"),
        "HT-2025-002": (fen(120_000), fen(120_000), fen(45_000), fen(75_000), 0, 0, "已发货未结清"),
        "HT-2025-003": (fen(80_000), fen(30_000), fen(40_000), 0, fen(10_000), fen(50_000), "部分发货"),
        "HT-2025-004": (fen(50_000), 0, 0, 0, 0, fen(50_000), "未发货"),
    }
    assert (
        total is not None
        and money(total["合同金额"]) == fen(550_000)
        and money(total["应收余额"]) == fen(175_000)
    )
    assert keyed(rows, "合同编号")["HT-2025-002"]["回款率"] == pytest.approx(0.375)


def test_golden_allocations_and_sheets(outbox: Path) -> None:
    path = outbox / "合同对账_2025-10.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "合同执行", "回款分配", "异常清单"]  # one side only: no 账账核对
    rows, _ = table(path, "回款分配")
    advance = [r for r in rows if r["分配方式"] == "预收"]
    assert [(r["客户名称"], r["分配到合同"], money(r["分配金额"])) for r in advance] == [
        (NF, "HT-2025-003", fen(10_000))
    ]
    p5 = [r for r in rows if r["行号"] == 6]
    assert [(r["分配到发货单"], money(r["分配金额"]), r["分配方式"], r["业务员"]) for r in p5] == [
        ("D3", fen(5_000), "先进先出", "李娜")
    ]
    assert {r["来源文件"] for r in rows} == {"回款台账.xlsx"}


def test_golden_aging_detail(outbox: Path) -> None:
    rows, total = table(outbox / "应收账龄_2025-10-31.xlsx", "账龄明细")
    got = {
        r["单据号"]: (
            money(r["未收金额"]),
            r["账龄天数"],
            r["账龄区间"],
            f"{r['到期日']:%Y-%m-%d}",
            r["逾期天数"],
        )
        for r in rows
    }
    assert got == {
        "D2": (fen(100_000), 103, "91-180天", "2025-09-18", 43),
        "D3": (fen(15_000), 122, "91-180天", "2025-07-31", 92),
        "D4": (fen(60_000), 46, "31-60天", "2025-10-15", 16),
    }
    assert (
        keyed(rows, "单据号")["D2"]["来源文件"] == "发货台账.xlsx"
        and keyed(rows, "单据号")["D2"]["行号"] == 3
    )
    assert total is not None and money(total["坏账准备"]) == fen(8_750)


def test_golden_customer_aging(outbox: Path) -> None:
    rows, total = table(outbox / "应收账龄_2025-10-31.xlsx", "客户账龄")
    c = keyed(rows, "客户名称")
    assert (money(c[HB]["未收合计"]), money(c[HB]["91-180天"]), money(c[HB]["坏账准备"])) == (
        fen(100_000), fen(100_000), fen(5_000),
    )  # fmt: skip
    assert (money(c[DF]["未收合计"]), money(c[DF]["31-60天"]), money(c[DF]["91-180天"])) == (
        fen(75_000), fen(60_000), fen(15_000),
    )  # fmt: skip
    assert (money(c[DF]["信用额度"]), money(c[DF]["超额度金额"]), money(c[DF]["坏账准备"])) == (
        fen(50_000), fen(25_000), fen(3_750),
    )  # fmt: skip
    assert (money(c[NF]["未收合计"]), money(c[NF]["预收款"]), money(c[NF]["净应收"])) == (
        0,
        fen(10_000),
        -fen(10_000),
    )
    assert money(c[HB]["超额度金额"]) == 0 and c[NF]["信用额度"] is None
    assert (
        total is not None
        and money(total["坏账准备"]) == fen(8_750)
        and money(total["未收合计"]) == fen(175_000)
    )
    buckets = ["0-30天", "31-60天", "61-90天", "91-180天", "181-365天", "1-2年", "2-3年", "3年以上"]
    for r in rows:
        assert sum(money(r[b]) or 0 for b in buckets) == money(r["未收合计"])


def test_golden_provision_salespeople_and_dunning(outbox: Path) -> None:
    path = outbox / "应收账龄_2025-10-31.xlsx"
    bands, total = table(path, "坏账准备")
    assert total is not None and money(total["坏账准备"]) == fen(8_750)
    assert keyed(bands, "账龄段")["1年以内"]["计提比例"] == pytest.approx(0.05)
    people, _ = table(path, "业务员账龄")
    assert {r["业务员"]: money(r["未收合计"]) for r in people} == {ZW: fen(100_000), "李娜": fen(75_000)}
    dunning, _ = table(path, "催款清单")
    assert [(r["业务员"], r["客户名称"], r["逾期天数"], r["电话"]) for r in dunning] == [
        (ZW, HB, 43, "010-1"),
        ("李娜", DF, 92, "021-2"),
        ("李娜", DF, 16, "021-2"),
    ]


def test_aging_chart_is_a_native_stacked_column_over_buckets(outbox: Path) -> None:
    with zipfile.ZipFile(outbox / "应收账龄_2025-10-31.xlsx") as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        xml = z.read(charts[0]).decode("utf-8")
    assert len(charts) == 1
    assert "<c:barChart>" in xml and '<c:grouping val="stacked"/>' in xml
    assert xml.count("<c:ser>") == 8 and "<c:f>业务员账龄!$A$2:$A$3</c:f>" in xml


# ---------------------------------------------------------------- statements


def statement(path: Path) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(all rows, the 往来明细 table, the open-items table) of a statement file."""
    rows = list(openpyxl.load_workbook(path, data_only=True).active.iter_rows(values_only=True))

    def block(first: str) -> list[dict[str, Any]]:
        start = next(i for i, r in enumerate(rows) if r[0] == first)
        out = []
        for r in rows[start + 1 :]:
            if r[0] is None:
                break
            out.append(dict(zip(rows[start], r, strict=True)))
        return out

    return rows, block("日期"), block("合同编号")


def test_golden_statements(outbox: Path) -> None:
    folder = outbox / "客户对账单"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{c}_2025-10.xlsx" for c in (HB, DF, NF))
    rows, lines, items = statement(folder / f"{DF}_2025-10.xlsx")
    assert [(r["摘要"], money(r["回款金额"]), money(r["余额"])) for r in lines] == [
        ("期初余额", None, fen(80_000)),
        ("回款", fen(5_000), fen(75_000)),
        ("期末余额", None, fen(75_000)),
    ]
    assert [(r["单据号"], money(r["未收金额"]), r["账龄区间"]) for r in items] == [
        ("D3", fen(15_000), "91-180天"),
        ("D4", fen(60_000), "31-60天"),
    ]
    texts = [r[0] for r in rows if isinstance(r[0], str)]
    assert texts[:4] == [
        "示例机电设备有限公司",
        "客户对账单",
        f"客户名称：{DF}",
        "对账期间：2025-10-01 至 2025-10-31",
    ]
    assert any(t.startswith("客户确认") and "日期" in t for t in texts)
    _, lines, items = statement(folder / f"{NF}_2025-10.xlsx")
    assert [(r["摘要"], money(r["余额"])) for r in lines] == [
        ("期初余额", 0), ("发货", fen(30_000)), ("回款", -fen(10_000)), ("期末余额", -fen(10_000)),
    ]  # fmt: skip


def test_statement_prints_a4_portrait_one_page_wide(outbox: Path) -> None:
    ws = openpyxl.load_workbook(outbox / "客户对账单" / f"{HB}_2025-10.xlsx").active
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation in (None, "portrait")
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.page_setup.fitToHeight == 0


@PROPERTY
@given(random_ledgers())
def test_statement_closing_balance_is_open_items_minus_advances(case: tuple[Ledgers, Settings]) -> None:
    data, settings = case
    rec = reconcile(data, settings, Period.of("2025-06"))
    lines = statement_lines(rec, settings)
    closing = lines[lines["event"] == "期末余额"].set_index("customer")["balance"]
    held = (
        rec.open_items.groupby("customer")["outstanding"]
        .sum()
        .sub(rec.advances.groupby("customer")["amount"].sum(), fill_value=0)
    )
    assert (
        closing.reindex(held.index, fill_value=0).astype("int64").to_dict() == held.astype("int64").to_dict()
    )
    moves = lines[~lines["event"].isin(["期初余额", "期末余额"])]
    assert (moves["date"] >= pd.Timestamp("2025-06-01")).all() and (
        moves["date"] <= pd.Timestamp("2025-06-30")
    ).all()
    # The statements reuse reconcile's sorted activity; sorting it again from the ledgers gives the same lines.
    pd.testing.assert_frame_equal(lines, statement_lines(replace(rec, activity=None), settings))


# ---------------------------------------------------------------- text stays text, names stay safe

EVIL = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+86 138 0000 0000", "A/B:C*公司?"]


def test_untrusted_text_is_written_literally_and_file_names_are_safe(tmp_path: Path) -> None:
    deliveries = [
        dict(delivery_no=f"d{i}", date="2025-08-01", customer=c, amount=100) for i, c in enumerate(EVIL)
    ]
    customers = [dict(customer=c, salesperson=ZW, contact="=1+1") for c in EVIL]
    data = ledgers(deliveries=ledger("deliveries", deliveries), customers=ledger("customers", customers))
    rec = reconcile(data, Settings(), OCT)
    write_aging(rec, Settings(), tmp_path, generated_at=STAMP)
    paths = write_statements(rec, Settings(), tmp_path)
    wb = openpyxl.load_workbook(tmp_path / "应收账龄_2025-10-31.xlsx")
    for sheet in ("账龄明细", "客户账龄", "催款清单"):
        cells = [
            c for row in wb[sheet].iter_rows(min_row=2) for c in row if c.value in EVIL or c.value == "=1+1"
        ]
        assert {c.value for c in cells} >= set(EVIL) and all(c.data_type == "s" for c in cells), sheet
    assert sorted(p.name for p in paths) == sorted(f"{safe_file_name(c)}_2025-10.xlsx" for c in EVIL)
    assert all(not set(p.name) & set('<>:"/\\|?*') for p in paths)
    ws = openpyxl.load_workbook(paths[0]).active
    assert any(
        c.value in [f"客户名称：{e}" for e in EVIL] and c.data_type == "s"
        for row in ws.iter_rows()
        for c in row
    )


def test_safe_file_names() -> None:
    assert safe_file_name("A/B:C*公司?") == "A_B_C_公司_"
    assert (
        safe_file_name("CON") == "_CON"
        and safe_file_name("  ..  ") == "客户"
        and safe_file_name("x" * 200) == "x" * 80
    )


# ---------------------------------------------------------------- 账账核对 and 变更记录 sheets


def test_matching_and_change_log_sheets(tmp_path: Path) -> None:
    rows = [
        dict(voucher_no="F1", date="2025-10-10", customer="甲", amount=100, source="财务"),
        dict(voucher_no="S1", date="2025-10-11", customer="甲", amount=100, source="销售", contract_no="C1"),
        dict(voucher_no="S2", date="2025-10-20", customer="甲", amount=7, source="销售"),
    ]
    rec = reconcile(ledgers(payments=ledger("payments", rows)), Settings(), OCT)
    changes = pd.DataFrame({"键": ["F1"], "字段": ["金额"], "原值": ["90"], "新值": ["100"]}, dtype="str")
    [path] = write_reconciliation(rec, Settings(), tmp_path, changes=changes, generated_at=STAMP)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "合同执行", "回款分配", "异常清单", "账账核对", "变更记录"]
    matched, _ = table(path, "账账核对")
    assert [
        (r["状态"], money(r["财务到账金额"]), money(r["销售回款金额"]), r["日期差"], r["合同编号"])
        for r in matched
    ] == [
        ("已匹配", fen(100), fen(100), -1, "C1"),
        ("财务未到账", None, fen(7), None, None),
    ]
    intro = [r for r in wb["说明"].iter_rows(values_only=True) if r[0]]
    assert any(r[0] == "payments.authority 回款以谁为准" and r[1] == "财务" for r in intro)


def test_void_contract_is_listed_but_not_totalled(tmp_path: Path) -> None:
    contracts = [
        dict(contract_no="C1", date="2025-01-01", customer="甲", salesperson=ZW, amount=100),
        dict(contract_no="C2", date="2025-01-01", customer="甲", salesperson=ZW, amount=900, status="作废"),
    ]
    settings = replace(Settings())
    rec = reconcile(ledgers(contracts=ledger("contracts", contracts)), settings, OCT)
    [path] = write_reconciliation(rec, settings, tmp_path, generated_at=STAMP)
    rows, total = table(path, "合同执行")
    c2 = keyed(rows, "合同编号")["C2"]
    assert (c2["合同状态"], c2["执行状态"], c2["合同金额"], money(c2["作废/解除合同金额"])) == (
        "作废",
        "作废",
        None,
        fen(900),
    )
    assert total is not None and money(total["合同金额"]) == fen(100)


def test_as_of_date_names_the_aging_file(example: Reconciled, tmp_path: Path) -> None:
    [path] = write_aging(example, Settings(), tmp_path, as_of=date(2025, 10, 31), generated_at=STAMP)
    assert path.name == "应收账龄_2025-10-31.xlsx"
