"""Gradient estimators on the plane, one function each, with the identities of
their one-dimensional twins (`core/estimators.py`) and the same conventions.

Every estimator is `fn(p, fam, mean, L, noise, **options)`: the target, q's
family (which fixes theta), q's means (B, 2) and Cholesky factors (B, 2, 2),
and the step's noise (standard normals (B, K, 2); uniforms (B, K) for
estimators that sample p). It returns an `Estimate2` whose per-sample terms
average to the gradient w.r.t. theta, so that variance can be measured.

With z = mean + L eps, q's score is `fam.score_parts(eps, L)`; a pathwise
term is `fam.path_parts(f'(z), eps, L)`. `coef` is each particle's signed
coefficient on its score (positive pulls q toward the sample); for pathwise
estimators it is the particle's pull on the mean projected on its own
direction from the mean, (L eps / |eps|) . f'(z) / K, which is the
one-dimensional convention std sign(eps) f'(z) / K.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..baselines import advantage
from ..weights import ess, normalised
from .gaussian import Family2
from .target import Mixture2, solve_lower, solve_upper_t


class Estimate2(NamedTuple):
    grad: np.ndarray  # (B, P) the mean over samples of the terms
    terms: np.ndarray  # (B, K, P) per-sample terms
    particles: np.ndarray  # (B, K, 2)
    coef: np.ndarray  # (B, K)
    logw: np.ndarray  # (B, K) log p/q at the particles, up to a constant per row

    @property
    def ess(self) -> np.ndarray:
        """(B,) 1 / sum(wbar^2), wbar ∝ p/q at the particles (see `Estimate.ess`)."""
        return ess(self.logw)


def _log_q(eps, L):
    """log q at the points of standardised coordinates eps (B, K, 2), L (B, 2, 2)."""
    return (-0.5 * (eps[..., 0] ** 2 + eps[..., 1] ** 2)) - (np.log(L[:, 0, 0]) + np.log(L[:, 1, 1])
                                                              + np.log(2 * np.pi))[:, None]


def _draw(mean, L, eps):
    """Particles z = mean + L eps ~ q, log q(z), and L broadcast against them."""
    Lk = L[:, None]
    e0, e1 = eps[..., 0], eps[..., 1]
    a, b, c = Lk[..., 0, 0], Lk[..., 1, 0], Lk[..., 1, 1]
    z = np.stack([mean[:, 0, None] + a * e0, mean[:, 1, None] + b * e0 + c * e1], axis=-1)
    return z, _log_q(eps, L), Lk


def _finish(terms, z, coef, logw):
    return Estimate2(terms.mean(axis=1), terms, z, coef, logw)


def _reach(eps, Lk, slope):
    """(L eps / |eps|) . slope: a particle's pull on the mean along its own direction."""
    e0, e1 = eps[..., 0], eps[..., 1]
    d0, d1 = Lk[..., 0, 0] * e0, Lk[..., 1, 0] * e0 + Lk[..., 1, 1] * e1
    norm = np.sqrt(e0 * e0 + e1 * e1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (d0 * slope[..., 0] + d1 * slope[..., 1]) / norm, 0.0)


def kl_forward_is(p: Mixture2, fam: Family2, mean, L, noise):
    """Self-normalised importance sampling: grad KL(p ‖ q) = -E_q[(p/q) grad log q] / E_q[p/q],
    estimated by -sum_i wbar_i grad log q(z_i). Consistent, biased for finite K."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    logw = p.logpdf(z) - logq
    wbar = normalised(logw)
    K = eps.shape[1]
    return _finish(-K * wbar[..., None] * fam.score_parts(eps, Lk), z, wbar, logw)


def kl_forward_data(p: Mixture2, fam: Family2, mean, L, noise):
    """Maximum likelihood: grad KL(p ‖ q) = -E_p[grad log q], by K samples of p. Unbiased."""
    x = p.sample(noise.normal, noise.uniform)
    Lk = L[:, None]
    e = solve_lower(Lk, x - mean[:, None])
    K = x.shape[1]
    logw = p.logpdf(x) - _log_q(e, L)
    return _finish(-fam.score_parts(e, Lk), x, np.full(x.shape[:2], 1.0 / K), logw)


def kl_reverse_reinforce(p: Mixture2, fam: Family2, mean, L, noise, baseline: str = "none"):
    """Score function: grad KL(q ‖ p) = E_q[(log q - log p - b) grad log q] for any b
    not depending on z; baselines as in one dimension. Unbiased."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    f = logq - p.logpdf(z)
    K = eps.shape[1]
    adv = advantage(f, baseline)
    return _finish(adv[..., None] * fam.score_parts(eps, Lk), z, -adv / K, -f)


def kl_reverse_reparam(p: Mixture2, fam: Family2, mean, L, noise):
    """Pathwise: KL(q ‖ p) = -H(q) - E_eps[log p(mean + L eps)], so
    grad KL = -E[d log p(z)/d theta] - dH/d theta with the entropy term exact. Unbiased."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    logp, slope = p.logpdf_and_grad(z)
    terms = -fam.path_parts(slope, eps, Lk) - fam.entropy_grad(eps.shape[:1])[:, None]
    K = eps.shape[1]
    return _finish(terms, z, _reach(eps, Lk, slope) / K, logp - logq)


def kl_reverse_stl(p: Mixture2, fam: Family2, mean, L, noise):
    """Sticking the landing (Roeder, Wu & Duvenaud, 2017): the pathwise gradient of
    E_eps[log q(z) - log p(z)] through z only, -E[(d/dz)(log p - log q)(z) dz/dtheta],
    with d/dz log q = -L^-T eps; the score term dropped has expectation zero.
    Unbiased, and of zero variance where q = p."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    logp, slope = p.logpdf_and_grad(z)
    pull = slope + solve_upper_t(Lk, eps)
    K = eps.shape[1]
    return _finish(-fam.path_parts(pull, eps, Lk), z, _reach(eps, Lk, pull) / K, logp - logq)


def chi2_forward_is(p: Mixture2, fam: Family2, mean, L, noise):
    """grad chi2(p ‖ q) = -E_q[w^2 grad log q] / E_q[w]^2 (w = p/q), estimated with
    squared self-normalised weights: -K sum_i wbar_i^2 grad log q(z_i). Consistent."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    logw = p.logpdf(z) - logq
    wbar = normalised(logw)
    K = eps.shape[1]
    c = K * wbar * wbar
    return _finish(-K * c[..., None] * fam.score_parts(eps, Lk), z, c, logw)


def chi2_reverse_score(p: Mixture2, fam: Family2, mean, L, noise):
    """grad ∫ q^2/p = 2 E_q[(q/p) grad log q], estimated by its sample mean. Unbiased."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    logw = p.logpdf(z) - logq
    K = eps.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = np.exp(-logw)
        return _finish(2.0 * ratio[..., None] * fam.score_parts(eps, Lk), z, -2.0 * ratio / K, logw)


def alpha_is(p: Mixture2, fam: Family2, mean, L, noise, alpha: float):
    """grad D_a(p ‖ q) = -E_q[(expm1(a r) / a) grad log q], r = log p - log q,
    estimated by its sample mean (finite as a -> 0). Unbiased."""
    eps = noise.normal
    z, logq, Lk = _draw(mean, L, eps)
    logw = p.logpdf(z) - logq
    with np.errstate(over="ignore", invalid="ignore"):
        k = logw if alpha == 0.0 else np.expm1(alpha * logw) / alpha
        K = eps.shape[1]
        return _finish(-k[..., None] * fam.score_parts(eps, Lk), z, k / K, logw)
