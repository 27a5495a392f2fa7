"""Sample ledgers: the worked example's figures, the demo inbox's shapes and slips, the benchmark inbox."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from pipeline.sample import (
    date_text,
    excel_serial,
    money_text,
    write_demo_inbox,
    write_scale_inbox,
    write_worked_example,
)

Grid = list[list[Any]]  # cell values as python-calamine gives them


# --- reading helpers -------------------------------------------------------------------------------------------


def sheets(path: Path) -> dict[str, Grid]:
    """Every sheet of a workbook as cell values (python-calamine: .xlsx and genuine .xls alike)."""
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wb.sheet_names}


def records(path: Path, sheet: str | None = None) -> list[dict[str, Any]]:
    """Rows under the first row holding 2+ non-empty cells, keyed by that row (openpyxl, the first sheet)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    top = next(i for i, row in enumerate(rows) if sum(v is not None for v in row) >= 2)
    header = [str(h) for h in rows[top]]
    return [dict(zip(header, row, strict=True)) for row in rows[top + 1 :] if any(v is not None for v in row)]


def parse_money(value: Any) -> float | None:
    """What the reader is expected to make of a money cell (¥, 元, commas, full-width, (1,200.00))."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).replace("¥", "").replace("元", "").replace(",", "").strip()
    negative = text.startswith("(") and text.endswith(")")
    number = float(text.strip("()"))
    return -number if negative else number


def all_text(inbox: Path) -> dict[str, set[str]]:
    """Every non-empty cell of every file as text, per file name."""
    out: dict[str, set[str]] = {}
    for path in inbox.iterdir():
        if path.suffix == ".csv":
            out[path.name] = set(re.split(r"[,\r\n]+", path.read_bytes().decode("gbk")))
        elif path.read_bytes()[:1] == b"<":
            out[path.name] = set(re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", path.read_text(encoding="utf-8")))
        else:
            out[path.name] = {str(v) for grid in sheets(path).values() for row in grid for v in row if v != ""}
    return out


def values(path: Path) -> object:
    """A file's content for comparison: cell values for workbooks, the text for CSV and HTML."""
    raw = path.read_bytes()
    if path.suffix == ".csv" or raw[:1] == b"<":
        return raw
    return sheets(path)


# --- value helpers ---------------------------------------------------------------------------------------------


def test_date_and_money_forms() -> None:
    day = date(2025, 3, 5)
    forms = [date_text(day, s) for s in ("iso", "slash", "dot", "cn", "compact", "md")]
    assert forms == ["2025-03-05", "2025/3/5", "2025.3.5", "2025年3月5日", "20250305", "3月5日"]
    assert date_text(day, "serial") == excel_serial(day) == 45721
    assert money_text(-120000, "paren") == "(1,200.00)"
    assert money_text(123456789, "yen") == "¥1,234,567.89"
    assert money_text(12000000, "yuan") == "120000元"
    assert money_text(12000000, "fullwidth") == "１２０，０００．００"
    assert money_text(12345, "number") == 123.45


# --- the worked example ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inbox = tmp_path_factory.mktemp("worked")
    write_worked_example(inbox)
    return inbox


def test_worked_example_files(worked: Path) -> None:
    assert sorted(p.name for p in worked.iterdir()) == sorted(
        ["客户档案.xlsx", "合同台账.xlsx", "发货台账.xlsx", "回款台账.xlsx", "销售目标.xlsx", "考核记录.xlsx"]
    )
    assert openpyxl.load_workbook(worked / "合同台账.xlsx").active["A1"].value == "2025年合同台账"


def test_worked_example_contracts(worked: Path) -> None:
    rows = records(worked / "合同台账.xlsx")
    got = {r["合同编号"]: (r["签订日期"], r["客户名称"], r["业务员"], r["合同金额"]) for r in rows}
    assert got == {
        "HT-2025-001": (datetime(2025, 3, 10), "华北电力工程有限公司", "张伟", 300000),
        "HT-2025-002": (datetime(2025, 6, 15), "东方建设集团", "李娜", 120000),
        "HT-2025-003": (datetime(2025, 10, 8), "南方水务有限公司", "李娜", 80000),
        "HT-2025-004": (datetime(2025, 10, 20), "华北电力工程有限公司", "张伟", 50000),
    }
    assert sum(r["合同金额"] for r in rows) == 550_000


def test_worked_example_deliveries(worked: Path) -> None:
    rows = records(worked / "发货台账.xlsx")
    got = {r["发货单号"]: (r["发货日期"].date(), r["合同编号"], r["发货金额"]) for r in rows}
    assert got == {
        "D1": (date(2025, 4, 1), "HT-2025-001", 100000),
        "D2": (date(2025, 7, 20), "HT-2025-001", 150000),
        "D3": (date(2025, 7, 1), "HT-2025-002", 60000),
        "D4": (date(2025, 9, 15), "HT-2025-002", 60000),
        "D5": (date(2025, 10, 25), "HT-2025-003", 30000),
        "D6": (date(2025, 11, 5), "HT-2025-004", 50000),
    }
    assert sum(r["发货金额"] for r in rows) == 450_000


def test_worked_example_payments(worked: Path) -> None:
    rows = records(worked / "回款台账.xlsx")
    got = {r["凭证号"]: (r["回款日期"].date(), r["客户名称"], r["合同编号"], r["业务员"], r["回款金额"]) for r in rows}
    assert got == {
        "P1": (date(2025, 5, 10), "华北电力工程有限公司", "HT-2025-001", "张伟", 100000),
        "P2": (date(2025, 9, 30), "华北电力工程有限公司", None, "张伟", 50000),
        "P3": (date(2025, 8, 1), "东方建设集团", "HT-2025-002", "李娜", 40000),
        "P4": (date(2025, 10, 28), "南方水务有限公司", "HT-2025-003", "李娜", 40000),
        "P5": (date(2025, 10, 15), "东方建设集团", None, None, 5000),
    }
    assert sum(r["回款金额"] for r in rows) == 235_000


def test_worked_example_master_data(worked: Path) -> None:
    customers = {r["客户名称"]: (r["业务员"], r["信用额度"], r["账期天数"]) for r in records(worked / "客户档案.xlsx")}
    assert customers == {"华北电力工程有限公司": ("张伟", 500000, 60), "东方建设集团": ("李娜", 50000, 30)}
    assert all(r["联系人"] and r["电话"] for r in records(worked / "客户档案.xlsx"))
    targets = [(r["业务员"], r["年度"], r["月份"], r["销售目标"], r["回款目标"], r["新客户目标"]) for r in records(worked / "销售目标.xlsx")]
    assert targets == [("张伟", 2025, 10, 100000, 80000, 1), ("李娜", 2025, 10, 60000, 50000, 1)]
    events = [(r["日期"].date(), r["业务员"], r["事项"], r["扣款金额"]) for r in records(worked / "考核记录.xlsx")]
    assert events == [(date(2025, 10, 12), "张伟", "客户投诉", None), (date(2025, 10, 18), "李娜", "未按时提交周报", None)]


# --- the demo inbox --------------------------------------------------------------------------------------------

DEMO_FILES = [
    "客户档案.xlsx", "合同台账.xlsx", "发货台账.xlsx", "开票台账2025.xls", "回款台账2025.xlsx", "回款登记_赵磊.xlsx",
    "回款登记_陈静.xlsx", "ERP导出_回款.xls", "银行收款明细_财务.xlsx", "运费台账.csv", "销售目标2025.xlsx",
    "考核记录.xlsx", "拜访记录.xlsx",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inbox = tmp_path_factory.mktemp("demo")
    assert [p.name for p in write_demo_inbox(inbox)] == DEMO_FILES
    return inbox


@pytest.fixture(scope="module")
def demo_text(demo: Path) -> dict[str, set[str]]:
    return all_text(demo)


def test_demo_is_deterministic(demo: Path, tmp_path: Path) -> None:
    again = write_demo_inbox(tmp_path / "again")
    for path in again:
        assert values(path) == values(demo / path.name), path.name
    other = write_demo_inbox(tmp_path / "other", seed=7)
    assert values(other[1]) != values(demo / other[1].name)


def test_demo_file_formats(demo: Path) -> None:
    raw = (demo / "运费台账.csv").read_bytes()
    assert raw.decode("gbk").startswith("宏远机电设备有限公司")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    xls = demo / "开票台账2025.xls"
    assert xls.read_bytes()[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    assert set(sheets(xls)) == {"2025年", "2024年"}
    html = (demo / "ERP导出_回款.xls").read_bytes()
    assert html[:1] == b"<" and b"<table" in html
    for name in DEMO_FILES:
        if name.endswith(".xlsx"):
            assert (demo / name).read_bytes()[:2] == b"PK"


def test_demo_date_and_money_forms(demo_text: dict[str, set[str]]) -> None:
    cells = set().union(*demo_text.values())
    patterns = {
        "cn": r"20\d\d年\d{1,2}月\d{1,2}日", "dot": r"20\d\d\.\d{1,2}\.\d{1,2}", "slash": r"20\d\d/\d{1,2}/\d{1,2}",
        "compact": r"20\d{6}", "md": r"\d{1,2}月\d{1,2}日", "yen": r"¥[\d,]+\.\d\d", "yuan": r"[\d.]+元",
        "paren": r"\([\d,]+\.\d\d\)", "full-width": r"[０-９，．]+", "thousands": r"\d{1,3}(,\d{3})+\.\d\d",
    }
    for form, pattern in patterns.items():
        assert any(re.fullmatch(pattern, c) for c in cells), form


def test_demo_contract_shapes(demo: Path) -> None:
    book = sheets(demo / "合同台账.xlsx")
    current, previous = book["2025年"], book["2024年"]
    assert current[0][0].startswith("宏远机电设备有限公司") and current[1][0].startswith("打印日期")
    assert current[2][1] == "合同信息" and current[3][1:3] == ["合同编号", "签订日期"]
    assert previous[0][8] == "合同金额(万元)"
    assert isinstance(previous[1][0], str) and previous[1][0].startswith("0")  # leading zeros kept as text
    assert 40000 < previous[1][1] < 50000  # Excel serial
    assert sum(row == previous[0] for row in previous) >= 2  # header printed again inside the data
    ws = openpyxl.load_workbook(demo / "合同台账.xlsx")["2025年"]
    body_merges = [r for r in ws.merged_cells.ranges if r.min_row > 4]
    assert any(r.min_col == 4 and r.max_row > r.min_row for r in body_merges)  # 客户名称 merged down
    total = current[-1]
    assert total[0] == "合计"
    assert total[11] == pytest.approx(sum(r[11] for r in current[4:-1] if isinstance(r[11], float)))
    statuses = Counter(r[14] for r in current[4:-1])
    assert statuses["作废"] and statuses["已解除"]


def test_demo_delivery_shapes_and_slips(demo: Path) -> None:
    grid = sheets(demo / "发货台账.xlsx")["2025年"]
    header = grid[2]
    assert "发货\n金额" in header and grid[3][0].startswith("填写说明")
    amount, qty = header.index("发货\n金额"), header.index("数量")
    rows = [r for r in grid[4:] if isinstance(r[0], float)]
    assert sum(r[1] == "2025-13-45" for r in rows) == 1
    assert sum(r[amount] == "" for r in rows) == 1
    assert sum(r[4] == "华北电力工程有限公" for r in rows) == 1
    returns = [r for r in rows if r[11] == "退货"]
    assert len(returns) == 2 and all((parse_money(r[amount]) or 0) < 0 and r[qty] < 0 for r in returns)
    block: list[float] = []
    for row in grid[4:]:
        if row[0] == "本月合计":
            assert row[amount] == pytest.approx(sum(block))
            block = []
        elif isinstance(row[0], float):
            block.append(parse_money(row[amount]) or 0.0)


def _contract_quantities(demo: Path) -> dict[tuple[str, str], float]:
    book = sheets(demo / "合同台账.xlsx")
    qty: dict[tuple[str, str], float] = defaultdict(float)
    last = ""
    for row in book["2025年"][4:-1]:
        last = row[1] or last  # 合同编号 is merged down over a contract's lines
        qty[(last, row[8])] += row[9]
    for row in book["2024年"][1:]:
        if row[0] != "合同编号":
            qty[(row[0], row[5])] += row[6]
    return qty


def test_demo_deliveries_follow_contracts(demo: Path) -> None:
    ordered = _contract_quantities(demo)
    contracts = {no for no, _ in ordered}
    delivered: dict[tuple[str, str], float] = defaultdict(float)
    book = sheets(demo / "发货台账.xlsx")
    for row in book["2025年"][4:]:
        if isinstance(row[0], float):
            delivered[(row[3], row[7])] += row[8]
    for row in book["2024年"][1:]:
        if isinstance(row[6], float):
            delivered[(row[2], row[5])] += row[6]
    unknown = {no for no, _ in delivered} - contracts
    assert len(unknown) == 1  # the delivery naming a contract that does not exist
    over = [key for key, q in delivered.items() if key[0] in contracts and q > ordered[key]]
    assert len(over) == 1  # the one over-delivery


def test_demo_payment_shapes(demo: Path) -> None:
    book = sheets(demo / "回款台账2025.xlsx")
    assert list(book) == [f"{m}月" for m in range(1, 12)]
    wrong = []
    for name, grid in book.items():
        assert grid[0][0] == f"2025年{name}回款登记表"
        assert grid[1][4] == "回款情况" and grid[2][4:6] == ["日期", "金额"]
        assert grid[-1][0] == "合计"
        body = [parse_money(r[5]) or 0.0 for r in grid[3:-1] if r[0] != ""]
        if abs(sum(body) - grid[-1][5]) > 0.005:
            wrong.append(name)
    assert wrong == ["6月"]
    assert "  客户名称 " in book["1月"][1]
    zhao = sheets(demo / "回款登记_赵磊.xlsx")["2025年"]
    assert sum(bool(re.fullmatch(r"\d{3}-\d{1,2}-\d{1,2}", str(r[0]))) for r in zhao) == 1  # 205-7-15
    chen = sheets(demo / "回款登记_陈静.xlsx")["回款明细"]
    assert chen[2][0] == "合计" and chen[2][3] == pytest.approx(sum(r[3] for r in chen[3:]))
    ws = openpyxl.load_workbook(demo / "回款登记_陈静.xlsx").active
    assert any(r.min_col == 1 and r.max_row > r.min_row for r in ws.merged_cells.ranges)


def parse_day(value: Any, year: int = 2025) -> date | None:
    """A date cell as the reader is expected to read it (None for the deliberate typo)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = re.fullmatch(r"(?:(20\d\d)[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?", str(value))
    if not found:
        return None
    return date(int(found[1] or year), int(found[2]), int(found[3]))


def sales_side_payments(demo: Path) -> list[tuple[date, float]]:
    """(date, amount) of every sales-side payment in the four files that hold them."""
    out: list[tuple[date | None, Any]] = []
    for grid in sheets(demo / "回款台账2025.xlsx").values():
        out += [(parse_day(r[4]), parse_money(r[5])) for r in grid[3:-1] if r[0] != ""]
    for grid in sheets(demo / "回款登记_赵磊.xlsx").values():
        out += [(parse_day(r[0]), r[3]) for r in grid[1:-1]]
    out += [(parse_day(r[1]), r[3]) for r in sheets(demo / "回款登记_陈静.xlsx")["回款明细"][3:]]
    html = (demo / "ERP导出_回款.xls").read_text(encoding="utf-8")
    for row in re.findall(r"<tr>(<td>.*?)</tr>", html):
        cells = re.findall(r"<td>(.*?)</td>", row)
        out.append((parse_day(cells[1]), parse_money(cells[5])))
    return [(d, a) for d, a in out if d is not None]


def test_demo_finance_side_mostly_matches(demo: Path) -> None:
    bank = [(r[0].date(), r[4]) for grid in sheets(demo / "银行收款明细_财务.xlsx").values() for r in grid[3:]]
    sales = sales_side_payments(demo)
    unmatched = list(bank)
    sales_only = []
    for day, amount in sorted(sales):
        near = [b for b in unmatched if b[1] == amount and abs((b[0] - day).days) <= 3]
        if near:
            unmatched.remove(min(near, key=lambda b: abs((b[0] - day).days)))
        else:
            sales_only.append((day, amount))
    # 3 payments only on the sales side (票据未交财务), 3 only at the bank, and the bank one of the row whose
    # date the clerk typed as 205-7-15.
    assert len(sales_only) == 3
    assert len(unmatched) == 4
    assert len(sales) > 300


def test_demo_other_shapes(demo: Path, demo_text: dict[str, set[str]]) -> None:
    invoices = sheets(demo / "开票台账2025.xls")["2025年"]
    assert "客戶名稱" in invoices[1]
    numbers = [r[2] for r in invoices[2:]]
    assert all(isinstance(n, str) and len(n) == 20 for n in numbers)
    assert any((parse_money(r[10]) or 0) < 0 for r in invoices[2:])  # a red invoice
    targets = sheets(demo / "销售目标2025.xlsx")
    assert targets["销售目标"][1][:3] == ["业务员", "1月", "2月"] and targets["回款目标"][1][12] == "12月"
    customers = sheets(demo / "客户档案.xlsx")["客户档案"]
    assert customers[3][2] == "华北电力" and any(isinstance(r[10], float) for r in customers[3:])
    markers = set().union(*demo_text.values()) & {"/", "无", "-", "—"}
    assert markers == {"/", "无", "-", "—"}


# --- the benchmark inbox ---------------------------------------------------------------------------------------

HEADER_FIRST = {"合同编号", "发货单号", "发票号码", "回款日期", "日期", "客户编码", "业务员"}


def body_rows(grid: Grid) -> Grid:
    top = next(i for i, row in enumerate(grid) if row and row[0] in HEADER_FIRST)
    return [row for row in grid[top + 1 :] if row[0] != "合计" and any(v != "" for v in row)]


def test_scale_inbox(tmp_path: Path) -> None:
    paths = write_scale_inbox(tmp_path, rows=20000, files=10)
    assert len(paths) == 10 and all(p.read_bytes()[:2] == b"PK" for p in paths)
    books = {p.name: sheets(p) for p in paths}
    total = sum(len(body_rows(g)) for book in books.values() for g in book.values())
    assert 18000 <= total <= 22000
    stems = {name.split("_")[0].removesuffix(".xlsx").removesuffix("2025") for name in books}
    assert stems == {"客户档案", "销售目标", "考核记录", "合同台账", "发货台账", "开票台账", "回款台账", "运费台账", "拜访记录"}
    contracts: set[str] = set()
    customers = {r[1] for r in body_rows(books["客户档案.xlsx"]["客户档案"])}
    cells: set[str] = set()
    for name, book in books.items():
        for grid in book.values():
            cells.update(str(v) for row in grid for v in row)
            if name.startswith("合同台账"):
                contracts.update(r[0] for r in body_rows(grid))
                assert {r[2] for r in body_rows(grid)} <= customers
    assert "合同金额(万元)" in cells and "合计" in cells and any(re.fullmatch(r"20\d\d年\d+月\d+日", c) for c in cells)
    for name, col in (("发货台账", 2), ("开票台账", 3), ("运费台账", 2)):
        refs = {r[col] for n, book in books.items() if n.startswith(name) for g in book.values() for r in body_rows(g)}
        assert refs and refs <= contracts, name


def test_scale_inbox_same_with_or_without_workers(tmp_path: Path) -> None:
    one = write_scale_inbox(tmp_path / "one", rows=3000, files=9, workers=1)
    two = write_scale_inbox(tmp_path / "two", rows=3000, files=9, workers=2)
    assert [p.name for p in one] == [p.name for p in two]
    for a, b in zip(one, two, strict=True):
        assert sheets(a) == sheets(b), a.name
