"""Issue 2: a 10,000-row ledger with three kinds of mess, read and validated; prints calamine parse vs our work.

    python bench/bench_ingest.py [rows]

The calamine parse is the baseline measured in the same run; what matters is the time beyond it.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import python_calamine as pc
import xlsxwriter

from pipeline.config import Settings
from pipeline.ingest import ingest_file


def write_messy(path: Path, rows: int, seed: int = 1) -> None:
    """Title rows + text dates in three forms + money text with ¥/commas/万元 column + 合计 rows every 500 rows."""
    rng = random.Random(seed)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("2025年")
    ws.write_row(0, 0, ["2025年发货台账"])
    ws.write_row(1, 0, ["打印日期：2025-11-01"])
    ws.write_row(2, 0, ["发货日期", "客户名称", "发货金额(万元)", "发货单号", "合同编号", "业务员", "产品名称", "数量"])
    r, total = 3, 0.0
    forms = (lambda d: f"{d.year}年{d.month}月{d.day}日", lambda d: f"{d.year}.{d.month}.{d.day}", lambda d: d.strftime("%Y%m%d"))
    for i in range(rows):
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(300))
        amount = rng.randrange(1, 5000) / 100
        total += amount
        cell = f"{amount:,.2f}" if i % 3 else amount
        ws.write_row(r, 0, [forms[i % 3](day), f"客户{rng.randrange(300):03d}", cell, f"FH{i:06d}", f"HT-{rng.randrange(2000):04d}",
                            rng.choice(("张伟", "李娜", "王强")), "电缆", rng.randrange(1, 50)])
        r += 1
        if i % 500 == 499:
            ws.write_row(r, 0, ["小计", None, round(total, 2)])
            total, r = 0.0, r + 1
    wb.close()


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(rows: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "发货台账.xlsx"
        write_messy(path, rows)
        parse, whole, parse_cpu, whole_cpu = [], [], [], []
        ingest_file(path, Settings(), date(2026, 1, 1))  # warm up: pandera registers its backends once
        for _ in range(5):
            t, c = time.perf_counter(), time.process_time()
            wb = pc.CalamineWorkbook.from_path(str(path))
            wb.get_sheet_by_name("2025年").to_python(skip_empty_area=False)
            parse.append(time.perf_counter() - t)
            parse_cpu.append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            result = ingest_file(path, Settings(), date(2026, 1, 1))
            whole.append(time.perf_counter() - t)
            whole_cpu.append(time.process_time() - c)
        used = sum(s.used for s in result.sheets)
        p, w = median(parse), median(whole)
        print(f"rows {rows:,}  used {used:,}  problems {len(result.problems)}")
        print(f"calamine parse (baseline)  {p:6.3f} s")
        print(f"taizhang read+validate     {w:6.3f} s  = {w / p:4.1f}× the parse")
        print(f"beyond the parse           {w - p:6.3f} s wall, {median(whole_cpu) - median(parse_cpu):6.3f} s CPU")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
