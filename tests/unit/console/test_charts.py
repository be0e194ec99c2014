"""The Rules page's daily chart: a line per rule and kind over every day of the range, days
without issuance at zero, the largest first, scaled to the busiest day."""

from __future__ import annotations

from datetime import date

from app.console.charts import BOTTOM, HEIGHT, PALETTE, TOP, daily_chart

FIRST, LAST = date(2026, 11, 16), date(2026, 11, 18)


def test_a_line_per_rule_and_kind_scaled_to_the_busiest_day():
    chart = daily_chart(
        {
            ("small", "XP"): {date(2026, 11, 17): 10},
            ("big", "POINTS"): {FIRST: 40, LAST: 20, date(2026, 11, 1): 999},  # before: left out
            ("silent", "XP"): {date(2026, 11, 1): 5},
        },
        FIRST,
        LAST,
    )
    assert [(line.label, line.total) for line in chart.lines] == [
        ("big POINTS", 60),
        ("small XP", 10),
    ]
    assert chart.top == 40 and chart.left_out == 0
    big, small = chart.lines
    ys = [y for _, y in big.points]
    assert ys == [TOP, HEIGHT - BOTTOM, TOP + (HEIGHT - TOP - BOTTOM) / 2]
    assert [x for x, _ in big.points] == [x for x, _ in small.points]  # one x per day
    assert big.polyline.startswith("10.0,18.0 ")


def test_only_the_largest_lines_are_drawn_and_one_day_is_a_point():
    daily = {(f"rule-{n}", "XP"): {FIRST: n + 1} for n in range(len(PALETTE) + 2)}
    chart = daily_chart(daily, FIRST, FIRST)
    assert len(chart.lines) == len(PALETTE) and chart.left_out == 2
    assert chart.lines[0].label == f"rule-{len(PALETTE) + 1} XP"
    assert {len(line.points) for line in chart.lines} == {1}
    assert daily_chart({}, FIRST, LAST).lines == ()
