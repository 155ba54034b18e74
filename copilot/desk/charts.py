"""Server-side line charts: the geometry of a weekly series, drawn as SVG by the `chart` template macro.

Nothing is fetched or run in the browser; each chart also carries its values for a table, so the numbers are
readable without the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WIDTH, HEIGHT = 320, 140
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 24


@dataclass
class Point:
    """One week's value and where it sits."""

    label: str
    value: float | None
    x: float
    y: float | None


@dataclass
class Chart:
    """A series ready to draw: points, the polyline(s) joining known values, and y-axis ticks."""

    key: str
    points: list[Point]
    lines: list[str] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    percent: bool = False
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        """No known value at all."""
        return all(p.value is None for p in self.points)


def _label(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d/%m")
    return str(value)[5:10] if isinstance(value, str) and len(value) >= 10 else str(value)


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:.3g}"


def series(key: str, rows: list[dict[str, Any]], value_of: Any, *, percent: bool = False, x_key: str = "week_start") -> Chart:
    """The chart of `value_of(row)` over `rows` (oldest first); None values leave a gap in the line."""
    values = [value_of(r) for r in rows]
    known = [float(v) for v in values if v is not None]
    lo = min([0.0, *known])
    hi = max([1.0 if percent else 0.0, *known]) or 1.0
    span = (hi - lo) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(1, len(rows) - 1)
    points = [Point(_label(r.get(x_key)), None if v is None else float(v), round(LEFT + i * step, 1),
                    None if v is None else round(TOP + inner_h * (1 - (float(v) - lo) / span), 1))
              for i, (r, v) in enumerate(zip(rows, values))]
    chart = Chart(key, points, percent=percent)
    run: list[str] = []
    for p in [*points, None]:
        if p is not None and p.y is not None:
            run.append(f"{p.x},{p.y}")
            continue
        if len(run) > 1:
            chart.lines.append(" ".join(run))
        run = []
    chart.ticks = [(round(TOP + inner_h * (1 - (t - lo) / span), 1), _fmt(t, percent)) for t in (lo, lo + span / 2, hi)]
    return chart


def nested(*path: str) -> Any:
    """A reader of a nested value (`nested("participation", "active_members")`), None when absent."""
    def read(row: dict[str, Any]) -> Any:
        value: Any = row
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value
    return read
