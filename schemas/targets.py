"""销售目标: monthly or annual targets per salesperson; the wide 1月…12月 layout is unpivoted by the reader."""

from schemas.base import Col, LedgerKind, month_range, non_negative
from schemas.common import SALESPERSON

TARGETS = LedgerKind(
    name="targets",
    label="销售目标",
    columns=(
        SALESPERSON.renamed(required=True),
        Col("year", "年度", "int", ("年份", "年"), required=True),
        Col("month", "月份", "int", ("月",), checks=(month_range(),)),
        Col(
            "sales_target",
            "销售目标",
            "money",
            ("销售任务", "目标金额", "销售额目标", "合同目标"),
            checks=(non_negative(),),
        ),
        Col("payment_target", "回款目标", "money", ("回款任务", "回款计划"), checks=(non_negative(),)),
        Col(
            "new_customer_target",
            "新客户目标",
            "int",
            ("新客户任务", "新增客户目标"),
            checks=(non_negative(),),
        ),
    ),
    key=("salesperson", "year", "month"),
    filename_hints=("目标", "任务"),
    merge_parts=True,
)
