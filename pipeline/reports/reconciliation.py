"""合同对账_<YYYY-MM>.xlsx: 合同执行, 回款分配, 异常清单, 账账核对 and 变更记录, for finance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipeline.aging import HEADERS
from pipeline.config import Settings
from pipeline.model import Reconciled
from pipeline.reconcile import ALLOCATION_COLUMNS, EXCEPTION_COLUMNS, LOCATION, MATCH_COLUMNS
from pipeline.reports.workbook import Column, ColumnKind, Intro, SheetData, columns_from, write_workbook

MONEY = (
    "contract_amount", "delivered", "invoiced", "paid", "undelivered", "receivable", "advance", "void_amount",
    "credit_amount", "allocated", "amount", "sales_amount", "finance_amount", "original", "outstanding",
    "provision", "unpaid", "overdue_amount", "net", "credit_limit", "over_limit", "balance",
)  # fmt: skip
DATES = ("sign_date", "credit_date", "sales_date", "finance_date", "basis_date", "due_date", "date")
# How each code name is shown; a code not listed is text.
KINDS: dict[str, ColumnKind] = {
    **dict.fromkeys(MONEY, "money"),
    **dict.fromkeys(DATES, "date"),
    **dict.fromkeys(("delivery_rate", "payment_rate", "rate"), "rate"),
    **dict.fromkeys(("date_diff", "age_days", "overdue_days", "terms_days"), "days"),
    **dict.fromkeys((LOCATION[2], "sales_row"), "int"),
}
EXECUTION_COLUMNS = (
    "contract_no", "customer", "salesperson", "sign_date", "status", "contract_amount", "delivered", "invoiced",
    "paid", "undelivered", "receivable", "advance", "delivery_rate", "payment_rate", "exec_status",
    "void_amount", *LOCATION,
)  # fmt: skip
HOW_TO_READ = (
    "金额单位：元；比率保留一位小数。合计行为 SUBTOTAL 公式，随筛选变化。",
    "合同执行：作废/已解除的合同照常列出，合同金额记在「作废/解除合同金额」列，不计入合同金额合计。",
    "回款分配：指定合同的回款先冲该合同最早的应收；未指定合同的回款按先进先出冲该客户其余应收；剩余为预收款。",
    "异常清单：每条异常都注明来源文件、工作表和行号，可直接到原台账中查找修改。",
    "账账核对：财务到账与销售回款按客户、金额一对一匹配（日期相差不超过容差，日期最近者优先）。",
)


def columns(
    codes: Iterable[str],
    headers: Mapping[str, str] | None = None,
    kinds: Mapping[str, ColumnKind] | None = None,
) -> tuple[Column, ...]:
    """Writer columns for code names: header from HEADERS (or `headers`), kind from KINDS (or `kinds`)."""
    names, shown = headers or HEADERS, {**KINDS, **(kinds or {})}
    return tuple(Column(names[code], shown.get(code, "text"), code) for code in codes)


def settings_shown(settings: Settings) -> list[tuple[str, str]]:
    """The configuration values that shape reconciliation and aging figures (for the 说明 sheet)."""
    a, p = settings.aging, settings.provision
    bands = "；".join(f"{label} {rate:.0%}" for label, rate in zip(p.labels, p.rates, strict=True))
    return [
        ("aging.basis 应收确认依据", "发货" if a.basis == "delivery" else "开票"),
        ("aging.buckets 账龄区间", "、".join(a.labels)),
        ("aging.default_terms_days 默认账期（天）", str(a.default_terms_days)),
        ("provision.rates 坏账计提比例", bands),
        (
            "payments.authority 回款以谁为准",
            {"finance": "财务", "sales": "销售", "union": "两者合并"}[settings.payments.authority],
        ),
        ("reconcile.date_tolerance_days 账账核对日期容差（天）", str(settings.reconcile.date_tolerance_days)),
        ("reconcile.uninvoiced_days 发货未开票提示天数", str(settings.reconcile.uninvoiced_days)),
    ]


def input_files(reconciled: Reconciled) -> pd.DataFrame:
    """The files the figures came from, when the caller has no fuller catalogue: name, kind, rows used."""
    kinds = {"合同台账": reconciled.contracts, "发货台账": reconciled.deliveries, "开票台账": reconciled.invoices,
             "回款台账": reconciled.payments}  # fmt: skip
    parts = [
        frame.groupby(LOCATION[0]).size().rename("已用行数").reset_index().assign(类型=kind)
        for kind, frame in kinds.items()
        if not frame.empty
    ]
    if not parts:
        return pd.DataFrame({"文件名": pd.Series(dtype="str"), "类型": pd.Series(dtype="str")})
    files = pd.concat(parts, ignore_index=True).rename(columns={LOCATION[0]: "文件名"})
    return files[["文件名", "类型", "已用行数"]].astype({"文件名": "str", "类型": "str"})


def finance_intro(
    title: str,
    reconciled: Reconciled,
    settings: Settings,
    inputs: pd.DataFrame | None = None,
    generated_at: datetime | None = None,
    how_to_read: Iterable[str] = HOW_TO_READ,
) -> Intro:
    return Intro(
        title=title,
        period=reconciled.period.label,
        as_of=reconciled.period.as_of,
        generated_at=generated_at or datetime.now(),
        inputs=input_files(reconciled) if inputs is None else inputs,
        settings=settings_shown(settings),
        how_to_read=tuple(how_to_read),
    )


def write_reconciliation(
    reconciled: Reconciled,
    settings: Settings,
    outdir: Path,
    *,
    changes: pd.DataFrame | None = None,
    inputs: pd.DataFrame | None = None,
    generated_at: datetime | None = None,
    warnings: list[str] | None = None,
) -> list[Path]:
    """Write 合同对账_<YYYY-MM>.xlsx into `outdir`; writer warnings go to `warnings` when given."""
    path = Path(outdir) / f"合同对账_{reconciled.period.label}.xlsx"
    sheets = [
        SheetData("合同执行", reconciled.execution, columns(EXECUTION_COLUMNS), total_row=True),
        SheetData("回款分配", reconciled.allocations, columns(ALLOCATION_COLUMNS)),
        SheetData("异常清单", reconciled.exceptions, columns(EXCEPTION_COLUMNS)),
    ]
    if not reconciled.matching.empty:
        sheets.append(SheetData("账账核对", reconciled.matching, columns(MATCH_COLUMNS)))
    if changes is not None:
        sheets.append(SheetData("变更记录", changes, columns_from(changes)))
    intro = finance_intro(f"合同对账 {reconciled.period.label}", reconciled, settings, inputs, generated_at)
    found = write_workbook(path, intro, sheets)
    if warnings is not None:
        warnings.extend(found)
    return [path]
