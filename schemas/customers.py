"""客户档案: customers, with aliases used to merge spellings."""

from schemas.base import Col, LedgerKind, non_negative, plausible_date
from schemas.common import CUSTOMER, REGION, SALESPERSON

CUSTOMERS = LedgerKind(
    name="customers",
    label="客户档案",
    columns=(
        CUSTOMER.renamed(required=True),
        Col("customer_code", "客户编码", "text", ("客户代码", "客户编号", "编码")),
        Col("customer_aliases", "简称/曾用名", "text", ("简称", "曾用名", "别名", "客户简称", "简称曾用名")),
        Col("grade", "客户等级", "text", ("等级", "客户级别", "级别")),
        Col("credit_limit", "信用额度", "money", ("授信额度", "额度"), checks=(non_negative(),)),
        Col(
            "terms_days",
            "账期天数",
            "int",
            ("账期", "付款期限", "信用期", "账期(天)"),
            checks=(non_negative(),),
        ),
        SALESPERSON,
        REGION,
        Col(
            "first_date",
            "首次合作日期",
            "date",
            ("首次合作时间", "合作日期", "建档日期"),
            checks=(plausible_date(),),
        ),
        Col("contact", "联系人", "text", ("联系人姓名",)),
        Col("phone", "电话", "text", ("联系电话", "手机", "电话号码")),
    ),
    key=("customer",),
    filename_hints=("客户",),
)
