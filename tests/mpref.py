"""An independent reference for divfit's integrals: the integrand in 30-digit
mpmath arithmetic, integrated by adaptive Gauss-Legendre on pieces that each
hold an equal share of the mass, the mass located by brute force on a grid
out to 1e7 (nothing here knows where divfit puts its panels, or why)."""

from __future__ import annotations

import mpmath as mp
import numpy as np

mp.mp.dps = 30
_GL = {n: np.polynomial.legendre.leggauss(n) for n in (20, 30)}
_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class Mix:
    """The target p in both arithmetics."""

    def __init__(self, means, stds, weights):
        self.m, self.s = np.asarray(means, float), np.asarray(stds, float)
        self.w = np.asarray(weights, float) / np.sum(weights)
        self._terms = [(mp.mpf(m), mp.mpf(s), mp.mpf(w) / (mp.mpf(s) * mp.sqrt(2 * mp.pi)))
                       for m, s, w in zip(self.m, self.s, self.w)]

    def logpdf_np(self, x):
        t = np.log(self.w) - np.log(self.s) - _LOG_SQRT_2PI - 0.5 * ((x[:, None] - self.m) / self.s) ** 2
        top = t.max(axis=1)
        return top + np.log(np.exp(t - top[:, None]).sum(axis=1))

    def logpdf(self, x):
        return mp.log(mp.fsum(c * mp.exp(-((x - m) / s) ** 2 / 2) for m, s, c in self._terms))


def gauss_logpdf_np(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - _LOG_SQRT_2PI


def gauss_logpdf(x, mean, std):
    mean, std = mp.mpf(mean), mp.mpf(std)
    return -((x - mean) / std) ** 2 / 2 - mp.log(std * mp.sqrt(2 * mp.pi))


def integrals(logf_np, integrand, moduli_np, pieces=48, tol=1e-14):
    """[∫ integrand_i] for the vector-valued mp `integrand(x)` = exp(logf) * g_i,
    and [∫ |exp(logf) g_i|] to about 1 % (the scale errors are measured on),
    from the float `logf_np` and `moduli_np` (the |g_i| as functions of x)."""
    x = np.sinh(np.linspace(-np.arcsinh(1e7), np.arcsinh(1e7), 200_001))
    lf = logf_np(x)
    live = np.nonzero(lf > np.nanmax(lf) - 90)[0]
    x = np.linspace(x[max(live[0] - 1, 0)], x[min(live[-1] + 1, x.size - 1)], 400_001)
    lf = logf_np(x)
    top = np.nanmax(lf)
    f = np.exp(lf - top)
    mass = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(x))])
    edges = np.unique(np.concatenate([np.interp(np.linspace(0, mass[-1], pieces + 1), mass, x), [x[np.argmax(lf)]]]))
    scale = [mp.exp(mp.mpf(top)) * mp.mpf(np.trapezoid(f * g(x), x)) for g in moduli_np]

    def gl(lo, hi, n):
        u, w = _GL[n]
        half = (hi - lo) / 2
        out = [mp.mpf(0)] * len(scale)
        for ui, wi in zip(u, w):
            for i, t in enumerate(integrand(mp.mpf(lo + half * (1 + ui)))):
                out[i] += mp.mpf(wi * half) * t
        return out

    def adapt(lo, hi, depth=0):
        fine, coarse = gl(lo, hi, 30), gl(lo, hi, 20)
        if depth >= 30 or all(abs(a - b) <= tol * s for a, b, s in zip(fine, coarse, scale)):
            return fine
        mid = 0.5 * (lo + hi)
        return [a + b for a, b in zip(adapt(lo, mid, depth + 1), adapt(mid, hi, depth + 1))]

    total = [mp.mpf(0)] * len(scale)
    for lo, hi in zip(edges[:-1], edges[1:]):
        total = [a + b for a, b in zip(total, adapt(lo, hi))]
    return total, scale


def power_moments(p: Mix, mean, std, a, b):
    """∫ q^a p^b (1, d log q/d mean, d log q/d log std) dx for q = N(mean, std^2),
    with their scales."""
    M, S = mp.mpf(mean), mp.mpf(std)

    def integrand(x):
        f = mp.exp(a * gauss_logpdf(x, mean, std) + b * p.logpdf(x))
        e = (x - M) / S
        return f, f * e / S, f * (e * e - 1)

    return integrals(lambda x: a * gauss_logpdf_np(x, mean, std) + b * p.logpdf_np(x), integrand,
                     [lambda x: np.ones_like(x), lambda x: np.abs(x - mean) / std**2,
                      lambda x: np.abs(((x - mean) / std) ** 2 - 1)])


def logp_moments(p: Mix, mean, std):
    """E_q[log p] and its gradient in (mean, log std), by the score function."""
    M, S = mp.mpf(mean), mp.mpf(std)

    def integrand(x):
        f = mp.exp(gauss_logpdf(x, mean, std)) * p.logpdf(x)
        e = (x - M) / S
        return f, f * e / S, f * (e * e - 1)

    return integrals(lambda x: gauss_logpdf_np(x, mean, std), integrand,
                     [lambda x: np.abs(p.logpdf_np(x)), lambda x: np.abs(p.logpdf_np(x) * (x - mean)) / std**2,
                      lambda x: np.abs(p.logpdf_np(x) * (((x - mean) / std) ** 2 - 1))])


def entropy(p: Mix):
    """-∫ p log p and its scale."""
    return integrals(p.logpdf_np, lambda x: (-mp.exp(p.logpdf(x)) * p.logpdf(x),),
                     [lambda x: np.abs(p.logpdf_np(x))])
