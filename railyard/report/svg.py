"""SVG primitives: line, scatter, band, histogram and bar charts with axes, ticks, a title and a text legend.

Each chart is one `<svg role="img">` string with a `<title>` and an `aria-label`. Series differ by
colour, dash pattern and marker shape together, so a chart still reads in grey. Every piece of text is
escaped. Points that are not finite numbers are left out, and a line breaks where they were; a chart
with nothing to draw says "No data".
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 520, 320
LEFT, RIGHT, TOP = 64, 18, 36
LEGEND_ROW, CHAR_WIDTH = 17, 6.4
# The Okabe–Ito palette, told apart by readers with every common kind of colour blindness.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "7 4", "2 3", "10 3 2 3", "4 2 4 6", "1 4", "12 4")
MARKERS = ("circle", "square", "triangle", "diamond", "cross", "triangle-down", "plus")
MAX_MARKERS = 12
TEXT = 'font-family="system-ui, -apple-system, sans-serif" fill="#1f2328"'


@dataclass(frozen=True)
class Style:
    colour: str
    dash: str
    marker: str


def style(index: int) -> Style:
    """The index-th look: colour, dash pattern and marker shape advance together."""
    return Style(PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)], MARKERS[index % len(MARKERS)])


REFERENCE = Style("#6e7781", "3 3", "none")  # chance lines, perfect calibration, y = x


@dataclass
class Series:
    """Points joined by a line and/or drawn as markers.

    markers: "all", "some" (at most MAX_MARKERS, evenly spread: enough to tell the shape) or "none".
    tips: a hover text per point (an SVG <title>, shown by every browser without script).
    labels: a short text drawn beside each marker (a calibration bin's row count), or None.
    """

    name: str
    points: Sequence[tuple[float | None, float | None]]
    look: Style | int = 0
    line: bool = True
    markers: str = "some"
    filled: bool = True
    tips: Sequence[str] | None = None
    labels: Sequence[str] | None = None

    @property
    def style(self) -> Style:
        return self.look if isinstance(self.look, Style) else style(self.look)


@dataclass
class Band:
    """A shaded interval, e.g. a forecast's lower and upper bounds."""

    name: str
    xs: Sequence[float | None]
    lows: Sequence[float | None]
    highs: Sequence[float | None]
    look: Style | int = 0

    @property
    def style(self) -> Style:
        return self.look if isinstance(self.look, Style) else style(self.look)


@dataclass
class Axis:
    """label; domain: fixed (lo, hi) or None for the data's; kind: "number" or "time" (seconds since the epoch)."""

    label: str
    domain: tuple[float, float] | None = None
    kind: str = "number"


def finite(value) -> bool:
    """A number that is not NaN or infinite, nor an int too large for a float (where math.isfinite would raise)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max


def text(value) -> str:
    return escape(str(value), quote=True)


def number(value: float, digits: int = 4) -> str:
    """A value for people: 0.7499, 12,345, 1.2e-05; non-finite values as "n/a"."""
    if not finite(value):
        return "n/a"
    if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-4):
        return f"{value:.{digits - 1}e}"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}g}"


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * magnitude * (1 + 1e-9):
            return multiple * magnitude
    return 10 * magnitude


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], float]:
    """Round tick values covering [lo, hi], and their step."""
    step = _nice_step(hi - lo, count)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)], step


def _tick_label(value: float, step: float, kind: str) -> str:
    if kind == "time":
        moment = dt.datetime.fromtimestamp(value, dt.timezone.utc)
        return moment.strftime("%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M" if step >= 60 else "%H:%M:%S")
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(step) < 1e-4:
        return f"{value:.2g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:,.{decimals}f}"


def _extent(values: list[float], axis: Axis, nice: bool) -> tuple[float, float]:
    if axis.domain is not None:
        lo, hi = axis.domain
    else:
        lo, hi = min(values), max(values)
    if hi - lo <= abs(hi) * 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    if nice and axis.domain is None and axis.kind == "number":
        _, step = nice_ticks(lo, hi)
        lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    return lo, hi


def _calendar_ticks(lo: float, hi: float, most: int = 6) -> list[tuple[float, str]] | None:
    """Ticks on the first of years, months or days (whichever gives two to `most`), labelled as such; None for a span
    under two days."""
    start, end = (dt.datetime.fromtimestamp(v, dt.timezone.utc) for v in (lo, hi))
    if (end - start).days >= 2 * 365:
        boundaries = [dt.datetime(y, 1, 1, tzinfo=dt.timezone.utc) for y in range(start.year, end.year + 2)]
        form = "%Y"
    elif (end - start).days >= 60:
        months = range(start.year * 12 + start.month - 1, end.year * 12 + end.month + 1)
        boundaries = [dt.datetime(m // 12, m % 12 + 1, 1, tzinfo=dt.timezone.utc) for m in months]
        form = "%Y-%m"
    elif (end - start).days >= 2:
        first = dt.datetime(start.year, start.month, start.day, tzinfo=dt.timezone.utc)
        boundaries = [first + dt.timedelta(days=d) for d in range((end - first).days + 2)]
        form = "%Y-%m-%d"
    else:
        return None
    inside = [b for b in boundaries if lo <= b.timestamp() <= hi]
    every = math.ceil(len(inside) / most)
    return [(b.timestamp(), b.strftime(form)) for b in inside[::every]]


def _ticks(lo: float, hi: float, kind: str) -> list[tuple[float, str]]:
    if kind == "time":
        calendar = _calendar_ticks(lo, hi)
        if calendar and len(calendar) >= 2:
            return calendar
        step = (hi - lo) / 4
        return [(lo + i * step, _tick_label(lo + i * step, step, kind)) for i in range(5)]
    values, step = nice_ticks(lo, hi)
    return [(v, _tick_label(v, step, kind)) for v in values]


class _Scale:
    def __init__(self, lo: float, hi: float, start: float, end: float):
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def __call__(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _marker(shape: str, x: float, y: float, look: Style, filled: bool, tip: str | None = None) -> str:
    fill = look.colour if filled else "#ffffff"
    paint = f'fill="{fill}" stroke="{look.colour}" stroke-width="1.5"'
    if shape == "circle":
        body = f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4" {paint}'
    elif shape == "square":
        body = f'<rect x="{_f(x - 3.5)}" y="{_f(y - 3.5)}" width="7" height="7" {paint}'
    else:
        outline = {
            "triangle": [(0, -5), (4.5, 3.5), (-4.5, 3.5)],
            "triangle-down": [(0, 5), (4.5, -3.5), (-4.5, -3.5)],
            "diamond": [(0, -5), (4.5, 0), (0, 5), (-4.5, 0)],
            "cross": [(-4, -4), (4, 4), (0, 0), (4, -4), (-4, 4)],
            "plus": [(0, -5), (0, 5), (0, 0), (-5, 0), (5, 0)],
        }[shape]
        closed = shape not in ("cross", "plus")
        d = " ".join(f"{'M' if i == 0 else 'L'}{_f(x + dx)},{_f(y + dy)}" for i, (dx, dy) in enumerate(outline))
        stroked = f'fill="none" stroke="{look.colour}" stroke-width="2"'
        body = f'<path d="{d}{" Z" if closed else ""}" {paint if closed else stroked}'
    return f"{body}><title>{text(tip)}</title></{body.split()[0][1:]}>" if tip else f"{body}/>"


def _legend_sample(kind: str, look: Style, x: float, y: float, filled: bool = True) -> str:
    if kind == "band":
        return (f'<rect x="{_f(x)}" y="{_f(y - 6)}" width="24" height="12" fill="{look.colour}" fill-opacity="0.2" '
                f'stroke="{look.colour}" stroke-dasharray="2 2"/>')
    if kind == "bar":
        return (f'<rect x="{_f(x + 4)}" y="{_f(y - 6)}" width="16" height="12" fill="{look.colour}" fill-opacity="0.35" '
                f'stroke="{look.colour}" stroke-dasharray="{look.dash}"/>')
    parts = []
    if kind in ("line", "both"):
        parts.append(f'<line x1="{_f(x)}" y1="{_f(y)}" x2="{_f(x + 24)}" y2="{_f(y)}" stroke="{look.colour}" stroke-width="2" '
                     f'stroke-dasharray="{look.dash}"/>')
    if kind in ("marker", "both") and look.marker != "none":
        parts.append(_marker(look.marker, x + 12, y, look, filled))
    return "".join(parts)


def _legend(entries: list[tuple[str, str, Style, bool]], top: float, width: float) -> tuple[str, int]:
    """entries: (name, sample kind, look, filled). Returns the SVG and the number of rows it took."""
    if not entries:
        return "", 0
    parts, x, row = [], float(LEFT), 0
    for name, kind, look, filled in entries:
        entry_width = 32 + CHAR_WIDTH * len(name) + 14
        if x + entry_width > width - RIGHT and x > LEFT:
            x, row = float(LEFT), row + 1
        y = top + row * LEGEND_ROW
        parts.append(_legend_sample(kind, look, x, y, filled))
        parts.append(f'<text x="{_f(x + 30)}" y="{_f(y + 4)}" font-size="12" {TEXT}>{text(name)}</text>')
        x += entry_width
    return f'<g class="legend">{"".join(parts)}</g>', row + 1


def _frame(title: str, body: str, width: float, height: float, description: str, summary: str) -> str:
    label = f"{title}. {summary}" if summary else title
    desc = f"<desc>{text(description)}</desc>" if description else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{text(label)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}">'
        f"<title>{text(title)}</title>{desc}"
        f'<rect x="0" y="0" width="{_f(width)}" height="{_f(height)}" fill="#ffffff"/>'
        f'<text x="12" y="22" font-size="14" font-weight="600" {TEXT}>{text(title)}</text>'
        f"{body}</svg>"
    )


def empty_chart(title: str, message: str = "No data", width: float = WIDTH, height: float = 120) -> str:
    body = f'<text x="{_f(width / 2)}" y="{_f(height / 2 + 10)}" text-anchor="middle" font-size="13" {TEXT}>{text(message)}</text>'
    return _frame(title, body, width, height, "", message)


def _axes(x: Axis, y: Axis, xs: _Scale, ys: _Scale, plot: tuple[float, float, float, float]) -> str:
    left, top, right, bottom = plot
    parts = [f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(right - left)}" height="{_f(bottom - top)}" fill="none" stroke="#d0d7de"/>']
    x_ticks = _ticks(xs.lo, xs.hi, x.kind)
    for i, (value, label) in enumerate(x_ticks):
        px = xs(value)
        anchor = "middle"
        if x.kind == "time":  # long date labels stay inside the chart at both ends
            anchor = "start" if i == 0 else "end" if i == len(x_ticks) - 1 else "middle"
        parts.append(f'<line x1="{_f(px)}" y1="{_f(top)}" x2="{_f(px)}" y2="{_f(bottom)}" stroke="#eaeef2"/>')
        parts.append(f'<line x1="{_f(px)}" y1="{_f(bottom)}" x2="{_f(px)}" y2="{_f(bottom + 4)}" stroke="#57606a"/>')
        parts.append(f'<text x="{_f(px)}" y="{_f(bottom + 16)}" text-anchor="{anchor}" font-size="11" {TEXT}>{text(label)}</text>')
    for value, label in _ticks(ys.lo, ys.hi, y.kind):
        py = ys(value)
        parts.append(f'<line x1="{_f(left)}" y1="{_f(py)}" x2="{_f(right)}" y2="{_f(py)}" stroke="#eaeef2"/>')
        parts.append(f'<line x1="{_f(left - 4)}" y1="{_f(py)}" x2="{_f(left)}" y2="{_f(py)}" stroke="#57606a"/>')
        parts.append(f'<text x="{_f(left - 7)}" y="{_f(py + 4)}" text-anchor="end" font-size="11" {TEXT}>{text(label)}</text>')
    parts.append(f'<text x="{_f((left + right) / 2)}" y="{_f(bottom + 32)}" text-anchor="middle" font-size="12" {TEXT}>{text(x.label)}</text>')
    parts.append(f'<text transform="translate(14,{_f((top + bottom) / 2)}) rotate(-90)" text-anchor="middle" font-size="12" {TEXT}>'
                 f'{text(y.label)}</text>')
    return f'<g class="axes">{"".join(parts)}</g>'


def _finite_points(points) -> list[tuple[float, float]]:
    return [(float(px), float(py)) for px, py in points if finite(px) and finite(py)]


def _marker_indices(count: int, mode: str) -> range | list[int]:
    if mode == "all":
        return range(count)
    if mode == "none" or count == 0:
        return []
    if count <= MAX_MARKERS:
        return range(count)
    return sorted({round(i * (count - 1) / (MAX_MARKERS - 1)) for i in range(MAX_MARKERS)})


def _series_svg(series: Series, xs: _Scale, ys: _Scale) -> str:
    look = series.style
    parts, segment = [], []
    segments = []
    for px, py in series.points:
        if finite(px) and finite(py):
            segment.append((xs(px), ys(py)))
        elif segment:
            segments.append(segment)
            segment = []
    if segment:
        segments.append(segment)
    if series.line:
        for seg in segments:
            if len(seg) > 1:
                d = " ".join(f"{'M' if i == 0 else 'L'}{_f(a)},{_f(b)}" for i, (a, b) in enumerate(seg))
                parts.append(f'<path d="{d}" fill="none" stroke="{look.colour}" stroke-width="2" stroke-dasharray="{look.dash}"/>')
    if look.marker != "none":
        kept = [(i, p) for i, p in enumerate(series.points) if finite(p[0]) and finite(p[1])]
        for k in _marker_indices(len(kept), series.markers):
            i, (px, py) = kept[k]
            tip = series.tips[i] if series.tips and i < len(series.tips) else None
            parts.append(_marker(look.marker, xs(px), ys(py), look, series.filled, tip))
            if series.labels and i < len(series.labels):
                parts.append(f'<text class="point-label" x="{_f(xs(px) + 6)}" y="{_f(ys(py) - 6)}" font-size="10" '
                             f'{TEXT}>{text(series.labels[i])}</text>')
    return f'<g class="series" data-series="{text(series.name)}">{"".join(parts)}</g>'


def _band_svg(band: Band, xs: _Scale, ys: _Scale) -> str:
    kept = [(a, lo, hi) for a, lo, hi in zip(band.xs, band.lows, band.highs) if finite(a) and finite(lo) and finite(hi)]
    if len(kept) < 2:
        return ""
    upper = [f"{_f(xs(a))},{_f(ys(hi))}" for a, _, hi in kept]
    lower = [f"{_f(xs(a))},{_f(ys(lo))}" for a, lo, _ in reversed(kept)]
    look = band.style
    return (f'<g class="band" data-series="{text(band.name)}"><polygon points="{" ".join(upper + lower)}" fill="{look.colour}" '
            f'fill-opacity="0.18" stroke="{look.colour}" stroke-width="1" stroke-dasharray="2 2"/></g>')


def line_chart(title: str, series: Sequence[Series], *, x: Axis, y: Axis, bands: Sequence[Band] = (),
               description: str = "", width: float = WIDTH, height: float = HEIGHT) -> str:
    """Lines and/or markers on shared axes (a scatter plot is series with line=False, markers="all")."""
    points = [p for s in series for p in _finite_points(s.points)]
    for band in bands:
        points += _finite_points(zip(band.xs, band.lows)) + _finite_points(zip(band.xs, band.highs))
    if not points:
        return empty_chart(title, width=width)
    entries = [(b.name, "band", b.style, True) for b in bands]
    for s in series:
        kind = "both" if s.line and s.markers != "none" else ("line" if s.line else "marker")
        entries.append((s.name, kind, s.style, s.filled))
    legend_rows = _legend_rows(entries, width)
    bottom = height - 46 - legend_rows * LEGEND_ROW
    plot = (LEFT, TOP, width - RIGHT, bottom)
    x_lo, x_hi = _extent([p[0] for p in points], x, nice=True)
    y_lo, y_hi = _extent([p[1] for p in points], y, nice=True)
    xs, ys = _Scale(x_lo, x_hi, plot[0], plot[2]), _Scale(y_lo, y_hi, plot[3], plot[1])
    body = [_axes(x, y, xs, ys, plot)]
    body += [_band_svg(b, xs, ys) for b in bands]
    body += [_series_svg(s, xs, ys) for s in series]
    legend, _ = _legend(entries, bottom + 50, width)
    body.append(legend)
    return _frame(title, "".join(body), width, height, description, _summary(entries, x, y))


def _legend_rows(entries, width: float) -> int:
    return _legend(entries, 0, width)[1]


def _summary(entries, x: Axis, y: Axis) -> str:
    names = "; ".join(name for name, *_ in entries)
    return f"{y.label} against {x.label}" + (f": {names}" if names else "")


def histogram_chart(title: str, edges: Sequence[float], series: Sequence[tuple[str, Sequence[float | None]]], *,
                    x: Axis, y: Axis, description: str = "", width: float = WIDTH, height: float = HEIGHT) -> str:
    """Bars over the bins [edges[i], edges[i+1]); several series are drawn as overlaid outlines."""
    edges = list(edges)
    usable = [(name, list(values)) for name, values in series if len(values) == len(edges) - 1]
    heights = [v for _, values in usable for v in values if finite(v)]
    if len(edges) < 2 or not all(finite(e) for e in edges) or not heights:
        return empty_chart(title, width=width)
    entries = [(name, "bar", style(i), True) for i, (name, _) in enumerate(usable)]
    legend_rows = _legend_rows(entries, width)
    bottom = height - 46 - legend_rows * LEGEND_ROW
    plot = (LEFT, TOP, width - RIGHT, bottom)
    x_lo, x_hi = _extent(edges, x, nice=False)
    y_lo, y_hi = _extent([0.0, *heights], y, nice=True)
    xs, ys = _Scale(x_lo, x_hi, plot[0], plot[2]), _Scale(y_lo, y_hi, plot[3], plot[1])
    body = [_axes(x, y, xs, ys, plot)]
    for i, (name, values) in enumerate(usable):
        look = style(i)
        d = [f"M{_f(xs(edges[0]))},{_f(ys(0))}"]
        tips = []
        for lo, hi, value in zip(edges, edges[1:], values):
            v = value if finite(value) else 0.0
            d.append(f"L{_f(xs(lo))},{_f(ys(v))} L{_f(xs(hi))},{_f(ys(v))}")
            tips.append(f'<rect x="{_f(xs(lo))}" y="{_f(ys(v))}" width="{_f(max(xs(hi) - xs(lo), 0))}" height="{_f(max(ys(0) - ys(v), 0))}" '
                        f'fill="#ffffff" fill-opacity="0"><title>{text(name)}: {text(number(lo))} to {text(number(hi))}: '
                        f'{text(number(value))}</title></rect>')
        d.append(f"L{_f(xs(edges[-1]))},{_f(ys(0))} Z")
        opacity = "0.25" if i == 0 else "0.08"
        body.append(f'<g class="series" data-series="{text(name)}"><path d="{" ".join(d)}" fill="{look.colour}" fill-opacity="{opacity}" '
                    f'stroke="{look.colour}" stroke-width="2" stroke-dasharray="{look.dash}"/>{"".join(tips)}</g>')
    legend, _ = _legend(entries, bottom + 50, width)
    body.append(legend)
    return _frame(title, "".join(body), width, height, description, _summary(entries, x, y))


def bar_chart(title: str, bars: Sequence[tuple[str, float | None]], *, value: Axis,
              value_format: Callable[[float], str] = number, description: str = "", width: float = WIDTH) -> str:
    """Horizontal bars, one per labelled value, in the order given; a value that is not finite reads "n/a"."""
    bars = [(str(label), v) for label, v in bars]
    values = [v for _, v in bars if finite(v)]
    if not values:
        return empty_chart(title, width=width)
    shown = [label if len(label) <= 28 else label[:27] + "…" for label, _ in bars]
    left = min(max(LEFT, 18 + 7.4 * max(len(s) for s in shown)), width * 0.45)  # labels are 12px, wider than ticks
    row = 22
    top, bottom = TOP + 4, TOP + 4 + row * len(bars)
    height = bottom + 46
    lo, hi = _extent([0.0, *values], value, nice=True)
    xs = _Scale(lo, hi, left, width - RIGHT - 48)
    parts = []
    for tick, label in _ticks(lo, hi, value.kind):
        px = xs(tick)
        parts.append(f'<line x1="{_f(px)}" y1="{_f(top)}" x2="{_f(px)}" y2="{_f(bottom)}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{_f(px)}" y="{_f(bottom + 16)}" text-anchor="middle" font-size="11" {TEXT}>{text(label)}</text>')
    look, drawn = style(0), []
    for i, ((label, v), short) in enumerate(zip(bars, shown)):
        y = top + i * row
        parts.append(f'<text x="{_f(left - 6)}" y="{_f(y + 15)}" text-anchor="end" font-size="12" {TEXT}>{text(short)}'
                     f'<title>{text(label)}</title></text>')
        if finite(v):
            x0, x1 = sorted((xs(0), xs(v)))
            drawn.append(f'<rect class="bar" x="{_f(x0)}" y="{_f(y + 4)}" width="{_f(max(x1 - x0, 1))}" height="{row - 8}" fill="{look.colour}" '
                         f'fill-opacity="0.75"><title>{text(label)}: {text(value_format(v))}</title></rect>')
            parts.append(f'<text x="{_f(x1 + 4)}" y="{_f(y + 15)}" font-size="11" {TEXT}>{text(value_format(v))}</text>')
        else:
            parts.append(f'<text x="{_f(xs(0) + 4)}" y="{_f(y + 15)}" font-size="11" {TEXT}>n/a</text>')
    parts.append(f'<g class="series" data-series="{text(value.label)}">{"".join(drawn)}</g>')
    parts.append(f'<line x1="{_f(xs(0))}" y1="{_f(top)}" x2="{_f(xs(0))}" y2="{_f(bottom)}" stroke="#57606a"/>')
    parts.append(f'<text x="{_f((left + width - RIGHT) / 2)}" y="{_f(bottom + 34)}" text-anchor="middle" font-size="12" {TEXT}>'
                 f'{text(value.label)}</text>')
    return _frame(title, "".join(parts), width, height, description, f"{value.label} by {len(bars)} items")
