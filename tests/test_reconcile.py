"""Reconciliation: the worked example of rules.md, allocation, 账账核对, exceptions and invariants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import Payments, Settings
from pipeline.model import UNASSIGNED, Ledgers, Period, Reconciled
from pipeline.names import merge_customer_names
from pipeline.reconcile import CHECKS, LOCATION, fifo, reconcile
from schemas import LEDGER_KINDS

HB, DF, NF = "华北电力工程有限公司", "东方建设集团", "南方水务有限公司"
ZW, LN = "张伟", "李娜"
OCT = Period.of("2025-10")
# Each example runs reconcile (tens of ms): modest counts, never more than the loaded profile (ci/dev) asks for.
PROPERTY = settings(max_examples=min(settings().max_examples, 25), deadline=None)


def fen(yuan: float) -> int:
    return round(yuan * 100)


# ---------------------------------------------------------------- builders (also used by test_aging, test_finance_reports)


def ledger(
    kind: str, rows: Sequence[dict[str, Any]], file: str | None = None, sheet: str = "Sheet1"
) -> pd.DataFrame:
    """A normalised ledger frame: declared dtypes, money given in yuan, dates as text, provenance from row 2."""
    decl = LEDGER_KINDS[kind]
    out = decl.empty_frame()
    if rows:
        raw = pd.DataFrame(list(rows))
        data: dict[str, Any] = {}
        for col in decl.columns:
            values = raw[col.name] if col.name in raw else pd.Series([None] * len(raw))
            if col.type == "money":
                values = values.map(lambda v: None if v is None or pd.isna(v) else fen(v))
            if col.type == "date":
                values = pd.to_datetime(values)
            data[col.name] = pd.Series(values.to_numpy(), dtype=out[col.name].dtype)
        out = pd.DataFrame(data)
    n = len(out)
    out["_file"] = pd.Series([file or f"{decl.label}.xlsx"] * n, dtype="str")
    out["_sheet"] = pd.Series([sheet] * n, dtype="str")
    out["_row"] = pd.Series(range(2, n + 2), dtype="Int64")
    out["_sha256"] = pd.Series(["ab" * 32] * n, dtype="str")
    return out


def ledgers(**frames: pd.DataFrame) -> Ledgers:
    return Ledgers(dict(frames))


def worked_example() -> Ledgers:
    """The worked example of rules.md, as normalised ledger frames."""
    customers = [
        dict(customer=HB, salesperson=ZW, credit_limit=500_000, terms_days=60, contact="王工", phone="010-1"),
        dict(
            customer=DF, salesperson=LN, credit_limit=50_000, terms_days=30, contact="赵经理", phone="021-2"
        ),
    ]
    contracts = [
        dict(contract_no="HT-2025-001", date="2025-03-10", customer=HB, salesperson=ZW, amount=300_000),
        dict(contract_no="HT-2025-002", date="2025-06-15", customer=DF, salesperson=LN, amount=120_000),
        dict(contract_no="HT-2025-003", date="2025-10-08", customer=NF, salesperson=LN, amount=80_000),
        dict(contract_no="HT-2025-004", date="2025-10-20", customer=HB, salesperson=ZW, amount=50_000),
    ]
    deliveries = [
        dict(delivery_no="D1", date="2025-04-01", contract_no="HT-2025-001", customer=HB, amount=100_000),
        dict(delivery_no="D2", date="2025-07-20", contract_no="HT-2025-001", customer=HB, amount=150_000),
        dict(delivery_no="D3", date="2025-07-01", contract_no="HT-2025-002", customer=DF, amount=60_000),
        dict(delivery_no="D4", date="2025-09-15", contract_no="HT-2025-002", customer=DF, amount=60_000),
        dict(delivery_no="D5", date="2025-10-25", contract_no="HT-2025-003", customer=NF, amount=30_000),
        dict(delivery_no="D6", date="2025-11-05", contract_no="HT-2025-004", customer=HB, amount=50_000),
    ]
    payments = [
        dict(
            voucher_no="P1",
            date="2025-05-10",
            customer=HB,
            contract_no="HT-2025-001",
            amount=100_000,
            salesperson=ZW,
        ),
        dict(voucher_no="P2", date="2025-09-30", customer=HB, amount=50_000, salesperson=ZW),
        dict(
            voucher_no="P3",
            date="2025-08-01",
            customer=DF,
            contract_no="HT-2025-002",
            amount=40_000,
            salesperson=LN,
        ),
        dict(
            voucher_no="P4",
            date="2025-10-28",
            customer=NF,
            contract_no="HT-2025-003",
            amount=40_000,
            salesperson=LN,
        ),
        dict(voucher_no="P5", date="2025-10-15", customer=DF, amount=5_000),
    ]
    return ledgers(
        customers=ledger("customers", customers),
        contracts=ledger("contracts", contracts),
        deliveries=ledger("deliveries", deliveries),
        payments=ledger("payments", payments),
    )


def by(frame: pd.DataFrame, key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in frame.to_dict("records")}


# ---------------------------------------------------------------- the worked example


@pytest.fixture(scope="module")
def example() -> Reconciled:
    return reconcile(worked_example(), Settings(), OCT)


def test_example_open_items(example: Reconciled) -> None:
    items = example.open_items
    got = {
        r["doc_no"]: (r["outstanding"], f"{r['due_date']:%Y-%m-%d}", r["contract_no"], r["salesperson"])
        for r in items.to_dict("records")
    }
    assert got == {
        "D2": (fen(100_000), "2025-09-18", "HT-2025-001", ZW),
        "D3": (fen(15_000), "2025-07-31", "HT-2025-002", LN),
        "D4": (fen(60_000), "2025-10-15", "HT-2025-002", LN),
    }


def test_example_advances(example: Reconciled) -> None:
    adv = example.advances
    assert adv[["customer", "contract_no", "amount"]].values.tolist() == [[NF, "HT-2025-003", fen(10_000)]]


def test_example_contracts(example: Reconciled) -> None:
    ex = by(example.execution, "contract_no")
    expected = {  # 发货, 回款, 应收, 预收, 未发货, 执行状态
        "HT-2025-001": (250_000, 150_000, 100_000, 0, 50_000, "部分发货"),
        "HT-2025-002": (120_000, 45_000, 75_000, 0, 0, "已发货未结清"),
        "HT-2025-003": (30_000, 40_000, 0, 10_000, 50_000, "部分发货"),
        "HT-2025-004": (0, 0, 0, 0, 50_000, "未发货"),
    }
    for no, (shipped, paid, open_, advance, undelivered, status) in expected.items():
        row = ex[no]
        assert (row["delivered"], row["paid"], row["receivable"]) == (fen(shipped), fen(paid), fen(open_)), no
        assert (row["advance"], row["undelivered"], row["exec_status"]) == (
            fen(advance),
            fen(undelivered),
            status,
        )


def test_example_payment_five_goes_to_lina_through_customer_file(example: Reconciled) -> None:
    p5 = by(example.payments, "voucher_no")["P5"]
    assert p5["salesperson"] == LN
    rows = example.allocations[example.allocations["_row"] == 6]  # P5 is the 5th payment row
    assert rows[["to_contract", "to_doc", "allocated", "method"]].values.tolist() == [
        ["HT-2025-002", "D3", fen(5_000), "先进先出"]
    ]


def test_example_has_no_reconcile_problems(example: Reconciled) -> None:
    assert example.problems == []  # its unknown customer is names.py's to report, row by row


def test_example_unknown_customer_located_in_every_row_it_appears() -> None:
    _, problems = merge_customer_names(worked_example().frames, lambda file, sheet, code: ("C", "客户名称"))
    flat = [(p.file, p.row, p.column, p.code, p.value) for p in problems]
    assert flat == [
        (f, row, "C", "unknown-customer", NF) for f, row in [("合同台账.xlsx", 4), ("发货台账.xlsx", 6), ("回款台账.xlsx", 5)]
    ]


def test_example_frames_hand_over_counted_rows(example: Reconciled) -> None:
    assert example.deliveries["delivery_no"].tolist() == ["D1", "D2", "D3", "D4", "D5", "D6"]  # every date
    assert example.matching.empty
    assert example.contracts.set_index("contract_no")["amount"].sum() == fen(550_000)


# ---------------------------------------------------------------- ownership, terms, voids


def test_salesperson_falls_back_to_unassigned_with_warning() -> None:
    data = ledgers(
        deliveries=ledger(
            "deliveries", [dict(date="2025-10-02", customer="无名客户", amount=10, delivery_no="X")]
        )
    )
    rec = reconcile(data, Settings(), OCT)
    assert rec.deliveries["salesperson"].tolist() == [UNASSIGNED]
    assert [(p.row, p.code, p.severity) for p in rec.problems] == [(2, "unassigned-salesperson", "warning")]


def test_terms_from_contract_then_text_then_customer_then_default() -> None:
    data = ledgers(
        customers=ledger("customers", [dict(customer="甲", terms_days=45), dict(customer="乙")]),
        contracts=ledger(
            "contracts",
            [
                dict(
                    contract_no="C1",
                    date="2025-01-01",
                    customer="甲",
                    salesperson=ZW,
                    amount=100,
                    terms_days=10,
                ),
                dict(
                    contract_no="C2",
                    date="2025-01-01",
                    customer="甲",
                    salesperson=ZW,
                    amount=100,
                    payment_terms="货到20天付款",
                ),
            ],
        ),
        deliveries=ledger(
            "deliveries",
            [
                dict(delivery_no="a", date="2025-10-01", customer="甲", contract_no="C1", amount=1),
                dict(delivery_no="b", date="2025-10-01", customer="甲", contract_no="C2", amount=1),
                dict(delivery_no="c", date="2025-10-01", customer="甲", amount=1),
                dict(delivery_no="d", date="2025-10-01", customer="乙", amount=1),
            ],
        ),
    )
    items = reconcile(data, Settings(), OCT).open_items
    assert dict(zip(items["doc_no"], items["terms_days"], strict=True)) == {
        "a": 10,
        "b": 20,
        "c": 45,
        "d": 30,
    }


def test_void_rows_drop_out_and_void_contracts_keep_their_flows() -> None:
    data = ledgers(
        contracts=ledger(
            "contracts",
            [
                dict(
                    contract_no="C1",
                    date="2025-01-01",
                    customer="甲",
                    salesperson=ZW,
                    amount=500,
                    status="作废",
                )
            ],
        ),
        deliveries=ledger(
            "deliveries",
            [
                dict(delivery_no="a", date="2025-10-01", customer="甲", contract_no="C1", amount=100),
                dict(
                    delivery_no="b",
                    date="2025-10-01",
                    customer="甲",
                    contract_no="C1",
                    amount=70,
                    status="作废",
                ),
            ],
        ),
    )
    rec = reconcile(data, Settings(), OCT)
    row = rec.execution.iloc[0]
    assert pd.isna(row["contract_amount"]) and row["void_amount"] == fen(500)
    assert (row["delivered"], row["receivable"], row["exec_status"]) == (fen(100), fen(100), "作废")
    assert rec.deliveries["delivery_no"].tolist() == ["a"]


# ---------------------------------------------------------------- allocation rules


def _alloc_case(payments: list[dict[str, Any]], deliveries: list[dict[str, Any]], **kw: Any) -> Reconciled:
    contracts = [
        dict(contract_no=c, date="2025-01-01", customer="甲", salesperson=ZW, amount=1_000)
        for c in ("C1", "C2")
    ]
    data = ledgers(
        contracts=ledger("contracts", contracts),
        deliveries=ledger("deliveries", deliveries),
        payments=ledger("payments", payments),
        **kw,
    )
    return reconcile(data, kw.pop("settings", Settings()), OCT)


def test_named_credits_run_before_unnamed_ones_whatever_their_dates() -> None:
    rec = _alloc_case(
        payments=[
            dict(voucher_no="early", date="2025-02-01", customer="甲", amount=100),  # FIFO, but after step 1
            dict(voucher_no="late", date="2025-09-01", customer="甲", contract_no="C2", amount=100),
        ],
        deliveries=[
            dict(delivery_no="d1", date="2025-03-01", customer="甲", contract_no="C1", amount=100),
            dict(delivery_no="d2", date="2025-01-15", customer="甲", contract_no="C2", amount=100),
        ],
    )
    alloc = rec.allocations.set_index("to_doc")
    assert alloc.loc["d2", "method"] == "指定合同" and alloc.loc["d1", "method"] == "先进先出"
    assert rec.open_items.empty and rec.advances.empty


def test_advance_on_a_contract_is_not_spent_on_another() -> None:
    rec = _alloc_case(
        payments=[dict(voucher_no="p", date="2025-09-01", customer="甲", contract_no="C1", amount=300)],
        deliveries=[
            dict(delivery_no="d1", date="2025-03-01", customer="甲", contract_no="C1", amount=100),
            dict(delivery_no="d2", date="2025-04-01", customer="甲", contract_no="C2", amount=100),
        ],
    )
    assert rec.open_items["doc_no"].tolist() == ["d2"]
    assert rec.advances[["contract_no", "amount"]].values.tolist() == [["C1", fen(200)]]


def test_payment_dated_before_the_delivery_still_settles_it() -> None:
    rec = _alloc_case(
        payments=[dict(voucher_no="p", date="2025-01-05", customer="甲", amount=100)],
        deliveries=[dict(delivery_no="d1", date="2025-10-01", customer="甲", contract_no="C1", amount=100)],
    )
    assert rec.open_items.empty and rec.advances.empty


def test_return_is_a_credit_and_nets_delivered_amount() -> None:
    rec = _alloc_case(
        payments=[],
        deliveries=[
            dict(delivery_no="d1", date="2025-03-01", customer="甲", contract_no="C1", amount=100),
            dict(delivery_no="d2", date="2025-04-01", customer="甲", contract_no="C1", amount=100),
            dict(
                delivery_no="r1",
                date="2025-05-01",
                customer="甲",
                contract_no="C1",
                amount=30,
                delivery_type="退货",
            ),
        ],
    )
    assert rec.open_items[["doc_no", "outstanding"]].values.tolist() == [["d1", fen(70)], ["d2", fen(100)]]
    ex = by(rec.execution, "contract_no")["C1"]
    assert (ex["delivered"], ex["paid"]) == (fen(170), 0)
    assert rec.deliveries.set_index("delivery_no").loc["r1", "amount"] == -fen(30)


def test_invoice_basis_uses_invoices_and_red_invoices() -> None:
    settings = replace(Settings(), aging=replace(Settings().aging, basis="invoice"))
    rec = _alloc_case(
        payments=[dict(voucher_no="p", date="2025-09-01", customer="甲", amount=50)],
        deliveries=[dict(delivery_no="d1", date="2025-03-01", customer="甲", contract_no="C1", amount=500)],
        invoices=ledger(
            "invoices",
            [
                dict(invoice_no="i1", date="2025-03-05", customer="甲", contract_no="C1", amount=300),
                dict(invoice_no="i2", date="2025-03-06", customer="甲", contract_no="C1", amount=-100),
            ],
        ),
        settings=settings,
    )
    assert rec.open_items[["doc_no", "outstanding"]].values.tolist() == [["i1", fen(150)]]
    ex = by(rec.execution, "contract_no")["C1"]
    assert (ex["delivered"], ex["invoiced"], ex["receivable"]) == (fen(500), fen(200), fen(150))


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 500)), max_size=12),
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 500)), max_size=12),
)
def test_fifo_matches_a_plain_loop(items: list[tuple[int, int]], credits: list[tuple[int, int]]) -> None:
    items, credits = sorted(items, key=lambda t: t[0]), sorted(credits, key=lambda t: t[0])
    arr = [np.array([x[i] for x in rows], dtype=np.int64) for rows in (items, credits) for i in (0, 1)]
    got = fifo(*arr)
    applied, leftover, pieces = _loop_fifo(items, credits)
    assert got.applied.tolist() == applied and got.leftover.tolist() == leftover
    assert sorted(zip(got.item.tolist(), got.credit.tolist(), got.allocated.tolist(), strict=True)) == sorted(
        pieces
    )


def _loop_fifo(
    items: list[tuple[int, int]], credits: list[tuple[int, int]]
) -> tuple[list[int], list[int], list[tuple[int, int, int]]]:
    applied, leftover, pieces = [0] * len(items), [a for _, a in credits], []
    for ci, (cp, _) in enumerate(credits):
        for ii, (ip, amount) in enumerate(items):
            take = min(amount - applied[ii], leftover[ci]) if ip == cp else 0
            if take > 0:
                applied[ii] += take
                leftover[ci] -= take
                pieces.append((ii, ci, take))
    return applied, leftover, pieces


# ---------------------------------------------------------------- 账账核对


def _sides(
    fin: list[tuple[str, str, float]],
    sales: list[tuple[str, str, float, str | None]],
    authority: str = "finance",
) -> Reconciled:
    rows = [dict(voucher_no=v, date=d, customer="甲", amount=a, source="财务") for v, d, a in fin]
    rows += [
        dict(voucher_no=v, date=d, customer="甲", amount=a, contract_no=c, source="销售")
        for v, d, a, c in sales
    ]
    settings = replace(Settings(), payments=Payments(authority=authority))
    return reconcile(ledgers(payments=ledger("payments", rows)), settings, OCT)


def _pairs(rec: Reconciled) -> list[tuple[str, Any, Any]]:
    m = rec.matching
    return [
        (s, None if pd.isna(sd) else f"{sd:%m-%d}", None if pd.isna(fd) else f"{fd:%m-%d}")
        for s, sd, fd in m[["match_status", "sales_date", "finance_date"]].itertuples(index=False)
    ]


def test_matching_takes_the_closest_date_first() -> None:
    rec = _sides([("F1", "2025-10-10", 100), ("F2", "2025-10-11", 100)], [("S1", "2025-10-11", 100, None)])
    assert _pairs(rec) == [("已匹配", "10-11", "10-11"), ("销售未登记", None, "10-10")]


def test_matching_tie_takes_the_earlier_sales_row() -> None:
    rec = _sides(
        [("F1", "2025-10-10", 100)], [("S1", "2025-10-12", 100, "C1"), ("S2", "2025-10-08", 100, "C2")]
    )
    assert _pairs(rec) == [("已匹配", "10-08", "10-10"), ("财务未到账", "10-12", None)]
    assert rec.matching["contract_no"].tolist() == ["C2", "C1"]


def test_matching_is_one_to_one_within_tolerance_and_amount() -> None:
    rec = _sides(
        [
            ("F1", "2025-10-10", 100),
            ("F2", "2025-10-13", 100),
            ("F3", "2025-10-20", 100),
            ("F4", "2025-10-20", 99),
        ],
        [("S1", "2025-10-10", 100, None), ("S2", "2025-10-12", 100, None), ("S3", "2025-10-24", 100, None)],
    )
    assert _pairs(rec) == [
        ("已匹配", "10-10", "10-10"),
        ("已匹配", "10-12", "10-13"),
        ("销售未登记", None, "10-20"),
        ("销售未登记", None, "10-20"),
        ("财务未到账", "10-24", None),
    ]
    assert rec.matching["date_diff"].tolist()[:2] == [0, 1]


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("finance", [("10-11", 100, "C1", "已匹配"), ("10-20", 70, None, "财务")]),
        ("sales", [("10-11", 100, "C1", "已匹配"), ("10-25", 40, None, "销售")]),
        ("union", [("10-11", 100, "C1", "已匹配"), ("10-20", 70, None, "财务"), ("10-25", 40, None, "销售")]),
    ],
)
def test_authority_decides_which_unmatched_rows_count(
    authority: str, expected: list[tuple[Any, ...]]
) -> None:
    rec = _sides(
        [("F1", "2025-10-11", 100), ("F2", "2025-10-20", 70)],
        [("S1", "2025-10-09", 100, "C1"), ("S2", "2025-10-25", 40, None)],
        authority,
    )
    got = sorted(
        (f"{d:%m-%d}", a // 100, None if pd.isna(c) else c, s)
        for d, a, c, s in rec.payments[["date", "amount", "contract_no", "side"]].itertuples(index=False)
    )
    assert got == expected


def test_one_side_only_counts_every_row_without_matching() -> None:
    rec = _sides([("F1", "2025-10-11", 100)], [])
    assert rec.matching.empty and rec.payments["amount"].tolist() == [fen(100)]


# ---------------------------------------------------------------- exceptions: one test per type


def _exceptions(**frames: pd.DataFrame) -> list[tuple[Any, ...]]:
    rec = reconcile(ledgers(**frames), Settings(), OCT)
    rows = rec.exceptions[["type", "contract_no", *LOCATION, "amount"]].astype(object)
    return [tuple(None if pd.isna(v) else v for v in r) for r in rows.itertuples(index=False)]


def _contract(no: str = "C1", customer: str = "甲", amount: float = 100, **kw: Any) -> dict[str, Any]:
    return dict(contract_no=no, date="2025-01-01", customer=customer, salesperson=ZW, amount=amount, **kw)


def _delivery(
    no: str, day: str, amount: float, contract: str | None = "C1", customer: str = "甲", **kw: Any
) -> dict[str, Any]:
    return dict(delivery_no=no, date=day, customer=customer, contract_no=contract, amount=amount, **kw)


def _invoice(
    no: str, day: str, amount: float, contract: str | None = "C1", customer: str = "甲"
) -> dict[str, Any]:
    return dict(invoice_no=no, date=day, customer=customer, contract_no=contract, amount=amount)


def test_exception_unknown_contract() -> None:
    got = _exceptions(
        contracts=ledger("contracts", [_contract()]),
        deliveries=ledger("deliveries", [_delivery("d1", "2025-10-01", 10)]),
        invoices=ledger(
            "invoices", [_invoice("i1", "2025-10-01", 10), _invoice("i2", "2025-10-02", 20, "C9")]
        ),
    )
    assert got == [("合同不存在", "C9", "开票台账.xlsx", "Sheet1", 3, fen(20))]


def test_exception_customer_differs_from_contract() -> None:
    got = _exceptions(
        contracts=ledger("contracts", [_contract(amount=1000)]),
        payments=ledger("payments", [dict(date="2025-10-03", customer="乙", contract_no="C1", amount=5)]),
        deliveries=ledger(
            "deliveries", [_delivery("d1", "2025-10-20", 5), _delivery("d2", "2025-10-20", 5, None, "乙")]
        ),
    )
    assert got == [("客户与合同不符", "C1", "回款台账.xlsx", "Sheet1", 2, fen(5))]


def test_exception_over_delivery_names_the_row_that_crossed() -> None:
    deliveries = [
        _delivery("d1", "2025-10-01", 60),
        _delivery("d2", "2025-10-05", 50),
        _delivery("d3", "2025-10-03", 30),
    ]
    invoices = [_invoice("i1", "2025-10-06", 140)]
    got = _exceptions(
        contracts=ledger("contracts", [_contract()]),
        deliveries=ledger("deliveries", deliveries),
        invoices=ledger("invoices", invoices),
    )
    assert got == [("超发", "C1", "发货台账.xlsx", "Sheet1", 3, fen(40))]


def test_exception_over_invoicing() -> None:
    got = _exceptions(
        contracts=ledger("contracts", [_contract(amount=1000)]),
        deliveries=ledger("deliveries", [_delivery("d1", "2025-10-01", 100)]),
        invoices=ledger("invoices", [_invoice("i1", "2025-10-02", 80), _invoice("i2", "2025-10-03", 30)]),
    )
    assert got == [("超开票", "C1", "开票台账.xlsx", "Sheet1", 3, fen(10))]


def test_exception_delivered_not_invoiced_after_n_days() -> None:
    deliveries = [
        _delivery("d1", "2025-09-01", 100),
        _delivery("d2", "2025-09-15", 50),
        _delivery("d3", "2025-10-20", 80),
    ]
    got = _exceptions(
        contracts=ledger("contracts", [_contract(amount=1000)]),
        deliveries=ledger("deliveries", deliveries),
        invoices=ledger("invoices", [_invoice("i1", "2025-09-20", 120)]),
    )
    # d1 is covered by the invoice, 30 of d2 is not (46 days old); d3 is only 11 days old
    assert got == [("已发货未开票", "C1", "发货台账.xlsx", "Sheet1", 3, fen(30))]


def test_exception_payment_beyond_what_was_owed_unless_prepaid_by_contract() -> None:
    contracts = [_contract(amount=1000), _contract("C2", customer="乙", amount=500, payment_terms="款到发货")]
    payments = [
        dict(voucher_no="p1", date="2025-10-01", customer="甲", amount=80),
        dict(voucher_no="p2", date="2025-10-02", customer="甲", amount=50),
        dict(voucher_no="p3", date="2025-10-02", customer="乙", contract_no="C2", amount=500),
    ]
    invoices = [_invoice("i1", "2025-10-01", 100)]
    got = _exceptions(
        contracts=ledger("contracts", contracts),
        deliveries=ledger("deliveries", [_delivery("d1", "2025-10-01", 100)]),
        invoices=ledger("invoices", invoices),
        payments=ledger("payments", payments),
    )
    assert got == [("超额回款", None, "回款台账.xlsx", "Sheet1", 3, fen(30))]


def test_exception_same_document_in_two_files_with_different_content() -> None:
    a = ledger(
        "deliveries", [_delivery("d1", "2025-10-01", 100), _delivery("d2", "2025-10-01", 10)], file="a.xlsx"
    )
    b = ledger(
        "deliveries", [_delivery("d1", "2025-10-01", 120), _delivery("d2", "2025-10-01", 10)], file="b.xlsx"
    )
    invoices = [_invoice("i1", "2025-10-02", 240)]
    got = _exceptions(
        contracts=ledger("contracts", [_contract(amount=1000)]),
        deliveries=pd.concat([a, b], ignore_index=True),
        invoices=ledger("invoices", invoices),
    )
    assert got == [
        ("重复记录不一致", "C1", "a.xlsx", "Sheet1", 2, fen(100)),
        ("重复记录不一致", "C1", "b.xlsx", "Sheet1", 2, fen(120)),
    ]


def test_exception_activity_on_a_void_contract() -> None:
    got = _exceptions(
        contracts=ledger("contracts", [_contract(status="已解除")]),
        deliveries=ledger("deliveries", [_delivery("d1", "2025-10-01", 10)]),
        invoices=ledger("invoices", [_invoice("i1", "2025-10-01", 10)]),
        payments=ledger("payments", [dict(date="2025-10-02", customer="甲", contract_no="C1", amount=10)]),
    )
    assert got == [
        ("作废合同仍有业务", "C1", "发货台账.xlsx", "Sheet1", 2, fen(10)),
        ("作废合同仍有业务", "C1", "回款台账.xlsx", "Sheet1", 2, fen(10)),
        ("作废合同仍有业务", "C1", "开票台账.xlsx", "Sheet1", 2, fen(10)),
    ]


def test_every_check_has_a_test_above() -> None:
    names = {c.__name__ for c in CHECKS}
    tested = {n.replace("test_exception_", "") for n in globals() if n.startswith("test_exception_")}
    assert len(names) == len(tested) == 8


# ---------------------------------------------------------------- properties over random ledgers

CUSTOMERS = ("甲", "乙", "丙")
DAYS = pd.date_range("2024-06-01", "2025-12-31").strftime("%Y-%m-%d").tolist()


@st.composite
def random_ledgers(draw: st.DrawFn) -> tuple[Ledgers, Settings]:
    contract_rows = [
        _contract(f"C{i}", draw(st.sampled_from(CUSTOMERS)), draw(st.integers(1, 5_000)),
                  status=draw(st.sampled_from([None, None, "执行中", "作废"])),
                  terms_days=draw(st.sampled_from([None, 15, 60])))
        for i in range(draw(st.integers(0, 4)))
    ]  # fmt: skip
    refs = st.sampled_from([None, "C0", "C1", "C2", "C9"])
    money = st.integers(-300, 3_000).filter(bool)
    deliveries = [
        _delivery(
            f"d{i}", draw(st.sampled_from(DAYS)), draw(money), draw(refs), draw(st.sampled_from(CUSTOMERS))
        )
        for i in range(draw(st.integers(0, 10)))
    ]
    invoices = [
        _invoice(
            f"i{i}", draw(st.sampled_from(DAYS)), draw(money), draw(refs), draw(st.sampled_from(CUSTOMERS))
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    payments = [
        dict(voucher_no=f"p{i}", date=draw(st.sampled_from(DAYS)), customer=draw(st.sampled_from(CUSTOMERS)),
             contract_no=draw(refs), amount=draw(st.integers(-50, 3_000).filter(bool)),
             source=draw(st.sampled_from([None, "销售", "财务"])))
        for i in range(draw(st.integers(0, 10)))
    ]  # fmt: skip
    customers: list[dict[str, Any]] = [
        dict(customer="甲", terms_days=45, credit_limit=1000),
        dict(customer="乙", salesperson=LN),
    ]
    base = Settings()
    config = replace(
        base,
        aging=replace(base.aging, basis=draw(st.sampled_from(["delivery", "invoice"]))),
        payments=Payments(authority=draw(st.sampled_from(["finance", "sales", "union"]))),
    )
    data = ledgers(
        customers=ledger("customers", customers),
        contracts=ledger("contracts", contract_rows),
        deliveries=ledger("deliveries", deliveries),
        invoices=ledger("invoices", invoices),
        payments=ledger("payments", payments),
    )
    return data, config


AS_OF = Period.of("2025-06")


def _per_customer(frame: pd.DataFrame, value: str) -> dict[str, int]:
    return {k: int(v) for k, v in frame.groupby("customer")[value].sum().items() if v != 0}


@PROPERTY
@given(random_ledgers())
def test_balance_invariant_per_customer(case: tuple[Ledgers, Settings]) -> None:
    data, settings = case
    rec = reconcile(data, settings, AS_OF)
    as_of = pd.Timestamp(AS_OF.as_of)
    docs = rec.invoices if settings.aging.basis == "invoice" else rec.deliveries
    owed = pd.concat(
        [docs.loc[docs["date"] <= as_of, ["customer", "amount"]],
         rec.payments.loc[rec.payments["date"] <= as_of, ["customer", "amount"]].assign(amount=lambda f: -f["amount"])]
    )  # fmt: skip
    held = pd.concat(
        [rec.open_items[["customer", "outstanding"]].rename(columns={"outstanding": "amount"}),
         rec.advances[["customer", "amount"]].assign(amount=lambda f: -f["amount"])]
    )  # fmt: skip
    assert _per_customer(owed, "amount") == _per_customer(held, "amount")
    assert (rec.open_items["outstanding"] > 0).all() and (rec.advances["amount"] > 0).all()
    credited = rec.allocations.groupby(LOCATION[0])["allocated"].sum().sum()
    assert credited == rec.allocations.drop_duplicates([*LOCATION, "event"])["credit_amount"].sum()


@PROPERTY
@given(random_ledgers(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_row_order(case: tuple[Ledgers, Settings], rnd: Any) -> None:
    data, settings = case
    shuffled = Ledgers(
        {k: f.sample(frac=1, random_state=rnd.randint(0, 2**31)) for k, f in data.frames.items()}
    )
    a, b = reconcile(data, settings, AS_OF), reconcile(shuffled, settings, AS_OF)
    for name in ("open_items", "advances", "execution", "allocations", "exceptions", "matching", "payments"):
        left, right = getattr(a, name), getattr(b, name)
        if name == "payments":
            left, right = (f.sort_values([*LOCATION]).reset_index(drop=True) for f in (left, right))
        pd.testing.assert_frame_equal(left, right, obj=name)


@PROPERTY
@given(random_ledgers(), st.lists(st.sampled_from(["a.xlsx", "b.xlsx", "c.csv"]), min_size=40, max_size=40))
def test_result_does_not_depend_on_how_rows_are_split_into_files(
    case: tuple[Ledgers, Settings], files: list[str]
) -> None:
    data, settings = case
    split = Ledgers({k: _resplit(f, files) for k, f in data.frames.items()})
    a, b = reconcile(data, settings, AS_OF), reconcile(split, settings, AS_OF)
    for name in ("open_items", "advances", "execution", "allocations", "exceptions", "matching"):
        pd.testing.assert_frame_equal(_content(getattr(a, name)), _content(getattr(b, name)), obj=name)


def _resplit(frame: pd.DataFrame, files: list[str]) -> pd.DataFrame:
    """The same rows spread over other files, each file numbering its rows from 2."""
    out = frame.assign(_file=pd.Series(files[: len(frame)], index=frame.index, dtype="str"))
    return out.assign(_row=(out.groupby("_file").cumcount() + 2).astype("Int64"))


def _content(frame: pd.DataFrame) -> pd.DataFrame:
    provenance = {*LOCATION, "sales_file", "sales_sheet", "sales_row"}
    rest = frame.drop(columns=[c for c in frame.columns if c in provenance])
    return rest.sort_values(list(rest.columns)).reset_index(drop=True)


def test_as_of_cuts_balances_but_not_the_handed_over_rows() -> None:
    rec = reconcile(worked_example(), Settings(), Period.of("2025-10", as_of=date(2025, 7, 31)))
    assert set(rec.open_items["doc_no"]) == {"D2", "D3"}
    assert set(rec.execution["contract_no"]) == {"HT-2025-001", "HT-2025-002"}
    assert len(rec.deliveries) == 6


def test_exceptions_checked_in_a_forked_child_are_the_same(example: Reconciled) -> None:
    from pipeline.children import forked

    aside = reconcile(worked_example(), Settings(), OCT, aside=forked)
    for name in ("exceptions", "execution", "open_items", "allocations"):
        pd.testing.assert_frame_equal(getattr(aside, name), getattr(example, name))
    assert len(example.exceptions) > 0


maybe_text = st.none() | st.sampled_from(["", "A", "B", "甲", "乙"])
event_rows_ = st.lists(
    st.tuples(
        st.none() | st.dates(date(2025, 1, 1), date(2025, 1, 3)),
        st.sampled_from(["发货", "开票", "回款", "退货"]),
        maybe_text,
        st.none() | st.integers(-2, 2),
        maybe_text,
        maybe_text,
        maybe_text,
        maybe_text,
        st.none() | st.integers(1, 3),
    ),
    max_size=30,
)


@given(event_rows_)
def test_event_order_sorts_by_every_key_stably_missing_date_and_doc_first(rows: list[tuple[Any, ...]]) -> None:
    """Ties between events decide which invoice a payment settles: the order must be exactly EVENT_ORDER's."""
    from pipeline.reconcile import EVENT_DTYPES, EVENT_ORDER, event_order

    cols = ["date", "event", "doc_no", "amount", "contract_no", "salesperson", *LOCATION]
    frame = pd.DataFrame(rows, columns=cols, dtype=object).assign(customer="甲").astype(EVENT_DTYPES)
    when = frame["date"].to_numpy(dtype="datetime64[s]").astype(np.int64)  # NaT: the smallest
    reference = frame.assign(_when=when, _has_doc=frame["doc_no"].notna()).sort_values(
        ["_when", "event", "_has_doc", *EVENT_ORDER[2:]], kind="stable", na_position="last"
    )
    assert event_order(frame).tolist() == reference.index.tolist()
