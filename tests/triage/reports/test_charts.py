from datetime import date

from triage.charts import grouped_columns, horizontal_bars, nice_ticks, stacked_columns


def test_nice_ticks_cover_the_maximum_with_round_steps():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(8) == [0, 2, 4, 6, 8]
    assert nice_ticks(67) == [0, 20, 40, 60, 80]
    assert nice_ticks(3) == [0, 1, 2, 3]


def test_stacked_columns_are_proportional_and_stack_in_series_order():
    chart = stacked_columns(
        title="Open",
        description="d",
        columns=[(date(2026, 3, 1), {"critical": 2, "high": 6}), (date(2026, 3, 2), {"high": 4})],
        series=[("critical", "Critical"), ("high", "High")],
    )
    critical, high, second_high = chart.rects
    assert (critical.css_class, high.css_class) == ("chart-critical", "chart-high")
    assert high.height == 3 * critical.height  # 6 vs 2 on one scale
    assert second_high.height == 2 * critical.height
    assert high.y + high.height == critical.y  # the first series is at the bottom
    assert "2 critical" in critical.title


def test_svg_markup_has_classes_only_and_escapes_text():
    chart = grouped_columns(
        title="<script>",
        description="new & resolved",
        groups=[("<b>", {"new": 3, "resolved": 1})],
        series=[("new", "New"), ("resolved", "Resolved")],
    )
    svg = str(chart.svg(element_id="weekly"))
    assert "style=" not in svg and "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "new &amp; resolved" in svg
    assert svg.count("<rect") == 2
    bars = horizontal_bars(title="t", description="d", bars=[("Critical", 0, "critical")])
    assert "chart-critical" in str(bars.svg(element_id="now"))
