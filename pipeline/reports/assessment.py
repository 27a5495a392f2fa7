"""业务员考核_<YYYY-MM>.xlsx: scores, rank, 末位, penalties, commission and the rules that produced them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config import Settings
from pipeline.model import Ledgers, Reconciled
from pipeline.reports.monthly import NO_TARGET, PROVENANCE_COLUMNS, report_intro, shown_rate
from pipeline.reports.workbook import Chart, Column, SheetData, write_workbook
from pipeline.scoring import Assessment, assess
from pipeline.stats import MonthlyStats, compute_stats

SCORE_COLUMNS = (
    Column("业务员", "text", "salesperson"),
    Column("销售完成率", "rate", "sales_rate"),
    Column("销售得分", "decimal", "sales_score"),
    Column("回款完成率", "rate", "payment_rate"),
    Column("回款得分", "decimal", "payment_score"),
    Column("新客户数", "int", "new_customers"),
    Column("新客户得分", "decimal", "new_customer_score"),
    Column("逾期占比", "rate", "overdue_share"),
    Column("逾期得分", "decimal", "overdue_score"),
    Column("扣分", "decimal", "points"),
    Column("总分", "decimal", "total"),
    Column("排名", "int", "rank"),
    Column("末位", "text", "bottom"),
    Column("新客户目标", "int", "new_customer_target"),
    Column("新客户完成率", "rate", "new_customer_rate"),
)
# Present only when their KPI has a weight.
OPTIONAL_SCORE_COLUMNS = (
    Column("日报天数", "int", "daily_reports"),
    Column("日报完成率", "rate", "daily_report_rate"),
    Column("日报得分", "decimal", "daily_report_score"),
    Column("客户联系量", "int", "contacts"),
    Column("客户联系完成率", "rate", "contacts_rate"),
    Column("客户联系得分", "decimal", "contacts_score"),
)
PENALTY_COLUMNS = (
    Column("日期", "date", "date"),
    Column("业务员", "text", "salesperson"),
    Column("事项", "text", "item"),
    Column("扣款金额", "money", "amount"),
    Column("扣分", "decimal", "points"),
    Column("说明", "text", "note"),
    *PROVENANCE_COLUMNS,
    Column("扣款依据", "text", "amount_basis"),
)
COMMISSION_COLUMNS = (
    Column("业务员", "text", "salesperson"),
    Column("提成基数", "money", "base"),
    Column("回款完成率", "rate", "payment_rate"),
    Column("提成比例", "rate", "commission_rate"),
    Column("提成金额", "money", "commission"),
    Column("扣款合计", "money", "penalty_total"),
    Column("净额", "money", "net"),
)
RULE_COLUMNS = (
    Column("类别", "text", "category"),
    Column("项目", "text", "item"),
    Column("配置项", "text", "key"),
    Column("取值", "text", "value"),
    Column("说明", "text", "note"),
)
BOTTOM_MARK = "末位"
HOW_TO_READ = (
    "总分 = 各指标得分之和 − 扣分；各指标权重、封顶系数和阈值见「评分规则」工作表（来自 taizhang.toml）。",
    "完成率的目标为零或未填写时显示「无目标」，该项得 0 分；提成按第一档比例计算。",
    "排名按总分从高到低，同分同名次；排名最后且总分低于末位分数线的业务员在「末位」列标出。",
    "扣款金额未填写的考核记录按 [penalties] 的默认标准计算，见「扣罚明细」的「扣款依据」列。",
    "金额单位为元；提成金额四舍五入到分。",
)


def write_assessment(
    reconciled: Reconciled,
    ledgers: Ledgers,
    settings: Settings,
    outdir: Path,
    *,
    stats: MonthlyStats | None = None,
    assessment: Assessment | None = None,
) -> list[Path]:
    """Write 业务员考核_<YYYY-MM>.xlsx into outdir; pass `stats` / `assessment` when already computed."""
    if assessment is None:
        if stats is None:
            stats, _ = compute_stats(reconciled, ledgers, settings)
        assessment, _ = assess(stats, reconciled, ledgers, settings)
    path = Path(outdir) / f"业务员考核_{reconciled.period.label}.xlsx"
    shown = assessment.rules.groupby("key", sort=False)["value"].agg("；".join)
    intro = report_intro("业务员考核", reconciled, ledgers, settings, list(shown.items()), HOW_TO_READ)
    write_workbook(path, intro, assessment_sheets(assessment))
    return [path]


def assessment_sheets(a: Assessment) -> list[SheetData]:
    return [
        _scores_sheet(a.scores),
        SheetData("扣罚明细", a.penalties.reindex(columns=[c.src for c in PENALTY_COLUMNS]), PENALTY_COLUMNS),
        _commission_sheet(a.commission),
        SheetData("评分规则", a.rules, RULE_COLUMNS),
    ]


def _scores_sheet(scores: pd.DataFrame) -> SheetData:
    frame = scores.assign(
        sales_rate=shown_rate(scores["sales_rate"], NO_TARGET),
        payment_rate=shown_rate(scores["payment_rate"], NO_TARGET),
        new_customer_rate=shown_rate(scores["new_customer_rate"], NO_TARGET),
        bottom=scores["bottom"].map({True: BOTTOM_MARK, False: None}).astype("str"),
    )
    cols = SCORE_COLUMNS + tuple(c for c in OPTIONAL_SCORE_COLUMNS if c.src in frame)
    chart = Chart("column", "总分", "业务员", ("总分",), anchor="B" + str(len(frame) + 4))
    return SheetData("考核评分", frame, cols, charts=(chart,))


def _commission_sheet(commission: pd.DataFrame) -> SheetData:
    frame = commission.assign(payment_rate=shown_rate(commission["payment_rate"], NO_TARGET))
    return SheetData("提成计算", frame, COMMISSION_COLUMNS, total_row=True)
