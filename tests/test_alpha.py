"""The alpha-divergence: its special values and limits, a closed form for a
Gaussian target, where it is infinite, and its exact gradient."""

import numpy as np
import pytest

from conftest import random_mixture
from divcore.core import divergences as D
from divcore.core.target import Mixture

RTOL = 1e-6
ALPHAS = [-2.0, -1.0, -0.3, 0.0, 1e-9, 0.25, 0.5, 0.9, 1.0, 1.5, 2.0, 3.0]


def states(rng, n=12):
    return rng.uniform(-6, 6, n), np.exp(rng.uniform(np.log(0.2), np.log(5.0), n))


def alpha_gauss(a, m1, s1, m2, s2):
    """D_a(N1 ‖ N2) from ∫ N1^a N2^(1-a) in closed form (a not 0 or 1)."""
    l1, l2 = a / s1**2, (1 - a) / s2**2
    prec = l1 + l2
    if prec <= 0:
        return np.inf
    integral = s1**-a * s2 ** (a - 1) / np.sqrt(prec) * np.exp(-0.5 * l1 * l2 * (m1 - m2) ** 2 / prec)
    return (1 - integral) / (a * (1 - a))


@pytest.mark.parametrize("a", [x for x in ALPHAS if x not in (0.0, 1.0, 1e-9)])
def test_matches_the_closed_form_for_a_gaussian_target(a):
    for pm, ps, m, s in [(0.0, 1.0, 0.5, 1.2), (3.0, 0.5, 2.0, 0.9), (-1.0, 2.0, 4.0, 1.5), (0.0, 1.0, 0.0, 0.6)]:
        got = float(D.alpha(a).value(Mixture.create([pm], [ps]), m, s))
        expected = alpha_gauss(a, pm, ps, m, s)
        if np.isinf(expected):
            assert np.isinf(got)
        else:
            assert got == pytest.approx(expected, rel=RTOL, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_special_values_are_kl_and_half_the_chi_squares(seed):
    rng = np.random.default_rng(seed)
    p = random_mixture(rng)
    m, s = states(rng)
    pairs = [(1.0, D.kl_forward(p, m, s)), (0.0, D.kl_reverse(p, m, s)),
             (2.0, D.chi2_forward(p, m, s) / 2), (-1.0, D.chi2_reverse(p, m, s) / 2)]
    for a, expected in pairs:
        got = D.alpha(a).value(p, m, s)
        np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
        fin = np.isfinite(expected)
        np.testing.assert_allclose(got[fin], expected[fin], rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_the_limits_are_reached_without_cancellation(seed):
    rng = np.random.default_rng(100 + seed)
    p = random_mixture(rng)
    m, s = states(rng)
    for edge, ref in ((0.0, D.kl_reverse(p, m, s)), (1.0, D.kl_forward(p, m, s))):
        for delta in (1e-12, 1e-9, -1e-9, -1e-12):
            np.testing.assert_allclose(D.alpha(edge + delta).value(p, m, s), ref, rtol=1e-6, atol=1e-12)


def test_reverse_is_the_forward_divergence_at_one_minus_alpha():
    rng = np.random.default_rng(7)
    p = random_mixture(rng)
    m, s = states(rng)
    for a in (-0.5, 0.3, 1.7):
        np.testing.assert_allclose(D.alpha(a, "reverse").value(p, m, s), D.alpha(1 - a).value(p, m, s), rtol=1e-12)
    assert D.get("alpha", "reverse", alpha=0.3).alpha == 0.3


def test_infinite_exactly_where_the_tail_exponent_is_not_positive():
    p = Mixture.create([-1.0, 2.0], [0.5, 1.5], [0.3, 0.7])  # widest std 1.5
    for a in (2.0, 3.0, -1.0, -2.0):
        edge = np.sqrt((a - 1) / a) * 1.5  # a/s^2 + (1-a)/std^2 = 0
        inside, outside = (1.01, 0.99) if a > 1 else (0.99, 1.01)
        assert np.isfinite(D.alpha(a).value(p, 0.5, edge * inside))
        assert np.isinf(D.alpha(a).value(p, 0.5, edge * outside))
        assert np.isnan(D.alpha(a).grad(p, 0.5, edge * outside)).all()
    for a in (0.0, 0.5, 1.0):
        assert np.isfinite(D.alpha(a).value(p, 0.5, [1e-2, 1e2])).all()


@pytest.mark.parametrize("a", ALPHAS)
def test_gradient_matches_finite_differences(a):
    rng = np.random.default_rng(int(abs(a) * 1000) + 3)
    p = random_mixture(rng)
    m, s = states(rng, 8)
    div = D.alpha(a)
    ok = np.isfinite(div.value(p, m, s * np.exp(0.01))) & np.isfinite(div.value(p, m, s * np.exp(-0.01)))
    m, s = m[ok], s[ok]
    h = 1e-5
    fd = np.stack([
        (div.value(p, m + h * s, s) - div.value(p, m - h * s, s)) / (2 * h * s),
        (div.value(p, m, s * np.exp(h)) - div.value(p, m, s * np.exp(-h))) / (2 * h),
    ], axis=-1)
    np.testing.assert_allclose(div.grad(p, m, s), fd, rtol=1e-5, atol=1e-7 * (1 + np.abs(fd).max()))


def test_the_sweep_covers_at_alpha_one_seeks_at_zero_and_jumps_between():
    from divcore.core import sweep

    p = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
    s = sweep.alpha_optima(p, [-0.5, 0.0, 0.1, 0.25, 0.5, 1.0, 2.0])
    one = list(s["alpha"]).index(1.0)
    assert s["count"][one] == 1  # forward KL is convex in the natural parameters
    assert s["mean"][one, 0] == pytest.approx(p.mean(), abs=1e-6)
    assert s["std"][one, 0] == pytest.approx(np.sqrt(p.variance()), rel=1e-6)
    zero = list(s["alpha"]).index(0.0)
    assert min(abs(s["mean"][zero, 0] - m) for m in p.means) < 0.05  # reverse KL sits on a mode
    assert s["count"][zero] >= 2
    # the global optimum leaves the modes between 0.1 and 0.25, for this target
    (j,) = sweep.jumps(s)
    assert 0.1 < j < 0.25
    # each minimum is a minimum of the divergence it belongs to
    for i, a in enumerate(s["alpha"]):
        div = D.alpha(a)
        for k in range(s["count"][i]):
            m, sd = s["mean"][i, k], s["std"][i, k]
            assert div.value(p, m, sd) == pytest.approx(s["value"][i, k], rel=1e-9)
            for dm, dl in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)):
                assert div.value(p, m + dm * sd, sd * np.exp(dl)) >= s["value"][i, k] - 1e-12
