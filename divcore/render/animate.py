"""Animated GIFs: a scenario's runs side by side, and the front page's gallery.

Frames come from one figure whose moving artists are updated in place and
blitted over a saved background; the frames are quantised to one shared
palette (so consecutive frames differ only where something moved, and
Pillow stores only the changed rectangle of each).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..atomic import atomic_write
from ..style import MPLSTYLE_FILE, all_colours
from . import labels, plane
from .glyphs import GlyphCanvas
from .images import webp
from .panels import DistributionPanel, LandscapePanel
from .view import RunView, shared_x_range

MAX_FRAMES = 150
FRAME_MS = 60
HOLD_MS = 1500  # the last frame stays up before the loop restarts
DPI = 100


def frame_steps(steps: int, frames: int = MAX_FRAMES) -> np.ndarray:
    """At most `frames` steps from 0 to `steps`, dense early where q moves fast:
    step(i) = steps * (i / (n - 1))^2."""
    n = min(frames, steps + 1)
    if n <= 1:
        return np.zeros(1, dtype=int)
    t = np.unique(np.round(steps * np.linspace(0.0, 1.0, n) ** 2).astype(int))
    return t


@dataclass
class Cell:
    """One run drawn as [distribution | landscape] (on the plane: one panel), labelled."""

    view: RunView
    label: str


class Animator:
    """A figure of cells whose frames are drawn by blitting the moving artists."""

    def __init__(self, cells: list[Cell], width_px: int, ncols: int, cell_height_px: int,
                 title: str | None = None, share_x: bool = True):
        self.cells = cells
        nrows = -(-len(cells) // ncols)
        title_px = 30 if title else 0
        height_px = nrows * cell_height_px + title_px + 54
        with matplotlib.style.context(MPLSTYLE_FILE), matplotlib.rc_context(
                {"font.size": 7, "xtick.labelsize": 6, "ytick.labelsize": 6, "axes.labelsize": 7}):
            self.fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
            GlyphCanvas(self.fig)
            # room above each cell for its label and below the last row for tick labels
            top = 1.0 - (title_px + 24) / height_px
            kinds = [isinstance(c.view, plane.PlaneView) for c in cells]
            planar = all(kinds)  # a gallery may mix planes and lines: a plane cell spans a line cell's two
            bottom = (40 if planar else 30) / height_px
            per_cell = 1 if planar else 2  # the plane: one square panel; the line: [distribution | landscape]
            grid = self.fig.add_gridspec(nrows, per_cell * ncols, left=0.06 if planar else 0.01, right=0.99,
                                         bottom=bottom, top=top,
                                         width_ratios=None if planar else [1.45, 1.0] * ncols,
                                         wspace=0.25 if planar else 0.32, hspace=0.3 if planar else 0.6)
            if title:
                self.fig.text(0.01, 1.0 - 5 / height_px, title, ha="left", va="top", fontsize=10, fontweight="bold")
            self.panels = []
            lines = [c.view for c, k in zip(cells, kinds) if not k]
            xlim = shared_x_range(lines) if share_x and lines else None
            lims = plane.window([c.view for c, k in zip(cells, kinds) if k]) if share_x and any(kinds) else None
            for i, (cell, is_plane) in enumerate(zip(cells, kinds)):
                r, c = divmod(i, ncols)
                if is_plane:
                    ax = self.fig.add_subplot(grid[r, per_cell * c: per_cell * (c + 1)])
                    ax.set_title(cell.label, fontsize=7, loc="left", fontweight="bold")
                    self.panels.append((plane.PlanePanel(ax, cell.view, lims or plane.window([cell.view]), notation="plain"),))
                    continue
                ax_d = self.fig.add_subplot(grid[r, 2 * c])
                ax_l = self.fig.add_subplot(grid[r, 2 * c + 1])
                dist = DistributionPanel(ax_d, cell.view, xlim=xlim, notation="plain")
                land = LandscapePanel(ax_l, cell.view)
                ax_l.xaxis.label.set_size(6)
                ax_l.yaxis.label.set_size(6)
                ax_l.xaxis.labelpad = ax_l.yaxis.labelpad = 1
                ax_d.set_xlabel("")
                ax_d.set_title(cell.label, fontsize=7, loc="left", fontweight="bold")
                self.panels.append((dist, land))
            self.moving = [a for group in self.panels for panel in group for a in panel.update(0)]
            for a in self.moving:
                a.set_animated(True)
            self.fig.canvas.draw()
            self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)

    @property
    def size(self) -> tuple[int, int]:
        w, h = self.fig.canvas.get_width_height()
        return w, h

    def frame(self, t: int) -> np.ndarray:
        """The RGBA image of step t, opaque (each run clamped to its own last
        step). RGBA as the canvas holds it: taking out RGB cost 12x the copy."""
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        for group in self.panels:
            for panel in group:
                for a in panel.update(t):
                    panel.ax.draw_artist(a)
        return np.array(canvas.buffer_rgba())


_CLEAR = 255  # palette index reserved for "unchanged since the previous frame"


class _NearestColour:
    """Maps pixels to their nearest palette entry, exactly (Pillow's palette
    mapping goes through a coarse colour cache and turns white into 251, 252,
    252). Frames share most of their colours, so each distinct colour is
    searched for once and remembered in a table over all 2^24 colours (16 MB):
    a frame is then one lookup per pixel, where sorting its pixels to find
    the new colours cost 20 ms a frame."""

    def __init__(self, colours: np.ndarray):
        self.colours = colours.astype(np.int32)
        # _CLEAR is never a colour's entry, so it marks colours not yet searched for
        self.table = np.full(1 << 24, _CLEAR, dtype=np.uint8)
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 is the same for every entry: the
        # rest, integers a float64 holds exactly, has the same argmin (ties to the first
        # entry) as the squared differences, as one matrix product (0.2x their time)
        c = self.colours.astype(np.float64)
        self._c2, self._ct2 = (c * c).sum(axis=1), 2.0 * c.T

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Palette indices of an RGBA frame, as a canvas holds it (the alpha is
        ignored), or of an RGB one."""
        return self._lookup(_packed(frame))

    def frames(self, frames):
        """The palette indices of each of `frames` in turn: after the first,
        only the pixels that changed since the previous frame are looked up."""
        before = index = None
        for frame in frames:
            packed = _packed(frame)
            if before is None:
                index = self._lookup(packed)
            else:
                changed = packed != before
                index = index.copy()
                index[changed] = self._lookup(packed[changed])
            before = packed
            yield index

    def _lookup(self, packed: np.ndarray) -> np.ndarray:
        index = self.table[packed]
        unknown = index == _CLEAR
        if unknown.any():
            new = np.unique(packed[unknown])
            rgb = np.stack([new & 255, (new >> 8) & 255, (new >> 16) & 255], axis=-1).astype(np.float64)
            self.table[new] = (self._c2 - rgb @ self._ct2).argmin(axis=1).astype(np.uint8)
            index[unknown] = self.table[packed[unknown]]
        return index


def _packed(frame: np.ndarray) -> np.ndarray:
    """Each pixel's colour as one integer, R + G << 8 + B << 16, from an RGBA
    frame (its four bytes read as one little-endian word) or an RGB one."""
    if frame.shape[-1] == 3:
        frame = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
    return np.ascontiguousarray(frame).view("<u4")[..., 0] & 0xFFFFFF


def _shared_palette(frames: list[np.ndarray]) -> list[int]:
    """256 RGB entries: the style's own colours exactly (a median cut would merge
    a small marker into its surroundings), then the commonest other colours of a
    sample of frames, then the reserved transparent entry."""
    fixed = [tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in all_colours()]
    sample = np.concatenate([f[..., :3] for f in frames[:: max(1, len(frames) // 12)]], axis=0)
    free = 255 - len(fixed)
    cut = Image.fromarray(sample).quantize(colors=free, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    rest = cut.getpalette()[: 3 * free]
    flat = [c for rgb in fixed for c in rgb] + rest
    flat += [0] * (3 * 255 - len(flat))
    return flat + [0, 0, 0]


def encode_gif(frames: list[np.ndarray], path: Path, frame_ms: int = FRAME_MS, hold_ms: int = HOLD_MS) -> Path:
    """Write a looping GIF: one adaptive palette of 255 colours for all frames,
    and every frame after the first stores only the pixels that changed (the
    rest is the transparent index, which LZW packs into almost nothing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pal = _shared_palette(frames)
    nearest = _NearestColour(np.array(pal[: 3 * 255]).reshape(-1, 3))
    indexed = list(nearest.frames(frames))
    images = []
    for i, idx in enumerate(indexed):
        out = idx.copy()
        if i:
            out[idx == indexed[i - 1]] = _CLEAR
        img = Image.fromarray(out, mode="P")
        img.putpalette(pal)
        images.append(img)
    durations = [frame_ms] * (len(images) - 1) + [hold_ms]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations,
                   loop=0, optimize=False, disposal=1, transparency=_CLEAR)
    return atomic_write(path, buf.getvalue())


def render(animator: Animator, steps: np.ndarray, path: Path, progress=None) -> Path:
    frames = []
    for i, t in enumerate(steps):
        frames.append(animator.frame(int(t)))
        if progress is not None:
            progress(i + 1, len(steps))
    return encode_gif(frames, path)


def scenario_gif(title: str, views: list[RunView], path: Path, width_px: int = 640, progress=None) -> Path:
    """One cell per run, all at the same step, looping (on the plane: square
    panels, two to a row)."""
    ncols = 1 if len(views) <= 4 else 2
    cell_h = 190 if ncols == 1 else 150
    if isinstance(views[0], plane.PlaneView):
        ncols = min(2, len(views))
        cell_h = int(0.8 * width_px / ncols)
    cells = [Cell(v, labels.run_title(v.run)) for v in views]
    anim = Animator(cells, width_px, ncols, cell_h, title=title)
    return render(anim, frame_steps(max(v.steps for v in views)), path, progress)


GALLERY_CELL_PX = 330  # as wide as a phone shows it: legible at 390 px without zooming
GALLERY_INDEX = "index.json"


def gallery(cells: list[Cell], out_dir: Path, progress=None) -> list[dict]:
    """The front page's cells, one per scenario (its headline run), titled: each
    an animated GIF and a still poster of its last frame (WebP), for a page
    that shows the light posters first and the animations once seen. Writes
    them and `index.json`, the cells in order (scenario, title, files, size)."""
    out_dir = Path(out_dir)
    index = []
    for i, cell in enumerate(cells):
        anim = Animator([cell], GALLERY_CELL_PX, 1, 170, share_x=False)
        steps = frame_steps(cell.view.steps)
        frames = [anim.frame(int(t)) for t in steps]
        name = cell.view.config["scenario"]
        encode_gif(frames, out_dir / f"{name}.gif")
        atomic_write(out_dir / f"{name}.webp", webp(Image.fromarray(frames[-1][..., :3]), 85))
        height, width = frames[-1].shape[:2]
        index.append({"scenario": name, "title": cell.label, "gif": f"{name}.gif", "poster": f"{name}.webp",
                      "width": width, "height": height})
        if progress is not None:
            progress(i + 1, len(cells))
    atomic_write(out_dir / GALLERY_INDEX, json.dumps(index, indent=1).encode())
    return index
