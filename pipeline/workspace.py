"""Create a workspace: its folders, the commented taizhang.toml and one blank Excel template per ledger kind.

The templates are derived from the ledger-kind declarations in `schemas` only: headers, types, required flags,
aliases and range checks all come from there. What this module owns is presentation (widths, colours, notes)
and the option lists offered as dropdowns (`OPTIONS`).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import quote_sheetname, xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from pipeline.config import CONFIG_NAME
from schemas import LEDGER_KINDS, Col, LedgerKind

WORKSPACE_DIRS = ("inbox", "outbox", "archive", "quarantine")
TEMPLATES_DIR = "模板"
TEMPLATE_ROWS = 1000  # data rows that carry validation below the header
INFO_SHEET = "填写说明"
OPTIONS_SHEET = "选项"
OPTIONS_CAPACITY = 1000  # rows of the 选项 sheet a dynamic list looks at

TYPE_LABELS: dict[str, str] = {
    "text": "文本",
    "date": "日期",
    "money": "金额(元)",
    "int": "整数",
    "decimal": "数字",
}

# Dropdown values per column code name (the same list wherever the column appears).
OPTIONS: dict[str, tuple[str, ...]] = {
    "salesperson": ("张伟", "李娜", "王芳", "刘洋"),
    "status": ("执行中", "已完成", "已变更", "已解除", "作废"),
    "method": ("银行转账", "承兑汇票", "现金", "其他"),
    "delivery_type": ("发货", "退货"),
    "source": ("销售", "财务"),
    "invoice_type": ("专票", "普票", "电子专票", "电子普票"),
    "grade": ("A", "B", "C"),
    "activity_type": ("拜访", "电话", "日报", "周报"),
}
# Lists a clerk may legitimately go beyond (new salesperson, 优质/一般 grades, …): Excel warns, then accepts.
# The others are refused outright because the pipeline gives their values a meaning.
OPEN_OPTIONS = frozenset({"salesperson", "status", "invoice_type", "grade", "activity_type"})
EXAMPLE_OPTIONS = frozenset({"salesperson"})  # prefilled with example values the user should replace

# Identifier columns kept as text so that leading zeros survive (008210327852813).
TEXT_ID_COLUMNS = frozenset(
    {"contract_no", "delivery_no", "invoice_no", "invoice_code", "voucher_no", "customer_code", "phone"}
)

# Check names (schemas.base) that narrow the validation range.
NON_NEGATIVE = "negative-value"
MONTH = "bad-month"
PLAUSIBLE_DATE = "implausible-date"

NUMBER_LIMIT = 1e12
INT_LIMIT = 10**9
DATE_EXAMPLE = "2025-03-05"


def find_template_dir() -> Path:
    """The repository's templates/ folder, beside the pipeline package."""
    return Path(__file__).resolve().parent.parent / "templates"


def template_path(workspace: Path, kind: LedgerKind) -> Path:
    return workspace / TEMPLATES_DIR / f"{kind.label}模板.xlsx"


def init_workspace(dir: Path) -> list[Path]:
    """Create the folders, taizhang.toml and blank ledger templates in dir; return only what was created.

    Existing folders and files are left untouched, so running it again never overwrites a user's
    taizhang.toml or a template whose 选项 sheet the user has extended.
    """
    workspace = Path(dir)
    created: list[Path] = []
    workspace.mkdir(parents=True, exist_ok=True)
    for name in (*WORKSPACE_DIRS, TEMPLATES_DIR):
        folder = workspace / name
        if not folder.is_dir():
            folder.mkdir()
            created.append(folder)

    config = workspace / CONFIG_NAME
    if not config.exists():
        text = (find_template_dir() / CONFIG_NAME).read_bytes()
        try:
            with config.open("xb") as out:  # exclusive: never replace a file that appeared meanwhile
                out.write(text)
            created.append(config)
        except FileExistsError:
            pass

    for kind in LEDGER_KINDS.values():
        path = template_path(workspace, kind)
        if path.exists():
            continue
        partial = path.with_name(f".{path.name}.tmp")
        try:
            write_template(kind, partial)
            if path.exists():  # appeared while writing: keep the user's
                continue
            os.replace(partial, path)
            created.append(path)
        finally:
            partial.unlink(missing_ok=True)
    return created


# --- Excel templates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Styles:
    header: Format
    header_required: Format
    text_id: Format
    date: Format
    money: Format
    integer: Format
    title: Format
    note: Format
    table_header: Format
    cell: Format


def _styles(wb: Workbook) -> _Styles:
    base = {"font_size": 11}
    head = {**base, "bold": True, "border": 1, "align": "center", "valign": "vcenter", "text_wrap": True}
    return _Styles(
        header=wb.add_format({**head, "bg_color": "#D9E1F2"}),
        header_required=wb.add_format({**head, "bg_color": "#C00000", "font_color": "#FFFFFF"}),
        text_id=wb.add_format({**base, "num_format": "@"}),
        date=wb.add_format({**base, "num_format": "yyyy-mm-dd"}),
        money=wb.add_format({**base, "num_format": "#,##0.00"}),
        integer=wb.add_format({**base, "num_format": "0"}),
        title=wb.add_format({**base, "bold": True, "font_size": 14}),
        note=wb.add_format({**base, "text_wrap": True, "valign": "top"}),
        table_header=wb.add_format({**head, "bg_color": "#D9E1F2"}),
        cell=wb.add_format({**base, "border": 1, "text_wrap": True, "valign": "top"}),
    )


def _display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_MIN_WIDTH = {"text": 12, "date": 12, "money": 14, "int": 8, "decimal": 10}
# Text columns whose values run long (company names, free text).
_WIDE_TEXT = {"customer": 30, "customer_aliases": 24, "product": 20, "carrier": 20, "note": 30, "content": 40}


def _column_width(col: Col) -> int:
    floor = 20 if col.name in TEXT_ID_COLUMNS else _WIDE_TEXT.get(col.name, _MIN_WIDTH[col.type])
    return max(floor, _display_width(col.label) + 4)


def _check_names(col: Col) -> set[str]:
    return {str(c.name) for c in col.checks}


def _list_name(col: Col) -> str:
    return f"list_{col.name}"


def _column_format(col: Col, st: _Styles) -> Format | None:
    if col.name in TEXT_ID_COLUMNS:
        return st.text_id
    return {"date": st.date, "money": st.money, "int": st.integer}.get(col.type)


def _validation(col: Col) -> dict[str, Any] | None:
    """The xlsxwriter data_validation options for one column, or None."""
    if col.name in OPTIONS:
        return _list_rule(col)
    if col.type == "date":
        return _date_rule(col)
    if col.type in ("money", "decimal"):
        return _number_rule(col)
    if col.type == "int":
        return _integer_rule(col)
    return None


def _list_rule(col: Col) -> dict[str, Any]:
    open_list = col.name in OPEN_OPTIONS
    message = "请从下拉列表中选择。"
    error = f"「{col.label}」应从下拉列表中选择。"
    if open_list:
        message += "常用的值可添加到隐藏的「选项」表中。"
        error += "确需填写其他内容请点「是」；常用的值可添加到隐藏的「选项」表中。"
    return {
        "validate": "list",
        "source": f"={_list_name(col)}",
        "input_title": col.label,
        "input_message": message,
        "error_type": "warning" if open_list else "stop",
        "error_title": col.label,
        "error_message": error,
    }


def _date_rule(col: Col) -> dict[str, Any]:
    low = date(2000, 1, 1) if PLAUSIBLE_DATE in _check_names(col) else date(1900, 1, 1)
    high = date(2099, 12, 31)
    return {
        "validate": "date",
        "criteria": "between",
        "minimum": low,
        "maximum": high,
        "input_title": col.label,
        "input_message": f"请填写日期，如 {DATE_EXAMPLE}",
        "error_title": "日期格式不对",
        "error_message": f"「{col.label}」请填写 {low:%Y-%m-%d} 至 {high:%Y-%m-%d} 之间的日期，如 {DATE_EXAMPLE}。",
    }


def _number_rule(col: Col) -> dict[str, Any]:
    non_negative = NON_NEGATIVE in _check_names(col)
    message = "请填写金额（元），可带两位小数，如 12345.67" if col.type == "money" else "请填写数字"
    message += "；不能为负数。" if non_negative else "；可以为负数（如退货、红字冲销）。"
    return {
        "validate": "decimal",
        "criteria": ">=",
        "value": 0 if non_negative else -NUMBER_LIMIT,
        "input_title": col.label,
        "input_message": message,
        "error_title": "应为数字",
        "error_message": f"「{col.label}」{message}",
    }


def _integer_rule(col: Col) -> dict[str, Any]:
    checks = _check_names(col)
    if MONTH in checks:
        low, high, message = 1, 12, "请填写 1 到 12 的整数。"
    elif NON_NEGATIVE in checks:
        low, high, message = 0, INT_LIMIT, "请填写不小于 0 的整数。"
    else:
        low, high, message = -INT_LIMIT, INT_LIMIT, "请填写整数。"
    return {
        "validate": "integer",
        "criteria": "between",
        "minimum": low,
        "maximum": high,
        "input_title": col.label,
        "input_message": message,
        "error_title": "应为整数",
        "error_message": f"「{col.label}」{message}",
    }


def _options_used(kind: LedgerKind) -> list[Col]:
    return [c for c in kind.columns if c.name in OPTIONS]


def _write_data_sheet(wb: Workbook, kind: LedgerKind, st: _Styles) -> None:
    ws: Worksheet = wb.add_worksheet(kind.label)
    last = len(kind.columns) - 1
    for i, col in enumerate(kind.columns):
        ws.set_column(i, i, _column_width(col), _column_format(col, st))
        ws.write_string(0, i, col.label, st.header_required if col.required else st.header)
        if col.required:
            ws.write_comment(0, i, f"* 必填（{TYPE_LABELS[col.type]}）", {"x_scale": 0.8, "y_scale": 0.4})
        rule = _validation(col)
        if rule is not None:
            ws.data_validation(1, i, TEMPLATE_ROWS, i, rule)
    ws.set_row(0, 24)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, 0, last)
    ws.repeat_rows(0)
    ws.set_landscape()
    ws.activate()


def _key_phrase(kind: LedgerKind) -> str:
    return "＋".join(f"「{kind.col(name).label}」" for name in kind.key)


def _write_info_sheet(wb: Workbook, kind: LedgerKind, st: _Styles) -> None:
    ws: Worksheet = wb.add_worksheet(INFO_SHEET)
    ws.write_string(0, 0, f"{kind.label}填写说明", st.title)
    notes = [
        f"在「{kind.label}」表的表头下逐行填写，一行一条记录。红色表头为必填列，请勿修改表头文字。",
        f"日期写成 {DATE_EXAMPLE} 的形式；金额以元为单位，可带两位小数；编号、电话按文本保存，开头的 0 不会丢失。",
        f"{_key_phrase(kind)}相同的行视为同一条记录，以后交的文件为准：每月交整本累计台账也不会重复计算。",
    ]
    if _options_used(kind):
        notes.append(
            "带下拉箭头的列可从列表中选择。列表在隐藏的「选项」表中：右键任一工作表标签 →「取消隐藏」→「选项」，"
            "在对应列下方接着往下填写即可（例如本公司业务员的姓名）。"
        )
    notes.append("「也可写作」列出程序同样认得的列名；「配置名」用于 taizhang.toml 的 [aliases] 一节。")
    notes = [f"{n}. {text}" for n, text in enumerate(notes, start=1)]
    for r, text in enumerate(notes, start=1):
        ws.merge_range(r, 0, r, 5, text, st.note)
        ws.set_row(r, 32)
    top = len(notes) + 2
    headers = ("列名", "类型", "必填", "可选值", "也可写作", "配置名")
    widths = (16, 10, 6, 30, 50, 18)
    for i, (h, w) in enumerate(zip(headers, widths, strict=True)):
        ws.set_column(i, i, w)
        ws.write_string(top, i, h, st.table_header)
    for r, col in enumerate(kind.columns, start=top + 1):
        row = (
            col.label,
            TYPE_LABELS[col.type],
            "是" if col.required else "",
            _options_text(col),
            "、".join(col.aliases),
            col.name,
        )
        for i, value in enumerate(row):
            ws.write_string(r, i, value, st.cell)
    ws.freeze_panes(top + 1, 0)


def _options_text(col: Col) -> str:
    values = "、".join(OPTIONS.get(col.name, ()))
    if values and col.name in EXAMPLE_OPTIONS:
        return f"示例：{values}（请在「选项」表中改为本公司的）"
    return values


def _write_options_sheet(wb: Workbook, kind: LedgerKind, st: _Styles) -> None:
    cols = _options_used(kind)
    if not cols:
        return
    ws: Worksheet = wb.add_worksheet(OPTIONS_SHEET)
    sheet = quote_sheetname(OPTIONS_SHEET)
    for i, col in enumerate(cols):
        header = f"{col.label}可选值" + ("（示例，请改为本公司的）" if col.name in EXAMPLE_OPTIONS else "")
        ws.set_column(i, i, max(16, _display_width(header) + 2))
        ws.write_string(0, i, header, st.table_header)
        ws.write_column(1, i, OPTIONS[col.name])
        letter = xl_col_to_name(i)
        first = f"{sheet}!${letter}$2"
        span = f"{sheet}!${letter}$2:${letter}${OPTIONS_CAPACITY + 1}"
        # Grows with what the user appends below the list (no blank entries in the dropdown).
        wb.define_name(_list_name(col), f"=OFFSET({first},0,0,MAX(1,COUNTA({span})),1)")
    ws.hide()


def write_template(kind: LedgerKind, path: Path) -> Path:
    """Write the blank Excel template of one ledger kind to path."""
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties(
        {"title": f"{kind.label}模板", "subject": kind.label, "comments": "taizhang 空白台账模板"}
    )
    wb.set_custom_property("taizhang_template", kind.name)
    st = _styles(wb)
    _write_data_sheet(wb, kind, st)
    _write_info_sheet(wb, kind, st)
    _write_options_sheet(wb, kind, st)
    wb.close()
    return path
