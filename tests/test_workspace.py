"""taizhang init: folders, the commented taizhang.toml (exactly the defaults) and the blank Excel templates."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.config import CONFIG_NAME, Settings, load_settings
from pipeline.workspace import (
    INFO_SHEET,
    OPTIONS,
    OPTIONS_SHEET,
    TEMPLATE_ROWS,
    TEMPLATES_DIR,
    TEXT_ID_COLUMNS,
    TYPE_LABELS,
    WORKSPACE_DIRS,
    find_template_dir,
    init_workspace,
    template_path,
)
from schemas import CONTRACTS, LEDGER_KINDS, PAYMENTS, LedgerKind


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws") / "销售台账"
    init_workspace(ws)
    return ws


def _sheet(workspace: Path, kind: LedgerKind) -> Worksheet:
    wb = openpyxl.load_workbook(template_path(workspace, kind))
    return wb[kind.label]


def _column_letter(kind: LedgerKind, name: str) -> str:
    index = [c.name for c in kind.columns].index(name)
    return openpyxl.utils.get_column_letter(index + 1)


def _validations_on(ws: Worksheet, letter: str) -> list[DataValidation]:
    cell = f"{letter}2"
    last = f"{letter}{TEMPLATE_ROWS + 1}"
    return [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref and last in dv.sqref]


def _column_number_format(ws: Worksheet, index: int) -> str:
    # xlsxwriter merges adjacent columns with the same settings into one <col min max> range.
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= index <= dim.max:
            return str(dim.number_format)
    return "General"


# --- folders and files ---------------------------------------------------------------------------------


def test_init_creates_folders_config_and_templates(tmp_path: Path) -> None:
    ws = tmp_path / "新工作区"
    created = init_workspace(ws)
    for name in (*WORKSPACE_DIRS, TEMPLATES_DIR):
        assert (ws / name).is_dir()
        assert ws / name in created
    assert (ws / CONFIG_NAME).is_file()
    assert ws / CONFIG_NAME in created
    for kind in LEDGER_KINDS.values():
        path = ws / TEMPLATES_DIR / f"{kind.label}模板.xlsx"
        assert path.is_file()
        assert path in created
    assert (ws / TEMPLATES_DIR / "合同台账模板.xlsx").is_file()
    assert not list(ws.rglob("*.tmp"))
    assert (ws / CONFIG_NAME).read_bytes() == (find_template_dir() / CONFIG_NAME).read_bytes()


def test_second_init_keeps_user_files_and_creates_nothing(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    config = tmp_path / CONFIG_NAME
    config.write_text('[company]\nname = "华东重工有限公司"\n', encoding="utf-8")
    template = template_path(tmp_path, CONTRACTS)
    template.write_bytes(b"user's own template")

    assert init_workspace(tmp_path) == []
    assert config.read_text(encoding="utf-8") == '[company]\nname = "华东重工有限公司"\n'
    assert template.read_bytes() == b"user's own template"
    assert load_settings(tmp_path).company.name == "华东重工有限公司"


def test_init_fills_in_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / CONFIG_NAME).write_text("", encoding="utf-8")
    created = init_workspace(tmp_path)
    assert tmp_path / "inbox" not in created
    assert tmp_path / CONFIG_NAME not in created
    assert (tmp_path / CONFIG_NAME).read_text(encoding="utf-8") == ""
    assert tmp_path / "outbox" in created


# --- taizhang.toml holds exactly the defaults -----------------------------------------------------------


def test_generated_config_loads_to_the_defaults(workspace: Path) -> None:
    assert load_settings(workspace) == Settings()


def _expected_keys(cls: type, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for f in fields(cls):
        value = getattr(cls(), f.name)
        key = prefix + f.name
        if is_dataclass(value):
            keys |= _expected_keys(type(value), key + ".")
        else:
            keys.add(key)
    return keys


def _present_keys(raw: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in raw.items():
        key = prefix + name
        if isinstance(value, dict) and key not in ("scoring.weights", "penalties", "aliases"):
            keys |= _present_keys(value, key + ".")
        else:
            keys.add(key)
    return keys


def test_config_writes_every_key_out(workspace: Path) -> None:
    """Equality with Settings() alone would pass with keys missing; the file must document every default."""
    raw = tomllib.loads((workspace / CONFIG_NAME).read_text(encoding="utf-8"))
    assert _present_keys(raw) == _expected_keys(Settings) - {"aliases"}
    assert raw["penalties"] == {
        "客户投诉": 100,
        "未按时提交周报": 30,
        "无故缺席例会": 50,
        "送货记录未按期完成": 30,
    }
    assert raw["commission"]["tiers"] == [[0, 0.01], [0.8, 0.02], [1.0, 0.03]]


def test_config_aliases_example_is_valid_once_uncommented(workspace: Path) -> None:
    text = (workspace / CONFIG_NAME).read_text(encoding="utf-8")
    start = text.index("# [aliases.")
    example = "\n".join(re.sub(r"^# ?", "", line) for line in text[start:].splitlines())
    settings = load_settings_from_text(workspace.parent / "aliases", text[:start] + example)
    assert settings.aliases["contracts"]["amount"] == ("合同价款", "总价款")
    assert set(settings.aliases) <= set(LEDGER_KINDS)


def test_config_names_every_ledger_kind_for_aliases(workspace: Path) -> None:
    text = (workspace / CONFIG_NAME).read_text(encoding="utf-8")
    for kind in LEDGER_KINDS.values():
        assert re.search(rf"#.*\b{kind.name}\s*=\s*{kind.label}", text), kind.name


def load_settings_from_text(folder: Path, text: str) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(text, encoding="utf-8")
    return load_settings(folder)


# --- Excel templates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LEDGER_KINDS.values(), ids=lambda k: k.name)
def test_template_header_is_the_declaration(workspace: Path, kind: LedgerKind) -> None:
    wb = openpyxl.load_workbook(template_path(workspace, kind))
    ws = wb[kind.label]
    assert [c.value for c in ws[1]] == [c.label for c in kind.columns]
    assert ws.max_row == 1  # blank: no sample rows the reader would take in
    assert ws.freeze_panes == "A2"
    for i, col in enumerate(kind.columns, start=1):
        cell = ws.cell(1, i)
        if col.required:
            assert cell.fill.fgColor.rgb.endswith("C00000"), col.label
            assert cell.comment is not None and "必填" in cell.comment.text
        else:
            assert not cell.fill.fgColor.rgb.endswith("C00000"), col.label
    assert INFO_SHEET in wb.sheetnames


@pytest.mark.parametrize("kind", LEDGER_KINDS.values(), ids=lambda k: k.name)
def test_info_sheet_lists_every_column(workspace: Path, kind: LedgerKind) -> None:
    ws = openpyxl.load_workbook(template_path(workspace, kind))[INFO_SHEET]
    rows = [tuple(c.value for c in r) for r in ws.iter_rows()]
    top = next(i for i, r in enumerate(rows) if r[0] == "列名")
    table = rows[top + 1 :]
    assert [r[0] for r in table] == [c.label for c in kind.columns]
    for row, col in zip(table, kind.columns, strict=True):
        assert row[1] == TYPE_LABELS[col.type]
        assert (row[2] == "是") == col.required
        assert (row[4] or "") == "、".join(col.aliases)
        assert row[5] == col.name


def test_dropdowns_for_salesperson_and_status(workspace: Path) -> None:
    for kind in (CONTRACTS, PAYMENTS):
        ws = _sheet(workspace, kind)
        for name in ("salesperson", "status"):
            (dv,) = _validations_on(ws, _column_letter(kind, name))
            assert dv.type == "list"
            assert dv.formula1 == f"list_{name}"


def test_dropdown_lists_live_on_a_hidden_extendable_sheet(workspace: Path) -> None:
    wb = openpyxl.load_workbook(template_path(workspace, CONTRACTS))
    options = wb[OPTIONS_SHEET]
    assert options.sheet_state == "hidden"
    columns = {str(c[0].value): [x.value for x in c[1:] if x.value is not None] for c in options.iter_cols()}
    salespeople = next(v for k, v in columns.items() if k.startswith("业务员"))
    assert salespeople == list(OPTIONS["salesperson"])
    assert "张伟" in salespeople and "李娜" in salespeople
    statuses = next(v for k, v in columns.items() if k.startswith("合同状态"))
    assert statuses == ["执行中", "已完成", "已变更", "已解除", "作废"]
    formula = wb.defined_names["list_salesperson"].attr_text
    assert formula.replace("'", "").startswith(f"OFFSET({OPTIONS_SHEET}!$A$2") and "COUNTA" in formula


def test_other_dropdowns(workspace: Path) -> None:
    expected = {
        "payments": ("method", "source"),
        "deliveries": ("delivery_type",),
        "invoices": ("invoice_type",),
        "customers": ("grade",),
    }
    for kind_name, names in expected.items():
        kind = LEDGER_KINDS[kind_name]
        ws = _sheet(workspace, kind)
        for name in names:
            (dv,) = _validations_on(ws, _column_letter(kind, name))
            assert dv.type == "list" and dv.formula1 == f"list_{name}", (kind.name, name)
    assert OPTIONS["method"] == ("银行转账", "承兑汇票", "现金", "其他")
    assert OPTIONS["delivery_type"] == ("发货", "退货")
    assert OPTIONS["source"] == ("销售", "财务")


def test_date_validation(workspace: Path) -> None:
    ws = _sheet(workspace, CONTRACTS)
    (dv,) = _validations_on(ws, _column_letter(CONTRACTS, "date"))
    assert dv.type == "date"
    assert dv.prompt == "请填写日期，如 2025-03-05"
    assert _column_number_format(ws, [c.name for c in CONTRACTS.columns].index("date") + 1) == "yyyy-mm-dd"


def test_money_and_integer_validation(workspace: Path) -> None:
    ws = _sheet(workspace, CONTRACTS)
    (amount,) = _validations_on(ws, _column_letter(CONTRACTS, "amount"))
    assert amount.type == "decimal" and amount.operator == "greaterThanOrEqual"
    assert float(amount.formula1) == -1e12
    (terms,) = _validations_on(ws, _column_letter(CONTRACTS, "terms_days"))
    assert terms.type == "whole"
    targets = LEDGER_KINDS["targets"]
    (month,) = _validations_on(_sheet(workspace, targets), _column_letter(targets, "month"))
    assert (month.type, month.formula1, month.formula2) == ("whole", "1", "12")


@pytest.mark.parametrize("kind", LEDGER_KINDS.values(), ids=lambda k: k.name)
def test_id_columns_are_text(workspace: Path, kind: LedgerKind) -> None:
    ws = _sheet(workspace, kind)
    for i, col in enumerate(kind.columns, start=1):
        fmt = _column_number_format(ws, i)
        assert (fmt == "@") == (col.name in TEXT_ID_COLUMNS), col.label


def test_the_named_id_columns_are_covered() -> None:
    labels = {c.label for k in LEDGER_KINDS.values() for c in k.columns if c.name in TEXT_ID_COLUMNS}
    assert {"合同编号", "发货单号", "发票号码", "凭证号", "电话"} <= labels
