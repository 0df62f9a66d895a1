"""An Agg canvas that rasterises each glyph once per sub-pixel position.

A GIF redraws its readouts every frame, and matplotlib 3.11's Agg renderer
asks FreeType for every glyph of every string each time: about a sixth of a
GIF's time (k-sweep: 62,000 glyphs for 141 frames). FreeType's bitmap of a
glyph depends on its origin only through the origin's fraction of a pixel (a
whole-pixel shift of the outline shifts the bitmap and nothing else), so a
bitmap kept by (font, size, glyph, fraction) and placed at the origin's whole
pixels is the very bitmap FreeType would draw: the frames are the same bytes
(tests/test_render.py compares them with a plain canvas's).

Upright antialiased text only, and only where the renderer draws glyph by
glyph (`RendererAgg._draw_text_glyphs_and_boxes`, matplotlib 3.11); anything
else is drawn as matplotlib draws it.

The renderer also keeps each string's shaping (`FT2Font._layout`: where every
glyph goes, after kerning and font fallback), by the string and everything the
shaping depends on. Readouts repeat from frame to frame ("ESS = 16.0 / 16"):
in k-sweep's GIF 70 % of the strings drawn had been shaped before, and shaping
was a tenth of a GIF's time.
"""

from __future__ import annotations

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.ft2font import RenderMode

_PER_GLYPH = hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
_SHAPED_MOST = 50_000  # strings kept per renderer: a GIF draws a few thousand


class _Renderer(RendererAgg):
    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._glyphs: dict = {}
        self._shaped: dict = {}

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        flags = get_hinting_flag()
        size = prop.get_size_in_points()
        # what `_prepare_font` picks the font files by and sizes them to, as FontProperties hashes itself
        key = (s, tuple(prop.get_family()), prop.get_slant(), prop.get_variant(), prop.get_weight(),
               prop.get_stretch(), prop.get_file(), size, self.dpi, flags, matplotlib.rcParams["text.hinting_factor"],
               repr(features), repr(language))
        items = self._shaped.get(key)
        if items is None:
            font = self._prepare_font(prop)
            items = font._layout(s, flags=flags, features=features, language=language)
            if len(self._shaped) >= _SHAPED_MOST:
                self._shaped.clear()
            self._shaped[key] = items
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, [(item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y) for item in items], [])

    def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
        if angle != 0 or not gc.get_antialiased():
            return super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
        flags = get_hinting_flag()
        height = int(self.height)
        for font, size, index, slant, extend, dx, dy in glyphs:
            # the origin in FreeType's 26.6 fixed point, as RendererAgg computes it
            ox, oy = round(0x40 * (x + dx)), round(0x40 * (self.height - y + dy))
            # a font file may hold several faces (.ttc): the face is part of the glyph's name
            key = (font.fname, font.face_index, size, self.dpi, index, slant, extend, ox & 63, oy & 63, flags)
            kept = self._glyphs.get(key)
            if kept is None:
                font.set_size(size, self.dpi)
                font._set_transform([[round(0x10000 * extend), round(0x10000 * extend * slant)], [0, 0x10000]],
                                    [ox & 63, oy & 63])
                bitmap = font._render_glyph(index, flags, RenderMode.NORMAL)
                kept = self._glyphs[key] = (bitmap.buffer.copy(), bitmap.left, bitmap.top)
            buffer, left, top = kept
            self._renderer.draw_text_image(buffer, left + (ox >> 6), height - (top + (oy >> 6)) + buffer.shape[0],
                                           0, gc)
        if boxes:
            super()._draw_text_glyphs_and_boxes(gc, x, y, angle, (), boxes)


class GlyphCanvas(FigureCanvasAgg):
    """FigureCanvasAgg whose renderer keeps the glyph bitmaps it has drawn."""

    def get_renderer(self):
        if not _PER_GLYPH:
            return super().get_renderer()
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _Renderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
