"""What a FigureStyle means to matplotlib: the page's width, the font, the size
of the text, the panels' aspect; and figures that keep their style wherever
they are saved or displayed.

Figures are made without pyplot: a notebook's backend, its open figures and
its rcParams are never touched, and nothing is left open to close.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import matplotlib
import matplotlib.style
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from ..scenario import FigureStyle
from ..style import MPLSTYLE_FILE
from .savecache import saving

FONT = "sans"
SIZE = 9.0  # points
TITLE_SCALE = 1.2  # a figure's own title, over the rest of its text

# Each family falls back to DejaVu for the glyphs it lacks (cmr10 has no σ or ≈).
_FONTS = {
    "sans": {"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "mathtext.fontset": "dejavusans"},
    "serif": {"font.family": "serif", "font.serif": ["STIXGeneral", "DejaVu Serif"], "mathtext.fontset": "stix"},
    "cm": {"font.family": "serif", "font.serif": ["cmr10", "DejaVu Serif"], "mathtext.fontset": "cm",
           # cmr10 has no minus sign: tick labels are typeset as math; and no bold
           "axes.formatter.use_mathtext": True, "axes.titleweight": "normal", "figure.titleweight": "normal"},
}


def resolve(style: FigureStyle | None) -> FigureStyle:
    """Every setting filled: the given ones, else divfit's defaults (width and
    aspect stay None: each figure has its own)."""
    return (style or FigureStyle()).over(FigureStyle(font=FONT, size=SIZE))


def strong() -> str:
    """The weight of emphasised text in the current style (bold, where the font has it)."""
    return matplotlib.rcParams["figure.titleweight"]


def rc(style: FigureStyle) -> dict:
    """rcParams of the style, over divfit's style file: one text size for
    everything but a figure's own title."""
    s = resolve(style)
    size = s.size
    return {**_FONTS[s.font], "font.size": size, "axes.titlesize": size, "axes.labelsize": size,
            "xtick.labelsize": size, "ytick.labelsize": size, "legend.fontsize": size, "legend.title_fontsize": size,
            "figure.titlesize": TITLE_SCALE * size}


@contextmanager
def context(style: FigureStyle | None):
    """Everything drawn inside is in the style."""
    with matplotlib.style.context(MPLSTYLE_FILE), matplotlib.rc_context(rc(style)):
        yield


class _StyledCanvas(FigureCanvasBase):
    """Prints its figure in the style it was made in, however it is saved:
    `savefig` to any format, or a notebook's inline display (matplotlib makes
    tick labels and solves the layout only when it draws)."""

    def __init__(self, figure, style: FigureStyle):
        super().__init__(figure)
        self.style = style

    def print_figure(self, *args, **kwargs):
        with context(self.style), _quiet(_FONT_SUBSETTER), saving():
            return super().print_figure(*args, **kwargs)


# Subsetting matplotlib's bundled Computer Modern for a PDF, fontTools warns
# about the fonts' 1970s timestamps, which is all it finds wrong with them.
_FONT_SUBSETTER = "fontTools.ttLib.tables._h_e_a_d"


@contextmanager
def _quiet(logger_name: str):
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class StyledFigure(Figure):
    """A matplotlib Figure that keeps its style, and shows itself in Jupyter."""

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def new_figure(style: FigureStyle | None, size: tuple[float, float]) -> StyledFigure:
    """An empty figure of exactly `size` inches, laid out by matplotlib's
    constrained layout; call inside `context(style)`."""
    fig = StyledFigure(figsize=size, layout="constrained")
    _StyledCanvas(fig, resolve(style))
    return fig


def legend_below(fig, handles: list, most: int | None = None) -> None:
    """The figure's legend under its panels, in as many columns (up to `most`)
    as fit its width: the page is exactly the figure, so nothing may stick out.
    Call inside the figure's style context."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    probe = Figure(dpi=72)  # measured apart, with the same fonts
    renderer = FigureCanvasAgg(probe).get_renderer()
    room = 0.98 * fig.get_figwidth() * probe.dpi
    ncols = 1
    for n in range(min(len(handles), most or len(handles)), 0, -1):
        trial = probe.legend(handles=handles, ncols=n)
        wide = trial.get_window_extent(renderer).width
        trial.remove()
        if wide <= room:
            ncols = n
            break
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols)
    rows = -(-len(handles) // ncols)
    # the height allowed one row of legend; each further row adds a line, panels keep their size
    fig.set_figheight(fig.get_figheight() + (rows - 1) * 1.25 * matplotlib.rcParams["legend.fontsize"] / 72.0)


class TooNarrow(ValueError):
    """A width the figure's panels cannot be drawn in."""


def grid_size(style: FigureStyle | None, rows: int, cols: int, width: float, aspect: float,
              chrome_lines: float = 4.0, min_panel: float = 1.5, what: str = "figure") -> tuple[float, float]:
    """A figure of `rows` x `cols` panels: the style's width (else `width`), each
    panel as tall as the style's aspect (else `aspect`) times its width, plus
    room for the title and the legend, `chrome_lines` lines of text. Panels
    narrower than `min_panel` inches (at 9 pt; wider for larger text) would
    leave no room for their plots: refused, naming the width that fits."""
    s = resolve(style)
    w = s.width or width
    need = cols * min_panel * max(s.size / SIZE, 1.0)
    if w < need - 1e-9:
        raise TooNarrow(f"the {what} has {cols} panel(s) side by side and needs a width of at least {need:.2f} in "
                        f"at {s.size:g} pt, got {w:.2f} in; for a narrow column draw single panels "
                        "(distribution, landscape, history)")
    a = s.aspect or aspect
    return w, rows * (w / cols) * a + chrome_lines * s.size / 72.0
