"""考核记录: assessment events (penalties) per salesperson."""

from schemas.base import Col, LedgerKind, non_negative
from schemas.common import NOTE, SALESPERSON, event_date

PENALTIES = LedgerKind(
    name="penalties",
    label="考核记录",
    columns=(
        event_date("日期", "发生日期", "考核日期"),
        SALESPERSON.renamed(required=True),
        Col("item", "事项", "text", ("考核事项", "扣罚事项", "原因", "考核内容"), required=True),
        Col("amount", "扣款金额", "money", ("扣款", "罚款", "罚款金额"), checks=(non_negative(),)),
        Col("points", "扣分", "decimal", ("扣分数",), checks=(non_negative(),)),
        NOTE,
    ),
    key=("date", "salesperson", "item"),
    filename_hints=("考核", "扣罚", "奖惩"),
    occurrence_key=True,
)
