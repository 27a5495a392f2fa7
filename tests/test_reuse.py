"""Workbook fingerprints: the same content gives the same print; any changed cell gives another."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pipeline.reports import reuse
from pipeline.reports.reuse import fingerprint, writer_code

texts = st.none() | st.sampled_from(["", "HT-1", "华东电力", "0", "a&b"])
money = st.none() | st.integers(-(10**15), 10**15)
rows = st.lists(st.tuples(texts, money, st.floats(allow_nan=True, allow_infinity=True), st.booleans()), max_size=12)


def frame(data: list[tuple[str | None, int | None, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": pd.Series([r[0] for r in data], dtype="str"),
            "amount": pd.array([r[1] for r in data], dtype="Int64"),
            "rate": pd.Series([r[2] for r in data], dtype="float64"),
            "void": pd.Series([r[3] for r in data], dtype="bool"),
            "shown": pd.Series([r[2] if r[3] else "无目标" for r in data], dtype=object),  # mixed, as 月度统计
        }
    )


@given(rows, st.data())
def test_a_changed_cell_changes_the_fingerprint(
    data: list[tuple[str | None, int | None, float, bool]], draw: st.DataObject
) -> None:
    before = frame(data)
    assert fingerprint(before) == fingerprint(frame(list(data)))
    if not data:
        return
    i = draw.draw(st.integers(0, len(data) - 1))
    changed = list(data)
    changed[i] = draw.draw(st.tuples(texts, money, st.floats(allow_nan=True, allow_infinity=True), st.booleans()))
    after = frame(changed)
    # The same cells as the file shows them: -0.0 is written "-0", so it is not the same as 0.0 (which pandas'
    # equals would say); every NaN is a blank cell.
    same = _shown(data[i]) == _shown(changed[i])
    assert (fingerprint(before) == fingerprint(after)) == same


def _shown(row: tuple[str | None, int | None, float, bool]) -> tuple[object, ...]:
    return tuple("nan" if isinstance(v, float) and v != v else repr(v) if isinstance(v, float) else v for v in row)


def test_what_lies_under_a_null_does_not_matter() -> None:
    values = np.array([5, 6, 7], dtype=np.int64)
    one = pd.arrays.IntegerArray(values.copy(), np.array([False, True, False]))
    other = pd.arrays.IntegerArray(np.array([5, 999, 7], dtype=np.int64), np.array([False, True, False]))
    assert fingerprint(pd.DataFrame({"a": one})) == fingerprint(pd.DataFrame({"a": other}))
    assert fingerprint(pd.DataFrame({"a": one})) != fingerprint(pd.DataFrame({"a": pd.array([5, 6, 7], dtype="Int64")}))


def test_a_text_and_a_number_that_print_alike_have_different_fingerprints() -> None:
    """A mixed column (text and numbers, as 月度统计's 完成率 with 无目标) writes "1" as text and 1 as a number."""

    def mixed(first: object) -> pd.DataFrame:
        return pd.DataFrame({"shown": pd.Series([first, 2.5, "无目标"], dtype=object)})

    assert fingerprint(mixed("1")) != fingerprint(mixed(1))
    assert fingerprint(mixed("2.5")) != fingerprint(mixed(2.5))
    assert fingerprint(mixed(None)) != fingerprint(mixed("None"))
    assert fingerprint(mixed(1)) == fingerprint(mixed(1))


def test_the_writing_code_is_part_of_every_fingerprint(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """New writing code (a format, a width) must not reuse a file the old code made from the same data."""
    (tmp_path / "workbook.py").write_text("MONEY = '#,##0.00'\n", encoding="utf-8")
    before = writer_code(tmp_path)
    assert writer_code(tmp_path) == before
    (tmp_path / "workbook.py").write_text("MONEY = '#,##0.00;[Red]-#,##0.00'\n", encoding="utf-8")
    after = writer_code(tmp_path)
    assert after != before
    data = frame([("华东电力", 100, 0.5, True)])
    monkeypatch.setattr(reuse, "_WRITER_CODE", before)
    old_print = fingerprint(data)
    monkeypatch.setattr(reuse, "_WRITER_CODE", after)
    assert fingerprint(data) != old_print


def test_a_slice_and_the_same_rows_built_afresh_have_one_fingerprint() -> None:
    """Another file can change the frames a workbook is cut from and leave the workbook's rows as they were."""
    numbers = [f"HT-{i}" for i in range(100)]
    big = pd.DataFrame(
        {
            "no": pd.Series(numbers, dtype="str"),
            "amount": pd.array([i if i % 3 else None for i in range(100)], dtype="Int64"),
            "open": [i % 2 == 0 for i in range(100)],
        }
    )
    part = big.iloc[10:20].reset_index(drop=True)
    afresh = pd.DataFrame(
        {
            "no": pd.Series(numbers[10:20], dtype="str"),
            "amount": pd.array([i if i % 3 else None for i in range(10, 20)], dtype="Int64"),
            "open": [i % 2 == 0 for i in range(10, 20)],
        }
    )
    assert fingerprint(part) == fingerprint(afresh)


def test_an_unchanged_file_is_taken_from_the_previous_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    from pathlib import Path

    from pipeline.reports.reuse import reuse_previous, reusing, stamped

    previous, staging = tmp_path / "previous", tmp_path / "staging"
    (previous / "客户对账单").mkdir(parents=True)
    (previous / "客户对账单" / "甲_2025-11.xlsx").write_bytes(b"old statement")
    target = Path(staging / "客户对账单" / "甲_2025-11.xlsx")
    with reusing(previous, staging, stamped(previous, {"客户对账单/甲_2025-11.xlsx": "print-1"})) as reuse:
        assert not reuse_previous(staging / "乙.xlsx", "print-9")  # never written before
        assert reuse_previous(target, "print-1")
        assert not reuse_previous(staging / "客户对账单" / "丙.xlsx", "print-1")
    assert target.read_bytes() == b"old statement" and reuse.copied == 1
    assert reuse.new == {"乙.xlsx": "print-9", "客户对账单/甲_2025-11.xlsx": "print-1", "客户对账单/丙.xlsx": "print-1"}
    assert os.path.samefile(target, previous / "客户对账单" / "甲_2025-11.xlsx")  # linked, not copied


def test_a_previous_file_changed_since_it_was_written_is_not_taken(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Finance opens the last run's workbook and saves it (a note added, or only Excel's recalculation): the next
    run must write its own file, not pass the edited one on as taizhang's."""
    import os

    from pipeline.reports.reuse import reuse_previous, reusing, stamped

    previous, staging = tmp_path / "previous", tmp_path / "staging"
    previous.mkdir()
    for name in ("合同对账.xlsx", "应收账龄.xlsx", "月度统计.xlsx"):
        (previous / name).write_bytes(b"as taizhang wrote it")
    old = stamped(previous, {"合同对账.xlsx": "p1", "应收账龄.xlsx": "p2", "月度统计.xlsx": "p3", "gone.xlsx": "p4"})
    assert set(old) == {"合同对账.xlsx", "应收账龄.xlsx", "月度统计.xlsx"}  # a file not there has no stamp
    (previous / "应收账龄.xlsx").write_bytes(b"as finance saved it!")  # another size
    edited = previous / "月度统计.xlsx"
    st = edited.stat()
    edited.write_bytes(b"as finance saved it")  # the same size, a later time
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with reusing(previous, staging, old):
        assert reuse_previous(staging / "合同对账.xlsx", "p1")
        assert not reuse_previous(staging / "应收账龄.xlsx", "p2")
        assert not reuse_previous(staging / "月度统计.xlsx", "p3")
    again = tmp_path / "again"
    with reusing(previous, again, {"合同对账.xlsx": "p1"}):  # run.json of a taizhang that kept no stamps
        assert not reuse_previous(again / "合同对账.xlsx", "p1")
