"""Every ledger kind taizhang reads, declared once; LEDGER_KINDS is the registry all stages read."""

from schemas.activities import ACTIVITIES
from schemas.base import DTYPES, FILE, PROVENANCE, ROW, SHA, SHEET, Col, LedgerKind
from schemas.contracts import CONTRACTS
from schemas.customers import CUSTOMERS
from schemas.deliveries import DELIVERIES
from schemas.freight import FREIGHT
from schemas.invoices import INVOICES
from schemas.payments import PAYMENTS
from schemas.penalties import PENALTIES
from schemas.targets import TARGETS

LEDGER_KINDS: dict[str, LedgerKind] = {
    k.name: k
    for k in (CUSTOMERS, CONTRACTS, DELIVERIES, INVOICES, PAYMENTS, FREIGHT, TARGETS, PENALTIES, ACTIVITIES)
}

__all__ = [
    "ACTIVITIES",
    "CONTRACTS",
    "CUSTOMERS",
    "DELIVERIES",
    "DTYPES",
    "FILE",
    "FREIGHT",
    "INVOICES",
    "LEDGER_KINDS",
    "PAYMENTS",
    "PENALTIES",
    "PROVENANCE",
    "ROW",
    "SHA",
    "SHEET",
    "TARGETS",
    "Col",
    "LedgerKind",
]
