"""The core on the plane: the target, q's family and coordinates, divergences
and their exact gradients against an independent trapezoid reference, finite
differences and closed forms, and where they are infinite."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planeref
from divcore.core.bivariate import divergences as D
from divcore.core.bivariate import gaussian as G
from divcore.core.bivariate import optima as O
from divcore.core.bivariate import parameterizations as PZ
from divcore.core.bivariate.target import Mixture2

MEANS = [[-2.0, 0.0], [2.0, 1.0]]
COVS = [[[1.0, 0.6], [0.6, 1.0]], [[0.49, -0.25], [-0.25, 1.44]]]
P = Mixture2.create(MEANS, COVS, [0.4, 0.6])
FAMILIES = ("gaussian", "gaussian-diag")


def cov(sx, sy, r):
    return np.array([[sx * sx, r * sx * sy], [r * sx * sy, sy * sy]])


def fd(fun, theta, h=1e-5):
    """Central differences of a scalar function of theta."""
    out = np.zeros(theta.size)
    for j in range(theta.size):
        e = np.zeros(theta.size)
        e[j] = h
        out[j] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return out


# ---------------------------------------------------------------- the target


def test_mixture_density_gradient_and_samples():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2)) * 2
    assert np.allclose(P.logpdf(x), planeref.mixture_logpdf(x, MEANS, COVS, [0.4, 0.6]), atol=1e-12)
    _, grad = P.logpdf_and_grad(x)
    for i in range(5):
        num = fd(lambda y: float(P.logpdf(y)), x[i])
        assert np.allclose(grad[i], num, atol=1e-7)
    n = 200_000
    s = P.sample(rng.standard_normal((n, 2)), rng.random(n))
    se = np.sqrt(np.diag(P.covariance()) / n)
    assert np.all(np.abs(s.mean(0) - P.mean()) < 4.5 * se)
    assert np.allclose(np.cov(s.T), P.covariance(), rtol=0.02)


@pytest.mark.parametrize("bad", [[[1.0, 0.5], [0.4, 1.0]], [[1.0, 2.0], [2.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]])
def test_covariances_must_be_symmetric_positive_definite(bad):
    with pytest.raises(ValueError, match="symmetric positive definite"):
        Mixture2.create([[0.0, 0.0]], [bad])


# ---------------------------------------------------------------- q and theta


@pytest.mark.parametrize("family", FAMILIES)
def test_score_and_pathwise_terms_are_derivatives(family):
    fam = G.FAMILIES_2D[family]
    rng = np.random.default_rng(1)
    theta = rng.normal(size=fam.size) * 0.5
    mean, L = fam.unpack(theta)
    eps = rng.normal(size=2)
    x = mean + L @ eps
    score = fam.score_parts(eps, L)
    assert np.allclose(score, fd(lambda t: float(G.logpdf(x, *fam.unpack(t))), theta), atol=1e-8)
    path = fam.path_parts(P.logpdf_and_grad(x)[1], eps, L)
    moved = lambda t: float(P.logpdf(fam.unpack(t)[0] + fam.unpack(t)[1] @ eps))  # noqa: E731
    assert np.allclose(path, fd(moved, theta), atol=1e-8)
    assert np.allclose(fam.theta(mean, L), theta)


@pytest.mark.parametrize("family", FAMILIES)
def test_fisher_information_is_the_scores_second_moment(family):
    """Scores are polynomials of degree <= 2 in eps: Gauss-Hermite with 5 nodes per axis is exact."""
    fam = G.FAMILIES_2D[family]
    theta = np.array([0.3, -0.2, 0.2, 0.7, -0.4][: fam.size - 1] + [-0.4])
    _, L = fam.unpack(theta)
    u, w = np.polynomial.hermite_e.hermegauss(5)
    w = w / w.sum()
    eps = np.stack(np.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2)
    weights = np.outer(w, w).ravel()
    s = fam.score_parts(eps, L)
    assert np.allclose(np.einsum("n,ni,nj->ij", weights, s, s), fam.fisher(L), atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("key", ["mean-logcholesky", "natural"])
def test_parameterizations_round_trip_and_chain_rule(family, key):
    fam = G.FAMILIES_2D[family]
    param = PZ.get(key, family)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=fam.size) * 0.5
    mean, L = fam.unpack(theta)
    phi = param.to_phi(mean, L)
    back = param.from_phi(phi)
    assert np.allclose(back[0], mean) and np.allclose(back[1], L)
    assert param.feasible(phi)
    # grad_phi of f(theta(phi)) by the chain rule, against differences in phi
    f = lambda t: float(np.sin(t).sum() + (t**2).sum())  # noqa: E731
    g_theta = np.cos(theta) + 2 * theta
    via_phi = lambda ph: f(fam.theta(*param.from_phi(ph)))  # noqa: E731
    assert np.allclose(param.grad_phi(phi, g_theta), fd(via_phi, phi, 1e-6), atol=1e-6)
    # the natural direction is F_phi^-1 g with F_phi = J^T F_theta J formed explicitly
    J = np.linalg.inv(param.dphi_dtheta(phi))
    F_phi = J.T @ fam.fisher(L) @ J
    g = rng.normal(size=fam.size)
    assert np.allclose(param.natural_direction(phi, g), np.linalg.solve(F_phi, g), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- divergences against the reference


def log_integrand(key, a, mean, L):
    """log of the integrand whose integral gives the divergence (times g = log p / q for KL)."""
    lp = lambda x: planeref.mixture_logpdf(x, MEANS, COVS, [0.4, 0.6])  # noqa: E731
    lq = lambda x: planeref.gauss_logpdf(x, mean, L @ L.T)  # noqa: E731
    return {
        "kl-reverse": lq, "kl-forward": lp,
        "chi2-reverse": lambda x: 2 * lq(x) - lp(x), "chi2-forward": lambda x: 2 * lp(x) - lq(x),
        "alpha": lambda x: a * lp(x) + (1 - a) * lq(x),
    }[key]


def reference(key, a, mean, L):
    """The value by the trapezoid rule over the integrand's mass."""
    lp = lambda x: planeref.mixture_logpdf(x, MEANS, COVS, [0.4, 0.6])  # noqa: E731
    lq = lambda x: planeref.gauss_logpdf(x, mean, L @ L.T)  # noqa: E731
    log_f = log_integrand(key, a, mean, L)
    g = {"kl-reverse": lambda x: lq(x) - lp(x), "kl-forward": lambda x: lp(x) - lq(x)}.get(key, lambda x: 1.0)
    integral, err = planeref.converged(lambda x: np.exp(log_f(x)) * g(x), log_f)
    if key.startswith("chi2"):
        return integral - 1, err
    if key == "alpha":
        return (1 - integral) / (a * (1 - a)), err
    return integral, err


CASES = [
    # (divergence, direction, alpha, mean, L)
    ("kl", "forward", None, [0.3, -0.2], [[1.2, 0.0], [0.4, 0.8]]),
    ("kl", "reverse", None, [0.3, -0.2], [[1.2, 0.0], [0.4, 0.8]]),
    ("kl", "reverse", None, [-1.5, 0.5], [[0.3, 0.0], [-0.2, 0.25]]),  # q narrower than p's components
    ("kl", "reverse", None, [0.0, 0.0], [[3.0, 0.0], [1.0, 2.5]]),  # q wider than all of p
    ("chi2", "forward", None, [0.3, 0.2], [[2.2, 0.0], [0.5, 1.9]]),
    ("chi2", "reverse", None, [0.3, -0.2], [[0.9, 0.0], [0.2, 0.7]]),
    ("chi2", "reverse", None, [4.0, 3.0], [[0.6, 0.0], [0.1, 0.6]]),  # its mass far from q and p
    ("alpha", "forward", 0.5, [0.3, -0.2], [[1.2, 0.0], [0.4, 0.8]]),
    ("alpha", "forward", -0.6, [0.3, -0.2], [[1.2, 0.0], [0.4, 0.8]]),
    ("alpha", "forward", 1.7, [0.3, -0.2], [[2.2, 0.0], [0.4, 1.8]]),
    ("alpha", "reverse", 0.3, [1.0, 0.5], [[0.8, 0.0], [0.0, 1.1]]),
]


# every case with the full family; the mean-field family (the same formulas with
# L21 = 0, and fewer coordinates) on a few, the infinite alpha among them
PAIRS = [case + ("gaussian",) for case in CASES] + [CASES[i] + ("gaussian-diag",) for i in (0, 1, 5, 8)]


@pytest.mark.parametrize("divergence,direction,alpha,mean,L,family", PAIRS)
def test_values_and_gradients_match_the_reference_and_finite_differences(divergence, direction, alpha, mean, L,
                                                                         family):
    mean, L = np.array(mean), np.array(L)
    fam = G.FAMILIES_2D[family]
    if fam.diagonal:
        L = np.diag(np.diag(L))
    d = D.get(divergence, direction, family, alpha)
    a = None if alpha is None else (alpha if direction == "forward" else 1 - alpha)
    key = divergence if divergence == "alpha" else f"{divergence}-{direction}"
    value = float(d.value(P, mean, L))
    if not d.finite(P, L):  # then the integrand's mass runs off any box
        assert value == np.inf and np.all(np.isnan(d.grad(P, mean, L)))
        lo, hi = planeref.mass_box(log_integrand(key, a, mean, L))
        assert max(np.abs(lo).max(), np.abs(hi).max()) > 290
        return
    ref, spread = reference(key, a, mean, L)
    assert spread < 1e-10, "the reference has not converged"
    assert abs(value - ref) <= 1e-6 * abs(ref)
    theta = fam.theta(mean, L)
    num = fd(lambda t: float(d.value(P, *fam.unpack(t))), theta, 1e-4)
    assert np.allclose(d.grad(P, mean, L), num, rtol=1e-5, atol=1e-5 * max(1.0, abs(value)))


# q straddling the strip where one of p's components takes over from another:
# two unequal components; two equal ones whose strip runs along q's first axis
# through its centre; three with curved strips; four with two strips. The rule of panels sized to q
# and the components alone was 4e-8, 2e-5 and 1e-8 off in value there, and 2e-5,
# 8e-5 and 4e-5 in gradient.
KINKED = [
    ([[2.5, 3.84], [-2.42, -0.18]], [[[0.8, -0.47], [-0.47, 1.7]], [[0.145, 0.09], [0.09, 1.12]]], [0.34, 0.66],
     [-0.94, -2.0], [[1.81, 0.0], [-0.26, 0.66]]),
    ([[0.0, 1.5], [0.0, -1.5]], [cov(0.3, 0.3, 0.0)] * 2, [0.5, 0.5], [0.2, 0.1], [[2.0, 0.0], [0.0, 2.0]]),
    ([[-0.39, 3.66], [3.63, 2.37], [1.37, 2.76]], [cov(1.89, 0.24, 0.3), cov(0.85, 0.37, -0.5), cov(0.67, 0.68, 0.2)],
     [0.3, 0.3, 0.4], [-4.38, -4.07], [[2.72, 0.0], [-0.4, 1.49]]),
    # four on a square: two strips at right angles through q (1e-4 off when
    # the lines were turned across the nearest alone)
    ([[-1.5, 1.5], [1.5, 1.5], [-1.5, -1.5], [1.5, -1.5]], [cov(0.3, 0.3, 0.0)] * 4, [0.25] * 4,
     [0.01, 0.31], [[1.0, 0.0], [0.0, 1.0]]),
]

# a strip that curves, so that it runs along an inner line inside q, and three
# components meeting inside q, where the strips end (1.4e-8 and 8.5e-9 off in
# gradient with panels at the lines' own crossings alone). Against the trapezoid
# rule, which needs some 3 s here where the nested quadrature needs 10 and 40
CURVING = [
    ([[1.83527, 0.41981], [-2.26667, 2.45501]], [[[1.07696, -0.17987], [-0.17987, 0.41998]],
                                                 [[0.45952, -0.17104], [-0.17104, 0.17104]]],
     [0.41646, 0.58354], [-0.36425, 1.51112], [[1.71413, 0.0], [-0.05709, 0.36258]]),
    ([[0.84948, -2.49965], [-0.12588, -0.28307], [-1.72062, 0.40853]],
     [[[0.72347, -0.05729], [-0.05729, 0.043]], [[0.03103, -0.08305], [-0.08305, 0.49628]],
      [[0.07384, -0.01004], [-0.01004, 0.22899]]],
     [0.6779, 0.06207, 0.26002], [-0.62207, -0.83453], [[0.82027, 0.0], [0.14295, 1.03008]]),
]


@pytest.mark.parametrize("case", CURVING)
def test_reverse_kl_where_strips_curve_or_meet_matches_the_reference(case):
    means, covs, weights, mean, L = (np.array(x) for x in case)
    ref_value, ref_grad, spread = planeref.kl_reverse_by_trapezoid(means, covs, weights, mean, L)
    assert spread < 1e-10, "the reference has not converged"
    value, grad = D.get("kl", "reverse", "gaussian").evaluate(Mixture2.create(means, covs, weights), mean[None],
                                                             L[None])
    assert value[0] == pytest.approx(ref_value, rel=1e-10)
    assert np.abs(grad[0] - ref_grad).max() <= 1e-9 * np.abs(ref_grad).max()


@pytest.mark.parametrize("means,covs,weights,mean,L", KINKED)
def test_reverse_kl_where_components_take_over_matches_nested_quadrature(means, covs, weights, mean, L):
    """KL(q‖p) and its gradient to 1e-11 and 1e-9 of an adaptive nested quadrature."""
    ref_value, ref_grad = planeref.kl_reverse_by_nested_quad(means, covs, weights, mean, L)
    p = Mixture2.create(means, covs, weights)
    d = D.get("kl", "reverse", "gaussian")
    m, Lq = np.array([mean]), np.array([L])
    assert float(d.value(p, m, Lq)[0]) == pytest.approx(ref_value, rel=1e-11)
    assert np.abs(d.grad(p, m, Lq)[0] - ref_grad).max() <= 1e-9 * np.abs(ref_grad).max()


def test_a_thin_feature_along_a_long_axis_keeps_the_rule_exact(monkeypatch):
    """D_-0.6(p‖q) where the integrand's mass runs over a thousand of its frame's
    units past a component 0.25 wide: panels of a width set by the component's
    narrowest sd would number thousands. The cap once made them all 7 wide
    (4e-4 off, with 435,000 nodes); now the lines along the axis see the
    component's slices (as wide as its extent along them), and the rule of
    86,000 nodes agrees with the 6.5 million a higher cap allows."""
    from divcore.core.bivariate import cubature

    p = Mixture2.create([[3.6, -2.85], [3.59, -1.51]], [[[0.925, -0.236], [-0.236, 2.856]],
                                                         [[1.414, 0.12], [0.12, 0.062]]], [0.576, 0.424])
    mean = np.array([[-2.965447593238504, -2.3768665955815047]])
    L = np.array([[[1.5259044102634993, 0.0], [-0.010126578892778513, 0.42726206823668456]]])
    d = D.get("alpha", "forward", "gaussian", -0.6)
    capped = cubature.rule(p, mean, L, *D._alpha_exponents(-0.6))
    value = float(d.value(p, mean, L)[0])
    monkeypatch.setattr(cubature, "MAX_PANELS", 3000)
    assert cubature.rule(p, mean, L, *D._alpha_exponents(-0.6)).counts[0] > 30 * capped.counts[0]
    assert value == pytest.approx(float(d.value(p, mean, L)[0]), rel=1e-12)


def test_reverse_kl_on_random_targets_matches_nested_quadrature():
    """A random search, as the line's divergences have against mpmath: targets of
    1-8 components (sds 0.2-2, any correlation) inside +-4, q between two of
    them, where one takes over from the other."""
    rng = np.random.default_rng(20261207)
    d = D.get("kl", "reverse", "gaussian")
    for _ in range(3):
        C = int(rng.integers(1, 9))
        means = rng.uniform(-4, 4, (C, 2))
        covs = [cov(*np.exp(rng.uniform(np.log(0.2), np.log(2.0), 2)), rng.uniform(-0.8, 0.8)) for _ in range(C)]
        weights = rng.uniform(0.2, 1.0, C)
        i, j = rng.integers(0, C, 2)
        mean = means[i] + rng.uniform(0.3, 0.7) * (means[j] - means[i]) + rng.normal(0.0, 0.3, 2)
        L = np.linalg.cholesky(cov(*np.exp(rng.uniform(np.log(0.2), np.log(3.0), 2)), rng.uniform(-0.8, 0.8)))
        ref_value, ref_grad = planeref.kl_reverse_by_nested_quad(means, covs, weights, mean, L)
        value, grad = d.evaluate(Mixture2.create(means, covs, weights), mean[None], L[None])
        assert value[0] == pytest.approx(ref_value, rel=1e-10), (means, covs, weights, mean, L)
        assert np.abs(grad[0] - ref_grad).max() <= 1e-9 * np.abs(ref_grad).max(), (means, covs, weights, mean, L)


def test_reverse_kl_gradient_far_from_a_gaussian_target_keeps_every_coordinate():
    """p one Gaussian, q a hundred units away: log p changes by thousands across
    q, and the score form's terms cancel to the last digits unless the linear
    part is taken out first (1.6e-7 off in the smallest coordinate before)."""
    mp, Sp = np.array([0.5, -1.0]), np.array([[1.3, 0.4], [0.4, 0.8]])
    p = Mixture2.create([mp], [Sp])
    L = np.array([[1.2, 0.0], [0.3, 0.9]])
    for mq in ([100.0, -100.0], [3.0, 1.0]):
        mq = np.array(mq)
        G = np.linalg.solve(Sp, L) - np.linalg.inv(L).T  # d KL / dL for a Gaussian p
        exact = np.concatenate([np.linalg.solve(Sp, mq - mp), [G[0, 0] * L[0, 0], G[1, 0], G[1, 1] * L[1, 1]]])
        got = D.get("kl", "reverse", "gaussian").grad(p, mq[None], L[None])[0]
        assert np.all(np.abs(got - exact) <= 1e-8 * np.abs(exact))


def test_a_state_that_is_not_finite_gets_nan_not_an_error():
    d = D.get("kl", "reverse", "gaussian")
    mean = np.array([[0.0, np.nan], [0.3, 0.1]])
    L = np.array([np.eye(2), np.eye(2)])
    value, grad = d.evaluate(P, mean, L)
    assert np.isnan(value[0]) and np.all(np.isnan(grad[0])) and np.isfinite(value[1]) and np.all(np.isfinite(grad[1]))


def bent_reference(means, covs, weights, mean, L, divergence, alpha):
    """chi2(q ‖ p) or D_alpha(p ‖ q) and its gradient in theta from the trapezoid
    rule's moments of q^a p^b (`planeref.power_moments`), with the grids' spread."""
    if divergence == "chi2":
        m, spread = planeref.power_moments(means, covs, weights, mean, L, 2.0, -1.0)
        return m[0] - 1.0, 2.0 * m[1:], spread
    m, spread = planeref.power_moments(means, covs, weights, mean, L, 1.0 - alpha, alpha)
    return (1.0 - m[0]) / (alpha * (1.0 - alpha)), -m[1:] / alpha, spread


# p^b bends where p's components take over from one another unless b is a whole
# number >= 0: chi2(q‖p) (b = -1) and D_a for a = -1, -0.5, 0.5, 1.5 (b = a). On
# the rule of panels sized to q, p and the peak alone these states (from a seeded
# random search) were 1.8e-6 (a = -0.5) and 1.8e-10 / 9.2e-9 (chi2) off in value /
# gradient; with panels at the crossings 1e-13.
BENT = [
    ([[1.7625, -2.6836], [2.8598, 0.6878], [-2.4833, -1.4704], [0.7245, -0.6862]],
     [[[0.08775, 0.12991], [0.12991, 0.71558]], [[0.15787, -0.04878], [-0.04878, 0.66644]],
      [[1.93737, 0.49108], [0.49108, 0.22229]], [[0.00828, 0.0092], [0.0092, 1.13114]]],
     [0.2689, 0.1662, 0.4041, 0.1608], [-0.32935, -0.6004], [[0.51104, 0.0], [-0.47726, 0.92416]],
     "alpha", -0.5),
    ([[2.56868, 2.33837], [-0.11699, -0.27144], [1.00196, 2.15253]],
     [[[0.04623, -0.02847], [-0.02847, 0.67116]], [[0.20828, 0.00069], [0.00069, 0.48281]],
      [[0.3672, -0.29602], [-0.29602, 0.38154]]],
     [0.3386, 0.372, 0.2894], [1.38752, 1.19057], [[0.41846, 0.0], [0.10023, 0.45216]], "chi2", None),
]


@pytest.mark.parametrize("means,covs,weights,mean,L,divergence,alpha", BENT)
def test_chi2_and_alpha_where_components_take_over_match_the_reference(means, covs, weights, mean, L,
                                                                        divergence, alpha):
    means, covs, mean, L = (np.array(x) for x in (means, covs, mean, L))
    p = Mixture2.create(means, covs, weights)
    d = D.get(divergence, "reverse" if divergence == "chi2" else "forward", "gaussian", alpha)
    ref_value, ref_grad, spread = bent_reference(means, covs, weights, mean, L, divergence, alpha)
    assert spread < 1e-12, "the reference has not converged"
    value, grad = d.evaluate(p, mean[None], L[None])
    assert value[0] == pytest.approx(ref_value, rel=1e-10)
    assert np.abs(grad[0] - ref_grad).max() <= 1e-9 * np.abs(ref_grad).max()


def test_chi2_and_alpha_on_random_targets_match_the_reference():
    """A random search: targets of 2-4 components (sds 0.08-1.5, any
    correlation) inside +-3, q between two of them, every divergence whose
    integrand bends there (chi2(q‖p), D_a for a = -0.5, 0.5, 1.5) where finite."""
    rng = np.random.default_rng(20261208)
    for _ in range(2):
        C = int(rng.integers(2, 5))
        means = rng.uniform(-3, 3, (C, 2))
        covs = [cov(*np.exp(rng.uniform(np.log(0.08), np.log(1.5), 2)), rng.uniform(-0.8, 0.8)) for _ in range(C)]
        weights = rng.dirichlet(2.0 * np.ones(C))
        i, j = rng.choice(C, 2, replace=False)
        mean = means[i] + rng.uniform(0.3, 0.7) * (means[j] - means[i])
        L = np.linalg.cholesky(cov(*np.exp(rng.uniform(np.log(0.2), np.log(1.5), 2)), rng.uniform(-0.6, 0.6)))
        p = Mixture2.create(means, covs, weights)
        for divergence, alpha in (("chi2", None), ("alpha", -0.5), ("alpha", 0.5), ("alpha", 1.5)):
            d = D.get(divergence, "reverse" if divergence == "chi2" else "forward", "gaussian", alpha)
            if not d.finite(p, L[None])[0]:
                continue
            ref_value, ref_grad, spread = bent_reference(means, covs, weights, mean, L, divergence, alpha)
            assert spread < 1e-12, "the reference has not converged"
            value, grad = d.evaluate(p, mean[None], L[None])
            case = (divergence, alpha, means, covs, weights, mean, L)
            assert value[0] == pytest.approx(ref_value, rel=1e-10), case
            assert np.abs(grad[0] - ref_grad).max() <= 1e-9 * np.abs(ref_grad).max(), case


@pytest.mark.parametrize("means,covs", [
    ([[0.0, 0.0]], [cov(1.0, 0.5, 0.3)]),  # one component: no strips
    ([[0.0, 0.0]] * 3, [cov(0.4, 0.7, 0.2)] * 3),  # three the same: l_i - l_j never turns
    ([[-1.0, 0.0], [1.0, 0.5], [0.0, 1.5]], [cov(0.5, 0.5, 0.0)] * 3),  # equal shapes: straight strips
    ([[-1e3, 0.0], [1e3, 0.0], [0.0, 1e3]], [cov(0.3, 2.0, 0.5), cov(1.0, 0.2, -0.4), cov(0.01, 0.01, 0.0)]),
])
def test_strips_of_degenerate_targets_give_finite_values_without_warnings(means, covs):
    p = Mixture2.create(means, covs, np.ones(len(means)))
    mean, L = np.array([[0.1, 0.2], [30.0, -4.0]]), np.array([np.eye(2), [[5.0, 0.0], [1.0, 0.1]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for divergence, direction, alpha in (("kl", "reverse", None), ("alpha", "forward", 0.5)):
            value, grad = D.get(divergence, direction, "gaussian", alpha).evaluate(p, mean, L)
            assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))


def test_rules_bend_only_where_p_to_a_power_does():
    from divcore.core.bivariate.cubature import bends

    assert not bends([(1.0, 0.0)]) and not bends([(-1.0, 2.0), (0.0, 1.0)])
    assert bends([(2.0, -1.0)]) and bends([(0.5, 0.5), (1.0, 0.0)]) and bends([(-0.5, 1.5)])


def test_gaussian_target_closed_forms():
    """p = N(m1, S1), q = N(m0, S0): KL and chi2 between Gaussians in closed form."""
    m1, S1 = np.array([0.5, -1.0]), cov(1.3, 0.7, 0.8)
    p = Mixture2.create([m1], [S1])
    m0, S0 = np.array([0.0, 0.2]), cov(1.2, 0.75, 0.7)
    L0 = np.linalg.cholesky(S0)
    for A in (2 * np.linalg.inv(S0) - np.linalg.inv(S1), 2 * np.linalg.inv(S1) - np.linalg.inv(S0)):
        assert np.all(np.linalg.eigvalsh(A) > 0)  # both chi-squares finite

    def kl(ma, Sa, mb, Sb):  # KL(N_a ‖ N_b)
        Pb = np.linalg.inv(Sb)
        d = mb - ma
        return 0.5 * (np.trace(Pb @ Sa) + d @ Pb @ d - 2 + np.log(np.linalg.det(Sb) / np.linalg.det(Sa)))

    def chi2(ma, Sa, mb, Sb):  # ∫ N_a^2 / N_b - 1, by completing the square
        Pa, Pb = np.linalg.inv(Sa), np.linalg.inv(Sb)
        A = 2 * Pa - Pb
        h = 2 * Pa @ ma - Pb @ mb
        c = 2 * ma @ Pa @ ma - mb @ Pb @ mb
        return np.sqrt(np.linalg.det(Sb)) / np.linalg.det(Sa) / np.sqrt(np.linalg.det(A)) * np.exp(
            0.5 * (h @ np.linalg.solve(A, h) - c)) - 1

    get = lambda k, d: float(D.get(k, d, "gaussian").value(p, m0, L0))  # noqa: E731
    assert get("kl", "reverse") == pytest.approx(kl(m0, S0, m1, S1), rel=1e-9)
    assert get("kl", "forward") == pytest.approx(kl(m1, S1, m0, S0), rel=1e-9)
    assert get("chi2", "reverse") == pytest.approx(chi2(m0, S0, m1, S1), rel=1e-9)
    assert get("chi2", "forward") == pytest.approx(chi2(m1, S1, m0, S0), rel=1e-9)
    # the alpha-divergence's limits and its chi-square points
    for a, k, dirn, scale in ((1 - 1e-7, "kl", "forward", 1), (1e-7, "kl", "reverse", 1),
                              (2.0, "chi2", "forward", 0.5), (-1.0, "chi2", "reverse", 0.5)):
        alpha = float(D.get("alpha", "forward", "gaussian", a).value(p, m0, L0))
        assert alpha == pytest.approx(scale * get(k, dirn), rel=1e-6)


# ---------------------------------------------------------------- where they are infinite


def test_chi2_reverse_is_finite_where_each_direction_has_a_decaying_component():
    """Two crossed, elongated components: neither alone holds q^2/p's tails
    (2 Sigma^-1 - Lambda_k is indefinite for both), but together they do."""
    means, covs = [[0.0, 0.0], [0.0, 0.0]], [np.diag([10.0, 0.45]), np.diag([0.45, 10.0])]
    p = Mixture2.create(means, covs)
    d = D.get("chi2", "reverse", "gaussian")
    L = np.eye(2)
    for k in range(2):
        assert not np.all(np.linalg.eigvalsh(2 * np.eye(2) - np.linalg.inv(covs[k])) > 0)
    value = float(d.value(p, np.zeros(2), L))
    log_f = lambda x: 2 * planeref.gauss_logpdf(x, np.zeros(2), np.eye(2)) - planeref.mixture_logpdf(  # noqa: E731
        x, means, covs, [1, 1])
    ref, spread = planeref.converged(lambda x: np.exp(log_f(x)), log_f)
    assert spread < 1e-10 and value == pytest.approx(ref - 1, rel=1e-6)
    # wider along the diagonal, where both components are narrow: infinite
    wide = np.linalg.cholesky(cov(1.6, 1.6, 0.9))
    assert not d.finite(p, wide) and d.value(p, np.zeros(2), wide) == np.inf
    assert np.all(np.isnan(d.grad(p, np.zeros(2), wide)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.2, 3), st.floats(0.2, 3), st.floats(-0.95, 0.95)), min_size=1, max_size=3),
       st.tuples(st.floats(0.2, 3), st.floats(0.2, 3), st.floats(-0.95, 0.95)),
       st.sampled_from([(2.0, -1.0), (1.5, -0.5), (-1.0, 2.0), (-0.7, 1.7), (0.5, 0.5)]))
def test_tail_decision_agrees_with_every_direction(comps, q, exponents):
    """∫ q^a p^b converges iff a v'Λv + b min_k v'Λ_k v > 0 in every direction;
    checked on a dense circle of directions, away from the edge."""
    covs = [cov(*c) for c in comps]
    p = Mixture2.create(np.zeros((len(covs), 2)), covs)
    Lq = np.linalg.cholesky(cov(*q))
    a, b = exponents
    t = np.linspace(0, np.pi, 20_000)
    v = np.stack([np.cos(t), np.sin(t)], 1)
    form = lambda S: np.einsum("ni,ij,nj->n", v, np.linalg.inv(S), v)  # noqa: E731
    tail = a * form(Lq @ Lq.T) + b * np.min([form(S) for S in covs], axis=0)
    if abs(tail.min()) < 1e-3 * np.abs(tail).max():
        return  # too close to the edge for a sampled circle to decide
    assert bool(D.tails_finite(p, Lq, a, b)) == bool(tail.min() > 0)


# ---------------------------------------------------------------- optima


def test_bishop_mean_field_closed_forms():
    """p = N(m, Sigma), Lambda = Sigma^-1. Reverse KL over the mean-field family:
    log q_i is E_{q_-i}[log p] up to a constant, a Gaussian in x_i with precision
    Lambda_ii, so q_i = N(m_i, 1/Lambda_ii) (it cannot stretch along p's
    correlation, and squeezes inside p). Forward KL: minimising -E_p[log q]
    over independent q_i matches each marginal, q_i = N(m_i, Sigma_ii).
    The full family recovers p itself both ways."""
    m = np.array([0.5, -0.3])
    S = cov(1.0, 0.8, 0.9)
    p = Mixture2.create([m], [S])
    Lam = np.linalg.inv(S)
    rev = O.find(p, D.get("kl", "reverse", "gaussian-diag"))
    assert len(rev.value) == 1
    assert np.allclose(rev.mean[0], m, atol=1e-6)
    assert np.allclose(rev.cov[0], np.diag(1 / np.diag(Lam)), rtol=1e-6, atol=1e-9)
    fwd = O.find(p, D.get("kl", "forward", "gaussian-diag"))
    assert np.allclose(fwd.mean[0], m) and np.allclose(fwd.cov[0], np.diag(np.diag(S)), rtol=1e-12)
    for direction in ("reverse", "forward"):
        full = O.find(p, D.get("kl", direction, "gaussian"))
        assert len(full.value) == 1 and full.value[0] < 1e-10
        assert np.allclose(full.mean[0], m, atol=1e-6) and np.allclose(full.cov[0], S, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("divergence,direction,alpha", [("kl", "reverse", None), ("chi2", "reverse", None),
                                                       ("chi2", "forward", None), ("alpha", "forward", 0.5)])
def test_optima_of_a_two_mode_target_are_stationary_strict_minima(divergence, direction, alpha):
    p = Mixture2.create([[-2.0, -2.0], [2.0, 2.0]], [cov(1.0, 0.9, 0.3), cov(0.9, 1.0, -0.2)], [0.5, 0.5])
    div = D.get(divergence, direction, "gaussian", alpha)
    opt = O.find(p, div)
    assert len(opt.value) >= 1 and np.all(np.diff(opt.value) >= 0)
    fam = div.family
    for mean, S, value in zip(opt.mean, opt.cov, opt.value):
        L = np.linalg.cholesky(S)
        v, g = div.evaluate(p, mean, L)
        assert v == pytest.approx(value, rel=1e-12)
        theta = fam.theta(mean, L)
        assert np.linalg.norm(O.whiten(fam, theta, g)) <= O.GRAD_TOL * max(1.0, v)
        assert np.all(np.linalg.eigvalsh(O.hessian(p, div, theta)) > 0)
    if divergence == "kl":  # reverse KL seeks a mode: one minimum sits on each
        for c in p.means:
            assert np.min(np.linalg.norm(opt.mean - c, axis=1)) < 0.1


@pytest.mark.parametrize("scale", [0.03, 1.0, 30.0])
def test_minima_are_merged_in_their_own_units(scale):
    """Two minima are one when they differ by less than 1e-5 of q's own width, at any width."""
    fam = G.FAMILIES_2D["gaussian"]
    theta = fam.theta(np.array([1.0, -2.0]) * scale, np.array([[0.8, 0.0], [0.3, 1.2]]) * scale)
    near = theta + np.array([1e-6 * scale, -1e-6 * scale, 1e-6, 1e-6 * scale, -1e-6])
    far = theta + np.array([1e-3 * scale, 0.0, 0.0, 0.0, 0.0])
    assert not O._apart(fam, theta, near) and O._apart(fam, theta, far)


def _plain_logsumexp(p, x):
    """The textbook expression the in-place passes of Mixture2.logpdf_and_grad stand for."""
    x0, x1 = x[..., 0], x[..., 1]
    terms = []
    for (m0, m1), ((a, _), (b, c)), cst in zip(p.means, p.chols, p.log_norm):
        e0 = (x0 - m0) * (1.0 / a)
        e1 = (x1 - m1 - b * e0) * (1.0 / c)
        terms.append((cst - 0.5 * (e0 * e0 + e1 * e1), e0, e1, a, b, c))
    top = terms[0][0]
    for t in terms[1:]:
        top = np.maximum(top, t[0])
    total, g0, g1 = np.zeros_like(top), np.zeros_like(top), np.zeros_like(top)
    for lk, e0, e1, a, b, c in terms:
        w = np.exp(np.fmax(lk - top, -60.0))  # nan where every term is -inf: their log-sum-exp is -inf
        total += w
        h1 = e1 * (1.0 / c)
        g1 -= w * h1
        g0 -= w * ((e0 - b * h1) * (1.0 / a))
    return top + np.log(total), np.stack([g0 / total, g1 / total], axis=-1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(0.1, 3.0), st.floats(0.1, 3.0),
                          st.floats(-0.9, 0.9), st.floats(0.1, 1.0)), min_size=1, max_size=8),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=2, max_size=24), st.booleans())
def test_logpdf_is_bit_for_bit_the_plain_log_sum_exp(components, xs, one_point):
    p = Mixture2.create([c[:2] for c in components], [cov(*c[2:5]) for c in components], [c[5] for c in components])
    x = np.array(xs[: len(xs) // 2 * 2]).reshape(-1, 2)
    x = x[0] if one_point else x
    with np.errstate(all="ignore"):
        want = _plain_logsumexp(p, x)
        got = p.logpdf_and_grad(x)
        for ours, plain in [(got[0], want[0]), (got[1], want[1]), (p.logpdf(x), want[0])]:
            assert np.asarray(ours).tobytes() == np.asarray(plain).tobytes()  # signed zeros too
    assert np.shape(got[0]) == x.shape[:-1]


def test_log_density_beyond_the_floats_is_minus_infinity_not_nan():
    # (1.5e154, 1.5e154): e0^2 + e1^2 overflows in every component, as in the plain
    # expression; the log-sum-exp of -infs is -inf (it was nan), and the weights
    # stay equal, so the gradient points back towards p
    p = Mixture2.create([[0.0, 0.0], [1.0, 1.0]], [cov(1.0, 1.0, 0.0), cov(2.0, 1.0, 0.3)])
    x = np.array([[1.5e154, 1.5e154], [1e200, 0.0], [0.5, -0.5]])
    with np.errstate(all="ignore"):
        logp, grad = p.logpdf_and_grad(x)
    assert logp[0] == logp[1] == -np.inf and np.isfinite(logp[2])
    assert np.all(grad[:2, 0] < 0)
