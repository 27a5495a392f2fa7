"""Receivables aging (rules.md 账龄): ages, buckets and 坏账准备 per open item; customer and salesperson views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from pipeline import reconcile
from pipeline.config import Settings
from pipeline.model import UNASSIGNED, Reconciled

# Code names of the aging frames → zh-CN headers (reconcile's shared names included); bucket columns are
# `bucket_<i>`, headed by `aging.labels`.
HEADERS: dict[str, str] = {
    **reconcile.HEADERS,
    "doc_no": "单据号",
    "basis_date": "单据日期",
    "due_date": "到期日",
    "original": "原始金额",
    "outstanding": "未收金额",
    "age_days": "账龄天数",
    "overdue_days": "逾期天数",
    "bucket": "账龄区间",
    "provision": "坏账准备",
    "terms_days": "账期天数",
    "grade": "客户等级",
    "unpaid": "未收合计",
    "overdue_amount": "逾期金额",
    "net": "净应收",
    "credit_limit": "信用额度",
    "over_limit": "超额度金额",
    "band": "账龄段",
    "rate": "计提比例",
    "contact": "联系人",
    "phone": "电话",
}
DETAIL_COLUMNS = (
    "customer", "salesperson", "contract_no", "doc_no", "basis_date", "due_date", "original", "outstanding",
    "age_days", "overdue_days", "bucket", "provision", *reconcile.LOCATION, "terms_days", "event",
)  # fmt: skip
DUNNING_COLUMNS = (
    "salesperson", "customer", "contact", "phone", "contract_no", "basis_date", "due_date", "overdue_days",
    "outstanding", "doc_no", *reconcile.LOCATION,
)  # fmt: skip


@dataclass(frozen=True)
class AgingTables:
    """The 应收账龄 workbook's frames (code-name columns; money Int64 fen)."""

    as_of: date
    detail: pd.DataFrame  # 账龄明细
    customers: pd.DataFrame  # 客户账龄
    salespeople: pd.DataFrame  # 业务员账龄
    provision: pd.DataFrame  # 坏账准备
    dunning: pd.DataFrame  # 催款清单
    buckets: dict[str, str]  # bucket column code → label, in order


def bucket_columns(settings: Settings) -> dict[str, str]:
    return {f"bucket_{i}": label for i, label in enumerate(settings.aging.labels)}


def age_receivables(reconciled: Reconciled, settings: Settings, as_of: date | None = None) -> AgingTables:
    """Every aging view of the open items and advances reconciliation left at `as_of` (default: its as_of)."""
    day = as_of or reconciled.period.as_of
    detail = aging_detail(reconciled.open_items, settings, pd.Timestamp(day))
    advances = reconciled.advances
    return AgingTables(
        as_of=day,
        detail=detail,
        customers=customer_aging(detail, advances, settings),
        salespeople=salesperson_aging(detail, advances, settings),
        provision=provision_summary(detail, settings),
        dunning=dunning_list(detail),
        buckets=bucket_columns(settings),
    )


# ---------------------------------------------------------------- per item


def aging_detail(open_items: pd.DataFrame, settings: Settings, as_of: pd.Timestamp) -> pd.DataFrame:
    """账龄明细: 账龄天数, 逾期天数, 账龄区间 and 坏账准备 for each open item, oldest first."""
    items = open_items.sort_values(["basis_date", "customer", *reconcile.LOCATION]).reset_index(drop=True)
    age = (as_of - items["basis_date"]).dt.days.to_numpy(dtype=np.int64)
    overdue = np.clip((as_of - items["due_date"]).dt.days.to_numpy(dtype=np.int64), 0, None)
    b = np.searchsorted(np.asarray(settings.aging.buckets), age, side="left")
    band = np.searchsorted(np.asarray(settings.provision.bounds), age, side="left")
    outstanding = items["outstanding"].to_numpy(dtype=np.int64)
    out = items.assign(
        age_days=age,
        overdue_days=overdue,
        bucket_index=b,
        bucket=pd.Series(np.asarray(settings.aging.labels, dtype=object)[b], dtype="str"),
        band_index=band,
        provision=pd.array(provision_fen(outstanding, band, settings.provision.rates), dtype="Int64"),
    )
    return out.reindex(columns=[*DETAIL_COLUMNS, "bucket_index", "band_index", "customer_salesperson",
                                "grade", "credit_limit", "contact", "phone"])  # fmt: skip


def provision_fen(amount: np.ndarray, band: np.ndarray, rates: tuple[float, ...]) -> np.ndarray:
    """amount × rates[band], rounded half-up to the fen, in integers (a rate is read as its decimal text)."""
    fractions = [Fraction(Decimal(str(r))) for r in rates]
    num = np.array([f.numerator for f in fractions], dtype=object)[band]
    den = np.array([f.denominator for f in fractions], dtype=object)[band]
    exact = amount.astype(object) * num * 2 + den  # Python ints: no overflow whatever the rate's precision
    return (exact // (2 * den)).astype(np.int64)


# ---------------------------------------------------------------- per customer and salesperson


def customer_aging(detail: pd.DataFrame, advances: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """客户账龄: one row per customer holding an open item or an advance, largest 未收合计 first."""
    table = _rollup(detail, advances, "customer", settings)
    info = _customer_info(detail, advances)
    table = table.join(info, on="customer")
    limit = table["credit_limit"].astype("Int64")
    over = (table["unpaid"] - limit).clip(lower=0).where(limit.notna())
    table = table.assign(over_limit=over.astype("Int64"))
    cols = ["customer", "salesperson", "grade", "unpaid", *bucket_columns(settings), "overdue_amount",
            "advance", "net", "credit_limit", "over_limit", "provision"]  # fmt: skip
    return table.sort_values(["unpaid", "customer"], ascending=[False, True])[cols].reset_index(drop=True)


def salesperson_aging(detail: pd.DataFrame, advances: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """业务员账龄: open items by their salesperson, advances by theirs."""
    table = _rollup(detail, advances, "salesperson", settings)
    cols = ["salesperson", "unpaid", *bucket_columns(settings), "overdue_amount", "advance", "provision"]
    return table.sort_values("salesperson")[cols].reset_index(drop=True)


def _rollup(detail: pd.DataFrame, advances: pd.DataFrame, key: str, settings: Settings) -> pd.DataFrame:
    """未收合计, bucket columns (which sum to it exactly), 逾期金额, 预收款, 净应收 and 坏账准备 per `key`."""
    n = len(settings.aging.labels)
    overdue = detail["outstanding"].where(detail["overdue_days"] > 0, 0)
    sums = (
        detail.assign(overdue_amount=overdue)
        .groupby(key)[["outstanding", "overdue_amount", "provision"]]
        .sum()
    )
    buckets = detail.groupby([key, "bucket_index"])["outstanding"].sum().unstack(fill_value=0)
    buckets = buckets.reindex(columns=range(n), fill_value=0)
    buckets.columns = list(bucket_columns(settings))
    advance = advances.groupby(key)["amount"].sum().rename("advance")
    keys = sums.index.union(advance.index)
    table = pd.concat([sums.reindex(keys), buckets.reindex(keys), advance.reindex(keys)], axis=1)
    table = table.fillna(0).astype("Int64").rename(columns={"outstanding": "unpaid"})
    table.index.name = key
    return table.assign(net=table["unpaid"] - table["advance"]).reset_index()


def _customer_info(detail: pd.DataFrame, advances: pd.DataFrame) -> pd.DataFrame:
    """业务员 (客户档案's, else the one holding most of the balance), 客户等级 and 信用额度 per customer."""
    cols = ["customer", "salesperson", "customer_salesperson", "grade", "credit_limit"]
    both = pd.concat(
        [
            detail[[*cols, "outstanding"]].rename(columns={"outstanding": "weight"}),
            advances.reindex(columns=[*cols, "amount"]).rename(columns={"amount": "weight"}),
        ],
        ignore_index=True,
    )
    first = both.sort_values(["customer", "weight", "salesperson"], ascending=[True, False, True])
    first = first.drop_duplicates("customer").set_index("customer")
    who = first["customer_salesperson"].fillna(first["salesperson"]).fillna(UNASSIGNED)
    return first[["grade", "credit_limit"]].assign(salesperson=who.astype("str"))


# ---------------------------------------------------------------- 坏账准备 and 催款清单


def provision_summary(detail: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """坏账准备 per age band: every band listed, with its rate, open amount and provision."""
    p = settings.provision
    sums = detail.groupby("band_index")[["outstanding", "provision"]].sum()
    sums = sums.reindex(range(len(p.rates)), fill_value=0).astype("Int64")
    return pd.DataFrame(
        {
            "band": pd.Series(p.labels, dtype="str"),
            "rate": pd.Series(p.rates, dtype="Float64"),
            "outstanding": sums["outstanding"].to_numpy(),
            "provision": sums["provision"].to_numpy(),
        }
    )


def dunning_list(detail: pd.DataFrame) -> pd.DataFrame:
    """催款清单: overdue open items per salesperson, most overdue first, with the customer's contact."""
    due = detail[detail["overdue_days"] > 0]
    due = due.sort_values(["salesperson", "overdue_days", "customer"], ascending=[True, False, True])
    return due.reindex(columns=list(DUNNING_COLUMNS)).reset_index(drop=True)
