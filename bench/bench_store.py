"""Benchmark the workspace store: ingest 1,000,000 synthetic rows across kinds, then time `Store.load()`.

Run: /tmp/venv/bin/python bench/bench_store.py [--rows 1000000] [--files 50] [--no-sql-baseline]
Baselines measured in the same run on the same current rows: `pd.read_parquet` (one file per kind) and a
plain `SELECT *` of one typed SQLite table per kind read with `pd.read_sql_query`.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.store import FileRecord, Store  # noqa: E402
from schemas import LEDGER_KINDS, LedgerKind  # noqa: E402

T = TypeVar("T")
INGEST = "ingest (all files, one transaction each)"

# Share of the rows per kind (a sales department's year is mostly deliveries and payments).
SHARES = {
    "customers": 0.005,
    "contracts": 0.10,
    "deliveries": 0.30,
    "invoices": 0.15,
    "payments": 0.30,
    "freight": 0.05,
    "targets": 0.005,
    "penalties": 0.02,
    "activities": 0.07,
}
WORDS = np.array(
    ["华东机电设备有限公司", "北方重工", "张三", "李四", "王五", "执行中", "已完成", "作废", "银行转账"]
)


def column(kind: LedgerKind, name: str, value_type: str, n: int, rng: np.random.Generator) -> pd.Series:
    """Synthetic values of one declared column; key text columns are unique per row."""
    if value_type == "text":
        if name in kind.key:
            values = np.char.add(f"{kind.name[:2].upper()}-", np.arange(n).astype(str)).astype(object)
            if kind.name == "payments":
                values[::2] = None  # half the payments without 凭证号: the fallback key
            return pd.Series(values, dtype="str")
        return pd.Series(WORDS[rng.integers(0, len(WORDS), n)], dtype="str")
    if value_type == "date":
        days = np.datetime64("2024-01-01") + rng.integers(0, 700, n).astype("timedelta64[D]")
        return pd.Series(days.astype("datetime64[s]"))
    if value_type in ("money", "int"):
        top = 12 if name == "month" else 10**9
        return pd.Series(rng.integers(1, top + 1, n), dtype="Int64")
    return pd.Series(rng.random(n) * 100, dtype="Float64")


def synthetic(kind: LedgerKind, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c.name: column(kind, c.name, c.type, n, rng) for c in kind.columns})
    if kind.line_column:
        frame[kind.line_column] = pd.Series(np.ones(n, dtype=np.int64), dtype="Int64")
    frame["_sheet"] = pd.Series(["Sheet1"] * n, dtype="str")
    frame["_row"] = pd.Series(np.arange(n) + 2, dtype="Int64")
    return frame


def split(frames: dict[str, pd.DataFrame], files: int) -> list[dict[str, pd.DataFrame]]:
    """Distribute every kind's rows over `files` files (disjoint slices: each row is current once)."""
    out: list[dict[str, pd.DataFrame]] = [{} for _ in range(files)]
    for name, frame in frames.items():
        bounds = np.linspace(0, len(frame), files + 1).astype(int)
        for i in range(files):
            part = frame.iloc[bounds[i] : bounds[i + 1]]
            if len(part):
                out[i][name] = part.assign(_file=f"file{i:03d}.xlsx")
    return out


def timed(label: str, fn: Callable[[], T], results: dict[str, float], repeat: int = 1) -> T:
    """Run `fn` `repeat` times and record the best time (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    results[label] = best
    print(f"{label:<44} {best:8.3f} s", flush=True)
    return value


def sql_baseline(path: Path, frames: dict[str, pd.DataFrame]) -> float:
    """Write the same current rows to one typed table per kind (untimed) and time a plain SELECT *."""
    con = sqlite3.connect(path)
    for name, frame in frames.items():
        plain = frame.copy()
        for col in plain.columns:
            if plain[col].dtype.kind == "M":
                plain[col] = plain[col].dt.strftime("%Y-%m-%d")
        plain.to_sql(name, con, index=False, chunksize=100_000)
    con.commit()
    start = time.perf_counter()
    for name in frames:
        pd.read_sql_query(f"SELECT * FROM {name}", con)
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for load() and the baselines")
    parser.add_argument("--no-sql-baseline", action="store_true")
    args = parser.parse_args()
    results: dict[str, float] = {}
    frames = {
        name: synthetic(LEDGER_KINDS[name], int(args.rows * share), i)
        for i, (name, share) in enumerate(SHARES.items())
    }
    total = sum(len(f) for f in frames.values())
    batches = split(frames, args.files)
    print(f"{total:,} rows in {args.files} files, {len(frames)} kinds")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def ingest_all() -> None:
            with Store.open(work) as store:
                for i, batch in enumerate(batches):
                    store.ingest(FileRecord(f"{i:064x}", f"file{i:03d}.xlsx", 0), batch)

        timed(INGEST, ingest_all, results)
        with Store.open(work) as store:
            ledgers = timed("load() all kinds", store.load, results, args.repeat)
            loaded = sum(len(ledgers[name]) for name in frames)
            assert loaded == total, (loaded, total)
            small = {"payments": synthetic(LEDGER_KINDS["payments"], 200, 99).assign(_file="new.xlsx")}
            timed(
                "ingest one small new file (200 rows)",
                lambda: store.ingest(FileRecord("f" * 64, "new.xlsx", 0), small),
                results,
            )
            timed("load() after it", store.load, results, args.repeat)
        size = (work / ".taizhang" / "store.sqlite").stat().st_size
        current = {name: ledgers[name] for name in frames}
        for name, frame in current.items():
            frame.to_parquet(work / f"{name}.parquet")
        timed(
            "baseline: pd.read_parquet of the same rows",
            lambda: [pd.read_parquet(work / f"{n}.parquet") for n in current],
            results,
            args.repeat,
        )
        if not args.no_sql_baseline:
            results["baseline: SELECT * typed tables"] = sql_baseline(work / "plain.sqlite", current)
            print(
                f"{'baseline: SELECT * typed tables':<44} {results['baseline: SELECT * typed tables']:8.3f} s"
            )
    print(f"store file {size / 1e6:.1f} MB; ingest {total / results[INGEST] / 1e3:.0f}k rows/s")
    load = results["load() all kinds"]
    for label, seconds in results.items():
        if label.startswith("baseline"):
            print(f"load() / {label[10:]}: {load / seconds:.2f}x")


if __name__ == "__main__":
    main()
