"""运费台账: freight costs per delivery or contract."""

from schemas.base import Col, LedgerKind
from schemas.common import CONTRACT_NO, CUSTOMER, NOTE, STATUS, amount, event_date

FREIGHT = LedgerKind(
    name="freight",
    label="运费台账",
    columns=(
        event_date("日期", "发运日期", "运输日期"),
        amount("运费金额", "运费", "金额"),
        Col("delivery_no", "发货单号", "text", ("出库单号", "送货单号", "单号")),
        CONTRACT_NO,
        CUSTOMER,
        Col("carrier", "承运单位", "text", ("承运商", "物流公司", "承运人")),
        STATUS,
        NOTE,
    ),
    key=("date", "delivery_no", "contract_no", "amount"),
    filename_hints=("运费", "物流"),
    occurrence_key=True,
)
