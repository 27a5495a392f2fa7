"""月度统计_<YYYY-MM>.xlsx: the month's figures per salesperson, customer, product and region, with trend and detail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Settings
from pipeline.frames import positions
from pipeline.model import Ledgers, Reconciled
from pipeline.reconcile import HEADERS
from pipeline.reports.problem_list import INPUT_COLUMNS
from pipeline.reports.workbook import Chart, Column, Intro, SheetData, write_workbook
from pipeline.stats import SALES_MEASURE_COLUMN, MonthlyStats, Windows, compute_stats
from schemas import DELIVERIES, LEDGER_KINDS, PAYMENTS, LedgerKind

NO_TARGET = "无目标"
NO_LAST_YEAR = "无同期"
MEASURE_LABELS = {
    "contract_amount": "新签合同额",
    "delivery_amount": "发货金额",
    "invoice_amount": "开票金额",
    "payment_amount": "回款金额",
}
SALESPEOPLE_COLUMNS = (
    Column("业务员", "text", "salesperson"),
    Column("新签合同数", "int", "contract_count"),
    Column("新签合同额", "money", "contract_amount"),
    Column("发货金额", "money", "delivery_amount"),
    Column("开票金额", "money", "invoice_amount"),
    Column("回款金额", "money", "payment_amount"),
    Column("新客户数", "int", "new_customers"),
    Column("销售目标", "money", "sales_target"),
    Column("销售完成率", "rate", "sales_rate"),
    Column("回款目标", "money", "payment_target"),
    Column("回款完成率", "rate", "payment_rate"),
    Column("累计新签合同额", "money", "ytd_contract_amount"),
    Column("累计发货金额", "money", "ytd_delivery_amount"),
    Column("累计回款金额", "money", "ytd_payment_amount"),
    Column("去年同期新签合同额", "money", "ly_contract_amount"),
    Column("同比", "rate", "yoy"),
    Column("新客户目标", "int", "new_customer_target"),
    Column("累计新签合同数", "int", "ytd_contract_count"),
    Column("累计开票金额", "money", "ytd_invoice_amount"),
    Column("去年同期回款金额", "money", "ly_payment_amount"),
)
DIMENSION_SHEETS = (
    ("客户统计", "客户名称", "customers"),
    ("产品统计", "产品名称", "products"),
    ("区域统计", "区域", "regions"),
)
DIMENSION_MEASURES = (
    Column("新签合同数", "int", "contract_count"),
    Column("新签合同额", "money", "contract_amount"),
    Column("发货金额", "money", "delivery_amount"),
    Column("开票金额", "money", "invoice_amount"),
    Column("回款金额", "money", "payment_amount"),
    Column("累计新签合同数", "int", "ytd_contract_count"),
    Column("累计新签合同额", "money", "ytd_contract_amount"),
    Column("累计发货金额", "money", "ytd_delivery_amount"),
    Column("累计开票金额", "money", "ytd_invoice_amount"),
    Column("累计回款金额", "money", "ytd_payment_amount"),
)
EXECUTION_KINDS = {
    "contract_no": "text",
    "customer": "text",
    "salesperson": "text",
    "sign_date": "date",
    "status": "text",
    "contract_amount": "money",
    "delivered": "money",
    "invoiced": "money",
    "paid": "money",
    "undelivered": "money",
    "receivable": "money",
    "advance": "money",
    "delivery_rate": "rate",
    "payment_rate": "rate",
    "exec_status": "text",
}
PROVENANCE_COLUMNS = (
    Column("来源文件", "text", "_file"),
    Column("工作表", "text", "_sheet"),
    Column("行号", "int", "_row"),
)
TREND_TOTALS = ("新签合同额合计", "回款金额合计")
HOW_TO_READ = (
    "金额单位为元；「新签合同额」按签订日期统计本月签订的合同（作废、已解除的合同不计）。",
    "「累计」为当年 1 月 1 日至截止日期；「去年同期」为去年同月；同比 = (本月 − 去年同期) ÷ 去年同期。",
    "完成率的目标为零或未填写时显示「无目标」；只填年度目标时按配置的分月权重（stats.seasonality）分到各月。",
    "「未分配」为无法确定业务员的单据；「未指明产品」「未指明区域」为单据和合同中都没有写明的部分。",
    "合计行使用 SUBTOTAL 公式，筛选后只合计可见行。",
)


def write_monthly(
    reconciled: Reconciled,
    ledgers: Ledgers,
    settings: Settings,
    outdir: Path,
    *,
    stats: MonthlyStats | None = None,
) -> list[Path]:
    """Write 月度统计_<YYYY-MM>.xlsx into outdir; pass `stats` when already computed."""
    if stats is None:
        stats, _ = compute_stats(reconciled, ledgers, settings)
    path = Path(outdir) / f"月度统计_{reconciled.period.label}.xlsx"
    intro = report_intro("月度统计", reconciled, ledgers, settings, _settings_shown(settings), HOW_TO_READ)
    write_workbook(path, intro, monthly_sheets(stats, settings))
    return [path]


def monthly_sheets(stats: MonthlyStats, settings: Settings) -> list[SheetData]:
    return [
        _salespeople_sheet(stats, settings),
        *(_dimension_sheet(name, header, getattr(stats, attr)) for name, header, attr in DIMENSION_SHEETS),
        trend_sheet(stats),
        _execution_sheet(stats.contracts),
        detail_sheet("发货明细", stats.deliveries, DELIVERIES),
        detail_sheet("回款明细", stats.payments, PAYMENTS),
    ]


def _salespeople_sheet(stats: MonthlyStats, settings: Settings) -> SheetData:
    frame = stats.salespeople.assign(
        sales_rate=shown_rate(stats.salespeople["sales_rate"], NO_TARGET),
        payment_rate=shown_rate(stats.salespeople["payment_rate"], NO_TARGET),
        yoy=shown_rate(stats.salespeople["yoy"], NO_LAST_YEAR),
    )
    actual = MEASURE_LABELS[SALES_MEASURE_COLUMN[settings.stats.sales_measure]]
    chart = Chart(
        "column",
        "目标与实际",
        "业务员",
        ("销售目标", actual, "回款目标", "回款金额"),
        anchor="B" + str(len(frame) + 5),
    )
    return SheetData("业务员统计", frame, SALESPEOPLE_COLUMNS, total_row=True, charts=(chart,))


def shown_rate(rates: pd.Series, missing: str) -> pd.Series:
    """A rate column for the workbook: the number, or the zh-CN word when there is none (never a blank)."""
    return rates.astype(object).where(rates.notna(), missing)


def _dimension_sheet(name: str, header: str, frame: pd.DataFrame) -> SheetData:
    key = frame.columns[0]
    return SheetData(name, frame, (Column(header, "text", key), *DIMENSION_MEASURES), total_row=True)


def trend_sheet(stats: MonthlyStats) -> SheetData:
    """月度趋势: one row per month of the last 12, two columns per salesperson, totals, and native charts."""
    months = Windows.of(stats.period).trend_months
    trend = stats.trend
    person, people = pd.factorize(trend["salesperson"])  # in order of first appearance; NA: −1, left out
    month = positions(trend["month"].astype("str"), pd.Index(months, dtype="str"))
    shown = (person >= 0) & (month >= 0)
    grids = {}  # month × salesperson, 0 where a salesperson has no row for a month
    for measure in ("contract_amount", "payment_amount"):
        grids[measure] = np.zeros((len(months), len(people)), dtype=np.int64)
        values = trend[measure].fillna(0).to_numpy(dtype=np.int64)
        grids[measure][month[shown], person[shown]] = values[shown]
    columns: dict[str, object] = {"月份": pd.Series(months, dtype="str")}
    signed: list[str] = []
    paid: list[str] = []
    for p, name in enumerate(people):
        for measure, label, headers in (
            ("contract_amount", "新签合同额", signed),
            ("payment_amount", "回款金额", paid),
        ):
            headers.append(f"{name}-{label}")
            columns[headers[-1]] = grids[measure][:, p]
    # Built at once: a column at a time, a few hundred salespeople made pandas print a PerformanceWarning per
    # column on the clerk's console.
    frame = pd.DataFrame(columns)
    frame[TREND_TOTALS[0]] = frame[signed].sum(axis=1).astype("int64")
    frame[TREND_TOTALS[1]] = frame[paid].sum(axis=1).astype("int64")
    cols = (Column("月份", "text"), *(Column(str(c), "money") for c in frame.columns[1:]))
    charts = [Chart("line", "近12个月新签合同额与回款金额", "月份", TREND_TOTALS, anchor="A17")]
    if signed:
        charts.append(Chart("stacked", "各业务员新签合同额", "月份", tuple(signed), anchor="A37"))
        charts.append(Chart("stacked", "各业务员回款金额", "月份", tuple(paid), anchor="A57"))
    return SheetData("月度趋势", frame, cols, total_row=True, charts=tuple(charts))


def _execution_sheet(frame: pd.DataFrame) -> SheetData:
    cols = tuple(Column(HEADERS[c], kind, c) for c, kind in EXECUTION_KINDS.items() if c in frame)  # type: ignore[arg-type]
    if not cols:
        frame = pd.DataFrame({"contract_no": pd.Series(dtype="str")})
        cols = (Column(HEADERS["contract_no"], "text", "contract_no"),)
    return SheetData("合同完成明细", frame, cols, total_row=True)


def detail_sheet(name: str, frame: pd.DataFrame, kind: LedgerKind) -> SheetData:
    """The month's ledger rows with the kind's own headers, then their provenance (来源文件, 工作表, 行号)."""
    if not any(c.name in frame for c in kind.columns):
        frame = kind.empty_frame()
    taken = {c.header for c in PROVENANCE_COLUMNS}
    cols = tuple(
        Column(c.label if c.label not in taken else f"明细{c.label}", c.type, c.name)
        for c in kind.columns
        if c.name in frame
    )
    return SheetData(name, frame, cols + tuple(c for c in PROVENANCE_COLUMNS if c.src in frame))


# ---- 说明 ------------------------------------------------------------------------------------------------------


def report_intro(
    title: str,
    reconciled: Reconciled,
    ledgers: Ledgers,
    settings: Settings,
    shown: Sequence[tuple[str, str]],
    how_to_read: Sequence[str],
) -> Intro:
    return Intro(
        title=f"{settings.company.name} {title}",
        period=reconciled.period.label,
        as_of=reconciled.period.as_of,
        generated_at=datetime.now().replace(microsecond=0),
        inputs=ledger_inputs(ledgers),
        settings=shown,
        how_to_read=how_to_read,
    )


def ledger_inputs(ledgers: Ledgers) -> pd.DataFrame:
    """The input files behind the store's rows: name, kind, rows used, sha256 prefix (rejections: 问题清单)."""
    parts = []
    for name, decl in LEDGER_KINDS.items():
        frame = ledgers[name]
        if frame.empty or "_file" not in frame:
            continue
        sha = frame["_sha256"] if "_sha256" in frame else pd.Series("", index=frame.index, dtype="str")
        # Count per (file, sha256) first, then cut the few results' sha256: cutting a million rows' texts
        # took most of the 0.25 s this cost at a million ledger rows.
        per_file = pd.DataFrame({"文件名": frame["_file"], "sha256": sha}).value_counts(sort=False, dropna=False)
        rows = per_file.rename("已用行数").reset_index().dropna(subset=["文件名"])
        rows = rows.assign(sha256=rows["sha256"].fillna("").str[:12], 类型=decl.label)
        parts.append(rows.groupby(["文件名", "sha256", "类型"], sort=False)["已用行数"].sum().reset_index())
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in INPUT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["拒绝行数"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    return out.astype({"已用行数": "Int64"})[list(INPUT_COLUMNS)]


def _settings_shown(settings: Settings) -> list[tuple[str, str]]:
    st = settings.stats
    measure = MEASURE_LABELS[SALES_MEASURE_COLUMN[st.sales_measure]]
    return [
        ("stats.sales_measure（销售完成率口径）", f"{st.sales_measure}（{measure}）"),
        ("stats.seasonality（年度目标分月权重）", "、".join(f"{w:g}" for w in st.seasonality)),
        ("payments.authority（回款以哪方为准）", settings.payments.authority),
    ]
