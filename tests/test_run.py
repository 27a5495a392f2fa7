"""The run model on real files, a real SQLite store and real processes: nothing lost, nothing counted twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest
from conftest import new_workspace, write_xlsx

from pipeline.lock import WorkspaceLock
from pipeline.run import run
from pipeline.store import Store

PERIOD = "2025-10"
HEADER = ["合同编号", "签订日期", "客户名称", "业务员", "合同金额"]
SEPTEMBER = [
    ["HT-1", "2025-09-01", "华北电力", "张伟", 100000],
    ["HT-2", "2025-09-10", "东方建设", "李娜", 50000],
]
OCTOBER = [
    ["HT-1", "2025-09-01", "华北电力", "张伟", 120000],
    ["HT-2", "2025-09-10", "东方建设", "李娜", 50000],
    ["HT-3", "2025-10-05", "东方建设", "李娜", 30000],
]


def workspace(tmp: Path) -> Path:
    return new_workspace(tmp / "ws")


def drop(ws: Path, name: str, rows: list[list[object]]) -> Path:
    return write_xlsx(ws / "inbox" / name, [HEADER, *rows])


def contract_amounts(ws: Path) -> dict[str, int]:
    with Store.open(ws) as store:
        frame = store.load(["contracts"])["contracts"]
    return dict(zip(frame["contract_no"], frame["amount"].astype(int), strict=True))


def cli(ws: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r and any(r))
    header = rows[header_at]
    return [
        dict(zip(header, r, strict=False)) for r in rows[header_at + 1 :] if r and r[0] not in (None, "合计")
    ]


def test_cumulative_ledger_amended_next_month(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    run(ws, PERIOD)
    assert contract_amounts(ws) == {"HT-1": 10000000, "HT-2": 5000000}
    drop(ws, "合同台账.xlsx", OCTOBER)  # same name, next month's cumulative version
    outcome = run(ws, PERIOD)
    assert contract_amounts(ws) == {"HT-1": 12000000, "HT-2": 5000000, "HT-3": 3000000}
    changes = sheet_rows(outcome.outdir / f"合同对账_{PERIOD}.xlsx", "变更记录")
    amended = [c for c in changes if "HT-1" in str(c.values())]
    assert len(amended) == 1
    values = " ".join(str(v) for v in amended[0].values())
    assert "100,000.00" in values and "120,000.00" in values
    assert sorted(p.name for p in (ws / "archive").rglob("*.xlsx")) == ["合同台账 (2).xlsx", "合同台账.xlsx"]


def test_only_new_month_rows_and_corrected_file(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同9月.xlsx", SEPTEMBER)
    run(ws, PERIOD)
    drop(ws, "合同10月.xlsx", [OCTOBER[2]])
    run(ws, PERIOD)
    assert contract_amounts(ws) == {"HT-1": 10000000, "HT-2": 5000000, "HT-3": 3000000}
    drop(ws, "合同10月_更正.xlsx", [["HT-3", "2025-10-05", "东方建设", "李娜", 33000]])
    run(ws, PERIOD)
    assert contract_amounts(ws)["HT-3"] == 3300000 and len(contract_amounts(ws)) == 3


def test_same_bytes_twice_taken_once_and_forget_restores(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    first = drop(ws, "合同台账.xlsx", SEPTEMBER)
    run(ws, PERIOD)
    before = contract_amounts(ws)
    shutil.copy(
        ws / "archive" / next((ws / "archive").iterdir()).name / first.name,
        ws / "inbox" / "合同台账_副本.xlsx",
    )
    outcome = run(ws, PERIOD)
    assert [(i.name, i.status) for i in outcome.intakes] == [("合同台账_副本.xlsx", "duplicate")]
    assert contract_amounts(ws) == before
    drop(ws, "合同更正.xlsx", [["HT-1", "2025-09-01", "华北电力", "张伟", 999]])
    run(ws, PERIOD)
    assert contract_amounts(ws)["HT-1"] == 99900
    forgot = cli(ws, "forget", "合同更正.xlsx")
    assert forgot.returncode == 0, forgot.stderr
    assert contract_amounts(ws) == before
    listing = cli(ws, "files")
    assert "合同更正.xlsx" in listing.stdout and "已撤回" in listing.stdout


def test_junk_and_lock_files_skipped_and_listed(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    junk = [
        "~$合同台账.xlsx",
        ".~lock.合同台账.xlsx#",
        "Thumbs.db",
        "desktop.ini",
        "下载中.tmp",
        ".隐藏.xlsx",
    ]
    for name in junk:
        (ws / "inbox" / name).write_bytes(b"x")
    outcome = run(ws, PERIOD)
    assert sorted(p.name for p, _ in outcome.skipped) == sorted(junk)
    assert sorted(p.name for p in (ws / "inbox").iterdir()) == sorted(junk)
    assert not (ws / "quarantine").exists() or not any((ws / "quarantine").rglob("*"))


def test_file_still_being_written_is_left_for_next_run(tmp_path: Path) -> None:
    ws = new_workspace(tmp_path / "ws", settle_seconds=5)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    os.utime(ws / "inbox" / "合同台账.xlsx", (time.time() - 60, time.time() - 60))
    growing = ws / "inbox" / "回款台账.csv"
    growing.write_text("回款日期,客户名称,回款金额\n", encoding="utf-8")
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            with growing.open("a", encoding="utf-8") as fh:
                fh.write("2025-10-01,华北电力,100\n")
            time.sleep(0.1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        outcome = run(ws, PERIOD)
    finally:
        stop.set()
        writer.join()
    assert [p.name for p in outcome.settling] == ["回款台账.csv"]
    assert growing.exists() and [i.name for i in outcome.intakes] == ["合同台账.xlsx"]


def test_second_concurrent_run_exits_3(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    with WorkspaceLock(ws / ".taizhang"):
        blocked = cli(ws, "run", "--period", PERIOD)
    assert blocked.returncode == 3 and "另一个 taizhang 正在运行" in blocked.stderr
    assert (ws / "inbox" / "合同台账.xlsx").exists()
    done = cli(ws, "run", "--period", PERIOD)
    assert done.returncode == 0, done.stdout + done.stderr


def test_two_real_processes_one_runs_the_other_exits_3(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    cmd = [sys.executable, "-m", "pipeline.cli", "--workspace", str(ws), "run", "--period", PERIOD]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes in (
        [0, 3],
        [0, 0],
    )  # the second may start after the first finished: then it has nothing to do
    assert contract_amounts(ws) == {"HT-1": 10000000, "HT-2": 5000000}


def test_stale_lock_from_dead_process_taken_over(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (ws / ".taizhang").mkdir(exist_ok=True)
    (ws / ".taizhang" / "run.lock").write_text(json.dumps({"pid": int(dead.stdout), "started": "2025-01-01"}))
    assert cli(ws, "run", "--period", PERIOD).returncode == 0


@pytest.mark.parametrize("point", ["after-intake", "mid-outputs", "before-swap", "before-archive"])
def test_killed_run_leaves_store_and_outputs_and_next_run_completes(tmp_path: Path, point: str) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    assert run(ws, PERIOD).exit_code == 0  # in-process: only the killed run and the one after need a real process
    previous = (ws / "outbox" / PERIOD / "run.json").read_text(encoding="utf-8")
    drop(ws, "合同10月.xlsx", [OCTOBER[2]])
    (ws / "inbox" / "坏文件.xlsx").write_bytes(b"PK\x03\x04 broken")
    killed = cli(ws, "run", "--period", PERIOD, env={"TAIZHANG_CRASH_AT": point})
    assert killed.returncode == 70
    after = (ws / "outbox" / PERIOD / "run.json").read_text(encoding="utf-8")
    if point == "before-archive":  # outputs were complete and swapped in; only the filing of inputs is left
        assert json.loads(after)["totals"]["本月新签"] == "30,000.00"
    else:
        assert after == previous
    assert sorted(p.name for p in (ws / "outbox" / PERIOD).iterdir() if p.name.startswith(".")) == []
    again = cli(ws, "run", "--period", PERIOD)
    assert again.returncode == 1, again.stderr  # the broken file is a problem
    assert contract_amounts(ws) == {"HT-1": 10000000, "HT-2": 5000000, "HT-3": 3000000}
    data = json.loads((ws / "outbox" / PERIOD / "run.json").read_text(encoding="utf-8"))
    assert data["totals"]["本月新签"] == "30,000.00"
    assert sorted(p.name for p in (ws / "inbox").iterdir()) == []
    assert [p.name for p in (ws / "quarantine").rglob("*.xlsx")] == ["坏文件.xlsx"]
    assert len([p for p in (ws / "outbox").iterdir() if p.name.startswith(".")]) == 0


def test_unwritable_outbox_gives_clear_message_and_keeps_inbox(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    shutil.rmtree(ws / "outbox")
    (ws / "outbox").write_text("not a folder")  # as unwritable as it gets, even for root
    failed = cli(ws, "run", "--period", PERIOD)
    assert failed.returncode == 3 and "无法完成运行" in failed.stderr and "Traceback" not in failed.stderr
    assert (ws / "inbox" / "合同台账.xlsx").exists()
    (ws / "outbox").unlink()
    (ws / "outbox").mkdir()
    done = cli(ws, "run", "--period", PERIOD)
    assert done.returncode == 0, done.stdout + done.stderr
    assert contract_amounts(ws) == {"HT-1": 10000000, "HT-2": 5000000}
    problems = sheet_rows(ws / "outbox" / PERIOD / f"问题清单_{PERIOD}.xlsx", "问题清单")
    assert problems == []


@pytest.mark.parametrize(
    ("fault", "code"), [("crash", "reader-crashed"), ("hang", "read-timeout"), ("memory", "file-too-large")]
)
def test_reader_crash_hang_or_memory_blowup_costs_only_that_file(tmp_path: Path, fault: str, code: str) -> None:
    ws = new_workspace(tmp_path / "ws", parse_timeout_seconds=3)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    drop(ws, "坏的台账.xlsx", [OCTOBER[2]])
    done = cli(ws, "run", "--period", PERIOD, env={"TAIZHANG_FAULT": f"{fault}:坏的台账.xlsx"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert contract_amounts(ws) == {"HT-1": 10000000, "HT-2": 5000000}
    assert [p.name for p in (ws / "quarantine").rglob("*.xlsx")] == ["坏的台账.xlsx"]
    note = next((ws / "quarantine").rglob("*.问题.txt")).read_text(encoding="utf-8-sig")
    assert "坏的台账.xlsx" in note
    problems = sheet_rows(ws / "outbox" / PERIOD / f"问题清单_{PERIOD}.xlsx", "问题清单")
    assert [(p["文件"], p["代码"]) for p in problems] == [("坏的台账.xlsx", code)]


def test_watch_runs_once_files_settle(tmp_path: Path) -> None:
    from pipeline.watch import watch

    ws = new_workspace(tmp_path / "ws", settle_seconds=0.5)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    outcomes = []
    assert watch(ws, lambda: outcomes.append(run(ws, PERIOD)) or 0, max_runs=1) == 0
    assert [i.name for i in outcomes[0].intakes] == ["合同台账.xlsx"]
    assert not (ws / "inbox" / "合同台账.xlsx").exists()


def test_second_run_copies_unchanged_outputs_and_rewrites_changed_ones(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    write_xlsx(ws / "inbox" / "发货台账.xlsx", [["发货日期", "客户名称", "发货金额", "合同编号"],
                                               ["2025-09-05", "华北电力", 1000, "HT-1"], ["2025-09-06", "东方建设", 2000, "HT-2"]])
    first = run(ws, PERIOD)
    statements = first.outdir / "客户对账单"
    before = {p.name: p.read_bytes() for p in statements.iterdir()}
    write_xlsx(ws / "inbox" / "回款.xlsx", [["回款日期", "客户名称", "回款金额"], ["2025-10-08", "东方建设", 500]])
    run(ws, PERIOD)
    after = {p.name: p.read_bytes() for p in statements.iterdir()}
    assert before.keys() == after.keys()
    unchanged = [n for n in before if n.startswith("华北电力")]
    changed = [n for n in before if n.startswith("东方建设")]
    assert unchanged and changed
    assert all(before[n] == after[n] for n in unchanged)  # copied, byte for byte
    assert all(before[n] != after[n] for n in changed)
    data = json.loads((first.outdir / "run.json").read_text(encoding="utf-8"))
    assert data["totals"]["本月回款"] == "500.00" and len(data["fingerprints"]) >= 7
    assert list(data["seconds"]) == ["intake", "load", "reconcile", "derive", "write"]
    assert all(0 <= v < 300 for v in data["seconds"].values())
    tasks = data["write_seconds"]  # every report task, statements by shard
    assert {"reconciliation", "aging", "monthly", "assessment", "summary", "problem_list"} <= tasks.keys()
    assert any(k.startswith("statements ") for k in tasks) and sum(tasks.values()) > 0


def test_progress_says_what_the_run_is_doing_after_reading(tmp_path: Path) -> None:
    """The terminal's bar must not stand on the last file read while the run reconciles and writes."""
    ws = workspace(tmp_path / "ws")
    drop(ws, "合同台账.xlsx", SEPTEMBER)
    drop(ws, "合同台账_补充.xlsx", SEPTEMBER[:1])
    told: list[tuple[str, int, int]] = []
    run(ws, PERIOD, progress=lambda what, done, total: told.append((what, done, total)))
    reads = [t for t in told if t[0].startswith("读取 ")]
    assert sorted(what for what, _, _ in reads) == ["读取 合同台账.xlsx", "读取 合同台账_补充.xlsx"]
    assert [(done, total) for _, done, total in reads] == [(1, 2), (2, 2)]
    stages = [what for what, _, total in told if total == 0]
    assert stages == ["加载台账", "核对合同、发货、开票与回款", "计算账龄、统计与考核", "写出报表"]
    writes = [done for what, done, total in told if what == "写出报表" and total]
    assert writes == list(range(1, len(writes) + 1)) and len(writes) >= 8
