"""Inline SVG charts for the HTML report: drawn here, as text, so the page needs no script or
network to show them. Colours come from the page's CSS classes (`seg-safe`, ...); every bar has a
`<title>` (the browser's tooltip) and its number written beside or inside it, so a chart reads
without hovering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

ROW_HEIGHT = 26
BAR_HEIGHT = 18
LABEL_WIDTH = 250
CHAR_WIDTH = 7.2  # an estimate of the label font's average character width, to cut long labels


@dataclass(frozen=True)
class Segment:
    label: str
    value: float
    css: str  # the class that colours it


def _label(text: str, width: float) -> str:
    limit = max(4, int(width / CHAR_WIDTH))
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) and not value.is_integer() else str(int(value))


def _open(name: str, width: int, height: int) -> str:
    return f'<svg class="chart" data-chart="{escape(name)}" role="img" aria-label="{escape(name)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'


def stacked_bars(name: str, rows: Sequence[tuple[str, Sequence[Segment]]], *, width: int = 720, unit: str = "", legend: bool = True) -> str:
    """One horizontal bar per row, its segments side by side; all rows share one scale."""
    total_max = max((sum(s.value for s in segs) for _, segs in rows), default=0) or 1
    plot = width - LABEL_WIDTH - 60
    height = len(rows) * ROW_HEIGHT + (30 if legend else 6)
    out = [_open(name, width, height)]
    for i, (label, segs) in enumerate(rows):
        y = 4 + i * ROW_HEIGHT
        out.append(f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 5}" text-anchor="end">{escape(_label(label, LABEL_WIDTH - 12))}</text>')
        x = float(LABEL_WIDTH)
        for seg in segs:
            if seg.value <= 0:
                continue
            w = plot * seg.value / total_max
            tip = f"{label}: {_number(seg.value)}{unit} {seg.label}"
            out.append(f'<rect class="bar {escape(seg.css)}" data-segment="{escape(seg.label)}" data-value="{_number(seg.value)}" x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{BAR_HEIGHT}"><title>{escape(tip)}</title></rect>')
            if w >= 24:
                out.append(f'<text class="bar-value" x="{x + w / 2:.1f}" y="{y + BAR_HEIGHT - 5}" text-anchor="middle">{_number(seg.value)}</text>')
            x += w
        total = sum(s.value for s in segs)
        out.append(f'<text class="chart-total" x="{x + 6:.1f}" y="{y + BAR_HEIGHT - 5}">{_number(total)}{escape(unit)}</text>')
    if legend:
        seen: dict[str, str] = {}
        for _, segs in rows:
            for seg in segs:
                if seg.value > 0:
                    seen.setdefault(seg.label, seg.css)
        x, y = float(LABEL_WIDTH), len(rows) * ROW_HEIGHT + 14
        for label, css in seen.items():
            step = 28 + len(label) * CHAR_WIDTH
            if x + step > width and x > LABEL_WIDTH:  # wrap: a legend never runs off the chart
                x, y = float(LABEL_WIDTH), y + 18
                height += 18
            out.append(f'<rect class="legend {escape(css)}" x="{x:.1f}" y="{y - 10}" width="12" height="12"></rect>')
            out.append(f'<text class="chart-legend" x="{x + 16:.1f}" y="{y}">{escape(label)}</text>')
            x += step
    out[0] = _open(name, width, height)
    out.append("</svg>")
    return "".join(out)


def bars(name: str, rows: Sequence[tuple[str, float, str]], *, width: int = 720, unit: str = "", href: Sequence[str] | None = None) -> str:
    """One horizontal bar per row (label, value, css class), on a shared scale; `href` makes each
    row's label a link (to an anchor on the page)."""
    top = max((v for _, v, _ in rows), default=0) or 1
    plot = width - LABEL_WIDTH - 80
    height = len(rows) * ROW_HEIGHT + 6
    out = [_open(name, width, height)]
    for i, (label, value, css) in enumerate(rows):
        y = 4 + i * ROW_HEIGHT
        text = f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 5}" text-anchor="end">{escape(_label(label, LABEL_WIDTH - 12))}<title>{escape(label)}</title></text>'
        out.append(f'<a href="{escape(href[i])}">{text}</a>' if href else text)
        w = plot * value / top
        out.append(f'<rect class="bar {escape(css)}" data-segment="{escape(label)}" data-value="{_number(value)}" x="{LABEL_WIDTH}" y="{y}" width="{max(w, 1):.1f}" height="{BAR_HEIGHT}"><title>{escape(f"{label}: {_number(value)}{unit}")}</title></rect>')
        out.append(f'<text class="chart-total" x="{LABEL_WIDTH + w + 6:.1f}" y="{y + BAR_HEIGHT - 5}">{_number(value)}{escape(unit)}</text>')
    out.append("</svg>")
    return "".join(out)
