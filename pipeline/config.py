"""One frozen settings tree loaded from taizhang.toml; every default lives here and nowhere else."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_type_hints

CONFIG_NAME = "taizhang.toml"


class ConfigError(Exception):
    """A wrong key or value in taizhang.toml; the message names the key (zh-CN)."""


@dataclass(frozen=True)
class Company:
    name: str = "示例机电设备有限公司"


@dataclass(frozen=True)
class Aging:
    basis: str = "delivery"  # delivery | invoice
    buckets: tuple[int, ...] = (30, 60, 90, 180, 365, 730, 1095)
    labels: tuple[str, ...] = (
        "0-30天",
        "31-60天",
        "61-90天",
        "91-180天",
        "181-365天",
        "1-2年",
        "2-3年",
        "3年以上",
    )
    default_terms_days: int = 30


@dataclass(frozen=True)
class Provision:
    # Upper bound of 账龄天数 (inclusive) → rate; the last band has no bound.
    bounds: tuple[int, ...] = (365, 730, 1095, 1460, 1825)
    rates: tuple[float, ...] = (0.05, 0.10, 0.30, 0.50, 0.80, 1.00)
    labels: tuple[str, ...] = ("1年以内", "1-2年", "2-3年", "3-4年", "4-5年", "5年以上")


@dataclass(frozen=True)
class Reconcile:
    date_tolerance_days: int = 3
    uninvoiced_days: int = 30


@dataclass(frozen=True)
class Payments:
    authority: str = "finance"  # finance | sales | union


@dataclass(frozen=True)
class Stats:
    sales_measure: str = "contract"  # contract | delivery | invoice
    seasonality: tuple[float, ...] = (1,) * 12


KPI_NAMES = (
    "sales_rate",
    "payment_rate",
    "new_customers",
    "overdue_control",
    "daily_report_rate",
    "customer_contacts",
)


@dataclass(frozen=True)
class Scoring:
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "sales_rate": 40,
            "payment_rate": 40,
            "new_customers": 10,
            "overdue_control": 10,
        }
    )
    cap: float = 1.2
    overdue_days: int = 90
    overdue_zero_share: float = 0.5
    bottom_threshold: float = 60
    contacts_target_per_day: float = 2.0


@dataclass(frozen=True)
class Commission:
    base: str = "payments"  # payments | contract | delivery | invoice
    # Lower bound of 回款完成率 → rate; sorted ascending, the first bound is 0.
    tiers: tuple[tuple[float, float], ...] = ((0.0, 0.01), (0.8, 0.02), (1.0, 0.03))


@dataclass(frozen=True)
class Calendar:
    weekend: tuple[int, ...] = (5, 6)  # Monday = 0
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()  # 调休 working weekend days


@dataclass(frozen=True)
class Inbox:
    settle_seconds: float = 10


@dataclass(frozen=True)
class Outputs:
    # Big tables' rows without row numbers (rowblocks.py) let a second run copy rows that moved; True writes the
    # numbers, for a program that cannot place rows without them.
    numbered_rows: bool = False


@dataclass(frozen=True)
class Limits:
    max_problems_per_file: int = 1000
    parse_timeout_seconds: float = 300
    parse_memory_mb: int = 4096
    max_uncompressed_mb: int = 2048
    max_entry_mb: int = 1024
    min_compression_ratio: float = 0.01
    max_cells: int = 60_000_000
    workers: int = 2


@dataclass(frozen=True)
class Settings:
    company: Company = field(default_factory=Company)
    aging: Aging = field(default_factory=Aging)
    provision: Provision = field(default_factory=Provision)
    reconcile: Reconcile = field(default_factory=Reconcile)
    payments: Payments = field(default_factory=Payments)
    stats: Stats = field(default_factory=Stats)
    scoring: Scoring = field(default_factory=Scoring)
    # 事项 → default 扣款 in fen when 考核记录 leaves the amount blank
    penalties: dict[str, int] = field(
        default_factory=lambda: {
            "客户投诉": 10000,
            "未按时提交周报": 3000,
            "无故缺席例会": 5000,
            "送货记录未按期完成": 3000,
        }
    )
    commission: Commission = field(default_factory=Commission)
    calendar: Calendar = field(default_factory=Calendar)
    inbox: Inbox = field(default_factory=Inbox)
    outputs: Outputs = field(default_factory=Outputs)
    limits: Limits = field(default_factory=Limits)
    # kind → column code name → extra header aliases
    aliases: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)


CHOICES = {
    "aging.basis": ("delivery", "invoice"),
    "payments.authority": ("finance", "sales", "union"),
    "stats.sales_measure": ("contract", "delivery", "invoice"),
    "commission.base": ("payments", "contract", "delivery", "invoice"),
}


def load_settings(workspace: Path) -> Settings:
    """Settings from <workspace>/taizhang.toml, defaults when absent; raises ConfigError naming the key."""
    path = workspace / CONFIG_NAME
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{CONFIG_NAME} 格式错误：{exc}") from exc
    return settings_from_dict(raw)


def settings_from_dict(raw: dict[str, Any]) -> Settings:
    settings = _build(Settings, raw, "")
    _check(settings)
    return settings


def _build(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"配置项 [{prefix.rstrip('.')}] 应为一个表（table）")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"未知的配置项「{prefix}{key}」（可用：{'、'.join(sorted(known))}）")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        key, hint, value = prefix + f.name, hints[f.name], raw[f.name]
        values[f.name] = _convert(key, hint, value)
    return cls(**values)


def _convert(key: str, hint: Any, value: Any) -> Any:
    if is_dataclass(hint):
        return _build(hint, value, key + ".")  # type: ignore[arg-type]
    if key == "penalties":
        return _penalties(key, value)
    if key == "aliases":
        return _aliases(key, value)
    if key == "scoring.weights":
        if not isinstance(value, dict) or not all(isinstance(v, int | float) for v in value.values()):
            raise ConfigError(f"配置项「{key}」应为 指标名 = 权重 的表")
        return {str(k): float(v) for k, v in value.items()}
    if key == "commission.tiers":
        return _tiers(key, value)
    origin = getattr(hint, "__origin__", None)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"配置项「{key}」应为列表")
        return tuple(value)
    expected = hint if isinstance(hint, type) else None
    if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if expected is not None and not isinstance(value, expected):
        raise ConfigError(f"配置项「{key}」的值 {value!r} 类型不对（应为 {expected.__name__}）")
    return value


def _penalties(key: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ConfigError(f"配置项「{key}」应为 事项 = 金额(元) 的表")
    out: dict[str, int] = {}
    for item, yuan in value.items():
        if not isinstance(yuan, int | float) or yuan < 0:
            raise ConfigError(f"配置项「{key}.{item}」应为非负金额（元）")
        out[str(item)] = round(yuan * 100)
    return out


def _aliases(key: str, value: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    from schemas import LEDGER_KINDS

    if not isinstance(value, dict):
        raise ConfigError(f"配置项「{key}」应为表")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind, cols in value.items():
        if kind not in LEDGER_KINDS:
            raise ConfigError(f"配置项「{key}.{kind}」：未知的台账类型（可用：{'、'.join(LEDGER_KINDS)}）")
        if not isinstance(cols, dict):
            raise ConfigError(f"配置项「{key}.{kind}」应为 列名 = [别名…] 的表")
        out[kind] = {}
        for col, names in cols.items():
            if not LEDGER_KINDS[kind].has(col):
                raise ConfigError(f"配置项「{key}.{kind}.{col}」：{kind} 没有这一列")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"配置项「{key}.{kind}.{col}」应为字符串列表")
            out[kind][col] = tuple(names)
    return out


def _tiers(key: str, value: Any) -> tuple[tuple[float, float], ...]:
    ok = (
        isinstance(value, list)
        and value
        and all(
            isinstance(t, list) and len(t) == 2 and all(isinstance(x, int | float) for x in t) for t in value
        )
    )
    if not ok:
        raise ConfigError(
            f"配置项「{key}」应为 [[回款完成率下限, 提成比例], …] 的列表，例如 [[0, 0.01], [0.8, 0.02]]"
        )
    tiers = tuple((float(a), float(b)) for a, b in value)
    bounds = [a for a, _ in tiers]
    if bounds[0] != 0 or bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
        raise ConfigError(f"配置项「{key}」的下限须从 0 开始且严格递增")
    if any(not 0 <= r <= 1 for _, r in tiers):
        raise ConfigError(f"配置项「{key}」的提成比例须在 0 到 1 之间")
    return tiers


def _check(s: Settings) -> None:
    for key, allowed in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(s, section), name)
        if value not in allowed:
            raise ConfigError(f"配置项「{key}」的值「{value}」无效（可用：{'、'.join(allowed)}）")
    a = s.aging
    if list(a.buckets) != sorted(set(a.buckets)) or not a.buckets or a.buckets[0] < 0:
        raise ConfigError("配置项「aging.buckets」须为严格递增的正整数列表")
    if len(a.labels) != len(a.buckets) + 1:
        raise ConfigError("配置项「aging.labels」的个数须比 aging.buckets 多一个")
    p = s.provision
    if len(p.rates) != len(p.bounds) + 1 or len(p.labels) != len(p.rates):
        raise ConfigError(
            "配置项「provision.rates」的个数须比 provision.bounds 多一个（labels 与 rates 等长）"
        )
    if any(not 0 <= r <= 1 for r in p.rates):
        raise ConfigError("配置项「provision.rates」须在 0 到 1 之间")
    if (
        len(s.stats.seasonality) != 12
        or any(w < 0 for w in s.stats.seasonality)
        or sum(s.stats.seasonality) <= 0
    ):
        raise ConfigError("配置项「stats.seasonality」须为 12 个非负权重")
    _check_scoring(s.scoring)
    _check_calendar(s.calendar)
    if s.inbox.settle_seconds < 0:
        raise ConfigError("配置项「inbox.settle_seconds」不能为负")


def _check_scoring(sc: Scoring) -> None:
    w = sc.weights
    for name, weight in w.items():
        if name not in KPI_NAMES:
            raise ConfigError(
                f"配置项「scoring.weights.{name}」：未知的考核指标（可用：{'、'.join(KPI_NAMES)}）"
            )
        if weight < 0:
            raise ConfigError(f"配置项「scoring.weights.{name}」的权重不能为负")
    if abs(sum(w.values()) - 100) > 1e-9:
        raise ConfigError(f"配置项「scoring.weights」的权重之和须为 100（现为 {sum(w.values()):g}）")
    if sc.cap <= 0:
        raise ConfigError("配置项「scoring.cap」须大于 0")
    if not 0 < sc.overdue_zero_share <= 1:
        raise ConfigError("配置项「scoring.overdue_zero_share」须大于 0 且不超过 1")
    if sc.overdue_days < 0:
        raise ConfigError("配置项「scoring.overdue_days」不能为负")
    if sc.contacts_target_per_day <= 0:
        raise ConfigError("配置项「scoring.contacts_target_per_day」须大于 0")


def _check_calendar(c: Calendar) -> None:
    if any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in c.weekend):
        raise ConfigError("配置项「calendar.weekend」须为 0–6 的整数列表（星期一 = 0，星期日 = 6）")
    for key, days in (("calendar.holidays", c.holidays), ("calendar.workdays", c.workdays)):
        for day in days:
            try:
                date.fromisoformat(str(day))
            except ValueError:
                raise ConfigError(f"配置项「{key}」中的「{day}」不是 YYYY-MM-DD 格式的日期") from None
