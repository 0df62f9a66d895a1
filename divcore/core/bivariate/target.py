"""The target p on the plane: a mixture of 1..8 bivariate Gaussians.

Vectorised over leading axes of `x` (trailing axis 2). Each component is kept
as its mean, its covariance's Cholesky factor and log w - log(2 pi) - log|L|,
so that its log density at x is log_norm - |L^-1 (x - m)|^2 / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..target import weigh_in_place

LOG_2PI = np.log(2.0 * np.pi)


def solve_lower(L, d):
    """L^-1 d for lower-triangular 2 x 2 factors L (..., 2, 2) and vectors d (..., 2),
    written out: two divisions and a product, broadcast over every leading axis."""
    e0 = d[..., 0] / L[..., 0, 0]
    e1 = (d[..., 1] - L[..., 1, 0] * e0) / L[..., 1, 1]
    return np.stack([e0, e1], axis=-1)


def solve_upper_t(L, e):
    """L^-T e for lower-triangular L: back-substitution with L's transpose."""
    g1 = e[..., 1] / L[..., 1, 1]
    g0 = (e[..., 0] - L[..., 1, 0] * g1) / L[..., 0, 0]
    return np.stack([g0, g1], axis=-1)


def is_spd(cov) -> bool:
    """Symmetric positive definite, decided as a Cholesky factor with positive diagonal."""
    cov = np.asarray(cov, float)
    if cov.shape != (2, 2) or not np.all(np.isfinite(cov)) or cov[0, 1] != cov[1, 0]:
        return False
    return bool(cov[0, 0] > 0 and cov[0, 0] * cov[1, 1] - cov[0, 1] ** 2 > 0)


@dataclass(frozen=True, eq=False)
class Mixture2:
    means: np.ndarray  # (C, 2)
    covs: np.ndarray  # (C, 2, 2)
    weights: np.ndarray  # (C,), normalised
    chols: np.ndarray  # (C, 2, 2) lower-triangular, positive diagonal
    log_norm: np.ndarray  # (C,)

    dim = 2

    @classmethod
    def create(cls, means, covs, weights=None) -> "Mixture2":
        means = np.asarray(means, dtype=float).reshape(-1, 2)
        covs = np.asarray(covs, dtype=float).reshape(-1, 2, 2)
        C = means.shape[0]
        weights = np.ones(C) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
        if not (covs.shape[0] == C == weights.size):
            raise ValueError("means, covs and weights must describe the same number of components")
        if not 1 <= C <= 8:
            raise ValueError("a mixture has 1 to 8 components")
        if not all(is_spd(c) for c in covs) or np.any(weights <= 0):
            raise ValueError("component covariances must be symmetric positive definite and weights > 0")
        chols = np.linalg.cholesky(covs)
        w = weights / weights.sum()
        log_norm = np.log(w) - LOG_2PI - np.log(chols[:, 0, 0]) - np.log(chols[:, 1, 1])
        for a in (means, covs, w, chols, log_norm):
            a.setflags(write=False)
        return cls(means, covs, w, chols, log_norm)

    @property
    def size(self) -> int:
        return self.weights.size

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def second_moment_about(self, mu):
        """E_p[(x - mu)(x - mu)^T], vectorised over mu (..., 2) -> (..., 2, 2)."""
        d = self.means - np.asarray(mu, float)[..., None, :]  # (..., C, 2)
        outer = d[..., :, None] * d[..., None, :]
        return np.einsum("c,...cij->...ij", self.weights, self.covs + outer)

    def covariance(self) -> np.ndarray:
        return self.second_moment_about(self.mean())

    def logpdf(self, x):
        return self.logpdf_and_grad(x, gradient=False)[0]

    def logpdf_and_grad(self, x, gradient: bool = True):
        """log p(x) by log-sum-exp and, optionally, its gradient (..., 2).
        Each component's L^-1 (x - m) is written out per coordinate: the
        estimators call this on every particle of every step. In-place passes
        (the plain expression's operations in its order, so its bits): the
        cubature calls it on a million nodes at a time."""
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:  # one point: the passes below write into arrays
            logp, grad = self.logpdf_and_grad(x[None], gradient)
            return logp[0], None if grad is None else grad[0]
        x0, x1 = x[..., 0], x[..., 1]
        terms = []
        for (m0, m1), ((a, _), (b, c)), cst in zip(self.means, self.chols, self.log_norm):
            e0 = x0 - m0
            e0 *= 1.0 / a
            e1 = x1 - m1
            e1 -= b * e0
            e1 *= 1.0 / c
            lk = e0 * e0
            lk += e1 * e1
            lk *= -0.5
            lk += cst  # cst - (e0^2 + e1^2) / 2
            terms.append((lk, e0, e1, a, b, c))
        top, total = weigh_in_place([t[0] for t in terms])
        g0 = g1 = None
        for w, e0, e1, a, b, c in terms if gradient else ():  # -L^-T e, by back-substitution
            h1 = e1
            h1 *= 1.0 / c
            e0 -= b * h1
            e0 *= 1.0 / a  # h0
            h1 *= w
            e0 *= w
            if g1 is None:  # 0 - v, as from zeros: -v would turn +0.0 into -0.0
                g1, g0 = np.subtract(0.0, h1, out=h1), np.subtract(0.0, e0, out=e0)
            else:
                g1 -= h1
                g0 -= e0
        logp = np.log(total)
        logp += top
        if not gradient:
            return logp, None
        return logp, np.stack([g0 / total, g1 / total], axis=-1)

    def sample(self, normals, uniforms):
        """Exact draws from p: component by inverse CDF of the weights, then m + L eps."""
        edges = np.cumsum(self.weights)[:-1]
        comp = np.searchsorted(edges, uniforms, side="right")
        n0, n1 = normals[..., 0], normals[..., 1]
        L = self.chols
        return np.stack([self.means[comp, 0] + L[comp, 0, 0] * n0,
                         self.means[comp, 1] + L[comp, 1, 0] * n0 + L[comp, 1, 1] * n1], axis=-1)
