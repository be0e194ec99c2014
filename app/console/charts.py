"""The Rules page's chart of what each rule issued per day, computed on the server and drawn as
plain SVG in the page: no script, nothing fetched from elsewhere, and the page's Content
Security Policy stays closed (SVG presentation attributes are not styles)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

PALETTE = ("#3b6fd8", "#d8873b", "#2e9e6b", "#a13bd8", "#d83b5e", "#6b7385")
WIDTH, HEIGHT = 600, 160
#: Room above the lines for the scale's label, and below them for the days'.
TOP, BOTTOM = 18, 16


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    total: int
    #: (x, y) per day, first to last
    points: tuple[tuple[float, float], ...]

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass(frozen=True)
class DailyChart:
    first: date
    last: date
    #: the largest amount on one day, the top of the scale
    top: int
    lines: tuple[Line, ...]
    #: (rule, kind) lines left out: only the largest ``len(PALETTE)`` are drawn
    left_out: int


def daily_chart(
    daily: Mapping[tuple[str, str], Mapping[date, int]], first: date, last: date
) -> DailyChart:
    """Per (rule, kind), the amounts issued on each day from ``first`` to ``last`` as a line;
    the largest totals first, days without issuance at zero."""
    days = [first + timedelta(n) for n in range((last - first).days + 1)]
    series = sorted(
        (
            (f"{rule} {kind}", [amounts.get(day, 0) for day in days])
            for (rule, kind), amounts in daily.items()
        ),
        key=lambda s: (-sum(s[1]), s[0]),
    )
    series = [s for s in series if any(s[1])]
    drawn = series[: len(PALETTE)]
    top = max((max(values) for _, values in drawn), default=0)
    step = (WIDTH - 20) / max(len(days) - 1, 1)

    def point(n: int, value: int) -> tuple[float, float]:
        x = 10 + (n * step if len(days) > 1 else (WIDTH - 20) / 2)
        return x, HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / max(top, 1)

    lines = tuple(
        Line(label, colour, sum(values), tuple(point(n, v) for n, v in enumerate(values)))
        for (label, values), colour in zip(drawn, PALETTE, strict=False)
    )
    return DailyChart(first, last, top, lines, len(series) - len(drawn))
