"""Monthly statistics: the worked example of rules.md, targets, rosters and the 月度统计 workbook."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import Settings, settings_from_dict
from pipeline.model import UNASSIGNED, Ledgers, Period, Reconciled
from pipeline.stats import MonthlyStats, compute_stats, monthly_targets, spread
from schemas import LEDGER_KINDS

ZW, LN = "张伟", "李娜"
HB, DF, NF = "华北电力工程有限公司", "东方建设集团", "南方水务有限公司"


# ---- frame builders (imported by test_scoring) ---------------------------------------------------------------


def frame(kind: str, rows: list[dict[str, Any]], source: str = "台账.xlsx") -> pd.DataFrame:
    """A ledger frame of `kind` with its declared dtypes and provenance, from plain dicts."""
    decl = LEDGER_KINDS[kind]
    out = decl.empty_frame()
    if rows:
        raw = pd.DataFrame(rows)
        data = {c.name: raw.get(c.name, pd.NA) for c in decl.columns}
        out = pd.DataFrame(data).astype(out.dtypes.to_dict())
    out["_file"] = pd.Series([source] * len(out), dtype="str")
    out["_sheet"] = pd.Series(["Sheet1"] * len(out), dtype="str")
    out["_row"] = pd.Series(range(2, len(out) + 2), dtype="Int64")
    out["_sha256"] = pd.Series(["ab" * 32] * len(out), dtype="str")
    return out


def contracts_frame(rows: list[tuple[str, str, str, str, int]], void: tuple[str, ...] = ()) -> pd.DataFrame:
    """Reconciled contracts from (contract_no, date, customer, salesperson, amount in fen)."""
    out = pd.DataFrame(rows, columns=["contract_no", "date", "customer", "salesperson", "amount"])
    out = out.astype({"contract_no": "str", "customer": "str", "salesperson": "str", "amount": "Int64"})
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[s]")
    out["status"] = pd.Series(["作废" if c in void else "执行中" for c in out["contract_no"]], dtype="str")
    out["terms_days"] = pd.Series([pd.NA] * len(out), dtype="Int64")
    out["region"] = pd.Series([pd.NA] * len(out), dtype="str")
    out["void"] = out["contract_no"].isin(void)
    return out


def events(kind: str, rows: list[tuple[Any, ...]], cols: tuple[str, ...]) -> pd.DataFrame:
    """Reconciled deliveries / invoices / payments rows (salesperson resolved) with provenance."""
    return frame(kind, [dict(zip(cols, r, strict=True)) for r in rows], source=f"{kind}.xlsx")


def open_items_frame(rows: list[tuple[str, str, str, str, str, str, int]]) -> pd.DataFrame:
    """(customer, salesperson, contract_no, doc_no, basis_date, due_date, outstanding)."""
    cols = ["customer", "salesperson", "contract_no", "doc_no", "basis_date", "due_date", "outstanding"]
    out = pd.DataFrame(rows, columns=cols).astype({c: "str" for c in cols[:4]})
    for c in ("basis_date", "due_date"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[s]")
    out["outstanding"] = out["outstanding"].astype("Int64")
    out["original"] = out["outstanding"]
    out["terms_days"] = pd.Series([30] * len(out), dtype="Int64")
    return out


def reconciled(
    period: str,
    contracts: pd.DataFrame,
    deliveries: pd.DataFrame | None = None,
    invoices: pd.DataFrame | None = None,
    payments: pd.DataFrame | None = None,
    open_items: pd.DataFrame | None = None,
    execution: pd.DataFrame | None = None,
) -> Reconciled:
    """A Reconciled built by hand: what reconcile hands to statistics and scoring."""
    empty = pd.DataFrame()
    return Reconciled(
        period=Period.of(period),
        contracts=contracts,
        deliveries=frame("deliveries", []) if deliveries is None else deliveries,
        invoices=frame("invoices", []) if invoices is None else invoices,
        payments=frame("payments", []) if payments is None else payments,
        execution=empty if execution is None else execution,
        open_items=open_items_frame([]) if open_items is None else open_items,
        advances=empty,
        allocations=empty,
        exceptions=empty,
        matching=empty,
    )


def execution_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """合同执行 in reconcile's code names from (contract_no, customer, salesperson, sign_date, amount, delivered,
    paid, receivable, advance, exec_status), money in yuan."""
    cols = ["contract_no", "customer", "salesperson", "sign_date", "contract_amount", "delivered", "paid",
            "receivable", "advance", "exec_status"]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    money = ["contract_amount", "delivered", "paid", "receivable", "advance"]
    out[money] = out[money].map(yuan).astype("Int64")
    out["sign_date"] = pd.to_datetime(out["sign_date"]).astype("datetime64[s]")
    out["invoiced"] = pd.Series([0] * len(out), dtype="Int64")
    out["undelivered"] = (out["contract_amount"] - out["delivered"]).clip(lower=0)
    out["delivery_rate"] = (out["delivered"] / out["contract_amount"]).astype("Float64")
    out["payment_rate"] = (out["paid"] / out["contract_amount"]).astype("Float64")
    out["status"] = pd.Series(["执行中"] * len(out), dtype="str")
    out["void"] = False
    return out.astype({c: "str" for c in ("contract_no", "customer", "salesperson", "exec_status")})


def yuan(x: float) -> int:
    return round(x * 100)


def worked_example() -> tuple[Reconciled, Ledgers]:
    """rules.md's worked example as reconcile would hand it over (as_of 2025-10-31, period 2025-10)."""
    contracts = contracts_frame(
        [
            ("HT-2025-001", "2025-03-10", HB, ZW, yuan(300_000)),
            ("HT-2025-002", "2025-06-15", DF, LN, yuan(120_000)),
            ("HT-2025-003", "2025-10-08", NF, LN, yuan(80_000)),
            ("HT-2025-004", "2025-10-20", HB, ZW, yuan(50_000)),
        ]
    )
    dcols = ("delivery_no", "date", "contract_no", "customer", "salesperson", "amount", "product")
    deliveries = events(
        "deliveries",
        [
            ("D1", "2025-04-01", "HT-2025-001", HB, ZW, yuan(100_000), "变压器"),
            ("D2", "2025-07-20", "HT-2025-001", HB, ZW, yuan(150_000), "变压器"),
            ("D3", "2025-07-01", "HT-2025-002", DF, LN, yuan(60_000), "开关柜"),
            ("D4", "2025-09-15", "HT-2025-002", DF, LN, yuan(60_000), "开关柜"),
            ("D5", "2025-10-25", "HT-2025-003", NF, LN, yuan(30_000), "水泵"),
            ("D6", "2025-11-05", "HT-2025-004", HB, ZW, yuan(50_000), "变压器"),
        ],
        dcols,
    )
    pcols = ("voucher_no", "date", "customer", "contract_no", "salesperson", "amount")
    payments = events(
        "payments",
        [
            ("P1", "2025-05-10", HB, "HT-2025-001", ZW, yuan(100_000)),
            ("P2", "2025-09-30", HB, None, ZW, yuan(50_000)),
            ("P3", "2025-08-01", DF, "HT-2025-002", LN, yuan(40_000)),
            ("P4", "2025-10-28", NF, "HT-2025-003", LN, yuan(40_000)),
            # P5 names no salesperson: reconcile resolved it through 客户档案 (东方 → 李娜).
            ("P5", "2025-10-15", DF, None, LN, yuan(5_000)),
        ],
        pcols,
    )
    open_items = open_items_frame(
        [
            (HB, ZW, "HT-2025-001", "D2", "2025-07-20", "2025-09-18", yuan(100_000)),
            (DF, LN, "HT-2025-002", "D3", "2025-07-01", "2025-07-31", yuan(15_000)),
            (DF, LN, "HT-2025-002", "D4", "2025-09-15", "2025-10-15", yuan(60_000)),
        ]
    )
    execution = execution_frame(
        [
            ("HT-2025-001", HB, ZW, "2025-03-10", 300_000, 250_000, 150_000, 100_000, 0, "部分发货"),
            ("HT-2025-002", DF, LN, "2025-06-15", 120_000, 120_000, 45_000, 75_000, 0, "已发货未结清"),
            ("HT-2025-003", NF, LN, "2025-10-08", 80_000, 30_000, 40_000, 0, 10_000, "部分发货"),
            ("HT-2025-004", HB, ZW, "2025-10-20", 50_000, 0, 0, 0, 0, "未发货"),
        ]
    )
    rec = reconciled("2025-10", contracts, deliveries, None, payments, open_items, execution)
    ledgers = Ledgers(
        {
            "customers": frame(
                "customers",
                [
                    {"customer": HB, "salesperson": ZW, "credit_limit": yuan(500_000), "terms_days": 60},
                    {"customer": DF, "salesperson": LN, "credit_limit": yuan(50_000), "terms_days": 30},
                ],
            ),
            "targets": frame(
                "targets",
                [
                    {
                        "salesperson": ZW,
                        "year": 2025,
                        "month": 10,
                        "sales_target": yuan(100_000),
                        "payment_target": yuan(80_000),
                        "new_customer_target": 1,
                    },
                    {
                        "salesperson": LN,
                        "year": 2025,
                        "month": 10,
                        "sales_target": yuan(60_000),
                        "payment_target": yuan(50_000),
                        "new_customer_target": 1,
                    },
                ],
            ),
            "penalties": frame(
                "penalties",
                [
                    {"date": "2025-10-12", "salesperson": ZW, "item": "客户投诉"},
                    {"date": "2025-10-18", "salesperson": LN, "item": "未按时提交周报"},
                ],
                source="考核记录.xlsx",
            ),
        }
    )
    return rec, ledgers


def by_name(frame: pd.DataFrame, key: str = "salesperson") -> dict[str, dict[str, Any]]:
    return frame.set_index(key).to_dict("index")


def read_sheet(path: Path, sheet: str, header_row: int = 1) -> list[dict[str, Any]]:
    """A written sheet as dicts keyed by header, 合计 row excluded."""
    wb = openpyxl.load_workbook(path, data_only=False)
    rows = list(wb[sheet].iter_rows(min_row=header_row, values_only=True))
    headers = rows[0]
    return [
        dict(zip(headers, r, strict=True))
        for r in rows[1:]
        if r[0] != "合计" and any(v is not None for v in r)
    ]


# ---- the worked example ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> MonthlyStats:
    rec, ledgers = worked_example()
    stats, problems = compute_stats(rec, ledgers, Settings())
    assert problems == []
    return stats


def test_worked_example_october(example: MonthlyStats) -> None:
    s = by_name(example.salespeople)
    assert set(s) == {ZW, LN}
    zw, ln = s[ZW], s[LN]
    assert (zw["contract_count"], zw["contract_amount"], zw["delivery_amount"], zw["payment_amount"]) == (
        1,
        yuan(50_000),
        0,
        0,
    )
    assert zw["new_customers"] == 0
    assert (ln["contract_count"], ln["contract_amount"], ln["delivery_amount"], ln["payment_amount"]) == (
        1,
        yuan(80_000),
        yuan(30_000),
        yuan(45_000),
    )
    assert ln["new_customers"] == 1
    assert example.new_customers[["customer", "salesperson"]].values.tolist() == [[NF, LN]]


def test_worked_example_ytd(example: MonthlyStats) -> None:
    s = by_name(example.salespeople)
    assert [s[ZW][c] for c in ("ytd_contract_amount", "ytd_delivery_amount", "ytd_payment_amount")] == [
        yuan(350_000),
        yuan(250_000),
        yuan(150_000),
    ]
    assert [s[LN][c] for c in ("ytd_contract_amount", "ytd_delivery_amount", "ytd_payment_amount")] == [
        yuan(200_000),
        yuan(150_000),
        yuan(85_000),
    ]


def test_worked_example_rates(example: MonthlyStats) -> None:
    s = by_name(example.salespeople)
    assert [round(s[p][c] * 100, 1) for p in (ZW, LN) for c in ("sales_rate", "payment_rate")] == [
        50.0,
        0.0,
        133.3,
        90.0,
    ]
    assert pd.isna(s[ZW]["yoy"])  # nothing signed in October 2024


def test_worked_example_dimensions(example: MonthlyStats) -> None:
    customers = by_name(example.customers, "customer")
    assert customers[NF]["payment_amount"] == yuan(40_000)
    assert customers[DF]["ytd_payment_amount"] == yuan(45_000)
    products = by_name(example.products, "product")
    assert products["水泵"]["delivery_amount"] == yuan(30_000)
    assert products["变压器"]["ytd_delivery_amount"] == yuan(250_000)  # D6 is after as_of
    # Dimensions partition the same money: every breakdown sums to the salesperson totals.
    for dim in (example.customers, example.products, example.regions):
        for col in ("contract_amount", "ytd_contract_amount", "ytd_delivery_amount", "ytd_payment_amount"):
            assert dim[col].sum() == example.salespeople[col].sum(), col


def test_worked_example_trend_and_details(example: MonthlyStats) -> None:
    trend = example.trend
    assert (
        trend["month"].unique().tolist()[0] == "2024-11" and trend["month"].unique().tolist()[-1] == "2025-10"
    )
    zw = trend[trend["salesperson"] == ZW].set_index("month")
    assert zw.loc["2025-03", "contract_amount"] == yuan(300_000)
    assert zw.loc["2025-09", "payment_amount"] == yuan(50_000)
    assert zw["contract_amount"].sum() == yuan(350_000)
    assert example.deliveries["delivery_no"].tolist() == ["D5"]
    assert example.payments["voucher_no"].tolist() == ["P5", "P4"]
    assert {"_file", "_sheet", "_row"} <= set(example.payments.columns)
    assert sorted(example.contracts["contract_no"]) == [
        "HT-2025-001",
        "HT-2025-002",
        "HT-2025-003",
        "HT-2025-004",
    ]


# ---- targets ---------------------------------------------------------------------------------------------------


def test_spread_is_exact_to_the_fen() -> None:
    assert spread(100, [1] * 12) == [9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8]
    weights = [0.5, 0.5, 1, 1, 1, 1.2, 1.2, 1.2, 1, 1, 1.2, 1.2]
    shares = spread(1_234_567_89, weights)
    assert sum(shares) == 1_234_567_89
    assert shares[0] == shares[1] and shares[5] >= shares[2] * 1.2 - 1


def test_annual_target_spread_by_seasonality() -> None:
    weights = (0.5, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2)
    targets = frame(
        "targets",
        [
            {
                "salesperson": ZW,
                "year": 2025,
                "sales_target": yuan(1_300_000.01),
                "payment_target": yuan(1_000_000),
                "new_customer_target": 13,
            },
            # A monthly row wins over the annual spread for its month and measure.
            {"salesperson": ZW, "year": 2025, "month": 12, "payment_target": yuan(1)},
        ],
    )
    t = monthly_targets(targets, 2025, weights).set_index("month")
    assert t["sales_target"].sum() == yuan(1_300_000.01)
    assert t.loc[1, "sales_target"] == t.loc[2, "sales_target"] == yuan(50_000)
    # 130,000,001 fen over 13 weight units: the one remaining fen goes to the largest fraction, earliest month.
    assert t.loc[11, "sales_target"] == yuan(200_000) + 1 and t.loc[12, "sales_target"] == yuan(200_000)
    assert t.loc[12, "payment_target"] == yuan(1)
    assert t.loc[3:11, "payment_target"].tolist() == spread(yuan(1_000_000), weights)[2:11]
    assert t["new_customer_target"].sum() == 13
    assert set(t["new_customer_target"]) <= {0, 1, 2}


def test_seasonality_from_configuration_reaches_the_rates() -> None:
    settings = settings_from_dict({"stats": {"seasonality": [1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1]}})
    contracts = contracts_frame([("C1", "2025-10-02", HB, ZW, yuan(42_000))])
    targets = frame("targets", [{"salesperson": ZW, "year": 2025, "sales_target": yuan(140_000)}])
    stats, _ = compute_stats(reconciled("2025-10", contracts), Ledgers({"targets": targets}), settings)
    zw = by_name(stats.salespeople)[ZW]
    assert zw["sales_target"] == yuan(30_000)
    assert round(zw["sales_rate"], 3) == 1.4


def test_sales_measure_delivery() -> None:
    settings = settings_from_dict({"stats": {"sales_measure": "delivery"}})
    rec, ledgers = worked_example()
    stats, _ = compute_stats(rec, ledgers, settings)
    s = by_name(stats.salespeople)
    assert s[ZW]["sales_rate"] == 0.0 and s[LN]["sales_rate"] == 0.5


def test_no_target_is_na() -> None:
    contracts = contracts_frame([("C1", "2025-10-02", HB, ZW, yuan(1_000))])
    targets = frame("targets", [{"salesperson": ZW, "year": 2025, "month": 10, "sales_target": 0}])
    stats, _ = compute_stats(reconciled("2025-10", contracts), Ledgers({"targets": targets}), Settings())
    zw = by_name(stats.salespeople)[ZW]
    assert pd.isna(zw["sales_rate"]) and pd.isna(zw["payment_rate"]) and pd.isna(zw["payment_target"])


# ---- who a row belongs to, rosters -----------------------------------------------------------------------------


def test_activity_without_contracts() -> None:
    """A salesperson with deliveries, payments and visits but no contract of their own is listed with zeros."""
    contracts = contracts_frame([("C1", "2025-01-05", HB, ZW, yuan(10_000))])
    deliveries = events(
        "deliveries",
        [("2025-10-03", "C1", HB, "王强", yuan(2_000))],
        ("date", "contract_no", "customer", "salesperson", "amount"),
    )
    activities = frame(
        "activities", [{"date": "2025-10-09", "salesperson": "赵敏", "customer": DF, "activity_type": "拜访"}]
    )
    stats, _ = compute_stats(
        reconciled("2025-10", contracts, deliveries), Ledgers({"activities": activities}), Settings()
    )
    s = by_name(stats.salespeople)
    assert s["王强"]["contract_count"] == 0 and s["王强"]["delivery_amount"] == yuan(2_000)
    assert s["赵敏"]["contract_amount"] == 0 and pd.isna(s["赵敏"]["sales_rate"])
    assert s[ZW]["ytd_contract_amount"] == yuan(10_000)


def test_payment_salesperson_resolved_by_reconcile_counts() -> None:
    """P5 of the worked example carries no 业务员; reconcile resolved it via 客户档案 and stats count it for 李娜."""
    rec, ledgers = worked_example()
    p5 = rec.payments[rec.payments["voucher_no"] == "P5"]
    assert p5["salesperson"].tolist() == [LN]
    stats, _ = compute_stats(rec, ledgers, Settings())
    assert by_name(stats.salespeople)[LN]["payment_amount"] == yuan(45_000)
    rec.payments.loc[rec.payments["voucher_no"] == "P5", "salesperson"] = UNASSIGNED
    stats, _ = compute_stats(rec, ledgers, Settings())
    s = by_name(stats.salespeople)
    assert s[LN]["payment_amount"] == yuan(40_000) and s[UNASSIGNED]["payment_amount"] == yuan(5_000)
    assert stats.salespeople["salesperson"].iloc[-1] == UNASSIGNED


def test_void_contracts_and_returns() -> None:
    """Void contracts leave 新签; returns arrive from reconcile as negative deliveries and net 发货金额."""
    contracts = contracts_frame(
        [("C1", "2025-10-02", HB, ZW, yuan(9_000)), ("C2", "2025-10-03", HB, ZW, yuan(5_000))], void=("C2",)
    )
    deliveries = events(
        "deliveries",
        [
            ("2025-10-04", "C1", HB, ZW, yuan(3_000), "发货"),
            ("2025-10-05", "C1", HB, ZW, -yuan(1_000), "退货"),
        ],
        ("date", "contract_no", "customer", "salesperson", "amount", "delivery_type"),
    )
    stats, _ = compute_stats(reconciled("2025-10", contracts, deliveries), Ledgers({}), Settings())
    zw = by_name(stats.salespeople)[ZW]
    assert (zw["contract_count"], zw["contract_amount"], zw["delivery_amount"]) == (
        1,
        yuan(9_000),
        yuan(2_000),
    )


def test_first_cooperation_date_wins_and_yoy() -> None:
    contracts = contracts_frame(
        [
            ("C0", "2024-10-10", DF, LN, yuan(1_000)),
            ("C1", "2025-10-02", HB, ZW, yuan(3_000)),
            ("C2", "2025-10-03", NF, LN, yuan(2_000)),
        ]
    )
    customers = frame("customers", [{"customer": HB, "first_date": "2023-01-01"}])
    stats, _ = compute_stats(reconciled("2025-10", contracts), Ledgers({"customers": customers}), Settings())
    s = by_name(stats.salespeople)
    assert (s[ZW]["new_customers"], s[LN]["new_customers"]) == (0, 1)
    assert s[LN]["ly_contract_amount"] == yuan(1_000) and s[LN]["yoy"] == 1.0


def test_as_of_inside_the_month() -> None:
    contracts = contracts_frame(
        [
            ("C1", "2025-10-02", HB, ZW, yuan(1_000)),
            ("C2", "2025-10-20", HB, ZW, yuan(2_000)),
            ("C0", "2024-10-25", HB, ZW, yuan(7_000)),
        ]
    )
    rec = reconciled("2025-10", contracts)
    rec.period = Period.of("2025-10", date(2025, 10, 15))
    stats, _ = compute_stats(rec, Ledgers({}), Settings())
    zw = by_name(stats.salespeople)[ZW]
    assert (zw["contract_amount"], zw["ytd_contract_amount"], zw["ly_contract_amount"]) == (
        yuan(1_000),
    ) * 2 + (0,)


# ---- the workbook ----------------------------------------------------------------------------------------------


def test_monthly_workbook_worked_example(tmp_path: Path) -> None:
    from pipeline.reports.monthly import write_monthly

    rec, ledgers = worked_example()
    (path,) = write_monthly(rec, ledgers, Settings(), tmp_path)
    assert path.name == "月度统计_2025-10.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        "说明",
        "业务员统计",
        "客户统计",
        "产品统计",
        "区域统计",
        "月度趋势",
        "合同完成明细",
        "发货明细",
        "回款明细",
    ]
    rows = {r["业务员"]: r for r in read_sheet(path, "业务员统计")}
    headers = list(next(wb["业务员统计"].iter_rows(max_row=1, values_only=True)))
    assert headers[:16] == [
        "业务员",
        "新签合同数",
        "新签合同额",
        "发货金额",
        "开票金额",
        "回款金额",
        "新客户数",
        "销售目标",
        "销售完成率",
        "回款目标",
        "回款完成率",
        "累计新签合同额",
        "累计发货金额",
        "累计回款金额",
        "去年同期新签合同额",
        "同比",
    ]
    zw, ln = rows[ZW], rows[LN]
    assert [zw[h] for h in ("新签合同数", "新签合同额", "发货金额", "回款金额", "新客户数")] == [
        1,
        50_000,
        0,
        0,
        0,
    ]
    assert [ln[h] for h in ("新签合同数", "新签合同额", "发货金额", "回款金额", "新客户数")] == [
        1,
        80_000,
        30_000,
        45_000,
        1,
    ]
    assert [zw[h] for h in ("累计新签合同额", "累计发货金额", "累计回款金额")] == [350_000, 250_000, 150_000]
    assert [ln[h] for h in ("累计新签合同额", "累计发货金额", "累计回款金额")] == [200_000, 150_000, 85_000]
    assert [f"{r[h]:.1%}" for r in (zw, ln) for h in ("销售完成率", "回款完成率")] == [
        "50.0%",
        "0.0%",
        "133.3%",
        "90.0%",
    ]
    ws = wb["业务员统计"]
    assert ws["I2"].number_format == "0.0%" and ws["C2"].number_format.startswith("#,##0.00")
    assert ws["C4"].value == "=SUBTOTAL(109,C2:C3)"
    trend = {r["月份"]: r for r in read_sheet(path, "月度趋势")}
    assert len(trend) == 12 and trend["2025-10"]["李娜-回款金额"] == 45_000
    assert wb["月度趋势"]._charts and wb["业务员统计"]._charts
    payments = read_sheet(path, "回款明细")
    assert [(r["凭证号"], r["回款金额"], r["来源文件"], r["行号"]) for r in payments] == [
        ("P5", 5_000, "payments.xlsx", 6),
        ("P4", 40_000, "payments.xlsx", 5),
    ]
    assert [r["发货单号"] for r in read_sheet(path, "发货明细")] == ["D5"]


def test_monthly_workbook_no_target_and_hostile_names(tmp_path: Path) -> None:
    from pipeline.reports.monthly import write_monthly

    evil = '=HYPERLINK("http://x","y")'
    contracts = contracts_frame([("C1", "2025-10-02", evil, "@SUM(A1)", yuan(1_000))])
    (path,) = write_monthly(reconciled("2025-10", contracts), Ledgers({}), Settings(), tmp_path)
    (row,) = read_sheet(path, "业务员统计")
    assert row["业务员"] == "@SUM(A1)" and row["销售完成率"] == "无目标" and row["回款完成率"] == "无目标"
    assert read_sheet(path, "客户统计")[0]["客户名称"] == evil


# ---- invariants ------------------------------------------------------------------------------------------------

_day = st.dates(min_value=date(2024, 9, 1), max_value=date(2025, 12, 31)).map(str)
_who = st.sampled_from([ZW, LN, "王强"])
_cust = st.sampled_from([HB, DF, NF])


@given(
    contracts=st.lists(st.tuples(_day, _cust, _who, st.integers(1, 10**9), st.booleans()), max_size=12),
    flows=st.lists(
        st.tuples(st.sampled_from(["deliveries", "invoices", "payments"]), _day, st.integers(0, 14), _who,
                  st.integers(-(10**8), 10**9), st.sampled_from([None, "甲", "乙"])),
        max_size=30,
    ),
)  # fmt: skip
def test_every_breakdown_partitions_the_same_money(
    contracts: list[tuple[str, str, str, int, bool]], flows: list[tuple[str, str, int, str, int, str | None]]
) -> None:
    """Σ per customer = Σ per product = Σ per region = Σ per salesperson, for every measure and window."""
    heads = contracts_frame(
        [(f"C{i}", d, c, p, a) for i, (d, c, p, a, _) in enumerate(contracts)],
        void=tuple(f"C{i}" for i, c in enumerate(contracts) if c[4]),
    )
    heads["region"] = pd.Series(["华北" if i % 2 else None for i in range(len(heads))], dtype="str")
    lines = frame("contracts", [{"contract_no": f"C{i}", "product": "甲", "amount": a // 3}
                                for i, (_, _, _, a, _) in enumerate(contracts)])  # fmt: skip
    cols = ("date", "contract_no", "customer", "salesperson", "amount", "product")
    by_kind = {
        kind: events(kind, [(d, f"C{n}", HB, p, a, prod) for k, d, n, p, a, prod in flows if k == kind], cols)
        for kind in ("deliveries", "invoices", "payments")
    }
    rec = reconciled("2025-10", heads, by_kind["deliveries"], by_kind["invoices"], by_kind["payments"])
    stats, _ = compute_stats(rec, Ledgers({"contracts": lines}), Settings())
    money = [c for c in stats.customers.columns if c.endswith(("_amount", "_count"))]
    for dim in (stats.customers, stats.products, stats.regions):
        assert dim[money].sum().to_dict() == stats.salespeople[money].sum().to_dict()
    october = stats.trend[stats.trend["month"] == "2025-10"]
    assert october["contract_amount"].sum() == stats.salespeople["contract_amount"].sum()
    assert october["payment_amount"].sum() == stats.salespeople["payment_amount"].sum()


def test_trend_sheet_of_hundreds_of_salespeople_warns_nothing(example: MonthlyStats) -> None:
    """A group's 300 salespeople: the trend sheet is built without pandas printing warnings on the console."""
    import dataclasses
    import warnings

    from pipeline.reports.monthly import trend_sheet

    months = example.trend["month"].unique().tolist()
    people = [f"业务员{i:03d}" for i in range(300)]
    trend = pd.DataFrame(
        {
            "salesperson": [p for p in people for _ in months],
            "month": months * len(people),
            "contract_amount": 100,
            "payment_amount": 7,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sheet = trend_sheet(dataclasses.replace(example, trend=trend))
    assert sheet.frame.shape == (len(months), 1 + 2 * len(people) + 2)
    assert sheet.frame["业务员299-回款金额"].tolist() == [7] * len(months)
    assert sheet.frame.iloc[:, -2].tolist() == [100 * len(people)] * len(months)
