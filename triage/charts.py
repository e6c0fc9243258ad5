"""Server-rendered SVG charts: shapes computed here and written as inline SVG markup.

Shapes carry CSS classes only (the Content-Security-Policy forbids inline styles), so colours
come from `static/css/reports.css` and print in black and white with patterns-free contrast.
Every chart is shown with its numbers in a table next to it; the SVG is a picture of that
table, not the only way to read it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 44
MARGIN_RIGHT = 12
MARGIN_TOP = 12
MARGIN_BOTTOM = 28


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    css_class: str = "chart-label"


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    css_class: str = "chart-grid"


@dataclass
class Chart:
    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    def svg(self, *, element_id: str, table_where: str = "below") -> SafeString:
        """The chart as an inline <svg>: classes only (no style attribute), every text
        escaped, a title and description for screen readers, a tooltip per shape.

        Written here rather than in a template loop: a 90-day chart has hundreds of shapes,
        and the template engine spends milliseconds per hundred nodes.
        """
        parts = [
            f'<svg class="chart-svg" viewBox="{self.view_box}" width="{self.width}" '
            f'height="{self.height}" role="img" '
            f'aria-labelledby="{element_id}-title {element_id}-desc" '
            'preserveAspectRatio="xMinYMin meet">',
            f'<title id="{element_id}-title">{escape(self.title)}</title>',
            f'<desc id="{element_id}-desc">{escape(self.description)} '
            f"The numbers are in the table {escape(table_where)}.</desc>",
        ]
        parts.extend(
            f'<line class="{escape(r.css_class)}" x1="{r.x1:g}" y1="{r.y1:g}" x2="{r.x2:g}" '
            f'y2="{r.y2:g}"/>'
            for r in self.rules
        )
        parts.extend(
            f'<rect class="{escape(r.css_class)}" x="{r.x:g}" y="{r.y:g}" width="{r.width:g}" '
            f'height="{r.height:g}"><title>{escape(r.title)}</title></rect>'
            for r in self.rects
        )
        parts.extend(
            f'<text class="{escape(t.css_class)}" x="{t.x:g}" y="{t.y:g}" '
            f'text-anchor="{escape(t.anchor)}">{escape(t.text)}</text>'
            for t in self.texts
        )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 (every interpolated text is escaped)


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1, 2, 2.5 or 5 times a power of ten)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step < 1:
        step = 1
    top = math.ceil(maximum / step) * step
    return [round(i * step, 6) for i in range(round(top / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _axes(chart: Chart, ticks: list[float], plot_height: float) -> None:
    top = ticks[-1]
    for tick in ticks:
        y = MARGIN_TOP + plot_height - plot_height * tick / top
        chart.rules.append(Rule(MARGIN_LEFT, y, chart.width - MARGIN_RIGHT, y))
        chart.texts.append(Text(MARGIN_LEFT - 6, y + 4, _fmt(tick), "end", "chart-tick"))


def _column_chart(
    title: str, description: str, series: Sequence[tuple[str, str]], width: int
) -> tuple[Chart, float, float]:
    """An empty column chart with a legend entry per series, and its plot's width and height."""
    chart = Chart(
        title,
        description,
        width=width,
        legend=[(f"chart-{key}", label) for key, label in series],
    )
    return (
        chart,
        chart.width - MARGIN_LEFT - MARGIN_RIGHT,
        chart.height - MARGIN_TOP - MARGIN_BOTTOM,
    )


def stacked_columns(
    *,
    title: str,
    description: str,
    columns: Sequence[tuple[date, dict[str, int]]],
    series: Sequence[tuple[str, str]],
    label_every: int | None = None,
    width: int = WIDTH,
) -> Chart:
    """One column per day, its segments stacked in `series` order ((key, label) pairs)."""
    chart, plot_width, plot_height = _column_chart(title, description, series, width)
    totals = [sum(values.get(key, 0) for key, _ in series) for _, values in columns]
    ticks = nice_ticks(max(totals, default=0))
    _axes(chart, ticks, plot_height)
    if not columns:
        return chart
    slot = plot_width / len(columns)
    gap = min(2.0, slot * 0.2)
    every = label_every or max(1, math.ceil(len(columns) / 8))
    for index, (day, values) in enumerate(columns):
        x = MARGIN_LEFT + index * slot + gap / 2
        base = MARGIN_TOP + plot_height
        for key, label in series:
            value = values.get(key, 0)
            if not value:
                continue
            height = plot_height * value / ticks[-1]
            base -= height
            chart.rects.append(
                Rect(
                    round(x, 2),
                    round(base, 2),
                    round(slot - gap, 2),
                    round(height, 2),
                    f"chart-{key}",
                    f"{day:%d %b}: {value:,} {label.lower()}",
                )
            )
        if index % every == 0:
            chart.texts.append(
                Text(round(x + (slot - gap) / 2, 2), chart.height - 8, f"{day:%d %b}")
            )
    return chart


def grouped_columns(
    *,
    title: str,
    description: str,
    groups: Sequence[tuple[str, dict[str, int]]],
    series: Sequence[tuple[str, str]],
    width: int = WIDTH,
) -> Chart:
    """Side-by-side columns per group (for example new and resolved per week)."""
    chart, plot_width, plot_height = _column_chart(title, description, series, width)
    ticks = nice_ticks(max((v.get(k, 0) for _, v in groups for k, _ in series), default=0))
    _axes(chart, ticks, plot_height)
    if not groups:
        return chart
    slot = plot_width / len(groups)
    bar = min(28.0, slot * 0.8 / len(series))
    every = max(1, math.ceil(len(groups) / 10))
    for index, (name, values) in enumerate(groups):
        start = MARGIN_LEFT + index * slot + (slot - bar * len(series)) / 2
        for position, (key, label) in enumerate(series):
            value = values.get(key, 0)
            height = plot_height * value / ticks[-1]
            chart.rects.append(
                Rect(
                    round(start + position * bar, 2),
                    round(MARGIN_TOP + plot_height - height, 2),
                    round(bar - 1, 2),
                    round(height, 2),
                    f"chart-{key}",
                    f"{name}: {value:,} {label.lower()}",
                )
            )
        if index % every == 0:
            chart.texts.append(
                Text(round(MARGIN_LEFT + index * slot + slot / 2, 2), chart.height - 8, name)
            )
    return chart


def horizontal_bars(
    *, title: str, description: str, bars: Sequence[tuple[str, int, str]], width: int = 560
) -> Chart:
    """One labelled bar per (label, value, css key); the value is written after the bar."""
    row = 26
    label_width = 150
    chart = Chart(title, description, width=width, height=row * max(len(bars), 1) + 8)
    top = max((value for _, value, _ in bars), default=0) or 1
    room = width - label_width - 60
    for index, (label, value, key) in enumerate(bars):
        y = 4 + index * row
        length = room * value / top
        chart.texts.append(Text(label_width - 8, y + 16, label, "end", "chart-label"))
        chart.rects.append(
            Rect(label_width, y + 3, round(max(length, 1), 2), 18, f"chart-{key}", label)
        )
        chart.texts.append(
            Text(round(label_width + length + 6, 2), y + 16, f"{value:,}", "start", "chart-value")
        )
    return chart
