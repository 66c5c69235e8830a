"""Inline SVG charts drawn on the server (no JavaScript, no external assets).

The competency chart is a horizontal bar per competency: the current level as a bar, the
level the position requires as a tick, on the 1..5 scale of Permenpan RB 38/2017. The label
sits above its bar with the values after it, so the chart stays readable when a phone
shrinks it. Colours come from
classes styled in `static/style.css`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from features import columns as c

WIDTH = 640
LEFT = 8
RIGHT = 24
ROW = 44
TOP = 28
SCALE_MAX = c.MAX_LEVEL_VALUE


@dataclass(frozen=True)
class CompetencyBar:
    """One competency: name, current level (None: never assessed), required level."""

    competency_id: str
    name: str
    current: float | None
    required: float


def _level(value: float, decimal: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", decimal)


def competency_chart(
    bars: Sequence[CompetencyBar],
    *,
    title: str,
    current_label: str,
    required_label: str,
    unassessed_label: str,
    decimal: str = ",",
) -> str:
    """An accessible SVG (role img, title, one <title> per bar) as a string of markup."""
    plot = WIDTH - LEFT - RIGHT
    height = TOP + ROW * max(len(bars), 1) + 8

    def x(level: float) -> float:
        return LEFT + plot * max(0.0, min(level, SCALE_MAX)) / SCALE_MAX

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for level in range(0, SCALE_MAX + 1):
        gx = x(level)
        parts.append(
            f'<line class="grid" x1="{gx:.1f}" y1="{TOP - 6}" x2="{gx:.1f}" y2="{height - 8}"/>'
            f'<text class="axis" x="{gx:.1f}" y="{TOP - 12}" text-anchor="middle">{level}</text>'
        )
    for i, bar in enumerate(bars):
        y = TOP + ROW * i
        current = bar.current if bar.current is not None else math.nan
        assessed = not math.isnan(current)
        current = current if assessed else 0.0
        meets = assessed and current + 1e-9 >= bar.required
        label = escape(bar.name)
        value = (
            f"{current_label} {_level(current, decimal)}" if assessed else unassessed_label
        ) + f" · {required_label} {_level(bar.required, decimal)}"
        parts.append(f'<g class="bar {"meets" if meets else "short"}">')
        parts.append(f"<title>{label}: {escape(value)}</title>")
        parts.append(
            f'<text class="label" x="{LEFT}" y="{y + 12}">{label}'
            f'<tspan class="value" dx="8">{escape(value)}</tspan></text>'
        )
        parts.append(
            f'<rect class="track" x="{LEFT}" y="{y + 18}" width="{plot}" height="14" rx="3"/>'
        )
        if assessed:
            parts.append(
                f'<rect class="current" x="{LEFT}" y="{y + 18}" '
                f'width="{x(current) - LEFT:.1f}" height="14" rx="3"/>'
            )
        rx = x(bar.required)
        parts.append(
            f'<line class="required" x1="{rx:.1f}" y1="{y + 14}" x2="{rx:.1f}" y2="{y + 36}"/>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
