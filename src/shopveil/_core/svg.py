"""Plots drawn on the server as inline SVG: no script, no font, no CDN.

Every label is escaped; values are numbers. A plot with nothing to show says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "line_chart"]

_W, _H, _PAD = 560, 220, 40
_COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0550ae")


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    y_label: str,
    x_label: str | None = None,
) -> str:
    """One line per series of (x, y) points, x increasing (e.g. seconds since the first).

    With ``x_label``, each distinct x gets a tick and a dot marks every point.
    """
    points = [p for line in series.values() for p in line]
    if not points:
        return _empty(title)
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1e-12)
    span = (x1 - x0) or 1.0

    def xy(x: float, y: float) -> str:
        px = _PAD + (x - x0) / span * (_W - 2 * _PAD)
        py = _H - _PAD - y / y1 * (_H - 2 * _PAD)
        return f"{px:.1f},{py:.1f}"

    body = [_axes(y_label, y1)]
    if x_label is not None:
        for x in sorted({p[0] for p in points}):
            px = xy(x, 0.0).split(",")[0]
            body.append(
                f'<text x="{px}" y="{_H - _PAD + 14}" font-size="10" '
                f'text-anchor="middle">{x:g}</text>'
            )
        body.append(
            f'<text x="{_W - _PAD}" y="{_H - 6}" font-size="11" '
            f'text-anchor="end">{escape(x_label)}</text>'
        )
    for i, (name, line) in enumerate(sorted(series.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        path = " ".join(xy(x, y) for x, y in line)
        body.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{path}"><title>{escape(name)}</title></polyline>'
        )
        if x_label is not None:
            for x, y in line:
                cx, cy = xy(x, y).split(",")
                body.append(
                    f'<circle class="point" cx="{cx}" cy="{cy}" r="3" fill="{colour}">'
                    f"<title>{escape(name)}: {y:.3g} at {x:g}</title></circle>"
                )
        body.append(
            f'<text x="{_W - _PAD + 4}" y="{_PAD + 14 * i}" fill="{colour}" '
            f'font-size="11">{escape(name)}</text>'
        )
    return _svg(title, "".join(body), width=_W + 120)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, y_label: str) -> str:
    """One bar per (label, value); values >= 0."""
    if not bars:
        return _empty(title)
    top = max(max(v for _, v in bars), 1e-12)
    step = (_W - 2 * _PAD) / len(bars)
    body = [_axes(y_label, top)]
    for i, (label, value) in enumerate(bars):
        height = value / top * (_H - 2 * _PAD)
        x = _PAD + i * step + step * 0.1
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{_H - _PAD - height:.1f}" '
            f'width="{step * 0.8:.1f}" height="{height:.1f}" fill="{_COLOURS[0]}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
        body.append(
            f'<text x="{x + step * 0.4:.1f}" y="{_H - _PAD + 14}" font-size="10" '
            f'text-anchor="middle">{escape(label[:14])}</text>'
        )
    return _svg(title, "".join(body), width=_W)


def _axes(y_label: str, top: float) -> str:
    return (
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#555"/>'
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#555"/>'
        f'<text x="4" y="{_PAD - 8}" font-size="11">{escape(y_label)}</text>'
        f'<text x="{_PAD - 4}" y="{_PAD + 4}" font-size="10" text-anchor="end">{top:.3g}</text>'
        f'<text x="{_PAD - 4}" y="{_H - _PAD}" font-size="10" text-anchor="end">0</text>'
    )


def _svg(title: str, body: str, *, width: int) -> str:
    return (
        f'<figure class="plot"><figcaption>{escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{_H}" '
        f'viewBox="0 0 {width} {_H}"><title>{escape(title)}</title>{body}</svg></figure>'
    )


def _empty(title: str) -> str:
    return (
        f'<figure class="plot empty"><figcaption>{escape(title)}</figcaption>'
        "<p>Nothing recorded yet.</p></figure>"
    )
