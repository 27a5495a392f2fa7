"""`taizhang demo`: a sample company's messy ledgers in a fresh workspace, run end to end, with a short tour."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path

from pipeline.run import RUN_JSON, ProgressFn, RunOutcome, run
from pipeline.sample import COMPANY, write_demo_inbox
from pipeline.workspace import init_workspace

DEMO_YEAR = 2025
DEMO_PERIOD = f"{DEMO_YEAR}-10"  # the sample runs to late November: October is its last complete month


def run_demo(
    target: Path, progress: Callable[[], AbstractContextManager[ProgressFn | None]] = nullcontext
) -> int:
    """Create the demo workspace, run it and print where everything is. `progress` opens the terminal's
    progress bar for the run (closed before the tour is printed)."""
    target.mkdir(parents=True, exist_ok=True)
    if any((target / "inbox").glob("*")) or (target / ".taizhang").exists():
        print(f"{target.resolve()} 已有数据；示例需要一个新目录，例如：taizhang demo demo2")
        return 2
    init_workspace(target)
    _company_config(target)
    files = write_demo_inbox(target / "inbox", year=DEMO_YEAR)
    print(
        f"已在 {(target / 'inbox').resolve()} 生成示例公司「{COMPANY}」的 {len(files)} 个台账文件（故意包含常见的格式问题和几处错误）。"
    )
    with progress() as step:
        outcome = run(target, DEMO_PERIOD, today=date(DEMO_YEAR, 11, 28), progress=step)
    print_tour(target, outcome)
    # The sample's problems are there on purpose: the demo itself succeeded.
    return 0


def _company_config(target: Path) -> None:
    config = target / "taizhang.toml"
    text = config.read_text(encoding="utf-8")
    lines = [f'name = "{COMPANY}"' if line.startswith("name = ") else line for line in text.splitlines()]
    # The demo's files are all written at once; nothing is still being copied.
    lines = ["settle_seconds = 0" if line.startswith("settle_seconds = ") else line for line in lines]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def print_tour(target: Path, outcome: RunOutcome) -> None:
    out = outcome.outdir
    totals = json.loads((out / RUN_JSON).read_text(encoding="utf-8"))["totals"]
    accepted = sum(1 for i in outcome.intakes if i.status == "accepted")
    quarantined = [i.name for i in outcome.intakes if i.status == "quarantined"]
    print(
        f"\n运行完成：读入 {accepted} 个文件"
        + (f"，隔离 {len(quarantined)} 个：{'、'.join(quarantined)}" if quarantined else "")
    )
    print(f"报表在 {out.resolve()}：")
    guide = (
        (
            f"问题清单_{outcome.period.label}.xlsx",
            "销售内勤",
            "哪个文件、哪一行、哪一列有问题，为什么；问题标注/ 中是标好颜色的原文件",
        ),
        (f"合同对账_{outcome.period.label}.xlsx", "财务", "合同执行、回款分配、异常清单、账账核对、变更记录"),
        (
            f"应收账龄_{outcome.period.as_of.isoformat()}.xlsx",
            "财务、经理",
            "账龄明细、客户账龄、坏账准备、催款清单",
        ),
        ("客户对账单/", "财务、业务员", "每个客户一份对账单，可直接打印发给客户确认"),
        (
            f"月度统计_{outcome.period.label}.xlsx",
            "经理",
            "业务员/客户/产品/区域统计、目标完成率、12 个月趋势",
        ),
        (f"业务员考核_{outcome.period.label}.xlsx", "经理、人事", "考核评分、排名、扣罚明细、提成计算"),
        (f"经理简报_{outcome.period.label}.html", "经理", "一页看懂本月情况，双击即可在浏览器打开"),
    )
    for name, who, what in guide:
        if (out / name.rstrip("/")).exists():
            print(f"  · {name}（给{who}）：{what}")
    print("\n值得先看的三个数字：")
    print(
        f"  1. 应收合计 {totals['应收合计']} 元，其中逾期 {totals['逾期合计']} 元——见 应收账龄 的「客户账龄」和「催款清单」。"
    )
    print(
        f"  2. 本月回款 {totals['本月回款']} 元，本月新签合同 {totals['本月新签']} 元——见 月度统计 的「业务员统计」。"
    )
    print(f"  3. 坏账准备合计 {totals['坏账准备合计']} 元——见 应收账龄 的「坏账准备」。")
    print(
        f"\n下一步：打开 问题清单，看看示例里故意放的错误是怎样被找出来的；自己的台账放进 {target / 'inbox'} 后运行 taizhang run。"
    )
