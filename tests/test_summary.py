"""经理简报: self-contained, escaped, figures equal to the workbooks, loads cleanly in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from conftest import new_workspace

from pipeline.run import run
from pipeline.sample import write_worked_example

PERIOD = "2025-10"


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("summary") / "ws"
    new_workspace(ws)
    write_worked_example(ws / "inbox")
    run(ws, PERIOD)
    return ws / "outbox" / PERIOD


class _Cards(HTMLParser):
    """Headline cards (label → value) and every external reference in the page."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, str] = {}
        self.refs: list[str] = []
        self.scripts = 0
        self._cls = ""
        self._label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._cls = a.get("class") or ""
        self.scripts += tag == "script"
        for key in ("src", "href", "srcset", "data"):
            if a.get(key):
                self.refs.append(str(a[key]))
        if tag == "link":
            self.refs.append(str(a.get("href")))

    def handle_data(self, data: str) -> None:
        if not data.strip():
            return
        if self._cls == "label":
            self._label = data.strip()
        elif self._cls == "value" and self._label:
            self.cards[self._label] = data.strip()
            self._label = ""


def _page(outdir: Path) -> tuple[str, _Cards]:
    html = (outdir / f"经理简报_{PERIOD}.html").read_text(encoding="utf-8")
    parser = _Cards()
    parser.feed(html)
    return html, parser


def _column_sum(path: Path, sheet: str, header: str) -> float:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    col = rows[0].index(header)
    return round(sum(r[col] or 0 for r in rows[1:] if r[0] != "合计" and isinstance(r[col], int | float)), 2)


def _yuan(text: str) -> float:
    return float(text.replace(",", ""))


def test_page_is_self_contained_and_small(worked: Path) -> None:
    html, page = _page(worked)
    assert page.scripts == 0
    assert all(not re.match(r"(?i)^(https?:|//|javascript:)", r) for r in page.refs), page.refs
    assert not re.search(r"(?i)@import|url\(\s*['\"]?(https?:|//)", html)
    assert (worked / f"经理简报_{PERIOD}.html").stat().st_size < 2 * 1024 * 1024


def test_headline_figures_equal_the_workbooks(worked: Path) -> None:
    _, page = _page(worked)
    aging = worked / "应收账龄_2025-10-31.xlsx"
    monthly = worked / f"月度统计_{PERIOD}.xlsx"
    assert _yuan(page.cards["应收余额"]) == _column_sum(aging, "客户账龄", "未收合计") == 175000
    assert _yuan(page.cards["逾期金额"]) == _column_sum(aging, "客户账龄", "逾期金额") == 175000
    assert _yuan(page.cards["本月新签"]) == _column_sum(monthly, "业务员统计", "新签合同额") == 130000
    assert _yuan(page.cards["本月发货"]) == _column_sum(monthly, "业务员统计", "发货金额") == 30000
    assert _yuan(page.cards["本月回款"]) == _column_sum(monthly, "业务员统计", "回款金额") == 45000


def test_ranking_equals_assessment_workbook(worked: Path) -> None:
    html, _ = _page(worked)
    ws = openpyxl.load_workbook(worked / f"业务员考核_{PERIOD}.xlsx", read_only=True)["考核评分"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    scores = {r[header.index("业务员")]: r[header.index("总分")] for r in rows[1:] if r[0] not in (None, "合计")}
    assert scores == {"李娜": 100, "张伟": 30}
    for name, total in scores.items():
        assert re.search(rf"<td>{name}</td><td class=\"num\">{float(total):.1f}</td>", html)


def test_ledger_text_is_escaped(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    new_workspace(ws)
    evil = '<script>alert(1)</script><a href="javascript:alert(2)">x</a>'
    rows = [["发货日期", "客户名称", "发货金额", "业务员"], ["2025-09-01", evil, 1000, "张伟"]]
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(ws / "inbox" / "发货台账.xlsx")
    run(ws, PERIOD)
    html = (ws / "outbox" / PERIOD / f"经理简报_{PERIOD}.html").read_text(encoding="utf-8")
    assert "<script>" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--enable-logging=stderr", "--v=0")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_loads_in_headless_chromium_without_errors(worked: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("未安装 chromium（apt-get install chromium），跳过浏览器检查")
    page = worked / f"经理简报_{PERIOD}.html"
    shot = tmp_path / "page.png"
    flags = [*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=412,2000"]
    netlog = tmp_path / "net.json"
    done = subprocess.run([browser, *flags, f"--log-net-log={netlog}", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    log = done.stderr
    console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert done.returncode == 0, log[-2000:]
    assert console == []
    assert _page_requests(netlog, page.as_uri()) == set()
    assert shot.exists() and shot.stat().st_size > 10_000


# Chromium's own background services talk to these even with the networking flags; the page does not.
BROWSER_HOSTS = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")


def _page_requests(netlog: Path, own: str) -> set[str]:
    """Every URL the network log saw except the page itself and the browser's own services."""
    import json
    from urllib.parse import unquote, urlparse

    events = json.loads(netlog.read_text(encoding="utf-8")).get("events", [])
    urls = {e["params"]["url"] for e in events if "url" in e.get("params", {})}
    return {u for u in urls if unquote(u) != unquote(own)
            and not (urlparse(u).hostname or "").endswith(BROWSER_HOSTS)}
