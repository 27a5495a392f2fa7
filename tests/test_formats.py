"""Every file format and every file-level failure: read by content, or a clear zh-CN problem, never a crash."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlwt
from conftest import TODAY, flat, ingest, write_xlsx

from pipeline.cli import check_files
from pipeline.config import Settings

PAYMENT_ROWS = [
    ["回款日期", "客户名称", "回款金额", "凭证号"],
    ["2025-03-05", "华北电力", "1,000.50", "0012"],
    ["2025-03-06", "东方建设", "200", "0013"],
]


def _csv(rows: list[list[str]], sep: str = ",") -> str:
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=sep).writerows(rows)
    return out.getvalue()


def _assert_payments(path: Path) -> None:
    r = ingest(path)
    assert flat(r) == [], r.problems
    f = r.frames["payments"]
    assert f["customer"].tolist() == ["华北电力", "东方建设"]
    assert f["amount"].tolist() == [100050, 20000]
    assert f["voucher_no"].tolist() == ["0012", "0013"]


@pytest.mark.parametrize(
    ("encoding", "sep"),
    [("utf-8", ","), ("utf-8-sig", ","), ("gbk", ","), ("gb18030", "\t"), ("utf-8", "\t")],
)
def test_csv_encodings_and_separators(tmp: Path, encoding: str, sep: str) -> None:
    path = tmp / "回款台账.csv"
    path.write_bytes(_csv(PAYMENT_ROWS, sep).encode(encoding))
    _assert_payments(path)


def test_csv_with_xlsx_name_read_by_content(tmp: Path) -> None:
    path = tmp / "回款台账.xlsx"
    path.write_bytes(_csv(PAYMENT_ROWS).encode("gbk"))
    _assert_payments(path)


def test_real_xls(tmp: Path) -> None:
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("回款")
    for r, row in enumerate(PAYMENT_ROWS):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    path = tmp / "回款台账.xls"
    wb.save(str(path))
    _assert_payments(path)


def test_html_saved_as_xls(tmp: Path) -> None:
    cells = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in PAYMENT_ROWS)
    html = f'<html><head><meta charset="utf-8"></head><body><table border="1">{cells}</table></body></html>'
    path = tmp / "ERP导出_回款.xls"
    path.write_text(html, encoding="utf-8")
    _assert_payments(path)


def test_html_rowspan_fills_down(tmp: Path) -> None:
    html = (
        "<table><tr><td>回款日期</td><td>客户名称</td><td>回款金额</td></tr>"
        "<tr><td>2025-03-05</td><td rowspan=2>华北电力</td><td>1</td></tr><tr><td>2025-03-06</td><td>2</td></tr></table>"
    )
    path = tmp / "回款.xls"
    path.write_text(html, encoding="gbk")
    f = ingest(path).frames["payments"]
    assert f["customer"].tolist() == ["华北电力", "华北电力"] and f["amount"].tolist() == [100, 200]


def test_xlsm_read_macros_never_run(tmp: Path) -> None:
    path = write_xlsx(tmp / "回款台账.xlsm", PAYMENT_ROWS)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/vbaProject.bin", b"\x00" * 64)
    r = ingest(path)
    assert r.frames["payments"]["amount"].tolist() == [100050, 20000]
    assert [p.code for p in r.problems] == ["macro-ignored"]


def test_ods(tmp: Path) -> None:
    path = tmp / "回款台账.ods"
    _write_ods(path, PAYMENT_ROWS)
    _assert_payments(path)


def _write_ods(path: Path, rows: list[list[str]]) -> None:
    """A minimal OpenDocument spreadsheet, enough for calamine (no odfpy dependency needed)."""
    body = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
            for v in row
        )
        + "</table:table-row>"
        for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="回款">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED
        )
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)


# --- file-level failures ------------------------------------------------------------------------


def _codes(path: Path) -> list[str]:
    r = ingest(path)
    assert not r.accepted
    assert all(p.file == path.name for p in r.problems)
    return [p.code for p in r.problems]


def test_empty_file(tmp: Path) -> None:
    (tmp / "回款.xlsx").write_bytes(b"")
    assert _codes(tmp / "回款.xlsx") == ["empty-file"]


def test_truncated_xlsx(tmp: Path) -> None:
    good = write_xlsx(tmp / "good.xlsx", PAYMENT_ROWS).read_bytes()
    (tmp / "回款.xlsx").write_bytes(good[: len(good) // 2])
    r = ingest(tmp / "回款.xlsx")
    assert [p.code for p in r.problems] == ["cannot-open"] and "损坏" in r.problems[0].message


def test_garbage_with_excel_name(tmp: Path) -> None:
    (tmp / "回款.xls").write_bytes(bytes(range(256)) * 4)
    assert _codes(tmp / "回款.xls") in (["no-ledger"], ["cannot-open"])


def test_encrypted_xlsx(tmp: Path) -> None:
    ooxml = pytest.importorskip(
        "msoffcrypto.format.ooxml", reason="msoffcrypto-tool 未安装，无法生成加密文件"
    )
    plain = write_xlsx(tmp / "plain.xlsx", PAYMENT_ROWS)
    out = io.BytesIO()
    with plain.open("rb") as fh:
        f = ooxml.OOXMLFile(fh)
        f.encrypt("secret", out)
    (tmp / "回款.xlsx").write_bytes(out.getvalue())
    r = ingest(tmp / "回款.xlsx")
    assert [p.code for p in r.problems] == ["encrypted"] and "请去除密码" in r.problems[0].message


def test_no_ledger_in_file(tmp: Path) -> None:
    path = write_xlsx(tmp / "周报.xlsx", [["本周工作", "下周计划"], ["拜访客户", "签合同"]])
    assert _codes(path) == ["no-ledger"]


def test_missing_required_column_names_closest_headers(tmp: Path) -> None:
    rows = [
        ["合同编号", "签订日期", "客户名称", "业务员", "合同总额度(万元)"],
        ["HT-1", "2025-03-05", "甲", "张伟", 1],
    ]
    r = ingest(write_xlsx(tmp / "合同台账.xlsx", rows))
    assert [p.code for p in r.problems] == ["missing-column"] and not r.accepted
    p = r.problems[0]
    assert "合同金额" in p.message and "合同总额度(万元)" in p.suggestion


def test_one_bad_file_does_not_stop_the_others(tmp: Path) -> None:
    (tmp / "坏.xlsx").write_bytes(b"PK\x03\x04broken")
    good = write_xlsx(tmp / "回款台账.xlsx", PAYMENT_ROWS)
    results = check_files([tmp / "坏.xlsx", good], Settings(), TODAY)
    assert [r.accepted for r in results] == [False, True]


def test_check_command_exit_codes_and_json(tmp: Path) -> None:
    good = write_xlsx(tmp / "回款台账.xlsx", PAYMENT_ROWS)
    bad = write_xlsx(
        tmp / "合同.xlsx",
        [["合同编号", "签订日期", "客户名称", "业务员", "合同金额"], ["HT-1", "x", "甲", "张", 1]],
    )
    run = [sys.executable, "-m", "pipeline.cli"]
    clean = subprocess.run([*run, "check", str(good)], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    out = subprocess.run([*run, "check", "--json", str(good), str(bad)], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    import json

    data = json.loads(out.stdout)
    assert [d["file"] for d in data] == ["回款台账.xlsx", "合同.xlsx"]
    assert data[0]["sheets"][0] | {} == data[0]["sheets"][0] and data[0]["sheets"][0]["used"] == 2
    assert [(p["row"], p["column"], p["code"]) for p in data[1]["problems"]] == [(2, "B", "bad-date")]
    usage = subprocess.run([*run, "check", str(tmp / "nope.xlsx")], capture_output=True, text=True)
    assert usage.returncode == 2 and "找不到文件" in usage.stderr


def test_customer_aliases_merge_and_near_miss_suggestion(tmp: Path) -> None:
    cust = write_xlsx(
        tmp / "客户档案.xlsx",
        [["客户名称", "简称/曾用名", "业务员"], ["华北电力工程有限公司", "华北电力、华北电力公司", "张伟"]],
    )
    pay = write_xlsx(
        tmp / "回款台账.xlsx",
        [
            ["回款日期", "客户名称", "回款金额"],
            ["2025-03-05", "华北电力", 1],
            ["2025-03-06", "华北电力工程有限公", 2],
            ["2025-03-07", "南方水务", 3],
        ],
    )
    results = check_files([cust, pay], Settings(), TODAY)
    problems = results[1].problems
    assert [(p.row, p.column, p.code) for p in problems] == [
        (3, "B", "unknown-customer"),
        (4, "B", "unknown-customer"),
    ]
    assert problems[0].suggestion == "是否为：华北电力工程有限公司？" and problems[1].suggestion == ""
