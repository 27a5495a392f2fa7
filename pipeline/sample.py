"""Sample ledgers as clerks keep them: the rules.md worked example, a messy demo company and a benchmark inbox."""

from __future__ import annotations

import csv
import functools
import html
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Literal

import openpyxl
import xlsxwriter
import xlwt
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

Cell = str | int | float | date | None
Row = list[Cell]
# (first_row, first_col, last_row, last_col), 0-based and inclusive.
Span = tuple[int, int, int, int]
DateStyle = Literal["date", "serial", "iso", "slash", "dot", "cn", "compact", "md"]
MoneyStyle = Literal["number", "plain", "comma", "yen", "yuan", "paren", "fullwidth"]

COMPANY = "宏远机电设备有限公司"
NULL_MARKERS: tuple[str, ...] = ("/", "无", "-", "—")
MONEY_FORMAT = "#,##0.00"
_EXCEL_EPOCH = date(1899, 12, 30)
_FULL_WIDTH = str.maketrans("0123456789,.-", "０１２３４５６７８９，．－")


# ---------------------------------------------------------------------------------------------------------------
# Values as clerks type them
# ---------------------------------------------------------------------------------------------------------------


def excel_serial(day: date) -> int:
    """The Excel serial number of a day (what a date shows as in a column formatted 常规/General)."""
    return (day - _EXCEL_EPOCH).days


def date_text(day: date, style: DateStyle) -> Cell:
    """A day as a clerk typed it: a real date, an Excel serial, or one of the usual text forms."""
    if style == "date":
        return day
    if style == "serial":
        return excel_serial(day)
    y, m, d = day.year, day.month, day.day
    forms = {
        "iso": f"{y}-{m:02d}-{d:02d}",
        "slash": f"{y}/{m}/{d}",
        "dot": f"{y}.{m}.{d}",
        "cn": f"{y}年{m}月{d}日",
        "compact": f"{y}{m:02d}{d:02d}",
        "md": f"{m}月{d}日",
    }
    return forms[style]


def yuan(fen: int) -> int | float:
    """A fen amount as the number a clerk types: whole yuan as an int, else with two decimals."""
    return fen // 100 if fen % 100 == 0 else round(fen / 100, 2)


def wan(fen: int) -> float:
    """A fen amount in 万元 with two decimals (exact when the amount is a multiple of 100 yuan)."""
    return round(fen / 1_000_000, 2)


def money_text(fen: int, style: MoneyStyle) -> Cell:
    """A fen amount as a clerk typed it: a number, or text such as ¥1,200.00, 1200元, (1,200.00), full-width."""
    if style == "number":
        return yuan(fen)
    digits = f"{abs(fen) // 100:,}.{abs(fen) % 100:02d}"
    sign = "-" if fen < 0 else ""
    forms = {
        "plain": sign + digits.replace(",", ""),
        "comma": sign + digits,
        "yen": f"{sign}¥{digits}",
        "yuan": f"{sign}{yuan(abs(fen))}元",
        "paren": f"({digits})" if fen < 0 else digits,
        "fullwidth": (sign + digits).translate(_FULL_WIDTH),
    }
    return forms[style]


# Fixed-date public holidays (元旦, 劳动节, 国庆); the lunar ones move and are left out.
_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), (10, 1), (10, 2), (10, 3), (10, 4), (10, 5), (10, 6), (10, 7)}


def workday(day: date) -> date:
    """The day itself, or the next working day when it falls on a weekend or a fixed public holiday."""
    while day.weekday() >= 5 or (day.month, day.day) in _HOLIDAYS:
        day += timedelta(days=1)
    return day


# ---------------------------------------------------------------------------------------------------------------
# Sheets and the writers for each file format
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Sheet:
    """One worksheet as a clerk lays it out: title lines, one or two header rows, body rows and merged ranges.

    Body rows hold the cells exactly as typed (text dates, money strings, 合计 rows, blank rows, a repeated
    header). ``header_merges`` are in header coordinates, ``body_merges`` in body coordinates; title lines are
    merged across the header width. ``formats`` maps a column to the number format of its numeric cells.
    """

    name: str
    header: list[Row]
    body: list[Row] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    header_merges: list[Span] = field(default_factory=list)
    body_merges: list[Span] = field(default_factory=list)
    formats: dict[int, str] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return max(len(row) for row in self.header)

    @property
    def first_body_row(self) -> int:
        """The 0-based grid row of the first body row."""
        return len(self.titles) + len(self.header)

    def grid(self) -> list[Row]:
        """All rows top to bottom: titles, header rows, body."""
        titles: list[Row] = [[title] for title in self.titles]
        return titles + [list(row) for row in self.header] + [list(row) for row in self.body]

    def grid_merges(self) -> list[Span]:
        """Every merged range in grid coordinates."""
        top = len(self.titles)
        body = self.first_body_row
        titles = [(r, 0, r, self.width - 1) for r in range(top)] if self.width > 1 else []
        heads = [(a + top, b, c + top, d) for a, b, c, d in self.header_merges]
        rows = [(a + body, b, c + body, d) for a, b, c, d in self.body_merges]
        return titles + heads + rows


def cell_text(value: Cell) -> str:
    """A cell as it reads in a text export (CSV, HTML): dates ISO, numbers without a trailing .0."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _display_width(value: Cell) -> int:
    text = cell_text(value).split("\n")[0]
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def column_widths(sheet: Sheet, cap: int = 40) -> list[int]:
    """Column widths a clerk would have dragged to: wide enough for the header and the first rows."""
    widths = [8] * sheet.width
    for row in [*sheet.header, *sheet.body[:30]]:
        for col, value in enumerate(row[: sheet.width]):
            widths[col] = min(cap, max(widths[col], _display_width(value) + 2))
    return widths


def _openpyxl_format(value: Cell, col: int, sheet: Sheet) -> str | None:
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm:ss" if value.time() != datetime.min.time() else "yyyy-mm-dd"
    if isinstance(value, date):
        return "yyyy-mm-dd"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return sheet.formats.get(col)
    return None


def _fill_openpyxl(ws: object, sheet: Sheet) -> None:
    bold, big = Font(bold=True), Font(bold=True, size=14)
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
    header_rows = range(len(sheet.titles), sheet.first_body_row)
    for r, row in enumerate(sheet.grid()):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            cell = ws.cell(row=r + 1, column=c + 1, value=value)  # type: ignore[attr-defined]
            fmt = _openpyxl_format(value, c, sheet)
            if fmt:
                cell.number_format = fmt
            if r < len(sheet.titles):
                cell.font = big
            elif r in header_rows:
                cell.font, cell.alignment = bold, wrap
    for a, b, c, d in sheet.grid_merges():
        ws.merge_cells(start_row=a + 1, start_column=b + 1, end_row=c + 1, end_column=d + 1)  # type: ignore[attr-defined]
    for col, width in enumerate(column_widths(sheet), 1):
        ws.column_dimensions[get_column_letter(col)].width = width  # type: ignore[attr-defined]


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> Path:
    """Write sheets to an .xlsx with openpyxl: real dates get a date format, ``formats`` columns theirs."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        _fill_openpyxl(wb.create_sheet(sheet.name), sheet)
    wb.save(path)
    return path


def _xls_styles() -> dict[str, xlwt.XFStyle]:
    return {
        "date": xlwt.easyxf(num_format_str="YYYY-MM-DD"),
        "head": xlwt.easyxf("font: bold on; align: wrap on, vert centre, horiz centre"),
        "title": xlwt.easyxf("font: bold on, height 280"),
        "plain": xlwt.XFStyle(),
    }


def _xls_style(styles: dict[str, xlwt.XFStyle], value: Cell, r: int, sheet: Sheet) -> xlwt.XFStyle:
    if r < len(sheet.titles):
        return styles["title"]
    if r < sheet.first_body_row:
        return styles["head"]
    return styles["date"] if isinstance(value, date) else styles["plain"]


def _fill_xls(ws: xlwt.Worksheet, sheet: Sheet, styles: dict[str, xlwt.XFStyle]) -> None:
    grid = sheet.grid()
    covered: set[tuple[int, int]] = set()
    for a, b, c, d in sheet.grid_merges():
        value = grid[a][b] if b < len(grid[a]) else None
        ws.write_merge(a, c, b, d, value, _xls_style(styles, value, a, sheet))
        covered.update((r, col) for r in range(a, c + 1) for col in range(b, d + 1))
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value is not None and (r, c) not in covered:
                ws.write(r, c, value, _xls_style(styles, value, r, sheet))
    for col, width in enumerate(column_widths(sheet)):
        ws.col(col).width = 256 * width


def write_xls(path: Path, sheets: Sequence[Sheet]) -> Path:
    """Write sheets to a genuine BIFF8 .xls with xlwt (as old WPS/Excel 2003 ledgers are)."""
    book = xlwt.Workbook(encoding="utf-8")
    styles = _xls_styles()
    for sheet in sheets:
        _fill_xls(book.add_sheet(sheet.name), sheet, styles)
    book.save(str(path))
    return path


def write_csv(path: Path, sheet: Sheet, encoding: str = "gbk") -> Path:
    """Write a sheet as Excel's 另存为 CSV does on a Chinese Windows: GBK, CRLF, title lines kept as rows."""
    with path.open("w", encoding=encoding, newline="", errors="strict") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        for row in sheet.grid():
            writer.writerow([cell_text(value) for value in row])
    return path


def write_html_table(path: Path, sheet: Sheet, charset: str = "utf-8") -> Path:
    """Write a sheet as the HTML table a web system exports under an .xls name (Excel opens it; it is not BIFF)."""
    width = sheet.width
    lines = [
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">',
        f'<head><meta http-equiv="Content-Type" content="text/html; charset={charset}"></head>',
        "<body>",
        '<table border="1" cellspacing="0">',
    ]
    lines += [f'<tr><td colspan="{width}"><b>{html.escape(t)}</b></td></tr>' for t in sheet.titles]
    for row in sheet.header:
        lines.append("<tr>" + "".join(f"<th>{html.escape(cell_text(v))}</th>" for v in row) + "</tr>")
    for row in sheet.body:
        lines.append("<tr>" + "".join(f"<td>{html.escape(cell_text(v))}</td>" for v in row) + "</tr>")
    lines += ["</table>", "</body>", "</html>"]
    path.write_text("\n".join(lines) + "\n", encoding=charset)
    return path


def total_row(label: str, width: int, sums: dict[int, int], label_col: int = 0) -> Row:
    """A 合计 row: ``label`` in ``label_col`` and each summed fen amount (as yuan) in its column."""
    row: Row = [None] * width
    row[label_col] = label
    for col, fen in sums.items():
        row[col] = yuan(fen)
    return row


def merge_down(first: int, last: int, cols: Iterable[int]) -> list[Span]:
    """Body merges of each column in ``cols`` over body rows ``first``..``last`` (a value merged down)."""
    return [(first, col, last, col) for col in cols] if last > first else []


# ---------------------------------------------------------------------------------------------------------------
# The rules.md worked example (as_of 2025-10-31)
# ---------------------------------------------------------------------------------------------------------------

_HUABEI, _DONGFANG, _NANFANG = "华北电力工程有限公司", "东方建设集团", "南方水务有限公司"
_WE_CUSTOMERS: tuple[Row, ...] = (
    ["KH001", _HUABEI, "华北", "张伟", 500000, 60, "王建国", "13811112222"],
    ["KH002", _DONGFANG, "华东", "李娜", 50000, 30, "陈晓东", "021-66668888"],
)
_WE_CONTRACTS: tuple[Row, ...] = (
    ["HT-2025-001", date(2025, 3, 10), _HUABEI, "张伟", 300000, "执行中", "电力电缆"],
    ["HT-2025-002", date(2025, 6, 15), _DONGFANG, "李娜", 120000, "执行中", "高压开关柜"],
    ["HT-2025-003", date(2025, 10, 8), _NANFANG, "李娜", 80000, "执行中", "干式变压器"],
    ["HT-2025-004", date(2025, 10, 20), _HUABEI, "张伟", 50000, "执行中", "控制电缆"],
)
_WE_DELIVERIES: tuple[tuple[str, date, str, int], ...] = (
    ("D1", date(2025, 4, 1), "HT-2025-001", 100000),
    ("D2", date(2025, 7, 20), "HT-2025-001", 150000),
    ("D3", date(2025, 7, 1), "HT-2025-002", 60000),
    ("D4", date(2025, 9, 15), "HT-2025-002", 60000),
    ("D5", date(2025, 10, 25), "HT-2025-003", 30000),
    ("D6", date(2025, 11, 5), "HT-2025-004", 50000),
)
_WE_PAYMENTS: tuple[Row, ...] = (
    ["P1", date(2025, 5, 10), _HUABEI, "HT-2025-001", "张伟", 100000, "银行转账"],
    ["P2", date(2025, 9, 30), _HUABEI, None, "张伟", 50000, "银行转账"],
    ["P3", date(2025, 8, 1), _DONGFANG, "HT-2025-002", "李娜", 40000, "银行转账"],
    ["P4", date(2025, 10, 28), _NANFANG, "HT-2025-003", "李娜", 40000, "银行转账"],
    ["P5", date(2025, 10, 15), _DONGFANG, None, None, 5000, "银行转账"],
)


def _we_customers() -> Sheet:
    header: list[Row] = [["客户编码", "客户名称", "区域", "业务员", "信用额度", "账期天数", "联系人", "电话"]]
    return Sheet("客户档案", header, [list(r) for r in _WE_CUSTOMERS], formats={4: MONEY_FORMAT})


def _we_contracts() -> Sheet:
    header: list[Row] = [["合同编号", "签订日期", "客户名称", "业务员", "合同金额", "合同状态", "产品名称", "备注"]]
    body = [[*r, None] for r in _WE_CONTRACTS]
    return Sheet("合同台账", header, body, titles=["2025年合同台账"], formats={4: MONEY_FORMAT})


def _we_deliveries() -> Sheet:
    contracts = {str(r[0]): r for r in _WE_CONTRACTS}
    header: list[Row] = [["发货单号", "发货日期", "合同编号", "客户名称", "业务员", "发货金额", "类型"]]
    body: list[Row] = [
        [no, day, ht, contracts[ht][2], contracts[ht][3], amount, "发货"] for no, day, ht, amount in _WE_DELIVERIES
    ]
    return Sheet("发货台账", header, body, titles=["2025年发货台账"], formats={5: MONEY_FORMAT})


def _we_payments() -> Sheet:
    header: list[Row] = [["凭证号", "回款日期", "客户名称", "合同编号", "业务员", "回款金额", "回款方式"]]
    return Sheet("回款台账", header, [list(r) for r in _WE_PAYMENTS], formats={5: MONEY_FORMAT})


def _we_targets() -> Sheet:
    header: list[Row] = [["业务员", "年度", "月份", "销售目标", "回款目标", "新客户目标"]]
    body: list[Row] = [["张伟", 2025, 10, 100000, 80000, 1], ["李娜", 2025, 10, 60000, 50000, 1]]
    return Sheet("销售目标", header, body, formats={3: MONEY_FORMAT, 4: MONEY_FORMAT})


def _we_events() -> Sheet:
    header: list[Row] = [["日期", "业务员", "事项", "扣款金额", "说明"]]
    body: list[Row] = [
        [date(2025, 10, 12), "张伟", "客户投诉", None, "客户反映发货资料不全"],
        [date(2025, 10, 18), "李娜", "未按时提交周报", None, "第42周周报未交"],
    ]
    return Sheet("考核记录", header, body)


def write_worked_example(inbox: Path) -> list[Path]:
    """Write the rules.md worked example (as_of 2025-10-31) as six reasonably clean .xlsx files in ``inbox``."""
    inbox.mkdir(parents=True, exist_ok=True)
    books = {
        "客户档案.xlsx": _we_customers(),
        "合同台账.xlsx": _we_contracts(),
        "发货台账.xlsx": _we_deliveries(),
        "回款台账.xlsx": _we_payments(),
        "销售目标.xlsx": _we_targets(),
        "考核记录.xlsx": _we_events(),
    }
    return [write_xlsx(inbox / name, [sheet]) for name, sheet in books.items()]


# ---------------------------------------------------------------------------------------------------------------
# The demo company: a simulated year and a bit of business
# ---------------------------------------------------------------------------------------------------------------

_TEAM: dict[str, tuple[str, ...]] = {"华北": ("张伟", "刘洋"), "华东": ("李娜", "王强"), "华南": ("赵磊",), "西南": ("陈静",)}
_OFFICE_BOOK = ("张伟", "刘洋", "李娜", "王强")  # their payments go into the office's monthly workbook
_OWN_BOOKS = ("赵磊", "陈静")  # these two keep their own payment file
_VOID = ("作废", "已解除")

# name, region, 简称 (typed by clerks), 曾用名 (still on the bank's side), behaviour, new customer in `year`
_CUSTOMERS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("华北电力工程有限公司", "华北", "华北电力", "", "slow", False),
    ("北京城建机电安装有限公司", "华北", "北京城建机电", "", "good", False),
    ("天津滨海供电工程有限公司", "华北", "", "", "good", False),
    ("河北冀能电气设备有限公司", "华北", "冀能电气", "", "good", False),
    ("山西晋源煤业集团有限公司", "华北", "晋源煤业", "", "bad", False),
    ("石家庄市政建设有限公司", "华北", "", "", "good", False),
    ("内蒙古蒙西电力建设有限公司", "华北", "", "", "slow", False),
    ("唐山钢铁集团物资供应有限公司", "华北", "唐钢物资", "", "good", False),
    ("保定新能源科技有限公司", "华北", "", "", "good", True),
    ("太原重工配套有限公司", "华北", "", "", "good", False),
    ("东方建设集团有限公司", "华东", "", "东方建设集团", "slow", False),
    ("上海浦江电气工程有限公司", "华东", "浦江电气", "", "good", False),
    ("江苏苏源电力安装有限公司", "华东", "苏源电力", "江苏苏源电力工程公司", "good", False),
    ("浙江恒信建设集团有限公司", "华东", "恒信建设", "", "good", False),
    ("南京金陵机电工程有限公司", "华东", "", "", "good", False),
    ("杭州滨江置业有限公司", "华东", "", "", "bad", False),
    ("安徽皖能建设有限公司", "华东", "", "", "good", False),
    ("苏州工业园区能源服务有限公司", "华东", "园区能源", "", "good", True),
    ("宁波港建工程有限公司", "华东", "", "", "good", False),
    ("山东鲁信电力工程有限公司", "华东", "", "", "slow", False),
    ("合肥城投建设有限公司", "华东", "", "", "good", True),
    ("广州粤电工程有限公司", "华南", "粤电工程", "", "good", False),
    ("深圳鹏城建设集团有限公司", "华南", "鹏城建设", "", "slow", False),
    ("佛山顺德电器安装有限公司", "华南", "", "", "good", False),
    ("东莞华通电子有限公司", "华南", "", "", "good", False),
    ("广西桂能电力有限公司", "华南", "", "", "good", False),
    ("海南椰城市政工程有限公司", "华南", "", "", "bad", False),
    ("珠海横琴开发建设有限公司", "华南", "", "", "good", True),
    ("厦门海沧建设有限公司", "华南", "", "", "good", False),
    ("福建闽电工程有限公司", "华南", "", "", "good", True),
    ("汕头潮南水务有限公司", "华南", "", "", "good", False),
    ("四川蜀能电力工程有限公司", "西南", "蜀能电力", "", "good", False),
    ("成都天府建设集团有限公司", "西南", "", "成都天府建工有限公司", "good", False),
    ("重庆两江机电安装有限公司", "西南", "两江机电", "", "slow", False),
    ("云南滇中水务有限公司", "西南", "", "", "good", False),
    ("贵州黔电建设有限公司", "西南", "", "", "good", True),
    ("昆明市政工程有限公司", "西南", "", "", "good", False),
    ("绵阳科技城建设有限公司", "西南", "", "", "good", True),
    ("遵义化工集团有限公司", "西南", "", "", "slow", False),
    ("西藏高原能源有限公司", "西南", "", "", "good", True),
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("建国", "晓东", "海涛", "丽华", "志强", "秀英", "明", "静", "磊", "军", "芳", "伟", "红梅", "国庆", "永刚")
# Monthly weights of signing and of targets: Chinese New Year is slow, the year-end is busy.
_SEASON = (5, 4, 8, 9, 9, 10, 8, 8, 10, 10, 11, 12)
_CARRIERS = ("德邦物流", "顺丰快运", "中铁快运", "安能物流", "宏达货运", "自提")


@dataclass(frozen=True)
class _Product:
    name: str
    spec: str
    unit: str
    price: tuple[int, int, int]  # yuan: low, high, step
    qty: tuple[int, int, int]  # low, high, step (a shipment is a multiple of step)
    group: str


_PRODUCTS: tuple[_Product, ...] = (
    _Product("电力电缆", "YJV22-8.7/15kV-3×240", "米", (300, 420, 1), (500, 4000, 100), "电缆"),
    _Product("电力电缆", "YJV-0.6/1kV-4×185+1×95", "米", (160, 240, 1), (500, 5000, 100), "电缆"),
    _Product("控制电缆", "KVVP-450/750V-10×1.5", "米", (16, 28, 1), (2000, 10000, 500), "电缆"),
    _Product("油浸式变压器", "S13-M-1000/10", "台", (118000, 152000, 100), (1, 4, 1), "变压器"),
    _Product("干式变压器", "SCB13-1250/10", "台", (176000, 228000, 100), (1, 3, 1), "变压器"),
    _Product("箱式变电站", "YBM-630/10", "台", (258000, 336000, 100), (1, 3, 1), "变压器"),
    _Product("高压开关柜", "KYN28A-12", "面", (42000, 58000, 100), (2, 12, 1), "开关柜"),
    _Product("低压开关柜", "GCS-0.4", "面", (18000, 26000, 100), (2, 16, 1), "开关柜"),
    _Product("环网柜", "XGN15-12", "面", (30000, 40000, 100), (2, 8, 1), "开关柜"),
)


@dataclass
class _Customer:
    code: str
    name: str
    region: str
    short: str
    former: str
    behaviour: str  # good | slow | bad
    new: bool
    salesperson: str
    terms: int
    contact: str
    phone: str
    weight: float
    grade: str = "B"
    stop: date | None = None  # a bad payer pays nothing after this day
    since: date | None = None  # 首次合作日期
    credit: int = 0  # fen

    def aliases(self) -> str:
        return "、".join(a for a in (self.short, self.former) if a)


@dataclass
class _Line:
    contract: str
    line: int
    signed: date
    customer: _Customer
    product: _Product
    qty: int
    price: int  # fen per unit
    terms: int
    advance: float  # share of the contract paid on signing
    pay_terms: str
    due: date | None  # 交货日期
    status: str = "执行中"
    remark: str = ""

    @property
    def amount(self) -> int:
        return self.qty * self.price


@dataclass
class _Delivery:
    no: str
    day: date
    customer: _Customer
    contract: str
    product: _Product
    qty: int
    price: int
    carrier: str
    signed_on: date | None
    kind: str = "发货"
    returned: int = 0  # fen later returned against this delivery
    billable: bool = True
    remark: str = ""

    @property
    def amount(self) -> int:
        return self.qty * self.price


@dataclass
class _Invoice:
    code: str
    no: str
    day: date
    customer: _Customer
    contract: str
    amount: int
    kind: str
    remark: str = ""

    @property
    def tax(self) -> int:
        sign = -1 if self.amount < 0 else 1
        return sign * ((abs(self.amount) * 13 + 56) // 113)


@dataclass
class _Payment:
    day: date
    customer: _Customer
    contract: str
    amount: int
    method: str
    linked: bool
    note: str = ""
    side: str = "both"  # both | sales (财务未到账) | finance (销售未登记)
    bank_day: date | None = None
    serial: str = ""


@dataclass
class _Company:
    year: int
    cutoff: date
    customers: list[_Customer]
    lines: list[_Line]
    deliveries: list[_Delivery] = field(default_factory=list)
    invoices: list[_Invoice] = field(default_factory=list)
    payments: list[_Payment] = field(default_factory=list)

    def contracts(self, year: int | None = None) -> dict[str, list[_Line]]:
        """Contract number → its lines, in signing order (optionally only those signed in ``year``)."""
        out: dict[str, list[_Line]] = {}
        for line in self.lines:
            if year is None or line.signed.year == year:
                out.setdefault(line.contract, []).append(line)
        return out


def _rand_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _phone(rng: random.Random, landline: bool) -> str:
    if landline:
        return f"0{rng.choice((10, 21, 22, 28, 311, 351, 571, 755))}-{rng.randint(60000000, 89999999)}"
    return f"1{rng.choice((38, 39, 58, 59, 86, 36))}{rng.randint(10000000, 99999999)}"


def _make_customers(rng: random.Random, year: int) -> list[_Customer]:
    seen: dict[str, int] = defaultdict(int)
    customers = []
    for i, (name, region, short, former, behaviour, new) in enumerate(_CUSTOMERS, 1):
        team = _TEAM[region]
        salesperson = team[seen[region] % len(team)]
        seen[region] += 1
        contact = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        customer = _Customer(
            code=f"KH{i:03d}", name=name, region=region, short=short, former=former, behaviour=behaviour,
            new=new, salesperson=salesperson, terms=rng.choice((30, 60, 60, 90)), contact=contact,
            phone=_phone(rng, rng.random() < 0.3), weight=rng.lognormvariate(0, 0.5) * (1.6 if behaviour == "bad" else 1),
        )
        customers.append(customer)
    stops = {"山西晋源煤业集团有限公司": date(year - 1, 7, 1), "杭州滨江置业有限公司": date(year, 4, 20),
             "海南椰城市政工程有限公司": date(year, 7, 15)}
    for customer in customers:
        customer.stop = stops.get(customer.name)
    return customers


def _signing_days(rng: random.Random, year: int, count: int, last: date) -> list[date]:
    days: list[date] = []
    while len(days) < count:
        month = rng.choices(range(1, 13), _SEASON)[0]
        day = workday(date(year, month, rng.randint(1, 28)))
        if day <= last:
            days.append(day)
    return sorted(days)


def _pay_terms(rng: random.Random, terms: int) -> tuple[float, str]:
    roll = rng.random()
    if roll < 0.04:
        return 1.0, "款到发货"
    if roll < 0.18:
        return 0.3, f"预付30%，货到{terms}天付清"
    return 0.0, rng.choice((f"货到{terms}天付款", f"月结{terms}天", f"验收合格后{terms}天内付清"))


def _contract_lines(rng: random.Random, no: str, signed: date, customer: _Customer) -> list[_Line]:
    group = rng.choice(("电缆", "电缆", "变压器", "开关柜"))
    pool = [p for p in _PRODUCTS if p.group == group]
    count = rng.choices((1, 2, 3), (75, 18, 7))[0]
    advance, pay_terms = _pay_terms(rng, customer.terms)
    due = signed + timedelta(days=rng.randint(25, 60)) if rng.random() < 0.8 else None
    lines = []
    for n, product in enumerate(rng.sample(pool, min(count, len(pool))), 1):
        lo, hi, step = product.qty
        price = rng.randrange(product.price[0], product.price[1] + 1, product.price[2]) * 100
        lines.append(_Line(no, n, signed, customer, product, rng.randrange(lo, hi + 1, step), price,
                           customer.terms, advance, pay_terms, due))
    return lines


def _appetite(customer: _Customer, day: date) -> float:
    """How likely the customer signs on ``day``: nobody sells on to a customer who stopped paying."""
    if customer.stop and day > customer.stop + timedelta(days=60):
        return 0.0
    return customer.weight * (1.5 if customer.new else 1.0)


def _anchor(customers: list[_Customer], day: date, anchored: set[str]) -> _Customer | None:
    """A bad payer gets one contract shortly before it stops paying, so that its debt really goes bad."""
    for c in customers:
        if c.stop and c.name not in anchored and c.stop - timedelta(days=90) <= day <= c.stop - timedelta(days=20):
            anchored.add(c.name)
            return c
    return None


def _make_contracts(rng: random.Random, customers: list[_Customer], year: int, cutoff: date) -> list[_Line]:
    lines: list[_Line] = []
    anchored: set[str] = set()
    for y, count in ((year - 1, 78), (year, 122)):
        pool = [c for c in customers if y == year or not c.new]
        days = _signing_days(rng, y, count, cutoff - timedelta(days=3))
        for n, signed in enumerate(days, 1):
            customer = _anchor(customers, signed, anchored) or rng.choices(pool, [_appetite(c, signed) for c in pool])[0]
            no = f"HT-{y}-{n:03d}" if y == year else f"{y % 1000:03d}{n:03d}"  # the old system's numbers: 024001
            lines += _contract_lines(rng, no, signed, customer)
    _mark_void(rng, lines, year)
    return lines


def _mark_void(rng: random.Random, lines: list[_Line], year: int) -> None:
    numbers = list(dict.fromkeys(line.contract for line in lines))
    current = [n for n in numbers if n.startswith(f"HT-{year}")]
    chosen = {**dict.fromkeys(rng.sample(current, 4), "作废"), **dict.fromkeys(rng.sample(current, 2), "已解除")}
    chosen[rng.choice(numbers[:60])] = "作废"
    changed = rng.choice([n for n in current if n not in chosen])
    for line in lines:
        if line.contract in chosen:
            line.status = chosen[line.contract]
            line.remark = "客户取消订单" if line.status == "作废" else "双方协商解除"
        elif line.contract == changed:
            line.status, line.remark = "已变更", f"{year}年补充协议调整数量"


def _split_qty(rng: random.Random, qty: int, step: int, parts: int) -> list[int]:
    units = qty // step
    parts = max(1, min(parts, units))
    cuts = sorted(rng.sample(range(1, units), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, units]
    return [(b - a) * step for a, b in zip(bounds, bounds[1:], strict=False)]


def _ship_line(rng: random.Random, line: _Line, cutoff: date) -> list[_Delivery]:
    if line.status in _VOID:
        return []
    parts = _split_qty(rng, line.qty, line.product.qty[2], rng.choice((1, 1, 2, 2, 3)))
    day = workday(line.signed + timedelta(days=rng.randint(10, 45)))
    ships = []
    for qty in parts:
        if day > cutoff:
            break
        carrier = rng.choice(_CARRIERS)
        signed_on = day + timedelta(days=rng.randint(1, 5))
        ships.append(_Delivery("", day, line.customer, line.contract, line.product, qty, line.price, carrier,
                               signed_on if signed_on <= cutoff else None))
        day = workday(day + timedelta(days=rng.randint(10, 40)))
    return ships


def _number_deliveries(deliveries: list[_Delivery], prefix: str) -> None:
    counters: dict[int, int] = defaultdict(int)
    for d in deliveries:
        counters[d.day.year] += 1
        d.no = f"{prefix}{d.day.year}{counters[d.day.year]:04d}"


def _make_returns(rng: random.Random, deliveries: list[_Delivery], year: int, cutoff: date) -> list[_Delivery]:
    pool = [d for d in deliveries if d.day.year == year and d.day < cutoff - timedelta(days=60)
            and d.qty >= 2 * d.product.qty[2]]
    returns = []
    for orig in rng.sample(pool, 2):
        step = orig.product.qty[2]
        day = workday(orig.day + timedelta(days=rng.randint(5, 25)))
        back = _Delivery("", day, orig.customer, orig.contract, orig.product, -step, orig.price, "自提", day,
                         kind="退货", remark=f"质量问题退货，原单{orig.no}")
        orig.returned += step * orig.price
        returns.append(back)
    _number_deliveries(returns, "TH")
    return returns


def _make_slips(rng: random.Random, lines: list[_Line], deliveries: list[_Delivery], year: int) -> list[_Delivery]:
    """A clerk's data slips: an over-delivery (补发 beyond the contract) and a delivery naming no real contract."""
    shipped: dict[tuple[str, str], int] = defaultdict(int)
    for d in deliveries:
        shipped[(d.contract, d.product.spec)] += d.qty
    last_day: dict[str, date] = {}
    for d in deliveries:
        last_day[d.contract] = max(d.day, last_day.get(d.contract, d.day))
    full = [ln for ln in lines if ln.signed.year == year and ln.product.unit != "米" and ln.status not in _VOID
            and shipped[(ln.contract, ln.product.spec)] >= ln.qty and last_day[ln.contract].month <= 9]
    line = rng.choice(full)
    n_year = sum(d.day.year == year for d in deliveries)
    extra_day = workday(last_day[line.contract] + timedelta(days=12))
    over = _Delivery(f"FH{year}{n_year + 1:04d}", extra_day, line.customer, line.contract, line.product, 1,
                     line.price, "德邦物流", extra_day + timedelta(days=2), billable=False, remark="补发")
    other = rng.choice([ln for ln in lines if ln.signed.year == year and ln.status not in _VOID])
    n_current = len({ln.contract for ln in lines if ln.signed.year == year})
    ghost_day = workday(date(year, 9, 10))
    ghost = _Delivery(f"FH{year}{n_year + 2:04d}", ghost_day, other.customer,
                      f"HT-{year}-{n_current + 37:03d}", other.product, other.product.qty[2], other.price,
                      "顺丰快运", ghost_day + timedelta(days=3), billable=False)
    return [over, ghost]


def _make_deliveries(rng: random.Random, lines: list[_Line], year: int, cutoff: date) -> list[_Delivery]:
    regular = sorted((d for line in lines for d in _ship_line(rng, line, cutoff)), key=lambda d: d.day)
    _number_deliveries(regular, "FH")
    returns = _make_returns(rng, regular, year, cutoff)
    slips = _make_slips(rng, lines, regular, year)
    return sorted(regular + returns + slips, key=lambda d: d.day)


def _invoice_number(year: int, seq: int) -> tuple[str, str]:
    """(发票代码, 发票号码): paper invoices before 2025 carry a code and an 8-digit number with leading zeros;
    数电票 from 2025 on have no code and a 20-digit number. Both must stay text."""
    if year < 2025:
        return f"1100{year % 100:02d}2130", f"{seq:08d}"
    return "", f"{year % 100:02d}117000{seq:012d}"


def _make_invoices(rng: random.Random, deliveries: list[_Delivery], year: int, cutoff: date) -> list[_Invoice]:
    pending = [d for d in deliveries if d.billable and d.kind == "发货" and d.day.year == year
               and d.day < cutoff - timedelta(days=60)]
    never = {id(d) for d in rng.sample(pending, 2)}  # 已发货未开票: forgotten by the clerk
    red_for = next(d for d in deliveries if d.kind == "退货")
    seqs = {y: rng.randint(1_000_000, 4_000_000) for y in (year - 1, year)}
    invoices = []
    for d in deliveries:
        if not d.billable or id(d) in never or (d.kind == "退货" and d is not red_for):
            continue
        day = workday(d.day + timedelta(days=rng.randint(0, 20)))
        if day > cutoff:
            continue
        kind = rng.choice(("专票", "专票", "专票", "普票")) if day.year < year else rng.choice(("专票", "电子"))
        remark = f"红字发票，冲{d.remark[-12:]}" if d.kind == "退货" else ""
        invoices.append(_Invoice("", "", day, d.customer, d.contract, d.amount, kind, remark))
    invoices.sort(key=lambda i: i.day)
    for inv in invoices:  # numbers run in issue order
        seqs[inv.day.year] += rng.randint(1, 40)
        inv.code, inv.no = _invoice_number(inv.day.year, seqs[inv.day.year])
    return invoices


def _instalments(rng: random.Random, behaviour: str, ship_day: date, due: date, owed: int) -> list[tuple[date, int]]:
    if behaviour == "good":
        day = max(ship_day + timedelta(days=5), due + timedelta(days=rng.randint(-15, 20)))
        return [(workday(day), owed)]
    day = workday(due + timedelta(days=rng.randint(20, 120)))
    if rng.random() < 0.35 and owed >= 2_000_000:
        half = owed // 200 * 100  # a round half, to the yuan
        return [(day, half), (workday(day + timedelta(days=rng.randint(45, 120))), owed - half)]
    return [(day, owed)]


def _method(rng: random.Random, amount: int) -> str:
    return "承兑汇票" if amount >= 5_000_000 and rng.random() < 0.15 else "银行转账"


def _pay_contract(rng: random.Random, lines: list[_Line], ships: list[_Delivery], cutoff: date) -> list[_Payment]:
    first, customer = lines[0], lines[0].customer
    plan: list[tuple[date, int, str]] = []
    paid = 0
    if first.advance:
        paid = round(sum(ln.amount for ln in lines) * first.advance / 100) * 100
        plan.append((workday(first.signed + timedelta(days=rng.randint(2, 10))), paid, "预付款"))
    delivered = 0
    for ship in sorted(ships, key=lambda d: d.day):
        delivered += ship.amount - ship.returned
        owed = delivered - paid
        if owed > 0:
            due = ship.day + timedelta(days=first.terms)
            plan += [(day, amount, "") for day, amount in _instalments(rng, customer.behaviour, ship.day, due, owed)]
            paid += owed
    payments = []
    for day, amount, note in plan:
        if day <= cutoff and (customer.stop is None or day <= customer.stop):
            linked = bool(note) or rng.random() < 0.85
            payments.append(_Payment(day, customer, first.contract, amount, _method(rng, amount), linked, note))
    return payments


def _make_payments(rng: random.Random, company: _Company) -> list[_Payment]:
    ships: dict[str, list[_Delivery]] = defaultdict(list)
    for d in company.deliveries:
        if d.billable and d.kind == "发货":
            ships[d.contract].append(d)
    payments = []
    for no, lines in company.contracts().items():
        if lines[0].status not in _VOID:
            payments += _pay_contract(rng, lines, ships[no], company.cutoff)
    return sorted(payments, key=lambda p: p.day)


def _bank_shift(rng: random.Random) -> int:
    return rng.choices((0, 1, -1, 2, -2, 3), (55, 15, 12, 8, 6, 4))[0]


def _split_sides(rng: random.Random, payments: list[_Payment], year: int, cutoff: date) -> None:
    """Finance sees the bank a few days apart from sales; a few payments are only on one side."""
    late = [p for p in payments if p.day > cutoff - timedelta(days=20) and not p.note]
    for p in rng.sample(late, min(3, len(late))):
        p.side, p.method, p.note = "sales", "承兑汇票", "票据未交财务"
    current = [p for p in payments if p.day.year == year and p.side == "both" and p.day.month <= 10]
    for p in rng.sample(current, 3):
        p.side = "finance"
    serial = {y: rng.randint(10_000_000, 30_000_000) for y in (year - 1, year)}
    for p in payments:
        bank_day = min(cutoff, workday(p.day + timedelta(days=_bank_shift(rng))))
        if abs((bank_day - p.day).days) > 3:  # a weekend or holiday in between: keep within the tolerance
            bank_day = p.day
        p.bank_day = bank_day
        serial[bank_day.year] += rng.randint(1, 900)
        p.serial = f"{bank_day:%Y%m%d}{serial[bank_day.year]:08d}"


def _settle_statuses(company: _Company) -> None:
    shipped: dict[tuple[str, int], int] = defaultdict(int)
    line_of = {(ln.contract, ln.product.spec): ln.line for ln in company.lines}
    for d in company.deliveries:
        shipped[(d.contract, line_of.get((d.contract, d.product.spec), 0))] += d.qty
    paid: dict[str, int] = defaultdict(int)
    for p in company.payments:
        paid[p.contract] += p.amount
    for no, lines in company.contracts().items():
        done = all(shipped[(no, ln.line)] >= ln.qty for ln in lines)
        owed = sum(ln.amount for ln in lines)
        if lines[0].status == "执行中" and done and paid[no] >= owed:
            for ln in lines:
                ln.status = "已完成"


def _balances(company: _Company) -> dict[str, int]:
    balance: dict[str, int] = defaultdict(int)
    for d in company.deliveries:
        balance[d.customer.name] += d.amount
    for p in company.payments:
        balance[p.customer.name] -= p.amount
    return balance


def _set_credit_limits(rng: random.Random, company: _Company) -> None:
    """Limits comfortably above what each customer owes, except two slow payers who are over theirs."""
    balance = _balances(company)
    laggards = sorted((c for c in company.customers if c.behaviour != "good"), key=lambda c: -balance[c.name])
    over = {c.name for c in laggards[:2]}
    for c in company.customers:
        owed = max(balance[c.name], 0)
        if c.name in over:
            c.credit = max(10_000_000, owed * 6 // 10 // 10_000_000 * 10_000_000)
        else:
            c.credit = (owed * 3 // 2 + 30_000_000) // 10_000_000 * 10_000_000
        c.grade = "A" if c.weight > 1.3 else ("C" if c.behaviour == "bad" else "B")


def _set_first_dates(rng: random.Random, company: _Company) -> None:
    first: dict[str, date] = {}
    for line in company.lines:
        first.setdefault(line.customer.name, line.signed)
    year = company.year
    for c in company.customers:
        if c.new:
            c.since = first.get(c.name)
        else:
            c.since = _rand_day(rng, date(year - 14, 1, 1), date(year - 2, 12, 31))


def _simulate(rng: random.Random, year: int) -> _Company:
    cutoff = date(year, 11, 25)
    customers = _make_customers(rng, year)
    company = _Company(year, cutoff, customers, _make_contracts(rng, customers, year, cutoff))
    company.deliveries = _make_deliveries(rng, company.lines, year, cutoff)
    company.invoices = _make_invoices(rng, company.deliveries, year, cutoff)
    company.payments = _make_payments(rng, company)
    _split_sides(rng, company.payments, year, cutoff)
    _settle_statuses(company)
    _set_credit_limits(rng, company)
    _set_first_dates(rng, company)
    return company


# ---------------------------------------------------------------------------------------------------------------
# The demo company's files, in the shapes clerks keep them
# ---------------------------------------------------------------------------------------------------------------


def _typed(rng: random.Random, customer: _Customer, day: date | None = None, year: int = 0) -> str:
    """The customer's name as a clerk types it: mostly the full name, sometimes the 简称, the 曾用名 in old rows."""
    if customer.former and (day is None or day.year < year) and rng.random() < 0.5:
        return customer.former
    if customer.short and rng.random() < 0.3:
        return customer.short
    return customer.name


def _typo_year(day: date) -> str:
    """A date with a digit of the year lost (2025-7-15 → 205-7-15)."""
    year = str(day.year)
    return f"{year[:2]}{year[3:]}-{day.month}-{day.day}"


def _customers_book(rng: random.Random, company: _Company) -> list[Sheet]:
    header: list[Row] = [["客户编码", "客户名称", "简称/曾用名", "客户等级", "区域", "业务员", "信用额度", "账期天数",
                          "首次合作日期", "联系人", "电话", "备注"]]
    body: list[Row] = []
    for c in company.customers:
        phone: Cell = float(c.phone) if c.phone.isdigit() and rng.random() < 0.7 else c.phone
        aliases: Cell = c.aliases() or rng.choice(("/", "无", None, None))
        remark: Cell = "新客户" if c.new else rng.choice((None, None, "-", "长期合作", "需先款后货"))
        body.append([c.code, c.name, aliases, c.grade, c.region, c.salesperson, yuan(c.credit), c.terms,
                     c.since or "—", c.contact, phone, remark])
    titles = [f"{COMPANY} 客户档案", f"更新日期：{company.year}年11月20日"]
    return [Sheet("客户档案", header, body, titles=titles, formats={6: MONEY_FORMAT})]


_CONTRACT_TOP: Row = ["序号", "合同信息", None, "客户名称", "业务员", "区域", "行号", "产品名称", "规格型号", "数量",
                      "单价", "合同金额", "付款方式", "交货日期", "合同状态", "备注"]
_CONTRACT_MERGED_DOWN = (0, 1, 2, 3, 4, 5, 12, 14)  # the contract's own fields span its product lines


def _contract_rows(rng: random.Random, seq: int, lines: list[_Line], year: int) -> list[Row]:
    first = lines[0]
    signed = date_text(first.signed, rng.choice(("date",) * 7 + ("cn",) * 3))
    name = _typed(rng, first.customer, first.signed, year)
    rows: list[Row] = []
    for ln in lines:
        remark = ln.remark or rng.choice((None, None, None, "无", "-", "含安装调试", "质保两年"))
        rows.append([seq, ln.contract, signed, name, first.customer.salesperson, first.customer.region, ln.line,
                     ln.product.name, ln.product.spec, ln.qty, yuan(ln.price), yuan(ln.amount), ln.pay_terms,
                     ln.due or "/", ln.status, remark])
    return rows


def _contracts_current(rng: random.Random, company: _Company) -> Sheet:
    year = company.year
    sub: Row = [None] * len(_CONTRACT_TOP)
    sub[1], sub[2] = "合同编号", "签订日期"
    merges = [(0, 1, 0, 2)] + [(0, c, 1, c) for c in range(len(_CONTRACT_TOP)) if c not in (1, 2)]
    body: list[Row] = []
    body_merges: list[Span] = []
    for seq, lines in enumerate(company.contracts(year).values(), 1):
        start = len(body)
        body += _contract_rows(rng, seq, lines, year)
        body_merges += merge_down(start, len(body) - 1, _CONTRACT_MERGED_DOWN)
    body.append(total_row("合计", len(_CONTRACT_TOP), {11: sum(ln.amount for ln in company.lines if ln.signed.year == year)}))
    titles = [f"{COMPANY}{year}年销售合同台账", f"打印日期：{year}年11月26日"]
    return Sheet(f"{year}年", [_CONTRACT_TOP, sub], body, titles, merges, body_merges,
                 {10: MONEY_FORMAT, 11: MONEY_FORMAT})


def with_repeated_header(body: list[Row], header: Row, every: int) -> list[Row]:
    """Body rows with the header printed again every ``every`` rows (a sheet set up for printing)."""
    out: list[Row] = []
    for i, row in enumerate(body):
        if i and i % every == 0:
            out.append(list(header))
        out.append(row)
    return out


def _contracts_previous(rng: random.Random, company: _Company) -> Sheet:
    year = company.year - 1
    header: Row = ["合同编号", "签订日期", "客户名称", "业务员", "产品名称", "规格型号", "数量", "单价(元)",
                   "合同金额(万元)", "付款条件", "合同状态", "备注"]
    body: list[Row] = []
    for lines in company.contracts(year).values():
        name = _typed(rng, lines[0].customer, lines[0].signed, company.year)
        for ln in lines:
            body.append([ln.contract, excel_serial(ln.signed), name, ln.customer.salesperson, ln.product.name,
                         ln.product.spec, ln.qty, yuan(ln.price), wan(ln.amount), ln.pay_terms, ln.status,
                         ln.remark or None])
    body = with_repeated_header(body, header, 40)
    return Sheet(f"{year}年", [header], body, formats={7: MONEY_FORMAT, 8: "0.00"})


def _contracts_book(rng: random.Random, company: _Company) -> list[Sheet]:
    return [_contracts_current(rng, company), _contracts_previous(rng, company)]


_DELIVERY_HEADER: Row = ["序号", "发货日期", "发货单号", "合同编号", "客户名称", "业务员", "产品名称", "规格型号", "数量",
                         "单价", "发货\n金额", "类型", "签收日期", "承运单位", "备注"]


def _delivery_slips(company: _Company) -> dict[int, str]:
    """Deliveries the clerk typed wrong: id → what went wrong (bad-date, no-amount, misspelt)."""
    regular = [d for d in company.deliveries if d.kind == "发货" and d.billable and d.day.year == company.year]
    bad_date = next(d for d in regular if d.day.month == 5)
    no_amount = next(d for d in regular if d.day.month == 8)
    huabei = [d for d in regular if d.customer.name == _CUSTOMERS[0][0] and d not in (bad_date, no_amount)]
    misspelt = huabei[0] if huabei else next(d for d in regular if d.day.month == 3)
    return {id(bad_date): "bad-date", id(no_amount): "no-amount", id(misspelt): "misspelt"}


def _delivery_row(rng: random.Random, seq: int, d: _Delivery, slip: str) -> Row:
    day = date_text(d.day, "dot" if rng.random() < 0.8 else "date")
    amount = money_text(d.amount, "paren") if d.kind == "退货" else yuan(d.amount)
    name = _typed(rng, d.customer)
    if slip == "bad-date":
        day = f"{d.day.year}-13-45"
    elif slip == "no-amount":
        amount = None
    elif slip == "misspelt":
        name = d.customer.name[:-1]
    remark = d.remark or rng.choice((None, None, None, "/"))
    return [seq, day, d.no, d.contract, name, d.customer.salesperson, d.product.name, d.product.spec, d.qty,
            yuan(d.price), amount, d.kind, d.signed_on or "—", d.carrier, remark]


def _deliveries_current(rng: random.Random, company: _Company) -> Sheet:
    year, width = company.year, len(_DELIVERY_HEADER)
    slips = _delivery_slips(company)
    body: list[Row] = [["填写说明：日期格式为2025.3.5或2025-03-05；金额单位为元；退货的数量、金额填负数"]]
    seq = 0
    for month in range(1, company.cutoff.month + 1):
        rows = [d for d in company.deliveries if d.day.year == year and d.day.month == month]
        for d in rows:
            seq += 1
            body.append(_delivery_row(rng, seq, d, slips.get(id(d), "")))
        counted = sum(d.amount for d in rows if slips.get(id(d)) != "no-amount")
        body += [total_row("本月合计", width, {10: counted}), []]
    titles = [f"{COMPANY} {year}年发货台账", f"打印日期：{year}年11月26日"]
    return Sheet(f"{year}年", [_DELIVERY_HEADER], body, titles, body_merges=[(0, 0, 0, width - 1)],
                 formats={9: MONEY_FORMAT, 10: MONEY_FORMAT})


def _deliveries_previous(rng: random.Random, company: _Company) -> Sheet:
    year = company.year - 1
    header: Row = ["日期", "单号", "合同号", "客户", "产品", "规格", "数量", "金额", "承运单位", "签收日期"]
    rows = [d for d in company.deliveries if d.day.year == year]
    body: list[Row] = [[d.day, d.no, d.contract, _typed(rng, d.customer, d.day, company.year), d.product.name,
                        d.product.spec, d.qty, yuan(d.amount), d.carrier, d.signed_on] for d in rows]
    body = with_repeated_header(body, header, 40)
    body.append(total_row("合计", len(header), {7: sum(d.amount for d in rows)}))
    return Sheet(f"{year}年", [header], body, formats={7: MONEY_FORMAT})


def _deliveries_book(rng: random.Random, company: _Company) -> list[Sheet]:
    return [_deliveries_current(rng, company), _deliveries_previous(rng, company)]


def _invoice_sheet(rng: random.Random, company: _Company, year: int) -> Sheet:
    current = year == company.year
    header: Row = ["开票日期", "发票代码", "发票号码", "客戶名稱" if current else "客户名称", "合同编号", "业务员",
                   "发票类型", "税率", "不含税金额", "税额", "价税合计", "备注"]
    body: list[Row] = []
    for inv in (i for i in company.invoices if i.day.year == year):
        day = date_text(inv.day, "compact") if current else inv.day
        body.append([day, inv.code or None, inv.no, _typed(rng, inv.customer, inv.day, company.year), inv.contract,
                     inv.customer.salesperson, inv.kind, "13%", yuan(inv.amount - inv.tax), yuan(inv.tax),
                     yuan(inv.amount), inv.remark or None])
    titles = [f"{year}年开票台账"] if current else []
    return Sheet(f"{year}年", [header], body, titles)


def _invoices_book(rng: random.Random, company: _Company) -> list[Sheet]:
    return [_invoice_sheet(rng, company, company.year), _invoice_sheet(rng, company, company.year - 1)]


def _sales_side(company: _Company, team: Sequence[str], year: int) -> list[_Payment]:
    return [p for p in company.payments if p.side != "finance" and p.customer.salesperson in team and p.day.year == year]


_PAYMENT_TOP: Row = ["序号", "  客户名称 ", "合同编号", "业务员", "回款情况", None, "回款方式", "备注"]
_PAYMENT_SUB: Row = [None, None, None, None, "日期", "金额", None, None]
_MONEY_MIX: tuple[MoneyStyle, ...] = ("number",) * 14 + ("yen", "yen", "yuan", "comma", "comma", "fullwidth")


def _payment_month(rng: random.Random, company: _Company, month: int, payments: list[_Payment]) -> Sheet:
    year = company.year
    style: DateStyle = "date" if month % 3 == 0 else "md"
    body: list[Row] = []
    for seq, p in enumerate(payments, 1):
        contract: Cell = p.contract if p.linked else rng.choice((None, "/", "无"))
        body.append([seq, _typed(rng, p.customer), contract, p.customer.salesperson, date_text(p.day, style),
                     money_text(p.amount, rng.choice(_MONEY_MIX)), p.method, p.note or None])
        if month == 4 and seq == 2:
            body.append([])
    # The 6月 total was not updated after the last payment was added: a 合计 the reader must flag.
    counted = payments[:-1] if month == 6 and len(payments) > 1 else payments
    body.append(total_row("合计", len(_PAYMENT_TOP), {5: sum(p.amount for p in counted)}))
    merges = [(0, 4, 0, 5)] + [(0, c, 1, c) for c in (0, 1, 2, 3, 6, 7)]
    return Sheet(f"{month}月", [_PAYMENT_TOP, _PAYMENT_SUB], body, [f"{year}年{month}月回款登记表"], merges,
                 formats={5: MONEY_FORMAT})


def _payments_monthly_book(rng: random.Random, company: _Company) -> list[Sheet]:
    payments = _sales_side(company, _OFFICE_BOOK, company.year)
    return [_payment_month(rng, company, m, [p for p in payments if p.day.month == m])
            for m in range(1, company.cutoff.month + 1)]


def _zhao_sheet(rng: random.Random, company: _Company, year: int) -> Sheet:
    header: Row = ["日期", "客户", "合同号", "金额(元)", "方式", "备注"]
    payments = _sales_side(company, ("赵磊",), year)
    typo = next((p for p in payments if p.day.month == 7), None) if year == company.year else None
    body: list[Row] = []
    for p in payments:
        day = _typo_year(p.day) if p is typo else date_text(p.day, "slash" if rng.random() < 0.7 else "date")
        body.append([day, _typed(rng, p.customer, p.day, company.year), p.contract if p.linked else None,
                     yuan(p.amount), p.method, p.note or None])
    body.append(total_row("合计", len(header), {3: sum(p.amount for p in payments)}))
    return Sheet(f"{year}年", [header], body, formats={3: MONEY_FORMAT})


def _chen_sheet(rng: random.Random, company: _Company) -> Sheet:
    """One sheet for both years, sorted by customer, the name merged down, the 合计 above the data."""
    header: Row = ["客户名称", "回款日期", "合同编号", "回款金额", "回款方式", "备注"]
    payments = [p for y in (company.year - 1, company.year) for p in _sales_side(company, ("陈静",), y)]
    payments.sort(key=lambda p: (p.customer.code, p.day))
    body: list[Row] = [total_row("合计", len(header), {3: sum(p.amount for p in payments)})]
    merges: list[Span] = []
    start = 1
    for i, p in enumerate(payments):
        name = _typed(rng, p.customer) if i + 1 == start else None
        body.append([name, date_text(p.day, "cn"), p.contract if p.linked else "-", yuan(p.amount), p.method,
                     p.note or None])
        if i + 1 == len(payments) or payments[i + 1].customer is not p.customer:
            merges += merge_down(start, len(body) - 1, (0,))
            start = len(body)
    return Sheet("回款明细", [header], body, ["陈静 回款登记"], body_merges=merges, formats={3: MONEY_FORMAT})


def _erp_payments(rng: random.Random, company: _Company) -> Sheet:
    year = company.year - 1
    header: Row = ["单据编号", "收款日期", "客户", "业务员", "销售订单号", "收款金额", "结算方式", "制单人", "审核状态"]
    body: list[Row] = [
        [f"SKD{year}{i:05d}", date_text(p.day, "iso"), p.customer.name, p.customer.salesperson,
         p.contract if p.linked else "", money_text(p.amount, "comma"), p.method, "孙丽", "已审核"]
        for i, p in enumerate(_sales_side(company, _OFFICE_BOOK, year), 1)
    ]
    return Sheet("收款单", [header], body, [f"收款单列表（{year}-01-01 至 {year}-12-31）"])


def _bank_name(customer: _Customer, day: date, year: int) -> str:
    """The payer as the bank shows it: the registered name, the 曾用名 before this year's renaming."""
    return customer.former if customer.former and day.year < year else customer.name


def _bank_sheet(rng: random.Random, company: _Company, year: int, accounts: dict[str, str]) -> Sheet:
    header: Row = ["到账日期", "流水号", "付款单位", "对方账号", "收款金额", "摘要"]
    rows = sorted((p for p in company.payments if p.side != "sales" and p.bank_day and p.bank_day.year == year),
                  key=lambda p: (p.bank_day, p.serial))
    body: list[Row] = []
    for p in rows:
        assert p.bank_day is not None
        at = datetime.combine(p.bank_day, datetime.min.time()) + timedelta(minutes=rng.randint(540, 1020))
        memo = {"承兑汇票": "承兑汇票托收"}.get(p.method, p.note or rng.choice(("货款", "货款", "工程款")))
        body.append([at, p.serial, _bank_name(p.customer, p.bank_day, company.year), accounts[p.customer.code],
                     yuan(p.amount), memo])
    last = company.cutoff if year == company.year else date(year, 12, 31)
    titles = ["银行收款明细（财务部）", f"账户：中国工商银行北京朝阳支行 ****3366　期间：{year}年1月1日—{last.month}月{last.day}日"]
    return Sheet(f"{year}年", [header], body, titles, formats={4: MONEY_FORMAT})


def _bank_book(rng: random.Random, company: _Company) -> list[Sheet]:
    accounts = {c.code: f"{rng.randint(1000, 6299)} {rng.randint(1000, 9999)} **** {rng.randint(1000, 9999)}"
                for c in company.customers}
    return [_bank_sheet(rng, company, y, accounts) for y in (company.year - 1, company.year)]


def _freight_sheet(rng: random.Random, company: _Company) -> Sheet:
    header: Row = ["日期", "发货单号", "合同编号", "客户名称", "承运单位", "运费金额", "备注"]
    body: list[Row] = []
    for d in company.deliveries:
        if d.kind != "发货" or d.carrier == "自提" or rng.random() < 0.25:
            continue
        day = workday(d.day + timedelta(days=rng.randint(0, 3)))
        fee = max(30_000, round(d.amount * rng.uniform(0.004, 0.012) / 1000) * 1000)
        if day <= company.cutoff:
            body.append([date_text(day, "slash"), d.no, d.contract, _typed(rng, d.customer), d.carrier,
                         money_text(fee, rng.choice(("comma", "plain"))), rng.choice((None, None, None, "加急"))])
    body.sort(key=lambda row: tuple(int(x) for x in str(row[0]).split("/")))
    return Sheet("运费台账", [header], body, [f"{COMPANY} 运费台账（物流部）"])




def _monthly_targets(annual: int) -> list[int]:
    """An annual target spread by season, each month rounded to 万元 (in yuan)."""
    total = sum(_SEASON)
    return [round(annual * w / total / 10_000) * 10_000 for w in _SEASON]


def _wide_target_sheet(name: str, title: str, targets: dict[str, list[int]]) -> Sheet:
    header: Row = ["业务员", *[f"{m}月" for m in range(1, 13)], "全年合计"]
    body: list[Row] = [[sp, *months, sum(months)] for sp, months in targets.items()]
    columns = [sum(m[i] for m in targets.values()) for i in range(12)]
    body.append(["合计", *columns, sum(columns)])
    return Sheet(name, [header], body, [title], formats={c: MONEY_FORMAT for c in range(1, 14)})


def _targets_book(rng: random.Random, company: _Company) -> list[Sheet]:
    year = company.year
    # Targets a sales manager would set: this year's pace over a full year, some stretched, some soft.
    this_year: dict[str, int] = defaultdict(int)
    for ln in company.lines:
        if ln.signed.year == year and ln.status not in _VOID:
            this_year[ln.customer.salesperson] += ln.amount // 100
    team = [sp for members in _TEAM.values() for sp in members]
    months = max(company.cutoff.month - 1, 1)
    sales = {
        sp: _monthly_targets(max(this_year[sp], 2_000_000) * 12 // months * rng.randint(90, 125) // 100)
        for sp in team
    }
    collect = {sp: [round(v * 0.9 / 10_000) * 10_000 for v in months] for sp, months in sales.items()}
    new_header: Row = ["业务员", "年度", "新客户目标"]
    new_body: list[Row] = [[sp, year, rng.randint(1, 3)] for sp in team]
    return [
        _wide_target_sheet("销售目标", f"{year}年度销售目标（单位：元）", sales),
        _wide_target_sheet("回款目标", f"{year}年度回款目标（单位：元）", collect),
        Sheet("新客户目标", [new_header], new_body),
    ]


_EVENTS: tuple[tuple[str, int], ...] = (("客户投诉", 100), ("未按时提交周报", 30), ("无故缺席例会", 50), ("送货记录未按期完成", 30))


def _make_events(rng: random.Random, company: _Company) -> list[tuple[date, str, str, Cell, Cell, str]]:
    team = [sp for members in _TEAM.values() for sp in members]
    events = []
    for _ in range(18):
        day = workday(_rand_day(rng, date(company.year, 1, 6), company.cutoff - timedelta(days=3)))
        what, default = rng.choices(_EVENTS, (3, 5, 2, 2))[0]
        note = {"客户投诉": "客户投诉发货延误", "未按时提交周报": f"第{day.isocalendar()[1]}周周报未交",
                "无故缺席例会": f"{day.month}月{day.day}日例会缺席", "送货记录未按期完成": "送货单未及时回传"}[what]
        amount: Cell = rng.choices((None, "/", default * 2), (7, 1, 2))[0]
        points: Cell = rng.choices((None, 2, 5), (6, 3, 1))[0]
        events.append((day, rng.choice(team), what, amount, points, note))
    return sorted(events, key=lambda e: (e[0], e[1]))


def _events_book(rng: random.Random, company: _Company, events: list[tuple[date, str, str, Cell, Cell, str]]) -> list[Sheet]:
    header: Row = ["日期", "业务员", "事项", "扣款金额", "扣分", "说明"]
    body: list[Row] = [[date_text(day, rng.choice(("iso", "date"))), sp, what, amount, points, note]
                       for day, sp, what, amount, points, note in events]
    return [Sheet(f"{company.year}年考核", [header], body, [f"{company.year}年销售人员考核扣款登记"])]


_VISIT_NOTES = {
    "拜访": ("拜访{c}，了解{p}采购计划", "{c}技术交流，介绍{p}新产品", "投标前与{c}沟通", "回访{c}，了解{p}使用情况",
           "上门催收货款，{c}答复月底前安排"),
    "电话": ("电话联系{c}确认{p}到货时间", "电话催款，{c}答复本周安排付款", "与{c}电话沟通回款进度"),
}


def _week_rows(rng: random.Random, sp: str, monday: date, customers: list[_Customer]) -> list[tuple[date, str, Cell, str, str]]:
    rows: list[tuple[date, str, Cell, str, str]] = []
    for kind, count in (("拜访", rng.randint(1, 3)), ("电话", rng.randint(0, 2))):
        for _ in range(count):
            c = rng.choice(customers)
            note = rng.choice(_VISIT_NOTES[kind]).format(c=c.contact, p=rng.choice(_PRODUCTS).name)
            rows.append((monday + timedelta(days=rng.randint(0, 4)), sp, _typed(rng, c), kind, note))
    if sp == "陈静":  # the one who writes a 日报 every day
        rows += [(monday + timedelta(days=i), sp, "/", "日报", "当日工作记录") for i in range(4)]
    return rows


def _visits_book(rng: random.Random, company: _Company, missed: set[tuple[str, int]]) -> list[Sheet]:
    year = company.year
    body: list[Row] = []
    monday = workday(date(year, 1, 6)) - timedelta(days=date(year, 1, 6).weekday())
    rows: list[tuple[date, str, Cell, str, str]] = []
    while monday + timedelta(days=4) <= company.cutoff:
        week = monday.isocalendar()[1]
        for sp in [sp for members in _TEAM.values() for sp in members]:
            own = [c for c in company.customers if c.salesperson == sp]
            rows += _week_rows(rng, sp, monday, own)
            if (sp, week) not in missed:
                rows.append((monday + timedelta(days=4), sp, "/", "周报", f"第{week}周工作总结及下周计划"))
        monday += timedelta(days=7)
    for day, sp, customer, kind, note in sorted(rows, key=lambda r: (r[0], r[1], r[3])):
        body.append([date_text(day, "slash" if rng.random() < 0.7 else "date"), sp, customer, kind, note])
    header: Row = ["日期", "业务员", "客户名称", "类型", "内容"]
    return [Sheet("拜访记录", [header], body, [f"{year}年客户拜访及日报登记"])]


def write_demo_inbox(inbox: Path, seed: int = 2025, year: int = 2025) -> list[Path]:
    """Write a year and a bit of a sample manufacturer's ledgers into ``inbox``, in the shapes clerks keep them.

    Deterministic from ``seed``. About a dozen files: .xlsx in many shapes, a genuine .xls, an HTML table saved as
    .xls and a GBK CSV, with the deliberate slips listed in the module's tests (bad dates, a wrong 合计 …).
    """
    rng = random.Random(seed)
    company = _simulate(rng, year)
    events = _make_events(rng, company)
    missed = {(sp, day.isocalendar()[1]) for day, sp, what, *_ in events if what == "未按时提交周报"}
    inbox.mkdir(parents=True, exist_ok=True)
    return [
        write_xlsx(inbox / "客户档案.xlsx", _customers_book(rng, company)),
        write_xlsx(inbox / "合同台账.xlsx", _contracts_book(rng, company)),
        write_xlsx(inbox / "发货台账.xlsx", _deliveries_book(rng, company)),
        write_xls(inbox / f"开票台账{year}.xls", _invoices_book(rng, company)),
        write_xlsx(inbox / f"回款台账{year}.xlsx", _payments_monthly_book(rng, company)),
        write_xlsx(inbox / "回款登记_赵磊.xlsx", [_zhao_sheet(rng, company, y) for y in (year - 1, year)]),
        write_xlsx(inbox / "回款登记_陈静.xlsx", [_chen_sheet(rng, company)]),
        write_html_table(inbox / "ERP导出_回款.xls", _erp_payments(rng, company)),
        write_xlsx(inbox / "银行收款明细_财务.xlsx", _bank_book(rng, company)),
        write_csv(inbox / "运费台账.csv", _freight_sheet(rng, company)),
        write_xlsx(inbox / f"销售目标{year}.xlsx", _targets_book(rng, company)),
        write_xlsx(inbox / "考核记录.xlsx", _events_book(rng, company, events)),
        write_xlsx(inbox / "拜访记录.xlsx", _visits_book(rng, company, missed)),
    ]


# ---------------------------------------------------------------------------------------------------------------
# The benchmark inbox: many rows, streamed in constant memory
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class StreamSheet:
    """A sheet written row by row in constant memory: title lines, one header row, then any iterable of rows."""

    name: str
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]]
    titles: Sequence[str] = ()
    formats: dict[int, str] = field(default_factory=dict)


def write_xlsx_stream(path: Path, sheets: Iterable[StreamSheet]) -> Path:
    """Write sheets with xlsxwriter in constant-memory mode (``write_row`` in row order, dates as yyyy-mm-dd)."""
    options = {"constant_memory": True, "default_date_format": "yyyy-mm-dd", "strings_to_urls": False,
               "strings_to_formulas": False, "strings_to_numbers": False}
    wb = xlsxwriter.Workbook(str(path), options)
    bold, big = wb.add_format({"bold": True}), wb.add_format({"bold": True, "font_size": 14})
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        width = len(sheet.header)
        ws.set_column(0, width - 1, 14)
        for col, fmt in sheet.formats.items():
            ws.set_column(col, col, 14, wb.add_format({"num_format": fmt}))
        for r, title in enumerate(sheet.titles):
            ws.merge_range(r, 0, r, max(width - 1, 1), title, big)
        top = len(sheet.titles)
        ws.write_row(top, 0, sheet.header, bold)
        for r, row in enumerate(sheet.rows, top + 1):
            ws.write_row(r, 0, row)
    wb.close()
    return path


@dataclass(frozen=True)
class _ScaleStyle:
    """How one benchmark file is kept: title lines, date and money forms, a 合计 row at the bottom."""

    titles: int
    dates: DateStyle
    money: MoneyStyle
    total: bool
    wan: bool = False  # contract amounts in 万元


_SCALE_STYLES = (
    _ScaleStyle(2, "date", "number", True),
    _ScaleStyle(1, "cn", "comma", True, wan=True),
    _ScaleStyle(0, "dot", "number", False),
    _ScaleStyle(2, "serial", "yen", True),
    _ScaleStyle(1, "slash", "number", True, wan=True),
)
_SCALE_SHARES = (("合同台账", 0.22), ("发货台账", 0.32), ("开票台账", 0.16), ("回款台账", 0.18), ("运费台账", 0.06),
                 ("拜访记录", 0.06))
_PLACES = ("北京", "天津", "河北", "山西", "上海", "江苏", "浙江", "安徽", "山东", "广东", "广西", "福建", "海南", "四川",
           "重庆", "云南", "贵州", "湖南", "湖北", "河南", "陕西", "甘肃", "辽宁", "吉林", "黑龙江", "江西", "宁夏", "青海")
_WORDS = ("华电", "恒达", "宏图", "金桥", "瑞丰", "东升", "新源", "永安", "长城", "中盛", "鑫诚", "天成", "汇通", "博远",
          "联创", "正泰", "信达", "广宇", "盛世", "嘉禾", "明珠", "顺达", "同创", "佳豪", "伟业", "腾飞", "众诚", "卓越")
_TRADES = ("电力工程", "建设集团", "机电安装", "市政工程", "能源科技", "电气设备", "置业", "水务", "物资供应", "新能源")


@dataclass
class _ScaleWorld:
    """Customers and contracts every other benchmark row refers to (columns kept as parallel lists)."""

    start: date
    days: int
    customers: list[str]
    owners: list[str]
    contract_customer: list[int]
    contract_amount: list[int]  # fen, multiples of 100 yuan so that 万元 stays exact
    counts: dict[str, int]

    def contract_day(self, c: int) -> date:
        return self.start + timedelta(days=c * self.days // max(1, len(self.contract_amount)))

    def contract_no(self, c: int) -> str:
        return f"HT-{self.contract_day(c).year}-{c + 1:06d}"

    def parent(self, j: int, kind: str, parent_kind: str) -> int:
        """The parent row (a contract, a delivery) child row ``j`` of ``kind`` belongs to: spread evenly."""
        return j * self.counts[parent_kind] // max(1, self.counts[kind])

    def delivery(self, d: int) -> tuple[int, date, int]:
        """(contract, day, amount in fen) of delivery ``d``: a contract's deliveries split its amount."""
        n_c, n_d = self.counts["合同台账"], self.counts["发货台账"]
        c = d * n_c // n_d
        first, nxt = -(-c * n_d // n_c), -(-(c + 1) * n_d // n_c)
        count, i = max(1, nxt - first), d - first
        part = self.contract_amount[c] // count // 100 * 100
        amount = self.contract_amount[c] - part * (count - 1) if i == count - 1 else part
        return c, self.contract_day(c) + timedelta(days=10 + 25 * i), amount


def _allocate(total: int, shares: Sequence[float], minimum: int = 1) -> list[int]:
    """Split ``total`` by ``shares`` (largest remainder), each part at least ``minimum``."""
    raw = [total * s / sum(shares) for s in shares]
    parts = [max(minimum, int(x)) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: int(raw[i]) - raw[i])
    for i in order[: max(0, total - sum(parts))]:
        parts[i] += 1
    return parts


def _scale_names(rng: random.Random, count: int) -> list[str]:
    combos = [(p, w, t) for p in _PLACES for w in _WORDS for t in _TRADES]
    picked = rng.sample(combos, min(count, len(combos)))
    names = [f"{p}{w}{t}有限公司" for p, w, t in picked]
    names += [f"{_PLACES[i % len(_PLACES)]}第{i}工程有限公司" for i in range(len(names), count)]
    return names


def _scale_world(rng: random.Random, rows: int) -> _ScaleWorld:
    n_customers = min(4000, max(20, rows // 250))
    n_sales = min(200, max(5, rows // 5000))
    n_events = min(2000, max(5, rows // 1000))
    rest = max(len(_SCALE_SHARES), rows - n_customers - 2 * n_sales - n_events)
    counts = dict(zip([k for k, _ in _SCALE_SHARES], _allocate(rest, [s for _, s in _SCALE_SHARES]), strict=True))
    counts.update({"客户档案": n_customers, "销售目标": n_sales, "考核记录": n_events})
    team = [s + g for s, g in rng.sample([(s, g) for s in _SURNAMES for g in _GIVEN], n_sales)]
    customers = _scale_names(rng, n_customers)
    n_contracts = counts["合同台账"]
    return _ScaleWorld(
        start=date(2024, 1, 2), days=600, customers=customers,
        owners=[team[i % len(team)] for i in range(len(customers))],
        contract_customer=[rng.randrange(len(customers)) for _ in range(n_contracts)],
        contract_amount=[rng.randint(10, 20000) * 10_000 for _ in range(n_contracts)],
        counts=counts,
    )


_SCALE_PRODUCTS = tuple(dict.fromkeys(p.name for p in _PRODUCTS))
_SCALE_HEADERS: dict[str, tuple[tuple[str, ...], int, int | None]] = {
    # kind: (header, date column, money column)
    "合同台账": (("合同编号", "签订日期", "客户名称", "业务员", "产品名称", "合同金额", "合同状态"), 1, 5),
    "发货台账": (("发货单号", "发货日期", "合同编号", "客户名称", "业务员", "产品名称", "发货金额"), 1, 6),
    "开票台账": (("发票号码", "开票日期", "客户名称", "合同编号", "价税合计", "发票类型"), 1, 4),
    "回款台账": (("回款日期", "客户名称", "合同编号", "业务员", "回款金额", "回款方式"), 0, 4),
    "运费台账": (("日期", "发货单号", "合同编号", "客户名称", "承运单位", "运费金额"), 0, 5),
    "拜访记录": (("日期", "业务员", "客户名称", "类型", "内容"), 0, None),
}


def _scale_raw(world: _ScaleWorld, kind: str, j: int) -> list[Cell]:
    """Row ``j`` of ``kind`` with its date as a date and its amount in fen (formatted later per file)."""
    if kind == "合同台账":
        cust = world.contract_customer[j]
        return [world.contract_no(j), world.contract_day(j), world.customers[cust], world.owners[cust],
                _SCALE_PRODUCTS[j % len(_SCALE_PRODUCTS)], world.contract_amount[j], "执行中"]
    if kind == "拜访记录":
        cust = j * 7919 % len(world.customers)
        day = world.start + timedelta(days=j * (world.days + 90) // max(1, world.counts[kind]))
        return [day, world.owners[cust], world.customers[cust], "拜访" if j % 3 else "电话", "沟通采购计划及回款"]
    d = world.parent(j, kind, "发货台账")
    c, day, amount = world.delivery(d)
    cust = world.contract_customer[c]
    name, owner, no = world.customers[cust], world.owners[cust], world.contract_no(c)
    if kind == "发货台账":
        return [f"FH{j + 1:08d}", day, no, name, owner, _SCALE_PRODUCTS[c % len(_SCALE_PRODUCTS)], amount]
    if kind == "开票台账":
        return [f"{j + 1:08d}", day + timedelta(days=5), name, no, amount, "专票" if j % 4 else "电子"]
    if kind == "回款台账":
        return [day + timedelta(days=30 + j % 60), name, no if j % 5 else None, owner, amount, "银行转账"]
    fee = max(30_000, amount // 125 // 1000 * 1000)
    return [day + timedelta(days=1), f"FH{d + 1:08d}", no, name, _CARRIERS[j % 5], fee]


def _scale_rows(world: _ScaleWorld, kind: str, rows: range, style: _ScaleStyle) -> Iterator[list[Cell]]:
    """Formatted rows of one sheet, then its 合计 row when the style keeps one."""
    header, date_col, money_col = _SCALE_HEADERS[kind]
    total = 0
    wan_amounts = style.wan and kind == "合同台账"
    for j in rows:
        row = _scale_raw(world, kind, j)
        row[date_col] = date_text(row[date_col], style.dates)  # type: ignore[arg-type]
        if money_col is not None:
            fen = int(row[money_col])  # type: ignore[arg-type]
            total += fen
            row[money_col] = wan(fen) if wan_amounts else money_text(fen, style.money)
        yield row
    if style.total and money_col is not None:
        tail: list[Cell] = [None] * len(header)
        tail[0], tail[money_col] = "合计", wan(total) if wan_amounts else yuan(total)
        yield tail


def _scale_file(world: _ScaleWorld, kind: str, number: int, rows: range, path: Path) -> Path:
    # Each kind starts at a different shape, so that even one file per kind covers them all (合同 starts in 万元).
    offset = 1 + [k for k, _ in _SCALE_SHARES].index(kind)
    style = _SCALE_STYLES[(number + offset) % len(_SCALE_STYLES)]
    header, _, money_col = _SCALE_HEADERS[kind]
    if style.wan and kind == "合同台账":
        header = tuple("合同金额(万元)" if h == "合同金额" else h for h in header)
    titles = [f"{COMPANY} {kind}（第{number + 1}册）", "打印日期：2025年11月26日"][: style.titles]
    n_sheets = 3 if len(rows) >= 3000 else 1
    bounds = [rows.start + len(rows) * i // n_sheets for i in range(n_sheets + 1)]
    formats = {money_col: MONEY_FORMAT} if money_col is not None and style.money == "number" else {}
    sheets = [StreamSheet(f"明细{i + 1}", header, _scale_rows(world, kind, range(a, b), style), titles, formats)
              for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]
    return write_xlsx_stream(path, sheets)


def _scale_customers(world: _ScaleWorld, path: Path) -> Path:
    header = ("客户编码", "客户名称", "业务员", "区域", "信用额度", "账期天数", "联系人", "电话")
    regions = tuple(_TEAM)
    rows = ([f"KH{i + 1:06d}", name, world.owners[i], regions[i % 4], 1_000_000 + (i % 20) * 100_000,
             (30, 60, 90)[i % 3], _SURNAMES[i % 20] + _GIVEN[i % 15], f"139{i:08d}"] for i, name in enumerate(world.customers))
    return write_xlsx_stream(path, [StreamSheet("客户档案", header, rows, ["客户档案"], {4: MONEY_FORMAT})])


def _scale_targets(world: _ScaleWorld, path: Path) -> Path:
    team = list(dict.fromkeys(world.owners))[: world.counts["销售目标"]]
    header = ("业务员", *[f"{m}月" for m in range(1, 13)])

    def sheet(name: str, factor: int) -> StreamSheet:
        rows: list[Row] = [[sp, *[(i % 7 + 3) * factor * 10_000] * 12] for i, sp in enumerate(team)]
        return StreamSheet(name, header, rows, [f"2025年度{name}（单位：元）"], {c: MONEY_FORMAT for c in range(1, 13)})

    return write_xlsx_stream(path, [sheet("销售目标", 10), sheet("回款目标", 9)])


def _scale_events(world: _ScaleWorld, path: Path) -> Path:
    header = ("日期", "业务员", "事项", "扣款金额", "说明")
    team = list(dict.fromkeys(world.owners))
    n = world.counts["考核记录"]
    rows = ([world.start + timedelta(days=i * world.days // n), team[i % len(team)], _EVENTS[i % 4][0],
             None if i % 3 else _EVENTS[i % 4][1], "/"] for i in range(n))
    return write_xlsx_stream(path, [StreamSheet("考核记录", header, rows)])


@dataclass(frozen=True)
class _ScaleTask:
    """One benchmark file to write: rows ``start``..``stop`` of ``kind``, the ``number``-th file of that kind."""

    kind: str
    number: int
    start: int
    stop: int
    path: Path


@functools.lru_cache(maxsize=2)
def _cached_world(seed: int, rows: int) -> _ScaleWorld:
    return _scale_world(random.Random(seed), rows)


def _run_scale_task(seed: int, rows: int, task: _ScaleTask) -> Path:
    world = _cached_world(seed, rows)  # rebuilt identically in a worker process that did not inherit it
    small = {"客户档案": _scale_customers, "销售目标": _scale_targets, "考核记录": _scale_events}
    if task.kind in small:
        return small[task.kind](world, task.path)
    return _scale_file(world, task.kind, task.number, range(task.start, task.stop), task.path)


def _scale_tasks(world: _ScaleWorld, inbox: Path, files: int) -> list[_ScaleTask]:
    tasks = [_ScaleTask("客户档案", 0, 0, 0, inbox / "客户档案.xlsx"),
             _ScaleTask("销售目标", 0, 0, 0, inbox / "销售目标2025.xlsx"),
             _ScaleTask("考核记录", 0, 0, 0, inbox / "考核记录.xlsx")]
    kinds = [k for k, _ in _SCALE_SHARES]
    for kind, n_files in zip(kinds, _allocate(max(len(kinds), files - 3), [s for _, s in _SCALE_SHARES]), strict=True):
        bounds = [world.counts[kind] * i // n_files for i in range(n_files + 1)]
        tasks += [_ScaleTask(kind, f, bounds[f], bounds[f + 1], inbox / f"{kind}_{f + 1:02d}.xlsx") for f in range(n_files)]
    return tasks


def write_scale_inbox(inbox: Path, rows: int, files: int = 50, seed: int = 7, *, workers: int = 2) -> list[Path]:
    """Write about ``rows`` ledger rows over about ``files`` .xlsx files of every kind, for benchmarks.

    Files are streamed with xlsxwriter in constant memory and cycle through mess shapes (title lines, 万元,
    text dates, text money, 合计 rows). Deliveries, invoices, payments and freight refer to real contracts and
    customers, so reconciliation has real work to do. Files are written by up to ``workers`` processes; the
    content depends only on ``rows``, ``files`` and ``seed``.
    """
    tasks = _scale_tasks(_cached_world(seed, rows), inbox, files)
    inbox.mkdir(parents=True, exist_ok=True)
    workers = min(workers, os.cpu_count() or 1, len(tasks))
    if workers <= 1:
        return [_run_scale_task(seed, rows, task) for task in tasks]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_run_scale_task, repeat(seed), repeat(rows), tasks))
