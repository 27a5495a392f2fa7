"""Benchmark reconciliation + aging with 100,000 open items.

Run: /tmp/venv/bin/python bench/bench_aging.py [--items 100000] [--repeat 3]
Ledger frames are generated before timing, shaped as the store hands them over (declared dtypes, provenance).
Baseline measured in the same run: a plain groupby-sum of the delivery amounts per customer.
Target: reconcile + aging under 2 s for 100,000 open items (the 应收账龄 figures, before writing).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.aging import age_receivables  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.model import Ledgers, Period  # noqa: E402
from pipeline.reconcile import reconcile  # noqa: E402
from schemas import LEDGER_KINDS  # noqa: E402

PERIOD = Period.of("2025-10")
T = TypeVar("T")
CUSTOMERS, PEOPLE = 3_000, 50


def _typed(kind: str, columns: dict[str, object], n: int) -> pd.DataFrame:
    """A frame of `kind` with its declared dtypes (absent columns empty) and provenance."""
    empty = LEDGER_KINDS[kind].empty_frame()
    data = {c: pd.Series(columns.get(c, pd.NA), index=range(n)).astype(empty[c].dtype) for c in empty.columns}
    data |= {
        "_file": pd.Series(f"{kind}.xlsx", index=range(n), dtype="str"),
        "_sheet": pd.Series("Sheet1", index=range(n), dtype="str"),
        "_row": pd.Series(np.arange(2, n + 2), dtype="Int64"),
    }
    return pd.DataFrame(data)


def _names(prefix: str, values: np.ndarray) -> np.ndarray:
    return np.char.add(prefix, values.astype(str))


def _dates(rng: np.random.Generator, n: int, days: int = 1_400) -> np.ndarray:
    return (np.datetime64("2025-10-31") - rng.integers(0, days, n).astype("timedelta64[D]")).astype(
        "datetime64[s]"
    )


def synthetic(items: int, seed: int = 7) -> Ledgers:
    """~`items` deliveries (a few returns), 90% invoiced, partly paid, so that about `items` items stay open."""
    rng = np.random.default_rng(seed)
    n_contracts = items // 20
    c_customer = rng.integers(0, CUSTOMERS, n_contracts)
    contracts = _typed(
        "contracts",
        {
            "contract_no": _names("HT-", np.arange(n_contracts)),
            "date": _dates(rng, n_contracts, 1_600),
            "customer": _names("客户", c_customer),
            "salesperson": _names("业务员", c_customer % PEOPLE),
            "amount": rng.integers(1_000_000, 900_000_000, n_contracts),
            "terms_days": rng.choice([30, 60, 90], n_contracts),
        },
        n_contracts,
    )
    items = items * 11 // 10  # a few are settled by payments
    pick = rng.integers(0, n_contracts, items)
    deliveries = _typed(
        "deliveries",
        {
            "delivery_no": _names("D", np.arange(items)),
            "date": _dates(rng, items),
            "customer": contracts["customer"].to_numpy()[pick],
            "contract_no": contracts["contract_no"].to_numpy()[pick],
            "amount": np.where(rng.random(items) < 0.02, -1, 1) * rng.integers(10_000, 5_000_000, items),
        },
        items,
    )
    billed = np.flatnonzero((rng.random(items) < 0.9) & (deliveries["amount"].to_numpy() > 0))
    invoices = _typed(
        "invoices",
        {
            "invoice_no": _names("FP", np.arange(len(billed))),
            "date": deliveries["date"].to_numpy()[billed] + np.timedelta64(3, "D"),
            "customer": deliveries["customer"].to_numpy()[billed],
            "contract_no": deliveries["contract_no"].to_numpy()[billed],
            "amount": deliveries["amount"].to_numpy()[billed],
        },
        len(billed),
    )
    n_pay = items // 4
    p_pick = rng.integers(0, items, n_pay)
    payments = _typed(
        "payments",
        {
            "voucher_no": _names("P", np.arange(n_pay)),
            "date": _dates(rng, n_pay),
            "customer": deliveries["customer"].to_numpy()[p_pick],
            "contract_no": pd.Series(deliveries["contract_no"].to_numpy()[p_pick]).where(
                rng.random(n_pay) < 0.7
            ),
            "amount": rng.integers(1_000, 1_000_000, n_pay),
        },
        n_pay,
    )
    customers = _typed(
        "customers",
        {
            "customer": _names("客户", np.arange(CUSTOMERS)),
            "salesperson": _names("业务员", np.arange(CUSTOMERS) % PEOPLE),
            "credit_limit": rng.integers(0, 2_000_000_000, CUSTOMERS),
            "terms_days": rng.choice([30, 45, 60], CUSTOMERS),
        },
        CUSTOMERS,
    )
    frames = dict(
        customers=customers, contracts=contracts, deliveries=deliveries, invoices=invoices, payments=payments
    )
    return Ledgers(frames)


def best_of(repeat: int, fn: Callable[[], T]) -> tuple[float, T]:
    times, results = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
    return min(times), results[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data, settings = synthetic(args.items), Settings()

    def run() -> tuple[int, int]:
        rec = reconcile(data, settings, PERIOD)
        tables = age_receivables(rec, settings)
        return len(tables.detail), len(tables.customers)

    deliveries = data["deliveries"]
    baseline, _ = best_of(args.repeat, lambda: deliveries.groupby("customer")["amount"].sum())
    seconds, (open_items, customers) = best_of(args.repeat, run)
    rows = sum(map(len, data.frames.values()))
    print(f"open items: {open_items:,}  customers: {customers:,}  ledger rows: {rows:,}")
    print(f"reconcile + aging: {seconds:.2f} s (best of {args.repeat}; target < 2 s)")
    print(f"baseline groupby-sum: {baseline * 1000:.1f} ms; ratio {seconds / baseline:,.0f}×")


if __name__ == "__main__":
    main()
