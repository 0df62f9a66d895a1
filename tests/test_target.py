import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy import special, stats

from divcore.core.target import Mixture


def test_logpdf_matches_scipy_sum_of_components(three_modes):
    p = three_modes
    x = np.linspace(-12, 12, 2001)
    dens = sum(w * stats.norm.pdf(x, m, s) for m, s, w in zip(p.means, p.stds, p.weights))
    np.testing.assert_allclose(p.logpdf(x), np.log(dens), rtol=1e-12)


def test_logpdf_is_finite_far_in_the_tails(two_modes):
    # log-sum-exp: no underflow to -inf where every component's density is 0.0 in floats
    lp = two_modes.logpdf(np.array([-1e4, 1e4]))
    assert np.all(np.isfinite(lp))
    # far out the widest component dominates
    np.testing.assert_allclose(lp[1], -0.5 * ((1e4 + 3.0) / 0.9) ** 2 + np.log(0.5 / 0.9) - 0.5 * np.log(2 * np.pi), rtol=1e-12)


def test_derivative_matches_central_differences(three_modes):
    x = np.linspace(-8, 8, 333)
    h = 1e-6
    _, d = three_modes.logpdf_and_dx(x)
    fd = (three_modes.logpdf(x + h) - three_modes.logpdf(x - h)) / (2 * h)
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-6)


def test_weights_are_normalised():
    p = Mixture.create([0.0, 1.0], [1.0, 1.0], [2.0, 6.0])
    np.testing.assert_allclose(p.weights, [0.25, 0.75])


def test_sampling_is_exact_in_distribution(three_modes):
    rng = np.random.default_rng(0)
    n = 200_000
    x = three_modes.sample(rng.standard_normal(n), rng.random(n))
    # Kolmogorov-Smirnov against the mixture CDF
    cdf = lambda t: sum(w * stats.norm.cdf(t, m, s) for m, s, w in zip(three_modes.means, three_modes.stds, three_modes.weights))
    assert stats.kstest(x, cdf).pvalue > 1e-3
    se = np.sqrt(three_modes.variance() / n)
    assert abs(x.mean() - three_modes.mean()) < 4 * se


@pytest.mark.parametrize("bad", [dict(means=[], stds=[], weights=[]), dict(means=[0] * 9, stds=[1] * 9, weights=[1] * 9),
                                 dict(means=[0], stds=[0], weights=[1]), dict(means=[0], stds=[1], weights=[-1])])
def test_invalid_mixtures_are_refused(bad):
    with pytest.raises(ValueError):
        Mixture.create(**bad)


def _plain_logsumexp(p, x):
    """The textbook expression the in-place passes of Mixture.logpdf_and_dx stand for."""
    terms = []
    for m, s, c in zip(p.means, p.stds, p.log_norm):
        z = (x - m) * (1.0 / s)
        terms.append((c - 0.5 * z * z, z * (1.0 / s)))
    top = terms[0][0]
    for a, _ in terms[1:]:
        top = np.maximum(top, a)
    total, slope = np.zeros_like(top), np.zeros_like(top)
    for a, zs in terms:
        # where every term is -inf, a - top is nan: the log-sum-exp of -infs is -inf
        e = np.exp(np.fmax(a - top, -60.0))
        total += e
        slope -= e * zs
    return top + np.log(total), slope / total


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10), st.floats(0.05, 3.0), st.floats(0.1, 1.0)), min_size=1, max_size=8),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20), st.booleans())
@example([(0.0, 2.0, 1.0)], [2.6815615859885194e154], False)  # z^2 overflows, z^2 / 2 does not
def test_logpdf_is_bit_for_bit_the_plain_log_sum_exp(components, xs, scalar):
    p = Mixture.create(*zip(*components))
    x = np.float64(xs[0]) if scalar else np.array(xs)
    with np.errstate(all="ignore"):
        want = _plain_logsumexp(p, np.asarray(x, float))
        got = p.logpdf_and_dx(x)
        for ours, plain in [(got[0], want[0]), (got[1], want[1]), (p.logpdf(x), want[0])]:
            assert np.asarray(ours).tobytes() == np.asarray(plain).tobytes()  # signed zeros too
    assert np.shape(got[0]) == np.shape(x)


@pytest.mark.parametrize("x", [1e200, -1e300, np.inf, -np.inf])
def test_log_density_beyond_the_floats_is_minus_infinity_not_nan(three_modes, x):
    # each component's log density is below -1.8e308 (or x is infinite): so is
    # their log-sum-exp, as scipy's says; it was nan (-inf minus -inf)
    with np.errstate(all="ignore"):
        logp, _ = three_modes.logpdf_and_dx(np.array([x, 0.5]))
        comps = [stats.norm.logpdf(x, m, s) + np.log(w)
                 for m, s, w in zip(three_modes.means, three_modes.stds, three_modes.weights)]
        alone = three_modes.logpdf(np.array([x]))[0]
    assert logp[0] == special.logsumexp(comps) == -np.inf
    assert np.isfinite(logp[1]) and alone == -np.inf
