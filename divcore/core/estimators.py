"""Gradient estimators, one function each.

Every estimator takes the target p, q's (mean, std) of shape (B,) and the
step's standard normals `eps` of shape (B, K) (plus uniforms for sampling p),
and returns an `Estimate` with the per-sample terms, so that variance can be
measured and renderers can draw each particle's contribution.

Gradients are w.r.t. theta = (mean, log std) of the divergence itself (the
optimizer steps along -grad). With z = mean + std * eps, q's score is
grad_theta log q(z) = (eps / std, eps^2 - 1).

`coef` is each particle's signed coefficient on its score: for every
score-type estimator -grad = sum_i coef_i * score_i, so a positive coefficient
pulls q toward the sample. The pathwise estimator has no score; its `coef` is
the particle's pull on the mean in the same units and sign convention (see
`kl_reverse_reparam`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .target import LOG_SQRT_2PI, Mixture


class Estimate(NamedTuple):
    grad: np.ndarray  # (B, 2), the mean over samples of the per-sample terms
    parts: tuple[np.ndarray, np.ndarray]  # per-sample terms of d/dmean and d/dlog std, each (B, K)
    particles: np.ndarray  # (B, K)
    coef: np.ndarray  # (B, K)
    ess: np.ndarray  # (B,) 1 / sum(wbar^2), wbar ∝ p/q at the particles

    @property
    def terms(self) -> np.ndarray:
        """Per-sample terms as one (B, K, 2) array: grad = terms.mean(axis=1)."""
        return np.stack(self.parts, axis=-1)


def _normalised(logw):
    # the floor keeps exp out of its slow subnormal range; a relative weight of
    # e^-60 instead of something smaller is zero for every purpose here
    w = np.exp(np.maximum(logw - logw.max(axis=1, keepdims=True), -60.0))
    return w / w.sum(axis=1, keepdims=True)


def _ess(logw):
    w = _normalised(logw)
    return 1.0 / np.einsum("bk,bk->b", w, w)


def _q_draw(mean, std, eps):
    """Particles z ~ q and log q(z), reusing eps."""
    s = std[:, None]
    z = mean[:, None] + s * eps
    logq = (-0.5 * eps) * eps - (np.log(std) + LOG_SQRT_2PI)[:, None]
    return z, logq


def _score_parts(c, eps, std):
    """Per-sample terms c_i * score_i, score = (eps / std, eps^2 - 1)."""
    ce = c * eps
    return ce / std[:, None], ce * eps - c


def _finish(parts, z, coef, logw):
    K = z.shape[1]
    grad = np.stack([parts[0].sum(axis=1), parts[1].sum(axis=1)], axis=-1) / K
    return Estimate(grad, parts, z, coef, _ess(logw))


def kl_forward_is(p: Mixture, mean, std, eps) -> Estimate:
    """Self-normalised importance sampling from q for the forward-KL gradient.

    Identity: grad KL(p ‖ q) = -E_p[grad log q(x)] = -E_q[(p/q) grad log q] / E_q[p/q].
    Estimate: -sum_i wbar_i grad log q(z_i), wbar_i ∝ p(z_i)/q(z_i), z_i ~ q.
    Consistent as K grows, biased for finite K.
    """
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    wbar = _normalised(logw)
    K = eps.shape[1]
    return _finish(_score_parts(-K * wbar, eps, std), z, wbar, logw)


def kl_forward_data(p: Mixture, mean, std, eps, uniforms) -> Estimate:
    """Maximum likelihood: samples from p itself.

    Identity: grad KL(p ‖ q) = -E_p[grad log q(x)].
    Estimate: -(1/K) sum_i grad log q(x_i), x_i ~ p. Unbiased.
    """
    x = p.sample(eps, uniforms)
    m, s = mean[:, None], std[:, None]
    e = (x - m) / s
    logq = -0.5 * e * e - np.log(s) - LOG_SQRT_2PI
    K = eps.shape[1]
    return _finish(_score_parts(-np.ones_like(e), e, std), x, np.full_like(e, 1.0 / K), p.logpdf(x) - logq)


def kl_reverse_reinforce(p: Mixture, mean, std, eps, baseline: str = "none") -> Estimate:
    """Score function (REINFORCE) estimator of the reverse-KL gradient.

    Identity: grad KL(q ‖ p) = E_q[(log q(z) - log p(z) - b) grad log q(z)] for any
    b not depending on z, because E_q[grad log q] = 0.
    Baselines: "none" (b = 0); "plus-one" (b = -1, the textbook derivation's
    grad log q (1 + log q - log p)); "leave-one-out" (b_i = mean of the other
    K - 1 samples' log q - log p, which keeps the estimate unbiased). Unbiased.
    """
    z, logq = _q_draw(mean, std, eps)
    logp = p.logpdf(z)
    f = logq - logp
    K = eps.shape[1]
    if baseline == "none":
        adv = f
    elif baseline == "plus-one":
        adv = f + 1.0
    elif baseline == "leave-one-out":
        adv = f - (f.sum(axis=1, keepdims=True) - f) / (K - 1)
    else:
        raise ValueError(f"unknown baseline {baseline!r}; allowed: none, plus-one, leave-one-out")
    return _finish(_score_parts(adv, eps, std), z, -adv / K, -f)


def kl_reverse_reparam(p: Mixture, mean, std, eps) -> Estimate:
    """Pathwise (reparameterization) estimator of the reverse-KL gradient.

    Identity: with z = mean + std * eps, KL(q ‖ p) = -H(q) - E_eps[log p(z)] and
    H(q) = log std + const, so
    grad KL = (-E[d/dz log p(z)], -1 - E[std * eps * d/dz log p(z)]);
    the entropy term is exact, only the target term is sampled. Unbiased.
    `coef` is std * sign(eps_i) * d/dz log p(z_i) / K: positive when the
    particle pulls the mean toward itself.
    """
    z, logq = _q_draw(mean, std, eps)
    logp, slope = p.logpdf_and_dx(z)
    s = std[:, None]
    parts = (-slope, -1.0 - s * eps * slope)
    K = eps.shape[1]
    return _finish(parts, z, s * np.sign(eps) * slope / K, logp - logq)


def chi2_forward_is(p: Mixture, mean, std, eps) -> Estimate:
    """Self-normalised importance sampling for the forward chi-square gradient.

    Identity: grad chi2(p ‖ q) = -E_q[(p/q)^2 grad log q]
                               = -E_q[w^2 grad log q] / E_q[w]^2 (w = p/q, E_q[w] = 1).
    Estimate: -K sum_i wbar_i^2 grad log q(z_i): squared self-normalised
    weights, so the ratio is consistent for unnormalised p. Biased for finite K.
    """
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    wbar = _normalised(logw)
    K = eps.shape[1]
    c = K * wbar * wbar
    return _finish(_score_parts(-K * c, eps, std), z, c, logw)


def chi2_reverse_score(p: Mixture, mean, std, eps) -> Estimate:
    """Score estimator of the reverse chi-square gradient.

    Identity: grad ∫ q^2/p = ∫ 2 q grad q / p = 2 E_q[(q/p) grad log q].
    Estimate: (2/K) sum_i (q/p)(z_i) grad log q(z_i). Unbiased. Every
    coefficient is negative: q is only ever pushed away from its samples.
    """
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    K = eps.shape[1]
    # q/p can overflow far in p's tails: the estimate is then honestly non-finite
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = np.exp(-logw)
        return _finish(_score_parts(2.0 * ratio, eps, std), z, -2.0 * ratio / K, logw)


def alpha_is(p: Mixture, mean, std, eps, alpha: float) -> Estimate:
    """Importance sampling from q for the alpha-divergence gradient D_a(p ‖ q).

    Identity: grad D_a = -(1/a) E_q[(p/q)^a grad log q]
                       = -E_q[(expm1(a r) / a) grad log q],  r = log p - log q,
    since E_q[grad log q] = 0. The second form stays finite as a -> 0, where it
    is the reverse-KL score-function identity, and at a = 1 it is plain
    (not self-normalised) importance sampling of the forward-KL gradient.
    Estimate: -(1/K) sum_i expm1(a r_i)/a grad log q(z_i), z_i ~ q. Unbiased.
    `alpha` is the a of D_a(p ‖ q) (the caller maps a reverse run to 1 - a).
    """
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    K = eps.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        k = logw if alpha == 0.0 else np.expm1(alpha * logw) / alpha
        return _finish(_score_parts(-k, eps, std), z, k / K, logw)


# (divergence, direction) -> {estimator name: function}; "exact" is handled by the caller
MONTE_CARLO = {
    ("kl", "forward"): {"is": kl_forward_is, "data": kl_forward_data},
    ("kl", "reverse"): {"reinforce": kl_reverse_reinforce, "reparam": kl_reverse_reparam},
    ("chi2", "forward"): {"is": chi2_forward_is},
    ("chi2", "reverse"): {"score": chi2_reverse_score},
    ("alpha", "forward"): {"is": alpha_is},
    ("alpha", "reverse"): {"is": alpha_is},
}

NEEDS_UNIFORMS = {kl_forward_data}


def get(divergence: str, direction: str, estimator: str):
    try:
        return MONTE_CARLO[divergence, direction][estimator]
    except KeyError:
        raise ValueError(f"no Monte Carlo estimator {estimator!r} for {divergence} {direction}") from None
