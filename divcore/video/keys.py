"""What a student reads the video's panels by: numbered axes, the landscape's
colour bar and the legend, drawn from the same models as the figures'
(`render.view.legend`, `render.panels.landscape_norm`)."""

from __future__ import annotations

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, DashedLine, Dot, Group, ImageMobject, Line, Rectangle, VGroup

from ..render.panels import landscape_norm
from ..style import palette
from .glyphs import GlyphLine, text

FONT = "DejaVu Sans"
TICK = 0.06  # a tick's length, scene units


def nice_ticks(lo: float, hi: float, most: int = 5) -> np.ndarray:
    """Round numbers inside [lo, hi], at most about `most` of them (matplotlib's choice for the figures' axes)."""
    from matplotlib.ticker import MaxNLocator

    values = MaxNLocator(most, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    span = hi - lo
    return values[(values >= lo - 1e-9 * span) & (values <= hi + 1e-9 * span)]


def number(value: float) -> str:
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text.replace("-", "−")


def axis_numbers(to_point, values, font_size: float, labels=None, side=DOWN) -> VGroup:
    """Ticks and numbers on the `side` of an axis (DOWN of a horizontal one,
    LEFT or RIGHT of a vertical one): `to_point(v)` is the axis point at v."""
    pal = palette()
    out = VGroup()
    for v, text in zip(values, labels or [number(v) for v in values]):
        at = np.asarray(to_point(v), float)
        out.add(Line(at, at + side * TICK, stroke_width=1.5, color="#555555"))
        # glyph outlines cached per character: a hundred numbers as Text cost seconds of a render
        out.add(GlyphLine(font_size, pal["text"], FONT).set_text(text).next_to(at + side * TICK, side, buff=0.04))
    return out


def colour_bar(values: np.ndarray, name: str, height: float, font_size: float, thin: bool = False) -> Group:
    """The landscape wash's colour scale (log, as `landscape_norm` maps it) as a
    narrow bar (narrower if `thin`) with the values at its decades (or its ends)
    and the divergence's name above it."""
    import matplotlib

    pal = palette()
    norm = landscape_norm(values)
    ramp = matplotlib.colormaps[pal["landscape_cmap"]](np.linspace(1.0, 0.0, 256))[:, None, :]
    bar = ImageMobject(np.round(np.repeat(ramp, 4, axis=1) * 255).astype(np.uint8))
    width = 0.1 if thin else 0.14
    bar.stretch_to_fit_width(width).stretch_to_fit_height(height)
    edge = Rectangle(width=width, height=height).set_stroke("#555555", 1).move_to(bar)
    lo, hi = np.log10(norm.vmin), np.log10(norm.vmax)
    decades = np.arange(np.ceil(lo - 1e-9), np.floor(hi + 1e-9) + 1)
    marks = decades if decades.size >= 2 else np.array([lo, hi])
    labels = [number(10.0**k) for k in marks]
    at = lambda k: edge.get_bottom() + UP * height * (k - lo) / (hi - lo) + RIGHT * width / 2  # noqa: E731
    numbers = axis_numbers(at, marks, font_size, labels, side=RIGHT)
    title = text(name, font_size=font_size, color=pal["text"], font=FONT).next_to(edge, UP, buff=0.08)
    return Group(bar, edge, numbers, title)


def legend_row(entries, font_size: float, width: float) -> VGroup:
    """The legend as one row of swatches and names, at most `width` wide."""
    pal = palette()
    items = VGroup()
    for e in entries:
        swatch = _swatch(e, pal)
        name = text(e.plain, font_size=font_size, color=pal["text"], font=FONT)
        items.add(VGroup(swatch, name.next_to(swatch, RIGHT, buff=0.1)))
    items.arrange(RIGHT, buff=0.35)
    if items.width > width:
        items.scale_to_fit_width(width)
    return items


def _swatch(e, pal):
    w = 0.4
    left, right = LEFT * w / 2, RIGHT * w / 2
    if e.glyph == "area":
        return Rectangle(width=w, height=0.18).set_fill(e.color, 1).set_stroke(pal["p_line"], 1)
    if e.glyph in ("q", "line", "path"):
        return Line(left, right, stroke_width=4 if e.glyph == "q" else 2.5, color=e.color)
    if e.glyph in ("dashed", "dotted"):
        dash = 0.1 if e.glyph == "dashed" else 0.03
        return DashedLine(left, right, dash_length=dash, dashed_ratio=0.6, stroke_width=2.5, color=e.color)
    if e.glyph == "tick":
        return Line(DOWN * 0.1, UP * 0.1, stroke_width=2.5, color=e.color)
    stroke = 1.5 if e.glyph == "marker" else 0
    return Dot(radius=0.07, color=e.color).set_stroke("#000000", stroke)
