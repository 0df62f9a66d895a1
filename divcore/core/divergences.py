"""Divergence values and exact gradients between the target p and q = N(mean, std^2).

All functions are vectorised over the shape of `mean` and `std`; gradients are
with respect to theta = (mean, log std) and carry a trailing axis of size 2.

How each is computed:

| divergence | value | gradient |
|---|---|---|
| KL(p ‖ q)  | closed form but for the entropy of p (one quadrature per target) | closed form (moments of p) |
| KL(q ‖ p)  | -H(q) - E_q[log p] by quadrature | -E_q[d/dx log p] (1, x - mean), pathwise, by quadrature |
| chi2(p ‖ q) | closed form: p^2/q is a sum of C^2 Gaussian exponentials | closed form |
| chi2(q ‖ p) | ∫ q^2/p by quadrature | 2 E_q[(q/p) grad log q] by quadrature |

| D_a(p ‖ q)  | Amari's alpha-divergence, by quadrature | -(1/a) E_q[(p/q)^a grad log q] by quadrature |

chi2 is Pearson's, chi2(a ‖ b) = ∫ a^2/b - 1. Where it is infinite is decided
from the variances alone: ∫ p^2/q diverges iff std^2 <= s_max^2 / 2 and
∫ q^2/p diverges iff std^2 >= 2 s_max^2 (s_max the widest component of p).
There the value is `inf` and the gradient `nan`.

The alpha-divergence (Amari; Minka 2005) is
D_a(p ‖ q) = 1/(a(1-a)) ∫ [a p + (1-a) q - p^a q^(1-a)] dx, which for normalised
p and q is (1 - ∫ p^a q^(1-a)) / (a(1-a)). a -> 1 gives KL(p ‖ q), a -> 0 gives
KL(q ‖ p), a = 2 and a = -1 give half of chi2(p ‖ q) and chi2(q ‖ p). It is
computed without cancellation for every a, the limits included: with
r = log p - log q, 1 - ∫ p^a q^(1-a) = -E_q[expm1(a r)] for a <= 1/2 and
-E_p[expm1(-(1-a) r)] above, and expm1(a t)/a is exactly t at a = 0. It is
finite iff a/s_max^2 + (1-a)/std^2 > 0 (always for 0 <= a <= 1). D_a(q ‖ p) is
D_(1-a)(p ‖ q).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from . import alpha as alpha_terms
from . import interpolant, quadrature
from .registry import Registry
from .family import logpdf as q_logpdf
from .target import LOG_SQRT_2PI, Mixture

_CHUNK = 1024  # states per quadrature batch in Divergence.value


def _distinct(mean, std):
    """The distinct (mean, std) states of flat arrays, and where each state is
    among them: members repeat a state (a run's members share their start,
    one that has converged repeats its last). Only states whose mean some
    other state has too can repeat, and a run's are few: a sort of the means
    finds them (a twentieth of the cost of sorting the pairs, which then sorts
    those few); the others are taken as they come."""
    ordered = np.sort(mean)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not repeated.size:
        return mean, std, np.arange(mean.size)
    repeated = np.unique(repeated)
    at = np.minimum(np.searchsorted(repeated, mean), repeated.size - 1)
    shared = repeated[at] == mean
    alone = np.flatnonzero(~shared)
    key = np.empty(int(shared.sum()), complex)  # mean + 1j * std would make 0 * inf = nan of an infinite std
    key.real, key.imag = mean[shared], std[shared]
    states, inverse_shared = np.unique(key, return_inverse=True, equal_nan=False)
    inverse = np.empty(mean.size, dtype=np.intp)
    inverse[alone] = np.arange(alone.size)
    inverse[shared] = alone.size + inverse_shared
    return np.concatenate([mean[alone], states.real]), np.concatenate([std[alone], states.imag]), inverse


def _at_least_zero(value):
    """A divergence's values as a float array: >= 0, where rounding near q = p can give -1e-11."""
    return np.maximum(np.asarray(value, float), 0.0)


def _arrays(mean, std):
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    return mean, std


# ---------------------------------------------------------------- E_q[f(log p)]


def _q_rule(p: Mixture, mean, std) -> quadrature.Rule:
    """A rule whose weights carry q, so rule.total(f) ~= E_q[f]."""
    r = quadrature.rule(p, mean, std, (1.0, 0.0))
    w = q_logpdf(r.x, r.of(mean), r.of(std))
    np.exp(w, out=w)
    w *= r.w
    return r._replace(w=w)


def expected_logp(p: Mixture, mean, std):
    """E_q[log p] for q = N(mean, std^2)."""
    mean, std = _arrays(mean, std)
    r = _q_rule(p, mean, std)
    return r.total(p.logpdf(r.x))


@lru_cache(maxsize=64)
def entropy(p: Mixture) -> float:
    """H(p) = -sum_j w_j E_{N_j}[log p]: each component is a Gaussian, so the q-rule applies."""
    return float(-(p.weights * expected_logp(p, p.means, p.stds)).sum())


def gaussian_entropy(std):
    return 0.5 + LOG_SQRT_2PI + np.log(std)


# ---------------------------------------------------------------- KL


def kl_forward(p: Mixture, mean, std):
    mean, std = _arrays(mean, std)
    return -entropy(p) + np.log(std) + LOG_SQRT_2PI + 0.5 * p.second_moment_about(mean) / std**2


def kl_forward_grad(p: Mixture, mean, std):
    mean, std = _arrays(mean, std)
    var = std**2
    return np.stack([(mean - p.mean()) / var, 1.0 - p.second_moment_about(mean) / var], axis=-1)


def kl_reverse(p: Mixture, mean, std):
    mean, std = _arrays(mean, std)
    return -gaussian_entropy(std) - expected_logp(p, mean, std)


def _kl_reverse_grad_at(r: quadrature.Rule, mean, slope):
    return np.stack([-r.total(slope), -1.0 - r.total(slope * (r.x - r.of(mean)))], axis=-1)


def kl_reverse_grad(p: Mixture, mean, std):
    """-E_q[(d/dx log p) (1, x - mean)] - (0, 1), pathwise."""
    mean, std = _arrays(mean, std)
    r = _q_rule(p, mean, std)
    _, slope = p.logpdf_and_dx(r.x)
    return _kl_reverse_grad_at(r, mean, slope)


def kl_reverse_value_and_grad(p: Mixture, mean, std):
    """Both from one rule and one pass of log p and its slope (the bits of each alone)."""
    mean, std = _arrays(mean, std)
    r = _q_rule(p, mean, std)
    logp, slope = p.logpdf_and_dx(r.x)
    return -gaussian_entropy(std) - r.total(logp), _kl_reverse_grad_at(r, mean, slope)


# ---------------------------------------------------------------- chi2(p || q), closed form


def chi2_forward_finite(p: Mixture, std):
    """∫ p^2/q < inf iff every exponent a_ij = 1/s_i^2 + 1/s_j^2 - 1/std^2 is > 0
    (iff std^2 > s_max^2 / 2), decided with the very arithmetic the closed form
    uses, so a std a few ulps from the edge can never pass here and fail there."""
    c = 1.0 / p.stds**2
    return (np.min(c[:, None] + c[None, :]) + -1.0 / np.asarray(std, float) ** 2) > 0


def _chi2_forward_terms(p: Mixture, mean, std):
    """log T_ij, with T_ij = ∫ w_i N_i w_j N_j / q, and the mean and precision of the
    Gaussian r_ij ∝ N_i N_j / q (grad log T_ij = E_r[-grad log q])."""
    ok = chi2_forward_finite(p, std)
    std = np.where(ok, std, p.max_std)  # placeholder where infinite; overwritten by callers
    mi, mj = p.means[:, None], p.means[None, :]
    ci, cj = 1.0 / p.stds[:, None] ** 2, 1.0 / p.stds[None, :] ** 2
    mu = mean[..., None, None]
    cq = -1.0 / std[..., None, None] ** 2
    a = ci + cj + cq
    # the minimum of sum_k c_k (x - m_k)^2, written without cancellation
    resid = (ci * cj * (mi - mj) ** 2 + ci * cq * (mi - mu) ** 2 + cj * cq * (mj - mu) ** 2) / a
    centre = (ci * mi + cj * mj + cq * mu) / a
    logw = np.log(p.weights)
    log_t = (
        logw[:, None] + logw[None, :] - np.log(p.stds)[:, None] - np.log(p.stds)[None, :]
        + np.log(std)[..., None, None] - 0.5 * np.log(a) - 0.5 * resid
    )
    return ok, log_t, centre, a


def _lse(a, axes):
    top = a.max(axis=axes, keepdims=True)
    return np.squeeze(top, axis=axes) + np.log(np.exp(a - top).sum(axis=axes))


def chi2_forward(p: Mixture, mean, std):
    mean, std = _arrays(mean, std)
    ok, log_t, _, _ = _chi2_forward_terms(p, mean, std)
    with np.errstate(over="ignore"):
        return np.where(ok, np.expm1(_lse(log_t, (-2, -1))), np.inf)


def chi2_forward_grad(p: Mixture, mean, std):
    mean, std = _arrays(mean, std)
    ok, log_t, centre, a = _chi2_forward_terms(p, mean, std)
    sd = np.where(ok, std, p.max_std)[..., None, None]
    var = sd**2
    d = centre - mean[..., None, None]
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.exp(log_t)
        g_mu = (t * (-d / var)).sum((-2, -1))
        g_ls = (t * (1.0 - (d * d + 1.0 / a) / var)).sum((-2, -1))
    g = np.stack([g_mu, g_ls], axis=-1)
    return np.where(ok[..., None], g, np.nan)


# ---------------------------------------------------------------- chi2(q || p), quadrature


def _widest(p: Mixture) -> int:
    """The widest component (the heaviest among exact ties): it owns p's tails."""
    return int(np.lexsort((p.weights, p.stds))[-1])


def _chi2_reverse_exponent(p: Mixture, std):
    """a = 2/std^2 - 1/s^2 of q^2 / (w N) for the widest component N."""
    s = p.stds[_widest(p)]
    return 2.0 / np.asarray(std, float) ** 2 - 1.0 / s**2


def chi2_reverse_finite(p: Mixture, std):
    """∫ q^2/p < inf iff std^2 < 2 s_max^2, decided as a > 0 with the arithmetic
    of the quadrature's envelope."""
    return _chi2_reverse_exponent(p, std) > 0


def _chi2_reverse_parts(p: Mixture, mean, std):
    """The rule over q^2/p's mass, the integrand's value times the weight at each
    node, and q's standardised coordinate there."""
    ok = chi2_reverse_finite(p, std)
    std = np.where(ok, std, 0.5 * p.max_std)  # a placeholder where infinite; masked by callers
    r = quadrature.rule(p, mean, std, (2.0, -1.0))
    m, s = r.of(mean), r.of(std)
    with np.errstate(over="ignore"):
        # an integrand beyond float range overflows to inf honestly
        f = r.w * np.exp(2.0 * q_logpdf(r.x, m, s) - p.logpdf(r.x))
    return ok, r, f, (r.x - m) / s, std


def _chi2_reverse_value_at(ok, r, f):
    with np.errstate(over="ignore"):  # a finite integral beyond float range is reported as inf
        return np.where(ok, r.sum(f) - 1.0, np.inf)


def _chi2_reverse_grad_at(ok, r, f, eps, sd):
    with np.errstate(invalid="ignore", over="ignore"):
        g = 2.0 * np.stack([r.sum(f * eps) / sd, r.sum(f * (eps * eps - 1.0))], axis=-1)
    return np.where(ok[..., None], g, np.nan)


def chi2_reverse(p: Mixture, mean, std):
    ok, r, f, _, _ = _chi2_reverse_parts(p, *_arrays(mean, std))
    return _chi2_reverse_value_at(ok, r, f)


def chi2_reverse_grad(p: Mixture, mean, std):
    return _chi2_reverse_grad_at(*_chi2_reverse_parts(p, *_arrays(mean, std)))


def chi2_reverse_value_and_grad(p: Mixture, mean, std):
    parts = _chi2_reverse_parts(p, *_arrays(mean, std))
    return _chi2_reverse_value_at(*parts[:3]), _chi2_reverse_grad_at(*parts)


# ---------------------------------------------------------------- alpha-divergence D_a(p || q)


def _alpha_exponent(p: Mixture, std, a: float):
    """Precision of (w N)^a q^(1-a) for p's widest component N: the integrand's tails."""
    s = p.stds[_widest(p)]
    return a / s**2 + (1.0 - a) / np.asarray(std, float) ** 2


def alpha_finite(p: Mixture, std, a: float):
    """∫ p^a q^(1-a) < inf iff the tail exponent is positive (for a outside [0, 1]
    p's widest component owns the tails: p^a ~ (w N)^a there)."""
    return _alpha_exponent(p, std, a) > 0


def _alpha_parts(p: Mixture, mean, std, a: float):
    """The rule over the mass of p^a q^(1-a) and of the density it is compared
    with (q for a <= 1/2, p above), with log q, log p, q's standardised
    coordinate and q's std at each node."""
    ok = alpha_finite(p, std, a)
    std = np.where(ok, std, p.max_std)  # a placeholder where infinite; masked by callers
    r = quadrature.rule(p, mean, std, (1.0 - a, a), (1.0, 0.0) if a <= 0.5 else (0.0, 1.0))
    m, s = r.of(mean), r.of(std)
    return ok, r, q_logpdf(r.x, m, s), p.logpdf(r.x), (r.x - m) / s, s


def _alpha_value_at(a, ok, rule, logq, logp, *_):
    with np.errstate(over="ignore", invalid="ignore"):
        term, scale = alpha_terms.value_terms(logq, logp, a)
        value = rule.total(term) / scale
    return np.where(ok, value, np.inf)


def _alpha_grad_at(a, ok, rule, logq, logp, eps, s):
    """-(1/a) ∫ p^a q^(1-a) grad log q dx, written for a near 0 as
    -E_q[expm1(a r)/a grad log q] (E_q[grad log q] = 0), which tends to the
    reverse-KL gradient -E_q[r grad log q]."""
    score = (eps / s, eps * eps - 1.0)  # d log q / d(mean, log std)
    with np.errstate(over="ignore", invalid="ignore"):
        c = alpha_terms.score_weights(logq, logp, a)
        g = -np.stack([rule.total(c * score[0]), rule.total(c * score[1])], axis=-1)
    return np.where(ok[..., None], g, np.nan)


def alpha_value(p: Mixture, mean, std, a: float):
    return _alpha_value_at(a, *_alpha_parts(p, *_arrays(mean, std), a))


def alpha_grad(p: Mixture, mean, std, a: float):
    return _alpha_grad_at(a, *_alpha_parts(p, *_arrays(mean, std), a))


def alpha_value_and_grad(p: Mixture, mean, std, a: float):
    parts = _alpha_parts(p, *_arrays(mean, std), a)
    return _alpha_value_at(a, *parts), _alpha_grad_at(a, *parts)


# ---------------------------------------------------------------- the registries


def forward_alpha(alpha: float, direction: str) -> float:
    """The a of D_a(p ‖ q) that a run's alpha-divergence is: D_a(q ‖ p) = D_(1-a)(p ‖ q).
    Everything that works with the forward form (values, gradients, estimators,
    the weight curve) maps a run's alpha through here."""
    return float(alpha) if direction == "forward" else 1.0 - float(alpha)


@dataclass(frozen=True)
class Divergence:
    """One divergence in one direction, as a function of q's (mean, std)."""

    divergence: str
    direction: str
    value_fn: object
    grad_fn: object
    finite_fn: object | None = None
    alpha: float | None = None  # the alpha-divergence's a, as the run gives it
    # the only minimum over the Gaussians is the one with p's mean and variance
    moment_matching: bool = False
    by_quadrature: bool = True  # its value is a quadrature per state (else a closed form)
    # (value, grad) from one quadrature, where the two share it
    value_and_grad_fn: object | None = None

    def value(self, p: Mixture, mean, std):
        """The divergence at every (mean, std). A large batch of finite states
        whose value is a quadrature goes through `interpolant.values` (a
        run's record: 10^5 states from about 10^3 quadratures)."""
        mean, std = _arrays(mean, std)
        if mean.size <= _CHUNK:
            out = np.asarray(self.value_fn(p, mean, std), float)
        elif not self.by_quadrature:
            out = self._direct(p, mean.ravel(), std.ravel()).reshape(mean.shape)
        else:
            flat_m, flat_s = mean.ravel(), std.ravel()
            out = np.full(flat_m.shape, np.inf)
            ok = np.asarray(self.finite(p, flat_s))
            m, s, inverse = _distinct(flat_m[ok], flat_s[ok])
            out[ok] = interpolant.values(functools.partial(self._chunked, p), m, s)[inverse]
            out = out.reshape(mean.shape)
        return _at_least_zero(out)

    def _direct(self, p: Mixture, mean, std):
        """value_fn at every state of flat arrays, each distinct state once."""
        m, s, inverse = _distinct(mean, std)
        return self._chunked(p, m, s)[inverse]

    def _chunked(self, p: Mixture, mean, std):
        """value_fn at every state of flat arrays, a chunk at a time so the
        quadrature's arrays stay small."""
        out = np.empty(mean.shape)
        for i in range(0, mean.size, _CHUNK):
            out[i : i + _CHUNK] = self.value_fn(p, mean[i : i + _CHUNK], std[i : i + _CHUNK])
        return out

    def grad(self, p: Mixture, mean, std):
        return self.grad_fn(p, mean, std)

    def value_and_grad(self, p: Mixture, mean, std):
        """`value` and `grad` at a batch of states (the bits of each), from one
        quadrature where the two share it: a search (`core.optima`) wants both
        at every point it tries."""
        mean, std = _arrays(mean, std)
        if self.value_and_grad_fn is None or mean.size > _CHUNK:
            return self.value(p, mean, std), self.grad(p, mean, std)
        value, grad = self.value_and_grad_fn(p, mean, std)
        return _at_least_zero(value), grad

    def finite_std_range(self, p: Mixture) -> tuple[float, float]:
        """The open interval of q's std where the divergence is finite."""
        s = float(p.stds[_widest(p)])
        if self.divergence == "chi2":
            return (s / np.sqrt(2.0), np.inf) if self.direction == "forward" else (0.0, np.sqrt(2.0) * s)
        if self.divergence == "alpha":
            a = forward_alpha(self.alpha, self.direction)
            if a > 1.0:
                return np.sqrt((a - 1.0) / a) * s, np.inf
            if a < 0.0:
                return 0.0, np.sqrt((a - 1.0) / a) * s
        return 0.0, np.inf

    def finite(self, p: Mixture, std):
        """Where the divergence is finite (decided from the variances alone)."""
        if self.finite_fn is None:
            return np.ones(np.shape(std), dtype=bool)
        return self.finite_fn(p, std)


@dataclass(frozen=True)
class Direction:
    """Which way round p and q go, with its argument list in each notation."""

    key: str
    label: str
    doc: str
    plain: str  # Unicode, for readouts
    tex: str  # TeX (matplotlib mathtext and the site's MathML)
    markup: str  # Pango markup, for videos


DIRECTIONS = Registry("direction", (
    Direction("forward", "forward", "D(p || q)", "(p‖q)", r"(p\,\|\,q_\phi)", "(p ‖ q<sub>φ</sub>)"),
    Direction("reverse", "reverse", "D(q || p)", "(q‖p)", r"(q_\phi\,\|\,p)", "(q<sub>φ</sub> ‖ p)"),
))

_SUBSCRIPT = str.maketrans("0123456789-.", "₀₁₂₃₄₅₆₇₈₉₋.")


@dataclass(frozen=True)
class Kind:
    """A divergence (both directions): its symbol in each notation, and how to
    make its value and exact gradient for one direction."""

    key: str
    label: str
    doc: str
    plain: str
    tex: str
    markup: str
    make: Callable[[str, float | None], Divergence]  # (direction, alpha) -> Divergence
    # the power of w = p/q by which importance sampling of D(p ‖ q) weights its samples
    weight_power: Callable[[float | None], float]
    has_alpha: bool = False  # takes the run's `alpha`

    def symbol(self, notation: str, alpha: float | None = None) -> str:
        """e.g. KL, \\chi^2, D₀.₅ or D_{0.5}: `notation` is plain, tex or markup."""
        base = getattr(self, notation)
        if not self.has_alpha:
            return base
        a = f"{alpha:g}"
        return {"plain": base + a.translate(_SUBSCRIPT), "tex": f"{base}_{{{a}}}",
                "markup": f"{base}<sub>{a}</sub>"}[notation]

    def formula(self, direction: str, notation: str, alpha: float | None = None) -> str:
        """The divergence of a run, e.g. KL(q‖p) or \\chi^2(p\\,\\|\\,q_\\phi)."""
        return self.symbol(notation, alpha) + getattr(DIRECTIONS[direction], notation)


def _fixed(direction: str, alpha: float | None, pair: dict) -> Divergence:
    return pair[direction]


def _alpha(direction: str, alpha: float | None) -> Divergence:
    """D_a(p ‖ q) forward; D_a(q ‖ p) = D_(1-a)(p ‖ q) reverse."""
    DIRECTIONS[direction]
    if alpha is None:
        raise ValueError("the alpha-divergence needs alpha")
    a = float(alpha)
    if not np.isfinite(a):
        raise ValueError(f"alpha must be finite, got {a}")
    b = forward_alpha(a, direction)
    return Divergence(
        "alpha", direction,
        functools.partial(alpha_value, a=b), functools.partial(alpha_grad, a=b),
        functools.partial(alpha_finite, a=b), alpha=a, value_and_grad_fn=functools.partial(alpha_value_and_grad, a=b),
    )


_KL = {"forward": Divergence("kl", "forward", kl_forward, kl_forward_grad, moment_matching=True,
                             by_quadrature=False),
       "reverse": Divergence("kl", "reverse", kl_reverse, kl_reverse_grad,
                             value_and_grad_fn=kl_reverse_value_and_grad)}
_CHI2 = {"forward": Divergence("chi2", "forward", chi2_forward, chi2_forward_grad, chi2_forward_finite,
                               by_quadrature=False),
         "reverse": Divergence("chi2", "reverse", chi2_reverse, chi2_reverse_grad, chi2_reverse_finite,
                               value_and_grad_fn=chi2_reverse_value_and_grad)}

DIVERGENCES = Registry("divergence", (
    Kind("kl", "Kullback–Leibler divergence", "Kullback-Leibler", "KL", r"\mathrm{KL}", "KL",
         functools.partial(_fixed, pair=_KL), lambda a: 1.0),
    Kind("chi2", "Pearson chi-square divergence", "Pearson's chi-square", "χ²", r"\chi^2",
         "χ<sup>2</sup>", functools.partial(_fixed, pair=_CHI2), lambda a: 2.0),
    Kind("alpha", "alpha-divergence", "Amari's alpha-divergence (set alpha)", "D", "D", "D", _alpha,
         lambda a: a, has_alpha=True),
))


def pairs() -> tuple[tuple[str, str], ...]:
    """Every (divergence, direction)."""
    return tuple((k, d) for k in DIVERGENCES for d in DIRECTIONS)


def alpha(a: float, direction: str = "forward") -> Divergence:
    return _alpha(direction, a)


def get(divergence: str, direction: str, alpha: float | None = None) -> Divergence:
    """`alpha` is needed, and only used, for a divergence that takes it."""
    kind = DIVERGENCES[divergence]
    DIRECTIONS[direction]
    return kind.make(direction, alpha if kind.has_alpha else None)
