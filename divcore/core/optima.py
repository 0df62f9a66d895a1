"""Every local minimum of a divergence over the Gaussian family.

Forward KL is convex in the natural parameters and its minimum is moment
matching. Everything else is found by multi-start local optimisation in
theta = (mean, log std) (L-BFGS-B with exact gradients, starts spread over
the target's range and scales), then each candidate is kept only if it is
stationary (|grad| <= 1e-6 * max(1, |D|)) and a strict minimum (the Hessian,
by central differences of the exact gradient, is positive definite);
duplicates are merged. The global minimum comes first.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from .divergences import Divergence
from .target import Mixture

GRAD_TOL = 1e-6
_MERGE = 1e-5
_WALL = 1e6  # log(1 + D) where D overflows: a value no line search accepts


class Optima(NamedTuple):
    mean: np.ndarray
    std: np.ndarray
    value: np.ndarray


def _log_std_bounds(p: Mixture, div: Divergence):
    span = p.means.max() - p.means.min() + p.stds.max()
    lo, hi = np.log(1e-3 * p.stds.min()), np.log(1e3 * span)
    margin = 1e-9
    if (div.divergence, div.direction) == ("chi2", "forward"):
        lo = max(lo, np.log(p.max_std / np.sqrt(2.0)) + margin)
    if (div.divergence, div.direction) == ("chi2", "reverse"):
        hi = min(hi, np.log(np.sqrt(2.0) * p.max_std) - margin)
    return lo, hi


def _starts(p: Mixture, lo: float, hi: float, fixed_log_std: float | None):
    span = p.means.max() - p.means.min()
    means = np.unique(
        np.concatenate([np.linspace(p.means.min() - p.stds.max(), p.means.max() + p.stds.max(), 9), p.means])
    )
    if fixed_log_std is not None:
        return [(m, fixed_log_std) for m in means]
    scales = np.log(np.geomspace(0.5 * p.stds.min(), 0.5 * span + 2 * p.stds.max(), 4))
    scales = np.clip(scales, lo + 1e-6, hi - 1e-6)
    return [(m, s) for m in means for s in np.unique(scales)]


def hessian(p: Mixture, div: Divergence, mean: float, log_std: float, h: float = 1e-5):
    """Central differences of the exact gradient, symmetrised."""
    theta = np.array([mean, log_std])
    pts = theta + h * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    g = div.grad(p, pts[:, 0], np.exp(pts[:, 1]))
    H = np.stack([(g[0] - g[1]) / (2 * h), (g[2] - g[3]) / (2 * h)])
    return 0.5 * (H + H.T)


def find(p: Mixture, div: Divergence, fixed_std: float | None = None) -> Optima:
    """All local minima over the family (fixed_std given: over the mean only)."""
    # L-BFGS-B calls BLAS on 2-vectors; a multi-threaded BLAS then spin-waits for
    # a second core, and is ~8x slower whenever that core is busy (parallel builds)
    with threadpool_limits(limits=1, user_api="blas"):
        return _find(p, div, fixed_std)


def _find(p: Mixture, div: Divergence, fixed_std: float | None) -> Optima:
    if (div.divergence, div.direction) == ("kl", "forward"):
        std = fixed_std if fixed_std is not None else np.sqrt(p.variance())
        m = p.mean()
        return Optima(np.array([m]), np.array([std]), np.atleast_1d(div.value(p, m, std)))

    lo, hi = _log_std_bounds(p, div)
    fixed = None if fixed_std is None else float(np.log(fixed_std))
    if fixed is not None and not div.finite(p, fixed_std):
        return Optima(np.empty(0), np.empty(0), np.empty(0))
    span = p.means.max() - p.means.min() + p.stds.max()
    mean_bounds = (p.means.min() - 10 * span, p.means.max() + 10 * span)

    def fun(x):
        # minimise log(1 + D): the same minima, but chi-square's exponential
        # walls become quadratic ones a line search can handle
        m, ls = (x[0], fixed) if fixed is not None else (x[0], x[1])
        v = float(div.value(p, m, np.exp(ls)))
        g = div.grad(p, m, np.exp(ls))
        if not (np.isfinite(v) and np.all(np.isfinite(g))):
            return _WALL, np.zeros_like(x)
        g = g / (1.0 + v)
        return float(np.log1p(v)), (g[:1] if fixed is not None else g)

    found = []
    for m0, s0 in _starts(p, lo, hi, fixed):
        x0 = np.array([m0] if fixed is not None else [m0, s0])
        bounds = [mean_bounds] if fixed is not None else [mean_bounds, (lo, hi)]
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 2000})
        m, ls = (res.x[0], fixed) if fixed is not None else tuple(res.x)
        if _is_minimum(p, div, m, ls, fixed is not None):
            found.append((float(div.value(p, m, np.exp(ls))), m, ls))

    found.sort()
    kept: list[tuple[float, float, float]] = []
    for v, m, ls in found:
        if all(abs(m - km) > _MERGE * max(1.0, abs(km)) or abs(ls - kls) > _MERGE for _, km, kls in kept):
            kept.append((v, m, ls))
    arr = np.array(kept, dtype=float).reshape(-1, 3)
    return Optima(arr[:, 1], np.exp(arr[:, 2]), arr[:, 0])


def _is_minimum(p, div, mean, log_std, mean_only: bool) -> bool:
    std = np.exp(log_std)
    if not div.finite(p, std):
        return False
    v = float(div.value(p, mean, std))
    g = div.grad(p, mean, std)
    g = g[:1] if mean_only else g
    if not np.all(np.isfinite(g)) or np.linalg.norm(g) > GRAD_TOL * max(1.0, abs(v)):
        return False
    H = hessian(p, div, mean, log_std)
    eig = np.array([H[0, 0]]) if mean_only else np.linalg.eigvalsh(H)
    return bool(np.all(eig > 1e-9 * max(1.0, np.abs(eig).max())))
