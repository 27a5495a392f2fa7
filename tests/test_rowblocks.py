"""Row-block reuse: a workbook built partly from the previous run's blocks holds exactly the sheet XML a fresh
write gives, blocks change only where their rows do, and nothing is taken from a file that was saved over."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import new_workspace, write_xlsx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from pipeline.reports import rowblocks
from pipeline.reports import workbook as wbmod
from pipeline.reports.reuse import Reuse, reusing, stamped
from pipeline.reports.rowblocks import Block
from pipeline.reports.workbook import Column, SheetData, write_workbook
from pipeline.run import run

SHEET = "xl/worksheets/sheet1.xml"
COLUMNS = (
    Column("客户", "text", "customer"),
    Column("金额", "money", "amount"),
    Column("比例", "rate", "rate"),
    Column("日期", "date", "day"),
    Column("显示", "text", "shown"),
)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Blocks of 4 rows from tables of 8, chunks of 12 rows: every boundary case in a few dozen rows."""
    monkeypatch.setattr(rowblocks, "BLOCK_ROWS", 4)
    monkeypatch.setattr(rowblocks, "MIN_ROWS", 8)
    monkeypatch.setattr(wbmod, "CHUNK_ROWS", 12)
    yield


Row = tuple[str | None, int | None, float, date | None, object]
texts = st.none() | st.sampled_from(["", "华东电力", "HT-1", "a&b<c>", " 空格 ", "_x0041_", "\x07铃"])
cells = st.tuples(
    texts,
    st.none() | st.integers(-(10**12), 10**12),
    st.sampled_from([0.0, -0.0, 0.5, float("nan"), float("inf"), 1e-9]),
    st.none() | st.dates(date(2020, 1, 1), date(2026, 12, 31)),
    st.sampled_from([1, "1", 2.5, "无目标", None]),  # mixed, as 月度统计's shown targets
)


def frame(rows: list[Row]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": pd.Series([r[0] for r in rows], dtype="str"),
            "amount": pd.array([r[1] for r in rows], dtype="Int64"),
            "rate": pd.Series([r[2] for r in rows], dtype="float64"),
            "day": pd.to_datetime(pd.Series([r[3] for r in rows], dtype=object)),
            "shown": pd.Series([r[4] for r in rows], dtype=object),
        }
    )


@dataclass
class Written:
    """A workbook as a run leaves it: what the run recorded, and its run.json stamps, taken right after."""

    reuse: Reuse
    stamps: dict[str, str]


def write(folder: Path, data: pd.DataFrame, previous: Written | None = None, numbered: bool = False) -> Written:
    """The workbook written as a run writes it, taking blocks from `previous` (the last run) if given; with
    settings.outputs.numbered_rows = `numbered`."""
    # Another fingerprint, the same stamps: the whole file must not simply be taken again.
    old = {k: "changed " + " ".join(v.split(" ")[1:]) for k, v in (previous.stamps if previous else {}).items()}
    blocks = previous.reuse.new_blocks if previous else {}
    with reusing(previous.reuse.staging if previous else None, folder, old, blocks, numbered) as reuse:
        write_workbook(folder / "t.xlsx", None, [SheetData("明细", data, COLUMNS, total_row=True)])
    return Written(reuse, stamped(folder, reuse.new))


def sheet_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(SHEET)


def fresh_xml(folder: Path, data: pd.DataFrame) -> bytes:
    """Written outside any run: no blocks at all, the plain path."""
    write_workbook(folder / "fresh.xlsx", None, [SheetData("明细", data, COLUMNS, total_row=True)])
    return sheet_xml(folder / "fresh.xlsx")


def recorded(written: Written) -> list[Block]:
    blocks = [Block.from_json(r) for r in written.reuse.new_blocks["t.xlsx"]]
    assert all(b is not None for b in blocks)
    return [b for b in blocks if b is not None]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(cells, min_size=8, max_size=40), st.data())
def test_a_workbook_built_from_old_blocks_is_the_workbook_a_fresh_write_gives(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Row], draw: st.DataObject
) -> None:
    root = tmp_path_factory.mktemp("blocks")
    first = write(root / "a", frame(rows))
    edit = draw.draw(st.sampled_from(["cell", "insert", "delete", "none"]))
    i = draw.draw(st.integers(0, len(rows) - 1))
    changed = list(rows)
    if edit == "cell":
        changed[i] = draw.draw(cells)
    elif edit == "insert":
        changed.insert(i, draw.draw(cells))
    elif edit == "delete":
        del changed[i]
    second = write(root / "b", frame(changed), previous=first)
    assert sheet_xml(root / "b" / "t.xlsx") == fresh_xml(root, frame(changed))
    assert second.reuse.copied == 0
    if edit == "none":
        assert second.reuse.reused_blocks == len(recorded(second))
    elif len(changed) >= rowblocks.MIN_ROWS:  # (a smaller table is written whole)
        # Cuts are decided top to bottom from the rows above them: blocks ending above the edit are the first
        # file's. (Those below it come back once the cuts meet again: see the shifted-rows test.)
        ends = starts(frame(changed))[1:]
        assert second.reuse.reused_blocks >= int(np.sum((ends <= i) & (ends < len(changed))))


def starts(data: pd.DataFrame) -> np.ndarray:
    """Where the blocks of `data` start, then its length (the shapes do not move the cuts)."""
    return rowblocks.Table(data, [(c.src, "") for c in COLUMNS]).starts


def distinct(n: int) -> list[Row]:
    """Rows as a ledger's are: each its own customer, amount and date."""
    return [(f"客户{i}", i * 137 % 1000 * 100, i / 7, date(2025, 1, 1 + i % 28), i % 5 or None) for i in range(n)]


def test_every_block_inflates_on_its_own_to_what_its_record_says(tmp_path: Path) -> None:
    rows = distinct(30)
    data_written = write(tmp_path, frame(rows))
    data = (tmp_path / "t.xlsx").read_bytes()
    blocks = recorded(data_written)
    assert len(blocks) == len(starts(frame(rows))) - 1 >= 3
    xml = b""
    for block in blocks:
        raw = zlib.decompressobj(-15).decompress(data[block.offset : block.offset + block.length])
        assert len(raw) == block.size and zlib.crc32(raw) == block.crc
        assert raw.startswith(b"<row><c") and raw.endswith(b"</row>")  # no row numbers, no references
        xml += raw
    sheet = sheet_xml(tmp_path / "t.xlsx")
    header_end = sheet.index(b"</row>") + len(b"</row>")
    assert sheet[header_end:].startswith(xml)
    assert sheet[header_end + len(xml) :].startswith(b'<row r="32">')  # 合计, placed by its number
    assert xml.count(b"<row>") == 30


def test_unchanged_rows_are_copied_and_a_changed_row_rebuilds_its_block_only(tmp_path: Path) -> None:
    rows = distinct(60)
    first = write(tmp_path / "a", frame(rows))
    rows[25] = ("改名", 500, 0.5, None, None)
    second = write(tmp_path / "b", frame(rows), previous=first)
    before, after = {b.digest for b in recorded(first)}, [b.digest for b in recorded(second)]
    assert 1 <= sum(d not in before for d in after) <= 2  # its block, and the next when the cut after it moved
    assert second.reuse.reused_blocks == sum(d in before for d in after)
    assert sheet_xml(tmp_path / "b" / "t.xlsx") == fresh_xml(tmp_path, frame(rows))


def test_rows_coming_and_going_above_a_block_leave_it_to_be_copied(tmp_path: Path) -> None:
    """Paid open items leave 账龄明细 and every row after them moves up: their blocks are still the same bytes."""
    rows = distinct(200)
    first = write(tmp_path / "a", frame(rows))
    moved = [("新客户", 1, 0.5, None, None), *rows[:40], *rows[41:150], *rows[151:]]
    second = write(tmp_path / "b", frame(moved), previous=first)
    blocks = len(recorded(second))
    assert blocks >= 20 and second.reuse.reused_blocks >= blocks - 6  # at most two blocks rebuilt per edit
    assert sheet_xml(tmp_path / "b" / "t.xlsx") == fresh_xml(tmp_path, frame(moved))


@pytest.mark.parametrize(
    "changed", [("客户0", 0, 0.0, None, "1"), ("客户0", 0, -0.0, None, 1)], ids=["text 1 for number 1", "-0.0 for 0.0"]
)
def test_values_printed_alike_but_written_differently_are_not_the_same_block(tmp_path: Path, changed: Row) -> None:
    rows: list[Row] = [(f"客户{i}", i, 0.0, None, 1) for i in range(16)]
    first = write(tmp_path / "a", frame(rows))
    rows[0] = changed
    second = write(tmp_path / "b", frame(rows), previous=first)
    assert 0 < second.reuse.reused_blocks < len(recorded(second))  # the first block is built again
    assert sheet_xml(tmp_path / "b" / "t.xlsx") == fresh_xml(tmp_path, frame(rows))


def test_nothing_is_taken_from_a_previous_file_saved_over(tmp_path: Path) -> None:
    rows: list[Row] = [(f"客户{i}", i, 0.5, None, None) for i in range(16)]
    first = write(tmp_path / "a", frame(rows))
    path = tmp_path / "a" / "t.xlsx"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # saved from Excel, say
    second = write(tmp_path / "b", frame(rows), previous=first)
    assert second.reuse.reused_blocks == 0
    assert sheet_xml(tmp_path / "b" / "t.xlsx") == fresh_xml(tmp_path, frame(rows))


def test_another_layout_of_the_same_values_reuses_nothing(tmp_path: Path) -> None:
    rows = distinct(16)
    first = write(tmp_path / "a", frame(rows))
    with reusing(tmp_path / "a", tmp_path / "c", first.stamps, first.reuse.new_blocks) as other:
        cols = (COLUMNS[1], COLUMNS[0], *COLUMNS[2:])  # the same values, columns swapped
        write_workbook(tmp_path / "c" / "t.xlsx", None, [SheetData("明细", frame(rows), cols, total_row=True)])
    assert other.reused_blocks == 0


def test_a_small_table_is_written_whole(tmp_path: Path) -> None:
    written = write(tmp_path, frame([("客户", 1, 0.5, None, None)] * 7))
    assert written.stamps and not written.reuse.new_blocks


def test_records_from_another_version_are_ignored() -> None:
    assert Block.from_json("abc 1 2 3 4") == Block("abc", 1, 2, 3, 4)
    assert Block.from_json("abc 1 2 3 4 0,2").cut == (0, 2)  # type: ignore[union-attr]
    old = "abc 1 2 3 4 5 6"  # with the rows' numbers, before blocks were cut by their content
    for junk in (None, 5, "abc 1 2", "abc x 2 3 4", "abc 1 2 3 4 a,b", old, ["abc", 1, 2, 3, 4, []]):
        assert Block.from_json(junk) is None


CONTRACTS = [["合同编号", "签订日期", "客户名称", "业务员", "合同金额"]]
CONTRACTS += [[f"HT-{i}", "2025-09-01", f"客户{i % 3}", "张伟", 1000 + i] for i in range(30)]
DELIVERIES = [["发货日期", "客户名称", "发货金额", "合同编号"]]
DELIVERIES += [["2025-09-05", f"客户{i % 3}", 500 + i, f"HT-{i}"] for i in range(30)]


def test_a_second_run_reuses_blocks_and_writes_what_a_fresh_run_writes(tmp_path: Path) -> None:
    """Through the whole run (forked writers, run.json): after one new file, every sheet but 说明 of the
    reconciliation workbook is byte for byte what a fresh workspace with the same files writes."""
    payments = [["回款日期", "客户名称", "回款金额"], ["2025-10-08", "客户1", 700]]
    again, fresh = new_workspace(tmp_path / "again"), new_workspace(tmp_path / "fresh")
    for ws in (again, fresh):
        write_xlsx(ws / "inbox" / "合同台账.xlsx", CONTRACTS)
        write_xlsx(ws / "inbox" / "发货台账.xlsx", DELIVERIES)
    first = run(again, "2025-10")
    blocks = json.loads((first.outdir / "run.json").read_text(encoding="utf-8"))["row_blocks"]
    assert any(name.startswith("合同对账") and len(records) > 4 for name, records in blocks.items())
    for ws in (again, fresh):
        write_xlsx(ws / "inbox" / "回款.xlsx", payments)
    second, third = run(again, "2025-10"), run(fresh, "2025-10")
    book = next(p.name for p in second.outputs if p.name.startswith("合同对账"))
    with zipfile.ZipFile(second.outdir / book) as a, zipfile.ZipFile(third.outdir / book) as b:
        sheets = [n for n in a.namelist() if n.startswith("xl/worksheets/sheet") and n != SHEET]  # sheet1: 说明
        assert len(sheets) >= 3 and all(a.read(n) == b.read(n) for n in sheets)


@pytest.mark.parametrize("numbered", [True, False])
def test_the_numbered_rows_setting_reaches_the_writers(tmp_path: Path, numbered: bool) -> None:
    ws = new_workspace(tmp_path, numbered_rows=str(numbered).lower())
    write_xlsx(ws / "inbox" / "合同台账.xlsx", CONTRACTS)
    write_xlsx(ws / "inbox" / "发货台账.xlsx", DELIVERIES)
    outcome = run(ws, "2025-10")
    book = next(p for p in outcome.outputs if p.name.startswith("合同对账"))
    with zipfile.ZipFile(book) as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    assert any(b"<row>" in xml for xml in sheets) is not numbered


def cells_read(path: Path) -> tuple[list[list[object]], list[list[object]], list[list[object]]]:
    """What openpyxl (values, number formats) and calamine read from the sheet 明细."""
    ws = openpyxl.load_workbook(path)["明细"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    formats = [[c.number_format for c in row] for row in ws.iter_rows()]
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("明细").to_python()
    return values, formats, grid


def test_readers_place_rows_without_numbers_where_numbered_rows_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks' rows carry no row numbers and cell references: every reader must still put each value where the
    numbered rows of a small table put it, blank cells, blank rows and the 合计 row after them included."""
    rows = distinct(40)
    rows[3] = (None, None, float("nan"), None, None)  # a row with nothing in it
    rows[7] = ("客户7", None, float("inf"), None, "无目标")  # blanks between cells
    rows[-1] = (None, None, float("nan"), None, None)  # the last row blank
    write(tmp_path / "blocks", frame(rows))
    monkeypatch.setattr(rowblocks, "MIN_ROWS", 10**9)  # the same table with numbered rows
    write_workbook(tmp_path / "numbered.xlsx", None, [SheetData("明细", frame(rows), COLUMNS, total_row=True)])
    assert b'<row r="3">' in sheet_xml(tmp_path / "numbered.xlsx")
    assert b"<row><c/><c/>" in sheet_xml(tmp_path / "blocks" / "t.xlsx")
    values, formats, grid = cells_read(tmp_path / "blocks" / "t.xlsx")
    assert values[-1][0] == "合计" and len(values) == 42
    assert (values, formats, grid) == cells_read(tmp_path / "numbered.xlsx")


@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.sampled_from([1, 4, 16]), st.integers(0, 299))
def test_cuts_keep_blocks_within_bounds_and_do_not_move_above_a_removed_row(keys: list[int], size: int, i: int) -> None:
    starts = rowblocks.cut_points(np.array(keys, dtype=np.uint64), size).tolist()
    sizes = np.diff(starts)
    assert starts[0] == 0 and starts[-1] == len(keys) and (sizes > 0).all()
    assert (sizes <= 4 * size).all() and (sizes[:-1] >= max(1, size // 4)).all()
    if i < len(keys):
        removed = rowblocks.cut_points(np.array(keys[:i] + keys[i + 1 :], dtype=np.uint64), size).tolist()
        assert [s for s in starts if s <= i and s < len(keys) - 1] == [s for s in removed if s <= i and s < len(keys) - 1]


def test_numbered_rows_are_written_and_copied_only_where_they_stay(tmp_path: Path) -> None:
    """settings.outputs.numbered_rows: every row keeps its number, for programs that need them; a block is then
    copied only where its rows did not move, and the setting is part of every fingerprint."""
    rows = distinct(60)
    unnumbered = write(tmp_path / "u", frame(rows))
    first = write(tmp_path / "a", frame(rows), numbered=True)
    assert first.reuse.new["t.xlsx"] != unnumbered.reuse.new["t.xlsx"]  # a switched setting takes no file again
    xml = sheet_xml(tmp_path / "a" / "t.xlsx")
    assert b"<row>" not in xml and b'<row r="2"><c r="A2"' in xml
    values = cells_read(tmp_path / "a" / "t.xlsx")
    assert values == cells_read(tmp_path / "u" / "t.xlsx")
    again = write(tmp_path / "b", frame(rows), previous=first, numbered=True)
    assert again.reuse.reused_blocks == len(recorded(again)) and cells_read(tmp_path / "b" / "t.xlsx") == values
    moved = write(tmp_path / "c", frame(rows[1:]), previous=first, numbered=True)
    assert moved.reuse.reused_blocks == 0
    grid = values[2]  # calamine's: header, rows, 合计
    assert cells_read(tmp_path / "c" / "t.xlsx")[2][:-1] == grid[:1] + grid[2:-1]
