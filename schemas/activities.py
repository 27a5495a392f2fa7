"""拜访记录 / 日报: salespeople's visits, calls and daily reports."""

from schemas.base import Col, LedgerKind
from schemas.common import CUSTOMER, NOTE, SALESPERSON, event_date

ACTIVITIES = LedgerKind(
    name="activities",
    label="拜访记录",
    columns=(
        event_date("日期", "拜访日期", "日报日期"),
        SALESPERSON.renamed(required=True),
        CUSTOMER,
        Col("activity_type", "类型", "text", ("拜访方式", "方式", "记录类型")),
        Col("content", "内容", "text", ("拜访内容", "工作内容", "事由")),
        NOTE,
    ),
    key=("date", "salesperson", "customer"),
    filename_hints=("拜访", "日报", "周报"),
    occurrence_key=True,
)
