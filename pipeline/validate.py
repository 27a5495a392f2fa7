"""Typed ledger frames → (rows that can be used, located problems), through the kind's pandera schema."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pandera.errors as pae

from pipeline.header import Layout
from pipeline.normalise import fmt_yuan
from pipeline.problems import Problem, column_letter, problem
from schemas import ROW, SHEET, LedgerKind

# pandera's built-in check names → our stable codes
_PANDERA_CODES = {"not_nullable": "missing-value", "column_in_dataframe": "missing-value"}
RETURN_TYPES = ("退货", "退回", "退库")
FINANCE_MARKS = ("财务", "银行")


def validate_sheet(
    frame: pd.DataFrame, layout: Layout, file_name: str, sheet: str, known: list[Problem], today: date
) -> tuple[list[Problem], set[int]]:
    """Problems pandera and the kind's row rules find (cells already reported skipped), and the error rows."""
    kind = layout.kind
    seen = {(p.row, p.column) for p in known}
    where = _Where(frame, layout, file_name, sheet)
    out: list[Problem] = []
    errors: set[int] = set()
    try:
        kind.schema().validate(frame, lazy=True)
    except pae.SchemaErrors as exc:
        for case in exc.failure_cases.itertuples(index=False):
            index, column = case.index, case.column
            if index is None or pd.isna(index) or column not in kind.labels():
                continue
            code = _PANDERA_CODES.get(str(case.check).split("(")[0], str(case.check))
            p = where.problem(int(index), column, code, case.failure_case)
            errors.add(int(index))
            if (p.row, p.column) not in seen:
                seen.add((p.row, p.column))
                out.append(p)
    out += _future_dates(frame, kind, where, today)
    out += _amount_mismatch(frame, kind, where)
    return out, errors


class _Where:
    """Locates a frame cell as the user sees it: Excel row, column letter, header as written."""

    def __init__(self, frame: pd.DataFrame, layout: Layout, file_name: str, sheet: str) -> None:
        self.kind, self.file, self.sheet = layout.kind, file_name, sheet
        self.letters = {f.name: column_letter(f.index) for f in layout.fields}
        self.headers = {f.name: f.header for f in layout.fields}
        # Excel row by index label, looked up once: per-cell frame access is slow on large sheets.
        self.rows = dict(zip(frame.index.tolist(), frame[ROW].tolist(), strict=True))

    def problem(self, index: int, column: str, code: str, value: object, detail: str = "") -> Problem:
        text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else value
        if self.kind.col(column).type == "money" and text != "":
            text = fmt_yuan(int(text))  # type: ignore[call-overload]
        return problem(
            self.file,
            code,
            sheet=self.sheet,
            row=int(self.rows[index]),
            column=self.letters.get(column, ""),
            header=self.headers.get(column, self.kind.col(column).label),
            value=text,
            detail=detail,
        )


def _future_dates(frame: pd.DataFrame, kind: LedgerKind, where: _Where, today: date) -> list[Problem]:
    if "date" not in frame.columns or kind.name == "targets":
        return []
    future = frame[(frame["date"] > pd.Timestamp(today)).fillna(False).to_numpy()]
    days = future["date"].dt.strftime("%Y-%m-%d").tolist()
    return [
        where.problem(i, "date", "future-date", d) for i, d in zip(future.index.tolist(), days, strict=True)
    ]


def _amount_mismatch(frame: pd.DataFrame, kind: LedgerKind, where: _Where) -> list[Problem]:
    if not kind.has("quantity") or not kind.has("unit_price"):
        return []
    expected = (frame["quantity"] * frame["unit_price"] * 100).round()
    bad = ((expected - frame["amount"].astype("Float64")).abs() > 100).fillna(False).to_numpy()
    rows = frame.loc[bad, ["amount", "quantity", "unit_price"]].assign(expected=expected[bad])
    return [
        where.problem(i, "amount", "amount-mismatch", amount, detail=f"{q:g} × {u:g} = {fmt_yuan(int(e))}")
        for i, amount, q, u, e in zip(
            rows.index.tolist(),
            rows["amount"].tolist(),
            rows["quantity"].tolist(),
            rows["unit_price"].tolist(),
            rows["expected"].tolist(),
            strict=True,
        )
    ]


def apply_kind_rules(frame: pd.DataFrame, kind: LedgerKind, hint_text: str) -> pd.DataFrame:
    """Meaning the ledger implies rather than states: returns are negative, finance files are finance-side."""
    frame = frame.copy()
    if kind.name == "deliveries":
        is_return = frame["delivery_type"].fillna("").str.contains("|".join(RETURN_TYPES)) | (
            frame["amount"] < 0
        )
        is_return = is_return.fillna(False)
        frame.loc[is_return, "amount"] = -frame.loc[is_return, "amount"].abs()
        frame.loc[is_return, "quantity"] = -frame.loc[is_return, "quantity"].abs()
        frame.loc[is_return, "delivery_type"] = "退货"
    if kind.name == "payments":
        default = "财务" if any(m in hint_text for m in FINANCE_MARKS) else "销售"
        src = frame["source"].fillna("")
        frame["source"] = (
            src.mask(src.str.contains("财务|银行"), "财务")
            .mask(src.str.contains("销售|业务"), "销售")
            .mask(src == "", default)
            .astype("str")
        )
    return frame


def merge_parts(frame: pd.DataFrame, kind: LedgerKind) -> pd.DataFrame:
    """Rows sharing a key whose filled columns do not overlap become one row (the first row's provenance)."""
    if not kind.merge_parts or frame.empty:
        return frame
    key = list(kind.key)
    values = [c.name for c in kind.columns if c.name not in key]
    filled = frame[values].notna().astype(int).groupby([frame[k] for k in key], dropna=False).transform("sum")
    overlapping = (filled > 1).any(axis=1)
    parts = frame[~overlapping]
    merged = parts.groupby(key, dropna=False, sort=False).first().reset_index()
    merged = merged.astype({c: frame[c].dtype for c in merged.columns})
    return pd.concat([merged, frame[overlapping]], ignore_index=True)[frame.columns]


def duplicate_keys(
    frame: pd.DataFrame, kind: LedgerKind, file_name: str, letters: dict[tuple[str, str], str]
) -> list[Problem]:
    """Rows of one file carrying the same natural key: conflicting content is an error, a copy a warning."""
    if kind.occurrence_key or kind.line_column is not None:
        return []
    key = [k for k in kind.key if k in frame.columns]
    dup = frame[frame[key[0]].notna() & frame.duplicated(subset=key, keep=False)]
    if dup.empty:
        return []
    content = [c.name for c in kind.columns if c.name not in key]
    variants = dup.drop_duplicates(subset=key + content).groupby(key, dropna=False).size()
    conflicting = variants[variants > 1].rename("n").reset_index()
    marked = dup.reset_index().merge(conflicting, on=key, how="left").set_index("index")
    copies = dup.duplicated(subset=key + content, keep="first")
    out = []
    for i in dup.index:
        is_conflict = pd.notna(marked.at[i, "n"])
        if not is_conflict and not copies[i]:
            continue
        sheet, row = str(dup.at[i, SHEET]), int(dup.at[i, ROW])
        detail = "/".join(str(dup.at[i, k]) for k in key if not pd.isna(dup.at[i, k]))
        out.append(
            problem(
                file_name,
                "duplicate-key" if is_conflict else "duplicate-row",
                sheet=sheet,
                row=row,
                column=letters.get((sheet, key[0]), ""),
                header=kind.col(key[0]).label,
                value=str(dup.at[i, key[0]]),
                detail=detail,
            )
        )
    return out
