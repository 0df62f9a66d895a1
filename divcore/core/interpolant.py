"""A smooth function of q's (mean, log std) at many states, from few evaluations.

Recording a run asks for the divergence at every state of every member,
10^5 states and more, and each state's quadrature costs about 250 evaluations
of log p. Where it is finite, a divergence computed by quadrature is an
analytic function of (mean, log std) (an integral against a Gaussian), so
over the box a batch of states spans it is resolved to rounding by a tensor
Chebyshev interpolant of modest degree, sampled at (n+1)^2 states: for a run's
10^5 states, about 10^3 quadratures instead of 10^5.

Nothing is taken on trust. A box's interpolant is accepted only when

* its grid is fine enough that no feature of a divergence fits between its
  nodes (`_resolves`: in the mean, half of q's smallest std in the box),

* every sample is finite and its last n/8 + 1 Chebyshev coefficients in
  either variable sum to at most `RTOL` times the smallest sample (the
  interpolant keeps them all: where the coefficients decay, its error is
  below what they add), and
* the interpolant agrees to `CHECK_RTOL` with the function itself at a few of
  the box's own states (their direct values are the ones reported).

Else the box is halved along the variable whose coefficients decay slower,
and each half tried again; boxes too small to be worth sampling are
evaluated directly. Samples drawn for rejected interpolants are capped at
`WASTE` of the states (beyond it every box left is evaluated directly), so a
rough batch (q narrower than p's features across a landscape's wide box, a
divergence near where it turns infinite) costs at most about a tenth more
than evaluating every state, and a smooth one (a run's states, which drift
by a small step at a time) as little as a hundredth.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RTOL = 1e-11  # the coefficients' error estimate, relative to the box's smallest value
CHECK_RTOL = 1e-10  # interpolant against the function at the box's check states
DEGREES = (8, 16, 32)  # nested Chebyshev-Lobatto grids, tried in turn
SHARE = 3  # a box is sampled at degree n only if it holds SHARE (n+1)^2 states or more
WASTE = 0.1  # samples of rejected interpolants stop being drawn past this share of the states
CHECKS = 3
FEATURE_MEAN = 0.5  # the narrowest feature in the mean, in units of the box's smallest std
FEATURE_LOG_STD = 0.5  # ... in log std
_EVAL_CHUNK = 1 << 14  # states per evaluation of the interpolant: (n+1, chunk) bases of a few MB

Direct = Callable[[np.ndarray, np.ndarray], np.ndarray]


def values(direct: Direct, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """`direct(mean, std)` at every state (flat arrays, std > 0), through
    accepted interpolants where they save work and `direct` elsewhere."""
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    out = np.empty(mean.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = mean, np.log(std)
    odd = ~(np.isfinite(u) & np.isfinite(v))
    if odd.any():  # whatever `direct` makes of them, without widening the boxes
        out[odd] = direct(mean[odd], std[odd])
    _fill(direct, u, v, np.flatnonzero(~odd), out, [WASTE * mean.size])
    return out


def _fill(direct: Direct, u, v, idx, out, budget) -> None:
    uu, vv = u[idx], v[idx]
    if idx.size < SHARE * (DEGREES[0] + 1) ** 2 or budget[0] <= 0:
        if idx.size:
            out[idx] = direct(uu, np.exp(vv))
        return
    box = ((uu.min(), uu.max()), (vv.min(), vv.max()))
    fit, accepted, drawn = _fit(direct, box, idx.size)
    if accepted:
        checks = idx[np.linspace(0, idx.size - 1, CHECKS).round().astype(int)]
        exact = direct(u[checks], np.exp(v[checks]))
        guess = _evaluate(fit, box, u[checks], v[checks])
        if np.all(np.abs(guess - exact) <= CHECK_RTOL * np.abs(exact)):
            out[idx] = _evaluate(fit, box, uu, vv)
            out[checks] = exact
            return
    budget[0] -= drawn
    split = _split_axis(box, fit)
    coord = (uu, vv)[split]
    lo, hi = box[split]
    left = coord <= 0.5 * (lo + hi)
    if left.all() or not left.any():  # one value, or two adjacent floats: halving cannot separate them
        out[idx] = direct(uu, np.exp(vv))
        return
    _fill(direct, u, v, idx[left], out, budget)
    _fill(direct, u, v, idx[~left], out, budget)


def _split_axis(box, coef) -> int:
    """The variable whose coefficients decay slower; without coefficients, the
    wider box side in units of its scale (log std's width as it is, the mean's
    relative to the box's std)."""
    (u0, u1), (v0, v1) = box
    if u1 == u0 or v1 == v0:
        return 0 if u1 > u0 else 1
    if coef is not None:
        return 0 if _tail(coef, 0) >= _tail(coef, 1) else 1
    return 0 if (u1 - u0) / np.exp(0.5 * (v0 + v1)) >= (v1 - v0) else 1


def _fit(direct: Direct, box, count: int):
    """(coefficients, accepted, samples drawn): the first affordable degree whose
    coefficients pass, else the last tried (None if none was affordable or a
    sample was not finite)."""
    flat = [hi == lo for lo, hi in box]
    samples = coef = None
    last = np.inf
    for n in DEGREES:
        if count < SHARE * (n + 1) ** (2 - sum(flat)):
            break
        if not _resolves(box, n):
            continue
        deg = [0 if f else n for f in flat]
        samples = _sample(direct, box, deg, samples)
        if not np.isfinite(samples).all():
            return None, False, samples.size
        coef = _cosines(deg[0]) @ samples @ _cosines(deg[1]).T
        tail, tol = _tail(coef, 0) + _tail(coef, 1), RTOL * np.abs(samples).min()
        if tail <= tol:
            return coef, True, samples.size
        # doubling the degree again would square the decay just seen: where even
        # that stays far from the tolerance, halving the box is the better buy
        decay = tail / last
        if decay > 0.5 or tail * decay**2 > 100.0 * tol:
            break
        last = tail
    return coef, False, 0 if samples is None else samples.size


def _resolves(box, n: int) -> bool:
    """Whether the degree-n grid is fine enough that nothing can hide between
    its nodes: a divergence is a Gaussian average over q, so nothing in it is
    narrower in the mean than about q's std (half of it for chi-square(q‖p),
    whose q^2 is a Gaussian of std/√2). A feature that wide is seen by the
    nodes, and its coefficients do not decay; a narrower one could fall
    between them with the coefficients none the wiser. Along log std a
    divergence turns (a component comes into q's reach) rather than bumps, and
    a turn is seen from both sides: half a unit between nodes is asked."""
    (u0, u1), (v0, v1) = box
    spacing = np.pi / (2 * n)  # the widest gap between Lobatto nodes, per unit of the box's width
    return spacing * (u1 - u0) <= FEATURE_MEAN * np.exp(v0) and spacing * (v1 - v0) <= FEATURE_LOG_STD


def _tail(coef: np.ndarray, axis: int) -> float:
    n = coef.shape[axis] - 1
    if n == 0:
        return 0.0
    return float(np.abs(np.take(coef, np.arange(n - n // 8, n + 1), axis=axis)).sum())


def _points(lo: float, hi: float, n: int) -> np.ndarray:
    if n == 0:
        return np.array([lo])
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * np.arange(n + 1) / n)


def _sample(direct: Direct, box, deg, coarse) -> np.ndarray:
    """The function on the Lobatto grid of degree `deg`; `coarse`, the grid of
    half the degree (None at the first), is its every other point."""
    pu, pv = (_points(lo, hi, n) for (lo, hi), n in zip(box, deg))
    grid = np.empty((pu.size, pv.size))
    todo = np.ones(grid.shape, dtype=bool)
    if coarse is not None:
        su, sv = (slice(None, None, 2 if n else 1) for n in deg)
        grid[su, sv] = coarse
        todo[su, sv] = False
    iu, iv = np.nonzero(todo)
    grid[iu, iv] = direct(pu[iu], np.exp(pv[iv]))
    return grid


def _cosines(n: int) -> np.ndarray:
    """c = M f: a function's values at the n+1 Lobatto points to its Chebyshev
    coefficients (the discrete cosine transform of type I)."""
    if n == 0:
        return np.ones((1, 1))
    k = np.arange(n + 1)
    m = np.cos(np.pi * np.outer(k, k) / n) * (2.0 / n)
    m[:, [0, n]] *= 0.5
    m[[0, n], :] *= 0.5
    return m


def _basis(x: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """T_0 .. T_n at x mapped from [lo, hi] to [-1, 1], one row per degree
    (each row contiguous: the recurrence's passes run along them)."""
    out = np.empty((n + 1, x.size))
    out[0] = 1.0
    if n == 0:
        return out
    t = (2.0 * x - (lo + hi)) / (hi - lo)
    out[1] = t
    t *= 2.0
    for k in range(2, n + 1):
        np.multiply(t, out[k - 1], out=out[k])
        out[k] -= out[k - 2]
    return out


def _evaluate(coef: np.ndarray, box, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """sum_jk coef[j, k] T_j(u) T_k(v) at every state: the mean's basis
    contracted with the coefficients by one matrix product per chunk, then
    weighted by the log std's basis and summed down each column."""
    (u0, u1), (v0, v1) = box
    nu, nv = coef.shape[0] - 1, coef.shape[1] - 1
    out = np.empty(u.size)
    coef_t = np.ascontiguousarray(coef.T)
    for i in range(0, u.size, _EVAL_CHUNK):
        s = slice(i, i + _EVAL_CHUNK)
        inner = coef_t @ _basis(u[s], u0, u1, nu)  # (nv + 1, chunk)
        inner *= _basis(v[s], v0, v1, nv)
        np.add.reduce(inner, axis=0, out=out[s])
    return out
