"""Hostile and broken files beside good ones: the run finishes, each bad file costs only itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import new_workspace
from hostile import INJECTIONS, build_all

from pipeline.sample import write_worked_example

PERIOD = "2025-10"
WORKED_CUSTOMERS = ("华北电力工程有限公司", "东方建设集团", "南方水务有限公司")

QUARANTINED = {
    "zip_bomb": "unsafe-file", "entity_bomb": "unsafe-file", "huge_declared_range": "file-too-large",
    "sparse_far_cell": "file-too-large", "too_many_rows": "file-too-large", "truncated": "cannot-open",
    "empty": "empty-file", "encrypted": "encrypted",
}
READ = {
    "xlsm_with_macro": "macro-ignored", "real_xls": None, "html_as_xls": None, "csv_as_xlsx": None, "gbk_csv": None,
    "bom_csv": None, "wps_dimension": None, "error_cells": "error-cell", "uncalculated_formulas": "uncalculated-formula",
    "date_1904": None, "injection_names": None, "gbk_file_name": None,
}


def _workspace(root: Path) -> Path:
    ws = root / "ws"
    new_workspace(ws)
    write_worked_example(ws / "inbox")
    return ws


def _run(ws: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "--workspace", str(ws), "run", "--period", PERIOD],
                          capture_output=True, text=True, timeout=600)


def _rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:] if r[0] not in (None, "合计")]


def _worked_figures(ws: Path) -> list[dict[str, object]]:
    rows = _rows(ws / "outbox" / PERIOD / "应收账龄_2025-10-31.xlsx", "客户账龄")
    return sorted((r for r in rows if r["客户名称"] in WORKED_CUSTOMERS), key=lambda r: str(r["客户名称"]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Path], subprocess.CompletedProcess[str]]:
    clean = _workspace(tmp_path_factory.mktemp("clean"))
    assert _run(clean).returncode in (0, 1)
    hostile = _workspace(tmp_path_factory.mktemp("hostile"))
    files = build_all(hostile / "inbox")
    done = _run(hostile)
    return clean, hostile, files, done


def test_run_finishes_with_exit_1_and_no_traceback(runs) -> None:  # type: ignore[no-untyped-def]
    _, _, _, done = runs
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def test_good_files_figures_unchanged(runs) -> None:  # type: ignore[no-untyped-def]
    clean, hostile, _, _ = runs
    assert _worked_figures(hostile) == _worked_figures(clean)
    assert len(_worked_figures(clean)) == 3


@pytest.mark.parametrize(("name", "code"), sorted(QUARANTINED.items()))
def test_refused_files_quarantined_and_named(runs, name: str, code: str) -> None:  # type: ignore[no-untyped-def]
    _, hostile, files, _ = runs
    quarantined = [p.name for p in (hostile / "quarantine").rglob("*") if not p.name.endswith(".问题.txt")]
    assert files[name].name in quarantined
    problems = _rows(hostile / "outbox" / PERIOD / f"问题清单_{PERIOD}.xlsx", "问题清单")
    assert (files[name].name, code) in {(p["文件"], p["代码"]) for p in problems}


@pytest.mark.parametrize(("name", "code"), sorted(READ.items()))
def test_odd_but_readable_files_are_read(runs, name: str, code: str | None) -> None:  # type: ignore[no-untyped-def]
    _, hostile, files, _ = runs
    archived = {os.fsdecode(os.fsencode(p.name)) for p in (hostile / "archive").rglob("*")}
    assert files[name].name in archived
    problems = _rows(hostile / "outbox" / PERIOD / f"问题清单_{PERIOD}.xlsx", "问题清单")
    if code is not None:
        assert code in {p["代码"] for p in problems if p["文件"] == files[name].name}


def test_gbk_file_name_readable_in_problem_list(runs) -> None:  # type: ignore[no-untyped-def]
    _, hostile, _, _ = runs
    rows = _rows(hostile / "outbox" / PERIOD / f"合同对账_{PERIOD}.xlsx", "回款分配")
    assert "客户回款.xlsx" in {r["来源文件"] for r in rows}


def test_1904_dates_honoured(runs) -> None:  # type: ignore[no-untyped-def]
    _, hostile, _, _ = runs
    rows = _rows(hostile / "outbox" / PERIOD / f"合同对账_{PERIOD}.xlsx", "回款分配")
    dates = {str(r["回款日期"])[:10] for r in rows if r["来源文件"] == "1904日期.xlsx"}
    assert dates == {"2024-06-19"}


def test_injection_names_stay_text(runs) -> None:  # type: ignore[no-untyped-def]
    _, hostile, _, _ = runs
    rows = _rows(hostile / "outbox" / PERIOD / f"合同对账_{PERIOD}.xlsx", "回款分配")
    # Names are normalised (spaces dropped) but stay literal text: never a formula, link or number.
    assert {"".join(n.split()) for n in INJECTIONS} <= {r["客户名称"] for r in rows}


def test_nothing_left_in_inbox(runs) -> None:  # type: ignore[no-untyped-def]
    _, hostile, _, _ = runs
    assert list((hostile / "inbox").iterdir()) == []
    shutil.rmtree(hostile / "outbox", ignore_errors=True)


def test_summary_executes_no_injected_script(runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from test_summary import BROWSER_FLAGS, _chromium, _page_requests

    _, hostile, _, _ = runs
    browser = _chromium()
    if browser is None:
        pytest.skip("未安装 chromium（apt-get install chromium），跳过浏览器检查")
    page = hostile / "outbox" / PERIOD / f"经理简报_{PERIOD}.html"
    netlog = tmp_path / "net.json"
    done = subprocess.run([browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           f"--log-net-log={netlog}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert [line for line in done.stderr.splitlines() if "CONSOLE" in line] == []
    assert "<script" not in done.stdout.lower()
    assert _page_requests(netlog, page.as_uri()) == set()
