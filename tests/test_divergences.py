"""Divergence values against closed forms and adaptive quadrature; exact gradients
against finite differences in every parameterization; invariants by hypothesis."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from conftest import random_mixture
from divcore.core import divergences as D
from divcore.core import parameterizations
from divcore.core.target import Mixture

KEYS = [pair for pair in D.pairs() if not D.DIVERGENCES[pair[0]].has_alpha]
RTOL = 1e-6


def kl_gauss(m1, s1, m2, s2):
    """KL(N1 || N2)."""
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def chi2_gauss(m1, s1, m2, s2):
    """chi2(N1 || N2) = ∫ N1^2 / N2 - 1, finite iff 2 s2^2 > s1^2."""
    if 2 * s2**2 <= s1**2:
        return np.inf
    v = 2 * s2**2 - s1**2
    with np.errstate(over="ignore"):
        return s2**2 / (s1 * np.sqrt(v)) * np.exp((m1 - m2) ** 2 / v) - 1.0


CLOSED = {
    ("kl", "forward"): lambda pm, ps, m, s: kl_gauss(pm, ps, m, s),
    ("kl", "reverse"): lambda pm, ps, m, s: kl_gauss(m, s, pm, ps),
    ("chi2", "forward"): lambda pm, ps, m, s: chi2_gauss(pm, ps, m, s),
    ("chi2", "reverse"): lambda pm, ps, m, s: chi2_gauss(m, s, pm, ps),
}

# p and q over the whole range a scenario allows: means within +-1000 (differences
# kept where the value fits a float), stds from 1e-3 to 1e3
GAUSS_CASES = [
    (pm, ps, m, s)
    for pm, ps in [(0.0, 1.0), (3.0, 0.05), (-1000.0, 1000.0), (1000.0, 1e-3)]
    for dm, rs in itertools.product([0.0, 0.5, -2.0, 10.0], [1e-3, 0.3, 0.71, 1.0, 1.41, 3.0, 1e3])
    for m, s in [(pm + dm * ps, rs * ps)]
]


@pytest.mark.parametrize("key", KEYS)
def test_values_match_closed_forms_for_a_gaussian_target(key):
    div = D.get(*key)
    for pm, ps, m, s in GAUSS_CASES:
        p = Mixture.create([pm], [ps])
        expected = CLOSED[key](pm, ps, m, s)
        got = float(div.value(p, m, s))
        if np.isinf(expected):
            assert got == np.inf, (key, pm, ps, m, s)
        elif expected < 1e300:
            # at D = 0 only an absolute error means anything: ~1e-11 where q's
            # mean is 1000 and its std 1e-3 (the float spacing of x over s)
            assert got == pytest.approx(expected, rel=RTOL, abs=1e-10), (key, pm, ps, m, s)


@pytest.mark.parametrize("key", KEYS)
def test_values_are_vectorised(key, two_modes):
    div = D.get(*key)
    m = np.array([[-1.0, 0.0], [2.0, 3.0]])
    s = np.array([[0.8, 0.9], [0.6, 1.1]])
    batch = div.value(two_modes, m, s)
    single = np.array([[div.value(two_modes, m[i, j], s[i, j]) for j in range(2)] for i in range(2)])
    assert batch.shape == (2, 2)
    np.testing.assert_allclose(batch, single, rtol=1e-14)


def _adaptive(p, mu, s, key):
    """The divergence by scipy's adaptive quadrature, split at every mode and at q's mean."""
    lq = lambda x: -0.5 * ((x - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
    lp = lambda x: float(p.logpdf(np.array(x)))
    f = {
        ("kl", "reverse"): lambda x: np.exp(lq(x)) * (lq(x) - lp(x)),
        ("kl", "forward"): lambda x: np.exp(lp(x)) * (lp(x) - lq(x)),
        ("chi2", "reverse"): lambda x: np.exp(2 * lq(x) - lp(x)),
        ("chi2", "forward"): lambda x: np.exp(2 * lp(x) - lq(x)),
    }[key]
    pts = sorted(set(p.means.tolist() + [mu]))
    reach = 80 * max(s, 3 * p.max_std)
    edges = [pts[0] - reach] + pts + [pts[-1] + reach]
    with warnings.catch_warnings():
        # quad says when it cannot reach 1e-12; 1e-6 is what is asserted
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        total = sum(integrate.quad(f, a, b, limit=1000, epsabs=0, epsrel=1e-12)[0] for a, b in zip(edges[:-1], edges[1:]))
    return total - (1.0 if key[0] == "chi2" else 0.0)


@pytest.mark.parametrize("key", KEYS)
def test_values_match_adaptive_quadrature_for_mixtures(key):
    rng = np.random.default_rng(7)
    div = D.get(*key)
    checked = 0
    for _ in range(25):
        p = random_mixture(rng)
        mu, s = rng.uniform(-6, 6), float(np.exp(rng.uniform(np.log(0.1), np.log(4))))
        got = float(div.value(p, mu, s))
        if not np.isfinite(got):
            assert not div.finite(p, s)
            continue
        with np.errstate(all="ignore"):
            ref = _adaptive(p, mu, s, key)
        assert got == pytest.approx(ref, rel=RTOL), (p, mu, s)
        checked += 1
    assert checked >= 10


def test_narrow_far_apart_modes_are_integrated_accurately():
    # log p turns from one mode's parabola to the other's over a width of 1e-3 here
    p = Mixture.create([-8.0, 8.0], [0.1, 0.1], [0.5, 0.5])
    for mu, s in [(0.0, 3.0), (0.1, 8.0), (-8.0, 0.2)]:
        got = float(D.kl_reverse(p, mu, s))
        assert got == pytest.approx(_adaptive(p, mu, s, ("kl", "reverse")), rel=RTOL)


def test_entropy_of_a_gaussian_target():
    p = Mixture.create([1.0], [2.0])
    assert D.entropy(p) == pytest.approx(0.5 * np.log(2 * np.pi * np.e * 4.0), rel=1e-12)


def test_chi2_infinity_is_decided_from_the_variances(two_modes):
    smax = two_modes.max_std
    fwd, rev = D.get("chi2", "forward"), D.get("chi2", "reverse")
    edge_f = smax / np.sqrt(2.0)
    assert fwd.value(two_modes, 0.0, edge_f) == np.inf
    # just inside, ∫ p^2/q is finite but overflows floats unless q sits on the widest mode
    assert np.isfinite(fwd.value(Mixture.create([0.0], [smax]), 0.0, edge_f * (1 + 1e-9)))
    assert np.all(np.isnan(fwd.grad(two_modes, 0.0, edge_f * (1 - 1e-3))))
    edge_r = smax * np.sqrt(2.0)
    assert rev.value(two_modes, 0.0, edge_r) == np.inf
    v = rev.value(two_modes, -3.0, edge_r * (1 - 1e-3))
    assert np.isfinite(v) and v > 10  # finite, heavy-tailed, large
    assert np.all(np.isnan(rev.grad(two_modes, 0.0, edge_r)))
    # KL is finite everywhere
    assert np.isfinite(D.kl_reverse(two_modes, 50.0, 1e-3)) and np.isfinite(D.kl_forward(two_modes, 50.0, 1e-3))


def test_chi2_reverse_near_its_infinity_matches_adaptive_quadrature():
    p = Mixture.create([0.0], [1.0])
    for ratio in [0.9, 0.99, 0.999]:
        s = np.sqrt(2.0) * ratio
        assert float(D.chi2_reverse(p, 0.3, s)) == pytest.approx(chi2_gauss(0.3, s, 0.0, 1.0), rel=RTOL)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("name", list(parameterizations.PARAMETERIZATIONS))
def test_exact_gradients_match_central_differences(key, name, three_modes):
    div, P = D.get(*key), parameterizations.get(name)
    means = np.array([-3.5, -0.5, 1.0, 2.8])
    stds = np.array([0.9, 1.0, 1.2, 1.5])  # every divergence is finite here (s_max = 1.2)
    phi = P.to_phi(means, stds)
    g_phi = P.grad_phi(phi, div.grad(three_modes, means, stds))
    for k in range(2):
        step = 1e-6 * np.maximum(1.0, np.abs(phi[:, k]))
        plus, minus = phi.copy(), phi.copy()
        plus[:, k] += step
        minus[:, k] -= step
        fd = (div.value(three_modes, *P.from_phi(plus)) - div.value(three_modes, *P.from_phi(minus))) / (2 * step)
        np.testing.assert_allclose(g_phi[:, k], fd, rtol=2e-5, atol=2e-6 * np.abs(g_phi).max())


# ---------------------------------------------------------------- invariants

means = st.floats(-6, 6)
stds = st.floats(0.3, 3.0)
mixtures = st.lists(st.tuples(means, stds, st.floats(0.1, 1.0)), min_size=1, max_size=3).map(
    lambda comps: Mixture.create(*zip(*comps))
)


@settings(max_examples=60, deadline=None)
@given(p=mixtures, m=means, s=stds, key=st.sampled_from(KEYS))
def test_divergences_are_nonnegative(p, m, s, key):
    v = float(D.get(*key).value(p, m, s))
    assert v >= -1e-9  # nan would fail too


@settings(max_examples=40, deadline=None)
@given(m=means, s=stds, key=st.sampled_from(KEYS))
def test_divergence_is_zero_when_q_is_p(m, s, key):
    p = Mixture.create([m], [s])
    assert abs(float(D.get(*key).value(p, m, s))) < 1e-9
    np.testing.assert_allclose(D.get(*key).grad(p, m, s), 0.0, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(m=means, s=stds, dm=st.floats(0.05, 3.0), key=st.sampled_from(KEYS))
def test_divergence_is_positive_when_q_differs_from_p(m, s, dm, key):
    p = Mixture.create([m], [s])
    assert float(D.get(*key).value(p, m + dm * s, s)) > 0


@settings(max_examples=40, deadline=None)
@given(p=mixtures, m=means, s=stds, shift=st.floats(-50, 50), key=st.sampled_from(KEYS))
def test_divergence_is_invariant_under_a_common_shift(p, m, s, shift, key):
    div = D.get(*key)
    moved = Mixture.create(p.means + shift, p.stds, p.weights)
    a, b = float(div.value(p, m, s)), float(div.value(moved, m + shift, s))
    if np.isinf(a):
        assert np.isinf(b)
    else:
        assert b == pytest.approx(a, rel=1e-7, abs=1e-10)


def test_landscape_is_the_divergence_on_the_grid_and_nan_outside_the_family(two_modes):
    from divcore.core import landscape

    P = parameterizations.get("mu-sigma")
    div = D.get("kl", "reverse")
    L = landscape.evaluate(two_modes, div, P, np.linspace(-4, 3, 7), np.array([-0.5, 0.5, 1.0]))
    assert L.value.shape == (3, 7)
    assert np.all(np.isnan(L.value[0]))  # sigma < 0
    np.testing.assert_allclose(L.value[2], div.value(two_modes, np.linspace(-4, 3, 7), 1.0), rtol=1e-14)


@pytest.mark.parametrize("name", list(parameterizations.PARAMETERIZATIONS))
def test_default_landscape_contains_the_optima(name, two_modes):
    from divcore.core import landscape, optima

    P, div = parameterizations.get(name), D.get("kl", "reverse")
    L = landscape.default(two_modes, div, P, n=20)
    phi = P.to_phi(*optima.find(two_modes, div)[:2])
    assert np.all((phi[:, 0] >= L.phi0[0]) & (phi[:, 0] <= L.phi0[-1]))
    assert np.all((phi[:, 1] >= L.phi1[0]) & (phi[:, 1] <= L.phi1[-1]))
    assert np.isfinite(L.value).mean() > 0.5


@pytest.mark.parametrize("key", [("chi2", "forward"), ("chi2", "reverse")])
def test_chi2_within_ulps_of_its_edge_is_inf_or_a_positive_number(key):
    """Finiteness is decided with the integrals' own arithmetic: never nan, never -1."""
    div = D.get(*key)
    for p in [Mixture.create([0.0], [1000.0]), Mixture.create([0.0, 1.0], [2.6864513760518065, 1.343]),
              Mixture.create([0.0, 3.0], [1.0, 1.0 + 4e-13])]:
        edge = p.max_std / np.sqrt(2.0) if key[1] == "forward" else p.max_std * np.sqrt(2.0)
        stds = edge * (1 + np.arange(-30, 31) * np.finfo(float).eps)
        for s in stds:
            v = float(div.value(p, 0.0, s))
            assert v == np.inf or (np.isfinite(v) and v > 0), (s, v)
            assert (v == np.inf) == (not div.finite(p, s)) or v == np.inf  # overflow may also give inf
