"""Issue 7: taizhang end to end at scale against the I/O floor and the obvious pandas + openpyxl pipeline.

    python bench/run_bench.py [--rows 1000000] [--files 50] [--repeat 1] [--seed 7] [--peer-every N]

1. Generates the scale inbox with `pipeline.sample.write_scale_inbox` into bench/data/<rows>/inbox_src/ (cached:
   reused while params.json records the same rows, files, seed and generator source). Not timed.
2. Finds each sheet's kind and header row with `pipeline.header.detect_layout` on its first 30 rows. Not timed.
3. Per repeat, on the same files:
   - taizhang: a fresh workspace (`taizhang init`, settle_seconds = 0, the inbox copied in), then
     `taizhang run --period P` as a subprocess;
   - second run: one new 50-row 回款 file dropped into that workspace's inbox, `taizhang run --period P` again;
   - floor: in a subprocess, every sheet read with fastexcel given its header row (to pandas), then every cell
     of taizhang's first-run .xlsx outputs (read back with python-calamine, not timed) written with xlsxwriter
     constant_memory + write_row, values only. The floor is timed inside its process (start-up, imports and
     loading the cell list excluded), so it is the pure I/O cost;
   - peer: in a subprocess, pandas.read_excel(engine="openpyxl") on every sheet, concat per kind, groupby/merge
     (contract execution, FIFO aging per customer with pd.cut), DataFrame.to_excel(engine="openpyxl") of
     outputs of about taizhang's size. With --peer-every N > 1 it reads every N-th file of each kind and the
     figures are extrapolated linearly by row count (printed as such).
   taizhang and the second run go first in each repeat because the floor writes the cells taizhang wrote.
4. Prints wall time, CPU time (the whole process tree: this script is a child subreaper, so the forkserver
   workers are counted) and peak memory (the sum of PSS over the process tree, sampled every 0.5 s, so
   pages forked workers share are counted once; and the largest single process's RSS, from wait4), the
   ratios and pass/fail against issue 7's targets. Appends the figures to bench/data/results.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "bench" / "data"
SMALL_FILE = "回款台账_补充.xlsx"
POLL_SECONDS = 0.1
# Reading smaps_rollup walks each process's page tables; at 10 Hz over three 1.5 GB processes that took CPU
# from taizhang's two busy workers (and not from the single-process floor and peer).
MEMORY_SECONDS = 0.5
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

# issue 7 "Done when" (the brief's targets); operations.md asks for more and is printed beside them.
TARGET_FLOOR, TARGET_PEER, TARGET_RSS_MIB, TARGET_SECOND = 1.5, 5.0, 2048, 0.25
SPEC_FLOOR, SPEC_SECOND = 1.3, 0.10


# ---------------------------------------------------------------------------------------------------------------
# The data set and the plan (not timed)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetPlan:
    file: str
    sheet: str
    kind: str  # schemas kind name, e.g. "deliveries"
    header_row: int  # 0-based
    rows: int  # grid rows below the header (body, 合计 rows included)


def generator_digest() -> str:
    return hashlib.sha256((ROOT / "pipeline" / "sample.py").read_bytes()).hexdigest()[:16]


def last_complete_month(seed: int, rows: int) -> str:
    """The last complete month of the generated data: the latest dated row's month when that is its last day,
    else the month before it. Payments and visit records carry the latest dates."""
    from pipeline import sample

    try:
        world = sample._cached_world(seed, rows)
        latest = date.min
        for kind in ("回款台账", "拜访记录"):
            date_col = sample._SCALE_HEADERS[kind][1]
            for j in range(world.counts[kind]):
                day = sample._scale_raw(world, kind, j)[date_col]
                if isinstance(day, date):
                    latest = max(latest, day)
    except (AttributeError, KeyError, TypeError) as exc:  # the generator's internals moved
        print(f"(could not find the data's last date: {exc!r}; using 2025-10)")
        return "2025-10"
    if (latest + timedelta(days=1)).month != latest.month:
        return f"{latest.year:04d}-{latest.month:02d}"
    first = latest.replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def ensure_data(rows: int, files: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """bench/data/<rows>/inbox_src/, generated unless params.json says it already holds this data set."""
    base = DATA / str(rows)
    inbox, params_path = base / "inbox_src", base / "params.json"
    wanted = {"rows": rows, "files": files, "seed": seed, "generator": generator_digest()}
    if inbox.is_dir() and params_path.exists():
        params = json.loads(params_path.read_text(encoding="utf-8"))
        if {k: params.get(k) for k in wanted} == wanted:
            return inbox, params
    from pipeline.sample import write_scale_inbox

    print(f"generating {rows:,} rows in ~{files} files into {inbox} ...", flush=True)
    started = time.perf_counter()
    shutil.rmtree(inbox, ignore_errors=True)
    params_path.unlink(missing_ok=True)
    write_scale_inbox(inbox, rows, files, seed)
    params = {**wanted, "period": last_complete_month(seed, rows), "generated": datetime.now().isoformat()}
    params_path.write_text(json.dumps(params, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return inbox, params


def plan_sheets(inbox: Path) -> list[SheetPlan]:
    """Kind and header row of every sheet, from its first 30 rows, with taizhang's own layout detection."""
    import python_calamine as pc

    from pipeline.header import HEADER_SEARCH_ROWS, Layout, detect_layout
    from pipeline.read import RawSheet

    plans = []
    for path in sorted(inbox.iterdir()):
        book = pc.CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            grid = sheet.to_python(skip_empty_area=False, nrows=HEADER_SEARCH_ROWS)
            merges = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
            layout = detect_layout(RawSheet(name, grid, merges), path.name)
            if not isinstance(layout, Layout):
                print(f"  (no ledger found in {path.name}/{name}; the floor and the peer skip it)")
                continue
            header = layout.header_rows[-1]
            plans.append(SheetPlan(path.name, name, layout.kind.name, header, sheet.height - header - 1))
    return plans


def write_small_payments(path: Path, customers: list[str], period: str, n: int = 50) -> Path:
    """A 50-row 回款 ledger as a clerk saves it with Excel (openpyxl), dated in the period."""
    import openpyxl

    year, month = (int(x) for x in period.split("-"))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "回款"
    ws.append(["回款日期", "客户名称", "合同编号", "业务员", "回款金额", "回款方式"])
    for i in range(n):
        ws.append(
            [
                date(year, month, 1 + i % 28),
                customers[i * 7 % len(customers)],
                None,
                None,
                1000 + 137 * i,
                "银行转账",
            ]
        )
    wb.save(path)
    return path


def customer_names(inbox: Path, plans: list[SheetPlan]) -> list[str]:
    import python_calamine as pc

    for p in plans:
        if p.kind == "customers":
            grid = pc.CalamineWorkbook.from_path(str(inbox / p.file)).get_sheet_by_name(p.sheet).to_python()
            head = [str(v) for v in grid[p.header_row]]
            col = head.index("客户名称")
            return [str(r[col]) for r in grid[p.header_row + 1 :] if r[col]]
    raise SystemExit("no 客户档案 in the generated inbox")


def serial(v: date) -> float:
    if isinstance(v, datetime):
        return (v - datetime(1899, 12, 30)).total_seconds() / 86400
    return float((v - date(1899, 12, 30)).days)


def output_cells(outdir: Path) -> list[tuple[str, list[tuple[str, list[list[Any]]]]]]:
    """Every cell of every .xlsx taizhang wrote, as values xlsxwriter writes without a format.

    Dates become Excel serial numbers, times fractions of a day, blanks None (the floor writes no formats)."""
    import python_calamine as pc

    def value(v: Any) -> Any:
        if v == "":
            return None
        if isinstance(v, date):
            return serial(v)
        if isinstance(v, timedelta):
            return v.total_seconds() / 86400
        if hasattr(v, "hour") and not isinstance(v, str):  # datetime.time
            return (v.hour * 3600 + v.minute * 60 + v.second) / 86400
        return v

    books = []
    for path in sorted(outdir.rglob("*.xlsx")):
        book = pc.CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in book.sheet_names:
            grid = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            sheets.append((name, [[value(v) for v in row] for row in grid]))
        books.append((str(path.relative_to(outdir)), sheets))
    return books


# ---------------------------------------------------------------------------------------------------------------
# Measuring a process tree
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    wall: float
    cpu: float
    pss_tree_mib: float  # peak of the summed PSS of every process in the run's session (sampled)
    rss_proc_mib: float  # the largest single process (ru_maxrss from wait4)
    rc: int
    extra: dict[str, Any] = field(default_factory=dict)  # a stage's own JSON report


def become_subreaper() -> None:
    """Orphans of a measured run (multiprocessing's forkserver and its workers) are re-parented to us, so that
    wait4 returns their CPU time too."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _session_memory(sid: int) -> int:
    """Bytes of memory the processes of session `sid` use together: the sum of their PSS (proportional set size).

    RSS would count the pages forked workers share copy-on-write with their parent once per process; PSS
    splits each shared page between the processes sharing it, so the sum is the footprint. RSS is the fallback
    where smaps_rollup is missing (Linux < 4.14) or unreadable."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[3]) == sid:  # field 6 of stat: the session id
            total += _pss(entry.name) or int(fields[21]) * PAGE  # field 24: rss in pages
    return total


def _pss(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Measured:
    """Run cmd in a new session; wall, CPU of the whole tree, peak memory (PSS sum). stdout and stderr go to log."""
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    peak, cpu, maxrss, status, sampled = 0, 0.0, 0, None, 0.0
    while status is None:
        if time.perf_counter() - sampled >= MEMORY_SECONDS:
            sampled = time.perf_counter()
            peak = max(peak, _session_memory(proc.pid))
        pid, st, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, cpu, maxrss = st, usage.ru_utime + usage.ru_stime, usage.ru_maxrss
            break
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # reap the orphans (forkserver, resource tracker) with their rusage
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            cpu += usage.ru_utime + usage.ru_stime
            maxrss = max(maxrss, usage.ru_maxrss)
        else:
            time.sleep(0.02)
    extra: dict[str, Any] = {}
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    if lines and lines[-1].startswith("{"):
        with contextlib.suppress(ValueError):
            extra = json.loads(lines[-1])
    return Measured(wall, cpu, peak / MIB, maxrss / 1024, proc.returncode, extra)


# ---------------------------------------------------------------------------------------------------------------
# Stages run in their own process
# ---------------------------------------------------------------------------------------------------------------


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_floor(job: dict[str, Any]) -> dict[str, Any]:
    """Read every planned sheet with fastexcel given its header row; write the output cells with xlsxwriter."""
    import fastexcel
    import xlsxwriter

    inbox, out = Path(job["inbox"]), Path(job["out"])
    plans = [SheetPlan(**p) for p in job["plans"]]
    books = output_cells(Path(job["outputs"]))  # read back before the clock starts
    counts = {
        "cells": sum(len(r) for _, s in books for _, g in s for r in g),
        "nonblank_cells": sum(v is not None for _, s in books for _, g in s for r in g for v in r),
        "xlsx_files": len(books),
    }
    by_file: dict[str, list[SheetPlan]] = {}
    for p in plans:
        by_file.setdefault(p.file, []).append(p)

    import pandas  # noqa: F401  (imported before the clock starts: to_pandas would import it on first use)
    import pyarrow  # noqa: F401

    t0, c0 = time.perf_counter(), time.process_time()
    rows = 0
    for name, file_plans in by_file.items():
        reader = fastexcel.read_excel(str(inbox / name))
        for p in file_plans:
            rows += len(reader.load_sheet(p.sheet, header_row=p.header_row).to_pandas())
    t1, c1 = time.perf_counter(), time.process_time()
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    for rel, sheets in books:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        wb = xlsxwriter.Workbook(str(target), options)
        for sheet_name, grid in sheets:
            ws = wb.add_worksheet(sheet_name)
            for r, row in enumerate(grid):
                ws.write_row(r, 0, row)
        wb.close()
    t2, c2 = time.perf_counter(), time.process_time()
    return {
        "read_wall": t1 - t0,
        "read_cpu": c1 - c0,
        "write_wall": t2 - t1,
        "write_cpu": c2 - c1,
        "rows_read": rows,
        **counts,
        "maxrss_mib": _maxrss_mib(),
    }


# The peer: what an analyst who knows these files writes in an afternoon. Columns are picked by their header.
PEER_COLUMNS = {
    "合同编号": "contract_no", "客户名称": "customer", "业务员": "salesperson", "产品名称": "product",
    "发货单号": "doc_no", "发票号码": "doc_no", "账期天数": "terms", "回款方式": "method",
    "签订日期": "date", "发货日期": "date", "开票日期": "date", "回款日期": "date", "日期": "date",
    "合同金额": "amount", "发货金额": "amount", "价税合计": "amount", "回款金额": "amount", "运费金额": "amount",
}  # fmt: skip
PEER_BINS = [-(10**6), 30, 90, 180, 365, 730, 10**6]
PEER_LABELS = ["30天内", "31-90天", "91-180天", "181-365天", "1-2年", "2年以上"]


def _peer_dates(s: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    text = s.astype(str).str.strip()
    serial_ = text.str.fullmatch(r"\d{5}(\.0+)?")
    compact = text.str.fullmatch(r"\d{8}")
    other = text.where(~serial_ & ~compact).str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "")
    out = pd.to_datetime(other, format="mixed", errors="coerce")
    out = out.fillna(pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    days = pd.to_numeric(text.where(serial_), errors="coerce")
    return out.fillna(pd.to_datetime(days, unit="D", origin="1899-12-30"))


def _peer_money(s: Any, wan: bool) -> Any:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(s):
        num = s.astype(float)
    else:
        text = s.astype(str).str.normalize("NFKC").str.strip()
        num = pd.to_numeric(text.str.replace(r"[¥,元()\s]", "", regex=True), errors="coerce")
        num = num.where(~text.str.startswith("("), -num)
    return num * 10_000 if wan else num


def _peer_frame(path: Path, p: SheetPlan) -> Any:
    import pandas as pd

    df = pd.read_excel(path, sheet_name=p.sheet, header=p.header_row, engine="openpyxl")
    wan = any("万元" in str(c) for c in df.columns)
    df.columns = [PEER_COLUMNS.get(str(c).split("(")[0].strip(), str(c)) for c in df.columns]
    df = df.loc[:, ~df.columns.duplicated()]
    if "date" in df:
        df["date"] = _peer_dates(df["date"])
    if "amount" in df:
        df["amount"] = _peer_money(df["amount"], wan)
    key = "customer" if p.kind in ("customers", "targets") else "date"
    if p.kind == "targets":
        key = df.columns[0]
    return df[df[key].notna() & (df[df.columns[0]].astype(str) != "合计")]


def stage_peer(job: dict[str, Any]) -> dict[str, Any]:
    """pandas + openpyxl end to end: read, concat per kind, merge/groupby, to_excel."""
    import pandas as pd

    inbox, out = Path(job["inbox"]), Path(job["out"])
    plans = [SheetPlan(**p) for p in job["plans"]]
    start, as_of = pd.Timestamp(job["period"] + "-01"), pd.Timestamp(job["as_of"])
    t0 = time.perf_counter()
    parts: dict[str, list[pd.DataFrame]] = {}
    for p in plans:
        parts.setdefault(p.kind, []).append(_peer_frame(inbox / p.file, p))
    f = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    rows = sum(len(v) for v in f.values())
    t1 = time.perf_counter()

    con, dlv, inv, pay = f["contracts"], f["deliveries"], f["invoices"], f["payments"]
    cust = f.get("customers", pd.DataFrame(columns=["customer", "terms"]))
    dlv, inv, pay = (x[x["date"] <= as_of] for x in (dlv, inv, pay))
    sums = {
        name: x.groupby("contract_no")["amount"].sum().rename(name)
        for name, x in (("delivered", dlv), ("invoiced", inv), ("paid", pay))
    }
    exe = con.merge(pd.concat(sums.values(), axis=1), left_on="contract_no", right_index=True, how="left")
    exe[list(sums)] = exe[list(sums)].fillna(0.0)
    exe["undelivered"] = exe["amount"] - exe["delivered"]
    exe["receivable"] = exe["delivered"] - exe["paid"]
    exe["uninvoiced"] = exe["delivered"] - exe["invoiced"]
    exe["exec_rate"] = (exe["delivered"] / exe["amount"]).round(4)
    odd = exe[
        (exe["paid"] > exe["delivered"]) | (exe["invoiced"] > exe["delivered"]) | (exe["undelivered"] < 0)
    ]
    loose = pay[pay["contract_no"].isna()]
    payments = pay.merge(
        con[["contract_no", "amount"]].rename(columns={"amount": "contract_amount"}),
        on="contract_no",
        how="left",
    )

    items = dlv.sort_values(["contract_no", "date"]).copy()
    items["cum"] = items.groupby("contract_no")["amount"].cumsum()
    items["paid_on_contract"] = items["contract_no"].map(sums["paid"]).fillna(0.0)
    items["outstanding"] = (
        (items["cum"] - items["paid_on_contract"]).clip(lower=0).clip(upper=items["amount"])
    )
    items = items[items["outstanding"] > 0].merge(cust[["customer", "terms"]], on="customer", how="left")
    items["age_days"] = (as_of - items["date"]).dt.days
    items["overdue_days"] = items["age_days"] - items["terms"].fillna(30)
    items["bucket"] = pd.cut(items["age_days"], PEER_BINS, labels=PEER_LABELS)
    by_customer = items.pivot_table(
        index="customer",
        columns="bucket",
        values="outstanding",
        aggfunc="sum",
        observed=False,
        fill_value=0.0,
    )
    by_customer["未指定合同回款"] = (
        loose.groupby("customer")["amount"].sum().reindex(by_customer.index).fillna(0)
    )
    by_customer["应收合计"] = by_customer[PEER_LABELS].sum(axis=1) - by_customer["未指定合同回款"]
    by_person = items.pivot_table(
        index="salesperson",
        columns="bucket",
        values="outstanding",
        aggfunc="sum",
        observed=False,
        fill_value=0.0,
    )
    dunning = items[items["overdue_days"] > 0].sort_values("overdue_days", ascending=False)

    month = {
        name: x[(x["date"] >= start) & (x["date"] <= as_of)]
        for name, x in (("签约", con), ("发货", dlv), ("开票", inv), ("回款", pay))
    }
    per = {
        dim: pd.concat(
            [x.groupby(dim)["amount"].sum().rename(n) for n, x in month.items() if dim in x], axis=1
        )
        for dim in ("salesperson", "customer", "product")
    }
    year_ago = start - pd.DateOffset(months=12)
    trend = pd.concat(
        [
            x[x["date"] >= year_ago].groupby(x["date"].dt.to_period("M"))["amount"].sum().rename(n)
            for n, x in (("签约", con), ("发货", dlv), ("开票", inv), ("回款", pay))
        ],
        axis=1,
    )
    done = exe[exe["date"] >= year_ago]

    out.mkdir(parents=True, exist_ok=True)
    cells = 0

    def book(name: str, sheets: dict[str, pd.DataFrame], index: bool = False) -> None:
        nonlocal cells
        with pd.ExcelWriter(out / name, engine="openpyxl") as writer:
            for sheet, frame in sheets.items():
                frame.to_excel(writer, sheet_name=sheet, index=index)
                cells += frame.size

    book("合同对账.xlsx", {"合同执行": exe, "回款明细": payments, "异常清单": odd})
    book(
        "应收账龄.xlsx",
        {"账龄明细": items, "客户账龄": by_customer, "业务员账龄": by_person, "催款清单": dunning},
        index=True,
    )
    book(
        "月度统计.xlsx",
        {
            "业务员统计": per["salesperson"],
            "客户统计": per["customer"],
            "产品统计": per["product"],
            "月度趋势": trend.reset_index().astype({"date": str}),
            "合同完成明细": done,
            "回款明细": month["回款"],
        },
    )
    statements = out / "客户对账单"
    statements.mkdir(exist_ok=True)
    lines = pd.concat([month["发货"].assign(event="发货"), month["回款"].assign(event="回款")])
    opening = (
        dlv[dlv["date"] < start]
        .groupby("customer")["amount"]
        .sum()
        .sub(pay[pay["date"] < start].groupby("customer")["amount"].sum(), fill_value=0)
    )
    open_by_customer = dict(iter(items.groupby("customer")))
    lines_by_customer = dict(iter(lines.groupby("customer")))
    empty = lines.iloc[:0]
    for name in sorted(set(lines_by_customer) | set(open_by_customer)):  # activity in the period or a balance
        head = pd.DataFrame({"event": ["期初余额"], "amount": [opening.get(name, 0.0)]})
        group = lines_by_customer.get(name, empty)
        body = pd.concat([head, group.sort_values("date")[["date", "event", "contract_no", "amount"]]])
        sheets = {"对账单": body}
        if name in open_by_customer:
            sheets["未结清明细"] = open_by_customer[name]
        book(f"客户对账单/{name}_{job['period']}.xlsx", sheets)
    t2 = time.perf_counter()
    return {
        "read_wall": t1 - t0,
        "work_write_wall": t2 - t1,
        "rows_read": rows,
        "cells_written": int(cells),
        "files_written": len(list(out.rglob("*.xlsx"))),
        "maxrss_mib": _maxrss_mib(),
    }


# ---------------------------------------------------------------------------------------------------------------
# One repeat
# ---------------------------------------------------------------------------------------------------------------


def taizhang_exe() -> str:
    beside = Path(sys.executable).parent / "taizhang"
    return str(beside) if beside.exists() else shutil.which("taizhang") or "taizhang"


def fresh_workspace(ws: Path, inbox: Path) -> None:
    shutil.rmtree(ws, ignore_errors=True)  # a fresh one: no store, outputs or archive of an earlier run
    subprocess.run([taizhang_exe(), "init", str(ws)], check=True, stdout=subprocess.DEVNULL)
    toml = ws / "taizhang.toml"
    text = toml.read_text(encoding="utf-8")
    lines = [
        "settle_seconds = 0" if ln.strip().startswith("settle_seconds") else ln for ln in text.splitlines()
    ]
    if "settle_seconds = 0" not in lines:
        raise SystemExit("taizhang.toml has no settle_seconds line to set to 0")
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for src in sorted(inbox.iterdir()):
        shutil.copy2(src, ws / "inbox" / src.name)


def stage_cmd(stage: str, job: dict[str, Any], work: Path) -> list[str]:
    job_path = work / f"{stage}.json"
    job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    return [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--job", str(job_path)]


def check(m: Measured, what: str, log: Path) -> None:
    if m.rc not in (0, 1):  # taizhang exits 1 when it found problems in the data; that is a normal run
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise SystemExit(f"{what} failed (exit {m.rc}); the end of {log}:\n{tail}")


def stage_seconds(outdir: Path) -> dict[str, float]:
    """The run's own wall time per stage (run.json "seconds"), which a profiler of the parent cannot see."""
    return dict(json.loads((outdir / "run.json").read_text(encoding="utf-8")).get("seconds", {}))


def peer_plans(plans: list[SheetPlan], every: int) -> list[SheetPlan]:
    """Every `every`-th file of each kind (always the first), all its sheets: a deterministic subset."""
    files: dict[str, list[str]] = {}
    for p in plans:
        names = files.setdefault(p.kind, [])
        if p.file not in names:
            names.append(p.file)
    keep = {name for names in files.values() for name in names[::every]}
    return [p for p in plans if p.file in keep]


def taizhang_run(ws: Path, tz: list[str], period: str, log: Path) -> Measured:
    """One measured `taizhang run`, with its stage times from run.json."""
    m = measure(tz, log)
    check(m, f"taizhang run ({log.stem})", log)
    m.extra["seconds"] = stage_seconds(ws / "outbox" / period)
    return m


def run_pairs(repeat: dict[str, Any]) -> list[tuple[Measured, Measured]]:
    """Every (first run, second run) pair of a repeat, the first pair first."""
    firsts = [k for k in repeat if k == "taizhang" or k.startswith("taizhang#")]
    return [(repeat[f], repeat[f.replace("taizhang", "second")]) for f in firsts]


def one_repeat(
    k: int,
    args: argparse.Namespace,
    inbox: Path,
    params: dict[str, Any],
    plans: list[SheetPlan],
    customers: list[str],
    work: Path,
) -> dict[str, Any]:
    period = params["period"]
    year, month = (int(x) for x in period.split("-"))
    as_of = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).isoformat()
    ws = work / "ws"
    fresh_workspace(ws, inbox)
    tz = [taizhang_exe(), "--workspace", str(ws), "run", "--period", period]
    res: dict[str, Any] = {}

    print(f"[{k}] taizhang run ...", flush=True)
    res["taizhang"] = taizhang_run(ws, tz, period, work / "taizhang.log")
    # The first run's outputs, kept before the second run replaces them: the floor writes the same cells.
    shutil.copytree(ws / "outbox" / period, work / "taizhang_out")

    print(f"[{k}] second run (one new {SMALL_FILE}) ...", flush=True)
    write_small_payments(ws / "inbox" / SMALL_FILE, customers, period)
    res["second"] = taizhang_run(ws, tz, period, work / "second.log")
    for i in range(2, args.pairs + 1):  # more (first, second) pairs: the ratio's median, on a noisy machine
        print(f"[{k}] taizhang run and second run, pair {i} ...", flush=True)
        fresh_workspace(ws, inbox)
        res[f"taizhang#{i}"] = taizhang_run(ws, tz, period, work / f"taizhang{i}.log")
        write_small_payments(ws / "inbox" / SMALL_FILE, customers, period)
        res[f"second#{i}"] = taizhang_run(ws, tz, period, work / f"second{i}.log")

    print(f"[{k}] floor ...", flush=True)
    floor_job = {
        "inbox": str(inbox),
        "out": str(work / "floor_out"),
        "outputs": str(work / "taizhang_out"),
        "plans": [asdict(p) for p in plans],
    }
    res["floor"] = m = measure(stage_cmd("floor", floor_job, work), work / "floor.log")
    check(m, "floor", work / "floor.log")

    subset = peer_plans(plans, args.peer_every)
    scale = sum(p.rows for p in plans) / max(1, sum(p.rows for p in subset))
    print(
        f"[{k}] peer{f' (every {args.peer_every}th file, ×{scale:.2f})' if args.peer_every > 1 else ''} ...",
        flush=True,
    )
    peer_job = {
        "inbox": str(inbox),
        "out": str(work / "peer_out"),
        "period": period,
        "as_of": as_of,
        "plans": [asdict(p) for p in subset],
    }
    res["peer"] = m = measure(stage_cmd("peer", peer_job, work), work / "peer.log")
    check(m, "peer", work / "peer.log")
    m.extra["scale"] = scale
    if not args.keep:
        for name in ("ws", "taizhang_out", "floor_out", "peer_out"):
            shutil.rmtree(work / name, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    wall: float
    cpu: float
    pss_tree: float | None
    rss_proc: float | None
    note: str = ""


def summarise(repeats: list[dict[str, Any]]) -> dict[str, Row]:
    def med(get: Any) -> float:
        return float(median(get(r) for r in repeats))

    fl = [r["floor"].extra for r in repeats]
    floor_wall = median(e["read_wall"] + e["write_wall"] for e in fl)
    floor_cpu = median(e["read_cpu"] + e["write_cpu"] for e in fl)
    scale = repeats[0]["peer"].extra.get("scale", 1.0)
    rows = {
        "floor": Row(
            "floor (fastexcel read + xlsxwriter write)",
            floor_wall,
            floor_cpu,
            med(lambda r: r["floor"].pss_tree_mib),
            med(lambda r: r["floor"].rss_proc_mib),
            "timed inside its process",
        ),
        "floor_read": Row(
            "  floor: read every sheet",
            median(e["read_wall"] for e in fl),
            median(e["read_cpu"] for e in fl),
            None,
            None,
        ),
        "floor_write": Row(
            "  floor: write the output cells",
            median(e["write_wall"] for e in fl),
            median(e["write_cpu"] for e in fl),
            None,
            None,
        ),
        "peer": Row(
            "peer (pandas + openpyxl)",
            med(lambda r: r["peer"].wall) * scale,
            med(lambda r: r["peer"].cpu) * scale,
            med(lambda r: r["peer"].pss_tree_mib),
            med(lambda r: r["peer"].rss_proc_mib),
            f"EXTRAPOLATED ×{scale:.2f} from a subset; RSS is the subset's" if scale > 1.0001 else "",
        ),
        "taizhang": _run_row("taizhang run (fresh workspace)", [a for r in repeats for a, _ in run_pairs(r)]),
        "second": _run_row("second run (+1 small file)", [b for r in repeats for _, b in run_pairs(r)]),
    }
    return rows


def _run_row(label: str, runs: list[Measured]) -> Row:
    """Medians of time over every run; memory is the highest of them (the target is a ceiling)."""
    return Row(
        label,
        float(median(m.wall for m in runs)),
        float(median(m.cpu for m in runs)),
        max(m.pss_tree_mib for m in runs),
        max(m.rss_proc_mib for m in runs),
        f"median of {len(runs)}" if len(runs) > 1 else "",
    )


def second_ratio(repeats: list[dict[str, Any]]) -> tuple[float, float, list[str]]:
    """Median over every pair of second / first (wall and CPU), and each pair as 'first/second s'."""
    pairs = [p for r in repeats for p in run_pairs(r)]
    wall = float(median(b.wall / a.wall for a, b in pairs))
    cpu = float(median(b.cpu / a.cpu for a, b in pairs))
    return wall, cpu, [f"{a.wall:.1f}/{b.wall:.1f} s = {b.wall / a.wall:.2f}×" for a, b in pairs]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(rows: dict[str, Row], repeats: list[dict[str, Any]], header: str) -> list[str]:
    def mib(v: float | None) -> str:
        return f"{v:9.0f}" if v is not None else " " * 9

    out = [
        header,
        "",
        f"{'':44} {'wall s':>8} {'CPU s':>8} {'PSS MiB':>9} {'max proc':>9}",
        f"{'':44} {'':>8} {'(tree)':>8} {'(tree)':>9} {'MiB':>9}",
    ]
    for r in rows.values():
        out.append(
            f"{r.label:44} {r.wall:8.2f} {r.cpu:8.2f} {mib(r.pss_tree)} {mib(r.rss_proc)}"
            + (f"  {r.note}" if r.note else "")
        )
    fl, pe, tz, se = rows["floor"], rows["peer"], rows["taizhang"], rows["second"]
    t_floor, t_peer = tz.wall / fl.wall, pe.wall / tz.wall
    t_second, cpu_second, each_pair = second_ratio(repeats)
    pss = max(tz.pss_tree or 0, se.pss_tree or 0)
    first = repeats[0]
    out += [
        "",
        f"outputs: taizhang {first['floor'].extra['xlsx_files']} .xlsx, {first['floor'].extra['cells']:,} "
        f"cells ({first['floor'].extra['nonblank_cells']:,} non-blank; the floor writes these); "
        f"peer {first['peer'].extra['files_written']} .xlsx, {first['peer'].extra['cells_written']:,} cells"
        + (" (subset)" if pe.note else ""),
        f"rows read: floor {first['floor'].extra['rows_read']:,}, peer {first['peer'].extra['rows_read']:,}"
        + (" (subset)" if pe.note else ""),
        *(
            f"{label} stages (run.json, s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in first[key].extra.get("seconds", {}).items())
            for key, label in (("taizhang", "taizhang run"), ("second", "second run"))
        ),
        "",
        f"taizhang / floor    {t_floor:6.2f}×  wall  ({tz.cpu / fl.cpu:5.2f}× CPU)   target ≤ {TARGET_FLOOR}×   "
        f"{verdict(t_floor <= TARGET_FLOOR)}   (operations.md ≤ {SPEC_FLOOR}×: {verdict(t_floor <= SPEC_FLOOR)})",
        f"peer / taizhang     {t_peer:6.2f}×  wall  ({pe.cpu / tz.cpu:5.2f}× CPU)   target ≥ {TARGET_PEER}×     "
        f"{verdict(t_peer >= TARGET_PEER)}" + ("   (peer extrapolated)" if pe.note else ""),
        f"peak PSS (tree)     {pss:6.0f} MiB                     target < {TARGET_RSS_MIB} MiB "
        f"{verdict(pss < TARGET_RSS_MIB)}",
        f"second / first      {t_second:6.2f}×  wall  ({cpu_second:5.2f}× CPU)   target ≤ {TARGET_SECOND}×  "
        f"{verdict(t_second <= TARGET_SECOND)}   (operations.md < {SPEC_SECOND}×: {verdict(t_second < SPEC_SECOND)})",
    ]
    if len(each_pair) > 1:
        out.append(f"  median of {len(each_pair)} pairs (first/second): " + ", ".join(each_pair))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--peer-every",
        type=int,
        default=1,
        help="the peer reads every N-th file of each kind and its figures are extrapolated "
        "linearly by row count (default 1: the whole data set)",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="(first run, second run) pairs of taizhang per repeat, each on a fresh workspace; the second / "
        "first ratio is their median (about 45 s a pair at 1M rows, where the floor and peer take 9 minutes)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the workspaces and outputs of each repeat")
    parser.add_argument("--stage", choices=("floor", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        job = json.loads(args.job.read_text(encoding="utf-8"))
        print(json.dumps((stage_floor if args.stage == "floor" else stage_peer)(job)), flush=True)
        return
    args.peer_every = max(1, args.peer_every)
    args.pairs = max(1, args.pairs)

    become_subreaper()
    inbox, params = ensure_data(args.rows, args.files, args.seed)
    plans = plan_sheets(inbox)
    customers = customer_names(inbox, plans)
    load = os.getloadavg()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    header = (
        f"taizhang bench — {sum(p.rows for p in plans):,} ledger rows in {len(list(inbox.iterdir()))} files "
        f"({len(plans)} sheets), seed {args.seed}, period {params['period']}, repeat {args.repeat}, "
        f"pairs {args.pairs}; {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; {stamp}"
    )
    print(header, flush=True)
    repeats = []
    for k in range(1, args.repeat + 1):
        work = DATA / str(args.rows) / "runs" / f"{stamp}-{k}"
        work.mkdir(parents=True, exist_ok=True)
        repeats.append(one_repeat(k, args, inbox, params, plans, customers, work))
    rows = summarise(repeats)
    lines = report(rows, repeats, header)
    end_load = os.getloadavg()
    lines.append(
        f"load average at end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}; "
        f"command: python bench/run_bench.py --rows {args.rows} --files {args.files} "
        f"--repeat {args.repeat}"
        + (f" --pairs {args.pairs}" if args.pairs > 1 else "")
        + (f" --peer-every {args.peer_every}" if args.peer_every > 1 else "")
    )
    print("\n".join(lines), flush=True)
    record = {
        "stamp": stamp,
        "args": {k: v for k, v in vars(args).items() if k not in ("stage", "job")},
        "period": params["period"],
        "machine": platform.platform(),
        "load_start": load,
        "load_end": end_load,
        "rows": {k: asdict(v) for k, v in rows.items()},
        "repeats": [{k: asdict(v) for k, v in r.items()} for r in repeats],
    }
    with (DATA / "results.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
