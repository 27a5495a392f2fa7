"""Monthly statistics: figures per salesperson, customer, product and region, with targets, rates and trend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Settings
from pipeline.frames import isin
from pipeline.model import UNASSIGNED, Ledgers, Period, Reconciled
from pipeline.problems import Problem
from pipeline.reconcile import SETTLED

MEASURES = ("contract", "delivery", "invoice", "payment")
WINDOWS = ("", "ytd_", "ly_")  # column prefixes: the month, 1 Jan → as_of, the same month last year
DIMENSIONS = ("salesperson", "customer", "product", "region")
NO_PRODUCT = "未指明产品"
NO_REGION = "未指明区域"
TARGET_COLUMNS = ("sales_target", "payment_target", "new_customer_target")
SALES_MEASURE_COLUMN = {
    "contract": "contract_amount",
    "delivery": "delivery_amount",
    "invoice": "invoice_amount",
}
# Columns of the salesperson frame, in the order of 业务员统计 (outputs.md), then extras.
SALESPERSON_COLUMNS = (
    "salesperson",
    "contract_count",
    "contract_amount",
    "delivery_amount",
    "invoice_amount",
    "payment_amount",
    "new_customers",
    "sales_target",
    "sales_rate",
    "payment_target",
    "payment_rate",
    "ytd_contract_amount",
    "ytd_delivery_amount",
    "ytd_payment_amount",
    "ly_contract_amount",
    "yoy",
    "new_customer_target",
    "ytd_contract_count",
    "ytd_invoice_amount",
    "ly_payment_amount",
)


@dataclass(frozen=True)
class Windows:
    """The reporting windows as month indexes (months since 1970-01) plus day cut-offs."""

    month: int  # the period's month index
    first: date  # first day of the month window
    last: date  # last day counted in the month window (month end, or as_of when earlier)
    as_of: date
    ly_last: date  # the same cut-off one year earlier

    @property
    def jan(self) -> int:
        return self.month - self.month % 12

    @staticmethod
    def of(period: Period) -> Windows:
        last = min(period.end, period.as_of)
        ly_last = (pd.Timestamp(last) - pd.DateOffset(years=1)).date()
        month = (period.year - 1970) * 12 + period.month - 1
        return Windows(month, period.start, last, period.as_of, ly_last)

    def label(self, month_index: int) -> str:
        return f"{1970 + month_index // 12:04d}-{month_index % 12 + 1:02d}"

    @property
    def trend_months(self) -> list[str]:
        """YYYY-MM of the 12 months ending with the period, oldest first."""
        return [self.label(m) for m in range(self.month - 11, self.month + 1)]


@dataclass(frozen=True)
class MonthlyStats:
    """Everything 月度统计 shows, in code-name columns (money Int64 fen, rates Float64, NA rate = 无目标)."""

    period: Period
    salespeople: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    regions: pd.DataFrame
    trend: pd.DataFrame  # salesperson, month (YYYY-MM), contract_amount, payment_amount — 12 months
    targets: pd.DataFrame  # salesperson, month 1–12, sales/payment/new_customer targets for the year
    new_customers: pd.DataFrame  # customer, salesperson, first_date — customers new in the month
    contracts: pd.DataFrame  # 合同完成明细: execution rows of contracts active in the month
    deliveries: pd.DataFrame  # 发货明细
    payments: pd.DataFrame  # 回款明细


def compute_stats(
    reconciled: Reconciled, ledgers: Ledgers, settings: Settings, *, contract_list: bool = True
) -> tuple[MonthlyStats, list[Problem]]:
    """Monthly statistics of reconciled.period; no problems of its own so far (reconcile reports the input).
    contract_list=False leaves 合同完成明细 empty, for a caller that lists it itself (active_contracts)."""
    w = Windows.of(reconciled.period)
    events, by_product = _events(reconciled, ledgers, w)
    cube = _grouped(events, ["salesperson", "customer", "region"])  # one pass over the big frame
    grouped = {key: _grouped(cube, [key]) for key in ("salesperson", "customer", "region")}
    grouped["product"] = _grouped(by_product, ["product"])
    targets = monthly_targets(ledgers["targets"], reconciled.period.year, settings.stats.seasonality)
    new = new_customers(reconciled.contracts, ledgers["customers"], w)
    stats = MonthlyStats(
        period=reconciled.period,
        salespeople=_salespeople(grouped["salesperson"], w, targets, new, ledgers, settings),
        customers=_dimension(grouped["customer"], "customer", w),
        products=_dimension(grouped["product"], "product", w),
        regions=_dimension(grouped["region"], "region", w),
        trend=_trend(grouped["salesperson"], w),
        targets=targets,
        new_customers=new,
        contracts=active_contracts(reconciled) if contract_list else reconciled.execution.iloc[:0],
        deliveries=in_month(reconciled.deliveries, w),
        payments=in_month(reconciled.payments, w),
    )
    return stats, []


# ---- events: every money event as one long frame ------------------------------------------------------------


def _events(rec: Reconciled, ledgers: Ledgers, w: Windows) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows some window needs (measure, ym, amount, n and the dimensions): by contract, and by product line."""
    contracts = rec.contracts[~rec.contracts["void"].fillna(False).astype(bool)]
    flows = {
        "delivery": rec.deliveries,
        "invoice": rec.invoices,
        "payment": rec.payments,
    }
    single = _single_product(ledgers["contracts"])
    base = [_measure_frame(contracts, "contract", w, n=True)]
    base += [_measure_frame(frame, measure, w) for measure, frame in flows.items()]
    # Only contracts some window reads are split into lines (the split is the slow part): the same rows result.
    read = contracts[_in_windows(contracts["date"], _month_index(contracts["date"]), w)]
    lines = _measure_frame(_contract_lines(read, ledgers["contracts"]), "contract", w, n=True)
    events = pd.concat(base, ignore_index=True)
    events["region"] = _regions(events, rec.contracts, ledgers["customers"])
    products = events[events["measure"] != "contract"]
    products = products.assign(product=_flow_product(products, single))
    return events, pd.concat([lines, products], ignore_index=True)


def _measure_frame(frame: pd.DataFrame, measure: str, w: Windows, n: bool = False) -> pd.DataFrame:
    """The rows of one measure inside the months any window reads (month − 12 … month, ≤ as_of)."""
    ym = _month_index(frame["date"])
    keep = _in_windows(frame["date"], ym, w)
    cols = ["salesperson", "customer", "contract_no"] + (["product"] if "product" in frame else [])
    out = frame.loc[keep, cols]
    out["salesperson"] = out["salesperson"].fillna(UNASSIGNED)
    codes = np.full(len(out), MEASURES.index(measure), dtype="int8")
    out["measure"] = pd.Categorical.from_codes(codes, categories=MEASURES)
    out["ym"] = ym[keep]
    out["amount"] = frame.loc[keep, "amount"].fillna(0).astype("int64")
    out["n"] = frame.loc[keep, "n"].astype("int64") if "n" in frame else np.int64(1 if n else 0)
    return out


def _in_windows(d: pd.Series, ym: pd.Series, w: Windows) -> pd.Series:
    """Dates (ym: their month index) inside the months any window reads: month − 12 (up to its same day last
    year) … month, ≤ as_of."""
    keep = (ym >= w.month - 12) & (d <= pd.Timestamp(w.as_of))
    return keep & ~((ym == w.month - 12) & (d > pd.Timestamp(w.ly_last)))


def _month_index(d: pd.Series) -> pd.Series:
    values = d.to_numpy(dtype="datetime64[s]").astype("datetime64[M]").astype("int64")
    return pd.Series(values, index=d.index)


def _regions(events: pd.DataFrame, contracts: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """Region of each event: its contract's, else its customer's in 客户档案, else 未指明区域."""
    by_contract = lookup(events["contract_no"], _mapping(contracts, "contract_no", "region"))
    by_customer = lookup(events["customer"], _mapping(customers, "customer", "region"))
    return by_contract.fillna(by_customer).fillna(NO_REGION)


def lookup(keys: pd.Series, mapping: pd.Series) -> pd.Series:
    """mapping[key] for each key, as a `str` column (NA where absent), by an Arrow hash lookup."""
    found = pc.index_in(_arrow(keys), value_set=_arrow(mapping.index))
    taken = pc.take(_arrow(mapping), found)
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=keys.index).astype("str")


def positions(keys: pd.Series, values: pd.Series | pd.Index) -> np.ndarray:
    """Where each key first occurs in `values`, −1 when absent or NA.

    pandas' `str` isin and map loop over the values in Python; an Arrow hash lookup keeps 1M rows fast.
    """
    found = pc.index_in(_arrow(keys), value_set=_arrow(values))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


def _arrow(values: pd.Series | pd.Index) -> pa.Array:
    arr = pa.array(pd.Series(values).astype("str").array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.cast(pa.large_string())


def _mapping(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """key → value from a frame's first row per key (empty when either column is missing)."""
    if key not in frame or value not in frame:
        return pd.Series(dtype="str")
    pairs = frame[[key, value]].dropna().drop_duplicates(key)
    return pd.Series(pairs[value].to_numpy(), index=pairs[key].to_numpy())


def _single_product(lines: pd.DataFrame) -> pd.Series:
    """contract_no → product, for contracts whose lines name exactly one product."""
    if lines.empty or "product" not in lines:
        return pd.Series(dtype="str")
    pairs = lines[["contract_no", "product"]].dropna().drop_duplicates()
    alone = ~pairs["contract_no"].duplicated(keep=False)
    return pairs[alone].set_index("contract_no")["product"]


def _flow_product(flows: pd.DataFrame, single: pd.Series) -> pd.Series:
    """A delivery's own product; an invoice or payment takes its contract's when the contract has one product."""
    own = flows["product"] if "product" in flows else pd.Series(pd.NA, index=flows.index, dtype="str")
    own = own.where(flows["measure"] == "delivery")
    return own.astype("str").fillna(lookup(flows["contract_no"], single)).fillna(NO_PRODUCT)


def _contract_lines(contracts: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Signed contracts split by product line; a balancing 未指明产品 line keeps each contract's total exact."""
    head = contracts[["contract_no", "date", "salesperson", "customer", "amount"]]
    if lines.empty or "product" not in lines:
        split = pd.DataFrame({"contract_no": pd.Series(dtype="str"), "product": pd.Series(dtype="str")})
        split["amount"] = pd.Series(dtype="int64")
    else:
        signed = positions(lines["contract_no"], head["contract_no"]) >= 0
        split = lines.loc[signed, ["contract_no", "product", "amount"]]
        split = split.assign(product=split["product"].fillna(NO_PRODUCT), amount=split["amount"].fillna(0))
        split = split.groupby(["contract_no", "product"], as_index=False, sort=False)["amount"].sum()
    split["n"] = 1
    covered = split.groupby("contract_no")["amount"].sum()
    at = positions(head["contract_no"], covered.index)
    lined = np.append(covered.to_numpy(dtype="int64"), 0)[at]  # position −1 reads the appended 0
    rest = head.assign(
        product=NO_PRODUCT,
        amount=head["amount"].fillna(0).astype("int64") - lined,
        n=(at < 0).astype("int64"),
    )
    rest = rest[(rest["amount"] != 0) | (rest["n"] == 1)]
    split = split.merge(head.drop(columns="amount"), on="contract_no", how="inner")
    return pd.concat([split, rest], ignore_index=True)


# ---- aggregation ---------------------------------------------------------------------------------------------


def _grouped(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Σ amount and n per (keys, measure, month index): the small frame every window is read from."""
    g = events.groupby([*keys, "measure", "ym"], observed=True, sort=False)[["amount", "n"]].sum()
    return g.reset_index()


def _windows(g: pd.DataFrame, key: str, w: Windows) -> pd.DataFrame:
    """Month, YTD and same-month-last-year sums per key, zero-filled, Int64 (exact integer sums)."""
    codes, keys = pd.factorize(g[key], use_na_sentinel=False)
    cell = codes * len(MEASURES) + g["measure"].cat.codes.to_numpy()
    amount, n = g["amount"].to_numpy(dtype="int64"), g["n"].to_numpy(dtype="int64")
    ym = g["ym"].to_numpy()
    masks = (ym == w.month, (ym >= w.jan) & (ym <= w.jan + 11), ym == w.month - 12)
    out: dict[str, np.ndarray] = {}
    for prefix, mask in zip(WINDOWS, masks, strict=True):
        sums = np.zeros((len(keys), len(MEASURES)), dtype="int64")
        np.add.at(sums.reshape(-1), cell[mask], amount[mask])
        counts = np.zeros(len(keys), dtype="int64")
        contract = mask & (g["measure"] == "contract").to_numpy()
        np.add.at(counts, codes[contract], n[contract])
        out |= {f"{prefix}{m}_amount": sums[:, i] for i, m in enumerate(MEASURES)}
        out[f"{prefix}contract_count"] = counts
    index = pd.Index(keys, name=key, dtype="str")
    return pd.DataFrame(out, index=index).astype("Int64")


def _dimension(g: pd.DataFrame, key: str, w: Windows) -> pd.DataFrame:
    """客户/产品/区域统计: month and YTD money measures, biggest first, keys with nothing in either dropped."""
    out = _windows(g, key, w)
    shown = [f"{p}{c}" for p in ("", "ytd_") for c in ("contract_count", *(f"{m}_amount" for m in MEASURES))]
    out = out[shown]
    out = out[(out != 0).any(axis=1)].reset_index()
    return _sort(out, key)


def _sort(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    order = frame.assign(_last=frame[key].isin([UNASSIGNED, NO_PRODUCT, NO_REGION]))
    order = order.sort_values(
        ["_last", "contract_amount", "ytd_contract_amount", key], ascending=[True, False, False, True]
    )
    return order.drop(columns="_last").reset_index(drop=True)


# ---- salespeople: figures, targets, rates ---------------------------------------------------------------------


def _salespeople(
    g: pd.DataFrame,
    w: Windows,
    targets: pd.DataFrame,
    new: pd.DataFrame,
    ledgers: Ledgers,
    settings: Settings,
) -> pd.DataFrame:
    """业务员统计: figures, this month's targets, rates, new customers, YoY; everyone with a figure or a target."""
    figures = _windows(g, "salesperson", w)
    figures = figures[(figures != 0).any(axis=1)]  # keys seen only in the trend's earlier months
    month_targets = targets[targets["month"] == w.month % 12 + 1].set_index("salesperson")[
        list(TARGET_COLUMNS)
    ]
    new_counts = new.groupby("salesperson").size().rename("new_customers")
    names = _roster(figures.index, targets, new_counts.index, ledgers, w)
    out = figures.reindex(names).fillna(0).astype("Int64")
    out = out.join(month_targets).join(new_counts)
    out["new_customers"] = out["new_customers"].fillna(0).astype("Int64")
    out["sales_rate"] = rate(out[SALES_MEASURE_COLUMN[settings.stats.sales_measure]], out["sales_target"])
    out["payment_rate"] = rate(out["payment_amount"], out["payment_target"])
    out["yoy"] = growth(out["contract_amount"], out["ly_contract_amount"])
    return _sort(out.reset_index(), "salesperson")[list(SALESPERSON_COLUMNS)]


def _roster(
    figures: pd.Index, targets: pd.DataFrame, new: pd.Index, ledgers: Ledgers, w: Windows
) -> pd.Index:
    """Salespeople with a figure, a target this year, a new customer, or 拜访/考核 records in the month."""
    has_target = targets[list(TARGET_COLUMNS)].notna().any(axis=1)
    people = [figures, pd.Index(targets.loc[has_target, "salesperson"]), new]
    for kind in ("activities", "penalties"):
        people.append(pd.Index(in_month(ledgers[kind], w)["salesperson"].dropna()))
    names = people[0].append(people[1:]).unique()
    return pd.Index(names, name="salesperson", dtype="str")


def rate(actual: pd.Series, target: pd.Series) -> pd.Series:
    """actual / target as Float64; NA (shown 「无目标」) when the target is zero or missing."""
    den = target.astype("Float64")
    den = den.where(den != 0)
    return (actual.astype("Float64") / den).astype("Float64")


def growth(now: pd.Series, before: pd.Series) -> pd.Series:
    """Change over last year as Float64; NA when last year had nothing."""
    return rate(now.astype("Float64") - before.astype("Float64"), before)


# ---- targets -------------------------------------------------------------------------------------------------


def monthly_targets(targets: pd.DataFrame, year: int, seasonality: Sequence[float]) -> pd.DataFrame:
    """Targets per salesperson and month of `year`: a monthly row wins per measure, else the annual row spread."""
    t = targets[targets["year"] == year]
    monthly = (
        t[t["month"].notna()]
        .groupby(["salesperson", "month"])[list(TARGET_COLUMNS)]
        .sum(min_count=1)
        .reset_index()
    )
    annual = t[t["month"].isna()].groupby("salesperson")[list(TARGET_COLUMNS)].sum(min_count=1)
    spread_rows = _spread_annual(annual, seasonality)
    grid = pd.MultiIndex.from_product(
        [pd.Index(pd.concat([monthly["salesperson"], spread_rows["salesperson"]]).unique()), range(1, 13)],
        names=["salesperson", "month"],
    )
    out = monthly.set_index(["salesperson", "month"]).reindex(grid)
    out = out.fillna(spread_rows.set_index(["salesperson", "month"]).reindex(grid))
    out = out.astype("Int64").reset_index()
    out["month"] = out["month"].astype("int64")
    return out


def _spread_annual(annual: pd.DataFrame, seasonality: Sequence[float]) -> pd.DataFrame:
    rows: dict[str, object] = {
        "salesperson": np.repeat(annual.index.to_numpy(dtype=object), 12),
        "month": np.tile(range(1, 13), len(annual)),
    }
    for col in TARGET_COLUMNS:
        values: list[object] = []
        for total in annual[col]:
            values += [pd.NA] * 12 if pd.isna(total) else spread(int(total), seasonality)
        rows[col] = values
    frame = pd.DataFrame(rows)
    return frame.astype({c: "Int64" for c in TARGET_COLUMNS} | {"salesperson": "str", "month": "int64"})


def spread(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` exactly: floor shares, the remainder one unit each to the largest fractions."""
    exact = [Fraction(str(x)) for x in weights]
    scale = math.lcm(*(f.denominator for f in exact))
    ints = [int(f * scale) for f in exact]
    whole = sum(ints)
    shares = [total * k // whole for k in ints]
    remainder = total - sum(shares)
    order = sorted(range(len(ints)), key=lambda i: (-(total * ints[i] % whole), i))
    for i in order[:remainder]:
        shares[i] += 1
    return shares


# ---- new customers, trend, detail ------------------------------------------------------------------------------


def new_customers(contracts: pd.DataFrame, customers: pd.DataFrame, w: Windows) -> pd.DataFrame:
    """Customers whose first cooperation falls in the month (首次合作日期 wins over the first contract's date).

    Counted for the salesperson of the customer's first contract, else its 业务员 in 客户档案, else 未分配.
    """
    live = contracts[~contracts["void"].fillna(False).astype(bool)]
    first = live.sort_values(["date", "contract_no"]).drop_duplicates("customer")
    first = first.set_index("customer")[["date", "salesperson"]]
    archive = customers.drop_duplicates("customer").set_index("customer")[["first_date", "salesperson"]]
    names = first.index.append(archive.index).unique()
    out = pd.DataFrame(index=pd.Index(names, name="customer", dtype="str"))
    out["first_date"] = archive["first_date"].reindex(out.index).fillna(first["date"].reindex(out.index))
    who = first["salesperson"].reindex(out.index).fillna(archive["salesperson"].reindex(out.index))
    out["salesperson"] = who.fillna(UNASSIGNED).astype("str")
    new = out["first_date"].between(pd.Timestamp(w.first), pd.Timestamp(w.last))
    return out[new].reset_index()[["customer", "salesperson", "first_date"]]


def _trend(g: pd.DataFrame, w: Windows) -> pd.DataFrame:
    """新签合同额 and 回款金额 per salesperson for the 12 months ending with the period (zero-filled grid)."""
    months = range(w.month - 11, w.month + 1)
    sub = g[g["ym"].between(w.month - 11, w.month) & g["measure"].isin(["contract", "payment"])]
    wide = sub.pivot_table(
        index=["salesperson", "ym"], columns="measure", values="amount", aggfunc="sum", observed=True
    )
    people = pd.Index(g.loc[g["ym"].between(w.month - 11, w.month), "salesperson"].unique())
    grid = pd.MultiIndex.from_product([people, months], names=["salesperson", "ym"])
    wide = wide.reindex(grid).reindex(columns=["contract", "payment"]).fillna(0).astype("Int64")
    out = wide.reset_index().rename(columns={"contract": "contract_amount", "payment": "payment_amount"})
    out["month"] = [w.label(int(m)) for m in out["ym"]]
    out.columns.name = None
    return out[["salesperson", "month", "contract_amount", "payment_amount"]]


def in_month(frame: pd.DataFrame, w: Windows) -> pd.DataFrame:
    """Rows dated inside the month window, in date then source order."""
    if frame.empty:
        return frame
    inside = frame["date"].between(pd.Timestamp(w.first), pd.Timestamp(w.last))
    order = [c for c in ("date", "_file", "_sheet", "_row") if c in frame]
    return frame[inside].sort_values(order, kind="stable")


def active_contracts(rec: Reconciled) -> pd.DataFrame:
    """合同执行 rows of contracts active in the month: signed or touched in it, or still open at as_of."""
    w = Windows.of(rec.period)
    ex = rec.execution
    if ex.empty or "contract_no" not in ex:
        return ex
    flows = [f for f in (rec.contracts, rec.deliveries, rec.invoices, rec.payments) if not f.empty]
    active = [in_month(f, w)["contract_no"] for f in flows]
    if {"credit_date", "to_contract"} <= set(rec.allocations.columns):
        paid = rec.allocations["credit_date"].between(pd.Timestamp(w.first), pd.Timestamp(w.last))
        active.append(rec.allocations.loc[paid, "to_contract"])
    if "exec_status" in ex:
        still_open = ex["exec_status"] != SETTLED
        if "void" in ex:
            still_open &= ~ex["void"].fillna(False).astype(bool)
        active.append(ex.loc[still_open, "contract_no"])
    keep = pd.concat(active).dropna().unique()
    return ex[isin(ex["contract_no"], keep)].reset_index(drop=True)
