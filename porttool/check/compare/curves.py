"""The loss curves of ``porttool check --compare`` as an SVG picture (no dependency).

The original's curve, the port's over it, the high-precision twin's dashed when there is one, and
the first divergence marked with a vertical line and its label.  Plain SVG 1.1: any browser,
GitHub's file view, or an image viewer shows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 400
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 50, 50
COLOURS = {"original": "#1f77b4", "port": "#d62728", "reference": "#7f7f7f"}


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    out = []
    value = first
    while value <= hi + step * 1e-9:
        out.append(round(value, 12))
        value += step
    return out


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def render_svg(series: Sequence[tuple[str, str, Sequence[float | None]]], *, title: str,
               x_label: str, divergence: tuple[int, str] | None = None,
               subtitle: str = "", y_label: str = "loss") -> str:
    """``series``: (key in COLOURS, legend label, y per x = 0, 1, ...); ``divergence``: (x, label)."""
    finite = [y for _, _, ys in series for y in ys if y is not None and math.isfinite(y)]
    n = max((len(ys) for _, _, ys in series), default=0)
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 0.5 * max(abs(lo), 1e-3), hi + 0.5 * max(abs(hi), 1e-3)
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    x_max = max(n - 1, 1)

    def px(x: float) -> float:
        return _LEFT + plot_w * x / x_max

    def py(y: float) -> float:
        return _TOP + plot_h * (1 - (y - lo) / (hi - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="15">{escape(title)}</text>']
    if subtitle:
        out.append(f'<text x="{WIDTH / 2}" y="38" text-anchor="middle" fill="#444">{escape(subtitle)}</text>')
    out.append(f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for y in _ticks(lo, hi):
        out.append(f'<line x1="{_LEFT}" y1="{py(y):.1f}" x2="{_LEFT + plot_w}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{_fmt(y)}</text>')
    for x in _ticks(0, x_max, 8):
        if float(x).is_integer():
            out.append(f'<text x="{px(x):.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">{int(x)}</text>')
    out.append(f'<text x="{_LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="16" y="{_TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {_TOP + plot_h / 2})">{escape(y_label)}</text>')
    if divergence is not None:
        x, label = divergence
        xx = px(min(max(x, 0), x_max))
        out.append(f'<line x1="{xx:.1f}" y1="{_TOP}" x2="{xx:.1f}" y2="{_TOP + plot_h}" '
                   'stroke="#ff7f0e" stroke-width="2" stroke-dasharray="6 3"/>')
        anchor = "start" if xx < _LEFT + plot_w * 0.6 else "end"
        dx = 5 if anchor == "start" else -5
        out.append(f'<text x="{xx + dx:.1f}" y="{_TOP + 14}" text-anchor="{anchor}" fill="#ff7f0e">'
                   f'{escape(label)}</text>')
    for key, label, ys in series:
        colour = COLOURS.get(key, "#2ca02c")
        dash = ' stroke-dasharray="4 3"' if key == "reference" else ""
        # the original wide and light under the port: both stay visible where they coincide
        width: float = {"original": 5.0, "reference": 1.5}.get(key, 2.0)
        opacity = ' stroke-opacity="0.45"' if key == "original" else ""
        segments: list[list[str]] = [[]]
        for x, value in enumerate(ys):
            if value is None or not math.isfinite(value):
                segments.append([])
                continue
            segments[-1].append(f"{px(x):.1f},{py(value):.1f}")
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{width}"{dash}'
                           f'{opacity} stroke-linejoin="round" points="{" ".join(seg)}"/>')
            elif len(seg) == 1:
                cx, cy = seg[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
    legend_y = _TOP + 8
    for i, (key, label, _) in enumerate(series):
        colour = COLOURS.get(key, "#2ca02c")
        y = legend_y + 16 * (i + 1)
        x = _LEFT + plot_w - 230
        dash = ' stroke-dasharray="4 3"' if key == "reference" else ""
        look = ' stroke-width="5" stroke-opacity="0.45"' if key == "original" else ' stroke-width="2"'
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" stroke="{colour}"'
                   f'{look}{dash}/>')
        out.append(f'<text x="{x + 30}" y="{y}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
