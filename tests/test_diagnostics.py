"""Estimator diagnostics against closed forms: for a Gaussian target the
variance of the reparameterization, sticking-the-landing and REINFORCE
estimators of the reverse-KL gradient can be written down exactly."""

import numpy as np
import pytest
from numpy.polynomial import Polynomial

from divcore.core import diagnostics, divergences
from divcore.core.target import Mixture

Z = 5.0


def normal_moment(n: int) -> float:
    """E[eps^n] for eps ~ N(0, 1): 0 for odd n, (n - 1)!! for even n."""
    return 0.0 if n % 2 else float(np.prod(np.arange(n - 1, 0, -2))) if n else 1.0


def expect(poly: Polynomial) -> float:
    return sum(c * normal_moment(n) for n, c in enumerate(poly.coef))


def reparam_variance(m, s, mu, sigma):
    """Per-sample terms with z = mu + sigma eps, d = mu - m:
    t_mean = (d + sigma eps)/s^2, t_logstd = -1 + sigma eps (d + sigma eps)/s^2, so
    Var t_mean = sigma^2/s^4 and Var t_logstd = (sigma^2 d^2 + 2 sigma^4)/s^4."""
    d = mu - m
    return np.array([sigma**2 / s**4, (sigma**2 * d**2 + 2 * sigma**4) / s**4])


def stl_variance(m, s, mu, sigma):
    """Sticking the landing drops the score term: with d = mu - m the per-sample
    terms are t_mean = d/s^2 + eps (sigma/s^2 - 1/sigma) and
    t_logstd = sigma d eps / s^2 - (1 - sigma^2/s^2) eps^2, so
    Var t_mean = (sigma/s^2 - 1/sigma)^2, Var t_logstd = sigma^2 d^2/s^4 + 2 (1 - sigma^2/s^2)^2:
    both zero at q = p."""
    d = mu - m
    return np.array([(sigma / s**2 - 1 / sigma) ** 2, sigma**2 * d**2 / s**4 + 2 * (1 - sigma**2 / s**2) ** 2])


def reinforce_variance(m, s, mu, sigma):
    """f = log q(z) - log p(z) = a + b eps + c eps^2 with a = log(s/sigma) + d^2/(2 s^2),
    b = sigma d / s^2, c = sigma^2/(2 s^2) - 1/2; t_mean = f eps / sigma gives
    Var t_mean = (a^2 + 2 b^2 + 15 c^2 + 6 a c) / sigma^2; t_logstd = f (eps^2 - 1)
    is a degree-4 polynomial in eps, whose variance is taken from the normal moments."""
    d = mu - m
    a, b, c = np.log(s / sigma) + d**2 / (2 * s**2), sigma * d / s**2, sigma**2 / (2 * s**2) - 0.5
    var_mean = (a**2 + 2 * b**2 + 15 * c**2 + 6 * a * c) / sigma**2
    t = Polynomial([a, b, c]) * Polynomial([-1.0, 0.0, 1.0])
    var_logstd = expect(t * t) - expect(t) ** 2
    # the mean coordinate the same way, as a check on the algebra above
    tm = Polynomial([a, b, c]) * Polynomial([0.0, 1.0 / sigma])
    assert np.isclose(expect(tm * tm) - expect(tm) ** 2, var_mean)
    return np.array([var_mean, var_logstd])


CASES = [(0.0, 1.0, 0.5, 0.8), (1.0, 2.0, -1.5, 1.5), (0.0, 0.5, 0.3, 0.45)]


@pytest.mark.parametrize("m,s,mu,sigma", CASES)
@pytest.mark.parametrize("estimator,closed", [("reparam", reparam_variance), ("stl", stl_variance),
                                              ("reinforce", reinforce_variance)])
def test_variances_match_the_closed_forms(m, s, mu, sigma, estimator, closed):
    p = Mixture.create([m], [s])
    for K, cell in zip((1, 8), diagnostics.measure(p, mu, sigma, "kl", "reverse", estimator, (1, 8), 60_000, seed=3)):
        np.testing.assert_array_less(np.abs(cell.variance - closed(m, s, mu, sigma) / K), Z * cell.variance_se)
        np.testing.assert_array_less(np.abs(cell.bias), Z * cell.bias_se)  # both are unbiased


def test_sticking_the_landing_has_no_variance_at_the_optimum_and_reparameterization_has():
    """Where p is in the family and q = p, every STL term is zero to rounding;
    the reparameterization gradient's terms there are (eps/s, eps^2 - 1)."""
    p = Mixture.create([1.3], [0.7])
    stl, rep = (diagnostics.measure(p, 1.3, 0.7, "kl", "reverse", est, (4,), 20_000, seed=5)[0]
                for est in ("stl", "reparam"))
    assert np.all(stl.variance < 1e-28) and np.all(np.abs(stl.mean) < 1e-14)
    np.testing.assert_array_less(np.abs(rep.variance - np.array([1 / 0.7**2, 2.0]) / 4), Z * rep.variance_se)


def test_the_diagnostics_measure_every_reverse_kl_estimator():
    cases = diagnostics.cases([{"divergence": "kl", "direction": "reverse"}])
    assert [(c["estimator"], c["baseline"]) for c in cases] == [
        ("reinforce", "none"), ("reinforce", "plus-one"), ("reinforce", "leave-one-out"), ("reparam", "none"),
        ("stl", "none")]


def test_mse_is_bias_squared_plus_variance_and_falls_like_one_over_k():
    p = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
    ks = (64, 256, 1024)
    cells = diagnostics.measure(p, -0.5, 1.5, "kl", "forward", "is", ks, 20_000, seed=1)
    for c in cells:
        R = 20_000
        np.testing.assert_allclose(c.mse, c.bias**2 + c.variance * (R - 1) / R, rtol=1e-9)
    # self-normalised IS: the variance is O(1/K) once K is large (16x more samples here)
    v = np.array([c.variance for c in cells])
    assert np.all(v[0] / v[2] > 12) and np.all(v[0] / v[2] < 21)


def test_snr_grows_with_k_for_an_unbiased_estimator():
    p = Mixture.create([0.0], [1.0])
    cells = diagnostics.measure(p, 1.0, 1.3, "kl", "reverse", "reparam", (1, 4, 16), 20_000, seed=2)
    snr = np.array([c.snr for c in cells])
    np.testing.assert_allclose(snr[2] / snr[0], 4.0, rtol=0.1)  # sqrt(16 / 1)


def test_the_same_seed_gives_the_same_estimates():
    p = Mixture.create([0.0, 3.0], [1.0, 0.5], [0.3, 0.7])
    a = diagnostics.estimates(p, 1.0, 1.0, "alpha", "forward", "is", 8, 5000, seed=4, alpha=0.5)
    b = diagnostics.estimates(p, 1.0, 1.0, "alpha", "forward", "is", 8, 5000, seed=4, alpha=0.5)
    np.testing.assert_array_equal(a, b)
    exact = divergences.alpha(0.5).grad(p, 1.0, 1.0)
    se = a.std(axis=0, ddof=1) / np.sqrt(len(a))
    np.testing.assert_array_less(np.abs(a.mean(axis=0) - exact), Z * se)


def test_a_cases_numbers_do_not_depend_on_the_other_cases():
    """Each case is seeded by what it measures, so a new estimator in the registry
    changes no other row of a scenario's diagnostics."""
    p = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
    cases = diagnostics.cases([{"divergence": "kl", "direction": "reverse"}, {"divergence": "chi2", "direction": "reverse"}])
    full = diagnostics.table(p, -0.5, 1.0, cases, (4,), 50, seed=2)
    alone = diagnostics.table(p, -0.5, 1.0, cases[-1:], (4,), 50, seed=2)
    np.testing.assert_array_equal(full["mse"][-1], alone["mse"][0])
