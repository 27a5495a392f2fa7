"""The workspace store on a real SQLite file: upsert by natural key, change log, forget, all-or-nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import store as store_module
from pipeline.fsinfo import filesystem_type
from pipeline.store import FileRecord, IngestResult, Store, StoreError, display_key, natural_keys, to_table
from schemas import DTYPES, LEDGER_KINDS, PROVENANCE, LedgerKind

Row = dict[str, object]


def frame(kind: str, rows: Sequence[Row], file: str = "x.xlsx") -> pd.DataFrame:
    """A validated, normalised frame as the validator hands it over (index = Excel row)."""
    decl = LEDGER_KINDS[kind]
    data: dict[str, pd.Series] = {}
    for c in decl.columns:
        values = [r.get(c.name) for r in rows]
        if c.type == "date":
            data[c.name] = pd.Series(pd.to_datetime(pd.Series(values, dtype="object"))).astype(
                "datetime64[s]"
            )
        else:
            data[c.name] = pd.Series(values, dtype=DTYPES[c.type])
    out = pd.DataFrame(data)
    out["_file"] = pd.Series([file] * len(rows), dtype="str")
    out["_sheet"] = pd.Series(["Sheet1"] * len(rows), dtype="str")
    out["_row"] = pd.Series(range(3, 3 + len(rows)), dtype="int64")
    return out.set_axis(range(3, 3 + len(rows)))


def record(name: str, content: str | None = None) -> FileRecord:
    sha = hashlib.sha256((content or name).encode()).hexdigest()
    return FileRecord(sha256=sha, name=name, size=100)


def contract(no: str, amount_yuan: int, **kw: object) -> Row:
    base: Row = {
        "contract_no": no,
        "date": "2025-01-10",
        "customer": "华东机电",
        "salesperson": "张三",
        "amount": amount_yuan * 100,
        "status": "执行中",
    }
    return base | kw


def payment(amount_yuan: int, voucher: str | None = None, day: str = "2025-01-20", **kw: object) -> Row:
    return {"date": day, "customer": "华东机电", "amount": amount_yuan * 100, "voucher_no": voucher} | kw


def take(store: Store, name: str, content: str | None = None, **kinds: Sequence[Row]) -> IngestResult:
    frames = {kind: frame(kind, rows, name) for kind, rows in kinds.items()}
    return store.ingest(record(name, content), frames)


def totals(store: Store) -> dict[str, int]:
    ledgers = store.load()
    return {
        kind: int(ledgers[kind]["amount"].sum()) for kind in LEDGER_KINDS if "amount" in ledgers[kind].columns
    }


def changes(store: Store) -> list[tuple[str, str, str, str, str]]:
    log = store.change_log()
    return list(log[["key", "field", "old", "new", "action"]].itertuples(index=False, name=None))


@pytest.fixture(params=["key index", "part by part"])
def store(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """Every store test twice: new keys found in the in-memory key index (files of many rows) and looked up in
    each stored part (files of a few rows, Store._find_keys)."""
    monkeypatch.setattr(store_module, "FEW_KEYS", 0 if request.param == "key index" else 10**9)
    with Store.open(tmp_path) as s:
        yield s


# --- upsert --------------------------------------------------------------------------------------


def test_cumulative_ledger_then_next_month_with_one_contract_amended(store: Store) -> None:
    jan = [contract("HT-2025-001", 300_000), contract("HT-2025-002", 80_000)]
    feb = [contract("HT-2025-001", 350_000), contract("HT-2025-002", 80_000), contract("HT-2025-003", 5_000)]
    take(store, "合同台账2025-01.xlsx", contracts=jan)
    result = take(store, "合同台账2025-02.xlsx", contracts=feb)

    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    contracts = store.load(["contracts"])["contracts"]
    assert sorted(contracts["contract_no"]) == ["HT-2025-001", "HT-2025-002", "HT-2025-003"]
    amended = contracts[contracts["contract_no"] == "HT-2025-001"]
    assert amended["amount"].tolist() == [35_000_000]
    assert amended["_file"].tolist() == ["合同台账2025-02.xlsx"]
    assert changes(store) == [("HT-2025-001", "合同金额", "300,000.00", "350,000.00", "修改")]
    log = store.change_log()
    assert log.loc[0, "file"] == "合同台账2025-02.xlsx"
    assert log.loc[0, "kind_label"] == "合同台账"


def test_unchanged_rows_take_the_new_provenance_without_log(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
    result = take(store, "b.xlsx", contracts=[contract("HT-1", 100)])
    assert result.unchanged == 1
    row = store.load(["contracts"])["contracts"].iloc[0]
    assert (row["_file"], row["_sha256"]) == ("b.xlsx", record("b.xlsx").sha256)
    assert changes(store) == []


def test_only_new_month_rows_are_appended(store: Store) -> None:
    take(store, "回款1月.xlsx", payments=[payment(1_000, "V1"), payment(2_000, "V2")])
    result = take(store, "回款2月.xlsx", payments=[payment(3_000, "V3", "2025-02-03")])
    assert result.inserted == 1
    payments = store.load(["payments"])["payments"]
    assert sorted(payments["voucher_no"]) == ["V1", "V2", "V3"]
    assert totals(store)["payments"] == 600_000
    assert changes(store) == []


def test_corrected_file_replaces_the_wrong_values(store: Store) -> None:
    take(store, "发票.xlsx", invoices=[_invoice("00012345", 1_000), _invoice("00012346", 2_000)])
    fixed = [_invoice("00012345", 1_100), _invoice("00012346", 2_000, customer="北方重工")]
    take(store, "发票（更正）.xlsx", invoices=fixed)
    invoices = store.load(["invoices"])["invoices"].sort_values("invoice_no")
    assert invoices["amount"].tolist() == [110_000, 200_000]
    assert invoices["customer"].tolist() == ["华东机电", "北方重工"]
    assert changes(store) == [
        ("00012345", "价税合计", "1,000.00", "1,100.00", "修改"),
        ("00012346", "客户名称", "华东机电", "北方重工", "修改"),
    ]


def _invoice(no: str, amount_yuan: int, **kw: object) -> Row:
    return {"invoice_no": no, "date": "2025-01-15", "customer": "华东机电", "amount": amount_yuan * 100} | kw


def test_same_key_twice_in_one_later_file_keeps_the_last_row(store: Store) -> None:
    take(store, "a.xlsx", invoices=[_invoice("INV-1", 100)])
    result = take(store, "b.xlsx", invoices=[_invoice("INV-1", 200), _invoice("INV-1", 300)])
    assert result.kinds["invoices"].duplicates == 1
    invoices = store.load(["invoices"])["invoices"]
    assert invoices["amount"].tolist() == [30_000]
    assert invoices["_row"].tolist() == [4]
    assert changes(store) == [("INV-1", "价税合计", "100.00", "300.00", "修改")]


def test_contract_on_several_rows_without_line_numbers(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-9", 100, product="甲"), contract("HT-9", 50, product="乙")])
    assert store.load(["contracts"])["contracts"]["amount"].sum() == 15_000
    # The same contract later with explicit 行号 1–2 replaces the lines instead of doubling them.
    later = [contract("HT-9", 100, product="甲", line_no=1), contract("HT-9", 60, product="乙", line_no=2)]
    result = take(store, "b.xlsx", contracts=later)
    assert (result.inserted, result.updated) == (0, 2)
    assert store.load(["contracts"])["contracts"]["amount"].sum() == 16_000
    assert ("HT-9 / 行号2", "合同金额", "50.00", "60.00", "修改") in changes(store)


def test_payments_without_voucher_numbers(store: Store) -> None:
    same_day = [payment(5_000), payment(5_000)]
    take(store, "回款.xlsx", payments=same_day)
    assert len(store.load(["payments"])["payments"]) == 2
    # The same rows saved again under another name (other bytes): they replace, they do not double.
    result = take(store, "回款（另存）.xlsx", payments=same_day)
    assert (result.inserted, result.unchanged) == (0, 2)
    payments = store.load(["payments"])["payments"]
    assert payments["amount"].tolist() == [500_000, 500_000]
    assert set(payments["_file"]) == {"回款（另存）.xlsx"}
    # A cumulative file that adds a third identical payment adds exactly one.
    assert take(store, "回款2月.xlsx", payments=[payment(5_000)] * 3).inserted == 1
    assert totals(store)["payments"] == 1_500_000


def test_deliveries_without_numbers_fall_back_to_content(store: Store) -> None:
    row = {"date": "2025-03-01", "customer": "华东机电", "amount": 10_000, "product": "泵", "quantity": 2.0}
    take(store, "发货.xlsx", deliveries=[row, row | {"product": "阀"}])
    take(store, "发货（累计）.xlsx", deliveries=[row, row | {"product": "阀"}, row | {"amount": 20_000}])
    deliveries = store.load(["deliveries"])["deliveries"]
    assert deliveries["amount"].sum() == 40_000


def test_voided_contract_is_stored_with_its_status(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-7", 1_000)])
    take(store, "b.xlsx", contracts=[contract("HT-7", 1_000, status="作废")])
    contracts = store.load(["contracts"])["contracts"]
    assert contracts["status"].tolist() == ["作废"]
    assert changes(store) == [("HT-7", "合同状态", "执行中", "作废", "修改")]


# --- identical bytes, catalogue ------------------------------------------------------------------


def test_identical_bytes_are_recognised(store: Store) -> None:
    first = take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
    held = store.has_file(first.file.sha256)
    assert held is not None and held.name == "a.xlsx" and held.seq == first.file.seq
    again = take(store, "a的副本.xlsx", "a.xlsx", contracts=[contract("HT-1", 999)])
    assert again.skipped and again.file.name == "a.xlsx"
    assert store.load(["contracts"])["contracts"]["amount"].tolist() == [10_000]
    assert store.has_file("0" * 64) is None


def test_files_catalogue(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100)], payments=[payment(10)])
    store.record_file(FileRecord("f" * 64, "坏文件.xlsx", 5, status="quarantined", errors=1))
    store.record_file(FileRecord("f" * 64, "坏文件.xlsx", 5, status="quarantined", errors=1))
    files = store.files()
    assert files["name"].tolist() == ["a.xlsx", "坏文件.xlsx"]
    assert files["status"].tolist() == ["accepted", "quarantined"]
    assert files["kinds"].tolist() == ["合同台账、回款台账", ""]
    assert files["live_rows"].tolist() == [2, 0]
    assert store.has_file("f" * 64) is None  # a quarantined file is read again when dropped again


def test_load_types_and_provenance(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100, quantity=2.5, terms_days=30)])
    ledgers = store.load()
    contracts = ledgers["contracts"]
    decl = LEDGER_KINDS["contracts"]
    assert list(contracts.columns) == [c.name for c in decl.columns] + ["_file", "_sheet", "_row", "_sha256"]
    for c in decl.columns:
        assert str(contracts[c.name].dtype) == DTYPES[c.type], c.name
    assert contracts.loc[0, "_row"] == 3 and contracts.loc[0, "_sheet"] == "Sheet1"
    assert ledgers["payments"].empty and set(PROVENANCE) <= set(ledgers["payments"].columns)


def test_store_survives_reopen(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
    with Store.open(tmp_path) as store:
        assert take(store, "b.xlsx", contracts=[contract("HT-1", 200)]).updated == 1
        assert store.load(["contracts"])["contracts"]["amount"].tolist() == [20_000]
    assert (tmp_path / ".taizhang" / "store.sqlite").exists()


def test_two_connections_see_each_others_writes(tmp_path: Path) -> None:
    with Store.open(tmp_path) as one, Store.open(tmp_path) as two:
        take(one, "a.xlsx", contracts=[contract("HT-1", 100)])
        take(two, "b.xlsx", contracts=[contract("HT-1", 200)])
        # `one` built its key index before `two` wrote: it must not use it stale.
        assert take(one, "c.xlsx", contracts=[contract("HT-1", 300)]).updated == 1
        assert one.load(["contracts"])["contracts"]["amount"].tolist() == [30_000]


def test_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    with Store.open(tmp_path) as writer:
        take(writer, "a.xlsx", contracts=[contract("HT-1", 100)])
        blocker = sqlite3.connect(tmp_path / ".taizhang" / "store.sqlite", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # a run in the middle of taking in a file
        try:
            with Store.open(tmp_path) as reader:
                assert reader.files()["name"].tolist() == ["a.xlsx"]
                assert len(reader.load(["contracts"])["contracts"]) == 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def test_a_damaged_store_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / ".taizhang" / "store.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="存储库文件已损坏"):
        Store.open(tmp_path)


# --- forget ---------------------------------------------------------------------------------------


def test_forget_restores_totals_and_the_earlier_version(store: Store) -> None:
    take(
        store,
        "1月.xlsx",
        contracts=[contract("HT-1", 300_000), contract("HT-2", 1_000)],
        payments=[payment(5_000), payment(5_000), payment(700, "V9")],
    )
    before = totals(store)
    take(
        store,
        "错误文件.xlsx",
        contracts=[contract("HT-1", 350_000), contract("HT-3", 9_000)],
        payments=[payment(5_000), payment(5_000), payment(5_000), payment(800, "V9")],
    )
    assert totals(store) != before

    result = store.forget("错误文件.xlsx")
    assert totals(store) == before
    assert (result.restored, result.removed, result.superseded) == (4, 2, 0)
    contracts = store.load(["contracts"])["contracts"].sort_values("contract_no")
    assert contracts["amount"].tolist() == [30_000_000, 100_000]
    assert set(contracts["_file"]) == {"1月.xlsx"}
    log = changes(store)
    assert ("HT-1", "合同金额", "350,000.00", "300,000.00", "撤回") in log
    assert ("HT-3", "整条记录", "存在", "已删除", "撤回") in log
    assert ("V9", "回款金额", "800.00", "700.00", "撤回") in log
    files = store.files().set_index("name")
    assert files.loc["错误文件.xlsx", "status"] == "forgotten"
    assert files.loc["错误文件.xlsx", "live_rows"] == 0
    assert store.has_file(record("错误文件.xlsx").sha256) is None


def test_forget_a_superseded_file_changes_nothing_and_drops_its_history(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
    take(store, "b.xlsx", contracts=[contract("HT-1", 200)])
    take(store, "c.xlsx", contracts=[contract("HT-1", 300)])
    assert store.forget("b.xlsx").superseded == 1
    assert totals(store)["contracts"] == 30_000
    store.forget(record("c.xlsx").sha256[:12])
    contracts = store.load(["contracts"])["contracts"]
    assert contracts["amount"].tolist() == [10_000]  # back to a, not to the forgotten b
    store.forget("a.xlsx")
    assert store.load(["contracts"])["contracts"].empty


def test_forget_unknown_or_ambiguous_names(store: Store) -> None:
    take(store, "回款.xlsx", "one", payments=[payment(1, "V1")])
    take(store, "回款.xlsx", "two", payments=[payment(2, "V2")])
    with pytest.raises(StoreError, match="多个"):
        store.forget("回款.xlsx")
    with pytest.raises(StoreError, match="没有文件"):
        store.forget("不存在.xlsx")
    store.forget(record("x", "two").sha256)
    with pytest.raises(StoreError, match="已撤回"):
        store.forget(record("x", "two").sha256)
    assert store.load(["payments"])["payments"]["voucher_no"].tolist() == ["V1"]


def test_forgotten_bytes_can_be_taken_in_again(store: Store) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
    store.forget("a.xlsx")
    assert take(store, "a.xlsx", contracts=[contract("HT-1", 100)]).inserted == 1
    assert totals(store)["contracts"] == 10_000


# --- all or nothing ---------------------------------------------------------------------------


def test_failure_mid_ingest_leaves_the_store_as_it_was(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100)], payments=[payment(10, "V1")])
    before = (totals(store), changes(store), store.files()["name"].tolist())
    original = Store._write_part
    calls: list[str] = []

    def crash_on_second_kind(self: Store, kind: LedgerKind, seq: int, table: pa.Table) -> None:
        calls.append(kind.name)
        if len(calls) == 2:
            raise OSError("disk full")
        original(self, kind, seq, table)

    monkeypatch.setattr(Store, "_write_part", crash_on_second_kind)
    with pytest.raises(OSError):
        take(store, "b.xlsx", contracts=[contract("HT-1", 200)], payments=[payment(20, "V1")])
    assert (totals(store), changes(store), store.files()["name"].tolist()) == before
    assert store.has_file(record("b.xlsx").sha256) is None

    monkeypatch.setattr(Store, "_write_part", original)  # the next run redoes the work
    assert take(store, "b.xlsx", contracts=[contract("HT-1", 200)], payments=[payment(20, "V1")]).updated == 2
    assert totals(store) == {**before[0], "contracts": 20_000, "payments": 2_000}


def test_failure_mid_forget_leaves_the_store_as_it_was(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
    take(store, "b.xlsx", contracts=[contract("HT-1", 200)], payments=[payment(20, "V1")])
    before = totals(store)

    def broken(*args: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(Store, "_restore", broken)
    with pytest.raises(RuntimeError):
        store.forget("b.xlsx")
    assert totals(store) == before
    assert store.files()["status"].tolist() == ["accepted", "accepted"]


# --- keys ---------------------------------------------------------------------------------------


def test_display_keys() -> None:
    kind = LEDGER_KINDS["payments"]
    rows = frame("payments", [payment(5_000), payment(5_000), payment(1_234, "B-0001")])
    keys = natural_keys(kind, to_table(kind, rows)).to_pylist()
    assert [display_key(kind, k) for k in keys] == [
        "2025-01-20 / 华东机电 / 5,000.00",
        "2025-01-20 / 华东机电 / 5,000.00 #2",
        "B-0001",
    ]
    targets = LEDGER_KINDS["targets"]
    table = to_table(targets, frame("targets", [{"salesperson": "张三", "year": 2025, "sales_target": 1}]))
    assert display_key(targets, table.column("_key")[0].as_py()) == "张三 / 2025"


# --- property ------------------------------------------------------------------------------------

KEYS = [f"HT-{i:03d}" for i in range(6)]
files_strategy = st.lists(
    st.dictionaries(st.sampled_from(KEYS), st.integers(1, 1_000), min_size=1, max_size=len(KEYS)),
    min_size=1,
    max_size=5,
)


def _ingest_all(store: Store, files: list[dict[str, int]], skip: int | None = None) -> None:
    for i, content in enumerate(files):
        if i != skip:
            rows = [contract(no, amount) for no, amount in content.items()]
            take(store, f"f{i}.xlsx", f"{i}-{sorted(content.items())}", contracts=rows)


def _state(store: Store) -> dict[str, tuple[int, str]]:
    contracts = store.load(["contracts"])["contracts"]
    assert not contracts["contract_no"].duplicated().any()
    return {
        no: (amount, file)
        for no, amount, file in contracts[["contract_no", "amount", "_file"]].itertuples(index=False)
    }


@settings(deadline=None)  # max_examples from the conftest profile (ci: 15)
@given(files=files_strategy, data=st.data())
def test_any_split_any_order_last_file_wins(
    tmp_path_factory: pytest.TempPathFactory, files: list[dict[str, int]], data: st.DataObject
) -> None:
    few = data.draw(st.sampled_from([0, 10**9]))  # the key index, or each part's keys (Store._find_keys)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "FEW_KEYS", few)
        _last_file_wins(tmp_path_factory, files, data)


def _last_file_wins(tmp_path_factory: pytest.TempPathFactory, files: list[dict[str, int]], data: st.DataObject) -> None:
    with Store.open(tmp_path_factory.mktemp("store")) as store:
        _ingest_all(store, files)
        expected = {
            no: (amount * 100, f"f{i}.xlsx")
            for i, content in enumerate(files)
            for no, amount in content.items()
        }
        assert _state(store) == expected
        # Forgetting any one file gives the state of never having taken it in.
        skip = data.draw(st.integers(0, len(files) - 1))
        store.forget(f"f{skip}.xlsx")
        forgotten = _state(store)
    with Store.open(tmp_path_factory.mktemp("without")) as other:
        _ingest_all(other, files, skip)
        assert forgotten == _state(other)


MOUNTINFO = "\n".join(
    [
        "22 27 0:21 / / rw,relatime - ext4 /dev/vda rw",
        "40 22 0:40 / /mnt/share rw,relatime - cifs //nas/sales rw,vers=3.0",
        r"41 22 0:41 / /mnt/销售\040内勤 rw,relatime - nfs4 nas:/sales rw",
        "42 40 0:42 / /mnt/share/local rw,relatime - ext4 /dev/vdb rw",
    ]
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/work/taizhang", "ext4"),
        ("/mnt/share/台账/.taizhang", "cifs"),
        ("/mnt/share2/x", "ext4"),  # a sibling whose name starts the same is not inside the share
        ("/mnt/销售 内勤/台账", "nfs4"),  # mountinfo escapes the space as \040
        ("/mnt/share/local/台账", "ext4"),  # the deepest mount wins
    ],
)
def test_filesystem_type_of_the_mount_holding_a_path(path: str, kind: str) -> None:
    assert filesystem_type(Path(path), MOUNTINFO) == kind


@pytest.mark.parametrize(("network", "journal"), [(False, "wal"), (True, "delete")])
def test_store_on_a_network_share_uses_the_rollback_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network: bool, journal: str
) -> None:
    monkeypatch.setattr("pipeline.store.on_network_share", lambda path: network)
    with Store.open(tmp_path) as store:
        take(store, "a.xlsx", contracts=[contract("HT-1", 100)])
        assert store._con.execute("PRAGMA journal_mode").fetchone()[0] == journal
    assert not (tmp_path / ".taizhang" / "store.sqlite-wal").exists() or not network
    with Store.open(tmp_path) as store:
        assert store.load(["contracts"])["contracts"]["amount"].tolist() == [10_000]


def test_parts_written_with_zstd_by_earlier_versions_still_read() -> None:
    import pyarrow.ipc as ipc

    from pipeline.store import decode, encode

    table = to_table(LEDGER_KINDS["payments"], frame("payments", [payment(50, "V1"), payment(60, "V2")]))
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema, options=ipc.IpcWriteOptions(compression=pa.Codec("zstd", 1))) as w:
        w.write_table(table)
    assert decode(sink.getvalue().to_pybytes()).equals(table)
    assert decode(encode(table)).equals(table)
