"""Every local minimum of a divergence over a 2-D Gaussian family.

Forward KL's only minimum is moment matching (for the mean-field family, p's
mean and the diagonal of its covariance). Everything else is found as in one
dimension: L-BFGS-B on log(1 + D) with exact gradients, from q at p's moments
and at each component and between each pair of components (scaled until the
divergence is finite there); then a few Newton steps; and a
candidate is kept only if it is stationary (the gradient in whitened
coordinates, where q's Fisher information is scale-free, has norm
<= 1e-6 max(1, D)) and a strict minimum (the Hessian there, central
differences of the exact gradient, positive definite). Duplicates are merged;
the global minimum comes first.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from ..optima import Memo
from .divergences import Divergence2
from .gaussian import Family2
from .target import Mixture2

GRAD_TOL = 1e-6
_MERGE = 1e-5
_WALL = 1e6


class Optima2(NamedTuple):
    mean: np.ndarray  # (M, 2)
    cov: np.ndarray  # (M, 2, 2)
    value: np.ndarray  # (M,)


def whiten(fam: Family2, theta, g):
    """The gradient in coordinates where a step of 1 moves q by its own width:
    the mean's part times L^T, L21's part times L22 (log-diagonal parts are
    scale-free already)."""
    _, L = fam.unpack(theta)
    out = np.array(g, float)
    out[..., :2] = np.einsum("...ji,...j->...i", L, g[..., :2])
    if not fam.diagonal:
        out[..., 3] = g[..., 3] * L[..., 1, 1]
    return out


def _apart(fam: Family2, a, b) -> bool:
    """Whether two minima are distinct: more than _MERGE apart in a's own units
    (the mean's difference in L^-1 coordinates, L21's over L22, log-diagonals as they are)."""
    _, L = fam.unpack(a)
    d = np.asarray(b, float) - a
    d[:2] = np.linalg.solve(L, d[:2])
    if not fam.diagonal:
        d[3] /= L[1, 1]
    return bool(np.abs(d).max() > _MERGE)


def _scaled_grad(p, div, theta):
    mean, L = div.family.unpack(theta)
    v, g = div.evaluate(p, mean, L)
    return float(v), whiten(div.family, theta, g)


def hessian(p: Mixture2, div: Divergence2, theta, h: float = 1e-5):
    """Central differences of the whitened gradient along whitened directions, symmetrised."""
    fam = div.family
    P = fam.size
    _, L = fam.unpack(theta)
    steps = np.eye(P) * h
    steps[:, :2] = steps[:, :2] @ L.T  # a whitened step in the mean is L times it
    if not fam.diagonal:
        steps[:, 3] *= L[1, 1]
    pts = np.concatenate([theta + steps, theta - steps])
    mean, Ls = fam.unpack(pts)
    _, g = div.evaluate(p, mean, Ls)
    g = whiten(fam, np.broadcast_to(theta, pts.shape), g)
    H = (g[:P] - g[P:]) / (2 * h)
    return 0.5 * (H + H.T)


def _moment(p: Mixture2, div: Divergence2) -> Optima2:
    cov = p.covariance()
    if div.family.diagonal:
        cov = np.diag(np.diag(cov))
    mean = p.mean()
    value = div.value(p, mean, np.linalg.cholesky(cov))
    return Optima2(mean[None], cov[None], np.atleast_1d(value))


def _starts(p: Mixture2, div: Divergence2):
    """theta of each start: q at p's moments, at each component, and between
    each pair of components with their average covariance; each made finite by
    widening or narrowing it if it must be."""
    fam = div.family
    covs = [p.covariance()] + list(p.covs)
    means = [p.mean()] + list(p.means)
    for i in range(p.size):
        for j in range(i + 1, p.size):
            means.append(0.5 * (p.means[i] + p.means[j]))
            covs.append(0.5 * (p.covs[i] + p.covs[j]))
    out = []
    for m, c in zip(means, covs):
        if fam.diagonal:
            c = np.diag(np.diag(c))
        for scale in (1.0, 0.5, 2.0, 0.25, 4.0, 0.1, 10.0):
            L = np.linalg.cholesky(c * scale)
            if div.finite(p, L):
                out.append(fam.theta(m, L))
                break
    return out


_MEMO = Memo()


def find(p: Mixture2, div: Divergence2) -> Optima2:
    key = (p.means.tobytes(), p.covs.tobytes(), p.weights.tobytes(), div.divergence, div.direction,
           div.family.key, div.alpha)
    with threadpool_limits(limits=1, user_api="blas"):
        return _MEMO(key, lambda: _find(p, div))


def _find(p: Mixture2, div: Divergence2) -> Optima2:
    if div.moment_matching:
        return _moment(p, div)
    fam = div.family
    found = []
    for theta0 in _starts(p, div):
        theta = _descend(p, div, theta0)
        theta = _polish(p, div, theta)
        if _is_minimum(p, div, theta):
            mean, L = fam.unpack(theta)
            found.append((float(div.value(p, mean, L)), theta))
    found.sort(key=lambda t: t[0])
    kept: list[tuple[float, np.ndarray]] = []
    for v, th in found:
        if all(_apart(fam, k, th) for _, k in kept):
            kept.append((v, th))
    if not kept:
        return Optima2(np.empty((0, 2)), np.empty((0, 2, 2)), np.empty(0))
    thetas = np.array([t for _, t in kept])
    mean, L = fam.unpack(thetas)
    return Optima2(mean, L @ np.swapaxes(L, -1, -2), np.array([v for v, _ in kept]))


def _descend(p, div, theta0):
    """L-BFGS-B on log(1 + D) in coordinates whitened at the start."""
    fam = div.family
    _, L0 = fam.unpack(theta0)
    T = np.eye(fam.size)
    T[:2, :2] = L0
    if not fam.diagonal:
        T[3, 3] = L0[1, 1]

    def fun(x):
        theta = theta0 + T @ x
        mean, L = fam.unpack(theta)
        v, g = div.evaluate(p, mean, L)
        v, g = float(v[()]), g
        if not (np.isfinite(v) and np.all(np.isfinite(g))):
            return _WALL, np.zeros_like(x)
        return float(np.log1p(v)), (T.T @ g) / (1.0 + v)

    # q's widths stay within 1e-3 of p's narrowest and 1e3 of its extent, as in one dimension
    sds = np.sqrt(np.linalg.eigvalsh(p.covs))
    extent = float(np.ptp(p.means, axis=0).max() + sds.max())
    lo, hi = np.log(1e-3 * sds.min()), np.log(1e3 * extent)
    bounds = [(None, None)] * fam.size
    for j in (2, fam.size - 1):
        bounds[j] = (lo - theta0[j], hi - theta0[j])
    res = minimize(fun, np.zeros(fam.size), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 500})
    return theta0 + T @ res.x


def _newton_step(p, div, theta, g):
    H = hessian(p, div, theta)
    if not np.all(np.linalg.eigvalsh(H) > 0):
        return None
    step_w = -np.linalg.solve(H, g)  # in whitened coordinates
    fam = div.family
    _, L = fam.unpack(theta)
    step = step_w.copy()
    step[:2] = L @ step_w[:2]
    if not fam.diagonal:
        step[3] = step_w[3] * L[1, 1]
    return step


def _polish(p, div, theta, iterations: int = 8):
    """Newton steps in whitened coordinates, kept only while they lower D."""
    v, g = _scaled_grad(p, div, theta)
    for _ in range(iterations):
        if not (np.isfinite(v) and np.all(np.isfinite(g))) or np.linalg.norm(g) <= 1e-3 * GRAD_TOL:
            break
        step = _newton_step(p, div, theta, g)
        if step is None:
            break
        v_new, g_new = _scaled_grad(p, div, theta + step)
        if not v_new <= v:
            break
        theta, v, g = theta + step, v_new, g_new
    return theta


def _is_minimum(p, div, theta) -> bool:
    v, g = _scaled_grad(p, div, theta)
    if not (np.isfinite(v) and np.all(np.isfinite(g))) or np.linalg.norm(g) > GRAD_TOL * max(1.0, abs(v)):
        return False
    eig = np.linalg.eigvalsh(hessian(p, div, theta))
    return bool(np.all(eig > 1e-9 * max(1.0, np.abs(eig).max())))
