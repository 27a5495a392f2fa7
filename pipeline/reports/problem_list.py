"""问题清单_<YYYY-MM>.xlsx: every problem, located, sorted by file, sheet and row, for the clerk to fix."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from pipeline.config import Settings
from pipeline.ingest import FileResult
from pipeline.problems import SEVERITY_ZH, Problem, sort_key
from pipeline.reports.workbook import Column, Intro, SheetData, write_workbook

PROBLEM_COLUMNS = (
    Column("级别", source="severity"),
    Column("文件", source="file"),
    Column("工作表", source="sheet"),
    Column("行号", "int", source="row"),
    Column("列", source="column"),
    Column("列名", source="header"),
    Column("原值", source="value"),
    Column("问题说明", source="message"),
    Column("建议", source="suggestion"),
    Column("代码", source="code"),
)
INPUT_COLUMNS = ("文件名", "类型", "已用行数", "拒绝行数", "sha256")
HOW_TO_READ = (
    "每行是一个问题：级别「错误」的行没有计入任何报表，「警告」的行已计入但请核对。",
    "按「文件、工作表、行号、列」找到单元格；问题标注/ 文件夹中有标好颜色和批注的文件副本（红色=错误，黄色=警告）。",
    "在自己的原文件中改正后，把文件重新放进 inbox/，下次运行时会替换旧数据，不会重复计算。",
)


def problems_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    rows = sorted(problems, key=sort_key)
    frame = pd.DataFrame([p.as_dict() for p in rows], columns=[c.src for c in PROBLEM_COLUMNS])
    frame["severity"] = frame["severity"].map(SEVERITY_ZH)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def inputs_frame(results: Sequence[FileResult]) -> pd.DataFrame:
    records = [
        (
            r.name,
            "、".join(sorted({s.kind_label for s in r.sheets if s.kind})) or "未识别",
            sum(s.used for s in r.sheets),
            sum(s.rejected for s in r.sheets),
            r.sha256[:12],
        )
        for r in results
    ]
    frame = pd.DataFrame(records, columns=list(INPUT_COLUMNS))
    return frame.astype({"已用行数": "Int64", "拒绝行数": "Int64"})


def write_problem_list(
    results: Sequence[FileResult],
    path: Path,
    settings: Settings,
    period: str = "",
    as_of: date | None = None,
    extra: Sequence[Problem] = (),
) -> Path:
    """Write the problem list of these files (plus problems found later, e.g. by reconciliation)."""
    problems = [p for r in results for p in r.problems] + list(extra)
    intro = Intro(
        title=f"{settings.company.name} 问题清单",
        period=period,
        as_of=as_of or date.today(),
        generated_at=datetime.now().replace(microsecond=0),
        inputs=inputs_frame(results),
        how_to_read=HOW_TO_READ,
    )
    sheet = SheetData("问题清单", problems_frame(problems), PROBLEM_COLUMNS)
    write_workbook(path, intro, [sheet])
    return path
