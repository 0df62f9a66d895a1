"""Gradient estimators, one function each.

Every estimator takes one signature, `fn(p, mean, std, noise, **options)`: the
target p, q's (mean, std) of shape (B,), the step's `Noise` (standard normals
of shape (B, K), and uniforms for estimators that sample p) and the options
its registry entry declares (bound by `bind` when a run is resolved). It
returns an `Estimate` with the per-sample terms, so that variance can be
measured and renderers can draw each particle's contribution.

`ESTIMATORS` is the registry: each entry's key, its labels, its options and
the function it uses for each (divergence, direction) it applies to. A new
estimator is a function here and an entry in `ESTIMATORS`; the scenario
format, the schema, the diagnostics and every label follow from the entry.

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

import functools
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple

import numpy as np

from . import divergences
from .bivariate import estimators as planar
from .baselines import BASELINE, advantage
from .registry import Option, Registry
from .target import LOG_SQRT_2PI, MINUS_HALF, Mixture
from .weights import ess as _ess, normalised as _normalised


class Noise(NamedTuple):
    """One step's randomness for B members and K samples."""

    normal: np.ndarray  # (B, K) standard normals
    uniform: np.ndarray | None = None  # (B, K) uniforms on [0, 1), for estimators that sample p


class Estimate(NamedTuple):
    grad: np.ndarray  # (B, 2), the mean over samples of the per-sample terms
    parts: tuple[np.ndarray, np.ndarray]  # per-sample terms of d/dmean and d/dlog std, each (B, K)
    particles: np.ndarray  # (B, K)
    coef: np.ndarray  # (B, K)
    logw: np.ndarray  # (B, K) log p/q at the particles, up to a constant per row

    @property
    def ess(self) -> np.ndarray:
        """(B,) 1 / sum(wbar^2), wbar ∝ p/q at the particles. Not computed by the
        step itself: nothing moves by it, so the recorder takes it for a chunk of
        steps at once (`weights.ess` of the rows of logw)."""
        return _ess(self.logw)

    @property
    def terms(self) -> np.ndarray:
        """Per-sample terms as one (B, K, 2) array: grad = terms.mean(axis=1)."""
        return np.stack(self.parts, axis=-1)


def _q_draw(mean, std, eps):
    """Particles z ~ q and log q(z), reusing eps."""
    s = std[:, None]
    z = mean[:, None] + s * eps
    logq = (MINUS_HALF * eps) * eps - (np.log(std) + LOG_SQRT_2PI)[:, None]
    return z, logq


def _score_parts(c, eps, std):
    """Per-sample terms c_i * score_i, score = (eps / std, eps^2 - 1)."""
    ce = c * eps
    return ce / std[:, None], ce * eps - c


def _finish(parts, z, coef, logw):
    B, K = z.shape
    grad = np.empty((B, 2))
    np.add.reduce(parts[0], axis=1, out=grad[:, 0])
    np.add.reduce(parts[1], axis=1, out=grad[:, 1])
    grad /= K
    return Estimate(grad, parts, z, coef, logw)


def kl_forward_is(p: Mixture, mean, std, noise: Noise) -> Estimate:
    """Self-normalised importance sampling from q for the forward-KL gradient.

    Identity: grad KL(p ‖ q) = -E_p[grad log q(x)] = -E_q[(p/q) grad log q] / E_q[p/q].
    Estimate: -sum_i wbar_i grad log q(z_i), wbar_i ∝ p(z_i)/q(z_i), z_i ~ q.
    Consistent as K grows, biased for finite K.
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    wbar = _normalised(logw)
    K = eps.shape[1]
    return _finish(_score_parts(-K * wbar, eps, std), z, wbar, logw)


def kl_forward_data(p: Mixture, mean, std, noise: Noise) -> Estimate:
    """Maximum likelihood: samples from p itself.

    Identity: grad KL(p ‖ q) = -E_p[grad log q(x)].
    Estimate: -(1/K) sum_i grad log q(x_i), x_i ~ p. Unbiased.
    """
    eps = noise.normal
    x = p.sample(eps, noise.uniform)
    m, s = mean[:, None], std[:, None]
    e = (x - m) / s
    logq = MINUS_HALF * e * e - np.log(s) - LOG_SQRT_2PI
    K = eps.shape[1]
    # the score terms with c = -1: (-e / std, 1 - e^2), the bits of _score_parts(-1, e, std)
    minus_e = -e
    parts = (minus_e / std[:, None], minus_e * e + 1.0)
    return _finish(parts, x, np.full_like(e, 1.0 / K), p.logpdf(x) - logq)


def kl_reverse_reinforce(p: Mixture, mean, std, noise: Noise, baseline: str = "none") -> Estimate:
    """Score function (REINFORCE) estimator of the reverse-KL gradient.

    Identity: grad KL(q ‖ p) = E_q[(log q(z) - log p(z) - b) grad log q(z)] for any
    b not depending on z, because E_q[grad log q] = 0.
    The baseline b is one of `baselines.BASELINE`'s (none, the textbook's +1,
    leave-one-out); each keeps the estimate unbiased. Unbiased.
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logp = p.logpdf(z)
    f = logq - logp
    K = eps.shape[1]
    adv = advantage(f, baseline)
    return _finish(_score_parts(adv, eps, std), z, -adv / K, -f)


def kl_reverse_reparam(p: Mixture, mean, std, noise: Noise) -> Estimate:
    """Pathwise (reparameterization) estimator of the reverse-KL gradient.

    Identity: with z = mean + std * eps, KL(q ‖ p) = -H(q) - E_eps[log p(z)] and
    H(q) = log std + const, so
    grad KL = (-E[d/dz log p(z)], -1 - E[std * eps * d/dz log p(z)]);
    the entropy term is exact, only the target term is sampled. Unbiased.
    `coef` is std * sign(eps_i) * d/dz log p(z_i) / K: positive when the
    particle pulls the mean toward itself.
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logp, slope = p.logpdf_and_dx(z)
    s = std[:, None]
    parts = (-slope, -1.0 - s * eps * slope)
    K = eps.shape[1]
    return _finish(parts, z, s * np.sign(eps) * slope / K, logp - logq)


def kl_reverse_stl(p: Mixture, mean, std, noise: Noise) -> Estimate:
    """Pathwise estimator of the reverse-KL gradient that "sticks the landing"
    (Roeder, Wu & Duvenaud, 2017).

    Identity: with z = mean + std * eps, KL(q ‖ p) = E_eps[log q_theta(z) - log p(z)],
    and its gradient through both the path z(theta) and q's own parameters is
    grad KL = E_eps[(d/dz log q(z) - d/dz log p(z)) dz/dtheta] + E_q[grad_theta log q_theta(z)],
    whose last term, the score at fixed z, is zero. Dropping it leaves, with
    dz/dmean = 1, dz/dlog std = std * eps and d/dz log q = -eps / std,
    grad KL = E[(-(eps/std + s(z)), -std * eps * (eps/std + s(z)))], s = d/dz log p.
    Unbiased. Where p is in the family and q = p, s(z) = -eps/std and every
    term is zero: the estimate's variance vanishes at the optimum, while the
    `reparam` estimator's terms there are (eps/std, eps^2 - 1), of variance
    (1/std^2, 2) per sample.
    `coef` is the particle's pull on the mean, std * sign(eps_i) * (eps_i/std + s(z_i)) / K,
    with the sign convention of `kl_reverse_reparam`.
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logp, slope = p.logpdf_and_dx(z)
    s = std[:, None]
    pull = eps / s + slope  # -(d/dz)(log q - log p): how far the sample pulls z
    K = eps.shape[1]
    return _finish((-pull, -s * eps * pull), z, s * np.sign(eps) * pull / K, logp - logq)


def chi2_forward_is(p: Mixture, mean, std, noise: Noise) -> Estimate:
    """Self-normalised importance sampling for the forward chi-square gradient.

    Identity: grad chi2(p ‖ q) = -E_q[(p/q)^2 grad log q]
                               = -E_q[w^2 grad log q] / E_q[w]^2 (w = p/q, E_q[w] = 1).
    Estimate: -K sum_i wbar_i^2 grad log q(z_i): squared self-normalised
    weights, so the ratio is consistent for unnormalised p. Biased for finite K.
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    wbar = _normalised(logw)
    K = eps.shape[1]
    c = K * wbar * wbar
    return _finish(_score_parts(-K * c, eps, std), z, c, logw)


def chi2_reverse_score(p: Mixture, mean, std, noise: Noise) -> Estimate:
    """Score estimator of the reverse chi-square gradient.

    Identity: grad ∫ q^2/p = ∫ 2 q grad q / p = 2 E_q[(q/p) grad log q].
    Estimate: (2/K) sum_i (q/p)(z_i) grad log q(z_i). Unbiased. Every
    coefficient is negative: q is only ever pushed away from its samples.
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    K = eps.shape[1]
    # q/p can overflow far in p's tails: the estimate is then honestly non-finite
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = np.exp(-logw)
        return _finish(_score_parts(2.0 * ratio, eps, std), z, -2.0 * ratio / K, logw)


def alpha_is(p: Mixture, mean, std, noise: Noise, alpha: float) -> Estimate:
    """Importance sampling from q for the alpha-divergence gradient D_a(p ‖ q).

    Identity: grad D_a = -(1/a) E_q[(p/q)^a grad log q]
                       = -E_q[(expm1(a r) / a) grad log q],  r = log p - log q,
    since E_q[grad log q] = 0. The second form stays finite as a -> 0, where it
    is the reverse-KL score-function identity, and at a = 1 it is plain
    (not self-normalised) importance sampling of the forward-KL gradient.
    Estimate: -(1/K) sum_i expm1(a r_i)/a grad log q(z_i), z_i ~ q. Unbiased.
    `alpha` is the a of D_a(p ‖ q) (`bind` maps a reverse run's alpha to 1 - a).
    """
    eps = noise.normal
    z, logq = _q_draw(mean, std, eps)
    logw = p.logpdf(z) - logq
    K = eps.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        k = logw if alpha == 0.0 else np.expm1(alpha * logw) / alpha
        return _finish(_score_parts(-k, eps, std), z, k / K, logw)


# ---------------------------------------------------------------- the registry

EXACT = "exact"

@dataclass(frozen=True)
class Estimator:
    """A gradient estimator: its key, its labels, its options, and the function
    it uses for each (divergence, direction) it applies to (None for `exact`,
    which is the divergence's own gradient)."""

    key: str
    label: str  # short, for figure titles: "REINFORCE"
    long_label: str  # for tables: "REINFORCE (score function)"
    doc: str
    methods: Mapping[tuple[str, str], Callable | None]
    # the same estimator on the plane, fn(p, fam, mean, L, noise, **options) (see core/bivariate)
    planar: Mapping[tuple[str, str], Callable | None] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    needs_uniforms: bool = False  # samples p as well as q
    # its samples are weighted by (p/q)^power, which the renderers draw as a curve
    draws_weights: bool = False
    # a long label for particular (divergence, direction)s
    long_labels: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @property
    def monte_carlo(self) -> bool:
        return self.key != EXACT

    def long_label_for(self, divergence: str, direction: str) -> str:
        return self.long_labels.get((divergence, direction), self.long_label)

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


ESTIMATORS = Registry("estimator", (
    Estimator(EXACT, "exact gradient", "exact gradient",
              "the deterministic gradient (closed form, else quadrature)",
              {pair: None for pair in divergences.pairs()}, {pair: None for pair in divergences.pairs()}),
    Estimator("is", "importance sampling", "self-normalised importance sampling",
              "importance sampling from q",
              {("kl", "forward"): kl_forward_is, ("chi2", "forward"): chi2_forward_is,
               ("alpha", "forward"): alpha_is, ("alpha", "reverse"): alpha_is},
              {("kl", "forward"): planar.kl_forward_is, ("chi2", "forward"): planar.chi2_forward_is,
               ("alpha", "forward"): planar.alpha_is, ("alpha", "reverse"): planar.alpha_is},
              draws_weights=True,
              # alpha's weights (p/q)^a are not normalised
              long_labels={("alpha", "forward"): "importance sampling", ("alpha", "reverse"): "importance sampling"}),
    Estimator("data", "samples from p", "samples from p (maximum likelihood)",
              "K samples drawn from p: maximum likelihood",
              {("kl", "forward"): kl_forward_data}, {("kl", "forward"): planar.kl_forward_data},
              needs_uniforms=True),
    Estimator("reinforce", "REINFORCE", "REINFORCE (score function)", "score function (REINFORCE)",
              {("kl", "reverse"): kl_reverse_reinforce}, {("kl", "reverse"): planar.kl_reverse_reinforce},
              options=(BASELINE,)),
    Estimator("reparam", "reparameterization", "reparameterization (pathwise)", "pathwise (reparameterization)",
              {("kl", "reverse"): kl_reverse_reparam}, {("kl", "reverse"): planar.kl_reverse_reparam}),
    Estimator("stl", "sticking the landing", "sticking the landing (pathwise, score term dropped)",
              "pathwise with the score term dropped: zero variance where q = p (Roeder et al. 2017)",
              {("kl", "reverse"): kl_reverse_stl}, {("kl", "reverse"): planar.kl_reverse_stl}),
    Estimator("score", "score function", "score function, weighted by q/p", "score weighted by q/p",
              {("chi2", "reverse"): chi2_reverse_score}, {("chi2", "reverse"): planar.chi2_reverse_score}),
))


def for_pair(divergence: str, direction: str) -> tuple[str, ...]:
    """The estimators that apply to a divergence and direction, exact first."""
    return tuple(e.key for e in ESTIMATORS.values() if (divergence, direction) in e.methods)


def bind(divergence: str, direction: str, estimator: str, alpha: float | None = None, dim: int = 1,
         **options) -> Callable[[Mixture, np.ndarray, np.ndarray, Noise], Estimate]:
    """The Monte Carlo estimator of a resolved run as fn(p, mean, std, noise)
    (on the plane, dim = 2: fn(p, fam, mean, L, noise)): the options it
    declares bound (others must be at their defaults) and a divergence's alpha
    bound as the a of D_a(p ‖ q)."""
    est = ESTIMATORS[estimator]
    try:
        fn = (est.methods if dim == 1 else est.planar)[divergence, direction]
    except KeyError:
        raise ValueError(f"estimator {estimator!r} does not apply to {divergence} {direction}; "
                         f"allowed: {', '.join(for_pair(divergence, direction))}") from None
    if fn is None:
        raise ValueError("the exact gradient is the divergence's own (divergences.get(...).grad)")
    bound = {}
    for key, value in options.items():
        opt = est.option(key)
        if opt is None:
            if value is not None and value != _default(key):
                raise ValueError(f"estimator {estimator!r} takes no {key}")
            continue
        bound[key] = opt.choices[value].key
    if divergences.DIVERGENCES[divergence].has_alpha:
        bound["alpha"] = divergences.forward_alpha(alpha, direction)
    return functools.partial(fn, **bound) if bound else fn


def _default(key: str) -> str | None:
    for e in ESTIMATORS.values():
        opt = e.option(key)
        if opt is not None:
            return opt.default
    return None
