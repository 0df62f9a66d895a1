"""The target p on the plane: a mixture of 1..8 bivariate Gaussians.

Vectorised over leading axes of `x` (trailing axis 2). Each component is kept
as its mean, its covariance's Cholesky factor and log w - log(2 pi) - log|L|,
so that its log density at x is log_norm - |L^-1 (x - m)|^2 / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = np.log(2.0 * np.pi)
_EXP_FLOOR = -60.0  # see target.Mixture: exp below -708 is slow and adds nothing here


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

    def component_terms(self, x):
        """Each component's log(w_k N_k(x)) and d/dx of it, as lists over k."""
        x = np.asarray(x, dtype=float)
        out = []
        for m, L, c in zip(self.means, self.chols, self.log_norm):
            e = solve_lower(L, x - m)
            out.append((c - 0.5 * (e[..., 0] ** 2 + e[..., 1] ** 2), e, L))
        return out

    def logpdf(self, x):
        return self.logpdf_and_grad(x, gradient=False)[0]

    def logpdf_and_grad(self, x, gradient: bool = True):
        """log p(x) by log-sum-exp and, optionally, its gradient (..., 2)."""
        terms = self.component_terms(x)
        top = terms[0][0]
        for a, _, _ in terms[1:]:
            top = np.maximum(top, a)
        total = np.zeros_like(top)
        grad = np.zeros(top.shape + (2,)) if gradient else None
        for a, e, L in terms:
            w = np.exp(np.maximum(a - top, _EXP_FLOOR))
            total += w
            if gradient:
                grad -= w[..., None] * solve_upper_t(L, e)
        logp = top + np.log(total)
        if gradient:
            grad /= total[..., None]
        return logp, grad

    def sample(self, normals, uniforms):
        """Exact draws from p: component by inverse CDF of the weights, then m + L eps."""
        edges = np.cumsum(self.weights)[:-1]
        comp = np.searchsorted(edges, uniforms, side="right")
        return self.means[comp] + np.einsum("...ij,...j->...i", self.chols[comp], normals)
