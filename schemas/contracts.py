"""合同台账: contracts, one row per contract or per product line (行号)."""

from schemas.base import Col, LedgerKind, non_negative
from schemas.common import (
    CONTRACT_NO,
    CURRENCY,
    CUSTOMER,
    FX_RATE,
    LINE_NO,
    NOTE,
    PRODUCT,
    QUANTITY,
    REGION,
    SALESPERSON,
    SPEC,
    UNIT_PRICE,
    amount,
    event_date,
)

CONTRACTS = LedgerKind(
    name="contracts",
    label="合同台账",
    columns=(
        CONTRACT_NO.renamed(required=True),
        event_date("签订日期", "签约日期", "合同日期", "签订时间", "日期"),
        CUSTOMER.renamed(required=True),
        SALESPERSON.renamed(required=True),
        amount("合同金额", "合同总额", "金额", "价税合计", "合同额", "合同总金额"),
        PRODUCT,
        SPEC,
        QUANTITY,
        UNIT_PRICE,
        Col("terms_days", "账期天数", "int", ("账期", "付款期限", "信用期"), checks=(non_negative(),)),
        Col("payment_terms", "付款方式", "text", ("付款条件", "结算方式")),
        Col("due_delivery_date", "交货日期", "date", ("交货期", "交期")),
        Col("status", "合同状态", "text", ("状态", "执行状态")),
        REGION,
        CURRENCY,
        FX_RATE,
        NOTE,
        LINE_NO,
    ),
    key=("contract_no", "line_no"),
    filename_hints=("合同",),
    line_column="line_no",
)
