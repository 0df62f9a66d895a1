"""The three panels every renderer is built from, each drawing one run into an Axes.

A panel draws what never changes once (p, q*, the landscape wash, contours,
minima) and keeps handles to what moves; `update(t)` moves those artists to
step t and returns them, so an animation re-draws only them (blitting) and
never rebuilds a figure.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib import ticker as mticker
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..style import palette, rug_level, shades
from . import labels
from .view import DistributionModel, RunView, legend


def plain_log_ticks(axis, span_decades: float = 2.0):
    """Log-axis tick labels as plain numbers (0.5, 2, 10) rather than 5x10^-1; an
    axis spanning less than a decade or two labels more of its minor ticks."""
    labelled = "123456789" if span_decades < 0.6 else "25" if span_decades < 3 else ""
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    axis.set_minor_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}" if f"{v:.3g}"[0] in labelled else ""))


def legend_handles(views: list[RunView]) -> list:
    """The figures' legend: one handle for each of the `view.legend` entries."""
    return handles(legend(views))


def handles(entries) -> list:
    """Matplotlib legend handles for `LegendEntry`s."""
    dash = palette()["dash"]
    make = {
        "area": lambda e: Patch(color=e.color, label=e.tex),
        "q": lambda e: Line2D([], [], color=e.color, lw=2, label=e.tex),
        "line": lambda e: Line2D([], [], color=e.color, lw=1.2, label=e.tex),
        "dashed": lambda e: Line2D([], [], color=e.color, dashes=dash["global"], lw=1.1, label=e.tex),
        "dotted": lambda e: Line2D([], [], color=e.color, dashes=dash["local"], lw=1.1, label=e.tex),
        "tick": lambda e: Line2D([], [], color=e.color, marker="|", ls="none", ms=9, mew=1.5, label=e.tex),
        "dot": lambda e: Line2D([], [], color=e.color, marker="o", ls="none", ms=4, label=e.tex),
        "path": lambda e: Line2D([], [], color=e.color, lw=0.9, marker="o", mfc="white", ms=4, label=e.tex),
        "marker": lambda e: Line2D([], [], ls="none", marker="o", ms=4.5, color=e.color, mec="#000000", mew=0.7,
                                   label=e.tex),
    }
    return [make[e.glyph](e) for e in entries]


def landscape_norm(values: np.ndarray) -> mcolors.LogNorm:
    """The landscape's log colour scale: from the lowest positive value to at most
    three decades above it (chi-square walls reach 1e300, and a scale that shows
    them leaves everything of interest one colour)."""
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    vmin = max(float(positive.min()) if positive.size else 1e-3, 1e-4)
    vmax = min(max(float(np.quantile(positive, 0.9)) if positive.size else 1.0, vmin * 10), vmin * 1e3)
    return mcolors.LogNorm(vmin=vmin, vmax=vmax, clip=True)


_HISTORY_TOP = 1e30


def landscape_rgba(view: RunView) -> np.ndarray:
    """The landscape wash as an 8-bit RGBA image, rows from the top (the largest
    phi[1]), in the style's colour map: the videos and the site draw it as is."""
    L = view.landscape
    norm = landscape_norm(L.value)
    cmap = matplotlib.colormaps[palette()["landscape_cmap"]].with_extremes(bad=palette()["infinite"])
    shown = np.where(np.isfinite(L.value), np.maximum(L.value, norm.vmin), np.nan)
    rgba = cmap(norm(np.ma.masked_invalid(shown)))
    return np.round(rgba[::-1] * 255).astype(np.uint8)


class DistributionPanel:
    """p shaded, q solid, q* dashed (global) / dotted (local), the importance-weight
    curve (IS runs, scaled to the axes), the particle rug coloured by the sign of
    each particle's coefficient and shaded by its magnitude, and a readout; every
    number from the run's `DistributionModel`. The readout is in `notation`:
    mathtext for figures, plain Unicode for the GIFs, whose readout changes every
    frame (mathtext would parse each new string anew: a third of a GIF's time)."""

    def __init__(self, ax, view: RunView, readout: bool = True, show_step: bool = True, xlim=None,
                 notation: str = "tex"):
        pal = palette()
        self.ax, self.view, self.show_step, self.notation = ax, view, show_step, notation
        self.model = m = DistributionModel(view, xlim)
        self.x, self.top = m.x, m.top
        ax.fill_between(m.x, m.p, color=pal["p_fill"], lw=0, label="target $p$")
        ax.plot(m.x, m.p, color=pal["p_line"], lw=1.0)
        for i, o in enumerate(m.optima):
            ax.plot(m.x, m.star(o), color=pal[f"q_star_{o.role}"], lw=1.1, dashes=pal["dash"][o.role],
                    label=f"$q^*$ ({o.role})" if i < 2 else None)
        (self.q_line,) = ax.plot(m.x, m.q(0), color=pal["q"], lw=2.0, label=r"$q_\phi$")
        self.w_line = None
        if m.weight_exponent is not None:
            e = m.weight_exponent
            w_label = r"$w = p/q_\phi$" if e == 1.0 else rf"$w^{{{e:g}}} = (p/q_\phi)^{{{e:g}}}$"
            (self.w_line,) = ax.plot(m.x, m.weight(0), color=pal["weight"], lw=1.2, label=w_label + " (scaled)")
        self.rug = None
        self.rug_y = m.rug_y
        if m.has_rug:
            self.rug = ax.scatter([], [], marker="|", s=90, linewidths=1.2)
            # shades of the sign's colour by magnitude, opaque: exact colours in every GIF palette
            self.rgba_pos = np.array([mcolors.to_rgba(c) for c in shades(pal["positive"])])
            self.rgba_neg = np.array([mcolors.to_rgba(c) for c in shades(pal["negative"])])
        ax.set_xlim(*m.xlim)
        ax.set_ylim(m.bottom, m.top)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("$x$")
        self.text = ax.text(0.99, 0.97, "", transform=ax.transAxes, ha="right", va="top",
                            color=pal["text"], zorder=1.5,
                            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.7),
                            ) if readout else None
        self.update(0)

    def update(self, t: int) -> list:
        m = self.model
        moved = [self.q_line]
        self.q_line.set_ydata(m.q(t))
        if self.w_line is not None:
            self.w_line.set_ydata(m.weight(t))
            moved.append(self.w_line)
        if self.rug is not None:
            parts = m.particles(t)
            if parts is None or parts[0].size == 0:
                self.rug.set_offsets(np.empty((0, 2)))
            else:
                z, c = parts
                self.rug.set_offsets(np.column_stack([z, np.full_like(z, self.rug_y)]))
                level = rug_level(c)
                rgba = np.where((c >= 0)[:, None], self.rgba_pos[level], self.rgba_neg[level])
                self.rug.set_edgecolors(rgba)
            moved.append(self.rug)
        if self.text is not None:
            self.text.set_text("\n".join(m.readout(t).lines(self.notation, step=self.show_step)))
            moved.append(self.text)
        return moved


class LandscapePanel:
    """The divergence over the run's parameterization (log colour scale), contour
    lines, minima (global: star, local: diamond) and the trajectory as a trail
    with its start marked; `update(t)` grows the trail and moves q's marker."""

    def __init__(self, ax, view: RunView, colorbar: bool = False):
        self.ax, self.view = ax, view
        if view.fixed_std:
            self._curve(ax, view)
        else:
            self._surface(ax, view, colorbar)
        self.update(0)

    def _curve(self, ax, view: RunView):
        """The fixed-std family moves along one line: draw the divergence as a curve
        over it, and q as a bead sliding down the curve."""
        pal = palette()
        phi0, value = view.curve
        ax.plot(phi0, value, color=pal["p_line"], lw=1.3)
        om, os_, ov = view.optima
        if om.size:
            star = view.param.to_phi(om, os_)[:, 0]
            ax.scatter(star[1:], ov[1:], marker="D", s=28, facecolor="white", edgecolor="black", lw=0.8, zorder=4)
            ax.scatter(star[:1], ov[:1], marker="*", s=110, facecolor="white", edgecolor="black", lw=0.8, zorder=4)
        self.ys = view.values
        ax.plot(view.phi[0, 0], self.ys[0], marker="o", ms=6, mfc="none", mec="black", mew=1.2, zorder=5)
        (self.trail,) = ax.plot([], [], color=pal["marker"], lw=1.0, alpha=0.6, zorder=5)
        (self.marker,) = ax.plot([], [], marker="o", ms=7, color=pal["marker"], mec="black", mew=1.0, zorder=6, ls="none")
        if view.curve_limits is not None:
            ax.set_ylim(*view.curve_limits)
        ax.set_xlim(phi0[0], phi0[-1])
        ax.set_xlabel(labels.axes_tex(view.run)[0])
        ax.set_ylabel(labels.divergence(view.run) + f"  (σ = {view.state(0)[1]:g})")

    def _surface(self, ax, view: RunView, colorbar: bool):
        pal = palette()
        L = view.landscape
        self.norm = landscape_norm(L.value)
        vmin, vmax = self.norm.vmin, self.norm.vmax
        cmap = matplotlib.colormaps[pal["landscape_cmap"]].with_extremes(bad=pal["infinite"])
        shown = np.where(np.isfinite(L.value), np.maximum(L.value, vmin), np.nan)
        extent = (L.phi0[0], L.phi0[-1], L.phi1[0], L.phi1[-1])
        # nearest: interpolating across the edge of an infinite region would eat into it
        self.image = ax.imshow(shown, origin="lower", extent=extent, aspect="auto", cmap=cmap, norm=self.norm,
                               interpolation="nearest")
        infinite = np.isinf(L.value)
        if infinite.mean() > 0.03:
            i, j = np.argwhere(infinite)[len(np.argwhere(infinite)) // 2]
            ax.text(L.phi0[j], L.phi1[i], f"{labels.divergence(view.run)} = ∞", ha="center", va="center",
                    color=pal["p_line"])
        levels = np.geomspace(vmin * 1.05, vmax, 7)
        with np.errstate(invalid="ignore"):
            ax.contour(L.phi0, L.phi1, np.where(np.isfinite(shown), shown, vmax * 10), levels=levels,
                       colors="white", linewidths=0.5, alpha=0.45)
        om, os_, _ = view.optima
        if om.size:
            phi_star = view.param.to_phi(om, os_)
            ax.scatter(phi_star[1:, 0], phi_star[1:, 1], marker="D", s=28, facecolor="white",
                       edgecolor="black", linewidth=0.8, zorder=4, label="local minimum")
            ax.scatter(phi_star[:1, 0], phi_star[:1, 1], marker="*", s=110, facecolor="white",
                       edgecolor="black", linewidth=0.8, zorder=4, label="global minimum")
        outline = [patheffects.Stroke(linewidth=3.0, foreground=pal["trail_edge"]), patheffects.Normal()]
        phi = view.phi
        ax.plot(phi[0, 0], phi[0, 1], marker="o", ms=6, mfc="none", mec="white", mew=1.5, zorder=5)
        (self.trail,) = ax.plot(phi[:1, 0], phi[:1, 1], color=pal["trail"], lw=1.4, zorder=5, path_effects=outline)
        (self.marker,) = ax.plot(phi[0, 0], phi[0, 1], marker="o", ms=7, color=pal["marker"], mec="black",
                                 mew=1.0, zorder=6, ls="none")
        xl, yl = labels.axes_tex(view.run)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        if colorbar:
            cb = ax.figure.colorbar(self.image, ax=ax, fraction=0.05, pad=0.02)
            cb.set_label(labels.divergence(view.run))
            plain_log_ticks(cb.ax.yaxis)

    def update(self, t: int) -> list:
        t = min(t, self.view.steps)
        phi = self.view.phi[: t + 1]
        y = self.ys[: t + 1] if self.view.fixed_std else phi[:, 1]
        self.trail.set_data(phi[:, 0], y)
        self.marker.set_data([phi[-1, 0]], [y[-1]])
        return [self.trail, self.marker]


class HistoryPanel:
    """The divergence against step (log scale); for Monte Carlo runs also the
    gradient norm (same axis) and the ESS (right axis); `step`, if given, is
    marked by a vertical line."""

    def __init__(self, ax, view: RunView, step: int | None = None):
        pal = palette()["history"]
        self.ax, self.view = ax, view
        steps = np.arange(view.steps + 1)
        d = view.values.copy()
        d[~np.isfinite(d)] = np.nan
        floor = np.nanmin(d[d > 0]) if np.any(d > 0) else 1e-12
        ax.plot(steps, np.clip(d, floor, _HISTORY_TOP), color=pal["divergence"], lw=1.6, label=labels.divergence(view.run))
        if view.monte_carlo:
            g = view.record["grad"][view.member]
            # a noisy estimate can reach 1e300; the axis stops at _HISTORY_TOP, where ticks still fit a float
            norm = np.hypot(g[:, 0], g[:, 1]) if g.shape[1] == 2 else np.sqrt((g * g).sum(axis=1))
            ax.plot(steps[:-1], np.minimum(norm, _HISTORY_TOP), color=pal["grad_norm"],
                    lw=0.6, alpha=0.7,
                    label=r"$\|\hat g\|$")
            ax2 = ax.twinx()
            ax2.plot(steps[:-1], view.record["ess"][view.member], color=pal["ess"], lw=0.6, alpha=0.7, label="ESS")
            ax2.set_ylim(0, view.samples * 1.05)
            ax2.set_ylabel("ESS", color=pal["ess"])
            ax2.spines["right"].set_visible(True)
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        plain_log_ticks(ax.yaxis, np.log10(hi) - np.log10(lo))
        ax.set_xlabel("step")
        ax.set_xlim(0, max(view.steps, 1))
        if step is not None:
            ax.axvline(min(step, view.steps), color=palette()["text"], lw=0.8, ls="--", zorder=0.5)
        ax.legend(loc="best")
