"""An independent reference for the 2-D integrals: the trapezoid rule on a
fine square grid in plain x-coordinates, at two resolutions and box sizes that
must agree (the trapezoid rule converges geometrically for smooth integrands
that have died out at the box's edges). Nothing here knows how divfit places
its cubature, or in which frame."""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal


def mixture_logpdf(x, means, covs, weights):
    w = np.asarray(weights, float) / np.sum(weights)
    t = np.stack([np.log(wk) + multivariate_normal(m, c).logpdf(x) for m, c, wk in zip(means, covs, w)], -1)
    top = t.max(-1)
    return top + np.log(np.exp(t - top[..., None]).sum(-1))


def gauss_logpdf(x, mean, cov):
    return multivariate_normal(mean, cov).logpdf(x)


def integrate(f, lo, hi, h, chunk=250_000):
    """∫ f over the box [lo, hi] (per axis) with spacing about h; f maps (N, 2) to (N,) or (N, P)."""
    n = np.ceil((hi - lo) / h).astype(int) + 1
    gx, gy = np.linspace(lo[0], hi[0], n[0]), np.linspace(lo[1], hi[1], n[1])
    hx, hy = gx[1] - gx[0], gy[1] - gy[0]
    X = np.stack(np.meshgrid(gx, gy, indexing="ij"), -1).reshape(-1, 2)
    total = 0.0
    for i in range(0, X.shape[0], chunk):
        total = total + f(X[i : i + chunk]).sum(0)
    return total * hx * hy


def mass_box(log_f, reach=300.0, step=0.5, tail=60.0):
    """The box where log_f is within `tail` of its largest value, located by
    brute force on a grid out to +-reach, widened by two steps."""
    g = np.arange(-reach, reach + step / 2, step)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    v = np.concatenate([log_f(X[i : i + 250_000]) for i in range(0, X.shape[0], 250_000)])
    inside = X[v > v.max() - tail]
    return inside.min(0) - 2 * step, inside.max(0) + 2 * step


def converged(f, log_f, h=0.05):
    """∫ f over log_f's mass box on two grids (h and 0.6 h), and their relative disagreement."""
    lo, hi = mass_box(log_f)
    a, b = (integrate(f, lo, hi, s) for s in (h, 0.6 * h))
    return b, float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def kl_reverse_by_nested_quad(means, covs, weights, mean, L, reach=12.0, rtol=1e-13):
    """KL(q ‖ p) and its gradient in theta = (mean1, mean2, log L11, L21, log L22)
    by nested adaptive Gauss-Kronrod quadrature (scipy's quad_vec) over q's
    whitened coordinates u (x = mean + L u) out to +-reach, where q's mass
    beyond is below e^-reach^2/2. The gradient is the score identity's,
    d/dtheta E_q[log p] = E_q[log p d log q / d theta], and -dH(q)/dtheta.
    quad_vec bisects wherever its error estimate asks, so it needs no
    knowledge of where p's components take over from one another."""
    from scipy.integrate import quad_vec

    means, covs = np.asarray(means, float), np.asarray(covs, float)
    w = np.asarray(weights, float) / np.sum(weights)
    prec = np.linalg.inv(covs)
    log_c = np.log(w) - np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(covs))
    mean, L = np.asarray(mean, float), np.asarray(L, float)
    a, b, c = L[0, 0], L[1, 0], L[1, 1]

    def along(u1):
        def f(u0):
            x = mean + L @ np.array([u0, u1])
            d = x - means
            t = log_c - 0.5 * np.einsum("ki,kij,kj->k", d, prec, d)
            logp = t.max() + np.log(np.exp(t - t.max()).sum())
            score = np.array([u0 / a - b * u1 / (a * c), u1 / c, u0 * u0 - 1 - b * u0 * u1 / c, u0 * u1 / c,
                              u1 * u1 - 1])
            return np.exp(-0.5 * (u0 * u0 + u1 * u1)) / (2 * np.pi) * logp * np.concatenate([[1.0], score])
        return quad_vec(f, -reach, reach, epsabs=0.0, epsrel=rtol, limit=4000)[0]

    e = quad_vec(along, -reach, reach, epsabs=0.0, epsrel=rtol, limit=4000)[0]
    entropy = np.log(a) + np.log(c) + 1.0 + np.log(2 * np.pi)
    return -entropy - e[0], -e[1:] - np.array([0.0, 0.0, 1.0, 0.0, 1.0])


def score(x, mean, L):
    """d log q / d theta at points x (N, 2), theta = (mean1, mean2, log L11, L21, log L22)."""
    l11, l21, l22 = L[0, 0], L[1, 0], L[1, 1]
    u0 = (x[:, 0] - mean[0]) / l11
    u1 = (x[:, 1] - mean[1] - l21 * u0) / l22
    return np.stack([u0 / l11 - l21 * u1 / (l11 * l22), u1 / l22, u0 * u0 - 1 - l21 * u0 * u1 / l22,
                     u0 * u1 / l22, u1 * u1 - 1], -1)


def power_moments(means, covs, weights, mean, L, a, b, h=0.012):
    """∫ q^a p^b and ∫ q^a p^b d log q / d theta (6,), with their grids'
    relative disagreement (`converged`)."""
    mean, L = np.asarray(mean, float), np.asarray(L, float)
    cov = L @ L.T

    def log_f(x):
        return a * gauss_logpdf(x, mean, cov) + b * mixture_logpdf(x, means, covs, weights)

    def f(x):
        return np.exp(log_f(x))[:, None] * np.concatenate([np.ones((len(x), 1)), score(x, mean, L)], 1)

    return converged(f, log_f, h)


def kl_reverse_by_trapezoid(means, covs, weights, mean, L, h=0.02):
    """KL(q ‖ p) and its gradient in theta (as `kl_reverse_by_nested_quad`) from
    the trapezoid rule's moments of q log p over q's mass, with the grids'
    relative disagreement (`converged`)."""
    mean, L = np.asarray(mean, float), np.asarray(L, float)
    cov = L @ L.T

    def log_q(x):
        return gauss_logpdf(x, mean, cov)

    def f(x):
        v = np.exp(log_q(x)) * mixture_logpdf(x, means, covs, weights)
        return v[:, None] * np.concatenate([np.ones((len(x), 1)), score(x, mean, L)], 1)

    e, spread = converged(f, log_q, h)
    entropy = np.log(L[0, 0]) + np.log(L[1, 1]) + 1.0 + np.log(2 * np.pi)
    return -entropy - e[0], -e[1:] - np.array([0.0, 0.0, 1.0, 0.0, 1.0]), spread
