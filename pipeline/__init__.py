"""taizhang: read sales ledgers, validate, reconcile, and report."""

__version__ = "0.1.0"
