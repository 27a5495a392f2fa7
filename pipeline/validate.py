"""Typed ledger frames → (rows that can be used, located problems), through the kind's pandera schema."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pandera.errors as pae

from pipeline.header import Layout
from pipeline.normalise import fmt_yuan
from pipeline.problems import Problem, column_letter, problem
from schemas import LedgerKind

# pandera's built-in check names → our stable codes
_PANDERA_CODES = {"not_nullable": "missing-value", "column_in_dataframe": "missing-value"}
RETURN_TYPES = ("退货", "退回", "退库")
FINANCE_MARKS = ("财务", "银行")


def validate_sheet(
    frame: pd.DataFrame, layout: Layout, file_name: str, sheet: str, known: list[Problem], today: date
) -> list[Problem]:
    """Problems pandera and the kind's row rules find, excluding cells already reported."""
    kind = layout.kind
    seen = {(p.row, p.column) for p in known}
    letters = {f.name: column_letter(f.index) for f in layout.fields}
    headers = {f.name: f.header for f in layout.fields}
    out: list[Problem] = []
    try:
        kind.schema().validate(frame, lazy=True)
    except pae.SchemaErrors as exc:
        cases = exc.failure_cases
        for case in cases.itertuples(index=False):
            row, column, check = case.index, case.column, str(case.check)
            if row is None or pd.isna(row) or column not in kind.labels():
                continue
            code = _PANDERA_CODES.get(check.split("(")[0], check)
            letter = letters.get(column, "")
            if (int(row), letter) in seen:
                continue
            seen.add((int(row), letter))
            value = "" if pd.isna(case.failure_case) else case.failure_case
            if kind.col(column).type == "money" and value != "":
                value = fmt_yuan(int(value))
            out.append(
                problem(
                    file_name,
                    code,
                    sheet=sheet,
                    row=int(row),
                    column=letter,
                    header=headers.get(column, kind.col(column).label),
                    value=value,
                )
            )
    out += _future_dates(frame, kind, file_name, sheet, letters, headers, today)
    out += _amount_mismatch(frame, kind, file_name, sheet, letters)
    return out


def _future_dates(
    frame: pd.DataFrame,
    kind: LedgerKind,
    file_name: str,
    sheet: str,
    letters: dict,
    headers: dict,
    today: date,
) -> list[Problem]:
    if "date" not in frame.columns or kind.name == "targets":
        return []
    future = frame["date"] > pd.Timestamp(today)
    return [
        problem(
            file_name,
            "future-date",
            sheet=sheet,
            row=int(r),
            column=letters.get("date", ""),
            header=headers.get("date", kind.col("date").label),
            value=frame.at[r, "date"].date().isoformat(),
        )
        for r in frame.index[future.fillna(False).to_numpy()]
    ]


def _amount_mismatch(
    frame: pd.DataFrame, kind: LedgerKind, file_name: str, sheet: str, letters: dict
) -> list[Problem]:
    if not {"quantity", "unit_price", "amount"} <= set(frame.columns) or not kind.has("quantity"):
        return []
    expected = (frame["quantity"] * frame["unit_price"] * 100).round()
    diff = (expected - frame["amount"].astype("Float64")).abs()
    bad = (diff > 100).fillna(False)
    return [
        problem(
            file_name,
            "amount-mismatch",
            sheet=sheet,
            row=int(r),
            column=letters.get("amount", ""),
            header=kind.col("amount").label,
            value=fmt_yuan(int(frame.at[r, "amount"])),
            detail=f"{frame.at[r, 'quantity']:g} × {frame.at[r, 'unit_price']:g} = {fmt_yuan(int(expected[r]))}",
        )
        for r in frame.index[bad.to_numpy()]
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


def duplicate_keys(
    frame: pd.DataFrame, kind: LedgerKind, file_name: str, letters: dict[tuple[str, str], str]
) -> list[Problem]:
    """Rows of one file that carry the same natural key with different content (errors)."""
    if kind.occurrence_key or kind.line_column is not None:
        return []
    key = [k for k in kind.key if k in frame.columns]
    keyed = frame.dropna(subset=key[:1])
    if keyed.empty:
        return []
    content = [c.name for c in kind.columns if c.name in frame.columns]
    dup = keyed[keyed.duplicated(subset=key, keep=False)]
    conflicting = (
        dup.groupby(key, dropna=False)[content].transform(lambda s: s.nunique(dropna=False) > 1).any(axis=1)
    )
    out = []
    for idx in conflicting.index[conflicting.to_numpy()]:
        row = dup.loc[idx]
        sheet = str(row["_sheet"])
        detail = "/".join(str(row[k]) for k in key if not pd.isna(row[k]))
        out.append(
            problem(
                file_name,
                "duplicate-key",
                sheet=sheet,
                row=int(row["_row"]),
                column=letters.get((sheet, key[0]), ""),
                header=kind.col(key[0]).label,
                value=str(row[key[0]]),
                detail=detail,
            )
        )
    return out
