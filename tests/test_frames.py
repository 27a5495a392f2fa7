"""Frame helpers: the fast text isin and lookup must answer exactly as pandas' isin and reindex."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.frames import first_rows, isin, lookup, spans_by

texts = st.none() | st.sampled_from(["", "HT-1", "HT-2", "华东", "1"])
values = st.lists(texts | st.integers(0, 2), max_size=8)


@given(st.lists(texts, max_size=20), values, st.sampled_from(["list", "series", "index", "unique"]))
def test_isin_answers_as_pandas(column: list[str | None], wanted: list[object], form: str) -> None:
    s = pd.Series(column, dtype="str")
    shaped: object = {
        "list": wanted,
        "series": pd.Series(wanted, dtype=object),
        "index": pd.Index(wanted, dtype=object),
        "unique": pd.Series([w for w in wanted if not isinstance(w, int)], dtype="str").unique(),
    }[form]
    assert isin(s, shaped).equals(s.isin(shaped))  # type: ignore[arg-type]


@given(st.lists(st.tuples(texts, st.integers(0, 9)), max_size=30))
def test_spans_by_give_what_groupby_gives(rows: list[tuple[str | None, int]]) -> None:
    frame = pd.DataFrame({"customer": pd.Series([r[0] for r in rows], dtype="str"), "n": [r[1] for r in rows]})
    ordered, spans = spans_by(frame, "customer")
    theirs = {str(k): g.reset_index(drop=True) for k, g in frame.groupby("customer")}
    assert list(spans) == list(theirs)
    assert all(ordered.iloc[a:b].reset_index(drop=True).equals(theirs[k]) for k, (a, b) in spans.items())


@given(
    st.lists(st.sampled_from(["HT-1", "HT-2", "华东", "1", ""]), unique=True, max_size=5),
    st.lists(texts, max_size=12),
    st.sampled_from(["Int64", "str", "int64", "bool"]),
)
def test_lookup_answers_as_reindex(index: list[str], keys: list[str | None], dtype: str) -> None:
    values = {"Int64": list(range(len(index))), "int64": list(range(len(index))), "bool": [True] * len(index)}
    mapping = pd.Series(
        values.get(dtype, [f"值{i}" for i in range(len(index))]), index=pd.Index(index, dtype="str"), dtype=dtype
    )
    wanted = pd.Series(keys, dtype="str", index=[10 + i for i in range(len(keys))])
    expected = mapping.reindex(wanted).set_axis(wanted.index)
    pd.testing.assert_series_equal(lookup(mapping, wanted), expected, check_names=False)


def test_the_command_allocates_arrow_memory_with_malloc(tmp_path: Path) -> None:
    """mimalloc cost a million-row rerun 0.6 s of zeroing fresh pages (pipeline.frames.use_system_allocator)."""
    before = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.mimalloc_memory_pool())
        assert main(["--workspace", str(tmp_path), "files"]) == 0
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)


@given(st.lists(st.integers(0, 6), max_size=40))
def test_first_rows_is_where_each_code_first_occurs(codes: list[int]) -> None:
    array = np.array(codes, dtype=np.int64)
    found = first_rows(array)
    present, first = np.unique(array, return_index=True)
    assert len(found) == (max(codes) + 1 if codes else 0)
    assert found[present].tolist() == first.tolist()
    assert (np.delete(found, present) == -1).all()
