"""Writing the outputs in forked workers must give exactly what one process writes."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import python_calamine as pc
from conftest import new_workspace

from pipeline.run import run
from pipeline.sample import write_worked_example

GENERATED = "生成时间"  # the 说明 sheets carry the time of writing, which differs between the two runs


def _cells(outbox: Path) -> dict[str, list[list[object]]]:
    cells: dict[str, list[list[object]]] = {}
    for path in sorted(outbox.rglob("*.xlsx")):
        book = pc.CalamineWorkbook.from_path(str(path))
        for sheet in book.sheet_names:
            rows = book.get_sheet_by_name(sheet).to_python()
            key = f"{path.relative_to(outbox)}!{sheet}"
            cells[key] = [r for r in rows if not (r and GENERATED in str(r[0]))]
    return cells


def _outputs(root: Path, workers: int, inbox: Path) -> Path:
    ws = new_workspace(root, workers=workers)
    for path in inbox.iterdir():
        shutil.copy2(path, ws / "inbox" / path.name)  # the same bytes, so the same sha256 in the 说明 sheets
    outcome = run(ws, "2025-10", today=date(2025, 11, 5))
    return outcome.outdir


def test_two_workers_write_what_one_writes(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write_worked_example(inbox)
    one = _outputs(tmp_path / "one", 1, inbox)
    two = _outputs(tmp_path / "two", 2, inbox)
    files_one = sorted(p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file())
    files_two = sorted(p.relative_to(two).as_posix() for p in two.rglob("*") if p.is_file())
    assert files_one == files_two
    assert any(f.startswith("客户对账单/") for f in files_one)  # the sharded writer ran
    cells_one, cells_two = _cells(one), _cells(two)
    assert cells_one.keys() == cells_two.keys()
    for key in cells_one:
        assert cells_one[key] == cells_two[key], key
