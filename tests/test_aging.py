"""Aging: the worked example's ages, buckets, provision and credit excess; bucket edges; exact sums."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_reconcile import (
    DF,
    HB,
    LN,
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

from pipeline.aging import AgingTables, age_receivables, bucket_columns, provision_fen
from pipeline.config import Provision, Settings
from pipeline.model import Ledgers, Period
from pipeline.reconcile import reconcile


@pytest.fixture(scope="module")
def tables() -> AgingTables:
    settings = Settings()
    return age_receivables(reconcile(worked_example(), settings, OCT), settings)


def test_example_open_items_age_and_due(tables: AgingTables) -> None:
    got = {
        r["doc_no"]: (
            r["outstanding"],
            r["age_days"],
            r["bucket"],
            f"{r['due_date']:%Y-%m-%d}",
            r["overdue_days"],
        )
        for r in tables.detail.to_dict("records")
    }
    assert got == {
        "D2": (fen(100_000), 103, "91-180天", "2025-09-18", 43),
        "D3": (fen(15_000), 122, "91-180天", "2025-07-31", 92),
        "D4": (fen(60_000), 46, "31-60天", "2025-10-15", 16),
    }


def test_example_customers(tables: AgingTables) -> None:
    labels = {v: k for k, v in tables.buckets.items()}
    rows = {r["customer"]: r for r in tables.customers.to_dict("records")}
    assert set(rows) == {HB, DF, NF}
    hb, df, nf = rows[HB], rows[DF], rows[NF]
    assert (hb["unpaid"], hb[labels["91-180天"]], hb["over_limit"], hb["salesperson"]) == (
        fen(100_000),
        fen(100_000),
        0,
        ZW,
    )
    assert (df["unpaid"], df[labels["31-60天"]], df[labels["91-180天"]]) == (
        fen(75_000),
        fen(60_000),
        fen(15_000),
    )
    assert (df["credit_limit"], df["over_limit"]) == (fen(50_000), fen(25_000))
    assert (nf["unpaid"], nf["advance"], nf["net"], nf["salesperson"]) == (0, fen(10_000), -fen(10_000), LN)
    assert pd.isna(nf["credit_limit"]) and pd.isna(nf["over_limit"])
    assert (hb["provision"], df["provision"], nf["provision"]) == (fen(5_000), fen(3_750), 0)


def test_example_provision_summary_and_salespeople(tables: AgingTables) -> None:
    p = tables.provision
    assert p["provision"].sum() == fen(8_750)
    assert p.loc[p["band"] == "1年以内", ["outstanding", "provision"]].values.tolist() == [
        [fen(175_000), fen(8_750)]
    ]
    people = {r["salesperson"]: r for r in tables.salespeople.to_dict("records")}
    assert (people[ZW]["unpaid"], people[ZW]["provision"]) == (fen(100_000), fen(5_000))
    assert (people[LN]["unpaid"], people[LN]["advance"], people[LN]["overdue_amount"]) == (
        fen(75_000),
        fen(10_000),
        fen(75_000),
    )


def test_example_dunning_list_most_overdue_first(tables: AgingTables) -> None:
    d = tables.dunning
    assert d[["salesperson", "customer", "overdue_days", "contact"]].values.tolist() == [
        [ZW, HB, 43, "王工"],
        [LN, DF, 92, "赵经理"],
        [LN, DF, 16, "赵经理"],
    ]


# ---------------------------------------------------------------- edges and rounding


def _one_item(day: str, amount: float = 1_000, terms: int | None = None) -> Ledgers:
    rows = [dict(delivery_no="x", date=day, customer="甲", amount=amount)]
    customers = [dict(customer="甲", salesperson=ZW, terms_days=terms)]
    return ledgers(deliveries=ledger("deliveries", rows), customers=ledger("customers", customers))


@pytest.mark.parametrize(
    ("day", "age", "bucket", "rate_fen"),
    [
        ("2025-10-31", 0, "0-30天", 5),
        ("2025-10-01", 30, "0-30天", 5),
        ("2025-09-30", 31, "31-60天", 5),
        ("2024-10-31", 365, "181-365天", 5),
        ("2024-10-30", 366, "1-2年", 10),
        ("2023-10-31", 731, "2-3年", 30),
        ("2022-10-31", 1096, "3年以上", 50),
        ("2020-10-31", 1826, "3年以上", 100),
    ],
)
def test_bucket_and_provision_edges(day: str, age: int, bucket: str, rate_fen: int) -> None:
    settings = Settings()
    t = age_receivables(reconcile(_one_item(day, 100), settings, OCT), settings)
    row = t.detail.iloc[0]
    assert (row["age_days"], row["bucket"], row["provision"]) == (age, bucket, rate_fen * 100)


def test_not_yet_due_is_zero_overdue_and_terms_from_customer() -> None:
    settings = Settings()
    t = age_receivables(reconcile(_one_item("2025-10-01", terms=45), settings, OCT), settings)
    row = t.detail.iloc[0]
    assert (row["overdue_days"], f"{row['due_date']:%Y-%m-%d}") == (0, "2025-11-15")
    assert t.dunning.empty and t.customers.iloc[0]["overdue_amount"] == 0


def test_provision_rounds_half_up_per_item_in_integers() -> None:
    amount = np.array([10, 9, 30, 1, 3, 10**15 + 1], dtype=np.int64)
    band = np.array([0, 0, 1, 2, 2, 0])
    got = provision_fen(amount, band, (0.05, 0.15, 0.5))
    # 0.5 → 1, 0.45 → 0, 4.5 → 5, 0.5 → 1, 1.5 → 2, 50000000000000.05 → …000
    assert got.tolist() == [1, 0, 5, 1, 2, 50_000_000_000_000]


def test_configured_rates_and_buckets_are_used() -> None:
    settings = replace(
        Settings(),
        aging=replace(Settings().aging, buckets=(10,), labels=("近期", "较久")),
        provision=Provision(bounds=(100,), rates=(0.0, 0.333), labels=("百天内", "百天以上")),
    )
    t = age_receivables(reconcile(_one_item("2025-01-01", 100), settings, OCT), settings)
    assert bucket_columns(settings) == {"bucket_0": "近期", "bucket_1": "较久"}
    assert t.detail.iloc[0][["bucket", "provision"]].tolist() == ["较久", 3330]
    assert t.provision["band"].tolist() == ["百天内", "百天以上"]


# ---------------------------------------------------------------- properties


@PROPERTY
@given(random_ledgers(), st.sampled_from(["2025-03", "2025-06", "2025-12"]))
def test_buckets_sum_exactly_and_tables_agree(case: tuple[Ledgers, Settings], month: str) -> None:
    data, settings = case
    rec = reconcile(data, settings, Period.of(month))
    t = age_receivables(rec, settings)
    buckets = list(t.buckets)
    for table in (t.customers, t.salespeople):
        assert (table[buckets].sum(axis=1) == table["unpaid"]).all()
        assert (table["unpaid"] >= table["overdue_amount"]).all()
    assert t.customers["unpaid"].sum() == t.detail["outstanding"].sum() == rec.open_items["outstanding"].sum()
    assert t.customers["advance"].sum() == rec.advances["amount"].sum() == t.salespeople["advance"].sum()
    assert t.customers["provision"].sum() == t.detail["provision"].sum() == t.provision["provision"].sum()
    assert (t.customers["net"] == t.customers["unpaid"] - t.customers["advance"]).all()
    assert (t.detail["age_days"] >= 0).all() and (t.detail["overdue_days"] >= 0).all()
    assert set(t.dunning["doc_no"]) == set(t.detail.loc[t.detail["overdue_days"] > 0, "doc_no"])
