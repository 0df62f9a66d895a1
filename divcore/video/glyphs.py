"""A line of text that changes every frame, drawn from cached glyph outlines.

manim's `Text` asks Pango to typeset and parses the result as SVG, and its
`DecimalNumber` deep-copies one `Text` per digit on every change: for a readout
updated at every frame of several runs, that was most of a video's render time.
A `GlyphLine` typesets each character once, then lays a new string out by
concatenating the cached outlines into a single VMobject (one path to draw).
Kerning between letters is lost, which a short readout does not show.
"""

from __future__ import annotations

import numpy as np
from manim import MarkupText, Text, VMobject


# outlines by (font size, font, character), shared by every line of the process:
# a video's runs each have their own readout, all in the same few fonts
_GLYPHS: dict[tuple[float, str, str], tuple[np.ndarray, float]] = {}
_ZERO_ADVANCES: dict[tuple[float, str], float] = {}
# set texts by their string and style, shared the same way: names, axis names and
# legend entries recur from video to video (a copy costs a fifth of typesetting)
_TEXTS: dict[tuple, VMobject] = {}


def text(string: str, markup: bool = False, **style) -> VMobject:
    """manim's `Text` of `string` (`MarkupText` if `markup`) in `style`,
    typeset once per process: a copy of the first, free to be moved."""
    key = (markup, string, tuple(sorted(style.items())))
    if key not in _TEXTS:
        first = (MarkupText if markup else Text)(string, **style)
        # each glyph keeps the parsed SVG path its points were made from, and a copy
        # deep-copied it: 5.9x the copy's time, for what nothing reads again
        for m in first.get_family():
            if hasattr(m, "path_obj"):
                m.path_obj = None
        _TEXTS[key] = first
    return _TEXTS[key].copy()


class GlyphLine(VMobject):
    """`GlyphLine(font_size=18, color=..., font=...)`, then `.set_text("KL = 0.6907")`;
    the line's left end on its baseline stays where `.anchor` puts it."""

    def __init__(self, font_size: float, color: str, font: str, **kwargs):
        super().__init__(fill_color=color, fill_opacity=1.0, stroke_width=0, **kwargs)
        self._style = {"font_size": font_size, "font": font}
        self._key = (font_size, font)
        self.origin = np.zeros(3)
        self.text = ""
        if self._key not in _ZERO_ADVANCES:
            zero = Text("00", **self._style)
            _ZERO_ADVANCES[self._key] = zero[1].get_left()[0] - zero[0].get_left()[0]
        self._zero_advance = _ZERO_ADVANCES[self._key]
        # how far a descender ("p", "(") reaches below the baseline
        self.descent = -float(min(self._glyph(ch)[0][:, 1].min() for ch in "p("))

    def _glyph(self, ch: str) -> tuple[np.ndarray, float]:
        """Outline points relative to the character's cell on the baseline, and its advance.

        Typeset between two zeros: the zeros' left edges differ exactly by the
        advances in between, whatever the middle glyph's own bearing."""
        key = (*self._key, ch)
        if key not in _GLYPHS:
            probe = Text(f"0{ch}0", **self._style)
            x0, y0 = probe[0].get_left()[0], probe[0].get_bottom()[1]
            cell = np.array([x0 + self._zero_advance, y0, 0.0])
            advance = probe[-1].get_left()[0] - cell[0]
            points = probe[1].points - cell if len(probe) == 3 else np.zeros((0, 3))
            _GLYPHS[key] = (points, advance)
        return _GLYPHS[key]

    def anchor(self, point: np.ndarray) -> "GlyphLine":
        """Put the left end of the baseline at `point`."""
        self.origin = np.asarray(point, dtype=float)
        return self.set_text(self.text)

    def advance(self, text: str) -> float:
        """How far `text` would reach along the baseline, unscaled."""
        return float(sum(self._glyph(ch)[1] for ch in text))

    def layout(self, text: str) -> np.ndarray:
        """`text`'s outline points relative to the line's origin, unscaled."""
        glyphs = [self._glyph(ch) for ch in text]
        if not glyphs:
            return np.zeros((0, 3))
        advances = np.array([advance for _, advance in glyphs])
        counts = [len(points) for points, _ in glyphs]
        local = np.concatenate([points for points, _ in glyphs])  # a new array: the cache stays as it was
        local[:, 0] += np.repeat(np.cumsum(advances) - advances, counts)
        return local

    def set_text(self, text: str, local: np.ndarray | None = None, scale: float = 1.0) -> "GlyphLine":
        """Show `text` (laid out as `local`, if given), scaled by `scale` about the origin."""
        local = self.layout(text) if local is None else local
        self.text = text
        self.set_points(self.origin + scale * local)
        return self
