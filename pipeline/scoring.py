"""Assessment of each salesperson for the month: KPI scores, penalties, rank, 末位 flag and commission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import numpy as np
import pandas as pd

from pipeline.config import Calendar, Settings
from pipeline.model import UNASSIGNED, Ledgers, Reconciled
from pipeline.problems import Problem
from pipeline.stats import TARGET_COLUMNS, MonthlyStats, Windows, in_month, rate

# Month figure each commission.base reads from 业务员统计.
BASE_COLUMN = {
    "payments": "payment_amount",
    "contract": "contract_amount",
    "delivery": "delivery_amount",
    "invoice": "invoice_amount",
}
# KPI → (rate column, score column) of the scores frame.
KPI_COLUMNS = {
    "sales_rate": ("sales_rate", "sales_score"),
    "payment_rate": ("payment_rate", "payment_score"),
    "new_customers": ("new_customer_rate", "new_customer_score"),
    "overdue_control": ("overdue_share", "overdue_score"),
    "daily_report_rate": ("daily_report_rate", "daily_report_score"),
    "customer_contacts": ("contacts_rate", "contacts_score"),
}
KPI_LABELS = {
    "sales_rate": "销售完成率",
    "payment_rate": "回款完成率",
    "new_customers": "新客户",
    "overdue_control": "逾期控制",
    "daily_report_rate": "日报完成率",
    "customer_contacts": "客户联系量",
}
DAILY_REPORT = "日报"
NOT_CONTACTS = ("日报", "周报")
BASIS_RECORDED, BASIS_DEFAULT, BASIS_UNKNOWN = "按记录金额", "按默认标准", "事项无默认标准，按 0 计"


@dataclass(frozen=True)
class Assessment:
    """业务员考核 in code-name columns: scores (rank order), penalty rows, commission and the rules applied."""

    scores: pd.DataFrame
    penalties: pd.DataFrame
    commission: pd.DataFrame
    rules: pd.DataFrame  # category, item, key, value, note
    working_days: int


def assess(
    stats: MonthlyStats, reconciled: Reconciled, ledgers: Ledgers, settings: Settings
) -> tuple[Assessment, list[Problem]]:
    """Scores, penalties and commission for stats.period; warnings for penalties that cannot be priced."""
    w = Windows.of(stats.period)
    days = working_days(w.first, w.last, settings.calendar)
    penalties, problems = penalty_rows(ledgers["penalties"], w, settings.penalties)
    people = _people(stats, reconciled, penalties, in_month(ledgers["activities"], w))
    base = stats.salespeople.set_index("salesperson").reindex(people)
    scores = _scores(base, reconciled, ledgers["activities"], penalties, w, days, settings)
    commission = _commission(base, penalties, settings).reindex(scores["salesperson"]).reset_index()
    problems += _missing_activity_warnings(ledgers, settings)
    rules = applied_rules(settings, days)
    return Assessment(scores, penalties, commission, rules, days), problems


# ---- who is assessed -------------------------------------------------------------------------------------------


def _people(
    stats: MonthlyStats, rec: Reconciled, penalties: pd.DataFrame, activities: pd.DataFrame
) -> pd.Index:
    """Who is assessed: a target or a figure this month, open items, 考核记录 or 拜访记录 in the month.

    Salespeople known only from earlier months (left the company?) and 未分配 are not assessed.
    """
    s = stats.salespeople
    month = [c for c in s.columns if c.endswith(("_amount", "_count")) and not c.startswith(("ly_", "ytd_"))]
    busy = (s[month] != 0).any(axis=1) | s[list(TARGET_COLUMNS)].notna().any(axis=1)
    busy |= s["new_customers"] > 0
    names = pd.Index(s.loc[busy, "salesperson"])
    names = names.append(pd.Index(rec.open_items["salesperson"].dropna()))
    for extra in (penalties, activities):
        names = names.append(pd.Index(extra["salesperson"].dropna()))
    names = names.unique()
    return pd.Index(names[names != UNASSIGNED], name="salesperson", dtype="str")


# ---- KPIs ------------------------------------------------------------------------------------------------------


def _scores(
    base: pd.DataFrame,
    rec: Reconciled,
    activities: pd.DataFrame,
    penalties: pd.DataFrame,
    w: Windows,
    days: int,
    settings: Settings,
) -> pd.DataFrame:
    sc = settings.scoring
    out = pd.DataFrame(index=base.index)
    out["sales_rate"] = base["sales_rate"]
    out["payment_rate"] = base["payment_rate"]
    out["new_customers"] = base["new_customers"].fillna(0).astype("Int64")
    out["new_customer_target"] = base["new_customer_target"]
    out["new_customer_rate"] = rate(out["new_customers"], out["new_customer_target"])
    out["overdue_share"] = (
        overdue_share(rec.open_items, w.as_of, sc.overdue_days).reindex(out.index).fillna(0.0)
    )
    if "daily_report_rate" in sc.weights:
        out["daily_reports"] = _daily_reports(activities, w, settings.calendar).reindex(out.index).fillna(0)
        out["daily_report_rate"] = rate(out["daily_reports"], pd.Series(days, index=out.index))
    if "customer_contacts" in sc.weights:
        out["contacts"] = _contacts(activities, w).reindex(out.index).fillna(0).astype("Int64")
        goal = pd.Series(sc.contacts_target_per_day * days, index=out.index)
        out["contacts_rate"] = rate(out["contacts"], goal)
    for kpi, (rate_col, score_col) in KPI_COLUMNS.items():
        if rate_col in out:
            out[score_col] = kpi_score(kpi, out[rate_col], settings)
    points = penalties.groupby("salesperson")["points"].sum()
    out["points"] = points.reindex(out.index).fillna(0).astype("Float64")
    return _ranked(out, sc.bottom_threshold)


def kpi_score(kpi: str, value: pd.Series, settings: Settings) -> pd.Series:
    """One KPI's score: rate KPIs `weight × min(rate, cap)` (无目标 → 0); 逾期控制 `weight × max(0, 1 − r/zero)`."""
    sc = settings.scoring
    weight = sc.weights.get(kpi, 0.0)
    v = value.astype("Float64")
    if kpi == "overdue_control":
        raw = weight * (1 - v / sc.overdue_zero_share).clip(lower=0)
    else:
        raw = weight * v.clip(lower=0, upper=sc.cap).fillna(0)
    return raw.round(2).astype("Float64")


def _ranked(out: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Total, rank (descending, ties share the lowest number) and 末位 (lowest rank, total below threshold)."""
    scores = [score for _, score in KPI_COLUMNS.values() if score in out]
    out["total"] = (out[scores].sum(axis=1) - out["points"]).round(2).astype("Float64")
    out["rank"] = out["total"].rank(method="min", ascending=False).astype("Int64")
    out["bottom"] = (out["rank"] == out["rank"].max()) & (out["total"] < threshold)
    out = out.reset_index().sort_values(["rank", "salesperson"], kind="stable")
    return out.reset_index(drop=True)


def overdue_share(open_items: pd.DataFrame, as_of: date, overdue_days: int) -> pd.Series:
    """Per salesperson: share of open receivables more than `overdue_days` past due at as_of."""
    items = open_items[open_items["outstanding"].fillna(0) > 0]
    late = (pd.Timestamp(as_of) - items["due_date"]).dt.days > overdue_days
    amount = items["outstanding"].astype("int64")
    sums = pd.DataFrame({"salesperson": items["salesperson"], "all": amount, "late": amount.where(late, 0)})
    g = sums.groupby("salesperson")[["all", "late"]].sum()
    return (g["late"] / g["all"]).astype("float64")


def working_days(first: date, last: date, calendar: Calendar) -> int:
    """Working days in [first, last]: weekdays outside calendar.weekend, minus holidays, plus 调休 workdays."""
    return int(is_workday(pd.date_range(first, last, freq="D"), calendar).sum())


def is_workday(days: pd.DatetimeIndex, calendar: Calendar) -> np.ndarray:
    work = ~days.day_of_week.isin(list(calendar.weekend))
    work |= days.isin(pd.to_datetime(list(calendar.workdays)))
    work &= ~days.isin(pd.to_datetime(list(calendar.holidays)))
    return np.asarray(work)


def _activities_in(activities: pd.DataFrame, w: Windows) -> pd.DataFrame:
    inside = activities["date"].between(pd.Timestamp(w.first), pd.Timestamp(w.last))
    return activities[inside].assign(activity_type=activities["activity_type"].fillna("").str.strip())


def _daily_reports(activities: pd.DataFrame, w: Windows, calendar: Calendar) -> pd.Series:
    """Per salesperson: working days of the month with a 日报 filed."""
    a = _activities_in(activities, w)
    a = a[a["activity_type"].str.contains(DAILY_REPORT, regex=False)]
    return (
        a[is_workday(pd.DatetimeIndex(a["date"]), calendar)]
        .groupby("salesperson")["date"]
        .nunique()
        .astype("float64")
    )


def _contacts(activities: pd.DataFrame, w: Windows) -> pd.Series:
    """Per salesperson: distinct (day, customer) contacts — visits, calls — excluding 日报/周报 rows."""
    a = _activities_in(activities, w)
    report = a["activity_type"].str.contains("|".join(NOT_CONTACTS), regex=True)
    a = a[~report & a["customer"].notna()]
    return a.drop_duplicates(["salesperson", "date", "customer"]).groupby("salesperson").size()


# ---- penalties -------------------------------------------------------------------------------------------------


def penalty_rows(
    penalties: pd.DataFrame, w: Windows, defaults: dict[str, int]
) -> tuple[pd.DataFrame, list[Problem]]:
    """考核记录 of the month with 扣款 priced: the recorded amount, else the default for the 事项, else 0 (warned)."""
    inside = penalties["date"].between(pd.Timestamp(w.first), pd.Timestamp(w.last))
    rows = penalties[inside].sort_values([c for c in ("date", "_file", "_sheet", "_row") if c in penalties])
    item = rows["item"].fillna("").str.strip()
    default = item.map(pd.Series(defaults, dtype="Int64")).astype("Int64")
    recorded = rows["amount"].notna()
    out = rows.assign(
        amount=rows["amount"].fillna(default).fillna(0).astype("Int64"),
        points=rows["points"].fillna(0).astype("Float64"),
        amount_basis=np.where(
            recorded, BASIS_RECORDED, np.where(default.notna(), BASIS_DEFAULT, BASIS_UNKNOWN)
        ),
    )
    out["amount_basis"] = out["amount_basis"].astype("str")
    unknown = out[out["amount_basis"] == BASIS_UNKNOWN]
    return out.reset_index(drop=True), [_unknown_item(r) for r in unknown.to_dict("records")]


def _unknown_item(row: dict[str, object]) -> Problem:
    item, where = str(row["item"]), row.get("_row")
    return Problem(
        file=str(row.get("_file") or ""),
        sheet=str(row.get("_sheet") or ""),
        row=None if where is None or pd.isna(where) else int(where),  # type: ignore[call-overload]
        header="扣款金额",
        value=item,
        code="unknown-penalty-item",
        severity="warning",
        message=f"考核事项「{item}」未填扣款金额，且配置 [penalties] 中没有该事项的默认金额，扣款按 0 计",
        suggestion="请在考核记录中填写扣款金额，或在 taizhang.toml 的 [penalties] 中加上该事项",
    )


# ---- commission ------------------------------------------------------------------------------------------------


def _commission(base: pd.DataFrame, penalties: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """提成 = base × tier rate by 回款完成率 (exact comparison; 无目标 → first tier), half-up to the fen."""
    tiers = settings.commission.tiers
    amount = base[BASE_COLUMN[settings.commission.base]].fillna(0).astype("int64")
    tier = tier_index(base["payment_amount"], base["payment_target"], tiers)
    rates = pd.Series([tiers[i][1] for i in tier], index=base.index, dtype="float64")
    out = pd.DataFrame(index=base.index)
    out["base"] = amount.astype("Int64")
    out["payment_rate"] = base["payment_rate"]
    out["commission_rate"] = rates
    out["commission"] = pd.array(
        [commission_fen(int(a), r) for a, r in zip(amount, rates, strict=True)], dtype="Int64"
    )
    fines = penalties.groupby("salesperson")["amount"].sum()
    out["penalty_total"] = fines.reindex(out.index).fillna(0).astype("Int64")
    out["net"] = (out["commission"] - out["penalty_total"]).astype("Int64")
    return out


def tier_index(paid: pd.Series, target: pd.Series, tiers: tuple[tuple[float, float], ...]) -> list[int]:
    """Index of the highest tier whose lower bound paid/target reaches, compared exactly; no target → 0."""
    out = []
    for p, t in zip(paid.fillna(0), target, strict=True):
        if pd.isna(t) or t == 0:
            out.append(0)
            continue
        bounds = [_exact(bound) for bound, _ in tiers]
        out.append(max(i for i, b in enumerate(bounds) if int(p) * b.denominator >= int(t) * b.numerator))
    return out


def commission_fen(base: int, rate_: float) -> int:
    """base × rate rounded half-up (away from zero) to the fen, in integers: the rate is taken as written."""
    r = _exact(rate_)
    q = (abs(base) * r.numerator * 2 + r.denominator) // (2 * r.denominator)
    return q if base >= 0 else -q


def _exact(x: float) -> Fraction:
    """A configured decimal (0.02, 0.8) as the exact fraction its text says, not its binary approximation."""
    return Fraction(str(x))


# ---- warnings and the rules sheet ------------------------------------------------------------------------------


def _missing_activity_warnings(ledgers: Ledgers, settings: Settings) -> list[Problem]:
    if ledgers.has("activities"):
        return []
    return [
        Problem(
            file="taizhang.toml",
            code="no-activity-records",
            severity="warning",
            header=f"scoring.weights.{kpi}",
            message=f"配置了考核指标「{KPI_LABELS[kpi]}」（scoring.weights.{kpi}），但没有拜访记录/日报，该项得分均为 0",
        )
        for kpi in ("daily_report_rate", "customer_contacts")
        if kpi in settings.scoring.weights
    ]


def applied_rules(settings: Settings, days: int) -> pd.DataFrame:
    """评分规则: every weight, cap, threshold, tier and default penalty applied, with its configuration key."""
    sc, cm = settings.scoring, settings.commission
    rows: list[tuple[str, str, str, str, str]] = []
    for kpi, weight in sc.weights.items():
        how = (
            "权重 × max(0, 1 − 逾期占比 ÷ 清零占比)"
            if kpi == "overdue_control"
            else "权重 × min(完成率, 封顶系数)；无目标得 0"
        )
        rows.append(("指标权重", KPI_LABELS[kpi], f"scoring.weights.{kpi}", f"{weight:g}", how))
    rows += [
        ("评分参数", "完成率封顶系数", "scoring.cap", f"{sc.cap:g}", "完成率超过此值按此值计分"),
        (
            "评分参数",
            "逾期天数",
            "scoring.overdue_days",
            str(sc.overdue_days),
            "逾期超过此天数的应收计入逾期占比",
        ),
        (
            "评分参数",
            "逾期占比清零线",
            "scoring.overdue_zero_share",
            f"{sc.overdue_zero_share:.0%}",
            "逾期占比达到此值时逾期控制得 0 分",
        ),
        (
            "评分参数",
            "末位分数线",
            "scoring.bottom_threshold",
            f"{sc.bottom_threshold:g}",
            "排名最后且总分低于此线的业务员标记为末位",
        ),
        (
            "评分参数",
            "销售完成率口径",
            "stats.sales_measure",
            settings.stats.sales_measure,
            {"contract": "新签合同额", "delivery": "发货金额", "invoice": "开票金额"}[
                settings.stats.sales_measure
            ],
        ),
        (
            "评分参数",
            "年度目标分月权重",
            "stats.seasonality",
            "、".join(f"{x:g}" for x in settings.stats.seasonality),
            "只填年度目标时按此权重分到各月，精确到分",
        ),
    ]
    if {"daily_report_rate", "customer_contacts"} & set(sc.weights):
        rows.append(("评分参数", "本月工作日", "calendar", str(days), "周末不计，节假日扣除，调休上班日计入"))
    if "customer_contacts" in sc.weights:
        rows.append(
            (
                "评分参数",
                "每日客户联系目标",
                "scoring.contacts_target_per_day",
                f"{sc.contacts_target_per_day:g}",
                "联系目标 = 每日目标 × 工作日",
            )
        )
    base_label = {
        "payments": "本月回款金额",
        "contract": "本月新签合同额",
        "delivery": "本月发货金额",
        "invoice": "本月开票金额",
    }[cm.base]
    rows.append(("提成", "提成基数", "commission.base", cm.base, base_label))
    for i, (bound, r) in enumerate(cm.tiers):
        upper = f" 且 ＜{cm.tiers[i + 1][0]:.0%}" if i + 1 < len(cm.tiers) else ""
        note = f"回款完成率 ≥{bound:.0%}{upper}" + ("；无回款目标按此档" if i == 0 else "")
        rows.append(("提成", f"第 {i + 1} 档", "commission.tiers", f"{r:.2%}", note))
    for item, fen in settings.penalties.items():
        rows.append(
            ("扣款标准", item, f"penalties.{item}", f"{fen / 100:.2f} 元", "考核记录未填扣款金额时采用")
        )
    return pd.DataFrame(rows, columns=["category", "item", "key", "value", "note"], dtype="str")
