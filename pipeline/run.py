"""The one place that calls the stages in order: inbox → ingest → store → reconcile → reports → archive."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline import __version__
from pipeline.aging import AgingTables, age_receivables
from pipeline.children import Aside, forked, inline
from pipeline.config import Settings, load_settings
from pipeline.inbox import Seen, display_name, move_unique, scan_inbox, settled
from pipeline.ingest import FileResult, file_digest
from pipeline.lock import WorkspaceLock
from pipeline.model import Ledgers, Period, Reconciled
from pipeline.names import merge_customer_names
from pipeline.normalise import fmt_yuan
from pipeline.problems import Problem, problem, sort_key
from pipeline.reconcile import reconcile
from pipeline.reports.pool import Previous, Task, default_workers, run_tasks
from pipeline.reports.reuse import stamped
from pipeline.scoring import Assessment, assess
from pipeline.stats import MonthlyStats, active_contracts, compute_stats
from pipeline.store import FileRecord, SheetRecord, Store, store_path
from pipeline.workers import Job, parse_files

if TYPE_CHECKING:
    from pipeline.reports.statements import StatementSet

RUN_JSON = "run.json"


class CannotRun(Exception):
    """The run could not start or finish writing (exit 3); message in zh-CN."""


def default_period(today: date) -> str:
    """The last complete month."""
    first = date(today.year, today.month, 1)
    last_month = (pd.Timestamp(first) - pd.Timedelta(days=1)).date()
    return f"{last_month.year:04d}-{last_month.month:02d}"


# --- taking files in ------------------------------------------------------------------------------


class Pending:
    """Files taken into the store but not yet moved to archive/: a run that died is resumed from this list."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.names: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.names = {}

    @property
    def shas(self) -> set[str]:
        return set(self.names)

    def add(self, sha: str, name: str) -> None:
        self.names[sha] = name
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.names, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.names = {}
        self.path.unlink(missing_ok=True)


def crash_point(name: str) -> None:
    """Test seam: TAIZHANG_CRASH_AT=<name> kills the process here, as a power cut would."""
    if os.environ.get("TAIZHANG_CRASH_AT") == name:
        os._exit(70)


@dataclass
class Intake:
    """What happened to one inbox file."""

    path: Path
    name: str
    status: str  # accepted | quarantined | duplicate
    result: FileResult | None = None
    record: FileRecord | None = None
    problems: list[Problem] = field(default_factory=list)
    earlier: str = ""  # for a duplicate: the name it was taken in under


@dataclass
class Triage:
    """An inbox file before parsing: what the store already knows about its bytes."""

    seen: Seen
    name: str
    digest: tuple[str, int]
    earlier: FileRecord | None
    resume: bool  # taken in by a run that died before filing it: parse for problems, store nothing


def triage(store: Store, seen: Seen, inbox: Path, pending: Pending) -> Triage:
    digest = file_digest(seen.path)
    earlier = store.has_file(digest[0])
    resume = earlier is not None and digest[0] in pending.shas
    return Triage(seen, display_name(str(seen.path.relative_to(inbox))), digest, earlier, resume)


def duplicate(t: Triage) -> Intake:
    """Same bytes as a file already taken in: recognised before parsing, not read again."""
    assert t.earlier is not None
    note = problem(t.name, "duplicate-file", detail=t.earlier.name)
    return Intake(t.seen.path, t.name, "duplicate", problems=[note], earlier=t.earlier.name)


def store_parsed(store: Store, t: Triage, result: FileResult, pending: Pending) -> Intake:
    if t.resume:
        result.release_frames()  # stored by the run that was interrupted
        return Intake(t.seen.path, t.name, "accepted", result, t.earlier, list(result.problems))
    return _store_result(store, t.seen, result, pending)


def _store_result(store: Store, seen: Seen, result: FileResult, pending: Pending) -> Intake:
    record = FileRecord(
        sha256=result.sha256,
        name=result.name,
        size=result.size,
        dropped_at=datetime.fromtimestamp(seen.mtime).replace(microsecond=0),
        status="accepted" if result.accepted else "quarantined",
        sheets=tuple(SheetRecord(s.name, s.kind or None, s.rows, s.used, s.rejected) for s in result.sheets),
        errors=result.errors,
        warnings=result.warnings,
    )
    if result.accepted:
        pending.add(result.sha256, result.name)
        outcome = store.ingest(record, result.frames)
        record = outcome.file
        result.release_frames()
    else:
        record = store.record_file(record)
    crash_point("after-intake")
    return Intake(seen.path, result.name, record.status, result, record, list(result.problems))


# --- the report stage -----------------------------------------------------------------------------


@dataclass
class ReportContext:
    """Everything report writers read; derived tables are computed once, on first use."""

    settings: Settings
    period: Period
    ledgers: Ledgers
    reconciled: Reconciled
    changes: pd.DataFrame
    catalogue: pd.DataFrame
    intakes: list[Intake]
    problems: list[Problem]
    generated_at: datetime

    @cached_property
    def aging(self) -> AgingTables:
        return age_receivables(self.reconciled, self.settings, self.period.as_of)

    @cached_property
    def scored(self) -> tuple[MonthlyStats, Assessment]:
        stats, assessment, problems = score(self.reconciled, self.ledgers, self.settings)
        self.problems += problems
        return stats, assessment

    @property
    def stats(self) -> MonthlyStats:
        return self.scored[0]

    @property
    def assessment(self) -> Assessment:
        return self.scored[1]

    @cached_property
    def statements(self) -> StatementSet:
        from pipeline.reports.statements import prepare_statements

        return prepare_statements(self.reconciled, self.settings, self.aging.detail)

    def derive_all(self, aside: Aside = inline) -> None:
        """Compute every derived table now (writers running in other processes cannot add to `problems`).
        `aside` computes statistics and scoring beside aging and the statements, e.g. `children.forked`."""
        scored = None
        if "scored" not in self.__dict__:
            # 合同完成明细 is listed here: 133,000 rows at a million ledger rows, 36 MB to pickle through the pipe
            # (0.15 s) against 0.1 s to list them again, while this process has time to spare.
            scored = aside(partial(score, self.reconciled, self.ledgers, self.settings, contract_list=False))
        for name in ("aging", "statements", "inputs"):
            getattr(self, name)
        if scored is not None:
            listed = active_contracts(self.reconciled)
            stats, assessment, problems = scored()
            self.problems += problems
            # as the cached property would have kept them
            self.__dict__["scored"] = (dataclasses.replace(stats, contracts=listed), assessment)

    @cached_property
    def inputs(self) -> pd.DataFrame:
        """文件名, 类型, 已用行数, 拒绝行数, sha256 of every file the store holds (for the 说明 sheets)."""
        cat = (
            self.catalogue[self.catalogue["status"] == "accepted"]
            if not self.catalogue.empty
            else self.catalogue
        )
        return pd.DataFrame(
            {
                "文件名": cat.get("name", pd.Series(dtype="str")),
                "类型": cat.get("kinds", pd.Series(dtype="str")),
                "已用行数": cat.get("rows_used", pd.Series(dtype="Int64")),
                "拒绝行数": cat.get("rows_rejected", pd.Series(dtype="Int64")),
                "sha256": cat.get("sha256", pd.Series(dtype="str")).str[:12],
            }
        ).reset_index(drop=True)


def score(
    reconciled: Reconciled, ledgers: Ledgers, settings: Settings, *, contract_list: bool = True
) -> tuple[MonthlyStats, Assessment, list[Problem]]:
    """Monthly statistics and the assessment built on them, with the problems both found."""
    stats, problems = compute_stats(reconciled, ledgers, settings, contract_list=contract_list)
    assessment, more = assess(stats, reconciled, ledgers, settings)
    return stats, assessment, problems + more


Writer = Callable[[ReportContext, Path], list[Path]]


def _write_reconciliation(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.reports.reconciliation import write_reconciliation

    return write_reconciliation(
        ctx.reconciled,
        ctx.settings,
        outdir,
        changes=ctx.changes,
        inputs=ctx.inputs,
        generated_at=ctx.generated_at,
    )


def _write_aging(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.reports.aging_report import write_aging

    return write_aging(
        ctx.reconciled,
        ctx.settings,
        outdir,
        as_of=ctx.period.as_of,
        tables=ctx.aging,
        inputs=ctx.inputs,
        generated_at=ctx.generated_at,
    )


def _write_statements(ctx: ReportContext, outdir: Path, shard: tuple[int, int] = (0, 1)) -> list[Path]:
    from pipeline.reports.statements import write_statements

    return write_statements(ctx.reconciled, ctx.settings, outdir, prepared=ctx.statements, shard=shard)


def _write_monthly(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.reports.monthly import write_monthly

    return write_monthly(ctx.reconciled, ctx.ledgers, ctx.settings, outdir, stats=ctx.stats)


def _write_assessment(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.reports.assessment import write_assessment

    return write_assessment(
        ctx.reconciled, ctx.ledgers, ctx.settings, outdir, stats=ctx.stats, assessment=ctx.assessment
    )


def _write_summary(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.reports.summary import write_summary

    return write_summary(ctx, outdir)


def _write_problem_list(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.reports.problem_list import write_problem_list

    results = [i.result for i in ctx.intakes if i.result is not None]
    extra = [p for i in ctx.intakes if i.result is None for p in i.problems] + ctx.problems
    path = outdir / f"问题清单_{ctx.period.label}.xlsx"
    write_problem_list(results, path, ctx.settings, ctx.period.label, ctx.period.as_of, extra=extra)
    return [path]


def _write_annotated(ctx: ReportContext, outdir: Path) -> list[Path]:
    from pipeline.annotate import write_annotated

    out = []
    for intake in ctx.intakes:
        if intake.result is not None:
            problems = intake.result.problems + [p for p in ctx.problems if p.file == intake.name]
            path = write_annotated(intake.path, intake.name, problems, outdir / "问题标注")
            out += [path] if path else []
    return out


# Every output of outputs.md, in its order. The workers take them in this order too: the big workbooks first,
# then the customer statements (hundreds of small files) split into shards, which fill both cores to the end.
REPORT_WRITERS: list[Writer] = [
    _write_reconciliation,
    _write_aging,
    _write_monthly,
    _write_assessment,
    _write_statements,
    _write_summary,
    _write_problem_list,
    _write_annotated,
]
SHARDS_PER_WORKER = 4


def task_label(task: Task) -> str:
    """e.g. "reconciliation", "statements 2/4": the writer's name and the shard it writes."""
    func = task.func if isinstance(task, partial) else task
    name = getattr(func, "__name__", "task").removeprefix("_write_")
    if isinstance(task, partial) and len(task.args) > 2:
        k, n = task.args[2]
        return f"{name} {k + 1}/{n}"
    return name


def report_tasks(ctx: ReportContext, outdir: Path, workers: int) -> list[Task]:
    shards = SHARDS_PER_WORKER * workers if workers > 1 else 1
    tasks: list[Task] = []
    for writer in REPORT_WRITERS:
        if writer is _write_statements:
            tasks += [partial(_write_statements, ctx, outdir, (k, shards)) for k in range(shards)]
        else:
            tasks.append(partial(writer, ctx, outdir))
    return tasks


# --- the run --------------------------------------------------------------------------------------


# What the run is doing, steps done, steps in all (0: not counted). At a million ledger rows the stages after
# reading take 10-15 s: the progress bar says what is happening instead of standing on the last file read.
ProgressFn = Callable[[str, int, int], None]
STAGE_LABELS = {
    "load": "加载台账",
    "reconcile": "核对合同、发货、开票与回款",
    "derive": "计算账龄、统计与考核",
    "write": "写出报表",
}


@dataclass
class StageTimes:
    """Wall seconds per stage, recorded in run.json: where a slow run spends its time, without a profiler
    (the parse and write stages run in worker processes a profiler of the run does not see)."""

    seconds: dict[str, float] = field(default_factory=dict)
    tasks: dict[str, float] = field(default_factory=dict)  # wall seconds of each report task, in its worker
    progress: ProgressFn | None = None  # told when each stage starts (the terminal's progress bar)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.progress and name in STAGE_LABELS:
            self.progress(STAGE_LABELS[name], 0, 0)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


@dataclass
class RunOutcome:
    period: Period
    outdir: Path
    intakes: list[Intake]
    skipped: list[tuple[Path, str]]
    settling: list[Path]
    outputs: list[Path]
    problems: list[Problem]
    totals: dict[str, str]
    times: StageTimes = field(default_factory=StageTimes)  # where this run spent its time

    @property
    def exit_code(self) -> int:
        return 1 if self.problems or any(i.problems for i in self.intakes) else 0


def run(
    workspace: Path,
    period_label: str | None = None,
    as_of: date | None = None,
    *,
    today: date | None = None,
    progress: ProgressFn | None = None,
) -> RunOutcome:
    """Take in the inbox, write every output for the period, then archive or quarantine the inputs."""
    today = today or date.today()
    settings = load_settings(workspace)
    period = Period.of(period_label or default_period(today), as_of)
    started = datetime.now().replace(microsecond=0)
    state = store_path(workspace).parent
    with WorkspaceLock(state), Store.open(workspace) as store:
        pending = Pending(state / "pending.json")
        scan = scan_inbox(workspace / "inbox")
        ready, changing = settled(scan.ready, settings.inbox.settle_seconds)
        times = StageTimes(progress=progress)
        with times.stage("intake"):
            intakes = _take_all(store, ready, workspace / "inbox", settings, today, pending, progress)
        outcome = _report(store, workspace, settings, period, intakes, started, times)
        outcome.skipped, outcome.settling = scan.skipped, [s.path for s in changing]
        crash_point("before-archive")
        _file_inputs(workspace, intakes, date.today())
        pending.clear()
    return outcome


def _take_all(
    store: Store,
    ready: list[Seen],
    inbox: Path,
    settings: Settings,
    today: date,
    pending: Pending,
    progress: ProgressFn | None,
) -> list[Intake]:
    """Parse new files in worker processes, then store them one by one in drop order (the later file wins)."""
    files = [
        triage(store, seen, inbox, pending) for seen in sorted(ready, key=lambda s: (s.mtime, str(s.path)))
    ]
    to_parse = [t for t in files if t.earlier is None or t.resume]
    jobs = [Job(t.seen.path, t.name, t.digest) for t in to_parse]
    parsed: dict[str, FileResult] = {}
    order = iter(to_parse)
    nxt = next(order, None)
    intakes: dict[str, Intake] = {}
    for n, result in enumerate(parse_files(jobs, settings, today), start=1):
        if progress:
            progress(f"读取 {result.name}", n, len(jobs))
        parsed[result.name] = result
        # Store in drop order as soon as the next file in that order is parsed; keep the rest waiting.
        while nxt is not None and nxt.name in parsed:
            intakes[nxt.name] = store_parsed(store, nxt, parsed.pop(nxt.name), pending)
            nxt = next(order, None)
    return [intakes[t.name] if t.name in intakes else duplicate(t) for t in files]


def _report(
    store: Store,
    workspace: Path,
    settings: Settings,
    period: Period,
    intakes: list[Intake],
    started: datetime,
    times: StageTimes,
) -> RunOutcome:
    with times.stage("load"):
        ledgers = store.load()
    workers = default_workers(settings.limits.workers)
    aside: Aside = forked if workers > 1 else inline  # limits.workers = 1: everything in this one process
    with times.stage("reconcile"):
        frames, name_problems = merge_customer_names(ledgers.frames, _locator(intakes))
        ledgers = Ledgers(frames)
        reconciled = reconcile(ledgers, settings, period, aside=aside)
    this_run = {i.name for i in intakes}
    problems = [p for p in name_problems if p.file in this_run]
    problems += [p for p in reconciled.problems if p.file in this_run or not p.file]
    ctx = ReportContext(
        settings, period, ledgers, reconciled, store.change_log(), store.files(), intakes, problems, started
    )
    final = workspace / "outbox" / period.label
    previous = previous_outputs(final)
    with times.stage("derive"):
        ctx.derive_all(aside=aside)  # before the writers fork: they share these tables and the problems added
    with _staging(final) as staging:
        outputs, prints, blocks = [], {}, {}
        with times.stage("write"):
            tasks = report_tasks(ctx, staging, workers)
            written_by = run_tasks(tasks, staging, previous, workers, settings.outputs.numbered_rows)
            for done, (task, written) in enumerate(zip(tasks, written_by, strict=True), start=1):
                if times.progress:
                    times.progress(STAGE_LABELS["write"], done, len(tasks))
                outputs += written.paths
                prints.update(written.fingerprints)
                blocks.update(written.blocks)
                times.tasks[task_label(task)] = written.seconds
                crash_point("mid-outputs")
        totals = headline_totals(ctx)
        outcome = RunOutcome(period, final, intakes, [], [], outputs, ctx.problems, totals, times)
        write_run_json(staging / RUN_JSON, outcome, started, staging, stamped(staging, prints), blocks)
        crash_point("before-swap")
    outcome.outputs = [final / p.relative_to(staging) for p in outputs]
    return outcome


def _locator(intakes: list[Intake]) -> Callable[[str, str, str], tuple[str, str]]:
    by_name = {i.name: i.result for i in intakes if i.result is not None}

    def locate(file: str, sheet: str, column: str) -> tuple[str, str]:
        result = by_name.get(file)
        return result.locate(sheet, column) if result else ("", "")

    return locate


@contextmanager
def _staging(final: Path) -> Iterator[Path]:
    """Outputs are written beside their folder and swapped in whole: a run that dies leaves the old ones."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in final.parent.glob(f".{final.name}.*-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from a run that died; we hold the lock
    staging = final.parent / f".{final.name}.tmp-{os.getpid()}"
    staging.mkdir()
    try:
        yield staging
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        if final.exists():
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def headline_totals(ctx: ReportContext) -> dict[str, str]:
    """The figures run.json and the manager summary lead with, as yuan text (exact)."""
    aging, stats = ctx.aging, ctx.stats
    sp = stats.salespeople
    sums = {
        "应收合计": aging.detail["outstanding"].sum(),
        "逾期合计": aging.detail.loc[aging.detail["overdue_days"] > 0, "outstanding"].sum(),
        "预收合计": ctx.reconciled.advances["amount"].sum() if not ctx.reconciled.advances.empty else 0,
        "坏账准备合计": aging.detail["provision"].sum(),
        "本月新签": sp["contract_amount"].sum() if "contract_amount" in sp else 0,
        "本月发货": sp["delivery_amount"].sum() if "delivery_amount" in sp else 0,
        "本月开票": sp["invoice_amount"].sum() if "invoice_amount" in sp else 0,
        "本月回款": sp["payment_amount"].sum() if "payment_amount" in sp else 0,
    }
    return {k: fmt_yuan(int(v) if pd.notna(v) else 0) for k, v in sums.items()}


def previous_outputs(final: Path) -> Previous:
    """The complete output folder of an earlier run of this period, its fingerprints and row blocks (run.json)."""
    try:
        data = json.loads((final / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Previous()
    prints, blocks = data.get("fingerprints", {}), data.get("row_blocks", {})
    if not isinstance(prints, dict):
        return Previous()
    return Previous(final, prints, blocks if isinstance(blocks, dict) else {})


def write_run_json(
    path: Path,
    outcome: RunOutcome,
    started: datetime,
    staging: Path,
    fingerprints: dict[str, str],
    blocks: dict[str, list[str]],
) -> None:
    problems = [p for i in outcome.intakes for p in i.problems] + outcome.problems
    data = {
        "taizhang_version": __version__,
        "period": outcome.period.label,
        "as_of": outcome.period.as_of.isoformat(),
        "started": started.isoformat(),
        "finished": datetime.now().replace(microsecond=0).isoformat(),
        "inputs": [_input_json(i) for i in outcome.intakes],
        "outputs": [str(p.relative_to(staging)) for p in outcome.outputs],
        "totals": outcome.totals,
        "errors": sum(1 for p in problems if p.severity == "error"),
        "warnings": sum(1 for p in problems if p.severity == "warning"),
        # What each workbook was built from: the next run copies files whose fingerprint is unchanged.
        "fingerprints": fingerprints,
        "seconds": outcome.times.seconds,  # wall time per stage: intake, load, reconcile, derive, write
        "write_seconds": outcome.times.tasks,  # per report task; they run side by side on the cores
        # Where each big sheet's row blocks are in its workbook: the next run copies the unchanged ones.
        "row_blocks": blocks,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _input_json(i: Intake) -> dict[str, object]:
    sheets = i.result.sheets if i.result else []
    return {
        "name": i.name,
        "sha256": i.result.sha256 if i.result else (i.record.sha256 if i.record else ""),
        "status": i.status,
        "sheets": [
            {"name": s.name, "kind": s.kind or None, "rows": s.rows, "used": s.used, "rejected": s.rejected}
            for s in sheets
        ],
        "errors": sum(1 for p in i.problems if p.severity == "error"),
        "warnings": sum(1 for p in i.problems if p.severity == "warning"),
    }


def _file_inputs(workspace: Path, intakes: list[Intake], today: date) -> None:
    """Last: accepted and duplicate files to archive/<date>/, unreadable ones to quarantine/<date>/."""
    day = today.isoformat()
    for intake in intakes:
        if not intake.path.exists():
            continue
        if intake.status == "quarantined":
            target = move_unique(intake.path, workspace / "quarantine" / day)
            _write_problems_beside(target, intake.problems)
        else:
            move_unique(intake.path, workspace / "archive" / day)


def _write_problems_beside(target: Path, problems: list[Problem]) -> None:
    note = target.with_name(target.name + ".问题.txt")
    lines = [p.render() for p in sorted(problems, key=sort_key)] or ["无法识别为任何台账"]
    # BOM so that Windows Notepad shows the Chinese text correctly.
    note.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
