"""Columns shared by several ledger kinds (ledgers.md, "Common columns"), declared once."""

from __future__ import annotations

from schemas.base import Col, non_negative, plausible_date

CUSTOMER = Col(
    "customer",
    "客户名称",
    "text",
    (
        "客户",
        "客户全称",
        "单位名称",
        "购货单位",
        "购买方",
        "购方名称",
        "往来单位",
        "付款单位",
        "付款人",
        "收货单位",
        "客户单位",
        "客户名",
        "customer",
        "customer name",
    ),
)
SALESPERSON = Col(
    "salesperson",
    "业务员",
    "text",
    (
        "销售员",
        "销售人员",
        "业务经理",
        "经办人",
        "负责人",
        "销售代表",
        "跟单员",
        "业务代表",
        "salesperson",
        "sales",
    ),
)
CONTRACT_NO = Col(
    "contract_no",
    "合同编号",
    "text",
    (
        "合同号",
        "合同编码",
        "合同单号",
        "销售合同号",
        "订单号",
        "销售订单号",
        "合同",
        "contract no",
        "contract",
    ),
)
REGION = Col("region", "区域", "text", ("片区", "地区", "销售区域", "省份", "区域名称", "region"))
PRODUCT = Col(
    "product", "产品名称", "text", ("产品", "品名", "货物名称", "存货名称", "物料名称", "商品名称", "product")
)
SPEC = Col("spec", "规格型号", "text", ("规格", "型号", "规格/型号", "规格及型号"))
QUANTITY = Col("quantity", "数量", "decimal", ("发货数量", "合同数量", "qty"))
UNIT_PRICE = Col("unit_price", "单价", "decimal", ("含税单价", "单价(元)", "price"), checks=(non_negative(),))
CURRENCY = Col("currency", "币种", "text", ("货币",))
FX_RATE = Col("fx_rate", "汇率", "decimal", ("折算汇率",), checks=(non_negative(),))
NOTE = Col("note", "备注", "text", ("说明", "摘要"))
LINE_NO = Col("line_no", "行号", "int", ("序号行", "明细行号"))
STATUS = Col("status", "状态", "text", ("单据状态",))


def event_date(label: str, *aliases: str) -> Col:
    """The main date of an event kind; always named `date` so that stages treat kinds alike."""
    return Col("date", label, "date", aliases, required=True, checks=(plausible_date(),))


def amount(label: str, *aliases: str) -> Col:
    """The main money column of a kind; always named `amount` (integer fen)."""
    return Col("amount", label, "money", aliases, required=True)
