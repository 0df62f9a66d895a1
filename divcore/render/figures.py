"""Publication figures of a scenario: the summary, the small multiples, single
panels of one run at one step and the analyses' figures, each typeset in a
FigureStyle (width, font, text size, aspect) and written as PDF and SVG (text
as text, fonts embedded) and PNG at 200 dpi."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

from ..atomic import atomic_write
from ..scenario import FigureStyle
from . import labels
from .panels import DistributionPanel, HistoryPanel, LandscapePanel, legend_handles
from . import plane
from .typeset import context, grid_size, legend_below, new_figure, strong
from .view import RunView, shared_x_range

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 200
DEFAULT_SNAPSHOTS = (0.0, 0.1, 0.5, 1.0)


def snapshot_steps(view: RunView, fractions) -> list[int]:
    """Steps at the given fractions of the run (0 = start, 1 = final)."""
    return [int(round(f * view.steps)) for f in fractions]


def summary(title: str, views: list[RunView], style: FigureStyle | None = None):
    """Per run, one row: the final distribution, the landscape with the trail, the
    history (on the plane: the final state over p's density, and the history)."""
    if isinstance(views[0], plane.PlaneView):
        return _plane_summary(title, views, style)
    with context(style):
        fig = new_figure(style, grid_size(style, len(views), 3, width=11.0, aspect=0.74, min_panel=1.9, what="summary"))
        axes = fig.subplots(len(views), 3, squeeze=False, gridspec_kw={"width_ratios": [1.25, 1.0, 1.0]})
        xlim = shared_x_range(views)
        for row, v in zip(axes, views):
            final = v.steps
            dist = DistributionPanel(row[0], v, xlim=xlim)
            dist.update(final)
            row[0].set_title(labels.run_title(v.run))
            land = LandscapePanel(row[1], v, colorbar=True)
            land.update(final)
            HistoryPanel(row[2], v)
        _legend(fig, views)
        fig.suptitle(title, x=0.01, ha="left")
    return fig


def _plane_summary(title: str, views: list[plane.PlaneView], style: FigureStyle | None):
    """The plane has no room for a landscape over 4 or 5 parameters: each row is
    the final q over p, with the mean's path, and the history."""
    with context(style):
        fig = new_figure(style, grid_size(style, len(views), 2, width=8.5, aspect=0.85, chrome_lines=5, min_panel=2.2,
                                           what="summary"))
        axes = fig.subplots(len(views), 2, squeeze=False, gridspec_kw={"width_ratios": [1.0, 1.3]})
        lims = plane.window(views)
        for row, v in zip(axes, views):
            plane.PlanePanel(row[0], v, lims).update(v.steps)
            row[0].set_title(labels.run_title(v.run))
            HistoryPanel(row[1], v)
        _legend(fig, views)
        fig.suptitle(title, x=0.01, ha="left")
    return fig


def _legend(fig, views, most: int | None = None):
    handles = (plane.legend_handles if isinstance(views[0], plane.PlaneView) else legend_handles)(views)
    legend_below(fig, handles, most)


def small_multiples(title: str, views: list[RunView], fractions=DEFAULT_SNAPSHOTS, style: FigureStyle | None = None):
    """Per run, one row of distribution panels at the chosen fractions of the run."""
    if isinstance(views[0], plane.PlaneView):
        return _plane_small_multiples(title, views, fractions, style)
    with context(style):
        n = len(fractions)
        fig = new_figure(style, grid_size(style, len(views), n, width=2.6 * n + 0.6, aspect=0.8, min_panel=1.6,
                                           what="snapshots figure"))
        axes = fig.subplots(len(views), n, squeeze=False)
        xlim = shared_x_range(views)
        for row, v in zip(axes, views):
            for ax, t in zip(row, snapshot_steps(v, fractions)):
                DistributionPanel(ax, v, show_step=False, xlim=xlim).update(t)
                ax.set_title(f"step {t}", fontweight="normal")
            row[0].set_ylabel(v.name, rotation=0, ha="right", va="center", fontweight=strong())
        _legend(fig, views)
        fig.suptitle(title, x=0.01, ha="left")
    return fig


def _plane_small_multiples(title: str, views: list[plane.PlaneView], fractions, style: FigureStyle | None):
    with context(style):
        n = len(fractions)
        fig = new_figure(style, grid_size(style, len(views), n, width=2.5 * n + 0.6, aspect=0.95, chrome_lines=5,
                                           min_panel=1.4, what="snapshots figure"))
        axes = fig.subplots(len(views), n, squeeze=False)
        lims = plane.window(views)
        for row, v in zip(axes, views):
            for ax, t in zip(row, snapshot_steps(v, fractions)):
                plane.PlanePanel(ax, v, lims, show_step=False).update(t)
                ax.set_title(f"step {t}", fontweight="normal")
                ax.set_xlabel("")
                ax.set_ylabel("")
            row[0].set_ylabel(v.name, fontweight=strong())
        _legend(fig, views)
        fig.suptitle(title, x=0.01, ha="left")
    return fig


PANELS = ("distribution", "landscape", "history")


def panel(kind: str, view: RunView, step: int | None = None, style: FigureStyle | None = None):
    """One panel of one run at one step (default: the final one), for a
    subfigure: `distribution` (q over p; on the plane, q's ellipses over p's
    contours), `landscape` (the divergence over the parameters, with the trail
    to the step) or `history` (the divergence against step, the step marked).
    Its title names the run; its legend is below it."""
    if kind not in PANELS:
        raise ValueError(f"unknown panel {kind!r}; one of {', '.join(PANELS)}")
    on_plane = isinstance(view, plane.PlaneView)
    if kind == "landscape" and on_plane:
        raise ValueError("a 2-D run has no landscape figure: its family has 4 or 5 parameters "
                         "(draw its distribution or history)")
    t = view.steps if step is None else step
    if not 0 <= t <= view.steps:
        raise ValueError(f"step {t} is outside the run's 0..{view.steps}")
    with context(style):
        square = kind == "distribution" and on_plane
        fig = new_figure(style, grid_size(style, 1, 1, width=4.0, aspect=1.0 if square else 0.7,
                                          chrome_lines=5 if kind == "distribution" else 2, min_panel=2.0,
                                          what=f"{kind} figure"))
        ax = fig.subplots()
        if kind == "history":
            HistoryPanel(ax, view, step=t)
        elif kind == "landscape":
            LandscapePanel(ax, view, colorbar=True).update(t)
        else:
            if on_plane:
                plane.PlanePanel(ax, view, plane.window([view])).update(t)
            else:
                DistributionPanel(ax, view).update(t)
            _legend(fig, [view], most=3)
        ax.set_title(labels.run_title(view.run))
    return fig


def alpha_sweep(scenario_title: str, sweeps: list[dict], style: FigureStyle | None = None,
                shown=(-1.0, 0.0, 0.25, 0.5, 1.0, 2.0)):
    """Minka's picture: left, p with the globally optimal Gaussian for a few
    alpha; right, the optimal mean and std against alpha, global optima as a
    line of dots and local ones as rings, with the alpha where the global
    optimum changes basin marked."""
    import numpy as np

    from ..core.sweep import jumps
    from ..core.target import Mixture
    from ..style import palette
    from .view import gaussian_pdf

    (sweep,) = sweeps
    t = sweep["config"]["target"]
    target = Mixture.create(t["means"], t["stds"], t["weights"])
    title = rf"{scenario_title} (the optima of $D_\alpha(p\,\|\,q)$ against $\alpha$)"

    pal = palette()
    a, mean, std = sweep["alpha"], sweep["mean"], sweep["std"]
    with context(style):
        fig = new_figure(style, grid_size(style, 1, 2, width=11.0, aspect=0.67, min_panel=2.5, what="alpha-sweep figure"))
        grid = fig.add_gridspec(2, 2, width_ratios=[1.25, 1.0])
        ax = fig.add_subplot(grid[:, 0])
        lo = float((target.means - 4 * target.stds).min())
        hi = float((target.means + 4 * target.stds).max())
        span = hi - lo
        x = np.linspace(lo - 0.3 * span, hi + 0.3 * span, 600)
        ax.fill_between(x, np.exp(target.logpdf(x)), color=pal["p_fill"], lw=0)
        ax.plot(x, np.exp(target.logpdf(x)), color=pal["p_line"], lw=1.2, label="$p$")
        cmap = matplotlib.colormaps[pal["landscape_cmap"]]
        for k, value in enumerate(shown):
            i = int(np.argmin(np.abs(a - value)))
            if np.isnan(mean[i, 0]):
                continue
            colour = cmap(0.05 + 0.85 * k / max(len(shown) - 1, 1))
            ax.plot(x, gaussian_pdf(x, mean[i, 0], std[i, 0]), color=colour, lw=1.8, label=rf"$\alpha = {a[i]:g}$")
        ax.set_xlabel("$x$")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.legend(loc="upper left")
        ax.set_title(r"the optimal Gaussian $q^*$ for several $\alpha$")
        for row, (values, name) in enumerate(((mean, r"optimal mean $\mu^*$"), (std, r"optimal std $\sigma^*$"))):
            axr = fig.add_subplot(grid[row, 1])
            local = values[:, 1:]
            axr.plot(np.repeat(a[:, None], local.shape[1], axis=1)[np.isfinite(local)], local[np.isfinite(local)],
                     "o", ms=4, mfc="none", mec=pal["p_line"], mew=0.8, label="local minima")
            # the line breaks where the global minimum changes basin
            cut = np.nonzero(np.abs(np.diff(mean[:, 0])) > 0.1 * np.nanmax(std[:, 0]))[0] + 1
            axr.plot(np.insert(a, cut, np.nan), np.insert(values[:, 0], cut, np.nan), "o-", ms=3, color=pal["q"],
                     lw=1.0, label="global minimum")
            for j in jumps(sweep):
                axr.axvline(j, color=pal["text"], lw=0.8, ls="--")
            axr.set_ylabel(name)
            if row == 1:
                axr.set_xlabel(r"$\alpha$  ($0$: KL$(q\|p)$, $1$: KL$(p\|q)$)")
            else:
                axr.legend(loc="best")
                for j in jumps(sweep):
                    axr.annotate(rf"$\alpha \approx {j:.3g}$", (j, 1.0), xycoords=("data", "axes fraction"),
                                 xytext=(3, -12), textcoords="offset points")
        fig.suptitle(title, x=0.01, ha="left")
    return fig


def diagnostics(scenario_title: str, tables: list[dict], style: FigureStyle | None = None):
    """Mean squared error of every estimator against K, log-log, one row per
    divergence and direction, one column per coordinate of theta; error bars
    are two standard errors; the dashed line falls like 1/K."""
    import numpy as np

    (table,) = tables
    d = table["config"]["diagnostics"]
    title = f"{scenario_title} (q = N({d['mean']:g}, {d['std']:g}²), {d['repeats']} estimates per point)"

    cases = table["config"]["cases"]
    ks = table["samples"].astype(float)
    groups: dict[tuple, list[int]] = {}
    for c, case in enumerate(cases):
        groups.setdefault((case["divergence"], case["direction"], case["alpha"]), []).append(c)
    with context(style):
        fig = new_figure(style, grid_size(style, len(groups), 2, width=10.0, aspect=0.58, chrome_lines=5, min_panel=2.5,
                                           what="diagnostics figure"))
        axes = fig.subplots(len(groups), 2, squeeze=False)
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        for row, ((div, direction, alpha), members) in zip(axes, groups.items()):
            run = {"divergence": div, "direction": direction, "alpha": alpha}
            for i, (ax, coord) in enumerate(zip(row, (r"$\mu$", r"$\log\sigma$"))):
                for k, c in enumerate(members):
                    case = cases[c]
                    name = labels.estimator({"estimator": case["estimator"], "baseline": case["baseline"],
                                             "samples": "·"}).replace(", K = ·", "")
                    mse, se = table["mse"][c, :, i], table["mse_se"][c, :, i]
                    ok = np.isfinite(mse) & (mse > 0)
                    ax.errorbar(ks[ok], mse[ok], yerr=np.minimum(2 * se[ok], 0.95 * mse[ok]), marker="o", ms=3,
                                lw=1.2, capsize=2, color=colours[k % len(colours)], label=name)
                finite = table["mse"][members, :, i]
                finite = finite[np.isfinite(finite) & (finite > 0)]
                if finite.size:
                    anchor = float(np.exp(np.median(np.log(finite))))
                    ref = anchor * ks[0] / ks * np.sqrt(ks[0] * ks[-1]) / ks[0]
                    ax.plot(ks, ref, ls="--", color="#777777", lw=1, label="∝ 1/K")
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_xlabel("K (samples per estimate)")
                ax.set_ylabel(f"MSE of the {coord} gradient")
                ax.set_title(f"${labels.divergence_tex(run)}$, gradient in {coord}")
                if i == 1:
                    ax.legend(loc="best")
        fig.suptitle(title, x=0.01, ha="left")
    return fig


def basin_colours(n_optima: int) -> list[str]:
    """Colour of each outcome: optimum 0 (global), 1, 2, ..., then did not
    converge and diverged (the order of core.basins labels shifted by 2)."""
    from ..style import palette

    b = palette()["basin"]
    local = [b["local"][i % len(b["local"])] for i in range(max(n_optima - 1, 0))]
    return [b["diverged"], b["not_converged"], b["global"], *local]


def _cell_edges(centres, log: bool = False):
    """Edges halfway between grid points, and half a step beyond the ends
    (measured in log for a log-spaced axis)."""
    import numpy as np

    v = np.log(centres) if log else np.asarray(centres, float)
    edges = np.concatenate([[v[0] - (v[1] - v[0]) / 2], (v[1:] + v[:-1]) / 2, [v[-1] + (v[-1] - v[-2]) / 2]])
    return np.exp(edges) if log else edges


def basins(scenario_title: str, maps: list[dict], style: FigureStyle | None = None):
    """One panel per run: every start of the grid coloured by the optimum it
    ends in; the optima marked (star: global), their number beside them."""
    b = maps[0]["config"]["basins"]
    title = f"{scenario_title} ({b['size']} × {b['size']} starts, {b['steps']} steps each)"
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ..core.basins import DIVERGED, NOT_CONVERGED, fractions
    from ..style import palette

    cols = min(3, len(maps))
    rows = -(-len(maps) // cols)
    n = max(len(m["optima_mean"]) for m in maps)
    colours = basin_colours(n)
    stuck_colour = palette()["basin"]["stuck_end"]
    with context(style):
        fig = new_figure(style, grid_size(style, rows, cols, width=3.6 * cols + 0.4, aspect=0.86, chrome_lines=8,
                                           min_panel=1.8, what="basins figure"))
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
        planar = "x" in maps[0]  # on the plane: a grid of starting means, each with the run's start covariance
        for ax, m in zip(axes.flat, maps):
            run = m["config"]["run"]
            if planar:
                x_edges, y_edges = _cell_edges(m["x"]), _cell_edges(m["y"])
                ends = m["final_mean"][..., 0], m["final_mean"][..., 1]
                marks = [(om[0], om[1]) for om in m["optima_mean"]]
            else:
                x_edges, y_edges = _cell_edges(m["means"]), _cell_edges(m["stds"], log=True)
                ends = m["final_mean"], m["final_std"]
                marks = list(zip(m["optima_mean"], m["optima_std"]))
            ax.pcolormesh(x_edges, y_edges, m["label"] - DIVERGED,
                          cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5, shading="flat",
                          rasterized=True)
            stuck = m["label"] == NOT_CONVERGED
            ax.plot(ends[0][stuck], ends[1][stuck], ls="none", marker="x", ms=3.5, mew=0.6,
                    color=stuck_colour, alpha=0.5, zorder=2)
            for k, (a, b) in enumerate(marks):
                ax.plot(a, b, marker="*" if k == 0 else "o", ms=11 if k == 0 else 6, mfc="white", mec="black",
                        mew=1.0, ls="none", zorder=3)
                ax.annotate(str(k), (a, b), xytext=(5, 4), textcoords="offset points",
                            fontweight=strong(), color="black", zorder=4)
            if planar:
                from .plane import ellipse

                for om, oc in zip(m["optima_mean"], m["optima_cov"]):  # each optimum's 1-sd ellipse
                    e = ellipse(om, oc, 1.0)
                    ax.plot(e[:, 0], e[:, 1], color="black", lw=0.8, ls="--", zorder=3)
                ax.set_aspect("equal")
            else:
                ax.set_yscale("log")
            # the map's box, even where a stuck run ends outside it
            ax.set_xlim(x_edges[0], x_edges[-1])
            ax.set_ylim(y_edges[0], y_edges[-1])
            share = fractions(m["label"], len(m["optima_mean"]))
            ax.set_title(f"{run['name']}: {labels.divergence(run)}\n{labels.estimator(run)}; "
                         f"global: {100 * share[0]:.0f} %")
        for ax in axes[-1]:
            ax.set_xlabel("starting mean's $x_1$" if planar else r"starting mean $\mu_0$")
        for ax in axes[:, 0]:
            ax.set_ylabel("starting mean's $x_2$" if planar else r"starting std $\sigma_0$")
        for ax in axes.flat[len(maps):]:
            ax.set_visible(False)
        names = ["diverged", "did not converge", "global optimum (0)"] + [f"local optimum {k}" for k in range(1, n)]
        handles = [Patch(facecolor=c, edgecolor="#888888", lw=0.5, label=t) for c, t in zip(colours, names)]
        order = handles[2:] + handles[1:2] + handles[:1] + [
            Line2D([], [], ls="none", marker="x", color=stuck_colour, label="where those that did not converge end")]
        legend_below(fig, order, most=4)
        fig.suptitle(title, x=0.01, ha="left")
    return fig


# the figure of each analysis a scenario may ask for (see pipeline.analyses),
# each made from the scenario's title and the analysis's data files
ANALYSES = {"alpha-sweep": alpha_sweep, "diagnostics": diagnostics, "basins": basins}


# fixed metadata: the same figure gives the same bytes
_METADATA = {"pdf": {"CreationDate": None, "Creator": "divfit", "Producer": "divfit"},
             "svg": {"Date": None, "Creator": "divfit"}, "png": {"Software": "divfit"}}


def to_bytes(fig, ext: str) -> bytes:
    """The figure as a file of format `ext` (pdf, svg or png), its page exactly the figure's size."""
    buf = io.BytesIO()
    fig.savefig(buf, format=ext, dpi=PNG_DPI if ext == "png" else None, metadata=_METADATA[ext])
    return buf.getvalue()


def save(fig, base: Path, formats=FORMATS) -> list[Path]:
    """Write base.pdf, base.svg, base.png, each through a temporary file.

    The first save solves the layout for them all, in whichever renderer it
    uses: the PNG's is the cheapest to measure text with (0.92x the three
    saves' time), and moves nothing by more than 0.72 pt from where the PDF's
    put it."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = {}
    for ext in sorted(formats, key=lambda ext: ext != "png"):
        written[ext] = atomic_write(base.with_suffix(f".{ext}"), to_bytes(fig, ext))
        freeze_layout(fig)
    return [written[ext] for ext in formats]


def freeze_layout(fig) -> None:
    """Keep the layout the last save solved (it is in figure units, the same for
    every format), and stop solving it.

    With any layout engine set, even the placeholder `set_layout_engine("none")`
    leaves, `savefig` draws the whole figure once before it prints it: that
    was a third of the figures' time. None is set only when the rc asks for no
    automatic layout, so say so here whatever the caller's rc is."""
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)
