"""开票台账: invoices; a 红字 (credit) invoice has a negative amount."""

from schemas.base import Col, LedgerKind
from schemas.common import CONTRACT_NO, CUSTOMER, NOTE, SALESPERSON, STATUS, amount, event_date

INVOICES = LedgerKind(
    name="invoices",
    label="开票台账",
    columns=(
        Col("invoice_no", "发票号码", "text", ("发票号", "发票编号", "票号"), required=True),
        Col("invoice_code", "发票代码", "text", ()),
        event_date("开票日期", "开票时间", "发票日期", "日期"),
        CUSTOMER.renamed(required=True),
        amount("价税合计", "开票金额", "金额", "发票金额", "含税金额"),
        Col("tax", "税额", "money", ()),
        Col("tax_rate", "税率", "decimal", ()),
        Col("invoice_type", "发票类型", "text", ("票种", "发票种类")),
        CONTRACT_NO,
        SALESPERSON,
        STATUS,
        NOTE,
    ),
    key=("invoice_no", "invoice_code"),
    filename_hints=("开票", "发票"),
)
