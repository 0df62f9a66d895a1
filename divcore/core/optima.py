"""Every local minimum of a divergence over the Gaussian family.

Forward KL is convex in the natural parameters and its minimum is moment
matching. Everything else is found by multi-start local optimisation
(BFGS with exact gradients, every start at once, from a grid over the
target's range and scales and from each component, then a few Newton steps), and each candidate
is kept only if it is stationary and a strict minimum: the gradient in
(mean / std, log std), where q's Fisher information is scale-free, has norm
<= 1e-6 * max(1, |D|), and the Hessian there (central differences of the
exact gradient) is positive definite. Duplicates (closer than 1e-5 std in the
mean and 1e-5 in log std) are merged. The global minimum comes first.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
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
    finite_lo, finite_hi = div.finite_std_range(p)
    if finite_lo > 0:
        lo = max(lo, np.log(finite_lo) + margin)
    if np.isfinite(finite_hi):
        hi = min(hi, np.log(finite_hi) - margin)
    return lo, hi


def _starts(p: Mixture, lo: float, hi: float, fixed_log_std: float | None):
    """A grid over p's range and scales, plus every component as a Gaussian of
    its own (a narrow component's basin can be narrower than any grid)."""
    span = p.means.max() - p.means.min()
    means = np.unique(
        np.concatenate([np.linspace(p.means.min() - p.stds.max(), p.means.max() + p.stds.max(), 9), p.means])
    )
    if fixed_log_std is not None:
        return [(m, fixed_log_std) for m in means]
    scales = np.log(np.geomspace(0.5 * p.stds.min(), 0.5 * span + 2 * p.stds.max(), 4))
    grid = [(m, s) for m in means for s in np.unique(np.clip(scales, lo + 1e-6, hi - 1e-6))]
    own = [(m, float(np.clip(np.log(s), lo + 1e-6, hi - 1e-6))) for m, s in zip(p.means, p.stds)]
    return own + grid


def scaled_grad(p: Mixture, div: Divergence, mean, log_std, scale=None):
    """The gradient in (mean / scale, log std), scale = std by default: q's Fisher
    information makes these coordinates comparable at every width, so one
    tolerance fits a minimum of width 1e-3 and one of width 1e3."""
    std = np.exp(log_std)
    return _scaled(div.grad(p, mean, std), std if scale is None else scale)


def _scaled(g, scale):
    return g * np.stack(np.broadcast_arrays(scale, 1.0), axis=-1)


def hessian(p: Mixture, div: Divergence, mean: float, log_std: float, h: float = 1e-5):
    """Central differences of the scaled gradient, in (mean / std, log std) at this
    point's std, symmetrised. Its signature (definiteness) is the Hessian's in
    (mean, log std): the two differ by a diagonal rescaling."""
    sd = float(np.exp(log_std))
    pts = np.array([[mean + h * sd, log_std], [mean - h * sd, log_std], [mean, log_std + h], [mean, log_std - h]])
    g = scaled_grad(p, div, pts[:, 0], pts[:, 1], scale=sd)
    with np.errstate(invalid="ignore"):  # inf - inf near an infinite divergence: nan, which callers refuse
        H = np.stack([(g[0] - g[1]) / (2 * h), (g[2] - g[3]) / (2 * h)])
    return 0.5 * (H + H.T)


class Memo:
    """The optima already found in this process, by the numbers that decide
    them: a scene's runs share a target and divergence (the K sweep's ten
    runs two pairs), and a build's worker processes take many runs in turn,
    while a search costs about 0.3 s. Callers get copies."""

    def __init__(self, size: int = 256):
        self.size, self.found = size, {}

    def __call__(self, key, search):
        if key not in self.found:
            if len(self.found) >= self.size:
                self.found.pop(next(iter(self.found)))
            self.found[key] = search()
        return type(self.found[key])(*(a.copy() for a in self.found[key]))


_MEMO = Memo()


def find(p: Mixture, div: Divergence, fixed_std: float | None = None) -> Optima:
    """All local minima over the family (fixed_std given: over the mean only)."""
    key = (p.means.tobytes(), p.stds.tobytes(), p.weights.tobytes(), div.divergence, div.direction,
           div.alpha, fixed_std)
    # the search's linear algebra is on 2-vectors: a multi-threaded BLAS would
    # spin-wait for a second core, ~8x slower whenever that core is busy (parallel builds)
    with threadpool_limits(limits=1, user_api="blas"):
        return _MEMO(key, lambda: _find(p, div, fixed_std))


def _find(p: Mixture, div: Divergence, fixed_std: float | None) -> Optima:
    if div.moment_matching:
        std = fixed_std if fixed_std is not None else np.sqrt(p.variance())
        m = p.mean()
        return Optima(np.array([m]), np.array([std]), np.atleast_1d(div.value(p, m, std)))

    lo, hi = _log_std_bounds(p, div)
    fixed = None if fixed_std is None else float(np.log(fixed_std))
    if fixed is not None and not div.finite(p, fixed_std):
        return Optima(np.empty(0), np.empty(0), np.empty(0))
    span = p.means.max() - p.means.min() + p.stds.max()
    mean_bounds = (p.means.min() - 10 * span, p.means.max() + 10 * span)

    reached = _descend(p, div, np.array(_starts(p, lo, hi, fixed)), fixed, mean_bounds, (lo, hi))
    found = []
    for m, ls in _distinct(zip(*(a.tolist() for a in reached)), 1e-8):
        m, ls = _polish(p, div, m, ls, fixed is not None)
        if _is_minimum(p, div, m, ls, fixed is not None):
            found.append((float(div.value(p, m, np.exp(ls))), m, ls))

    arr = np.array(_distinct(sorted(found), _MERGE), dtype=float).reshape(-1, 3)
    return Optima(arr[:, 1], np.exp(arr[:, 2]), arr[:, 0])


def _descend(p, div, starts, fixed, mean_bounds, ls_bounds, max_iter: int = 500):
    """BFGS from every start at once, projected onto the bounds, on log(1 + D)
    (the same minima, but chi-square's exponential walls become quadratic) in
    coordinates whitened at each start: ((mean - m0) / s0, log std). One
    batched evaluation serves every start still descending: a state costs
    about a ninth of what it does alone. Returns the (mean, log std) reached."""
    m0, ls0 = starts[:, 0], starts[:, 1]
    s0 = np.exp(ls0)
    n, dim = len(starts), 1 if fixed is not None else 2
    x = np.zeros((n, dim))
    lower = np.tile([mean_bounds[0], ls_bounds[0]][:dim], (n, 1))
    upper = np.tile([mean_bounds[1], ls_bounds[1]][:dim], (n, 1))
    lower[:, 0], upper[:, 0] = (lower[:, 0] - m0) / s0, (upper[:, 0] - m0) / s0
    if dim == 2:
        x[:, 1] = ls0

    def unpack(x, i):
        return m0[i] + s0[i] * x[:, 0], (np.full(len(i), fixed) if dim == 1 else x[:, 1])

    def objective(x, i):
        m, ls = unpack(x, i)
        with np.errstate(invalid="ignore", over="ignore"):
            v, g = div.value_and_grad(p, m, np.exp(ls))
            g = _scaled(g, s0[i])[:, :dim] / (1.0 + v)[:, None]
        bad = ~(np.isfinite(v) & np.isfinite(g).all(axis=1))
        return np.where(bad, _WALL, np.log1p(np.where(bad, 0.0, v))), np.where(bad[:, None], 0.0, g)

    def projected(x, g, i):
        """The gradient less its components pushing out at a bound."""
        return np.where(((x <= lower[i]) & (g > 0)) | ((x >= upper[i]) & (g < 0)), 0.0, g)

    f, g = objective(x, np.arange(n))
    inv_h = np.tile(np.eye(dim), (n, 1, 1))
    active = np.abs(projected(x, g, np.arange(n))).max(axis=1) > 0
    for _ in range(max_iter):
        i = np.flatnonzero(active)
        if not i.size:
            break
        step = -np.einsum("nij,nj->ni", inv_h[i], g[i])
        downhill = (step * g[i]).sum(axis=1) < 0
        step[~downhill], inv_h[i[~downhill]] = -g[i[~downhill]], np.eye(dim)
        new_x, new_f, new_g = x[i].copy(), f[i].copy(), g[i].copy()
        t, pending = np.ones(i.size), np.ones(i.size, dtype=bool)
        for _ in range(60):  # backtracking to the Armijo condition
            j = np.flatnonzero(pending)
            if not j.size:
                break
            trial = np.clip(x[i[j]] + t[j, None] * step[j], lower[i[j]], upper[i[j]])
            ft, gt = objective(trial, i[j])
            ok = ft <= f[i[j]] + 1e-4 * ((trial - x[i[j]]) * g[i[j]]).sum(axis=1)
            new_x[j[ok]], new_f[j[ok]], new_g[j[ok]] = trial[ok], ft[ok], gt[ok]
            pending[j[ok]] = False
            t[j[~ok]] *= 0.5
        s, y = new_x - x[i], new_g - g[i]
        sy = (s * y).sum(axis=1)
        curved = sy > 1e-12 * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1)
        k = np.flatnonzero(curved)
        if k.size:  # H <- (I - rho s y') H (I - rho y s') + rho s s'
            rho = 1.0 / sy[k]
            eye = np.eye(dim)
            a = eye - rho[:, None, None] * s[k, :, None] * y[k, None, :]
            inv_h[i[k]] = a @ inv_h[i[k]] @ a.transpose(0, 2, 1) + rho[:, None, None] * s[k, :, None] * s[k, None, :]
        # where the step went uphill in curvature (s'y <= 0: log(1 + D) is concave
        # there) no update is made; a full step accepted there may double, or a
        # start far out in such a region crawls at its first step's length
        grow = ~curved & ~pending & (t == 1.0)
        inv_h[i[grow]] *= 2.0
        still = (~pending & (f[i] - new_f > 1e-15 * np.maximum(1.0, np.abs(new_f)))
                 & (np.abs(projected(new_x, new_g, i)).max(axis=1) > 1e-12))
        x[i], f[i], g[i] = new_x, new_f, new_g
        active[i] = still
    return unpack(x, np.arange(n))


def _distinct(points, tol: float) -> list[tuple]:
    """`points` (tuples ending in mean, log std) each once: a point within tol
    of an earlier one's std in the mean and within tol in log std is dropped."""
    kept: list[tuple] = []
    for point in points:
        m, ls = point[-2:]
        if all(abs(m - km) > tol * np.exp(kls) or abs(ls - kls) > tol for *_, km, kls in kept):
            kept.append(point)
    return kept


def _polish(p, div, m, ls, mean_only: bool, iterations: int = 8):
    """A few Newton steps in (mean / std, log std), taken only while they lower D:
    a descent's last digits are not always a stationary point to 1e-6."""
    v = float(div.value(p, m, np.exp(ls)))
    for _ in range(iterations):
        if not np.isfinite(v):
            break
        sd = float(np.exp(ls))
        g = scaled_grad(p, div, m, ls)
        if not np.all(np.isfinite(g)) or np.linalg.norm(g[:1] if mean_only else g) <= 1e-3 * GRAD_TOL:
            break
        H = hessian(p, div, m, ls)
        if mean_only:
            if not H[0, 0] > 0:
                break
            step = np.array([-g[0] / H[0, 0], 0.0])
        else:
            if not np.all(np.linalg.eigvalsh(H) > 0):
                break
            step = -np.linalg.solve(H, g)
        m_new, ls_new = m + sd * step[0], ls + step[1]
        v_new = float(div.value(p, m_new, np.exp(ls_new)))
        if not v_new <= v:
            break
        m, ls, v = m_new, ls_new, v_new
    return m, ls


def _is_minimum(p, div, mean, log_std, mean_only: bool) -> bool:
    std = np.exp(log_std)
    if not div.finite(p, std):
        return False
    v = float(div.value(p, mean, std))
    g = scaled_grad(p, div, mean, log_std)
    g = g[:1] if mean_only else g
    if not np.all(np.isfinite(g)) or np.linalg.norm(g) > GRAD_TOL * max(1.0, abs(v)):
        return False
    H = hessian(p, div, mean, log_std)
    eig = np.array([H[0, 0]]) if mean_only else np.linalg.eigvalsh(H)
    return bool(np.all(eig > 1e-9 * max(1.0, np.abs(eig).max())))
