"""回款台账: payments received, from the sales side or the finance side (来源)."""

from schemas.base import Col, LedgerKind
from schemas.common import CONTRACT_NO, CUSTOMER, NOTE, SALESPERSON, STATUS, amount, event_date

PAYMENTS = LedgerKind(
    name="payments",
    label="回款台账",
    columns=(
        event_date("回款日期", "收款日期", "到账日期", "回款时间", "收款时间", "日期"),
        CUSTOMER.renamed(required=True),
        amount("回款金额", "收款金额", "到账金额", "回款额", "金额"),
        CONTRACT_NO,
        SALESPERSON,
        Col("method", "回款方式", "text", ("收款方式", "结算方式", "付款方式")),
        Col("voucher_no", "凭证号", "text", ("流水号", "单据号", "凭证编号", "银行流水号", "交易流水号")),
        Col("source", "来源", "text", ("数据来源",)),
        STATUS,
        NOTE,
    ),
    key=("voucher_no",),
    filename_hints=("回款", "收款", "到账", "银行"),
    occurrence_key=True,
)
