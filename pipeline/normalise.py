"""Raw cell values → typed columns (dates, integer fen, text, names), vectorised, with located problems."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from pipeline.header import Layout, cell_text
from pipeline.problems import Problem, column_letter, problem
from pipeline.read import RawSheet
from schemas import DTYPES, FILE, ROW, SHEET

NULL_MARKERS = frozenset(
    {
        "/",
        "／",
        "无",
        "-",
        "—",
        "——",
        "－",
        "#N/A",
        "N/A",
        "n/a",
        "NA",
        "未写明",
        "空",
        "null",
        "NULL",
        "None",
    }
)
TOTAL_LABEL = re.compile(r"^(合计|总计|小计|本月合计|本期合计|本年累计|累计|本月小计|总合计)")
TOTAL_FIRST_CHARS = frozenset("合总小本累")
INSTRUCTION = re.compile(r"^(填写说明|填表说明|说明[:：]|注[:：]|示例|例[:：]|请按|填写要求)")
ID_COLUMNS = frozenset(
    {"contract_no", "delivery_no", "invoice_no", "invoice_code", "voucher_no", "customer_code", "phone"}
)
NAME_COLUMNS = frozenset({"customer", "salesperson"})
EXCEL_EPOCH = {False: np.datetime64("1899-12-30"), True: np.datetime64("1904-01-01")}
MAX_EXACT_DIGITS = 15


@dataclass
class Body:
    """The data rows of one sheet: raw values per declared column (positional index) and their Excel rows."""

    raw: pd.DataFrame
    rows: list[int]
    # per-row column index where it varies (the month columns of a wide target sheet)
    value_col: dict[str, pd.Series] = field(default_factory=dict)
    # (Excel row, label, raw values) of each 合计/小计 row
    totals: list[tuple[int, str, dict[str, object]]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class Normalised:
    frame: pd.DataFrame  # typed, all rows, Excel row in `_row`
    error_index: set[int]  # index labels of rows that cannot be used
    problems: list[Problem]


# --- body extraction ------------------------------------------------------------------------------


def _filled_rows(sheet: RawSheet, first: int) -> list[list[object]]:
    """Body rows with merged cells filled from their top-left value."""
    rows = sheet.rows
    body_merges = [m for m in sheet.merges if m[0] >= first and (m[2] > m[0] or m[3] > m[1])]
    if not body_merges:
        return rows
    rows = [list(r) for r in rows]
    for r0, c0, r1, c1 in body_merges:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1 + 1, len(rows))):
            row = rows[r]
            row.extend([""] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                if row[c] == "" or row[c] is None:
                    row[c] = value
    return rows


def extract_body(sheet: RawSheet, layout: Layout) -> Body:
    """Data rows of the ledger: blank, repeated-header, instruction and 合计 rows taken out and counted."""
    first = layout.first_body_row
    rows = _filled_rows(sheet, first)
    grid = pd.DataFrame(rows[first:], dtype=object)
    grid.index = pd.RangeIndex(first, first + len(grid))
    text = _texts(grid)
    blank = (text == "").all(axis=1) if len(grid.columns) else pd.Series(True, index=grid.index)
    label = _total_labels(text)
    total = label.notna() & ~blank
    repeated = _repeated_header(text, sheet, layout) & ~blank & ~total
    rest = ~(blank | total | repeated)
    instruction = pd.Series(False, index=grid.index)
    if rest.any():
        r0 = rest.idxmax()
        first_text = next((t for t in text.loc[r0] if t), "")
        instruction.loc[r0] = bool(INSTRUCTION.match(first_text))
    kept = grid.index[(rest & ~instruction).to_numpy()].tolist()
    skipped = {"空行": int(blank.sum()), "重复表头": int(repeated.sum()), "填写说明": int(instruction.sum()),
               "合计行": int(total.sum())}
    totals = [
        (r + 1, label[r], {f.name: _at(rows[r], f.index) for f in layout.fields})
        for r in grid.index[total.to_numpy()].tolist()
    ]
    skipped = {k: v for k, v in skipped.items() if v}
    if layout.wide_months:
        return _wide_body(rows, kept, layout, totals, skipped)
    columns = {f.name: grid[f.index].loc[kept] if f.index in grid.columns else pd.Series("", index=kept, dtype=object)
               for f in layout.fields}
    raw = pd.DataFrame(columns, dtype=object).reset_index(drop=True)
    return Body(raw=raw, rows=[r + 1 for r in kept], totals=totals, skipped=skipped)


def _texts(grid: pd.DataFrame) -> pd.DataFrame:
    """Every cell as trimmed text ('' for blank), vectorised per column."""
    out = {}
    for c in grid.columns:
        col = grid[c]
        kind = col.map(type)
        as_text = col.where(kind.isin((str,)), "")
        t = as_text.astype("str").str.strip()
        num = kind.isin((float, int))
        if num.any():
            t = t.where(~num, col[num].map(cell_text))
        other = ~(num | kind.isin((str,))) & col.notna()
        if other.any():
            t = t.where(~other, col[other].astype(str))
        out[c] = t
    return pd.DataFrame(out, index=grid.index)


def _total_labels(text: pd.DataFrame) -> pd.Series:
    """The 合计/小计 label of each row found in its first six cells, else NA."""
    label = pd.Series(pd.NA, index=text.index, dtype="object")
    for c in list(text.columns)[:6]:
        # Only cells that can start a label go through the regex (a few per sheet).
        maybe = text[c][text[c].str[:1].isin(TOTAL_FIRST_CHARS)]
        squeezed = maybe.str.replace(r"\s+", "", regex=True)
        hit = squeezed[squeezed.str.match(TOTAL_LABEL.pattern)]
        hit = hit[label[hit.index].isna()]
        label[hit.index] = hit
    return label


def _repeated_header(text: pd.DataFrame, sheet: RawSheet, layout: Layout) -> pd.Series:
    """A header repeated for printing is a copy of a header row: compare the texts as written."""
    same = pd.Series(0, index=text.index)
    for f in layout.fields:
        if f.index not in text.columns:
            continue
        raw = {cell_text(_at(sheet.rows[r], f.index)) for r in layout.header_rows}
        names = (raw | {" ".join(t.split()) for t in raw} | {f.header}) - {""}
        same += text[f.index].isin(names).astype(int)
    return (same * 2 >= len(layout.fields)) & (same >= 2)


def _wide_body(
    rows: list[list[object]], kept: list[int], layout: Layout, totals: list, skipped: dict[str, int]
) -> Body:
    """A 业务员 | 1月 … 12月 target sheet unpivoted into one row per salesperson and month."""
    records: dict[str, list[object]] = {f.name: [] for f in layout.fields}
    records.update({"month": [], layout.wide_measure: []})
    records.setdefault("year", [])
    index, vcol = [], []
    for r in kept:
        for month, col in layout.wide_months:
            if cell_text(_at(rows[r], col)) == "":
                continue  # a blank month is no target, not a zero one
            for f in layout.fields:
                records[f.name].append(_at(rows[r], f.index))
            if layout.field("year") is None:
                records["year"].append(layout.year)
            records["month"].append(month)
            records[layout.wide_measure].append(_at(rows[r], col))
            index.append(r + 1)
            vcol.append(col)
    raw = pd.DataFrame(records, index=pd.RangeIndex(len(index)), dtype=object)
    return Body(
        raw=raw,
        rows=index,
        value_col={layout.wide_measure: pd.Series(vcol, index=raw.index)},
        totals=[],
        skipped={k: v for k, v in skipped.items() if v},
    )


def _at(row: list[object], i: int) -> object:
    return row[i] if i < len(row) else ""


# --- value conversion ----------------------------------------------------------------------------


def _is_null(s: pd.Series) -> pd.Series:
    text = s.astype("str").str.strip()
    return s.isna() | text.isna() | (text == "") | text.isin(NULL_MARKERS)


def _split_types(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers, date/datetime objects, strings) of an object column; other positions are missing."""
    kind = s.map(type)
    numbers = s[kind.isin((float, int))].astype("float64")
    moments = s[kind.isin((date, datetime, pd.Timestamp))]
    texts = s[kind.isin((str,))].astype("str")
    return numbers, moments, texts


def to_text(s: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """Text values; integral floats lose their '.0' (phone numbers, numeric IDs). Returns (values, too-long ids)."""
    numbers, moments, texts = _split_types(s)
    out = pd.Series(pd.NA, index=s.index, dtype="object")
    too_long = pd.Series(False, index=s.index)
    if len(numbers):
        integral = np.isfinite(numbers) & (numbers == np.floor(numbers))
        as_int = numbers[integral].astype("int64").astype("str")
        out.loc[as_int.index] = as_int
        rest = numbers[~integral]
        out.loc[rest.index] = rest.map(repr)
        if column in ID_COLUMNS:
            too_long.loc[numbers.index] = numbers.abs() >= 10**MAX_EXACT_DIGITS
    if len(moments):
        out.loc[moments.index] = pd.to_datetime(moments).dt.strftime("%Y-%m-%d")
    if len(texts):
        out.loc[texts.index] = texts.str.strip()
    result = out.astype("str").where(~_is_null(out) & out.notna())
    if column in NAME_COLUMNS:
        result = normalise_names(result)
    return result.astype("str"), too_long


def normalise_names(s: pd.Series) -> pd.Series:
    """Names compared as the same person/company: full-width → half-width, no spaces."""
    return s.str.normalize("NFKC").str.replace(r"\s+", "", regex=True)


_DATE_YMD = re.compile(
    r"^(\d{1,4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_MD = re.compile(r"^(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?$")


def to_date(s: pd.Series, year: int | None, date1904: bool = False) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Dates from serials, date objects and the text forms of ledgers.md → (values, unparseable, implausible)."""
    numbers, moments, texts = _split_types(s)
    y = pd.Series(np.nan, index=s.index)
    m, d = y.copy(), y.copy()
    result = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    if len(numbers):
        compact = (numbers >= 19000101) & (numbers <= 21001231)
        serial = numbers[~compact & (numbers >= 1) & (numbers < 2958466)]
        days = np.floor(serial.to_numpy()).astype("int64").astype("timedelta64[D]")
        result.loc[serial.index] = (EXCEL_EPOCH[date1904] + days).astype("datetime64[s]")
        comp = numbers[compact].astype("int64")
        y.loc[comp.index], m.loc[comp.index], d.loc[comp.index] = comp // 10000, comp // 100 % 100, comp % 100
    if len(moments):
        result.loc[moments.index] = pd.to_datetime(moments).dt.normalize().astype("datetime64[s]")
    if len(texts):
        # A ledger repeats a few hundred date texts over thousands of rows: parse each distinct text once.
        codes, uniques = pd.factorize(texts)
        parts = _text_date_parts(pd.Series(uniques, dtype="str"), year).to_numpy()[codes]
        y.loc[texts.index], m.loc[texts.index], d.loc[texts.index] = parts[:, 0], parts[:, 1], parts[:, 2]
    has_parts = y.notna()
    implausible = has_parts & ((y < 2000) | (y > 2099))
    ok = has_parts & ~implausible
    built = pd.to_datetime(
        pd.DataFrame({"year": y[ok], "month": m[ok], "day": d[ok]}), errors="coerce"
    ).astype("datetime64[s]")
    result.loc[built.index] = built
    null = _is_null(s)
    unparseable = ~null & result.isna() & ~implausible
    return result, unparseable, implausible


def _text_date_parts(texts: pd.Series, year: int | None) -> pd.DataFrame:
    """Year, month and day columns (NaN where no form matches) of date texts; `year` completes 3月5日."""
    t = texts.str.normalize("NFKC").str.strip()
    out = pd.DataFrame(np.nan, index=t.index, columns=[0, 1, 2])
    for pattern in (_DATE_YMD, _DATE_COMPACT):
        parts = t.str.extract(pattern).astype("float64")
        hit = parts[0].notna() & out[0].isna()
        out.loc[hit] = parts.loc[hit, [0, 1, 2]].to_numpy()
    if year is not None:
        md = t.str.extract(_DATE_MD).astype("float64")
        hit = md[0].notna() & out[0].isna()
        out.loc[hit, 0] = float(year)
        out.loc[hit, [1, 2]] = md.loc[hit, [0, 1]].to_numpy()
    return out


_MONEY_CLEAN = re.compile(r"[¥￥$元,，\s]|RMB|rmb|CNY|人民币")
_MONEY_FORM = re.compile(r"^(-)?(\d*)(?:\.(\d+))?(万)?$")


def to_fen(s: pd.Series, scale: int = 0) -> tuple[pd.Series, pd.Series]:
    """Money → integer fen, ROUND_HALF_UP; `scale` is the header's power of ten (4 for 万元). → (fen, unparseable)."""
    numbers, moments, texts = _split_types(s)
    out = pd.Series(pd.NA, index=s.index, dtype="Int64")
    bad = pd.Series(False, index=s.index)
    if len(numbers):
        scaled = numbers.to_numpy() * 10.0 ** (scale + 2)
        # ROUND_HALF_UP on the decimal the user typed: nudge by a relative epsilon so 1.005 → 101, not 100.
        fen = np.sign(scaled) * np.floor(np.abs(scaled) * (1 + 1e-12) + 0.5)
        out.loc[numbers.index] = fen.astype("int64")
    if len(texts):
        fen_text, bad_text = _text_to_fen(texts, scale)
        out.loc[fen_text.index] = fen_text
        bad.loc[bad_text.index] = bad_text
    bad.loc[moments.index] = True
    return out, bad & ~_is_null(s)


def _text_to_fen(texts: pd.Series, scale: int) -> tuple[pd.Series, pd.Series]:
    t = texts.str.normalize("NFKC").str.strip()
    paren = t.str.match(r"^[(（].*[)）]$")
    t = t.str.replace(r"^[(（](.*)[)）]$", r"\1", regex=True).str.replace(_MONEY_CLEAN, "", regex=True)
    t = t.str.replace(r"万元?$", "万", regex=True)
    parts = t.str.extract(_MONEY_FORM)
    digits_ok = parts[1].fillna("").str.len().add(parts[2].fillna("").str.len()) > 0
    valid = parts[1].notna() & digits_ok
    power = scale + 2 + parts[3].notna().astype(int) * 4
    frac = parts[2].fillna("")
    fen = pd.Series(pd.NA, index=t.index, dtype="Int64")
    for p in sorted(power[valid].unique()):
        idx = valid & (power == p)
        # Keep p decimals plus one for the half-up decision, all as an integer: exact, no floats.
        padded = frac[idx].str.ljust(p + 1, "0").str[: p + 1]
        whole = (parts.loc[idx, 1].replace("", "0") + padded).astype("int64")
        fen.loc[idx[idx].index] = ((whole + 5) // 10).astype("Int64")
    negative = parts[0].notna() | paren
    fen = fen.where(~negative, -fen)
    return fen, ~valid


def to_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    numbers, moments, texts = _split_types(s)
    values = pd.Series(np.nan, index=s.index)
    values.loc[numbers.index] = numbers
    if len(texts):
        t = texts.str.normalize("NFKC").str.replace(r"[\s,天日个]", "", regex=True)
        values.loc[t.index] = pd.to_numeric(t.str.extract(r"^(-?\d+(?:\.0+)?)$")[0], errors="coerce")
    bad = values.isna() | (values != np.floor(values))
    out = values.where(~bad).astype("Int64")
    return out, bad & ~_is_null(s)


def to_decimal(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    numbers, moments, texts = _split_types(s)
    values = pd.Series(np.nan, index=s.index)
    values.loc[numbers.index] = numbers
    if len(texts):
        t = texts.str.normalize("NFKC").str.replace(_MONEY_CLEAN, "", regex=True)
        pct = t.str.endswith("%")
        num = pd.to_numeric(t.str.rstrip("%"), errors="coerce")
        values.loc[t.index] = num.where(~pct, num / 100)
    out = values.astype("Float64")
    return out, values.isna() & ~_is_null(s)


# --- a whole sheet -------------------------------------------------------------------------------


def normalise_body(
    body: Body, layout: Layout, sheet: RawSheet, file_name: str, date1904: bool = False
) -> Normalised:
    """Typed frame of every body row plus the problems found converting values."""
    kind = layout.kind
    raw = body.raw
    frame = pd.DataFrame(index=raw.index)
    found = _Found(body, layout, sheet.name, file_name)
    for col in kind.columns:
        if col.name not in raw.columns:
            frame[col.name] = pd.Series(pd.NA, index=raw.index, dtype=DTYPES[col.type])
            continue
        values = _convert_column(raw[col.name], col.type, col.name, layout, date1904, found)
        frame[col.name] = values.astype(DTYPES[col.type])
    found.flags(sheet)
    frame[ROW] = pd.Series(body.rows, index=raw.index, dtype="int64")
    frame[FILE] = pd.Series(file_name, index=raw.index, dtype="str")
    frame[SHEET] = pd.Series(sheet.name, index=raw.index, dtype="str")
    return Normalised(frame=frame, error_index=found.error_index, problems=found.problems)


def _convert_column(
    s: pd.Series, type_: str, name: str, layout: Layout, date1904: bool, found: _Found
) -> pd.Series:
    if type_ == "text":
        values, too_long = to_text(s, name)
        found.report(too_long, name, "long-number-id")
        return values
    if type_ == "date":
        dates, bad, implausible = to_date(s, layout.year, date1904)
        found.report(bad, name, "bad-date")
        found.report(implausible, name, "implausible-date")
        return dates
    if type_ == "money":
        field_ = layout.field(name)
        fen, bad = to_fen(s, field_.scale if field_ else 0)
        found.report(bad, name, "bad-money")
        return fen
    numbers, bad = to_int(s) if type_ == "int" else to_decimal(s)
    found.report(bad, name, "bad-number")
    return numbers


class _Found:
    """Collects conversion problems of one sheet, located by Excel row and column letter."""

    def __init__(self, body: Body, layout: Layout, sheet: str, file_name: str) -> None:
        self.body, self.layout, self.sheet, self.file = body, layout, sheet, file_name
        self.problems: list[Problem] = []
        self.error_index: set[int] = set()
        self.letters = {f.name: column_letter(f.index) for f in layout.fields}
        self.headers = {f.name: f.header for f in layout.fields}

    def report(self, mask: pd.Series, name: str, code: str) -> None:
        varying = self.body.value_col.get(name)
        for i in mask.index[mask.to_numpy()]:
            letter = column_letter(int(varying.loc[i])) if varying is not None else self.letters.get(name, "")
            self.problems.append(
                problem(
                    self.file,
                    code,
                    sheet=self.sheet,
                    row=self.body.rows[i],
                    column=letter,
                    header=self.headers.get(name, self.layout.kind.col(name).label),
                    value=cell_text(self.body.raw.at[i, name]),
                )
            )
            self.error_index.add(int(i))

    def flags(self, sheet: RawSheet) -> None:
        """Error cells and formulas without a cached value in mapped cells: errors, never zeros."""
        if not sheet.flags:
            return
        wanted = {f.index: f.header for f in self.layout.fields}
        wide = {col: self.layout.wide_measure for _, col in self.layout.wide_months}
        positions = _positions(self.body)
        for (r, c), flag in sorted(sheet.flags.items()):
            if c not in wanted and c not in wide:
                continue
            targets = positions.get(r + 1, [])
            if c in wide and self.body.value_col:
                vcol = self.body.value_col[self.layout.wide_measure]
                targets = [i for i in targets if int(vcol.loc[i]) == c]
            if not targets:
                continue
            header = self.layout.headers[c] if c < len(self.layout.headers) else wanted.get(c, "")
            code = "uncalculated-formula" if flag == "uncalculated" else "error-cell"
            value = "" if flag == "uncalculated" else flag
            self.problems.append(
                problem(
                    self.file,
                    code,
                    sheet=self.sheet,
                    row=r + 1,
                    column=column_letter(c),
                    header=header,
                    value=value,
                )
            )
            self.error_index.update(targets)


def _positions(body: Body) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, row in enumerate(body.rows):
        out.setdefault(row, []).append(i)
    return out


def check_totals(body: Body, frame: pd.DataFrame, layout: Layout, file_name: str, sheet: str) -> list[Problem]:
    """Compare each 合计/小计 row with the rows it covers; a mismatch is a warning."""
    totals = [t for t in body.totals if not t[1].startswith(("累计", "本年累计"))]
    if not totals:
        return []
    rows = frame[ROW].to_numpy()
    covered = []
    previous_sub = 0
    for excel_row, label, _ in totals:
        if label.startswith(("小计", "本月", "本期")):
            mask = (rows > previous_sub) & (rows < excel_row)
            previous_sub = excel_row
        else:
            mask = rows < excel_row
            if not mask.any():
                mask = rows > excel_row  # a 合计 row above the data
        covered.append(mask)
    problems: list[Problem] = []
    for f in (f for f in layout.fields if layout.kind.col(f.name).type == "money"):
        stated, bad = to_fen(pd.Series([t[2][f.name] for t in totals], dtype=object), f.scale)
        amounts = frame[f.name].fillna(0).to_numpy(dtype="int64")
        for (excel_row, _, _), mask, value, is_bad in zip(totals, covered, stated, bad, strict=True):
            if is_bad or pd.isna(value) or not mask.any():
                continue
            actual = int(amounts[mask].sum())
            if abs(int(value) - actual) > 1:
                problems.append(problem(
                    file_name, "total-row-mismatch", sheet=sheet, row=excel_row, column=column_letter(f.index),
                    header=f.header, value=fmt_yuan(int(value)), detail=fmt_yuan(actual),
                ))
    return problems


def fmt_yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan:,}.{cents:02d}"
