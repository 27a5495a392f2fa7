"""Assessment: the worked example's scores, rank, 末位, 扣款 and 提成; optional KPIs; configuration errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from test_stats import (
    DF,
    HB,
    LN,
    NF,
    ZW,
    by_name,
    contracts_frame,
    events,
    frame,
    open_items_frame,
    read_sheet,
    reconciled,
    worked_example,
    yuan,
)

from pipeline.config import ConfigError, Settings, settings_from_dict
from pipeline.model import Ledgers, Period, Reconciled
from pipeline.scoring import Assessment, assess, commission_fen, working_days
from pipeline.stats import compute_stats

PCOLS = ("date", "customer", "salesperson", "amount")


def run(rec: Reconciled, ledgers: Ledgers, settings: Settings | None = None) -> tuple[Assessment, list[Any]]:
    settings = settings or Settings()
    stats, _ = compute_stats(rec, ledgers, settings)
    return assess(stats, rec, ledgers, settings)


def targets(*rows: tuple[str, int | None, int | None, int | None]) -> pd.DataFrame:
    """October 2025 targets: (salesperson, sales, payment in yuan, new customers)."""
    return frame(
        "targets",
        [
            {
                "salesperson": p,
                "year": 2025,
                "month": 10,
                "sales_target": None if s is None else yuan(s),
                "payment_target": None if pay is None else yuan(pay),
                "new_customer_target": n,
            }
            for p, s, pay, n in rows
        ],
    )


# ---- the worked example ----------------------------------------------------------------------------------------


def test_worked_example_scores() -> None:
    a, problems = run(*worked_example())
    assert problems == []
    s = by_name(a.scores)
    got = {
        p: (s[p]["sales_score"], s[p]["payment_score"], s[p]["new_customer_score"], s[p]["overdue_score"],
            s[p]["total"], s[p]["rank"], s[p]["bottom"])
        for p in (ZW, LN)
    }  # fmt: skip
    assert got == {ZW: (20, 0, 0, 10, 30, 2, True), LN: (48, 36, 10, 6, 100, 1, False)}
    assert s[LN]["overdue_share"] == pytest.approx(0.2)  # 15,000 of 75,000 more than 90 days overdue
    assert a.scores["salesperson"].tolist() == [LN, ZW]


def test_worked_example_penalties_and_commission() -> None:
    a, _ = run(*worked_example())
    assert [(r.salesperson, r.item, r.amount, r.amount_basis) for r in a.penalties.itertuples()] == [
        (ZW, "客户投诉", yuan(100), "按默认标准"),
        (LN, "未按时提交周报", yuan(30), "按默认标准"),
    ]
    c = by_name(a.commission)
    assert (c[ZW]["commission_rate"], c[ZW]["commission"], c[ZW]["penalty_total"], c[ZW]["net"]) == (
        0.01,
        0,
        yuan(100),
        -yuan(100),
    )
    assert (c[LN]["base"], c[LN]["commission_rate"], c[LN]["commission"], c[LN]["net"]) == (
        yuan(45_000),
        0.02,
        yuan(900),
        yuan(870),
    )


def _check_assessment_workbook(path: Path) -> None:
    assert path.name == "业务员考核_2025-10.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "考核评分", "扣罚明细", "提成计算", "评分规则"]
    headers = list(next(wb["考核评分"].iter_rows(max_row=1, values_only=True)))
    assert headers[:13] == [
        "业务员",
        "销售完成率",
        "销售得分",
        "回款完成率",
        "回款得分",
        "新客户数",
        "新客户得分",
        "逾期占比",
        "逾期得分",
        "扣分",
        "总分",
        "排名",
        "末位",
    ]
    scores = {r["业务员"]: r for r in read_sheet(path, "考核评分")}
    keys = ("销售得分", "回款得分", "新客户得分", "逾期得分", "总分", "排名", "末位")
    assert [scores[ZW][k] for k in keys] == [20, 0, 0, 10, 30, 2, "末位"]
    assert [scores[LN][k] for k in keys] == [48, 36, 10, 6, 100, 1, None]
    assert [f"{scores[p][k]:.1%}" for p in (ZW, LN) for k in ("销售完成率", "回款完成率")] == [
        "50.0%",
        "0.0%",
        "133.3%",
        "90.0%",
    ]
    fines = {r["业务员"]: r["扣款金额"] for r in read_sheet(path, "扣罚明细")}
    assert fines == {ZW: 100, LN: 30}
    pay = {r["业务员"]: r for r in read_sheet(path, "提成计算")}
    assert [f"{pay[p]['提成金额']:.2f}" for p in (ZW, LN)] == ["0.00", "900.00"]
    assert [pay[p]["扣款合计"] for p in (ZW, LN)] == [100, 30]
    assert [f"{pay[p]['提成比例']:.0%}" for p in (ZW, LN)] == ["1%", "2%"]
    assert [pay[p]["净额"] for p in (ZW, LN)] == [-100, 870]
    assert wb["提成计算"]["E2"].number_format.startswith("#,##0.00")
    rules = read_sheet(path, "评分规则")
    keys_listed = {r["配置项"] for r in rules}
    assert {
        "scoring.weights.sales_rate",
        "scoring.weights.overdue_control",
        "scoring.cap",
        "scoring.overdue_days",
        "scoring.overdue_zero_share",
        "scoring.bottom_threshold",
        "commission.base",
        "commission.tiers",
        "penalties.客户投诉",
        "penalties.送货记录未按期完成",
    } <= keys_listed
    assert sum(r["配置项"] == "commission.tiers" for r in rules) == 3


def test_assessment_workbook_worked_example(tmp_path: Path) -> None:
    from pipeline.reports.assessment import write_assessment

    rec, ledgers = worked_example()
    (path,) = write_assessment(rec, ledgers, Settings(), tmp_path)
    _check_assessment_workbook(path)


def test_worked_example_end_to_end(tmp_path: Path) -> None:
    """From the clerks' files: ingest → reconcile → both workbooks, read back by header name."""
    from pipeline.ingest import ingest_file
    from pipeline.reconcile import reconcile
    from pipeline.reports.assessment import write_assessment
    from pipeline.reports.monthly import write_monthly
    from pipeline.sample import write_worked_example

    settings = Settings()
    parts: dict[str, list[pd.DataFrame]] = {}
    for path in write_worked_example(tmp_path / "inbox"):
        for kind, f in ingest_file(path, settings, date(2025, 11, 10)).frames.items():
            parts.setdefault(kind, []).append(f)
    ledgers = Ledgers({kind: pd.concat(fs) for kind, fs in parts.items()})
    rec = reconcile(ledgers, settings, Period.of("2025-10"))
    stats, _ = compute_stats(rec, ledgers, settings)
    (monthly,) = write_monthly(rec, ledgers, settings, tmp_path / "out", stats=stats)
    (assessment,) = write_assessment(rec, ledgers, settings, tmp_path / "out", stats=stats)
    _check_assessment_workbook(assessment)
    rows = {r["业务员"]: r for r in read_sheet(monthly, "业务员统计")}
    assert [rows[LN][h] for h in ("新签合同额", "发货金额", "回款金额", "新客户数")] == [
        80_000,
        30_000,
        45_000,
        1,
    ]
    assert [rows[ZW][h] for h in ("累计新签合同额", "累计发货金额", "累计回款金额")] == [
        350_000,
        250_000,
        150_000,
    ]
    assert [rows[LN][h] for h in ("累计新签合同额", "累计发货金额", "累计回款金额")] == [
        200_000,
        150_000,
        85_000,
    ]


# ---- rank, targets, rosters ------------------------------------------------------------------------------------


def test_ties_share_a_rank_and_bottom_flags_all_of_the_lowest() -> None:
    contracts = contracts_frame(
        [
            ("C1", "2025-10-02", HB, "甲", yuan(100)),
            ("C2", "2025-10-02", DF, "乙", yuan(50)),
            ("C3", "2025-10-02", NF, "丙", yuan(50)),
            ("C4", "2025-10-03", HB, "丁", yuan(100)),
        ]
    )
    t = targets(
        ("甲", 100, None, None), ("乙", 100, None, None), ("丙", 100, None, None), ("丁", 100, None, None)
    )
    a, _ = run(reconciled("2025-10", contracts), Ledgers({"targets": t}))
    s = by_name(a.scores)
    assert {p: (s[p]["total"], s[p]["rank"], s[p]["bottom"]) for p in s} == {
        "甲": (50, 1, False),
        "丁": (50, 1, False),
        "乙": (30, 3, True),
        "丙": (30, 3, True),
    }


def test_bottom_needs_a_total_below_the_threshold() -> None:
    contracts = contracts_frame(
        [("C1", "2025-10-02", HB, ZW, yuan(100)), ("C2", "2025-10-02", DF, LN, yuan(90))]
    )
    settings = settings_from_dict({"scoring": {"bottom_threshold": 40}})
    t = targets((ZW, 100, None, None), (LN, 100, None, None))
    a, _ = run(reconciled("2025-10", contracts), Ledgers({"targets": t}), settings)
    assert by_name(a.scores)[LN]["total"] == 46 and not a.scores["bottom"].any()


def test_no_target_scores_zero_and_takes_the_first_tier(tmp_path: Path) -> None:
    from pipeline.reports.assessment import write_assessment

    contracts = contracts_frame([("C1", "2025-10-02", HB, ZW, yuan(1_000))])
    payments = events("payments", [("2025-10-05", HB, ZW, yuan(50_000))], PCOLS)
    rec = reconciled("2025-10", contracts, payments=payments)
    a, _ = run(rec, Ledgers({}))
    s = by_name(a.scores)[ZW]
    assert pd.isna(s["sales_rate"]) and pd.isna(s["payment_rate"]) and pd.isna(s["new_customer_rate"])
    assert (s["sales_score"], s["payment_score"], s["new_customer_score"], s["overdue_score"]) == (
        0,
        0,
        0,
        10,
    )
    c = by_name(a.commission)[ZW]
    assert (c["commission_rate"], c["commission"]) == (0.01, yuan(500))
    (path,) = write_assessment(rec, Ledgers({}), Settings(), tmp_path)
    (row,) = read_sheet(path, "考核评分")
    assert (row["销售完成率"], row["回款完成率"], row["销售得分"]) == ("无目标", "无目标", 0)
    assert read_sheet(path, "提成计算")[0]["回款完成率"] == "无目标"


def test_activity_without_contracts_is_assessed() -> None:
    payments = events("payments", [("2025-10-05", HB, "王强", yuan(8_000))], PCOLS)
    activities = frame(
        "activities", [{"date": "2025-10-09", "salesperson": "赵敏", "customer": DF, "activity_type": "拜访"}]
    )
    t = targets(("王强", 10_000, 10_000, 1))
    rec = reconciled("2025-10", contracts_frame([]), payments=payments)
    a, _ = run(rec, Ledgers({"targets": t, "activities": activities}))
    s = by_name(a.scores)
    assert set(s) == {"王强", "赵敏"}
    assert (s["王强"]["sales_score"], s["王强"]["payment_score"], s["王强"]["total"]) == (0, 32, 42)
    assert (s["赵敏"]["total"], s["赵敏"]["rank"]) == (10, 2)


def test_overdue_share_counts_only_items_past_the_threshold() -> None:
    items = open_items_frame(
        [
            (HB, ZW, "C1", "D1", "2025-05-01", "2025-07-31", yuan(30)),  # 92 days overdue
            (HB, ZW, "C1", "D2", "2025-07-01", "2025-08-02", yuan(70)),
        ]  # exactly 90 days: not more than 90
    )
    a, _ = run(reconciled("2025-10", contracts_frame([]), open_items=items), Ledgers({}))
    s = by_name(a.scores)[ZW]
    assert s["overdue_share"] == pytest.approx(0.3) and s["overdue_score"] == 4


# ---- penalties and commission ----------------------------------------------------------------------------------


def test_penalty_amounts_points_and_unknown_items() -> None:
    penalties = frame(
        "penalties",
        [
            {"date": "2025-10-03", "salesperson": ZW, "item": "客户投诉", "amount": yuan(250), "points": 2},
            {"date": "2025-10-04", "salesperson": ZW, "item": "迟到", "points": 1.5},
            {"date": "2025-09-30", "salesperson": ZW, "item": "客户投诉"},  # another month
        ],
        source="考核.xlsx",
    )
    a, problems = run(reconciled("2025-10", contracts_frame([])), Ledgers({"penalties": penalties}))
    assert [(r.item, r.amount, r.points) for r in a.penalties.itertuples()] == [
        ("客户投诉", yuan(250), 2),
        ("迟到", 0, 1.5),
    ]
    assert [(p.file, p.row, p.code, p.severity) for p in problems] == [
        ("考核.xlsx", 3, "unknown-penalty-item", "warning")
    ]
    assert "迟到" in problems[0].message
    s = by_name(a.scores)[ZW]
    assert (s["points"], s["total"]) == (3.5, 6.5)
    assert by_name(a.commission)[ZW]["penalty_total"] == yuan(250)


def test_commission_rounds_half_up_in_integers() -> None:
    assert commission_fen(yuan(45_000), 0.02) == yuan(900)
    assert commission_fen(100, 0.005) == 1 and commission_fen(-100, 0.005) == -1
    assert commission_fen(333, 0.015) == 5  # 4.995 fen
    assert commission_fen(12345, 0.015) == 185  # 185.175 fen
    assert commission_fen(10**15 + 50, 0.01) == 10**13 + 1  # exact beyond float precision


def test_commission_tier_bounds_are_exact_and_base_configurable() -> None:
    contracts = contracts_frame(
        [("C1", "2025-10-01", HB, ZW, yuan(30_000)), ("C2", "2025-10-01", DF, LN, yuan(1))]
    )
    payments = events(
        "payments", [("2025-10-05", HB, ZW, yuan(80_000)), ("2025-10-05", DF, LN, 7_999_999)], PCOLS
    )
    t = targets((ZW, None, 100_000, None), (LN, None, 100_000, None))
    rec = reconciled("2025-10", contracts, payments=payments)
    c = by_name(run(rec, Ledgers({"targets": t}))[0].commission)
    assert (c[ZW]["commission_rate"], c[LN]["commission_rate"]) == (0.02, 0.01)
    settings = settings_from_dict({"commission": {"base": "contract", "tiers": [[0, 0], [0.8, 0.05]]}})
    c = by_name(run(rec, Ledgers({"targets": t}), settings)[0].commission)
    assert (c[ZW]["base"], c[ZW]["commission"], c[LN]["commission"]) == (yuan(30_000), yuan(1_500), 0)


# ---- optional KPIs ---------------------------------------------------------------------------------------------


def test_working_days_exclude_weekends_and_follow_the_calendar() -> None:
    assert working_days(date(2025, 10, 1), date(2025, 10, 31), Settings().calendar) == 23
    cal = settings_from_dict(
        {
            "calendar": {
                "holidays": [
                    "2025-10-01",
                    "2025-10-02",
                    "2025-10-03",
                    "2025-10-06",
                    "2025-10-07",
                    "2025-10-08",
                ],
                "workdays": ["2025-10-11"],
            }
        }
    ).calendar
    assert working_days(date(2025, 10, 1), date(2025, 10, 31), cal) == 18


def test_daily_report_rate_excludes_weekends() -> None:
    weekdays = [d for d in pd.date_range("2025-10-01", "2025-10-31") if d.weekday() < 5]
    saturdays = [d for d in pd.date_range("2025-10-01", "2025-10-31") if d.weekday() == 5]
    rows = [{"date": d, "salesperson": ZW, "activity_type": "日报"} for d in weekdays[:20] + saturdays]
    rows += [{"date": weekdays[0], "salesperson": ZW, "activity_type": "日报"}]  # the same day twice
    rows += [{"date": d, "salesperson": LN, "activity_type": "日报"} for d in weekdays]
    settings = settings_from_dict(
        {
            "scoring": {
                "weights": {
                    "sales_rate": 30,
                    "payment_rate": 30,
                    "new_customers": 10,
                    "overdue_control": 10,
                    "daily_report_rate": 20,
                }
            }
        }
    )
    a, problems = run(
        reconciled("2025-10", contracts_frame([])),
        Ledgers({"activities": frame("activities", rows)}),
        settings,
    )
    s = by_name(a.scores)
    assert a.working_days == 23 and problems == []
    assert (s[ZW]["daily_reports"], round(s[ZW]["daily_report_rate"], 4)) == (20, round(20 / 23, 4))
    assert s[ZW]["daily_report_score"] == round(20 * 20 / 23, 2) and s[LN]["daily_report_score"] == 20
    assert "scoring.weights.daily_report_rate" in set(a.rules["key"])


def test_customer_contacts_kpi() -> None:
    rows = [
        {"date": f"2025-10-{d:02d}", "salesperson": ZW, "customer": c, "activity_type": "拜访"}
        for d in range(1, 24)
        for c in (HB, DF)
    ]
    rows += [
        {"date": "2025-10-01", "salesperson": ZW, "customer": HB, "activity_type": "电话"},  # same contact
        {"date": "2025-10-02", "salesperson": ZW, "customer": NF, "activity_type": "周报"},
    ]  # not a contact
    settings = settings_from_dict(
        {
            "scoring": {
                "weights": {"sales_rate": 40, "payment_rate": 40, "customer_contacts": 20},
                "contacts_target_per_day": 2,
            }
        }
    )
    a, _ = run(
        reconciled("2025-10", contracts_frame([])),
        Ledgers({"activities": frame("activities", rows)}),
        settings,
    )
    s = by_name(a.scores)[ZW]
    assert s["contacts"] == 46 and s["contacts_rate"] == 1.0 and s["contacts_score"] == 20
    assert "overdue_score" not in a.scores or s["overdue_score"] == 0


def test_optional_kpi_without_records_warns() -> None:
    settings = settings_from_dict(
        {"scoring": {"weights": {"sales_rate": 40, "payment_rate": 40, "daily_report_rate": 20}}}
    )
    contracts = contracts_frame([("C1", "2025-10-02", HB, ZW, yuan(1))])
    a, problems = run(reconciled("2025-10", contracts), Ledgers({}), settings)
    assert [p.code for p in problems] == ["no-activity-records"]
    assert by_name(a.scores)[ZW]["daily_report_score"] == 0


# ---- configuration errors name the key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"scoring": {"weights": {"sales_rate": 50, "payment_rate": 40}}}, "scoring.weights"),
        (
            {"scoring": {"weights": {"sales_rate": 50, "payment_rate": 40, "smiles": 10}}},
            "scoring.weights.smiles",
        ),
        ({"scoring": {"weights": {"sales_rate": 110, "payment_rate": -10}}}, "scoring.weights.payment_rate"),
        ({"scoring": {"weights": {"sales_rate": "40"}}}, "scoring.weights"),
        ({"scoring": {"cap": 0}}, "scoring.cap"),
        ({"scoring": {"overdue_zero_share": 0}}, "scoring.overdue_zero_share"),
        ({"scoring": {"overdue_days": -1}}, "scoring.overdue_days"),
        ({"scoring": {"contacts_target_per_day": 0}}, "scoring.contacts_target_per_day"),
        ({"scoring": {"bonus": 1}}, "scoring.bonus"),
        ({"commission": {"tiers": [[0.8, 0.02], [0, 0.01]]}}, "commission.tiers"),
        ({"commission": {"tiers": [[0, 0.01], [0.8]]}}, "commission.tiers"),
        ({"commission": {"tiers": [[0.1, 0.01]]}}, "commission.tiers"),
        ({"commission": {"tiers": [[0, 0.01], [0.8, 2]]}}, "commission.tiers"),
        ({"commission": {"tiers": "1%"}}, "commission.tiers"),
        ({"commission": {"base": "profit"}}, "commission.base"),
        ({"stats": {"sales_measure": "orders"}}, "stats.sales_measure"),
        ({"stats": {"seasonality": [1] * 11}}, "stats.seasonality"),
        ({"penalties": {"客户投诉": -5}}, "penalties.客户投诉"),
        ({"calendar": {"weekend": [7]}}, "calendar.weekend"),
        ({"calendar": {"holidays": ["10月1日"]}}, "calendar.holidays"),
    ],
)
def test_malformed_settings_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=f"「{key}"):
        settings_from_dict(raw)


def test_rules_sheet_lists_the_configuration_applied() -> None:
    settings = settings_from_dict(
        {
            "scoring": {"cap": 1.5, "weights": {"sales_rate": 50, "payment_rate": 50}},
            "penalties": {"迟到": 20},
            "commission": {"tiers": [[0, 0.01], [0.9, 0.025]]},
        }
    )
    a, _ = run(reconciled("2025-10", contracts_frame([])), Ledgers({}), settings)
    rules = {(r.key, r.value) for r in a.rules.itertuples()}
    assert {
        ("scoring.cap", "1.5"),
        ("scoring.weights.sales_rate", "50"),
        ("penalties.迟到", "20.00 元"),
        ("commission.tiers", "2.50%"),
    } <= rules
    assert "scoring.weights.new_customers" not in {k for k, _ in rules}


def test_an_empty_month_writes_both_workbooks(tmp_path: Path) -> None:
    from pipeline.reports.assessment import write_assessment
    from pipeline.reports.monthly import write_monthly

    rec = reconciled("2025-10", contracts_frame([]))
    a, problems = run(rec, Ledgers({}))
    assert a.scores.empty and problems == []
    (monthly,) = write_monthly(rec, Ledgers({}), Settings(), tmp_path)
    (assessment,) = write_assessment(rec, Ledgers({}), Settings(), tmp_path)
    assert read_sheet(monthly, "业务员统计") == [] and len(read_sheet(monthly, "月度趋势")) == 12
    assert read_sheet(assessment, "考核评分") == []


def test_only_this_months_team_is_assessed() -> None:
    """Earlier-months-only salespeople (left?) and 未分配 are listed in 业务员统计 but not assessed."""
    contracts = contracts_frame(
        [
            ("C0", "2024-10-02", HB, "老王", yuan(100)),
            ("C1", "2025-03-02", HB, "小陈", yuan(100)),
            ("C2", "2025-10-02", HB, ZW, yuan(100)),
        ]
    )
    payments = events("payments", [("2025-10-05", DF, "未分配", yuan(10))], PCOLS)
    rec = reconciled("2025-10", contracts, payments=payments)
    stats, _ = compute_stats(rec, Ledgers({}), Settings())
    assert set(stats.salespeople["salesperson"]) == {"老王", "小陈", ZW, "未分配"}
    a, _ = run(rec, Ledgers({}))
    assert a.scores["salesperson"].tolist() == [ZW]


def test_scoring_in_a_forked_child_hands_back_the_same_tables_and_problems() -> None:
    """A run computes statistics and scoring in a child process beside aging (run.ReportContext.derive_all);
    the child leaves 合同完成明细 to the parent, which lists it."""
    import dataclasses
    from datetime import datetime

    from test_reconcile import OCT
    from test_reconcile import worked_example as ledger_example

    from pipeline.children import forked, inline
    from pipeline.reconcile import reconcile
    from pipeline.run import ReportContext
    from pipeline.stats import MonthlyStats

    settings = settings_from_dict(
        {"scoring": {"weights": {"sales_rate": 40, "payment_rate": 40, "daily_report_rate": 20}}}
    )
    ledgers = ledger_example()
    rec = reconcile(ledgers, settings, OCT)

    def derived(aside: Callable[[Callable[[], object]], Callable[[], object]]) -> ReportContext:
        ctx = ReportContext(settings, OCT, ledgers, rec, pd.DataFrame(), pd.DataFrame(), [], [], datetime(2025, 11, 1))
        ctx.derive_all(aside)
        return ctx

    here, there = derived(inline), derived(forked)
    for field in dataclasses.fields(MonthlyStats):
        if field.name != "period":
            pd.testing.assert_frame_equal(getattr(there.stats, field.name), getattr(here.stats, field.name))
    assert len(there.stats.contracts) >= 3  # 合同完成明细, listed by the parent
    pd.testing.assert_frame_equal(there.assessment.scores, here.assessment.scores)
    assert [p.code for p in there.problems] == [p.code for p in here.problems] and there.problems
