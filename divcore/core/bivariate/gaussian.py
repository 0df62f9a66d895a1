"""q on the plane: N(mean, Sigma) with Sigma = L L^T, L lower-triangular with a
positive diagonal, and the coordinates theta every gradient is taken in.

| family          | theta (P)                                   |
|-----------------|---------------------------------------------|
| `gaussian`      | (mean1, mean2, log L11, L21, log L22)  (5)  |
| `gaussian-diag` | (mean1, mean2, log sd1, log sd2)       (4)  |

The mean-field family is the full one with L21 held at 0, so every formula
is written once for L and the family only chooses which entries of d/dL it
keeps (`Family2.theta_grad`). With eps = L^-1 (x - mean):

* score:    d log q / d mean = L^-T eps,   d log q / dL = lower(L^-T (eps eps^T - I));
* pathwise: for x = mean + L eps, d f(x) / d mean = f'(x), d f(x) / dL = lower(f'(x) eps^T);
* entropy:  H(q) = log L11 + log L22 + 1 + log 2 pi.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..registry import Registry
from .target import LOG_2PI, solve_lower

MAX_ABS_MEAN = 1e6
MIN_SD = 1e-6
MAX_SD = 1e6


@dataclass(frozen=True)
class Family2:
    key: str
    label: str
    doc: str
    size: int  # P, the number of coordinates in theta
    names: tuple[str, ...]  # theta's coordinates, for CSV columns and labels

    @property
    def diagonal(self) -> bool:
        return self.size == 4

    def theta(self, mean, L):
        """theta from q's mean (..., 2) and Cholesky factor (..., 2, 2)."""
        mean, L = np.asarray(mean, float), np.asarray(L, float)
        parts = [mean[..., 0], mean[..., 1], np.log(L[..., 0, 0])]
        if not self.diagonal:
            parts.append(L[..., 1, 0])
        parts.append(np.log(L[..., 1, 1]))
        return np.stack(parts, axis=-1)

    def unpack(self, theta):
        """(mean, L) from theta."""
        theta = np.asarray(theta, float)
        mean = theta[..., :2]
        L = np.zeros(theta.shape[:-1] + (2, 2))
        L[..., 0, 0] = np.exp(theta[..., 2])
        L[..., 1, 1] = np.exp(theta[..., -1])
        if not self.diagonal:
            L[..., 1, 0] = theta[..., 3]
        return mean, L

    def theta_grad(self, g_mean, G, L):
        """Chain rule from d/dmean (..., 2) and d/dL (..., 2, 2; lower entries used) to theta."""
        parts = [g_mean[..., 0], g_mean[..., 1], G[..., 0, 0] * L[..., 0, 0]]
        if not self.diagonal:
            parts.append(G[..., 1, 0])
        parts.append(G[..., 1, 1] * L[..., 1, 1])
        return np.stack(parts, axis=-1)

    def entropy_grad(self, shape):
        """d H(q) / d theta: 1 on each log-diagonal coordinate."""
        g = np.zeros(tuple(shape) + (self.size,))
        g[..., 2] = g[..., -1] = 1.0
        return g

    def score_parts(self, eps, L):
        """d log q(x) / d theta at x = mean + L eps, as (..., P), written out
        (the estimators call it on every particle). L broadcasts against eps:
        (B, 1, 2, 2) for particles (B, K, 2)."""
        a, b, c = L[..., 0, 0], L[..., 1, 0], L[..., 1, 1]
        e0, e1 = eps[..., 0], eps[..., 1]
        cross = e0 * e1
        g1 = e1 / c
        parts = [e0 / a - b * g1 / a, g1, e0 * e0 - 1.0 - b * cross / c]
        if not self.diagonal:
            parts.append(cross / c)
        parts.append(e1 * e1 - 1.0)
        return np.stack(parts, axis=-1)

    def path_parts(self, slope, eps, L):
        """d f(mean + L eps) / d theta from f's gradient `slope` (..., 2) at that point."""
        s0, s1 = slope[..., 0], slope[..., 1]
        e0, e1 = eps[..., 0], eps[..., 1]
        parts = [s0, s1, s0 * e0 * L[..., 0, 0]]
        if not self.diagonal:
            parts.append(s1 * e0)
        parts.append(s1 * e1 * L[..., 1, 1])
        return np.stack(parts, axis=-1)

    def fisher(self, L):
        """q's Fisher information in theta (..., P, P): Sigma^-1 for the mean and
        tr(Sigma^-1 dSigma_i Sigma^-1 dSigma_j) / 2 for the covariance, with
        dSigma_j = E_j L^T + L E_j^T and E_j = dL / dtheta_j."""
        L = np.asarray(L, float)
        cov = L @ np.swapaxes(L, -1, -2)
        prec = np.linalg.inv(cov)
        dL = self._dL(L)  # (..., P - 2, 2, 2)
        dS = dL @ np.swapaxes(L, -1, -2)[..., None, :, :]
        dS = dS + np.swapaxes(dS, -1, -2)
        A = prec[..., None, :, :] @ dS  # Sigma^-1 dSigma_j
        F = np.zeros(L.shape[:-2] + (self.size, self.size))
        F[..., :2, :2] = prec
        F[..., 2:, 2:] = 0.5 * np.einsum("...iab,...jba->...ij", A, A)
        return F

    def _dL(self, L):
        n = self.size - 2
        out = np.zeros(L.shape[:-2] + (n, 2, 2))
        out[..., 0, 0, 0] = L[..., 0, 0]
        if not self.diagonal:
            out[..., 1, 1, 0] = 1.0
        out[..., n - 1, 1, 1] = L[..., 1, 1]
        return out


FAMILIES_2D = Registry("family", (
    Family2("gaussian", "Gaussian (full covariance)", "q = N(mean, Sigma) with full covariance", 5,
            ("mean1", "mean2", "log_L11", "L21", "log_L22")),
    Family2("gaussian-diag", "Gaussian (mean-field)", "q = N(mean, diag(sd1^2, sd2^2)): mean-field", 4,
            ("mean1", "mean2", "log_sd1", "log_sd2")),
), default="gaussian")


def cholesky(cov):
    """The lower Cholesky factor of 2 x 2 covariances (..., 2, 2), written out:
    nan where a matrix is not positive definite (a step that left the family),
    where numpy's would raise for the whole batch."""
    cov = np.asarray(cov, float)
    L = np.zeros(cov.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.sqrt(np.where(cov[..., 0, 0] > 0, cov[..., 0, 0], np.nan))
        b = cov[..., 1, 0] / a
        rest = cov[..., 1, 1] - b * b
        L[..., 0, 0], L[..., 1, 0], L[..., 1, 1] = a, b, np.sqrt(np.where(rest > 0, rest, np.nan))
    return L


def covariance(L):
    L = np.asarray(L, float)
    return L @ np.swapaxes(L, -1, -2)


def logpdf(x, mean, L):
    eps = solve_lower(L, np.asarray(x, float) - mean)
    return -0.5 * (eps[..., 0] ** 2 + eps[..., 1] ** 2) - np.log(L[..., 0, 0]) - np.log(L[..., 1, 1]) - LOG_2PI


def entropy(L):
    return np.log(L[..., 0, 0]) + np.log(L[..., 1, 1]) + 1.0 + LOG_2PI


def in_family(mean, L):
    """True where (mean, L) is a usable member: finite, bounded, and not degenerate."""
    mean, L = np.asarray(mean), np.asarray(L)
    with np.errstate(invalid="ignore"):
        d0, d1 = L[..., 0, 0], L[..., 1, 1]
        return (
            np.isfinite(mean).all(-1) & np.isfinite(L).all((-2, -1))
            & (np.abs(mean) <= MAX_ABS_MEAN).all(-1)
            & (np.minimum(d0, d1) >= MIN_SD) & (np.hypot(d1, L[..., 1, 0]) <= MAX_SD) & (d0 <= MAX_SD)
        )


def distance(mean, cov, ref_mean, ref_cov) -> np.ndarray:
    """How far N(mean, cov) is from N(ref_mean, ref_cov), in the reference's own
    units: the mean's offset in the reference's standard deviations (its whitened
    length), and the change of each log standard deviation and of the
    correlation; nan, never an error, for a singular state. Broadcasts over
    leading axes."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.asarray(mean, float) - ref_mean
        a, b, c = ref_cov[..., 0, 0], ref_cov[..., 0, 1], ref_cov[..., 1, 1]
        # d' Sigma^-1 d with the 2 x 2 inverse written out
        move = (c * d[..., 0] ** 2 - 2 * b * d[..., 0] * d[..., 1] + a * d[..., 1] ** 2) / (a * c - b * b)
        sd = np.sqrt(np.stack([cov[..., 0, 0], cov[..., 1, 1]], axis=-1))
        sd0 = np.sqrt(np.stack([a, c], axis=-1))
        corr, corr0 = cov[..., 0, 1] / (sd[..., 0] * sd[..., 1]), b / (sd0[..., 0] * sd0[..., 1])
        return np.sqrt(move + (np.log(sd / sd0) ** 2).sum(-1) + (corr - corr0) ** 2)
