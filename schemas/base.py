"""The declaration every ledger kind is made of: columns, aliases, types, checks and natural key."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd
import pandera.pandas as pa

ValueType = Literal["text", "date", "money", "int", "decimal"]

# Frame dtypes after normalisation; money is integer fen.
DTYPES: dict[str, str] = {
    "text": "str",
    "date": "datetime64[s]",
    "money": "Int64",
    "int": "Int64",
    "decimal": "Float64",
}

# Provenance columns carried by every normalised row (index = Excel row number).
FILE, SHEET, ROW, SHA = "_file", "_sheet", "_row", "_sha256"
PROVENANCE = (FILE, SHEET, ROW, SHA)


@dataclass(frozen=True)
class Col:
    """One column of a ledger kind: code name, canonical zh header, aliases, type and checks."""

    name: str
    label: str
    type: ValueType = "text"
    aliases: tuple[str, ...] = ()
    required: bool = False
    checks: tuple[pa.Check, ...] = ()

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.label, *self.aliases)

    def renamed(self, label: str | None = None, aliases: tuple[str, ...] | None = None, **kw: object) -> Col:
        """A copy for another kind with a different canonical header or extra aliases."""
        return replace(
            self,
            label=label or self.label,
            aliases=self.aliases if aliases is None else aliases,
            **kw,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class LedgerKind:
    """A ledger kind users drop: everything else (reader, validator, store, reports) derives from it."""

    name: str
    label: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]
    filename_hints: tuple[str, ...]
    # Columns whose values may legitimately repeat the key (several lines of one contract).
    line_column: str | None = None
    occurrence_key: bool = False  # the key is completed by the occurrence count within its source file
    # Rows of one file sharing a key are parts of one record (销售目标 and 回款目标 on separate sheets).
    merge_parts: bool = False
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> tuple[Col, ...]:
        return tuple(c for c in self.columns if c.required)

    def col(self, name: str) -> Col:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def labels(self) -> dict[str, str]:
        return {c.name: c.label for c in self.columns}

    def schema(self) -> pa.DataFrameSchema:
        """The pandera schema of this kind's normalised frame (index = Excel row)."""
        cols = {
            c.name: pa.Column(
                DTYPES[c.type],
                checks=list(c.checks),
                nullable=not c.required,
                required=c.required,
                coerce=False,
            )
            for c in self.columns
        }
        return pa.DataFrameSchema(cols, strict=False, name=self.label)

    def empty_frame(self) -> pd.DataFrame:
        return pd.DataFrame({c.name: pd.Series(dtype=DTYPES[c.type]) for c in self.columns})


# Checks shared by several kinds. Names are stable codes; zh messages live in pipeline.problems.
def plausible_date() -> pa.Check:
    """Dates outside 2000–2099 are typos (206-7-15) rather than real business dates."""
    return pa.Check(
        lambda s: s.isna() | ((s >= pd.Timestamp("2000-01-01")) & (s < pd.Timestamp("2100-01-01"))),
        name="implausible-date",
        element_wise=False,
    )


def non_negative() -> pa.Check:
    return pa.Check(lambda s: s.isna() | (s >= 0), name="negative-value")


def month_range() -> pa.Check:
    return pa.Check(lambda s: s.isna() | s.between(1, 12), name="bad-month")


def non_zero() -> pa.Check:
    return pa.Check(lambda s: s.isna() | (s != 0), name="zero-amount")
