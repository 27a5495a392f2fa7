"""经理简报_<YYYY-MM>.html: one self-contained page for managers, rendered from templates/summary.html.j2."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import pandas as pd
from markupsafe import Markup

from pipeline.normalise import fmt_yuan
from pipeline.reports.charts import bar_chart, line_chart

if TYPE_CHECKING:
    from pipeline.run import ReportContext

TEMPLATE = "summary.html.j2"
TOP_N = 10


def template_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "templates"


def environment() -> jinja2.Environment:
    # Autoescape always: every name in the page comes from a clerk's file.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()), autoescape=True, undefined=jinja2.StrictUndefined
    )


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    vs_last: str  # "+12.5%" / "—"
    vs_target: str  # "完成 83.3%" / ""
    tone: str = ""  # "up" | "down" | "warn" | ""


def rate_text(rate: object) -> str:
    return "无目标" if rate is None or pd.isna(rate) else f"{float(rate):.1%}"  # type: ignore[arg-type]


def change_text(now: int, before: int) -> tuple[str, str]:
    if before == 0:
        return ("—", "")
    change = (now - before) / abs(before)
    return (f"{change:+.1%}", "up" if change > 0 else "down" if change < 0 else "")


def month_sum(frame: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> int:
    if frame.empty:
        return 0
    inside = (frame["date"] >= first) & (frame["date"] <= last)
    return int(frame.loc[inside, "amount"].fillna(0).sum())


def headlines(ctx: ReportContext) -> list[Headline]:
    """新签, 发货, 回款 against last month and target; 应收 and 逾期 as of the balance date."""
    p = ctx.period
    first, last = pd.Timestamp(p.start), pd.Timestamp(min(p.end, p.as_of))
    prev_last = first - pd.Timedelta(days=1)
    prev_first = prev_last.replace(day=1)
    rec = ctx.reconciled
    contracts = (
        rec.contracts[~rec.contracts["void"].astype(bool)] if not rec.contracts.empty else rec.contracts
    )
    sp = ctx.stats.salespeople
    sales_target = int(sp["sales_target"].fillna(0).sum())
    payment_target = int(sp["payment_target"].fillna(0).sum())
    out = []
    for label, frame, target in (
        ("本月新签", contracts, sales_target if ctx.settings.stats.sales_measure == "contract" else 0),
        ("本月发货", rec.deliveries, sales_target if ctx.settings.stats.sales_measure == "delivery" else 0),
        ("本月回款", rec.payments, payment_target),
    ):
        now, before = month_sum(frame, first, last), month_sum(frame, prev_first, prev_last)
        vs_last, tone = change_text(now, before)
        vs_target = f"目标完成 {now / target:.1%}" if target else ""
        out.append(Headline(label, fmt_yuan(now), vs_last, vs_target, tone))
    detail = ctx.aging.detail
    unpaid = int(detail["outstanding"].sum())
    overdue = int(detail.loc[detail["overdue_days"] > 0, "outstanding"].sum())
    share = f"占应收 {overdue / unpaid:.1%}" if unpaid else ""
    out.append(
        Headline("应收余额", fmt_yuan(unpaid), "", f"坏账准备 {fmt_yuan(int(detail['provision'].sum()))}")
    )
    out.append(Headline("逾期金额", fmt_yuan(overdue), "", share, "warn" if overdue else ""))
    return out


def ranking(ctx: ReportContext) -> list[dict[str, str]]:
    scores = ctx.assessment.scores
    return [
        {
            "rank": str(int(r.rank)),
            "name": str(r.salesperson),
            "total": f"{float(r.total):.1f}",
            "sales_rate": rate_text(r.sales_rate),
            "payment_rate": rate_text(r.payment_rate),
            "bottom": "末位" if bool(r.bottom) else "",
        }
        for r in scores.itertuples(index=False)
    ]


def aging_chart(ctx: ReportContext) -> Markup:
    customers = ctx.aging.customers
    labels = list(ctx.aging.buckets.values())
    values = [float(customers[c].fillna(0).sum()) / 100 for c in ctx.aging.buckets]
    return Markup(bar_chart(labels, {"未收金额": values}, "应收账龄分布（元）"))  # noqa: S704 — built escaped


def trend_chart(ctx: ReportContext) -> Markup:
    trend = ctx.stats.trend.groupby("month", sort=True)[["contract_amount", "payment_amount"]].sum()
    months = [str(m) for m in trend.index]
    series = {
        "新签合同额": [float(v) / 100 for v in trend["contract_amount"]],
        "回款金额": [float(v) / 100 for v in trend["payment_amount"]],
    }
    return Markup(line_chart(months, series, "近 12 个月新签与回款（元）"))  # noqa: S704 — built escaped


def overdue_customers(ctx: ReportContext) -> list[dict[str, str]]:
    c = ctx.aging.customers
    top = c[c["overdue_amount"].fillna(0) > 0].sort_values("overdue_amount", ascending=False).head(TOP_N)
    return [
        {
            "customer": str(r.customer),
            "salesperson": str(r.salesperson),
            "overdue": fmt_yuan(int(r.overdue_amount)),
            "unpaid": fmt_yuan(int(r.unpaid)),
        }
        for r in top.itertuples(index=False)
    ]


def credit_breaches(ctx: ReportContext) -> list[dict[str, str]]:
    c = ctx.aging.customers
    over = c[c["over_limit"].fillna(0) > 0].sort_values("over_limit", ascending=False)
    return [
        {
            "customer": str(r.customer),
            "limit": fmt_yuan(int(r.credit_limit)),
            "unpaid": fmt_yuan(int(r.unpaid)),
            "over": fmt_yuan(int(r.over_limit)),
        }
        for r in over.itertuples(index=False)
    ]


def exception_counts(ctx: ReportContext) -> list[tuple[str, int]]:
    ex = ctx.reconciled.exceptions
    if ex.empty:
        return []
    counts = ex.groupby("type").size().sort_values(ascending=False)
    return [(str(k), int(v)) for k, v in counts.items()]


def data_quality(ctx: ReportContext) -> dict[str, object]:
    results = [i.result for i in ctx.intakes if i.result is not None]
    problems = [p for i in ctx.intakes for p in i.problems] + ctx.problems
    return {
        "files": len(ctx.intakes),
        "accepted": sum(1 for i in ctx.intakes if i.status == "accepted"),
        "quarantined": sum(1 for i in ctx.intakes if i.status == "quarantined"),
        "duplicates": sum(1 for i in ctx.intakes if i.status == "duplicate"),
        "rows_used": sum(s.used for r in results for s in r.sheets),
        "rows_rejected": sum(s.rejected for r in results for s in r.sheets),
        "errors": sum(1 for p in problems if p.severity == "error"),
        "warnings": sum(1 for p in problems if p.severity == "warning"),
        "problem_list": f"问题清单_{ctx.period.label}.xlsx",
    }


def write_summary(ctx: ReportContext, outdir: Path) -> list[Path]:
    """Render the page; ledger text is escaped by jinja2 and never marked safe."""
    page = (
        environment()
        .get_template(TEMPLATE)
        .render(
            company=ctx.settings.company.name,
            period=ctx.period.label,
            as_of=ctx.period.as_of.isoformat(),
            generated_at=ctx.generated_at.strftime("%Y-%m-%d %H:%M"),
            headlines=headlines(ctx),
            ranking=ranking(ctx),
            aging_chart=aging_chart(ctx),
            trend_chart=trend_chart(ctx),
            overdue=overdue_customers(ctx),
            breaches=credit_breaches(ctx),
            exceptions=exception_counts(ctx),
            quality=data_quality(ctx),
            reconciliation_file=f"合同对账_{ctx.period.label}.xlsx",
        )
    )
    path = outdir / f"经理简报_{ctx.period.label}.html"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return [path]
