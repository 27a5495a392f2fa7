"""应收账龄_<YYYY-MM-DD>.xlsx: 账龄明细, 客户账龄, 业务员账龄 (with a bucket chart), 坏账准备, 催款清单."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from pipeline.aging import DETAIL_COLUMNS, DUNNING_COLUMNS, HEADERS, AgingTables, age_receivables
from pipeline.config import Settings
from pipeline.model import Reconciled
from pipeline.reports.reconciliation import columns, finance_intro
from pipeline.reports.workbook import Chart, ColumnKind, SheetData, write_workbook

HOW_TO_READ = (
    "金额单位：元。账龄天数 = 截止日期 − 单据日期；逾期天数 = 截止日期 − 到期日（未到期为 0）；到期日 = 单据日期 + 账期。",
    "账期取合同的账期天数，合同没有时取客户档案的账期，再没有时取默认账期。",
    "客户账龄中各账龄区间之和等于未收合计；净应收 = 未收合计 − 预收款；超额度金额 = 未收合计超出信用额度的部分。",
    "坏账准备按每笔未收金额 × 账龄段计提比例，四舍五入到分后汇总。",
    "催款清单按业务员列出已逾期的应收，逾期最久的在前。",
)


def aging_sheets(tables: AgingTables) -> list[SheetData]:
    """The five sheets of the aging workbook, headers from aging.HEADERS and the bucket labels."""
    headers = {**HEADERS, **tables.buckets}
    buckets = list(tables.buckets)
    money: dict[str, ColumnKind] = dict.fromkeys(buckets, "money")
    customer_cols = ["customer", "salesperson", "grade", "unpaid", *buckets, "overdue_amount", "advance", "net",
                     "credit_limit", "over_limit", "provision"]  # fmt: skip
    people_cols = ["salesperson", "unpaid", *buckets, "overdue_amount", "advance", "provision"]
    chart = Chart("stacked", "业务员应收账龄分布", HEADERS["salesperson"], tuple(tables.buckets.values()))
    return [
        SheetData("账龄明细", tables.detail, columns(DETAIL_COLUMNS, headers), total_row=True),
        SheetData("客户账龄", tables.customers, columns(customer_cols, headers, money), total_row=True),
        SheetData(
            "业务员账龄",
            tables.salespeople,
            columns(people_cols, headers, money),
            total_row=True,
            charts=(chart,),
        ),
        SheetData(
            "坏账准备",
            tables.provision,
            columns(["band", "rate", "outstanding", "provision"]),
            total_row=True,
        ),
        SheetData("催款清单", tables.dunning, columns(DUNNING_COLUMNS, headers)),
    ]


def write_aging(
    reconciled: Reconciled,
    settings: Settings,
    outdir: Path,
    *,
    as_of: date | None = None,
    tables: AgingTables | None = None,
    inputs: pd.DataFrame | None = None,
    generated_at: datetime | None = None,
    warnings: list[str] | None = None,
) -> list[Path]:
    """Write 应收账龄_<as_of>.xlsx into `outdir` (aging computed here unless `tables` is given)."""
    tables = tables or age_receivables(reconciled, settings, as_of)
    path = Path(outdir) / f"应收账龄_{tables.as_of:%Y-%m-%d}.xlsx"
    title = f"应收账龄 截至 {tables.as_of:%Y-%m-%d}"
    intro = finance_intro(title, reconciled, settings, inputs, generated_at, HOW_TO_READ)
    found = write_workbook(path, intro, aging_sheets(tables))
    if warnings is not None:
        warnings.extend(found)
    return [path]
