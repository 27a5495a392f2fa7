"""Shared test helpers: real ledger files written with openpyxl, and one-call ingestion."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from hypothesis import settings as hyp_settings

from pipeline.config import Settings
from pipeline.ingest import FileResult, ingest_file

hyp_settings.register_profile("ci", max_examples=15, deadline=None)
hyp_settings.register_profile("dev", max_examples=100, deadline=None)
hyp_settings.load_profile("ci" if os.environ.get("CI") else "dev")

TODAY = date(2026, 1, 15)


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    sheet: str = "Sheet1",
    merges: Sequence[str] = (),
    extra_sheets: dict[str, Sequence[Sequence[object]]] | None = None,
) -> Path:
    """An .xlsx with `rows` from A1 (None = empty cell) and the given merged ranges."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(list(row))
    for m in merges:
        ws.merge_cells(m)
    for name, more in (extra_sheets or {}).items():
        other = wb.create_sheet(name)
        for row in more:
            other.append(list(row))
    wb.save(path)
    return path


def new_workspace(folder: Path, **settings: object) -> Path:
    """`taizhang init` in folder, settle time 0 (tests drop files all at once), other settings replaced by key."""
    from pipeline.workspace import init_workspace

    init_workspace(folder)
    config = folder / "taizhang.toml"
    text = config.read_text(encoding="utf-8")
    for key, value in {"settle_seconds": 0, **settings}.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    config.write_text(text, encoding="utf-8")
    return folder


def ingest(path: Path, settings: Settings | None = None) -> FileResult:
    return ingest_file(path, settings or Settings(), TODAY)


def flat(result: FileResult, severity: str | None = None) -> list[tuple[int | None, str, str]]:
    return [(p.row, p.column, p.code) for p in result.problems if severity is None or p.severity == severity]


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
