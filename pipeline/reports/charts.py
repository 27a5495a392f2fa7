"""Small inline SVG charts for the HTML summary: no script, no network, Chinese labels in system fonts.

Values are plain numbers (yuan); every label is escaped here, so the template may mark the SVG safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2f6fb0", "#e07b39", "#4a9d5b", "#c2453d", "#8064a2", "#3aa6b9", "#d4a72c", "#7f7f7f")
WIDTH, HEIGHT = 640, 260
PAD_L, PAD_R, PAD_T, PAD_B = 64, 12, 16, 56


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def short_yuan(value: float) -> str:
    """Axis labels: 1.2亿 / 350万 / 8,000."""
    if abs(value) >= 1e8:
        return f"{value / 1e8:.1f}亿"
    if abs(value) >= 1e4:
        return f"{value / 1e4:,.0f}万"
    return f"{value:,.0f}"


def _frame(top: float) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">'
    ]
    plot_h = HEIGHT - PAD_T - PAD_B
    for i in range(5):
        y = PAD_T + plot_h * (1 - i / 4)
        parts.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{WIDTH - PAD_R}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{escape(short_yuan(top * i / 4))}</text>"
        )
    return parts


def _y(value: float, top: float) -> float:
    return PAD_T + (HEIGHT - PAD_T - PAD_B) * (1 - max(value, 0) / top)


def _legend(names: Sequence[str]) -> list[str]:
    parts, x = [], PAD_L
    for i, name in enumerate(names):
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 7}" class="legend">{escape(name)}</text>')
        x += 24 + 14 * len(name)
    return parts


def _category_labels(categories: Sequence[str], step: float) -> list[str]:
    y = HEIGHT - PAD_B + 16
    return [
        f'<text x="{PAD_L + step * (i + 0.5):.1f}" y="{y}" text-anchor="middle" class="axis">{escape(c)}</text>'
        for i, c in enumerate(categories)
    ]


def bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> str:
    """Grouped columns: one group per category, one column per series."""
    top = _nice_max(max((v for vs in series.values() for v in vs), default=0))
    parts = _frame(top)
    step = (WIDTH - PAD_L - PAD_R) / max(len(categories), 1)
    width = step * 0.7 / max(len(series), 1)
    for s, (name, values) in enumerate(series.items()):
        for i, v in enumerate(values):
            x = PAD_L + step * i + step * 0.15 + width * s
            y = _y(v, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{_y(0, top) - y:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(f"{categories[i]} {name}：{v:,.2f} 元")}'
                "</title></rect>"
            )
    parts += _category_labels(categories, step) + _legend(list(series)) + ["</svg>"]
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def line_chart(categories: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> str:
    top = _nice_max(max((v for vs in series.values() for v in vs), default=0))
    parts = _frame(top)
    step = (WIDTH - PAD_L - PAD_R) / max(len(categories), 1)
    for s, (name, values) in enumerate(series.items()):
        points = " ".join(f"{PAD_L + step * (i + 0.5):.1f},{_y(v, top):.1f}" for i, v in enumerate(values))
        color = PALETTE[s % len(PALETTE)]
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{PAD_L + step * (i + 0.5):.1f}" cy="{_y(v, top):.1f}" r="3" fill="{color}">'
                f"<title>{escape(f'{categories[i]} {name}：{v:,.2f} 元')}</title></circle>"
            )
    labels = [c[-5:] if len(categories) > 6 else c for c in categories]
    parts += _category_labels(labels, step) + _legend(list(series)) + ["</svg>"]
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"
