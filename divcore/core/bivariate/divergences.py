"""Divergence values and exact gradients between the target p on the plane and
q = N(mean, L L^T), vectorised over states (mean (n, 2), L (n, 2, 2)).
Gradients are w.r.t. the family's theta (see `gaussian`).

| divergence  | value | gradient |
|---|---|---|
| KL(p ‖ q)   | closed form but for H(p) (one cubature per target) | closed form (p's moments) |
| KL(q ‖ p)   | -H(q) - E_q[log p] by cubature (panels at log p's bends) | -E_q[(log p - E_q log p) d log q/d theta] - dH/d theta, by cubature |
| chi2(p ‖ q) | closed form: p^2/q is a sum of C^2 Gaussian exponentials | closed form |
| chi2(q ‖ p) | ∫ q^2/p - 1 by cubature | 2 E_q[(q/p) d log q/d theta] by cubature |
| D_a(p ‖ q)  | as in one dimension (the same two cancellation-free forms), by cubature | -(1/a) ∫ p^a q^(1-a) d log q/d theta |

Where a divergence is infinite is decided from the tails alone (`tails_finite`):
∫ q^a p^b converges iff in every direction v the exponent a v'Λv + b min_k v'Λ_k v
is positive (Λ = Sigma^-1, Λ_k the components' precisions; the slowest
component owns p's tail in each direction). For b >= 0 that is "a Λ + b Λ_k
positive definite for every k"; for b < 0 every direction needs some
component whose piece decays, decided exactly on the circle (see
`_covers`). chi2(q ‖ p) is infinite when q's tails outrun every component's
in some direction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import alpha as alpha_terms
from ..divergences import DIVERGENCES, DIRECTIONS, forward_alpha
from . import cubature
from .gaussian import FAMILIES_2D, Family2, entropy as q_entropy
from .target import LOG_2PI, Mixture2, solve_lower, solve_upper_t

_CHUNK = 16  # states per cubature batch in `Divergence2.evaluate`: a state has ~20,000 nodes, and
# larger batches make arrays that every allocation maps and page-faults afresh (2x the time).
# A state's nodes grow with p's components (the strips between them, and where they meet:
# some 150,000 for 2 narrow components, 2,000,000 for 8), so a batch holds 16 / (C - 1)
# states: an 8-component batch of 16 took 7.6 GB


def _states(mean, L):
    mean = np.asarray(mean, float)
    L = np.asarray(L, float)
    shape = np.broadcast_shapes(mean.shape[:-1], L.shape[:-2])
    return np.broadcast_to(mean, shape + (2,)).reshape(-1, 2), np.broadcast_to(L, shape + (2, 2)).reshape(-1, 2, 2), shape


def _circle_terms(M):
    """v'Mv on the unit circle v = (cos t, sin t) is c0 + c1 cos 2t + c2 sin 2t."""
    return (M[..., 0, 0] + M[..., 1, 1]) / 2, (M[..., 0, 0] - M[..., 1, 1]) / 2, M[..., 0, 1]


def _covers(Ms) -> bool:
    """Whether max_k v'M_k v > 0 for every direction v. The least of the upper
    envelope of the sinusoids is at one of their own minima or where two cross."""
    c0, c1, c2 = (np.array(x) for x in zip(*(_circle_terms(M) for M in Ms)))
    angles = [np.arctan2(-c2, -c1) / 2]  # each one's minimum
    K = len(Ms)
    for i in range(K):
        for j in range(i + 1, K):
            d0, d1, d2 = c0[i] - c0[j], c1[i] - c1[j], c2[i] - c2[j]
            R = np.hypot(d1, d2)
            if R > 0 and abs(d0) <= R:
                phi, delta = np.arctan2(d2, d1), np.arccos(np.clip(-d0 / R, -1, 1))
                angles.append(np.array([(phi + delta) / 2, (phi - delta) / 2]))
    t = np.concatenate([np.atleast_1d(a) for a in angles])
    env = (c0[:, None] + c1[:, None] * np.cos(2 * t) + c2[:, None] * np.sin(2 * t)).max(axis=0)
    return bool(env.min() > 0)


def tails_finite(p: Mixture2, L, a: float, b: float):
    """Whether ∫ q^a p^b dx < inf, for each L (..., 2, 2)."""
    L = np.asarray(L, float)
    prec = np.linalg.inv(L @ np.swapaxes(L, -1, -2))
    comp_prec = np.linalg.inv(p.covs)
    flat = prec.reshape(-1, 2, 2)
    out = np.empty(flat.shape[0], dtype=bool)
    for i, P in enumerate(flat):
        Ms = [a * P + b * Pk for Pk in comp_prec]
        if b >= 0:
            out[i] = all(np.all(np.linalg.eigvalsh(M) > 0) for M in Ms)
        else:
            out[i] = _covers(Ms)
    return out.reshape(prec.shape[:-2])


# ---------------------------------------------------------------- E_q[...]


def _q_at_nodes(r: cubature.Rule, mean, L):
    """log q at the rule's nodes and the nodes in q's whitened coordinates,
    eps = L^-1 (x - mean), as two arrays (e0, e1): gaussian.logpdf's
    arithmetic in place, with L's entries and logs taken to the nodes per
    state rather than as (N, 2, 2) copies."""
    d = r.x - r.of(mean)
    e0 = d[:, 0] / r.of(L[:, 0, 0])
    e1 = d[:, 1] - r.of(L[:, 1, 0]) * e0
    e1 /= r.of(L[:, 1, 1])
    logq = e0 * e0
    logq += e1 * e1
    logq *= -0.5
    logq -= r.of(np.log(L[:, 0, 0]))
    logq -= r.of(np.log(L[:, 1, 1]))
    logq -= LOG_2PI
    return logq, e0, e1


def _q_rule(p: Mixture2, mean, L):
    """A rule whose weights carry q (rule.sum(f) ~= E_q[f]), placed for
    integrands that hold log p (see `cubature.rule`'s kinks), and the nodes in
    q's whitened coordinates (e0, e1)."""
    r = cubature.rule(p, mean, L, (1.0, 0.0), kinks=True)
    w, e0, e1 = _q_at_nodes(r, mean, L)
    np.exp(w, out=w)
    w *= r.w
    return r._replace(w=w), e0, e1


def _score_sum(fam: Family2, r: cubature.Rule, v, e0, e1, L, q_weighted: bool = False):
    """sum over each state's nodes of weight * v * d log q / d theta, from the
    moments of v against eps = (e0, e1): d log q / d mean = L^-T eps and
    d log q / d L = L^-T (eps eps^T - I), so six weighted sums per state
    replace a (N, P) array of score terms.

    `q_weighted`: the rule's weights carry q (`_q_rule`). Then the second
    moments are taken of v less its linear part in eps (the first moments):
    E_q[eps_i (eps eps^T - I)] = 0, so the sums are the same, but far from p,
    where log p changes by thousands across q, the linear part's terms would
    otherwise cancel to the last digits of each coordinate."""
    vw = v * r.w
    m0, m1 = np.add.reduceat(vw * e0, r.starts), np.add.reduceat(vw * e1, r.starts)
    if q_weighted:
        vw -= r.of(m0) * e0 * r.w
        vw -= r.of(m1) * e1 * r.w
    s0 = vw * e0
    moments = [vw, s0 * e0, s0 * e1, vw * e1 * e1]
    m, m00, m01, m11 = (np.add.reduceat(x, r.starts) for x in moments)
    g_mean = solve_upper_t(L, np.stack([m0, m1], axis=-1))
    M2 = np.stack([np.stack([m00 - m, m01], -1), np.stack([m01, m11 - m], -1)], -2)
    G = np.swapaxes(solve_upper_t(L[:, None], M2), -1, -2)  # each column of M2 through L^-T
    return fam.theta_grad(g_mean, G, L)


@functools.lru_cache(maxsize=64)
def entropy(p: Mixture2) -> float:
    """H(p) = -sum_k w_k E_{N_k}[log p]."""
    r = _q_rule(p, p.means, p.chols)[0]
    return float(-(p.weights * r.sum(p.logpdf(r.x))).sum())


def kl_forward(p: Mixture2, fam: Family2, mean, L, grad: bool):
    """-H(p) + log 2 pi + log|L| + tr(Sigma^-1 M) / 2, M = E_p[(x - mean)(x - mean)^T];
    d/dmean = Sigma^-1 (mean - E_p x), d/dL = L^-T (I - L^-1 M L^-T)."""
    M = p.second_moment_about(mean)
    Li = np.linalg.inv(L)
    W = Li @ M @ np.swapaxes(Li, -1, -2)
    value = -entropy(p) + LOG_2PI + np.log(L[:, 0, 0]) + np.log(L[:, 1, 1]) + 0.5 * np.trace(W, axis1=-2, axis2=-1)
    if not grad:
        return value, None
    LiT = np.swapaxes(Li, -1, -2)
    g_mean = np.einsum("nij,nj->ni", LiT @ Li, mean - p.mean())
    return value, fam.theta_grad(g_mean, LiT @ (np.eye(2) - W), L)


def kl_reverse(p: Mixture2, fam: Family2, mean, L, grad: bool):
    """-H(q) - E_q[log p]; the gradient by the score identity,
    -E_q[(log p - E_q log p) d log q / d theta] - dH/d theta.

    Not pathwise: where one component of p takes over from another, log p
    bends but grad log p turns within a strip as narrow as 1 / |the
    components' slope difference|, one order rougher to integrate (on the rule
    without panels at the strips it was 2e-5 off where the score form was
    2e-6; with them both are within 1e-12 on the tests' states), and it
    needs no gradient of log p at the nodes. Centring on E_q log p, and taking
    the second moments less the linear part (`_score_sum`), keeps the score's
    zero mean from costing digits."""
    r, e0, e1 = _q_rule(p, mean, L)
    logp = p.logpdf(r.x)
    mean_logp = r.sum(logp)
    value = -q_entropy(L) - mean_logp
    if not grad:
        return value, None
    logp -= r.of(mean_logp)
    return value, -_score_sum(fam, r, logp, e0, e1, L, q_weighted=True) - fam.entropy_grad((mean.shape[0],))


# ---------------------------------------------------------------- chi2(p || q), closed form


def _chi2_forward_terms(p: Mixture2, mean, L):
    """log T_ij (n, C, C), T_ij = ∫ w_i N_i w_j N_j / q, with the mean and covariance
    of the Gaussian r_ij ∝ N_i N_j / q."""
    cov = L @ np.swapaxes(L, -1, -2)
    prec = np.linalg.inv(cov)[:, None, None]  # (n, 1, 1, 2, 2)
    P = np.linalg.inv(p.covs)
    Pi, Pj = P[None, :, None], P[None, None, :]
    mi, mj = p.means[None, :, None], p.means[None, None, :]
    mu = mean[:, None, None]
    A = Pi + Pj - prec
    hvec = (np.einsum("...ij,...j->...i", Pi, mi) + np.einsum("...ij,...j->...i", Pj, mj)
            - np.einsum("...ij,...j->...i", prec, mu))
    Ai = np.linalg.inv(A)
    centre = np.einsum("...ij,...j->...i", Ai, hvec)
    quad = lambda Q, x: np.einsum("...i,...ij,...j->...", x, Q, x)  # noqa: E731
    # the minimum over x of sum_k c_k (x - m_k)' P_k (x - m_k), as the three squares at the centre
    resid = quad(Pi, centre - mi) + quad(Pj, centre - mj) - quad(prec, centre - mu)
    logw = np.log(p.weights)
    logdet = lambda M: np.log(np.linalg.det(M))  # noqa: E731
    log_t = (logw[:, None] + logw[None, :] - 0.5 * (logdet(p.covs)[:, None] + logdet(p.covs)[None, :])
             + 0.5 * logdet(cov)[:, None, None] - 0.5 * logdet(A) - 0.5 * resid)
    return log_t, centre, Ai


def chi2_forward(p: Mixture2, fam: Family2, mean, L, grad: bool):
    """sum_ij T_ij - 1; the gradient sum_ij T_ij E_{r_ij}[-d log q / d theta], Gaussian moments only."""
    log_t, centre, Ai = _chi2_forward_terms(p, mean, L)
    top = log_t.max(axis=(-2, -1), keepdims=True)
    with np.errstate(over="ignore"):
        value = np.expm1(top[..., 0, 0] + np.log(np.exp(log_t - top).sum((-2, -1))))
    if not grad:
        return value, None
    Ln = L[:, None, None]
    e = solve_lower(Ln, centre - mean[:, None, None])
    Li = np.linalg.inv(L)[:, None, None]
    E = Li @ Ai @ np.swapaxes(Li, -1, -2) + e[..., :, None] * e[..., None, :]  # E[eps eps^T]
    G = -np.swapaxes(Li, -1, -2) @ (E - np.eye(2))
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.exp(log_t)[..., None]
        return value, (t * fam.theta_grad(-solve_upper_t(Ln, e), G, np.broadcast_to(Ln, G.shape))).sum((1, 2))


# ---------------------------------------------------------------- by cubature: chi2(q || p), D_a


def _parts(p: Mixture2, mean, L, *exponents):
    """The rule for `exponents`, log q and log p at its nodes, and the nodes in
    q's whitened coordinates (e0, e1)."""
    r = cubature.rule(p, mean, L, *exponents)
    logq, e0, e1 = _q_at_nodes(r, mean, L)
    return r, logq, p.logpdf(r.x), e0, e1


def chi2_reverse(p: Mixture2, fam: Family2, mean, L, grad: bool):
    """∫ q^2/p - 1; the gradient 2 ∫ (q^2/p) d log q / d theta."""
    r, logq, logp, e0, e1 = _parts(p, mean, L, (2.0, -1.0))
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.exp(2.0 * logq - logp)
        value = r.sum(f) - 1.0
        return value, (2.0 * _score_sum(fam, r, f, e0, e1, L) if grad else None)


def _alpha_exponents(a: float):
    return (1.0 - a, a), ((1.0, 0.0) if a <= 0.5 else (0.0, 1.0))


def alpha(p: Mixture2, fam: Family2, mean, L, grad: bool, a: float):
    """D_a(p ‖ q) and its gradient -(1/a) ∫ p^a q^(1-a) d log q / d theta (see core/alpha.py)."""
    r, logq, logp, e0, e1 = _parts(p, mean, L, *_alpha_exponents(a))
    with np.errstate(over="ignore", invalid="ignore"):
        term, scale = alpha_terms.value_terms(logq, logp, a)
        value = r.sum(term) / scale
        if not grad:
            return value, None
        c = alpha_terms.score_weights(logq, logp, a)
        return value, -_score_sum(fam, r, c, e0, e1, L)


# ---------------------------------------------------------------- one divergence, one direction, one family


@dataclass(frozen=True)
class Divergence2:
    divergence: str
    direction: str
    family: Family2
    fn: Callable  # (p, family, mean, L, grad) -> (value, gradient or None)
    tails: tuple[float, float] | None = None  # (a, b) of the integral whose convergence decides finiteness
    alpha: float | None = None
    moment_matching: bool = False

    def finite(self, p: Mixture2, L):
        if self.tails is None:
            return np.ones(np.shape(L)[:-2], dtype=bool)
        return tails_finite(p, L, *self.tails)

    def evaluate(self, p: Mixture2, mean, L, grad: bool = True):
        """The divergence (inf where infinite, else >= 0) and, if asked, its gradient
        in theta (nan where infinite) at every state, from one cubature per state;
        nan for both at a state that is not finite."""
        m, Lf, shape = _states(mean, L)
        usable = np.isfinite(m).all(-1) & np.isfinite(Lf).all((-2, -1))
        ok = usable.copy()
        ok[usable] = self.finite(p, Lf[usable])
        value = np.where(usable, np.inf, np.nan)
        g = np.full((m.shape[0], self.family.size), np.nan) if grad else None
        idx = np.flatnonzero(ok)
        chunk = max(1, _CHUNK // max(1, p.size - 1))
        for lo in range(0, idx.size, chunk):
            sub = idx[lo : lo + chunk]
            v, gs = self.fn(p, self.family, m[sub], Lf[sub], grad)
            value[sub] = v
            if grad:
                g[sub] = gs
        # a divergence is >= 0; rounding near q = p can give -1e-12
        value = np.maximum(value, 0.0).reshape(shape)
        return value, (g.reshape(shape + (self.family.size,)) if grad else None)

    def value(self, p: Mixture2, mean, L):
        return self.evaluate(p, mean, L, grad=False)[0]

    def grad(self, p: Mixture2, mean, L):
        return self.evaluate(p, mean, L)[1]


def get(divergence: str, direction: str, family: str | Family2, alpha_: float | None = None) -> Divergence2:
    kind = DIVERGENCES[divergence]
    DIRECTIONS[direction]
    fam = family if isinstance(family, Family2) else FAMILIES_2D[family]
    if kind.has_alpha:
        if alpha_ is None or not np.isfinite(alpha_):
            raise ValueError("the alpha-divergence needs a finite alpha")
        a = forward_alpha(alpha_, direction)
        return Divergence2(divergence, direction, fam, functools.partial(alpha, a=a), (1.0 - a, a),
                           alpha=float(alpha_))
    fn, tails = {
        ("kl", "forward"): (kl_forward, None),
        ("kl", "reverse"): (kl_reverse, None),
        ("chi2", "forward"): (chi2_forward, (-1.0, 2.0)),
        ("chi2", "reverse"): (chi2_reverse, (2.0, -1.0)),
    }[divergence, direction]
    return Divergence2(divergence, direction, fam, fn, tails, moment_matching=fn is kl_forward)
