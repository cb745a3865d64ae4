"""Bar charts as inline SVG, made on the server: no script and no library for a few rectangles.

Each chart carries a <title> and an aria-label saying in words what it shows, so a screen
reader gets the figures too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

LABEL_PX = 40


@dataclass(frozen=True)
class Bar:
    label: str  # what the bar counts, e.g. "14:00" or "12-05"
    value: int
    # A second figure drawn in red under the axis (e.g. failed fetches), 0 for none.
    bad: int = 0


def bar_chart(bars: Sequence[Bar], title: str, width: int = 600, height: int = 120) -> str:
    """An SVG bar chart scaled to the tallest bar; every few bars labelled under the axis."""
    top = max([b.value for b in bars] + [1])
    bad_top = max([b.bad for b in bars] + [0])
    axis = height - 18
    plot = axis - 14
    step = width / max(len(bars), 1)
    # A "23/12" label is about 28 px at font-size 10: one label per 40 px at least, or the
    # labels of a 280-px chart of 14 days run into each other.
    label_every = max(1, len(bars) // 8, math.ceil(LABEL_PX / step))
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height + (12 if bad_top else 0)}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}: {escape(_words(bars))}"><title>{escape(title)}</title>',
        f'<text x="0" y="10" font-size="10" fill="#4d5560">max {top}</text>',
        f'<line x1="0" y1="{axis}" x2="{width}" y2="{axis}" stroke="#8a939c"/>',
    ]
    for i, bar in enumerate(bars):
        x = i * step + 1
        h = bar.value / top * plot
        parts.append(
            f'<rect x="{x:.1f}" y="{axis - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#0b5cad"><title>{escape(bar.label)}: {bar.value}'
            f"{f', {bar.bad} failed' if bar.bad else ''}</title></rect>"
        )
        if bar.bad:
            parts.append(
                f'<rect x="{x:.1f}" y="{axis + 2}" width="{max(step - 2, 1):.1f}" height="8" '
                f'fill="#a4161a"><title>{escape(bar.label)}: {bar.bad} failed</title></rect>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 4 + (12 if bad_top else 0)}" font-size="10" '
                f'fill="#4d5560">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _words(bars: Sequence[Bar]) -> str:
    total = sum(b.value for b in bars)
    bad = sum(b.bad for b in bars)
    return f"{total} in all" + (f", {bad} failed" if bad else "")
