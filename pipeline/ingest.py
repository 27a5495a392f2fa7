"""One input file through read → header → normalise → validate: its usable rows per kind and its problems."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from pipeline.config import Settings
from pipeline.header import Layout, Miss, detect_layout
from pipeline.normalise import check_totals, extract_body, normalise_body
from pipeline.preflight import preflight
from pipeline.problems import Problem, column_letter, problem, sort_key
from pipeline.read import RawBook, RawSheet, read_book
from pipeline.validate import apply_kind_rules, duplicate_keys, merge_parts, validate_sheet
from schemas import FILE, LEDGER_KINDS, ROW, SHA, SHEET


@dataclass
class SheetSummary:
    name: str
    kind: str = ""  # code name, "" when not a ledger
    header_row: int | None = None  # Excel row number of the (last) header row
    rows: int = 0
    used: int = 0
    rejected: int = 0
    hidden: bool = False
    skipped: dict[str, int] = field(default_factory=dict)
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # code name → (letter, header)

    @property
    def kind_label(self) -> str:
        return LEDGER_KINDS[self.kind].label if self.kind else ""


@dataclass
class FileResult:
    path: Path
    name: str
    sha256: str
    size: int
    format: str = ""
    sheets: list[SheetSummary] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    released: bool = False  # the frames went to the store and were dropped here

    @property
    def accepted(self) -> bool:
        return self.released or bool(self.frames)

    def release_frames(self) -> None:
        """Drop the parsed rows once the store has them: a run keeps every FileResult until its reports are
        written, and at 1,000,000 rows their frames were a second copy of the data set in memory."""
        self.released = self.accepted
        self.frames = {}

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")

    def locate(self, sheet: str, column: str) -> tuple[str, str]:
        for s in self.sheets:
            if s.name == sheet and column in s.columns:
                return s.columns[column]
        return ("", "")


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def ingest_file(
    path: Path,
    settings: Settings,
    today: date,
    name: str | None = None,
    digest: tuple[str, int] | None = None,
) -> FileResult:
    """Read, normalise and validate every sheet of one file; never raises for bad input."""
    display = name or path.name
    sha, size = digest or file_digest(path)
    result = FileResult(path=path, name=display, sha256=sha, size=size)
    found = preflight(path, settings.limits, name=display, warnings=True)
    result.problems += found  # macro-ignored is a warning: the sheets are still read, the macros never run
    if any(p.severity == "error" for p in found):
        return result
    book, problems = read_book(path)
    result.problems += [_rename(p, display) for p in problems]
    if book is None:
        return result
    result.format = book.format
    per_kind: dict[str, list[pd.DataFrame]] = {}
    misses: list[tuple[RawSheet, Miss]] = []
    for sheet in book.sheets:
        summary, frame, sheet_problems, miss = _ingest_sheet(sheet, book, display, settings, today)
        result.sheets.append(summary)
        result.problems += sheet_problems
        if miss is not None:
            misses.append((sheet, miss))
        if frame is not None and not frame.empty:
            per_kind.setdefault(summary.kind, []).append(frame)
    _combine(result, per_kind, sha)
    _file_level(result, book, misses)
    result.problems = _cap(
        sorted(result.problems, key=sort_key), settings.limits.max_problems_per_file, display
    )
    return result


def _rename(p: Problem, name: str) -> Problem:
    return Problem(**{**p.as_dict(), "file": name})  # type: ignore[arg-type]


def _ingest_sheet(
    sheet: RawSheet, book: RawBook, file_name: str, settings: Settings, today: date
) -> tuple[SheetSummary, pd.DataFrame | None, list[Problem], Miss | None]:
    summary = SheetSummary(name=sheet.name, hidden=sheet.hidden)
    problems: list[Problem] = []
    if sheet.hidden:
        problems.append(problem(file_name, "hidden-sheet", sheet=sheet.name))
    if not any(any(str(v).strip() for v in row) for row in sheet.rows):
        return summary, None, problems, None
    found = detect_layout(sheet, file_name, settings.aliases)
    if not isinstance(found, Layout):
        return summary, None, problems, found
    return (*_take_ledger(sheet, book, found, summary, problems, file_name, today), None)


def _take_ledger(
    sheet: RawSheet,
    book: RawBook,
    layout: Layout,
    summary: SheetSummary,
    problems: list[Problem],
    file_name: str,
    today: date,
) -> tuple[SheetSummary, pd.DataFrame, list[Problem]]:
    kind = layout.kind
    summary.kind = kind.name
    summary.header_row = layout.header_rows[-1] + 1
    summary.columns = {f.name: (column_letter(f.index), f.header) for f in layout.fields}
    body = extract_body(sheet, layout)
    summary.skipped = body.skipped
    norm = normalise_body(body, layout, sheet, file_name, book.date1904)
    hint = f"{file_name} {sheet.name} " + " ".join(
        str(v) for row in sheet.rows[: layout.header_rows[0]] for v in row
    )
    frame = apply_kind_rules(norm.frame, kind, hint)
    problems += norm.problems
    problems += check_totals(body, frame, layout, file_name, sheet.name)
    found, invalid = validate_sheet(frame, layout, file_name, sheet.name, norm.problems, today)
    problems += found
    errors = norm.error_index | invalid
    bad = frame.index.isin(list(errors))
    summary.rows = int(frame[ROW].nunique())
    summary.rejected = int(frame.loc[bad, ROW].nunique())
    summary.used = summary.rows - summary.rejected
    good = frame[~bad]
    return summary, good, problems


def _combine(result: FileResult, per_kind: dict[str, list[pd.DataFrame]], sha: str) -> None:
    """One frame per kind for the file; duplicate keys with different content reject their rows."""
    for kind_name, frames in per_kind.items():
        kind = LEDGER_KINDS[kind_name]
        frame = merge_parts(pd.concat(frames, ignore_index=True), kind)
        frame[SHA] = sha
        letters = {(s.name, c): v[0] for s in result.sheets for c, v in s.columns.items()}
        dups = duplicate_keys(frame, kind, result.name, letters)
        if dups:
            bad = {(p.sheet, p.row) for p in dups if p.severity == "error"}
            keep = [(s, r) not in bad for s, r in zip(frame[SHEET], frame[ROW], strict=True)]
            frame = frame[keep].reset_index(drop=True)
            for s in result.sheets:
                n = sum(1 for sh, _ in bad if sh == s.name)
                s.used, s.rejected = s.used - n, s.rejected + n
            result.problems += dups
        frame[FILE] = result.name
        if not frame.empty:
            result.frames[kind_name] = frame


def _file_level(result: FileResult, book: RawBook, misses: list[tuple[RawSheet, Miss]]) -> None:
    """Sheets that are not ledgers: a missing required column or nothing recognisable."""
    ledger_sheets = [s for s in result.sheets if s.kind]
    for sheet, miss in misses:
        if miss is None:
            if not ledger_sheets:
                continue
            headers = "、".join(_first_texts(sheet))
            result.problems.append(problem(result.name, "unknown-sheet", sheet=sheet.name, detail=headers))
            continue
        closest = "；最接近：" + "、".join(f"「{c}」" for c in miss.closest) if miss.closest else ""
        found = "、".join(h for h in miss.headers if h)[:200]
        result.problems.append(
            problem(
                result.name,
                "missing-column",
                sheet=sheet.name,
                detail="」「".join(miss.missing),
                suggestion=f"这像是{miss.kind.label}；找到的列：{found}{closest}",
            )
        )
    if not ledger_sheets and not any(p.code == "missing-column" for p in result.problems):
        heads = "、".join(t for s in book.sheets for t in _first_texts(s))[:200] or "无"
        result.problems.append(problem(result.name, "no-ledger", detail=heads))


def _first_texts(sheet: RawSheet) -> list[str]:
    for row in sheet.rows[:30]:
        texts = [str(v).strip() for v in row if str(v).strip()]
        if len(texts) >= 2:
            return texts[:8]
    return []


def _cap(problems: list[Problem], limit: int, name: str) -> list[Problem]:
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    note = Problem(
        file=name,
        code="too-many-problems",
        severity="warning",
        message=f"问题过多，另有 {rest} 个问题未列出；请先修正以上问题后重新放入",
    )
    return problems[:limit] + [note]
