"""A corpus of hostile, broken and odd-but-genuine inbox files, built on the fly (no committed binaries).

Each builder writes one file into a folder and returns its path; `build_all` makes them all (each in well under
2 s, the 1 GiB zip bomb included). What preflight must say about each is in tests/test_preflight.py; what a
whole `taizhang run` must do with them is in tests/test_hostile.py.

Never open the hostile ones with python-calamine in a test process: `sparse_far_cell` and `sparse_no_refs`
make it abort the whole process, `zip_bomb` makes any reader take 1–2 GB.
"""

from __future__ import annotations

import io
import itertools
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import xlsxwriter
import xlwt

HEADER = ["回款日期", "客户名称", "回款金额"]
ROWS = [["2025-09-05", "华北电力", 1000], ["2025-09-06", "东方建设", 2000]]
INJECTIONS = ('=HYPERLINK("http://x","y")', "@SUM(1)", "+86 138 0000 0000", "=cmd|' /C calc'!A0", "-2+3")
MILLION = 1_048_576  # Excel's last row

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "{more}</Relationships>"
)
_SST_REL = (
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/>'
)
_NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
# Billion laughs: ten levels of ten references, 10^9 copies of "lol" once expanded.
_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>"
)


def _workbook_xml(date1904: bool = False, prolog: str = "") -> str:
    pr = '<workbookPr date1904="1"/>' if date1904 else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<workbook {_NS}>{pr}'
        '<sheets><sheet name="回款" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(ref: str, value: object) -> str:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{_esc(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _rows_xml(rows: list[list[object]], first: int = 1) -> str:
    return "".join(
        f'<row r="{r}">' + "".join(_cell(f"{'ABC'[c]}{r}", v) for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(rows, start=first)
    )


def _sheet_xml(
    rows: list[list[object]], dimension: str = "", extra: str = "", prolog: str = "", after: str = ""
) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet {_NS}>{dim}'
        f"<sheetData>{_rows_xml(rows)}{extra}</sheetData>{after}</worksheet>"
    )


def _xlsx(
    path: Path,
    sheet: str | bytes,
    workbook: str | None = None,
    more: dict[str, bytes | str] | None = None,
    stored: bool = False,
) -> Path:
    rels = _WB_RELS.format(more=_SST_REL if more and "xl/sharedStrings.xml" in more else "")
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/workbook.xml", workbook or _workbook_xml())
        zf.writestr("xl/worksheets/sheet1.xml", sheet, compress_type=method)
        for name, data in (more or {}).items():
            zf.writestr(name, data)
    return path


def good_ledger(folder: Path, name: str = "回款台账_正常.xlsx") -> Path:
    return _xlsx(folder / name, _sheet_xml([HEADER, *ROWS]))


def _good_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.format(more=""))
        zf.writestr("xl/workbook.xml", _workbook_xml())
        zf.writestr("xl/worksheets/sheet1.xml", _sheet_xml([HEADER, *ROWS]))
    return buf.getvalue()


# --- a zip written by hand: entries whose deflate stream is given, so a bomb costs no compression ---------


def _write_zip(path: Path, entries: Iterable[tuple[str, Iterable[bytes], int, int]]) -> Path:
    """entries: (name, raw deflate chunks, crc32, inflated size); sizes under 4 GiB (no zip64)."""
    central = []
    with path.open("wb") as fh:
        for name, chunks, crc, size in entries:
            offset = fh.tell()
            raw = name.encode("utf-8")
            fh.write(
                struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, 0, 0, len(raw), 0) + raw
            )
            start = fh.tell()
            for chunk in chunks:
                fh.write(chunk)
            csize = fh.tell() - start
            fh.seek(offset + 14)
            fh.write(struct.pack("<III", crc, csize, size))
            fh.seek(0, os.SEEK_END)
            central.append(
                struct.pack(
                    "<4sHHHHHHIIIHHHHHII",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    8,
                    0,
                    0x21,
                    crc,
                    csize,
                    size,
                    len(raw),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + raw
            )
        cd_offset = fh.tell()
        for record in central:
            fh.write(record)
        cd_size = fh.tell() - cd_offset
        fh.write(
            struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), cd_size, cd_offset, 0)
        )
    return path


def _deflated(name: str, data: str | bytes) -> tuple[str, list[bytes], int, int]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return name, [c.compress(raw) + c.flush()], zlib.crc32(raw), len(raw)


def zip_bomb(folder: Path, gib: int = 1) -> Path:
    """A valid-looking xlsx whose sheet1.xml inflates to `gib` GiB of spaces, from a ~1 MB file.

    The deflate stream is built from one compressed 1 MiB block of spaces repeated: after a full flush the
    compressor starts afresh, so the same input gives the same bytes and blocks can simply be repeated.
    Nothing ever holds more than 16 MiB; about 0.5 s per GiB (the CRC).
    """
    head = f"{_XML_DECL}<worksheet {_NS}><sheetData>".encode()
    tail = b"</sheetData></worksheet>"
    block = b" " * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    spaces = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(block) + c.flush(zlib.Z_FULL_FLUSH) == spaces  # a full flush makes blocks repeatable
    last = c.compress(tail) + c.flush()
    count = gib * 1024
    crc = zlib.crc32(head)
    big = block * 16
    for _ in range(count // 16):
        crc = zlib.crc32(big, crc)
    crc = zlib.crc32(tail, crc)
    sheet = ("xl/worksheets/sheet1.xml", itertools.chain([first], itertools.repeat(spaces, count), [last]))
    return _write_zip(
        folder / "压缩炸弹.xlsx",
        [
            _deflated("[Content_Types].xml", _CONTENT_TYPES),
            _deflated("_rels/.rels", _RELS),
            _deflated("xl/_rels/workbook.xml.rels", _WB_RELS.format(more="")),
            _deflated("xl/workbook.xml", _workbook_xml()),
            (*sheet, crc, len(head) + count * len(block) + len(tail)),
        ],
    )


def entity_bomb(folder: Path) -> Path:
    """Billion laughs in the sheet part: a DTD whose entities expand to 10^9 × "lol"."""
    rows: list[list[object]] = [HEADER, ["2025-09-05", "&lol9;", 1000]]
    sheet = _sheet_xml(rows, prolog=_LAUGHS).replace("&amp;lol9;", "&lol9;")
    return _xlsx(folder / "实体膨胀.xlsx", sheet)


def entity_bomb_strings(folder: Path) -> Path:
    """Billion laughs in sharedStrings.xml, referenced by a customer cell."""
    strings = (
        f'<?xml version="1.0" encoding="UTF-8"?>{_LAUGHS}<sst {_NS} count="1" uniqueCount="1">'
        "<si><t>&lol9;</t></si></sst>"
    )
    extra = '<row r="3"><c r="A3"><v>45905</v></c><c r="B3" t="s"><v>0</v></c><c r="C3"><v>5</v></c></row>'
    sheet = _sheet_xml([HEADER, ROWS[0]], extra=extra)
    return _xlsx(folder / "实体膨胀_共享字符串.xlsx", sheet, more={"xl/sharedStrings.xml": strings})


def huge_declared_range(folder: Path) -> Path:
    return _xlsx(folder / "声明区域过大.xlsx", _sheet_xml([HEADER, *ROWS], dimension="A1:XFD1048576"))


def sparse_far_cell(folder: Path) -> Path:
    """Only A1 and XFD1048576 (the dimension says A1): python-calamine aborts the whole process on it."""
    extra = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return _xlsx(folder / "稀疏远端单元格.xlsx", _sheet_xml([["x"]], dimension="A1", extra=extra))


def sparse_no_refs(folder: Path) -> Path:
    """The same extent without any r attribute: cells take their position from their order, as readers do.

    1,048,575 empty rows, then one row of 16,384 cells. Stored, not deflated, so that the compression ratio
    (which would refuse it as a bomb anyway) does not hide the position check.
    """
    body = '<row><c t="inlineStr"><is><t>x</t></is></c></row>' + "<row></row>" * (MILLION - 2)
    body += "<row>" + "<c><v>1</v></c>" * 16_384 + "</row>"
    sheet = f"{_XML_DECL}<worksheet {_NS}><sheetData>{body}</sheetData></worksheet>"
    return _xlsx(folder / "稀疏远端_无坐标.xlsx", sheet, stored=True)


def merge_bomb(folder: Path) -> Path:
    """A merged range A2:XFD4000 over a 4,000-row ledger: filling merged cells would make 65 million cells."""
    rows: list[list[object]] = [HEADER] + [[45900 + i % 30, "西部矿业", 100 + i] for i in range(3999)]
    after = '<mergeCells count="1"><mergeCell ref="A2:XFD4000"/></mergeCells>'
    return _xlsx(folder / "合并单元格过大.xlsx", _sheet_xml(rows, after=after))


def too_many_rows(folder: Path) -> Path:
    extra = '<row r="1048577"><c r="A1048577"><v>1</v></c></row>'
    return _xlsx(folder / "超过最大行数.xlsx", _sheet_xml([HEADER, *ROWS], extra=extra))


def million_rows(folder: Path) -> Path:
    """A genuine 回款台账 filling the sheet to Excel's last row (1,048,575 payments), written as XML directly.

    Rows are made by slice assignment and one join per 64k rows (no per-row formatting); ~1.5 s, ~22 MB.
    """
    customers = ["百万行客户甲", "百万行客户乙", "百万行客户丙", "百万行客户丁", "百万行客户戊"]
    strings = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="{len(customers)}" uniqueCount="{len(customers)}">'
        + "".join(f"<si><t>{c}</t></si>" for c in customers)
        + "</sst>"
    )
    dates = [f'"><v>{45658 + i}</v></c><c r="B' for i in range(365)]
    names = [f'" t="s"><v>{i}</v></c><c r="C' for i in range(len(customers))]
    amounts = [f'"><v>{100 + i * 13 % 9973}.5</v></c></row><row r="' for i in range(997)]

    def parts() -> Iterator[bytes]:
        head = '<row r="1"><c r="A1" t="inlineStr"><is><t>回款日期</t></is></c>'
        head += '<c r="B1" t="inlineStr"><is><t>客户名称</t></is></c>'
        head += '<c r="C1" t="inlineStr"><is><t>回款金额</t></is></c></row><row r="'
        yield (f'{_XML_DECL}<worksheet {_NS}><dimension ref="A1:C{MILLION}"/><sheetData>' + head).encode()
        step = 1 << 16
        for start in range(2, MILLION + 1, step):
            stop = min(start + step, MILLION + 1)
            n = stop - start
            nums = list(map(str, range(start, stop)))
            pieces: list[str] = [""] * (8 * n)
            pieces[0::8] = nums
            pieces[1::8] = itertools.repeat('"><c r="A', n)
            pieces[2::8] = nums
            pieces[3::8] = itertools.islice(itertools.cycle(dates), n)
            pieces[4::8] = nums
            pieces[5::8] = itertools.islice(itertools.cycle(names), n)
            pieces[6::8] = nums
            pieces[7::8] = itertools.islice(itertools.cycle(amounts), n)
            if stop == MILLION + 1:
                pieces[-1] = pieces[-1].removesuffix('<row r="')
            yield "".join(pieces).encode()
        yield b"</sheetData></worksheet>"

    path = folder / "百万行回款.xlsx"
    rels = _WB_RELS.format(more=_SST_REL)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/workbook.xml", _workbook_xml())
        zf.writestr("xl/sharedStrings.xml", strings)
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            for part in parts():
                fh.write(part)
    return path


def truncated(folder: Path) -> Path:
    path = folder / "截断.xlsx"
    data = _good_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_entry(folder: Path) -> Path:
    """Directory intact, but the sheet's deflate data starts with an invalid block type."""
    data = bytearray(_good_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + name_len + extra_len] = 0x07  # BFINAL=1, BTYPE=11 (reserved)
    path = folder / "内容损坏.xlsx"
    path.write_bytes(bytes(data))
    return path


def empty(folder: Path) -> Path:
    path = folder / "空文件.xlsx"
    path.write_bytes(b"")
    return path


def encrypted(folder: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(_good_bytes())).encrypt("secret", out)
    path = folder / "加密.xlsx"
    path.write_bytes(out.getvalue())
    return path


def encrypted_xls(folder: Path) -> Path:
    """A legacy .xls marked password-protected: its WRITEACCESS record retyped as FILEPASS (0x002F)."""
    path = real_xls(folder, "加密旧版.xls")
    data = bytearray(path.read_bytes())
    at = data.find(b"\x5c\x00\x70\x00", 512)  # WRITEACCESS, 112 bytes, right after BOF in the globals
    assert at > 0, "xlwt layout changed"
    data[at : at + 2] = b"\x2f\x00"
    path.write_bytes(bytes(data))
    return path


def xlsm_with_macro(folder: Path) -> Path:
    return _xlsx(folder / "带宏.xlsm", _sheet_xml([HEADER, *ROWS]), more={"xl/vbaProject.bin": b"\x00" * 512})


def real_xls(folder: Path, name: str = "旧版回款.xls") -> Path:
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("回款")
    for r, row in enumerate([HEADER, *ROWS]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    path = folder / name
    wb.save(str(path))
    return path


def html_as_xls(folder: Path) -> Path:
    """What web systems export under an .xls name: an HTML table (with a harmless <!DOCTYPE html>)."""
    cells = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in [HEADER, *ROWS])
    path = folder / "网页导出回款.xls"
    html = f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><table border="1">{cells}</table></body></html>'
    path.write_text(html, encoding="utf-8")
    return path


def html_entity(folder: Path) -> Path:
    """An HTML 'export' declaring entities (billion laughs in an internal subset)."""
    cells = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in [HEADER, *ROWS])
    path = folder / "网页实体.xls"
    path.write_text(
        f"{_LAUGHS.replace('lolz', 'html')}<html><body><table>{cells}</table></body></html>", "utf-8"
    )
    return path


def html_span_bomb(folder: Path) -> Path:
    """61 cells spanning 1000 × 1000 each: 61 million cells once rowspan/colspan are filled in."""
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr>"
    path = folder / "网页合并过大.xls"
    spans = '<td rowspan="1000" colspan="1000">x</td>' * 61
    path.write_text(f"<html><body><table>{head}<tr>{spans}</tr></table></body></html>", encoding="utf-8")
    return path


def _csv_text() -> str:
    return "\r\n".join(",".join(str(v) for v in row) for row in [HEADER, *ROWS]) + "\r\n"


def csv_as_xlsx(folder: Path) -> Path:
    path = folder / "其实是CSV.xlsx"
    path.write_text(_csv_text(), encoding="utf-8")
    return path


def gbk_csv(folder: Path) -> Path:
    path = folder / "回款_GBK.csv"
    path.write_bytes(_csv_text().encode("gbk"))
    return path


def bom_csv(folder: Path) -> Path:
    path = folder / "回款_BOM.csv"
    path.write_bytes(_csv_text().encode("utf-8-sig"))
    return path


def wps_dimension(folder: Path) -> Path:
    return _xlsx(folder / "WPS区域A1.xlsx", _sheet_xml([HEADER, *ROWS], dimension="A1:A1"))


def error_cells(folder: Path) -> Path:
    extra = (
        '<row r="4"><c r="A4" t="inlineStr"><is><t>2025-09-07</t></is></c><c r="B4" t="inlineStr"><is><t>华北电力</t></is></c>'
        '<c r="C4" t="e"><v>#REF!</v></c></row>'
        '<row r="5"><c r="A5" t="inlineStr"><is><t>2025-09-08</t></is></c><c r="B5" t="e"><v>#N/A</v></c>'
        '<c r="C5"><v>5</v></c></row>'
        '<row r="6"><c r="A6" t="inlineStr"><is><t>2025-09-09</t></is></c><c r="B6" t="inlineStr"><is><t>东方建设</t></is></c>'
        '<c r="C6" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
    )
    return _xlsx(folder / "错误值.xlsx", _sheet_xml([HEADER, *ROWS], extra=extra))


def uncalculated_formulas(folder: Path) -> Path:
    extra = (
        '<row r="4"><c r="A4" t="inlineStr"><is><t>2025-09-07</t></is></c><c r="B4" t="inlineStr"><is><t>华北电力</t></is></c>'
        '<c r="C4"><f>SUM(C2:C3)</f></c></row>'
    )
    return _xlsx(folder / "未计算公式.xlsx", _sheet_xml([HEADER, *ROWS], extra=extra))


def date_1904(folder: Path) -> Path:
    # 44000 in the 1904 system is 2024-06-19 (in the 1900 system it would be 2020-06-18).
    rows: list[list[object]] = [HEADER, [44000, "华北电力", 300]]
    return _xlsx(folder / "1904日期.xlsx", _sheet_xml(rows), workbook=_workbook_xml(date1904=True))


def injection_names(folder: Path) -> Path:
    path = folder / "注入客户名.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("回款")
    ws.write_row(0, 0, HEADER)
    for r, name in enumerate(INJECTIONS, start=1):
        ws.write_string(r, 0, "2025-09-10")
        ws.write_string(r, 1, name)
        ws.write_number(r, 2, 10)
    wb.close()
    return path


def gbk_file_name(folder: Path) -> Path:
    """A file name in GBK bytes, as a Windows share may deliver it to a UTF-8 system."""
    raw = os.path.join(os.fsencode(folder), "客户回款".encode("gbk") + b".xlsx")
    with open(raw, "wb") as fh:
        fh.write(_good_bytes())
    return Path(os.fsdecode(raw))


_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


def ods_sparse(folder: Path) -> Path:
    """An .ods with a value in A1 and one at XFD1048576, the gap made of repeated empty rows and cells."""
    far = (
        '<table:table-row table:number-rows-repeated="1048574"><table:table-cell table:number-columns-repeated="16384"/>'
        '</table:table-row><table:table-row><table:table-cell table:number-columns-repeated="16383"/>'
        '<table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
        "</table:table-row>"
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="回款"><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>'
        f"{far}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    path = folder / "稀疏远端.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED
        )
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", _ODS_MANIFEST)
    return path


BUILDERS: dict[str, Callable[[Path], Path]] = {
    # refused before any parser runs
    "zip_bomb": zip_bomb,
    "entity_bomb": entity_bomb,
    "entity_bomb_strings": entity_bomb_strings,
    "huge_declared_range": huge_declared_range,
    "sparse_far_cell": sparse_far_cell,
    "sparse_no_refs": sparse_no_refs,
    "merge_bomb": merge_bomb,
    "too_many_rows": too_many_rows,
    "truncated": truncated,
    "corrupt_entry": corrupt_entry,
    "empty": empty,
    "encrypted": encrypted,
    "encrypted_xls": encrypted_xls,
    "html_entity": html_entity,
    "html_span_bomb": html_span_bomb,
    "ods_sparse": ods_sparse,
    # odd but genuine: read
    "xlsm_with_macro": xlsm_with_macro,
    "real_xls": real_xls,
    "html_as_xls": html_as_xls,
    "csv_as_xlsx": csv_as_xlsx,
    "gbk_csv": gbk_csv,
    "bom_csv": bom_csv,
    "wps_dimension": wps_dimension,
    "error_cells": error_cells,
    "uncalculated_formulas": uncalculated_formulas,
    "date_1904": date_1904,
    "injection_names": injection_names,
    "gbk_file_name": gbk_file_name,
}
# Genuine but heavy to *read* (preflight takes about a second): only built when asked for.
HEAVY: dict[str, Callable[[Path], Path]] = {"million_rows": million_rows}


def build_all(folder: Path, heavy: bool = False) -> dict[str, Path]:
    """Every corpus item in `folder`; `heavy=True` adds the 1,048,576-row ledger."""
    folder.mkdir(parents=True, exist_ok=True)
    builders = {**BUILDERS, **HEAVY} if heavy else BUILDERS
    return {name: build(folder) for name, build in builders.items()}
