"""Problems found in user input, as data: located, coded, with a zh-CN message."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# Stable code → zh-CN message template. Codes are English and never change; messages may be improved.
MESSAGES: dict[str, str] = {
    # file level
    "cannot-open": "文件无法打开：{detail}",
    "encrypted": "文件有密码保护，请去除密码后重新放入",
    "empty-file": "文件是空的",
    "no-ledger": "文件中没有找到可识别的台账（找到的表头：{detail}）",
    "missing-column": "缺少必需列「{detail}」",
    "unsafe-file": "文件不安全，已拒绝读取：{detail}",
    "file-too-large": "文件过大：{detail}",
    "read-timeout": "读取超时，文件可能已损坏或过大",
    "reader-crashed": "读取文件时读取程序崩溃：{detail}",
    "duplicate-file": "与已读入的文件「{detail}」内容完全相同，已跳过",
    "hidden-sheet": "工作表是隐藏的，仍已读取",
    "unknown-sheet": "工作表无法识别为任何台账（表头：{detail}）",
    "macro-ignored": "文件包含宏，宏不会被执行",
    # cell level: errors
    "missing-value": "必填项「{header}」为空",
    "bad-date": "无法识别的日期：{value}",
    "implausible-date": "日期不合理（年份有误？）：{value}",
    "bad-money": "无法识别的金额：{value}",
    "bad-number": "无法识别的数字：{value}",
    "error-cell": "单元格是错误值 {value}，请修正公式或数据",
    "uncalculated-formula": "公式没有计算结果（保存时未计算），请在 Excel 中打开并保存后再放入",
    "negative-value": "「{header}」不能为负数：{value}",
    "bad-month": "月份应为 1–12：{value}",
    "zero-amount": "金额为 0",
    "duplicate-key": "同一文件中「{detail}」重复且内容不同，请删除错误的一行",
    "duplicate-row": "与同一文件中另一行「{detail}」完全相同，只计一次",
    "long-number-id": "编号超过 15 位数字，Excel 已丢失末尾数字：{value}，请把该列设为文本后重新输入",
    # warnings
    "total-row-mismatch": "合计行与上方明细之和不符：合计 {value}，明细合计 {detail}",
    "amount-mismatch": "数量×单价 与金额相差超过 1 元：{detail}",
    "future-date": "日期晚于截止日期：{value}",
    "unknown-customer": "客户「{value}」不在客户档案中",
    "unknown-salesperson": "业务员「{value}」不在客户档案和目标中",
    "unassigned-salesperson": "无法确定业务员，已归入「未分配」",
    "amount-outlier": "金额与该客户平时的金额相差很大：{value}",
    "conflicting-header": "同一合同的多行中「{header}」不一致：{value}",
    "skipped-row": "{detail}",
}

SEVERITY: dict[str, Severity] = {
    code: "warning"
    for code in (
        "hidden-sheet",
        "macro-ignored",
        "total-row-mismatch",
        "amount-mismatch",
        "future-date",
        "unknown-customer",
        "unknown-salesperson",
        "unassigned-salesperson",
        "amount-outlier",
        "conflicting-header",
        "duplicate-row",
        "skipped-row",
        "duplicate-file",
        "unknown-sheet",
    )
}

SEVERITY_ZH = {"error": "错误", "warning": "警告"}


@dataclass(frozen=True)
class Problem:
    """One located problem. `row` is the Excel row number the user sees; `column` the column letter."""

    file: str
    code: str
    message: str
    severity: Severity = "error"
    sheet: str = ""
    row: int | None = None
    column: str = ""
    header: str = ""
    value: str = ""
    suggestion: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def render(self) -> str:
        where = self.file
        if self.sheet:
            where += f" [{self.sheet}]"
        if self.row is not None:
            where += f" 第{self.row}行"
        if self.column:
            where += f" {self.column}列"
            if self.header:
                where += f"（{self.header}）"
        text = f"{where}：{SEVERITY_ZH[self.severity]}：{self.message}"
        return text + (f"　{self.suggestion}" if self.suggestion else "")


def problem(
    file: str,
    code: str,
    *,
    sheet: str = "",
    row: int | None = None,
    column: str = "",
    header: str = "",
    value: object = "",
    detail: str = "",
    suggestion: str = "",
    severity: Severity | None = None,
) -> Problem:
    """Build a Problem with the zh-CN message of its code."""
    text = "" if value is None else str(value)
    message = MESSAGES.get(code, code).format(header=header, value=text, detail=detail)
    return Problem(
        file=file,
        code=code,
        message=message,
        severity=severity or SEVERITY.get(code, "error"),
        sheet=sheet,
        row=row,
        column=column,
        header=header,
        value=text[:200],
        suggestion=suggestion,
    )


def column_letter(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def sort_key(p: Problem) -> tuple[str, str, int, str]:
    return (p.file, p.sheet, p.row or 0, p.column)
