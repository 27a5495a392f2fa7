"""Find the ledger in a sheet: header row(s), the kind, and which column holds which declared field."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pipeline.read import Merge, RawSheet
from schemas import LEDGER_KINDS, LedgerKind

HEADER_SEARCH_ROWS = 30
NEAR_MARGIN = 0.3
GENERIC_WEIGHT = 0.2  # a header known to five kinds or more (日期, 金额) says little on its own

# Traditional → Simplified for the characters that occur in ledger headers (ledgers.md).
_TRAD = str.maketrans(
    "戶稱業務員號編額貨發單開幣種區規數價備註帳賬齡銷簽訂狀態類運費碼標聯電話計總額勢門歸檔據憑證實際應收項說內",
    "户称业务员号编额货发单开币种区规数价备注账账龄销签订状态类运费码标联电话计总额势门归档据凭证实际应收项说内",
)
_UNIT = re.compile(r"[(\[]?(万元|元|人民币|rmb|¥|天|%)[)\]]?$")
_PAREN_UNIT = re.compile(r"\((万元|元|人民币|rmb|¥|天|%)\)")
MONTH_HEADER = re.compile(r"^(1[0-2]|[1-9])月份?$")
_CN_MONTHS = {f"{n}月": i + 1 for i, n in enumerate("一二三四五六七八九十")} | {"十一月": 11, "十二月": 12}
YEAR_IN_TEXT = re.compile(r"(20\d\d)\s*年?")


@lru_cache(maxsize=4096)
def normalise_header(value: object) -> tuple[str, int]:
    """Header text → (matching key, power of ten its amounts are in: 4 for 万元, else 0)."""
    text = unicodedata.normalize("NFKC", str(value)).translate(_TRAD).lower()
    text = re.sub(r"\s+", "", text).replace("*", "").replace("：", "").rstrip(":")
    scale = 4 if "万元" in text else 0
    text = _PAREN_UNIT.sub("", text)
    text = re.sub(r"/(万元|元)$", "", text)
    if not text.startswith(("元", "万元")):
        text = _UNIT.sub("", text) or text
    return text, scale


@lru_cache(maxsize=64)
def alias_index(kind_name: str, extra: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> dict[str, str]:
    """Normalised header → code name, from the kind's declaration plus configured extra aliases."""
    kind = LEDGER_KINDS[kind_name]
    index: dict[str, str] = {}
    for col in kind.columns:
        for h in col.headers:
            index.setdefault(normalise_header(h)[0], col.name)
    for name, aliases in extra:
        for h in aliases:
            index[normalise_header(h)[0]] = name
    return index


@lru_cache(maxsize=1)
def _header_weights() -> dict[str, float]:
    """How much a header tells about the kind: 1 / number of kinds that know it."""
    counts: dict[str, int] = {}
    for kind in LEDGER_KINDS:
        for key in alias_index(kind):
            counts[key] = counts.get(key, 0) + 1
    return {k: 1.0 / n for k, n in counts.items()}


@dataclass(frozen=True)
class Field:
    """A declared column found in the sheet."""

    name: str
    index: int
    header: str
    scale: int = 0


@dataclass(frozen=True)
class Layout:
    kind: LedgerKind
    header_rows: tuple[int, ...]  # 0-based
    fields: tuple[Field, ...]
    headers: tuple[str, ...]  # every header cell as written (combined for two-row headers)
    score: float
    wide_months: tuple[tuple[int, int], ...] = ()  # (month, column index) for a wide target sheet
    wide_measure: str = ""
    year: int | None = None

    @property
    def first_body_row(self) -> int:
        return self.header_rows[-1] + 1

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Miss:
    """The closest a sheet came to a kind, for the missing-column message."""

    kind: LedgerKind
    missing: tuple[str, ...]
    headers: tuple[str, ...]
    closest: tuple[str, ...]


def cell_text(v: object) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _header_text(v: object) -> str:
    """A header as the user reads it: line breaks and runs of spaces shown as one space."""
    return " ".join(cell_text(v).split())


def _horizontal_fill(row: list[str], r: int, merges: list[Merge]) -> list[str]:
    out = list(row)
    for r0, c0, r1, c1 in merges:
        if r0 <= r <= r1 and c1 > c0 and c0 < len(out):
            for c in range(c0 + 1, min(c1 + 1, len(out))):
                if not out[c]:
                    out[c] = out[c0]
    return out


def _header_candidates(sheet: RawSheet, r: int, height: int) -> list[list[str]]:
    """Per column, the header texts to try, most specific first."""
    width = max((len(x) for x in sheet.rows[r : r + height]), default=0)
    top = [_header_text(v) for v in sheet.rows[r]] + [""] * width
    top = _horizontal_fill(top[:width], r, sheet.merges)
    if height == 1:
        return [[t] if t else [] for t in top]
    bottom = [_header_text(v) for v in sheet.rows[r + 1]] + [""] * width
    out = []
    for parent, child in zip(top, bottom[:width], strict=True):
        if child and parent and parent != child:
            out.append([f"{parent}-{child}", child, parent])
        else:
            out.append([t for t in (child or parent,) if t])
    return out


def _match(kind: LedgerKind, cands: list[list[str]], extra: tuple) -> tuple[list[Field], float]:
    index, weights = alias_index(kind.name, extra), _header_weights()
    fields: list[Field] = []
    taken: set[str] = set()
    score = 0.0
    for col, texts in enumerate(cands):
        for text in texts:
            key, scale = normalise_header(text)
            name = index.get(key)
            if len(texts) == 3 and text == texts[1] and _foreign_parent(kind, key, texts[2]):
                continue
            if name and name not in taken:
                taken.add(name)
                fields.append(Field(name, col, texts[0], scale))
                score += weights.get(key, 1.0)
                break
    return fields, score


def _foreign_parent(kind: LedgerKind, child_key: str, parent: str) -> bool:
    """A generic child header (日期, 金额) under another kind's parent (回款情况) is not this kind's column."""
    if _header_weights().get(child_key, 1.0) > GENERIC_WEIGHT or any(
        h in parent for h in kind.filename_hints
    ):
        return False
    return any(h in parent for k in LEDGER_KINDS.values() if k is not kind for h in k.filename_hints)


def context_year(*texts: str) -> int | None:
    for t in texts:
        m = YEAR_IN_TEXT.search(t or "")
        if m:
            return int(m.group(1))
    return None


def _month_columns(cands: list[list[str]]) -> list[tuple[int, int]]:
    months = []
    for col, texts in enumerate(cands):
        key = normalise_header(texts[0])[0] if texts else ""
        m = MONTH_HEADER.match(key)
        month = int(m.group(1)) if m else _CN_MONTHS.get(key.removesuffix("份"))
        if month:
            months.append((month, col))
    return months


def detect_layout(
    sheet: RawSheet, file_name: str, extra_aliases: dict[str, dict[str, tuple[str, ...]]] | None = None
) -> Layout | Miss | None:
    """The best (kind, header rows, fields) of a sheet; a Miss when close to a kind but incomplete; None if nothing."""
    extra = extra_aliases or {}
    best: Layout | None = None
    near: tuple[float, LedgerKind, list[Field], list[list[str]]] | None = None
    for r in range(min(HEADER_SEARCH_ROWS, len(sheet.rows))):
        titles = " ".join(cell_text(v) for row in sheet.rows[:r] for v in row[:3])
        hint_text = f"{file_name} {sheet.name} {titles}"
        for height in (1, 2):
            if r + height > len(sheet.rows):
                continue
            cands = _header_candidates(sheet, r, height)
            if sum(1 for c in cands if c) < 2:
                continue
            for kind in LEDGER_KINDS.values():
                kx = tuple(sorted(extra.get(kind.name, {}).items()))
                fields, score = _match(kind, cands, kx)
                layout = _complete(kind, r, height, fields, cands, score, hint_text, sheet.name, file_name)
                if layout is None:
                    score += 0.5 if any(h in hint_text for h in kind.filename_hints) else 0.0
                    if len(fields) >= 2 and (near is None or score > near[0]):
                        near = (score, kind, fields, cands)
                    continue
                if best is None or _rank(layout) > _rank(best):
                    best = layout
    # A sheet that is clearly meant as one kind but lacks a column must not pass as a weaker kind
    # (any sheet with 客户名称 would otherwise be a 客户档案).
    if best is not None and (near is None or near[0] <= best.score + NEAR_MARGIN):
        return best
    if near is not None:
        return _miss(*near[1:])
    return None


def _rank(layout: Layout) -> tuple[float, int, int]:
    # Prefer the best match; on a tie the simpler (one-row) header, then the earlier row.
    return (round(layout.score, 6), -len(layout.header_rows), -layout.header_rows[0])


def _complete(
    kind: LedgerKind,
    r: int,
    height: int,
    fields: list[Field],
    cands: list[list[str]],
    score: float,
    hint_text: str,
    sheet_name: str,
    file_name: str,
) -> Layout | None:
    names = {f.name for f in fields}
    year = context_year(sheet_name, hint_text, file_name)
    months: list[tuple[int, int]] = []
    if kind.name == "targets" and "month" not in names:
        months = _month_columns(cands)
        if len(months) >= 3:
            names |= {"month"} | ({"year"} if year else set())
        else:
            months = []
    if any(c.name not in names for c in kind.required):
        return None
    hint = any(h in hint_text for h in kind.filename_hints)
    headers = tuple(c[0] if c else "" for c in cands)
    measure = ""
    if months:
        measure = (
            "payment_target"
            if "回款" in hint_text
            else ("new_customer_target" if "新客户" in hint_text else "sales_target")
        )
        score += 1.0
    return Layout(
        kind=kind,
        header_rows=tuple(range(r, r + height)),
        fields=tuple(fields),
        headers=headers,
        score=score + (0.5 if hint else 0.0) + 0.01 * len(fields),
        wide_months=tuple(months),
        wide_measure=measure,
        year=year,
    )


def _miss(kind: LedgerKind, fields: list[Field], cands: list[list[str]]) -> Miss:
    found = {f.name for f in fields}
    headers = tuple(c[0] for c in cands if c)
    missing = tuple(c.label for c in kind.required if c.name not in found)
    keys = {normalise_header(h)[0]: h for h in headers}
    closest: list[str] = []
    for col in kind.required:
        if col.name in found:
            continue
        targets = [normalise_header(h)[0] for h in col.headers]
        for t in targets:
            for k in difflib.get_close_matches(t, list(keys), n=2, cutoff=0.5):
                if keys[k] not in closest and not any(f.header == keys[k] for f in fields):
                    closest.append(keys[k])
    return Miss(kind, missing, headers, tuple(closest[:3]))
