"""The divergence over a 2-D grid of a parameterization's coordinates (for the renderers)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import family
from .divergences import Divergence
from .parameterizations import Parameterization
from .target import Mixture


class Landscape(NamedTuple):
    phi0: np.ndarray  # (n0,) first coordinate (the mean, or eta1)
    phi1: np.ndarray  # (n1,) second coordinate (fixes the std)
    value: np.ndarray  # (n1, n0): value[i, j] at (phi0[j], phi1[i]); nan outside the family, inf where infinite


def default_box(p: Mixture, margin: float = 3.0):
    """A (mean, std) box showing all of p: means over p's range, stds from a
    fifth of the narrowest component to the whole spread."""
    lo = float((p.means - margin * p.stds).min())
    hi = float((p.means + margin * p.stds).max())
    return (lo, hi), (0.2 * float(p.stds.min()), 0.5 * (hi - lo))


def extent(param: Parameterization, mean_range, std_range, n: int = 64):
    """The phi-rectangle spanned by a (mean, std) box (its image can be curved)."""
    m, s = np.meshgrid(np.linspace(*mean_range, n), np.geomspace(*std_range, n))
    phi = param.to_phi(m, s)
    return (phi[..., 0].min(), phi[..., 0].max()), (phi[..., 1].min(), phi[..., 1].max())


def evaluate(p: Mixture, div: Divergence, param: Parameterization, phi0, phi1) -> Landscape:
    phi0, phi1 = np.asarray(phi0, float), np.asarray(phi1, float)
    grid = np.stack(np.meshgrid(phi0, phi1), axis=-1)
    ok = param.feasible(grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean, std = param.from_phi(np.where(ok[..., None], grid, param.to_phi(0.0, 1.0)))
    ok &= family.in_family(mean, std)
    value = np.full(ok.shape, np.nan)
    value[ok] = div.value(p, mean[ok], std[ok])
    return Landscape(phi0, phi1, value)


GRID = 120  # points per axis of the landscape a run is drawn over


def grid_for(p: Mixture, param: Parameterization, phi, optima_mean, optima_std, n: int = GRID):
    """The (phi0, phi1) grid a run is drawn over: a box holding every state in
    `phi` (..., 2), the optima and p's components (as Gaussians), with a margin."""
    trails = np.asarray(phi, float).reshape(-1, 2)
    pts = [trails[np.isfinite(trails).all(axis=1)], param.to_phi(p.means, p.stds)]
    if np.size(optima_mean):
        pts.append(param.to_phi(optima_mean, optima_std))
    pts = np.concatenate(pts)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.12 * (hi - lo) + 0.05 * np.maximum(np.abs(hi), 1e-3)
    return np.linspace(lo[0] - pad[0], hi[0] + pad[0], n), np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)


def for_record(p: Mixture, div: Divergence, param: Parameterization, record: dict) -> Landscape:
    """The landscape a 1-D run's record (its `phi` and optima) is drawn over."""
    grid = grid_for(p, param, record["phi"], record["optima_mean"], record["optima_std"])
    return evaluate(p, div, param, *grid)


def default(p: Mixture, div: Divergence, param: Parameterization, n: int = 60) -> Landscape:
    """The landscape over `default_box`, on an n x n grid of phi."""
    (a0, b0), (a1, b1) = extent(param, *default_box(p))
    return evaluate(p, div, param, np.linspace(a0, b0, n), np.linspace(a1, b1, n))
