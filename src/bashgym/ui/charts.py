"""Small server-side SVG charts (bars, histogram, lines): they work offline and need no JS or matplotlib.

Every label is escaped; the SVG uses presentation attributes and CSS classes only (no inline style), so
it passes the app's content security policy. Axes are readable at the size a page draws them: counts get
whole-number ticks, rates are drawn on 0–100 %, and a line chart's y-axis spans its data (a loss that moves
from 0.92 to 0.85 is not flattened against zero).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 520, 240
PAD_L, PAD_R, PAD_T, PAD_B = 52, 12, 12, 56
PALETTE = ("c0", "c1", "c2", "c3", "c4", "c5")
TIER_CLASSES = {"gold": "t-gold", "silver": "t-silver", "bronze": "t-bronze", "failed": "t-failed"}


def _fmt(value: float, percent: bool = False) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def _scale(values: Sequence[float], percent: bool) -> float:
    """The top of the y-axis: 1 for rates, a multiple of 4 for counts (whole-number ticks), else the max."""
    top = max([0.0, *values])
    if percent:
        return 1.0
    if top <= 0:
        return 4.0
    if all(float(v).is_integer() for v in values):
        return 4.0 * math.ceil(top / 4)
    return top


def _frame(body: list[str], title: str, y_max: float, y_min: float = 0.0, percent: bool = False) -> Markup:
    plot_h = HEIGHT - PAD_T - PAD_B
    ticks = []
    for i in range(5):
        v = y_min + (y_max - y_min) * i / 4
        y = PAD_T + plot_h - plot_h * i / 4
        ticks.append(
            f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(v, percent))}</text>'
        )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(ticks)}{"".join(body)}</svg>'
    )


def bar_chart(items: Sequence[tuple[str, float]], title: str, *, uniform: bool = False,
              percent: bool = False) -> Markup:
    """One bar per (label, value); `uniform` draws them all in one colour (histograms); tier names get
    their badge's colour; `percent` draws values in [0, 1] as 0–100 %."""
    if not items:
        return Markup('<p class="muted">no data</p>')
    y_max = _scale([v for _, v in items], percent)
    plot_w = WIDTH - PAD_L - PAD_R
    plot_h = HEIGHT - PAD_T - PAD_B
    slot = plot_w / len(items)
    chars = max(4, int(slot / 7))
    body = []
    for i, (label, value) in enumerate(items):
        h = plot_h * value / y_max
        x = PAD_L + i * slot + slot * 0.15
        cls = TIER_CLASSES.get(label) or PALETTE[0 if uniform else i % len(PALETTE)]
        body.append(
            f'<rect class="bar {cls}" x="{x:.1f}" '
            f'y="{PAD_T + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {escape(_fmt(value, percent))}</title></rect>"
            f'<text class="label" x="{x + slot * 0.35:.1f}" y="{HEIGHT - PAD_B + 18}" text-anchor="middle">'
            f"{escape(label if len(label) <= chars else label[:chars - 1] + '…')}</text>"
        )
    return _frame(body, title, y_max, percent=percent)


def histogram(values: Sequence[float], title: str, bins: int = 12) -> Markup:
    """Counts of values in equal-width bins."""
    if not values:
        return Markup('<p class="muted">no data</p>')
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    items = [(f"{_fmt(round(lo + i * width))}", float(c)) for i, c in enumerate(counts)]
    return bar_chart(items, title, uniform=True)


def line_chart(series: dict[str, Sequence[tuple[float, float]]], title: str) -> Markup:
    """One polyline per named series of (x, y) points, with a legend; the y-axis spans the data."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return Markup('<p class="muted">no data</p>')
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    y_lo, y_hi = lo - pad, hi + pad
    if lo >= 0 > y_lo:
        y_lo = 0.0
    x_span = (x_hi - x_lo) or 1.0
    y_span = y_hi - y_lo
    plot_w = WIDTH - PAD_L - PAD_R
    plot_h = HEIGHT - PAD_T - PAD_B
    body = []
    legend_x = PAD_L
    for i, (name, pts) in enumerate(series.items()):
        coords = " ".join(
            f"{PAD_L + plot_w * (x - x_lo) / x_span:.1f},{PAD_T + plot_h - plot_h * (y - y_lo) / y_span:.1f}"
            for x, y in sorted(pts)
        )
        cls = PALETTE[i % len(PALETTE)]
        body.append(f'<polyline class="line {cls}" points="{coords}"><title>{escape(name)}</title></polyline>')
        body.append(
            f'<rect class="bar {cls}" x="{legend_x}" y="{HEIGHT - 22}" width="10" height="10"/>'
            f'<text class="label" x="{legend_x + 14}" y="{HEIGHT - 12}">{escape(name[:24])}</text>'
        )
        legend_x += 30 + 8 * len(name[:24])  # about 8 units a character at the label's size
    body.append(
        f'<text class="tick" x="{PAD_L}" y="{HEIGHT - PAD_B + 18}">step {escape(_fmt(x_lo))}</text>'
        f'<text class="tick" x="{WIDTH - PAD_R}" y="{HEIGHT - PAD_B + 18}" text-anchor="end">'
        f"{escape(_fmt(x_hi))}</text>"
    )
    return _frame(body, title, y_hi, y_lo)


def grouped_bars(categories: Sequence[str], series: dict[str, Sequence[float]], title: str, *,
                 percent: bool = False) -> Markup:
    """Side-by-side bars per category, one colour per series (e.g. base vs adapter per task category)."""
    if not categories or not series:
        return Markup('<p class="muted">no data</p>')
    y_max = _scale([v for vals in series.values() for v in vals], percent)
    plot_w = WIDTH - PAD_L - PAD_R
    plot_h = HEIGHT - PAD_T - PAD_B
    slot = plot_w / len(categories)
    bar_w = slot * 0.8 / len(series)
    chars = max(4, int(slot / 7))
    body = []
    for ci, cat in enumerate(categories):
        for si, (name, vals) in enumerate(series.items()):
            v = vals[ci] if ci < len(vals) else 0.0
            h = plot_h * v / y_max
            x = PAD_L + ci * slot + slot * 0.1 + si * bar_w
            body.append(
                f'<rect class="bar {PALETTE[si % len(PALETTE)]}" x="{x:.1f}" y="{PAD_T + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(name)} · {escape(cat)}: '
                f"{escape(_fmt(v, percent))}</title></rect>"
            )
        body.append(
            f'<text class="label" x="{PAD_L + ci * slot + slot / 2:.1f}" y="{HEIGHT - PAD_B + 18}" '
            f'text-anchor="middle">{escape(cat if len(cat) <= chars else cat[:chars - 1] + "…")}</text>'
        )
    for si, name in enumerate(series):
        body.append(
            f'<rect class="bar {PALETTE[si % len(PALETTE)]}" x="{PAD_L + si * 170}" y="{HEIGHT - 22}" '
            f'width="10" height="10"/><text class="label" x="{PAD_L + si * 170 + 14}" y="{HEIGHT - 12}">'
            f"{escape(name[:22])}</text>"
        )
    return _frame(body, title, y_max, percent=percent)
