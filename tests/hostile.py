"""A corpus of hostile and broken inbox files, built on the fly (no committed binaries).

Each builder writes one file into a folder and returns its path; `build_all` makes them all. The expectations
(what taizhang must do with each) live in tests/test_hostile.py.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import xlsxwriter
import xlwt

HEADER = ["回款日期", "客户名称", "回款金额"]
ROWS = [["2025-09-05", "华北电力", 1000], ["2025-09-06", "东方建设", 2000]]
INJECTIONS = ('=HYPERLINK("http://x","y")', "@SUM(1)", "+86 138 0000 0000", "=cmd|' /C calc'!A0")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
         "</Relationships>")
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>")
_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


def _workbook_xml(date1904: bool = False, prolog: str = "") -> str:
    pr = '<workbookPr date1904="1"/>' if date1904 else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<workbook {_NS}>{pr}'
            '<sheets><sheet name="回款" sheetId="1" r:id="rId1"/></sheets></workbook>')


def _cell(ref: str, value: object) -> str:
    if isinstance(value, str):
        text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _sheet_xml(rows: list[list[object]], dimension: str = "", extra: str = "") -> str:
    body = "".join(
        f'<row r="{r}">' + "".join(_cell(f"{'ABC'[c]}{r}", v) for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}<sheetData>{body}{extra}</sheetData></worksheet>'


def _xlsx(path: Path, sheet: str, workbook: str | None = None, more: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr("xl/workbook.xml", workbook or _workbook_xml())
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (more or {}).items():
            zf.writestr(name, data)
    return path


def good_ledger(folder: Path, name: str = "回款台账_正常.xlsx") -> Path:
    return _xlsx(folder / name, _sheet_xml([HEADER, *ROWS]))


def zip_bomb(folder: Path) -> Path:
    """~1 GiB of spaces inside the sheet, from a ~1 MB zip; written streaming so nothing holds 1 GiB."""
    path = folder / "压缩炸弹.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("xl/workbook.xml", _workbook_xml())
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            fh.write(f'<worksheet {_NS}><sheetData>'.encode())
            block = b" " * (1 << 22)
            for _ in range(256):
                fh.write(block)
    return path


def entity_bomb(folder: Path) -> Path:
    lol = '<!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    ) + "]>"
    return _xlsx(folder / "实体膨胀.xlsx", _sheet_xml([HEADER, *ROWS]), workbook=_workbook_xml(prolog=lol))


def huge_declared_range(folder: Path) -> Path:
    return _xlsx(folder / "声明区域过大.xlsx", _sheet_xml([HEADER, *ROWS], dimension="A1:XFD1048576"))


def sparse_far_cell(folder: Path) -> Path:
    """Only A1 and XFD1048576: python-calamine aborts the whole process on it (never open it here)."""
    extra = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return _xlsx(folder / "稀疏远端单元格.xlsx", _sheet_xml([["x"]], extra=extra))


def too_many_rows(folder: Path) -> Path:
    extra = '<row r="1048577"><c r="A1048577"><v>1</v></c></row>'
    return _xlsx(folder / "超过最大行数.xlsx", _sheet_xml([HEADER, *ROWS], extra=extra))


def truncated(folder: Path) -> Path:
    data = good_ledger(folder, "tmp_full.xlsx").read_bytes()
    (folder / "tmp_full.xlsx").unlink()
    path = folder / "截断.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def empty(folder: Path) -> Path:
    path = folder / "空文件.xlsx"
    path.write_bytes(b"")
    return path


def encrypted(folder: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(good_ledger(folder, "tmp_plain.xlsx").read_bytes())
    (folder / "tmp_plain.xlsx").unlink()
    out = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", out)
    path = folder / "加密.xlsx"
    path.write_bytes(out.getvalue())
    return path


def xlsm_with_macro(folder: Path) -> Path:
    return _xlsx(folder / "带宏.xlsm", _sheet_xml([HEADER, *ROWS]), more={"xl/vbaProject.bin": b"\x00" * 512})


def real_xls(folder: Path) -> Path:
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("回款")
    for r, row in enumerate([HEADER, *ROWS]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    path = folder / "旧版回款.xls"
    wb.save(str(path))
    return path


def html_as_xls(folder: Path) -> Path:
    cells = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in [HEADER, *ROWS])
    path = folder / "网页导出回款.xls"
    path.write_text(f"<html><body><table>{cells}</table></body></html>", encoding="utf-8")
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
    extra = ('<row r="4"><c r="A4" t="inlineStr"><is><t>2025-09-07</t></is></c><c r="B4" t="inlineStr"><is><t>华北电力</t></is></c>'
             '<c r="C4" t="e"><v>#REF!</v></c></row>'
             '<row r="5"><c r="A5" t="inlineStr"><is><t>2025-09-08</t></is></c><c r="B5" t="e"><v>#N/A</v></c>'
             '<c r="C5"><v>5</v></c></row>')
    return _xlsx(folder / "错误值.xlsx", _sheet_xml([HEADER, *ROWS], extra=extra))


def uncalculated_formulas(folder: Path) -> Path:
    extra = ('<row r="4"><c r="A4" t="inlineStr"><is><t>2025-09-07</t></is></c><c r="B4" t="inlineStr"><is><t>华北电力</t></is></c>'
             "<c r=\"C4\"><f>SUM(C2:C3)</f></c></row>")
    return _xlsx(folder / "未计算公式.xlsx", _sheet_xml([HEADER, *ROWS], extra=extra))


def date_1904(folder: Path) -> Path:
    # 44000 in the 1904 system is 2024-06-19 (in the 1900 system it would be 2020-06-18).
    rows = [HEADER, [44000, "华北电力", 300]]
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
    data = good_ledger(folder, "tmp_gbk.xlsx").read_bytes()
    (folder / "tmp_gbk.xlsx").unlink()
    with open(raw, "wb") as fh:
        fh.write(data)
    return Path(os.fsdecode(raw))


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "zip_bomb": zip_bomb, "entity_bomb": entity_bomb, "huge_declared_range": huge_declared_range,
    "sparse_far_cell": sparse_far_cell, "too_many_rows": too_many_rows, "truncated": truncated, "empty": empty,
    "encrypted": encrypted, "xlsm_with_macro": xlsm_with_macro, "real_xls": real_xls, "html_as_xls": html_as_xls,
    "csv_as_xlsx": csv_as_xlsx, "gbk_csv": gbk_csv, "bom_csv": bom_csv, "wps_dimension": wps_dimension,
    "error_cells": error_cells, "uncalculated_formulas": uncalculated_formulas, "date_1904": date_1904,
    "injection_names": injection_names, "gbk_file_name": gbk_file_name,
}


def build_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: build(folder) for name, build in BUILDERS.items()}
