"""The "open vulnerabilities over time" picture: an inline SVG bar chart written on the server.

No script and no external file: the page's Content-Security-Policy allows neither inline styles nor
other origins, so colours come from classes in fleetsite.css (with fill attributes as a fallback).
"""

from __future__ import annotations

from datetime import datetime

from fleetsite.ui import html_text

WIDTH, HEIGHT = 1000, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 26


def _nice_top(value: int) -> int:
    """The axis maximum: the smallest of 1, 2, 5 × 10ⁿ at or above `value` (5 for an empty chart)."""
    if value <= 5:
        return 5
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def open_vulnerabilities_svg(points: list[tuple[datetime, int]], chart_id: str = "vuln-chart") -> str:
    """Bars of open host-vulnerabilities per day, with a title and description for screen readers.

    Each bar carries `data-date` and `data-open` (and a `<title>` tooltip), so the numbers behind the
    picture can be read and tested.
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_top(max((count for _, count in points), default=0))
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.7, 1.0)
    first, last = (points[0][0], points[-1][0]) if points else (None, None)
    latest = points[-1][1] if points else 0
    title = "Open vulnerabilities over time"
    if first and last:
        desc = (
            f"Host vulnerabilities open at the end of each day from {first:%Y-%m-%d} to {last:%Y-%m-%d}: "
            f"{latest} open now, at most {max(c for _, c in points)} in this period."
        )
    else:
        desc = "No data."
    parts = [
        f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{title}</title>',
        f'<desc id="{chart_id}-desc">{html_text(desc)}</desc>',
    ]
    # Grid lines at 0, half and the top, labelled on the left.
    for value in (0, top / 2, top):
        y = TOP + plot_h - plot_h * value / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9dce6"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:g}</text>'
        )
    for i, (day, count) in enumerate(points):
        height = plot_h * count / top
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h - height
        label = f"{day:%Y-%m-%d}: {count} open"
        parts.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" fill="#6a67fe" '
            f'data-date="{day:%Y-%m-%d}" data-open="{count}"><title>{label}</title></rect>'
        )
    if first and last:
        baseline = HEIGHT - 8
        parts.append(
            f'<text class="axis" x="{LEFT}" y="{baseline}" font-size="11">{first:%b %d}</text>'
            f'<text class="axis" x="{WIDTH - RIGHT}" y="{baseline}" text-anchor="end" font-size="11">Today</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
