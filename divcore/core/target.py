"""The target p: a mixture of 1..8 one-dimensional Gaussians.

Everything is vectorised over arbitrary leading axes of `x`; the component
loop is explicit because C <= 8 and a Python loop over a handful of
components on big arrays is faster than materialising an (..., C) array.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
# Constants of the hot loops are 0-d arrays: numpy converts a Python or numpy
# scalar operand on every call (about 0.2 us, as much as the arithmetic on the
# 64 samples of a single trajectory's step), a 0-d array not. Same bits.
EXP_FLOOR = np.array(-60.0)
MINUS_HALF = np.array(-0.5)
MINUS_TWO = np.array(-2.0)


@dataclass(frozen=True, eq=False)
class Mixture:
    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray

    dim = 1

    @classmethod
    def create(cls, means, stds, weights=None) -> "Mixture":
        means = np.atleast_1d(np.asarray(means, dtype=float))
        stds = np.atleast_1d(np.asarray(stds, dtype=float))
        if weights is None:
            weights = np.ones_like(means)
        weights = np.atleast_1d(np.asarray(weights, dtype=float))
        if not (means.shape == stds.shape == weights.shape and means.ndim == 1):
            raise ValueError("means, stds and weights must be 1-D and of equal length")
        if not 1 <= means.size <= 8:
            raise ValueError("a mixture has 1 to 8 components")
        if np.any(stds <= 0) or np.any(weights <= 0):
            raise ValueError("component stds and weights must be > 0")
        for a in (means, stds, weights):
            a.setflags(write=False)
        w = weights / weights.sum()
        w.setflags(write=False)
        return cls(means, stds, w)

    @property
    def size(self) -> int:
        return self.means.size

    @functools.cached_property
    def log_norm(self) -> np.ndarray:
        """log w_j - log s_j - log sqrt(2 pi): each component's log-density at its mean."""
        out = np.log(self.weights) - np.log(self.stds) - LOG_SQRT_2PI
        out.setflags(write=False)
        return out

    @functools.cached_property
    def _edges(self) -> np.ndarray:
        """Where the components' shares of [0, 1) end, but the last's."""
        return np.cumsum(self.weights)[:-1]

    @functools.cached_property
    def _terms(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """(mean, 1 / std, log_norm) of each component, as 0-d arrays (see `EXP_FLOOR`)."""
        columns = (self.means, 1.0 / self.stds, self.log_norm)
        return tuple(tuple(map(np.array, t)) for t in zip(*(c.tolist() for c in columns)))

    @property
    def max_std(self) -> float:
        return float(self.stds.max())

    def mean(self) -> float:
        return float(self.weights @ self.means)

    def second_moment_about(self, mu):
        """E_p[(x - mu)^2], vectorised over mu."""
        mu = np.asarray(mu, dtype=float)
        d = self.means - mu[..., None]
        return (self.weights * (self.stds**2 + d * d)).sum(-1)

    def variance(self) -> float:
        return float(self.second_moment_about(self.mean()))

    def logpdf(self, x):
        """log p(x) by log-sum-exp."""
        return self.logpdf_and_dx(x, derivative=False)[0]

    def logpdf_and_dx(self, x, derivative: bool = True):
        """log p(x) by log-sum-exp and, optionally, d/dx log p(x).

        Written as in-place passes over one buffer per component: on the
        quadrature's million-node batches every temporary numpy allocates is a
        fresh page-faulted block, and this halves the time of the plain
        expression (same operations in the same order, so the same bits)."""
        x = np.asarray(x, dtype=float)
        if x.ndim == 0:  # the passes below write into arrays
            logp, slope = self.logpdf_and_dx(x[None], derivative)
            return logp[0], None if slope is None else slope[0]
        logs, slopes = [], []
        for m, inv_s, c in self._terms:
            z = x - m
            z *= inv_s
            # c - (z / 2) z, the plain expression's bits: (z^2) * -1/2 overflowed to -inf
            # for |z| from 1.3e154, where (z / 2) z is finite up to 1.9e154
            if derivative:  # (-z/2) z in a buffer of its own, then z / s in z's
                lk = z * MINUS_HALF
                lk *= z
                z *= inv_s
                slopes.append(z)
            else:  # in z's buffer as (-z/2)^2 * -2: where -z/2 is inexact its square is 0
                lk = z
                lk *= MINUS_HALF
                lk *= lk
                lk *= MINUS_TWO
            lk += c
            logs.append(lk)
        top, total = weigh_in_place(logs)
        slope = None
        for e, zs in zip(logs, slopes):
            zs *= e
            if slope is None:  # 0 - v, as from zeros: -v would turn +0.0 into -0.0
                slope = np.subtract(0.0, zs, out=zs)
            else:
                slope -= zs
        logp = np.log(total)
        logp += top
        if derivative:
            slope /= total
        return logp, slope

    def sample(self, normals, uniforms):
        """Exact draws from p by inverse-CDF component choice: x = m_c + s_c * eps."""
        comp = np.searchsorted(self._edges, uniforms, side="right")
        return self.means[comp] + self.stds[comp] * normals


def weigh_in_place(logs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The log-sum-exp's middle, shared by the line's and the plane's mixtures:
    each component's log density (a buffer of its own, overwritten) becomes
    its weight exp(l_k - top), floored at exp(-60); returns top = max_k l_k
    and the weights' sum, so log p = top + log(sum). The plain expression's
    operations in its order: its bits. Where every l_k is -inf (x so far out
    that each component's log density is below -1.8e308, or infinite on the
    line) log p is -inf, as the plain log-sum-exp gives, and the weights are
    equal."""
    top = np.maximum(logs[0], logs[1]) if len(logs) > 1 else logs[0].copy()
    for a in logs[2:]:
        np.maximum(top, a, out=top)
    for e in logs:
        # exp of arguments below -708 is 10-100x slower (subnormals, underflow);
        # raising them to -60 changes the sum (>= 1) by less than its rounding.
        # fmax, not maximum: where top is -inf, -inf - top is nan, and fmax
        # raises it to the floor too (each weight the same, the sum finite, and
        # log p = top + log(sum) = -inf), at maximum's speed and with its bits elsewhere
        e -= top
        np.fmax(e, EXP_FLOOR, out=e)
        np.exp(e, out=e)
    if len(logs) == 1:
        return top, logs[0]
    total = logs[0] + logs[1]
    for e in logs[2:]:
        total += e
    return top, total
