"""Benchmark monthly statistics and scoring over 1,000,000 synthetic ledger rows.

Run: /tmp/venv/bin/python bench/bench_stats.py [--rows 1000000] [--repeat 3]
Frames are generated before timing, shaped as reconcile hands them over (salesperson resolved, returns negative).
Baseline measured in the same run: a plain groupby-sum of amount per salesperson over the same four frames.
Target: stats + scoring under 3 s for 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import Settings  # noqa: E402
from pipeline.model import Ledgers, Period, Reconciled  # noqa: E402
from pipeline.scoring import assess  # noqa: E402
from pipeline.stats import compute_stats  # noqa: E402

SHARES = {"contracts": 0.10, "deliveries": 0.35, "invoices": 0.20, "payments": 0.30, "activities": 0.05}
PEOPLE, CUSTOMERS, PRODUCTS, REGIONS = 60, 5_000, 300, 12
PERIOD = Period.of("2025-10")


def _names(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(n).astype(str)).astype(object)


def _dates(rng: np.random.Generator, n: int) -> pd.Series:
    days = np.datetime64("2024-01-01") + rng.integers(0, 670, n).astype("timedelta64[D]")
    return pd.Series(days.astype("datetime64[s]"))


def _text(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def _flows(rng: np.random.Generator, n: int, contracts: pd.DataFrame, with_product: bool) -> pd.DataFrame:
    """Deliveries / invoices / payments: 90% name a contract (and take its customer and salesperson)."""
    pick = rng.integers(0, len(contracts), n)
    named = rng.random(n) < 0.9
    frame = pd.DataFrame(
        {
            "date": _dates(rng, n),
            "customer": contracts["customer"].to_numpy()[pick],
            "salesperson": contracts["salesperson"].to_numpy()[pick],
            "contract_no": pd.Series(contracts["contract_no"].to_numpy()[pick]).where(named),
            "amount": pd.array(rng.integers(-50_000, 5_000_000, n), dtype="Int64"),
            "_file": "bench.xlsx",
            "_sheet": "Sheet1",
            "_row": np.arange(2, n + 2),
        }
    )
    if with_product:
        frame["product"] = _names("产品", PRODUCTS)[rng.integers(0, PRODUCTS, n)]
    return frame.astype({c: "str" for c in ("customer", "salesperson", "contract_no", "_file", "_sheet")})


def synthetic(rows: int, seed: int = 7) -> tuple[Reconciled, Ledgers]:
    rng = np.random.default_rng(seed)
    n = {k: int(rows * share) for k, share in SHARES.items()}
    people, customers = _names("业务员", PEOPLE), _names("客户有限公司", CUSTOMERS)
    cust = rng.integers(0, CUSTOMERS, n["contracts"])
    contracts = pd.DataFrame(
        {
            "contract_no": _text(_names("HT-", n["contracts"])),
            "date": _dates(rng, n["contracts"]),
            "customer": _text(customers[cust]),
            "salesperson": _text(people[cust % PEOPLE]),
            "amount": pd.array(rng.integers(100_000, 50_000_000, n["contracts"]), dtype="Int64"),
            "status": _text(np.full(n["contracts"], "执行中", dtype=object)),
            "region": _text(_names("区域", REGIONS)[cust % REGIONS]),
            "void": rng.random(n["contracts"]) < 0.02,
        }
    )
    lines = contracts[["contract_no", "amount"]].assign(
        product=_text(_names("产品", PRODUCTS)[cust % PRODUCTS])
    )
    flows = {
        k: _flows(rng, n[k], contracts, k == "deliveries") for k in ("deliveries", "invoices", "payments")
    }
    open_items = flows["deliveries"].sample(frac=0.3, random_state=1)[
        ["customer", "salesperson", "contract_no"]
    ]
    open_items = open_items.assign(
        due_date=_dates(rng, len(open_items)).to_numpy(),
        outstanding=pd.array(rng.integers(1, 1_000_000, len(open_items)), dtype="Int64"),
    )
    acts = n["activities"]
    activities = pd.DataFrame(
        {
            "date": _dates(rng, acts),
            "salesperson": _text(people[rng.integers(0, PEOPLE, acts)]),
            "customer": _text(customers[rng.integers(0, CUSTOMERS, acts)]),
            "activity_type": _text(
                np.array(["拜访", "电话", "日报"], dtype=object)[rng.integers(0, 3, acts)]
            ),
        }
    )
    targets = pd.DataFrame(
        {
            "salesperson": _text(people),
            "year": pd.array([2025] * PEOPLE, dtype="Int64"),
            "month": pd.array([pd.NA] * PEOPLE, dtype="Int64"),
            "sales_target": pd.array(rng.integers(10**9, 10**10, PEOPLE), dtype="Int64"),
            "payment_target": pd.array(rng.integers(10**9, 10**10, PEOPLE), dtype="Int64"),
            "new_customer_target": pd.array(rng.integers(1, 30, PEOPLE), dtype="Int64"),
        }
    )
    customers_frame = pd.DataFrame(
        {
            "customer": _text(customers),
            "salesperson": _text(people[np.arange(CUSTOMERS) % PEOPLE]),
            "region": _text(_names("区域", REGIONS)[np.arange(CUSTOMERS) % REGIONS]),
            "first_date": pd.Series(pd.NaT, index=range(CUSTOMERS), dtype="datetime64[s]"),
        }
    )
    empty = pd.DataFrame()
    rec = Reconciled(
        period=PERIOD,
        contracts=contracts,
        deliveries=flows["deliveries"],
        invoices=flows["invoices"],
        payments=flows["payments"],
        execution=empty,
        open_items=open_items,
        advances=empty,
        allocations=empty,
        exceptions=empty,
        matching=empty,
    )
    ledgers = Ledgers(
        {"contracts": lines, "activities": activities, "targets": targets, "customers": customers_frame}
    )
    return rec, ledgers


def baseline(rec: Reconciled) -> None:
    for frame in (rec.contracts, rec.deliveries, rec.invoices, rec.payments):
        frame.groupby("salesperson")["amount"].sum()


def pipeline(rec: Reconciled, ledgers: Ledgers, settings: Settings) -> None:
    stats, _ = compute_stats(rec, ledgers, settings)
    assess(stats, rec, ledgers, settings)


def best_of(repeat: int, fn: object, *args: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rec, ledgers = synthetic(args.rows)
    ledger_rows = sum(len(f) for f in (rec.contracts, rec.deliveries, rec.invoices, rec.payments))
    ledger_rows += len(ledgers["activities"])
    settings = Settings()
    base = best_of(args.repeat, baseline, rec)
    took = best_of(args.repeat, pipeline, rec, ledgers, settings)
    print(f"ledger rows: {ledger_rows:,}")
    print(f"baseline (groupby-sum per salesperson, 4 frames): {base:.3f} s")
    print(f"stats + scoring: {took:.3f} s  (ratio {took / base:.1f}× baseline; target < 3 s)")


if __name__ == "__main__":
    main()
