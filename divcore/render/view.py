"""What a renderer needs of one recorded run: the record plus the objects its
config names (target, divergence, parameterization), and a few derived views.
Renderers draw; nothing here optimises or estimates."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import trajectory
from . import labels
from ..core import divergences, landscape, parameterizations
from ..core.estimators import ESTIMATORS
from ..core.family import FAMILIES
from ..core.target import LOG_SQRT_2PI, Mixture
from ..style import palette


def featured_member(run: dict) -> int:
    """The member figures, GIFs and videos draw: the centre of a `starts` grid
    (mean-major, then repeat), else the first."""
    grid = run.get("start_grid")
    if not grid:
        return 0
    if len(grid) == 1:  # a 2-D grid: the list of starting means
        return (len(grid[0]) // 2) * int(run["repeat"])
    means, stds = grid
    return ((len(means) // 2) * len(stds) + len(stds) // 2) * int(run["repeat"])


def gaussian_pdf(x, mean, std):
    """N(x; mean, std^2): q at a step, or an optimum q*."""
    return np.exp(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - LOG_SQRT_2PI)


@dataclass
class RunView:
    record: dict
    member: int = 0  # which member of the batch is drawn
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def load(cls, path, member: int | None = None) -> "RunView":
        record = trajectory.load(path)
        return cls(record, featured_member(record["config"]["run"]) if member is None else member, Path(path))

    # ------------------------------------------------------------ config

    @property
    def config(self) -> dict:
        return self.record["config"]

    @property
    def run(self) -> dict:
        return self.config["run"]

    @property
    def name(self) -> str:
        return self.run["name"]

    @cached_property
    def target(self) -> Mixture:
        t = self.config["target"]
        return Mixture.create(t["means"], t["stds"], t["weights"])

    @cached_property
    def divergence(self) -> divergences.Divergence:
        return divergences.get(self.run["divergence"], self.run["direction"], self.run.get("alpha"))

    @cached_property
    def param(self) -> parameterizations.Parameterization:
        return parameterizations.get(self.run["parameterization"])

    @property
    def monte_carlo(self) -> bool:
        return ESTIMATORS[self.run["estimator"]].monte_carlo

    @property
    def samples(self) -> int:
        return int(self.run["samples"])

    # ------------------------------------------------------------ the drawn member

    @property
    def steps(self) -> int:
        """Steps in the record (S); states are 0..S."""
        return self.record["grad"].shape[1]

    def state(self, t: int) -> tuple[float, float]:
        t = min(t, self.steps)
        return float(self.record["mean"][self.member, t]), float(self.record["std"][self.member, t])

    @property
    def phi(self) -> np.ndarray:
        return self.record["phi"][self.member]

    @property
    def values(self) -> np.ndarray:
        return self.record["divergence"][self.member]

    def particles(self, t: int):
        """(positions, signed coefficients) of step t, or None."""
        if "particles" not in self.record or t >= self.steps:
            return None
        z = self.record["particles"][self.member, t]
        c = self.record["particle_weights"][self.member, t]
        ok = np.isfinite(z) & np.isfinite(c)
        return z[ok], c[ok]

    def ess(self, t: int) -> float | None:
        if "ess" not in self.record or t >= self.steps:
            return None
        return float(self.record["ess"][self.member, t])

    @property
    def optima(self):
        return self.record["optima_mean"], self.record["optima_std"], self.record["optima_value"]

    # ------------------------------------------------------------ derived curves

    def q_pdf(self, x, t: int):
        return gaussian_pdf(x, *self.state(t))

    def p_pdf(self, x):
        return np.exp(self.target.logpdf(x))

    @property
    def weight_exponent(self) -> float | None:
        """The power of w = p/q that importance sampling weights samples by: 1 for
        forward KL, 2 for forward chi-square, a for D_a(p ‖ q); None without IS."""
        run = self.run
        if not ESTIMATORS[run["estimator"]].draws_weights:
            return None
        kind = divergences.DIVERGENCES[run["divergence"]]
        a = divergences.forward_alpha(run["alpha"], run["direction"]) if kind.has_alpha else None
        return kind.weight_power(a)

    def weight_curve(self, x, t: int):
        """w^e (see weight_exponent) along x at step t, or None."""
        e = self.weight_exponent
        if e is None:
            return None
        m, s = self.state(t)
        logw = self.target.logpdf(x) + 0.5 * ((x - m) / s) ** 2 + np.log(s) + LOG_SQRT_2PI
        with np.errstate(over="ignore"):  # far from a narrow q the weights are honestly infinite
            return np.exp(logw * e)

    def x_range(self) -> tuple[float, float]:
        """A fixed x-range for every frame: all of p, and q's bulk along the
        trajectory of every member (a start grid's runs share the axes)."""
        p = self.target
        lo = float((p.means - 3.5 * p.stds).min())
        hi = float((p.means + 3.5 * p.stds).max())
        m, s = self.record["mean"], self.record["std"]
        span = hi - lo
        lo = min(lo, float(np.nanmin(m - 2.5 * s)))
        hi = max(hi, float(np.nanmax(m + 2.5 * s)))
        return max(lo, float(p.means.min()) - 2 * span), min(hi, float(p.means.max()) + 2 * span)

    @property
    def fixed_std(self) -> bool:
        return FAMILIES[self.run["family"]].fixed_std

    @cached_property
    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """For the fixed-std family, whose landscape is one-dimensional: phi[0]
        over the trail, the optima and p's modes, and the divergence there."""
        p, phi1 = self.target, float(self.phi[0, 1])
        std = float(self.record["std"][self.member, 0])
        om = self.optima[0]
        means = np.concatenate([p.means, om])
        pts = np.concatenate([self.phi[:, 0], self.param.to_phi(means, np.full_like(means, std))[:, 0]])
        pts = pts[np.isfinite(pts)]
        lo, hi = pts.min(), pts.max()
        pad = 0.12 * (hi - lo) + 1e-3
        phi0 = np.linspace(lo - pad, hi + pad, 400)
        mean, sd = self.param.from_phi(np.stack([phi0, np.full_like(phi0, phi1)], axis=-1))
        return phi0, self.divergence.value(p, mean, sd)

    @cached_property
    def curve_limits(self) -> tuple[float, float] | None:
        """The value range to show `curve` over: its finite values up to their 95th
        percentile (a spike to infinity would flatten the rest), with a margin;
        None when no value is finite."""
        value = self.curve[1]
        finite = value[np.isfinite(value)]
        if not finite.size:
            return None
        lo, hi = float(finite.min()), float(np.quantile(finite, 0.95))
        span = hi - lo + 1e-9
        return lo - 0.08 * span, hi + 0.05 * span

    @property
    def curve_box(self) -> tuple[float, float]:
        """`curve_limits`, or the unit box with the same margins for a curve
        that is infinite everywhere: the value range the videos and the page
        draw the fixed-std curve in."""
        return self.curve_limits or (-0.08, 1.05)

    @cached_property
    def landscape(self) -> landscape.Landscape:
        """The divergence over a phi-box holding every member's trail, the optima
        and the components of p (as Gaussians), with a margin: the one a build's
        data stage kept beside the record (`trajectory.save_with_landscape`) when it
        is this record's, else evaluated here (`core.landscape.for_record`)."""
        om, os_, _ = self.optima
        grid = landscape.grid_for(self.target, self.param, self.record["phi"], om, os_)
        kept = trajectory.load_landscape(self.path, self.config, grid) if self.path is not None else None
        return kept if kept is not None else landscape.evaluate(self.target, self.divergence, self.param, *grid)


def shared_x_range(views: list[RunView]) -> tuple[float, float]:
    """One x-range for all runs of a scenario, so their panels line up."""
    ranges = [v.x_range() for v in views]
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


# ------------------------------------------------------------ the distribution panel, for every backend

X_POINTS = 400  # where every backend evaluates p, q and the weight curve
ROLES = ("global", "local")  # an optimum's role: the first is the global one
# below the axis, as fractions of the panel's top: where the panel ends when it
# has a rug of particles, the rug's band and its ticks' centre
RUG_BOTTOM, RUG_BAND, RUG_Y = -0.12, (-0.11, -0.01), -0.06


class Optimum(NamedTuple):
    mean: float
    std: float
    value: float
    role: str  # "global" or "local": the style's q_star_<role> colour and dash


class Readout(NamedTuple):
    """What a distribution panel prints at one step; `lines(notation)` is the
    same text in mathtext (figures) or plain Unicode (videos, the scrubber)."""

    run: dict
    value: float
    ess: float | None
    samples: int
    step: int
    steps: int

    def lines(self, notation: str = "plain", step: bool = True) -> list[str]:
        out = [f"{labels.divergence_in(self.run, notation)} = {labels.fmt(self.value)}"]
        if self.ess is not None:
            out.append(f"ESS = {self.ess:.1f} / {self.samples}")
        if step:
            out.append(f"step {self.step} / {self.steps}")
        return out


class DistributionModel:
    """Everything the distribution panel of one run shows, computed once, for
    the figures, the GIFs, the videos and the scrubber alike: the x grid, p,
    the panel's top (tall enough for q along the whole run and for every q*,
    never so tall that p is flattened), the optima in their roles, q and the
    scaled importance-weight curve at a step, and the readout. Backends only
    draw these numbers."""

    def __init__(self, view: RunView, xlim: tuple[float, float] | None = None):
        self.view = view
        lo, hi = view.x_range() if xlim is None else xlim
        self.xlim = (float(lo), float(hi))
        self.x = np.linspace(lo, hi, X_POINTS)
        self.p = view.p_pdf(self.x)
        om, os_, ov = view.optima
        self.optima = [Optimum(float(m), float(s), float(v), ROLES[min(i, 1)])
                       for i, (m, s, v) in enumerate(zip(om, os_, ov))]
        q_peak = 1.0 / (np.sqrt(2 * np.pi) * np.nanmin(view.record["std"][view.member]))
        star_peak = 1.0 / (np.sqrt(2 * np.pi) * os_.min()) if os_.size else 0.0
        p_peak = float(self.p.max())
        # with headroom above the tallest curve for the readout
        self.top = float(1.35 * min(max(p_peak * 1.1, q_peak, star_peak), 4.0 * p_peak))
        self.has_rug = "particles" in view.record
        # the rug of particles sits in a band below the axis, ticks centred on rug_y
        self.bottom = RUG_BOTTOM * self.top if self.has_rug else 0.0
        self.rug_band = (RUG_BAND[0] * self.top, RUG_BAND[1] * self.top)
        self.rug_y = RUG_Y * self.top
        self.weight_exponent = view.weight_exponent

    def q(self, t: int) -> np.ndarray:
        """q at step t, cut at ten times the top (a narrow q's spike need not be drawn whole)."""
        return np.minimum(self.view.q_pdf(self.x, t), 10 * self.top)

    def star(self, o: Optimum) -> np.ndarray:
        return gaussian_pdf(self.x, o.mean, o.std)

    def _weights(self, t: int) -> tuple[np.ndarray, float]:
        """The weights along x at step t and their divisor: their largest value
        where q has mass."""
        w = self.view.weight_curve(self.x, t)
        q = self.view.q_pdf(self.x, t)
        bulk = w[q > 1e-3 * q.max()]
        return w, float(bulk.max()) if bulk.size and np.isfinite(bulk.max()) and bulk.max() > 0 else 1.0

    def weight_scale(self, t: int) -> float | None:
        """The weight curve's divisor at step t (None without a weight curve). The
        curve is drawn as w / scale at 90% of the top; where q thins out the
        weights explode, and are cut at 1.05 x top."""
        return None if self.weight_exponent is None else self._weights(t)[1]

    def weight(self, t: int) -> np.ndarray | None:
        """The importance-weight curve at step t, in the panel's units."""
        if self.weight_exponent is None:
            return None
        w, scale = self._weights(t)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.minimum(w / scale * 0.9 * self.top, 1.05 * self.top)

    def particles(self, t: int):
        """The samples of step t (the final state shows the last step's), or None."""
        return self.view.particles(min(t, self.view.steps - 1))

    def readout(self, t: int) -> Readout:
        return readout(self.view, t)


def readout(v: RunView, t: int) -> Readout:
    """What a panel prints at step t, on the line or the plane."""
    ess = v.ess(min(t, v.steps - 1))  # as the particles: the final state shows the last step's samples
    return Readout(v.run, float(v.values[min(t, v.steps)]), ess, v.samples, min(t, v.steps), v.steps)


# ------------------------------------------------------------ the legend and the trace


class LegendEntry(NamedTuple):
    """One kind of thing the panels show, as every backend names it: `glyph`
    (area, q, line, dashed, dotted, tick, dot, path, marker) in `color`, `plain` as the videos
    and pages print it, `tex` as the figures do (mathtext)."""

    glyph: str
    color: str
    plain: str
    tex: str


def legend(views: list[RunView]) -> list[LegendEntry]:
    """An entry for each kind of thing the distribution panels of `views` show."""
    pal = palette()
    out = [LegendEntry("area", pal["p_fill"], "target p", "target $p$"), LegendEntry("q", pal["q"], "q", r"$q_\phi$")]
    n_star = max((v.optima[0].size for v in views), default=0)
    if n_star:
        out.append(LegendEntry("dashed", pal["q_star_global"], "q* global", "$q^*$ global"))
    if n_star > 1:
        out.append(LegendEntry("dotted", pal["q_star_local"], "q* local", "$q^*$ local"))
    if any(v.weight_exponent is not None for v in views):
        out.append(LegendEntry("line", pal["weight"], "importance weight (scaled)", "importance weight (scaled)"))
    if any("particles" in v.record for v in views):
        out += sample_entries("tick")
    return out


def sample_entries(glyph: str) -> list[LegendEntry]:
    pal = palette()
    return [LegendEntry(glyph, pal["positive"], "sample pulls q closer", "sample pulls $q$ closer"),
            LegendEntry(glyph, pal["negative"], "sample pushes q away", "sample pushes $q$ away")]


HISTORY_TOP = 1e30  # the trace's axis stops here: a noisy estimate's divergence can reach 1e300


class TraceModel:
    """The divergence against step, as the videos and the scrubber draw it:
    log10 of the value (floored at the run's smallest positive value, capped
    at HISTORY_TOP; nan where it is not finite), the y range in decades with a
    little room, and the ticks to label it with."""

    def __init__(self, view):
        d = np.asarray(view.values, dtype=float).copy()
        d[~np.isfinite(d)] = np.nan
        positive = d[d > 0]
        floor = float(positive.min()) if positive.size else 1e-12
        self.steps = int(view.steps)
        with np.errstate(invalid="ignore"):
            self.y = np.log10(np.clip(d, floor, HISTORY_TOP))
        shown = self.y[np.isfinite(self.y)]
        lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
        if hi - lo < 0.2:  # a flat trace: a fifth of a decade around it
            lo, hi = (lo + hi) / 2 - 0.1, (lo + hi) / 2 + 0.1
        pad = 0.06 * (hi - lo)
        self.ylim = (lo - pad, hi + pad)
        self.ticks = decade_ticks(*self.ylim)
        if self.ticks.size < 2:
            self.ticks = np.array([lo, hi])

    def at(self, t: int) -> float:
        """The trace's height at step t (the last finite one before it, where it is not finite)."""
        y = self.y[: min(t, self.steps) + 1]
        finite = y[np.isfinite(y)]
        return float(finite[-1]) if finite.size else self.ylim[0]


def decade_ticks(lo: float, hi: float, most: int = 5) -> np.ndarray:
    """Whole decades inside [lo, hi] (log10 units), every 1, 2, 5, 10, 20, ... of
    them so that at most `most` are labelled: a trace from 1 to 1e30 gets 0, 10,
    20, 30, not thirty-one numbers on top of each other."""
    for stride in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        ticks = np.arange(np.ceil(lo / stride), np.floor(hi / stride) + 1) * stride
        if ticks.size <= most:
            return ticks
    return ticks


def tick_label(log_value: float) -> str:
    """A trace tick's label: the value (not its log), as plain text."""
    if abs(log_value - round(log_value)) > 1e-9:
        return f"{10.0**log_value:.3g}"
    return _decade(int(round(log_value)))


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(k: int) -> str:
    return {0: "1", 1: "10"}.get(k, f"10{str(k).translate(_SUPERSCRIPT)}")
