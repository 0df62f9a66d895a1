"""Divergence values against closed forms and adaptive quadrature; exact gradients
against finite differences in every parameterization; invariants by hypothesis."""

import itertools
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

import mpref
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


# Every integral against mpmath (tests/mpref.py), on random targets of 1-8
# components with stds from 0.05 to 3 and states across a wide box, half of
# them near the edge of the divergence's finite range, where the mass of
# q^2/p and its kin runs far from q and from every component of p.
EXACT = 1e-9
REFERENCE_KINDS = ["kl-forward", "kl-reverse", "chi2-forward", "chi2-reverse",
                   "alpha:-1", "alpha:-0.5", "alpha:1.5", "alpha:2"]


def _divergence(kind):
    if kind.startswith("alpha"):
        return D.alpha(float(kind.split(":")[1]))
    return D.get(*kind.split("-"))


def _against_reference(p, mean, std, kind):
    """[(ours, reference, scale)] for the value and each gradient coordinate."""
    ref = mpref.Mix(p.means, p.stds, p.weights)
    if kind == "kl-forward":  # all of it closed form but p's entropy
        (h,), (sh,) = mpref.entropy(ref)
        return [(D.entropy(p), h, sh)]
    if kind == "kl-reverse":
        (e, e_m, e_s), scale = mpref.logp_moments(ref, mean, std)
        want = [-D.gaussian_entropy(std) - e, -e_m, -1 - e_s]
    else:
        a, b, value, grad, scale_of = {
            "chi2-forward": (-1, 2, lambda i: i - 1, lambda g: -g, lambda s: s),
            "chi2-reverse": (2, -1, lambda i: i - 1, lambda g: 2 * g, lambda s: 2 * s),
        }.get(kind, (None,) * 5)
        if a is None:
            al = float(kind.split(":")[1])
            a, b = 1 - al, al
            value, grad = (lambda i: (1 - i) / (al * (1 - al))), (lambda g: -g / al)
            scales = [1 / abs(al * (1 - al)), 1 / abs(al), 1 / abs(al)]
        else:
            scales = [1, scale_of(1), scale_of(1)]
        (i0, i1, i2), scale = mpref.power_moments(ref, mean, std, a, b)
        want = [value(i0), grad(i1), grad(i2)]
        scale = [s * k for s, k in zip(scale, scales)]
    div = _divergence(kind)
    ours = [float(div.value_fn(p, mean, std))] + list(div.grad(p, mean, std))
    return list(zip(ours, want, scale))


@pytest.mark.parametrize("kind", REFERENCE_KINDS)
def test_values_and_gradients_match_a_high_precision_reference(kind):
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    div = _divergence(kind)
    for case in range(4 if kind != "kl-forward" else 2):
        C = int(rng.integers(1, 9))
        p = Mixture.create(rng.uniform(-10, 10, C), np.exp(rng.uniform(np.log(0.05), np.log(3.0), C)),
                           rng.uniform(0.1, 1.0, C))
        mean = float(rng.uniform(-15, 15))
        lo, hi = div.finite_std_range(p)
        std = float(np.exp(rng.uniform(np.log(max(1.001 * lo, 0.03)), np.log(min(0.999 * hi, 6.0)))))
        if case % 2 and np.isfinite(hi):
            std = float(hi * (1 - 10 ** rng.uniform(-4, -1)))
        elif case % 2 and lo > 0:
            std = float(lo * (1 + 10 ** rng.uniform(-4, -1)))
        for ours, want, scale in _against_reference(p, mean, std, kind):
            where = (kind, p.means, p.stds, p.weights, mean, std, ours, float(want))
            if abs(want) > np.finfo(float).max:
                # beyond float range: the value is inf, a gradient inf or nan as where it is infinite
                assert not np.isfinite(ours), where
            else:
                assert abs(mpref.mp.mpf(ours) - want) <= EXACT * scale, where


def test_chi2_reverse_where_its_mass_is_far_from_q_and_p():
    # q^2/p peaks between two narrow components (at the centre of q^2/N_k for
    # the component that owns p there), where neither q nor p puts a panel of
    # its own: the rule before this one was 6.8x low here
    p = Mixture.create([-0.806, 1.257, -1.632, 0.4], [0.184, 0.07, 0.055, 0.082], [0.692, 0.606, 0.235, 0.489])
    for ours, want, scale in _against_reference(p, 1.016, 0.07483, "chi2-reverse"):
        assert abs(mpref.mp.mpf(ours) - want) <= EXACT * scale
    # and where the mass sits where a wide component takes p's tail over from a
    # narrow one (5 orders of magnitude low before)
    p = Mixture.create([5.29867651, -2.99078857, 4.93791687], [0.3578527, 0.41382148, 0.61142201],
                       [0.43260204, 0.31882561, 0.24857234])
    for ours, want, scale in _against_reference(p, -2.5712551334144553, 0.61142201, "alpha:-1"):
        assert abs(mpref.mp.mpf(ours) - want) <= EXACT * scale


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


@settings(max_examples=40, deadline=None)
@given(p=mixtures, m=st.lists(st.floats(-12, 12), min_size=1, max_size=20), s=st.floats(0.05, 6.0),
       kind=st.sampled_from(KEYS + [("alpha", "reverse", 2.0), ("alpha", "forward", -0.5), ("alpha", "reverse", 0.5)]))
def test_value_and_grad_together_are_the_bits_of_each_alone(p, m, s, kind):
    # the optima search asks for both at every point it tries, from one quadrature
    div = D.get(*kind)
    assert (div.value_and_grad_fn is not None) == div.by_quadrature  # one rule for both, where there is a rule
    mean, std = np.array(m), np.full(len(m), s) * np.linspace(0.5, 1.5, len(m))
    with np.errstate(all="ignore"):
        value, grad = div.value_and_grad(p, mean, std)
        assert value.tobytes() == div.value(p, mean, std).tobytes()
        assert grad.tobytes() == div.grad(p, mean, std).tobytes()
