"""Figures of 2-D scenarios: the plane's drawing model and its matplotlib panels.

`PlaneView` reads a 2-D record; `PlaneModel` computes once what a plane panel
shows (the shared window, p's density on a grid and its contour levels, each
optimum's ellipses in its role, q's ellipses and the particles at a step);
`PlanePanel` draws it: p as filled contours, q as its 1- and 2-sigma ellipses,
the global and local optima dashed and dotted, the particles as dots in the
sign colours, and the path of q's mean so far. The history panel is the 1-D
one (divergence, gradient norm, ESS against step).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import matplotlib.colors as mcolors
import numpy as np

from ..core.bivariate import divergences as divergences2
from ..core.bivariate.target import Mixture2
from ..style import palette
from .view import LegendEntry, RunView, sample_entries

SIGMAS = (1.0, 2.0)  # q's ellipses, in standard deviations
GRID = 140  # density grid points per axis
_CONTOURS = (0.02, 0.08, 0.2, 0.4, 0.6, 0.8, 0.95)  # fractions of p's peak density


class PlaneView(RunView):
    """A 2-D record: states are (mean (2,), cov (2, 2))."""

    @cached_property
    def target(self) -> Mixture2:
        t = self.config["target"]
        return Mixture2.create(t["means"], t["covs"], t["weights"])

    @cached_property
    def divergence(self):
        return divergences2.get(self.run["divergence"], self.run["direction"], self.run["family"],
                                self.run.get("alpha"))

    def state(self, t: int):
        t = min(t, self.steps)
        return self.record["mean"][self.member, t], self.record["cov"][self.member, t]

    def particles(self, t: int):
        if "particles" not in self.record or t >= self.steps:
            return None
        z = self.record["particles"][self.member, t]
        c = self.record["particle_weights"][self.member, t]
        ok = np.isfinite(z).all(-1) & np.isfinite(c)
        return z[ok], c[ok]

    @property
    def optima(self):
        return self.record["optima_mean"], self.record["optima_cov"], self.record["optima_value"]

    @property
    def mean_path(self) -> np.ndarray:
        return self.record["mean"][self.member]


def ellipse(mean, cov, k: float, n: int = 120) -> np.ndarray:
    """The k-sigma contour of N(mean, cov) as an (n, 2) closed polyline."""
    t = np.linspace(0.0, 2.0 * np.pi, n)
    L = np.linalg.cholesky(cov)
    return mean + k * np.stack([np.cos(t), np.sin(t)], axis=1) @ L.T


def in_window(z: np.ndarray, lims) -> np.ndarray:
    """Which points (..., 2) lie inside the window `lims`."""
    (x0, x1), (y0, y1) = lims
    return (z[..., 0] >= x0) & (z[..., 0] <= x1) & (z[..., 1] >= y0) & (z[..., 1] <= y1)


def window(views: list[PlaneView]) -> tuple[tuple[float, float], tuple[float, float]]:
    """One square-ish window for every panel: p's components and every drawn q
    (2 sigma) and optimum, with a margin."""
    pts = []
    for v in views:
        p = v.target
        for m, c in zip(p.means, p.covs):
            pts.append(ellipse(m, c, 2.5, 48))
        # every member (a start grid's members can all be picked on the page), some 40 states of each
        S = v.steps
        for t in sorted({*range(0, S + 1, max(1, S // 40)), S}):
            for m, c in zip(v.record["mean"][:, t], v.record["cov"][:, t]):
                if np.isfinite(c).all() and np.isfinite(m).all() and np.linalg.det(c) > 0:
                    pts.append(ellipse(m, c, 2.0, 48))
        for m, c in zip(v.optima[0], v.optima[1]):
            pts.append(ellipse(m, c, 2.0, 48))
    pts = np.concatenate(pts)
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * 1.08
    return (centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)


@dataclass
class Optimum2:
    mean: np.ndarray
    cov: np.ndarray
    role: str  # global | local


class PlaneModel:
    """Everything a plane panel shows, computed once."""

    def __init__(self, view: PlaneView, lims):
        self.view = view
        (x0, x1), (y0, y1) = self.xlim, self.ylim = lims
        xs, ys = np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID)
        X, Y = np.meshgrid(xs, ys)
        self.X, self.Y = X, Y
        self.density = np.exp(view.target.logpdf(np.stack([X, Y], axis=-1)))
        self.levels = np.array(_CONTOURS) * self.density.max()
        means, covs, _ = view.optima
        self.optima = [Optimum2(m, c, "global" if i == 0 else "local") for i, (m, c) in enumerate(zip(means, covs))]

    def particles(self, t: int):
        """The samples of step t (the final state shows the last step's), or None."""
        return self.view.particles(min(t, self.view.steps - 1))

    def readout(self, t: int):
        from .view import readout

        return readout(self.view, t)

    def q_ellipses(self, t: int) -> list[np.ndarray]:
        mean, cov = self.view.state(t)
        return [ellipse(mean, cov, k) for k in SIGMAS]

    def path(self, t: int) -> np.ndarray:
        return self.view.mean_path[: min(t, self.view.steps) + 1]


def draw_density(ax, m: PlaneModel) -> None:
    """p as filled contours at the model's levels, outlined."""
    pal = palette()
    fills = mcolors.LinearSegmentedColormap.from_list("p", ["#FFFFFF", pal["p_fill"], pal["p_line"]])
    ax.contourf(m.X, m.Y, m.density, levels=np.append(m.levels, m.density.max() * 1.01), cmap=fills,
                extend="neither")
    ax.contour(m.X, m.Y, m.density, levels=m.levels, colors=pal["p_line"], linewidths=0.4)


def density_image(view: PlaneView, lims, px: int) -> np.ndarray:
    """p's contours as the figures draw them, filling an px x px RGB image of
    the window `lims` (row 0 at the top): the scrubber's and the video's
    backdrop, drawn once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(px / 100, px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    draw_density(ax, PlaneModel(view, lims))
    ax.set_xlim(*lims[0])
    ax.set_ylim(*lims[1])
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def view_of(record: dict, path=None, member: int | None = None) -> RunView:
    """A record (as trajectory.load gives it) for drawing in its own dimension;
    `member` of a batch, by default the featured one."""
    from .view import featured_member

    cls = PlaneView if record["config"]["target"].get("dim", 1) == 2 else RunView
    return cls(record, featured_member(record["config"]["run"]) if member is None else member, path)


def load_view(path) -> RunView:
    """A record read for drawing in its own dimension."""
    from .. import trajectory

    return view_of(trajectory.load(path), path)


class PlanePanel:
    def __init__(self, ax, view: PlaneView, lims, show_step: bool = True, notation: str = "tex"):
        pal = palette()
        self.ax, self.view, self.show_step, self.notation = ax, view, show_step, notation
        self.model = m = PlaneModel(view, lims)
        draw_density(ax, m)
        for o in m.optima:
            for k in SIGMAS:
                e = ellipse(o.mean, o.cov, k)
                ax.plot(e[:, 0], e[:, 1], color=pal[f"q_star_{o.role}"], lw=1.0, dashes=pal["dash"][o.role])
        start = view.mean_path[0]
        ax.plot(start[0], start[1], marker="o", ms=4, color=pal["q"], mfc="white", zorder=4)
        (self.trail,) = ax.plot([], [], color=pal["q"], lw=0.9, alpha=0.8, zorder=3)
        (self.marker,) = ax.plot([], [], ls="none", marker="o", ms=4.5, color=pal["marker"], mec="#000000", mew=0.7,
                                 zorder=7)
        self.q_lines = [ax.plot([], [], color=pal["q"], lw=2.0 if k == 1 else 1.2, zorder=5)[0] for k in SIGMAS]
        self.dots = ax.scatter([], [], s=7, linewidths=0, zorder=6) if "particles" in view.record else None
        self.rgb = {True: mcolors.to_rgba(pal["positive"]), False: mcolors.to_rgba(pal["negative"])}
        ax.set_xlim(*m.xlim)
        ax.set_ylim(*m.ylim)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        self.text = ax.text(0.98, 0.97, "", transform=ax.transAxes, ha="right", va="top",
                            color=pal["text"], zorder=7,
                            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.75))
        self.update(0)

    def update(self, t: int) -> list:
        from . import labels

        m = self.model
        path = m.path(t)
        self.trail.set_data(path[:, 0], path[:, 1])
        self.marker.set_data(path[-1:, 0], path[-1:, 1])
        for line, e in zip(self.q_lines, m.q_ellipses(t)):
            line.set_data(e[:, 0], e[:, 1])
        if self.dots is not None:
            parts = m.particles(t)
            if parts is None or parts[0].size == 0:
                self.dots.set_offsets(np.empty((0, 2)))
            else:
                z, c = parts
                self.dots.set_offsets(z)
                self.dots.set_facecolors([self.rgb[bool(ci >= 0)] for ci in c])
        value = self.view.values[min(t, self.view.steps)]
        lines = [f"{labels.divergence_in(self.view.run, self.notation)} = {labels.fmt(value)}"]
        if self.show_step:
            lines.insert(0, f"step {min(t, self.view.steps)}")
        self.text.set_text("\n".join(lines))
        return [self.trail, *self.q_lines, self.text, self.marker] + ([self.dots] if self.dots is not None else [])


def legend(views: list[PlaneView]) -> list[LegendEntry]:
    """An entry for each kind of thing the plane's panels of `views` show."""
    pal = palette()
    out = [LegendEntry("area", pal["p_fill"], "target p (density contours)", "target $p$ (density contours)"),
           LegendEntry("q", pal["q"], "q (1 and 2 sd)", r"$q_\phi$ (1 and 2 sd)"),
           LegendEntry("path", pal["q"], "path of the mean", "path of the mean"),
           LegendEntry("marker", pal["marker"], "the mean now", "the mean now")]
    n_star = max((len(v.optima[2]) for v in views), default=0)
    if n_star:
        out.append(LegendEntry("dashed", pal["q_star_global"], "q* global", "$q^*$ global"))
    if n_star > 1:
        out.append(LegendEntry("dotted", pal["q_star_local"], "q* local", "$q^*$ local"))
    if any("particles" in v.record for v in views):
        out += sample_entries("dot")
    return out


def legend_handles(views: list[PlaneView]) -> list:
    from .panels import handles

    return handles(legend(views))
