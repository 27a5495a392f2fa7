"""Pre-flight check: every hostile corpus item refused with its code and a word of its zh-CN message, every odd but
genuine one let through, quickly, and nothing ever raised. Hostile files are never opened by a reader here."""

from __future__ import annotations

import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import hostile
import pytest
import xlsxwriter
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import Limits
from pipeline.preflight import is_safe, preflight, readable_name, sniff
from pipeline.problems import Problem

LIMITS = Limits()

# corpus item → (code, a word the message must hold)
REFUSED = {
    "zip_bomb": ("unsafe-file", "压缩炸弹"),
    "entity_bomb": ("unsafe-file", "DTD"),
    "entity_bomb_strings": ("unsafe-file", "sharedStrings.xml"),
    "huge_declared_range": ("file-too-large", "声明的数据区域 A1:XFD1048576 过大"),
    "sparse_far_cell": ("file-too-large", "A1:XFD1048576"),
    "sparse_no_refs": ("file-too-large", "A1:XFD1048576"),
    "merge_bomb": ("file-too-large", "A1:XFD4000"),
    "too_many_rows": ("file-too-large", "超出 Excel 的上限"),
    "truncated": ("cannot-open", "损坏"),
    "corrupt_entry": ("cannot-open", "损坏"),
    "empty": ("empty-file", "空"),
    "encrypted": ("encrypted", "请去除密码后重新放入"),
    "encrypted_xls": ("encrypted", "请去除密码后重新放入"),
    "html_entity": ("unsafe-file", "ENTITY"),
    "html_span_bomb": ("file-too-large", "rowspan"),
    "ods_sparse": ("file-too-large", "A1:XFD1048576"),
}
GENUINE = [
    "xlsm_with_macro",
    "real_xls",
    "html_as_xls",
    "csv_as_xlsx",
    "gbk_csv",
    "bom_csv",
    "wps_dimension",
    "error_cells",
    "uncalculated_formulas",
    "date_1904",
    "injection_names",
    "gbk_file_name",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hostile.build_all(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def million(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.million_rows(tmp_path_factory.mktemp("million"))


def _errors(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.message) for p in problems if p.severity == "error"]


def test_corpus_is_complete_and_quick_to_build(tmp_path: Path) -> None:
    assert set(REFUSED) | set(GENUINE) == set(hostile.BUILDERS)
    for name, build in hostile.BUILDERS.items():
        start = time.perf_counter()
        build(tmp_path)
        assert time.perf_counter() - start < 2, name


@pytest.mark.parametrize(("name", "expected"), sorted(REFUSED.items()))
def test_hostile_refused(corpus: dict[str, Path], name: str, expected: tuple[str, str]) -> None:
    problems = preflight(corpus[name], LIMITS)
    assert len(problems) == 1 and not is_safe(problems), problems
    code, word = expected
    assert problems[0].code == code and word in problems[0].message, problems[0].message
    assert problems[0].file == corpus[name].name


@pytest.mark.parametrize("name", GENUINE)
def test_genuine_odd_files_pass(corpus: dict[str, Path], name: str) -> None:
    assert preflight(corpus[name], LIMITS) == []


def test_macro_is_a_warning_only_when_asked(corpus: dict[str, Path]) -> None:
    found = preflight(corpus["xlsm_with_macro"], LIMITS, warnings=True)
    assert [(p.code, p.severity) for p in found] == [("macro-ignored", "warning")] and is_safe(found)


def test_display_name_and_gbk_file_name(corpus: dict[str, Path]) -> None:
    path = corpus["gbk_file_name"]
    assert readable_name(path) == "客户回款.xlsx"
    assert preflight(corpus["empty"], LIMITS, name="收件箱/空.xlsx")[0].file == "收件箱/空.xlsx"
    raw = os.path.join(os.fsencode(path.parent), "坏文件".encode("gbk") + b".xlsx")
    with open(raw, "wb") as fh:
        fh.write(b"PK\x03\x04 truncated")
    assert [(p.file, p.code) for p in preflight(Path(os.fsdecode(raw)), LIMITS)] == [
        ("坏文件.xlsx", "cannot-open")
    ]


def test_sheet_named_in_extent_problems(corpus: dict[str, Path]) -> None:
    assert preflight(corpus["sparse_far_cell"], LIMITS)[0].sheet == "回款"


# --- cost --------------------------------------------------------------------------------------------------


def test_zip_bomb_refused_fast_and_a_real_gibibyte(corpus: dict[str, Path]) -> None:
    info = zipfile.ZipFile(corpus["zip_bomb"]).getinfo("xl/worksheets/sheet1.xml")
    assert info.file_size > 1 << 30 and corpus["zip_bomb"].stat().st_size < 2 << 20
    start = time.perf_counter()
    assert preflight(corpus["zip_bomb"], LIMITS)[0].code == "unsafe-file"
    assert time.perf_counter() - start < 5


def test_million_rows_pass_in_seconds(million: Path) -> None:
    start = time.perf_counter()
    assert preflight(million, LIMITS) == []
    assert time.perf_counter() - start < 10


def test_ordinary_ten_thousand_rows_cost_little(tmp_path: Path) -> None:
    path = tmp_path / "回款台账_一万行.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("回款")
    ws.write_row(0, 0, ["回款日期", "客户名称", "回款金额", "合同编号", "业务员", "备注"])
    for r in range(1, 10_001):
        ws.write_row(r, 0, [f"2025-03-{r % 28 + 1:02d}", f"客户{r % 97}", r * 1.5, f"HT{r:06d}", "张三", ""])
    wb.close()
    start = time.perf_counter()
    assert preflight(path, LIMITS) == []
    assert time.perf_counter() - start < 2


# --- limits, with parts written here --------------------------------------------------------------------


def _xlsx(path: Path, sheet: str | bytes) -> Path:
    return hostile._xlsx(path, sheet)


def _sheet(cells: str, dimension: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f"<worksheet {hostile._NS}>{dim}<sheetData>{cells}</sheetData></worksheet>"


def _grid(rows: int, cols: int) -> str:
    letters = [_letters(c) for c in range(1, cols + 1)]
    return "".join(
        f'<row r="{r}">' + "".join(f'<c r="{x}{r}"><v>{r}</v></c>' for x in letters) + "</row>"
        for r in range(1, rows + 1)
    )


def _letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def test_compression_ratio_judged_only_past_the_grace(tmp_path: Path) -> None:
    small = _xlsx(tmp_path / "a.xlsx", _sheet("") + " " * 90_000)
    big = _xlsx(tmp_path / "b.xlsx", _sheet("") + " " * 300_000)
    assert preflight(small, LIMITS) == []
    assert [p.code for p in preflight(big, LIMITS)] == ["unsafe-file"]
    assert preflight(big, Limits(min_compression_ratio=0.0001)) == []


def test_entry_and_total_caps_count_real_bytes_not_declared_ones(tmp_path: Path) -> None:
    noise = os.urandom(700_000).hex()  # 1.4 MB that does not compress much
    path = _xlsx(tmp_path / "big.xlsx", _sheet("") + f"<!-- {noise} -->")
    assert preflight(path, LIMITS) == []
    (entry,) = preflight(path, Limits(max_entry_mb=1))
    assert entry.code == "file-too-large" and "sheet1.xml 解压后超过 1 MB" in entry.message
    (total,) = preflight(path, Limits(max_uncompressed_mb=1, max_entry_mb=1024))
    assert total.code == "file-too-large" and "解压后超过 1 MB" in total.message
    # The same file claiming a 10-byte sheet in its directory is refused all the same.
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    central = _central_offset(bytes(data), "xl/worksheets/sheet1.xml")
    struct.pack_into("<I", data, central + 24, 10)
    struct.pack_into("<I", data, info.header_offset + 22, 10)
    lying = tmp_path / "lying.xlsx"
    lying.write_bytes(bytes(data))
    assert zipfile.ZipFile(lying).getinfo("xl/worksheets/sheet1.xml").file_size == 10
    assert [p.code for p in preflight(lying, Limits(max_entry_mb=1))] == ["file-too-large"]


def _central_offset(data: bytes, name: str) -> int:
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46 : pos + 46 + n] == name.encode():
            return pos
        pos = data.find(b"PK\x01\x02", pos + 46 + n + m + k)
    return -1


def test_overlapping_entries_are_a_bomb(tmp_path: Path) -> None:
    data = hostile._good_bytes()
    central = _central_offset(data, "xl/worksheets/sheet1.xml")
    n, m, k = struct.unpack_from("<HHH", data, central + 28)
    record = bytearray(data[central : central + 46 + n + m + k])
    record[46 : 46 + n] = b"xl/worksheets/sheet2.xml"
    eocd = data.rfind(b"PK\x05\x06")
    entries, size = struct.unpack_from("<HI", data, eocd + 10)
    tail = bytearray(data[eocd:])
    struct.pack_into("<HHI", tail, 8, entries + 1, entries + 1, size + len(record))
    path = tmp_path / "overlap.xlsx"
    path.write_bytes(data[:eocd] + bytes(record) + bytes(tail))
    assert len(zipfile.ZipFile(path).infolist()) == entries + 1
    (found,) = preflight(path, LIMITS)
    assert found.code == "unsafe-file" and "重叠" in found.message


def test_wide_and_tall_within_limits_pass(tmp_path: Path) -> None:
    assert (
        preflight(_xlsx(tmp_path / "wide.xlsx", _sheet(_grid(300, 60), dimension="A1:BH300")), LIMITS) == []
    )
    # The cheap bounds (26 wide, 999,999 tall) cannot clear it: the part is read again exactly.
    assert preflight(_xlsx(tmp_path / "n.xlsx", _sheet(_grid(30, 26))), Limits(max_cells=1000)) == []
    (found,) = preflight(_xlsx(tmp_path / "m.xlsx", _sheet(_grid(100, 26))), Limits(max_cells=1000))
    assert found.code == "file-too-large" and "A1:Z100" in found.message


@pytest.mark.parametrize(
    "cells",
    [
        '<row r="1"><c r="A1"><v>1</v></c><c r="XFD1048576"><v>2</v></c></row>',  # far cell in row 1
        '<row r="2"><c r="XFD1"><v>1</v></c><c r="A999999"><v>2</v></c></row>',  # wide early, tall late
        "<row r='1'><c r='A1'><v>1</v></c></row><row r='9'><c r='XFD1048576'><v>1</v></c></row>",  # quotes
        '<row r="1"><c t="n" r="XFD1048576"><v>1</v></c></row>',  # r not first
        '<row r="1"><c r="xfd1048576"><v>1</v></c></row>',  # lowercase
        '<row r="1"><c\nr="XFD1048576"><v>1</v></c></row>',  # newline before r
        '<row r="1"><x:c r="XFD1048576"><x:v>1</x:v></x:c></row>',  # prefixed
    ],
)
def test_far_cells_in_any_spelling(tmp_path: Path, cells: str) -> None:
    sheet = _sheet(cells).replace("<worksheet ", '<worksheet xmlns:x="urn:x" ')
    (found,) = preflight(_xlsx(tmp_path / "far.xlsx", sheet), LIMITS)
    assert found.code == "file-too-large", found.message


def test_row_beyond_excel_in_a_wide_reference(tmp_path: Path) -> None:
    (found,) = preflight(
        _xlsx(tmp_path / "t.xlsx", _sheet('<row r="9"><c r="AB1234567"><v>1</v></c></row>')), LIMITS
    )
    assert "超出 Excel 的上限" in found.message


def test_utf16_parts_are_checked_too(tmp_path: Path) -> None:
    far = _sheet('<row r="1"><c r="A1"><v>1</v></c><c r="XFD1048576"><v>1</v></c></row>')
    sheet = ('<?xml version="1.0" encoding="UTF-16"?>' + far).encode("utf-16")
    assert [p.code for p in preflight(_xlsx(tmp_path / "u.xlsx", sheet), LIMITS)] == ["file-too-large"]
    dtd = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>' + _sheet("")).encode(
        "utf-16"
    )
    assert [p.code for p in preflight(_xlsx(tmp_path / "d.xlsx", dtd), LIMITS)] == ["unsafe-file"]


def test_not_a_spreadsheet_zip_or_ole(tmp_path: Path, corpus: dict[str, Path]) -> None:
    docx = tmp_path / "合同.xlsx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    assert "不是 Excel 文件" in preflight(docx, LIMITS)[0].message
    xlsb = tmp_path / "二进制.xlsx"
    with zipfile.ZipFile(xlsb, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert ".xlsb" in preflight(xlsb, LIMITS)[0].message
    ole = bytearray(corpus["encrypted"].read_bytes())
    for name in ("EncryptionInfo", "EncryptedPackage"):
        at = ole.find(name.encode("utf-16-le"))
        ole[at : at + 2] = "X".encode("utf-16-le")
    (tmp_path / "word.xls").write_bytes(bytes(ole))
    assert "不是 Excel 文件" in preflight(tmp_path / "word.xls", LIMITS)[0].message


def test_genuine_ods_and_legacy_manifest_doctype(tmp_path: Path) -> None:
    path = tmp_path / "回款.ods"
    body = (
        '<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet>'
        '<table:table table:name="回款"><table:table-row><table:table-cell office:value-type="string"><text:p>回款日期'
        "</text:p></table:table-cell></table:table-row>"
        '<table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="1024"/>'
        "</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<!DOCTYPE manifest:manifest PUBLIC "-//OpenOffice.org//DTD Manifest 1.0//EN" "Manifest.dtd"><m/>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED
        )
        zf.writestr("content.xml", body)
        zf.writestr("META-INF/manifest.xml", manifest)
    assert preflight(path, LIMITS) == []


def test_time_budget(million: Path) -> None:
    (found,) = preflight(million, Limits(parse_timeout_seconds=0.05))
    assert found.code == "read-timeout"


def test_sniff_by_content_not_extension() -> None:
    assert [
        sniff(h)
        for h in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf <html>", b"a,b", b" \n")
    ] == [
        "zip",
        "ole",
        "markup",
        "text",
        "empty",
    ]


# --- never raises --------------------------------------------------------------------------------------------


@given(
    st.binary(max_size=2000),
    st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<", b""]),
)
def test_garbage_never_raises(tmp_path_factory: pytest.TempPathFactory, body: bytes, magic: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "garbage.xlsx"
    path.write_bytes(magic + body)
    found = preflight(path, LIMITS)
    assert all(isinstance(p, Problem) for p in found)


def test_every_truncation_and_bit_flip_is_a_problem_or_clean(tmp_path: Path, corpus: dict[str, Path]) -> None:
    for source in (hostile._good_bytes(), corpus["real_xls"].read_bytes(), corpus["encrypted"].read_bytes()):
        for cut in range(0, len(source), max(1, len(source) // 97)):
            path = tmp_path / "cut.xlsx"
            path.write_bytes(source[:cut])
            assert all(p.code in ("cannot-open", "empty-file", "encrypted") for p in preflight(path, LIMITS))
        flipped = bytearray(source)
        for at in range(0, len(source), max(1, len(source) // 61)):
            flipped[at] ^= 0xFF
            path = tmp_path / "flip.xlsx"
            path.write_bytes(bytes(flipped))
            preflight(path, LIMITS)  # any verdict, but no exception


def test_deflate_stream_ending_early_is_cannot_open(tmp_path: Path) -> None:
    raw = b"<worksheet><sheetData/></worksheet>" * 50
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    stream = c.compress(raw) + c.flush(zlib.Z_SYNC_FLUSH)  # no final block
    path = hostile._write_zip(
        tmp_path / "unfinished.xlsx",
        [
            hostile._deflated("[Content_Types].xml", "<Types/>"),
            ("xl/worksheets/sheet1.xml", [stream], 0, len(raw)),
        ],
    )
    (found,) = preflight(path, LIMITS)
    assert found.code == "cannot-open" and "不完整" in found.message
