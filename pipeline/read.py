"""Raw cells from any ledger file: format by magic bytes, sheets as grids with merges and flagged cells."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import python_calamine as pc

from pipeline.problems import Problem, problem

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_MARK = "EncryptionInfo".encode("utf-16-le")
ERROR_VALUES = (
    "#N/A",
    "#REF!",
    "#DIV/0!",
    "#VALUE!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#GETTING_DATA",
)

Merge = tuple[int, int, int, int]  # first row, first col, last row, last col (0-based, inclusive)


@dataclass
class RawSheet:
    """One sheet's cells; rows[i][j] is Excel row i+1, column j+1. `flags` marks error/uncalculated cells."""

    name: str
    rows: list[list[Any]]
    merges: list[Merge] = field(default_factory=list)
    hidden: bool = False
    flags: dict[tuple[int, int], str] = field(default_factory=dict)


@dataclass
class RawBook:
    path: Path
    format: str  # xlsx | xls | ods | csv | html
    sheets: list[RawSheet]
    date1904: bool = False


def sniff_format(head: bytes, zip_names: list[str] | None = None) -> str:
    """The real format of a file from its first bytes, whatever its extension says."""
    if head.startswith(b"PK\x03\x04"):
        if (
            zip_names is not None
            and "mimetype" in zip_names
            and not any(n.startswith("xl/") for n in zip_names)
        ):
            return "ods"
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        return "ole"
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped[:1] == b"<":
        return "html"
    if not head.strip():
        return "empty"
    return "text"


def read_book(path: Path) -> tuple[RawBook | None, list[Problem]]:
    """Read every sheet of a file; a file-level failure is returned as a problem, never raised."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [problem(name, "cannot-open", detail=str(exc))]
    if not data.strip():
        return None, [problem(name, "empty-file")]
    zip_names = _zip_names(data) if data.startswith(b"PK") else None
    fmt = sniff_format(data[:4096], zip_names)
    try:
        if fmt in ("xlsx", "ods"):
            return _read_calamine(path, data, fmt), []
        if fmt == "ole":
            if ENCRYPTION_MARK in data:
                return None, [problem(name, "encrypted")]
            return _read_calamine(path, data, "xls"), []
        if fmt == "html":
            return RawBook(path, "html", _read_html(decode_text(data))), []
        if b"\x00" in data[:4096]:
            return None, [problem(name, "cannot-open", detail="不是表格文件（内容是二进制数据）")]
        return RawBook(path, "csv", [_read_csv(decode_text(data), path.stem)]), []
    except pc.PasswordError:
        return None, [problem(name, "encrypted")]
    except (pc.CalamineError, zipfile.BadZipFile, csv.Error, ValueError, KeyError, OSError) as exc:
        return None, [problem(name, "cannot-open", detail=_reason(exc, fmt))]


def _reason(exc: Exception, fmt: str) -> str:
    kinds = {
        "xlsx": "Excel 文件",
        "xls": "Excel 97-2003 文件",
        "ods": "ODS 文件",
        "ole": "Excel 97-2003 文件",
    }
    return f"{kinds.get(fmt, '文件')}已损坏或不完整（{type(exc).__name__}: {str(exc)[:120]}）"


def _zip_names(data: bytes) -> list[str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.namelist()
    except zipfile.BadZipFile:
        return None


def decode_text(data: bytes) -> str:
    """BOM, else strict UTF-8, else GB18030; never GB18030 first (it accepts UTF-8 bytes as garbage)."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _read_csv(text: str, name: str) -> RawSheet:
    sample = "\n".join(text.splitlines()[:30])
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    return RawSheet(name=name, rows=rows)


def _read_calamine(path: Path, data: bytes, fmt: str) -> RawBook:
    wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets = []
    for meta in wb.sheets_metadata:
        if str(meta.typ) not in ("SheetTypeEnum.WorkSheet", "WorkSheet"):
            continue
        sheet = wb.get_sheet_by_name(meta.name)
        rows = [list(r) for r in sheet.to_python(skip_empty_area=False)]
        merges = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
        hidden = meta.visible != pc.SheetVisibleEnum.Visible
        sheets.append(RawSheet(meta.name, rows, merges, hidden))
    book = RawBook(path, fmt, sheets)
    if fmt == "xlsx":
        _flag_xlsx_cells(data, book)
    return book


# --- cells calamine reads as blank: error values and formulas saved without a cached result ---------------

_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_ERR_TYPE = re.compile(rb'\bt="e"')
_VALUE = re.compile(rb"<v>(.*?)</v>", re.S)


def _flag_xlsx_cells(data: bytes, book: RawBook) -> None:
    """Mark error cells and uncalculated formulas so they are reported, not read as blank or 0."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        paths = _sheet_xml_paths(zf)
        wbxml = zf.read("xl/workbook.xml") if "xl/workbook.xml" in zf.namelist() else b""
        book.date1904 = re.search(rb'date1904="(1|true)"', wbxml) is not None
        for sheet in book.sheets:
            xml_path = paths.get(sheet.name)
            if xml_path is None or xml_path not in zf.namelist():
                continue
            xml = zf.read(xml_path)
            if b't="e"' in xml or b"<f" in xml:
                sheet.flags = _scan_flags(xml)


def _scan_flags(xml: bytes) -> dict[tuple[int, int], str]:
    flags: dict[tuple[int, int], str] = {}
    for m in _CELL.finditer(xml):
        attrs, body = m.group(1), m.group(2) or b""
        is_error = _ERR_TYPE.search(attrs) is not None
        has_formula = b"<f" in body
        if not is_error and not has_formula:
            continue
        ref = _REF.search(attrs)
        if ref is None:
            continue
        pos = (int(ref.group(2)) - 1, _col_index(ref.group(1).decode()))
        value = _VALUE.search(body)
        if is_error:
            flags[pos] = value.group(1).decode("utf-8", "replace") if value else "#ERROR"
        elif value is None or value.group(1) == b"":
            flags[pos] = "uncalculated"
    return flags


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _sheet_xml_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → part path, from workbook.xml and its relationships."""
    try:
        wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    except KeyError:
        return {}
    targets = {}
    for m in re.finditer(r"<Relationship\b[^>]*>", rels):
        tag = m.group(0)
        rid, target = re.search(r'Id="([^"]+)"', tag), re.search(r'Target="([^"]+)"', tag)
        if rid and target:
            t = target.group(1).lstrip("/")
            targets[rid.group(1)] = t if t.startswith("xl/") else "xl/" + t
    out = {}
    for m in re.finditer(r"<(?:\w+:)?sheet\b[^>]*>", wb):
        tag = m.group(0)
        name, rid = re.search(r'name="([^"]*)"', tag), re.search(r'r:id="([^"]+)"', tag)
        if name and rid and rid.group(1) in targets:
            out[_xml_unescape(name.group(1))] = targets[rid.group(1)]
    return out


def _xml_unescape(s: str) -> str:
    return (
        s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


# --- HTML tables exported by web systems under an .xls name ----------------------------------------------


class _TableParser(HTMLParser):
    """Collects <table> cells with rowspan/colspan turned into merges."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[list[list[str]], list[Merge]]] = []
        self._rows: list[list[str]] | None = None
        self._merges: list[Merge] = []
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._taken: set[tuple[int, int]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows, self._merges, self._taken = [], [], set()
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            a = dict(attrs)
            self._span = (_int(a.get("rowspan")), _int(a.get("colspan")))
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._rows:
            self._place("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self._rows, self._merges))
            self._rows = None

    def _place(self, text: str) -> None:
        assert self._rows is not None
        r = len(self._rows) - 1
        row = self._rows[r]
        c = len(row)
        while (r, c) in self._taken:
            row.append("")
            c += 1
        row.append(text)
        rs, cs = self._span
        row.extend([""] * (cs - 1))
        if rs > 1 or cs > 1:
            self._merges.append((r, c, r + rs - 1, c + cs - 1))
            self._taken.update((r + dr, c + dc) for dr in range(1, rs) for dc in range(cs))


def _int(v: str | None) -> int:
    try:
        return max(1, min(int(v or 1), 1000))
    except ValueError:
        return 1


def _read_html(text: str) -> list[RawSheet]:
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    sheets = []
    for i, (rows, merges) in enumerate(parser.tables):
        if any(any(c for c in r) for r in rows):
            sheets.append(RawSheet(f"表{i + 1}" if len(parser.tables) > 1 else "Sheet1", rows, merges))
    if not sheets and "<table" not in text.lower():
        raise ValueError("不是表格文件（HTML 中没有表格）")
    return sheets
