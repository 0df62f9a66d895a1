"""Two costs of saving a figure that matplotlib pays again for nothing, taken
away while one of our figures prints (`saving()`, entered by the styled canvas).

Math text. Each renderer brings its own `MathTextParser`, whose parses are
cached per parser: a figure saved as PNG, PDF and SVG (and measured by the
layout first) parsed every label, legend entry and log tick label again for
each, a sixth of a scene's figures. The parse depends only on the parser's
output type and the arguments, so while saving one cache serves every parser.

Embedded fonts. A PDF embeds a subset of each TrueType font, made by
fontTools, which reads and prunes the font's OpenType layout tables (GSUB,
GPOS, GDEF: ligatures and kerning by rule) to keep them in the subset. A PDF
places every glyph itself, with kerning applied when the page was drawn, so
no reader looks at them: reading them was four fifths of embedding a font.
The subset keeps the glyph outlines, metrics and maps it had.

Both reach into matplotlib's internals (3.11); where those are not what is
expected, nothing is changed.
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager

from matplotlib import mathtext

try:
    from matplotlib.backends import _backend_pdf_ps
except ImportError:  # pragma: no cover - matplotlib moved it
    _backend_pdf_ps = None

# what an embedded font in a PDF never uses
LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH")
_PARSES_KEPT = 2048

_own_parse = getattr(mathtext.MathTextParser._parse_cached, "__wrapped__", None)
_PARSERS = {"vector": mathtext.MathTextParser("path"), "raster": mathtext.MathTextParser("agg")}


@functools.lru_cache(maxsize=_PARSES_KEPT)
def _parse_once(output_type, s, dpi, prop, antialiased, load_glyph_flags):
    return _own_parse(_PARSERS[output_type], s, dpi, prop, antialiased, load_glyph_flags)


# a vector parse holds the FT2Font objects it was set in, whose file a forked
# child would read through the parent's descriptor (one file offset for both:
# garbled glyphs when both read); matplotlib empties its font cache on fork too
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_parse_once.cache_clear)


def _shared_parse(self, s, dpi, prop, antialiased, load_glyph_flags):
    return _parse_once(self._output_type, s, dpi, prop, antialiased, load_glyph_flags)


class _SubsetWithoutLayout:
    """fontTools.subset as matplotlib's PDF backend calls it, with options that drop the layout tables."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)

    def Options(self, **kwargs):  # noqa: N802 - the name matplotlib calls
        options = self._module.Options(**kwargs)
        options.drop_tables += [t for t in LAYOUT_TABLES if t not in options.drop_tables]
        return options


_FITS = (_own_parse is not None and getattr(mathtext.MathTextParser, "_output_type", None) is None
         and all(getattr(p, "_output_type", None) == t for t, p in _PARSERS.items()))
_PDF_FITS = _backend_pdf_ps is not None and hasattr(getattr(_backend_pdf_ps, "subset", None), "Options")


@contextmanager
def saving():
    """While a figure is saved: one math text cache for every renderer, and
    PDF fonts embedded without their layout tables. Nests."""
    parse = mathtext.MathTextParser.__dict__.get("_parse_cached")
    subset = getattr(_backend_pdf_ps, "subset", None)
    if _FITS:
        mathtext.MathTextParser._parse_cached = _shared_parse
    if _PDF_FITS and not isinstance(subset, _SubsetWithoutLayout):
        _backend_pdf_ps.subset = _SubsetWithoutLayout(subset)
    try:
        yield
    finally:
        if _FITS:
            mathtext.MathTextParser._parse_cached = parse
        if _PDF_FITS:
            _backend_pdf_ps.subset = subset
