"""The frames that pass between stages, named once.

Ledger frames (one per kind, as read, validated and stored) have the code-name columns of the kind's
declaration in `schemas/` plus provenance `_file`, `_sheet`, `_row` (Excel row) and `_sha256`. Money is
Int64 fen, dates datetime64[s], text the pandas `str` dtype, customer/salesperson names already normalised
and merged through 客户档案 aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from pipeline.problems import Problem

UNASSIGNED = "未分配"


@dataclass(frozen=True)
class Ledgers:
    """The current state of every kind (store output): kind name → frame. Missing kinds are empty frames."""

    frames: dict[str, pd.DataFrame]

    def __getitem__(self, kind: str) -> pd.DataFrame:
        from schemas import LEDGER_KINDS

        frame = self.frames.get(kind)
        return frame if frame is not None else LEDGER_KINDS[kind].empty_frame()

    def has(self, kind: str) -> bool:
        frame = self.frames.get(kind)
        return frame is not None and not frame.empty


@dataclass(frozen=True)
class Period:
    """The month reported on and the balance date (as_of defaults to the month's last day)."""

    year: int
    month: int
    as_of: date

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return (pd.Timestamp(self.start) + pd.offsets.MonthEnd(0)).date()

    @staticmethod
    def of(label: str, as_of: date | None = None) -> Period:
        year, month = (int(x) for x in label.split("-"))
        p = Period(year, month, date(year, month, 1))
        return Period(year, month, as_of or p.end)


@dataclass
class Reconciled:
    """What reconciliation hands to aging, statistics, scoring and the reports.

    Frames (code-name columns; money Int64 fen; provenance `_file`, `_sheet`, `_row` on detail rows):
    - contracts: one row per contract_no (lines summed): contract_no, date, customer, salesperson, amount,
      status, terms_days, region, void (bool)
    - deliveries / invoices / payments: the ledger rows that count, salesperson resolved (never NA; 未分配),
      payments after 账账核对 with `payments.authority` applied
    - execution: 合同执行 per contract (see outputs.md)
    - open_items: customer, salesperson, contract_no, doc_no, basis_date, due_date, original, outstanding,
      terms_days + provenance
    - advances: customer, salesperson, contract_no (NA when held by the customer), amount
    - allocations: 回款分配 rows; exceptions: 异常清单 rows; matching: 账账核对 rows (empty when one side)
    """

    period: Period
    contracts: pd.DataFrame
    deliveries: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    execution: pd.DataFrame
    open_items: pd.DataFrame
    advances: pd.DataFrame
    allocations: pd.DataFrame
    exceptions: pd.DataFrame
    matching: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    # deliveries, invoices and payments ≤ as_of in event order (reconcile.activity_rows), kept so that readers
    # need not sort a million rows again; None in a Reconciled built by hand
    activity: pd.DataFrame | None = None
