"""What a renderer needs of one recorded run: the record plus the objects its
config names (target, divergence, parameterization), and a few derived views.
Renderers draw; nothing here optimises or estimates."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import trajectory
from ..core import divergences, landscape, parameterizations
from ..core.target import LOG_SQRT_2PI, Mixture


def featured_member(run: dict) -> int:
    """The member figures, GIFs and videos draw: the centre of a `starts` grid
    (mean-major, then repeat), else the first."""
    grid = run.get("start_grid")
    if not grid:
        return 0
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
        return self.run["estimator"] != "exact"

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
        if run["estimator"] != "is":
            return None
        if run["divergence"] == "alpha":
            return run["alpha"] if run["direction"] == "forward" else 1.0 - run["alpha"]
        return 2.0 if run["divergence"] == "chi2" else 1.0

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
        return self.run["family"] == "gaussian-fixed-std"

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

    @cached_property
    def landscape(self) -> landscape.Landscape:
        """The divergence over a phi-box holding every member's trail, the optima
        and the components of p (as Gaussians), with a margin."""
        p = self.target
        om, os_, _ = self.optima
        trails = self.record["phi"].reshape(-1, 2)
        pts = [trails[np.isfinite(trails).all(axis=1)], self.param.to_phi(p.means, p.stds)]
        if om.size:
            pts.append(self.param.to_phi(om, os_))
        pts = np.concatenate(pts)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.12 * (hi - lo) + 0.05 * np.maximum(np.abs(hi), 1e-3)
        n = 120
        return landscape.evaluate(
            p, self.divergence, self.param,
            np.linspace(lo[0] - pad[0], hi[0] + pad[0], n), np.linspace(lo[1] - pad[1], hi[1] + pad[1], n),
        )


def shared_x_range(views: list[RunView]) -> tuple[float, float]:
    """One x-range for all runs of a scenario, so their panels line up."""
    ranges = [v.x_range() for v in views]
    return min(r[0] for r in ranges), max(r[1] for r in ranges)
