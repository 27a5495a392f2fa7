"""Documents (customer statements) the last run wrote from the same blocks are linked without being built: their
fingerprint comes from the blocks, so it must tell apart any two documents whose files differ."""

from __future__ import annotations

import os
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rowblocks import COLUMNS, Row, frame

from pipeline.reports import workbook as wbmod
from pipeline.reports.reuse import Reuse, reusing, stamped
from pipeline.reports.workbook import MAX_TEXT, Block, DocumentLayout, write_documents

LAYOUT = DocumentLayout("对账单", (12, 14, 10, 12, 10))
# Texts mostly of equal length: a print that took lengths but not the characters must be caught; the fifth
# column mixes texts and numbers that print alike ("1" and 1), as 月度统计 does.
cells = st.tuples(
    st.none() | st.sampled_from(["", "1", "HT-1", "HT-2", "a&b<", "发货", "退货", "_x0041_"]),
    st.none() | st.integers(-(10**12), 10**12),
    st.sampled_from([0.0, -0.0, 0.5, float("nan"), float("inf")]),
    st.none() | st.dates(date(2024, 1, 1), date(2026, 12, 31)),
    st.sampled_from([1, "1", 2.5, "2.5", "无目标", None]),
)


def document(title: str, data: pd.DataFrame, span: tuple[int, int]) -> list[Block]:
    return [
        Block(("某某公司", title), heading=True),
        Block(("往来明细",), data, COLUMNS, rows=span),
        Block(("以上",)),
    ]


def prints(documents: list[list[Block]]) -> list[str | None]:
    return wbmod._document_prints(documents, wbmod._document_package(LAYOUT))


def sheet(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/worksheets/sheet1.xml")


def written_sheets(folder: Path, documents: list[list[Block]]) -> list[bytes]:
    """Each document's sheet as written outside a run (no fingerprints, nothing linked)."""
    paths = [folder / f"{i}.xlsx" for i in range(len(documents))]
    write_documents(paths, documents, LAYOUT)
    return [sheet(p) for p in paths]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(cells, max_size=6), st.data())
def test_documents_with_one_fingerprint_have_one_sheet(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Row], draw: st.DataObject
) -> None:
    """Change a cell, a title or the rows shown: the fingerprint changes whenever the file does. The same rows at
    another place of a bigger shared frame keep it (a statement whose customer's rows moved is still linked)."""
    other = list(rows)
    edit = draw.draw(st.sampled_from(["cell", "title", "drop", "none"]))
    if edit == "cell" and rows:  # one value of one row
        i, field = draw.draw(st.integers(0, len(rows) - 1)), draw.draw(st.integers(0, 4))
        other[i] = tuple(draw.draw(cells)[field] if k == field else v for k, v in enumerate(rows[i]))  # type: ignore[assignment]
    elif edit == "drop" and rows:
        other.pop()
    before = draw.draw(st.lists(cells, max_size=3))  # rows of other customers ahead in the shared frame
    one = document("甲", frame(rows), (0, len(rows)))
    two = document(
        "乙" if edit == "title" else "甲", frame([*before, *other]), (len(before), len(before) + len(other))
    )
    a, b = prints([one, two])
    assert a is not None and b is not None
    sheets = written_sheets(tmp_path_factory.mktemp("docs"), [one, two])
    if a == b:  # a print may differ where the files do not ("" and a missing text are both a blank cell)
        assert sheets[0] == sheets[1]
    if repr(other) == repr(rows) and edit != "title":  # repr: -0.0 is not 0.0 here
        assert a == b


Written = tuple[Reuse, dict[str, str], list[list[str]]]


def run_write(
    folder: Path, documents: list[list[Block]], previous: tuple[Reuse, dict[str, str]] | None
) -> Written:
    """write_documents as a run's writer calls it, taking files from `previous` (the last run) when unchanged."""
    paths = [folder / f"{i}.xlsx" for i in range(len(documents))]
    with reusing(previous[0].staging if previous else None, folder, previous[1] if previous else {}) as reuse:
        warnings = write_documents(paths, documents, LAYOUT)
    return reuse, stamped(folder, reuse.new), warnings


def test_a_second_run_links_the_unchanged_documents_and_builds_the_changed_one(tmp_path: Path) -> None:
    rows: list[Row] = [(f"发货{i}", i * 100, 0.5, date(2025, 11, 1 + i), "无目标") for i in range(9)]
    docs = [document(f"客户{c}", frame(rows), (3 * c, 3 * c + 3)) for c in range(3)]
    first = run_write(tmp_path / "a", docs, None)
    rows[4] = ("退货", -400, 0.5, date(2025, 11, 5), "无目标")  # customer 1's second row
    docs = [document(f"客户{c}", frame(rows), (3 * c, 3 * c + 3)) for c in range(3)]
    reuse, _, _ = run_write(tmp_path / "b", docs, first[:2])
    linked = [os.path.samefile(tmp_path / "a" / f"{i}.xlsx", tmp_path / "b" / f"{i}.xlsx") for i in range(3)]
    assert linked == [True, False, True] and reuse.copied == 2
    fresh = written_sheets(tmp_path / "fresh", docs)
    assert [sheet(tmp_path / "b" / f"{i}.xlsx") for i in range(3)] == fresh


def test_a_document_with_a_text_too_long_for_a_cell_is_built_and_keeps_its_warning(tmp_path: Path) -> None:
    """Texts over 32,767 characters are cut with a warning: a document that may hold one is built, to count them,
    and still linked when its sheet is the last run's."""
    long = "长" * (MAX_TEXT + 10)
    docs = [
        document("客户甲", frame([(long, 1, 0.5, None, None)]), (0, 1)),
        document("客户乙", frame([("短", 1, 0.5, None, None)]), (0, 1)),
    ]
    assert prints(docs)[0] is None and prints(docs)[1] is not None
    first = run_write(tmp_path / "a", docs, None)
    reuse, _, warnings = run_write(tmp_path / "b", docs, first[:2])
    assert reuse.copied == 2 and warnings[1] == [] and first[2][0] == warnings[0]
    assert warnings[0] == ["「对账单」工作表有 1 个单元格超过 Excel 单元格上限，已截断并在末尾标注。"]


def test_texts_of_one_length_and_numbers_printed_alike_give_other_prints() -> None:
    base: Row = ("HT-1", 100, 0.0, date(2025, 11, 3), 1)
    variants: list[Row] = [
        ("HT-2", 100, 0.0, date(2025, 11, 3), 1),
        ("HT-1", 100, -0.0, date(2025, 11, 3), 1),
        ("HT-1", 101, 0.0, date(2025, 11, 3), 1),
        ("HT-1", 100, 0.0, date(2025, 11, 4), 1),
        ("HT-1", 100, 0.0, date(2025, 11, 3), "1"),  # text "1", not the number 1
    ]
    found = prints([document("甲", frame([row]), (0, 1)) for row in (base, *variants)])
    assert len(set(found)) == len(found)
