"""发货台账: deliveries; a return is a row of type 退货 or with a negative amount."""

from schemas.base import Col, LedgerKind
from schemas.common import (
    CONTRACT_NO,
    CUSTOMER,
    LINE_NO,
    NOTE,
    PRODUCT,
    QUANTITY,
    SALESPERSON,
    SPEC,
    STATUS,
    UNIT_PRICE,
    amount,
    event_date,
)

DELIVERIES = LedgerKind(
    name="deliveries",
    label="发货台账",
    columns=(
        event_date("发货日期", "出库日期", "送货日期", "发货时间", "日期"),
        CUSTOMER.renamed(required=True),
        amount("发货金额", "金额", "价税合计", "出库金额", "发货额"),
        Col("delivery_no", "发货单号", "text", ("出库单号", "送货单号", "单号", "发货单编号")),
        CONTRACT_NO,
        SALESPERSON,
        PRODUCT,
        SPEC,
        QUANTITY,
        UNIT_PRICE,
        Col("receipt_date", "签收日期", "date", ("签收时间", "到货日期")),
        Col("carrier", "承运单位", "text", ("承运商", "物流公司", "承运人")),
        Col("freight", "运费", "money", ()),
        Col("delivery_type", "类型", "text", ("单据类型", "业务类型", "发货类型")),
        STATUS,
        NOTE,
        LINE_NO,
    ),
    key=("delivery_no", "line_no"),
    filename_hints=("发货", "出库", "送货"),
    line_column="line_no",
)
