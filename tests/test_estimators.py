"""Monte Carlo estimators: unbiasedness (or consistency) against the exact gradient,
with tolerances from the measured standard error; particle coefficients consistent
with the gradient; variance ordering where theory fixes it."""

import numpy as np
import pytest

from conftest import run_config
from divcore import runner
from divcore.core import divergences as D
from divcore.core import estimators as E
from divcore.core.target import Mixture

P = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
# Between the modes, where every divergence is finite (0.64 < std < 1.27) and
# q^2/p has light tails (std well below the edge 1.27 where ∫ q^2/p blows up).
MEAN, STD = -0.5, 0.8
WIDE = 3.0  # a q wider than p: bounded importance weights, for the consistency checks
Z = 4.5  # a 4.5-sigma interval: a false alarm about once in 150,000 checks

UNBIASED = [
    ("kl", "forward", "data", "none"),
    ("kl", "reverse", "reinforce", "none"),
    ("kl", "reverse", "reinforce", "plus-one"),
    ("kl", "reverse", "reinforce", "leave-one-out"),
    ("kl", "reverse", "reparam", "none"),
    ("kl", "reverse", "stl", "none"),
    ("chi2", "reverse", "score", "none"),
]
CONSISTENT = [("kl", "forward", "is"), ("chi2", "forward", "is")]


def fixed_q_estimates(divergence, direction, estimator, baseline="none", K=8, steps=20000, seed=1, std=STD, **kw):
    """lr = 0: q never moves, so each step is an independent estimate at (MEAN, std)."""
    from divcore.scenario.model import Start

    cfg = run_config(divergence=divergence, direction=direction, estimator=estimator, baseline=baseline,
                     samples=K, steps=steps, lr=0.0, seed=seed, starts=(Start(MEAN, std),), **kw)
    return runner.simulate(P, cfg)


def exact(divergence, direction, std=STD):
    return D.get(divergence, direction).grad(P, MEAN, std)


@pytest.mark.parametrize("divergence,direction,estimator,baseline", UNBIASED)
def test_unbiased_estimators_average_to_the_exact_gradient(divergence, direction, estimator, baseline):
    g = fixed_q_estimates(divergence, direction, estimator, baseline)["grad"][0]
    se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
    assert np.all(np.abs(g.mean(axis=0) - exact(divergence, direction)) < Z * se), (g.mean(0), exact(divergence, direction), se)


@pytest.mark.parametrize("divergence,direction,estimator", CONSISTENT)
def test_self_normalised_estimators_are_consistent(divergence, direction, estimator):
    truth = exact(divergence, direction, WIDE)
    errors = []
    for K in (2, 256):
        g = fixed_q_estimates(divergence, direction, estimator, K=K, steps=6000, std=WIDE, record_particles=False)["grad"][0]
        se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
        errors.append((np.abs(g.mean(0) - truth), se))
    (err_small, se_small), (err_large, se_large) = errors
    # a small K is visibly biased; at K = 256 the bias (O(1/K)) is lost in the noise
    assert np.any(err_small > Z * se_small)
    assert np.all(err_large < Z * se_large + 0.02 * np.abs(truth))
    assert np.linalg.norm(err_large) < 0.2 * np.linalg.norm(err_small)


def _scores(particles, mean, std):
    e = (particles - mean) / std
    return np.stack([e / std, e * e - 1.0], axis=-1)


@pytest.mark.parametrize("divergence,direction,estimator", [
    ("kl", "forward", "is"), ("kl", "forward", "data"), ("kl", "reverse", "reinforce"), ("chi2", "forward", "is"), ("chi2", "reverse", "score"),
])
def test_particle_weights_reproduce_the_gradient(divergence, direction, estimator):
    """For score-type estimators, -grad = sum_i coef_i * score_i."""
    rec = fixed_q_estimates(divergence, direction, estimator, steps=50)
    s = _scores(rec["particles"][0], MEAN, STD)
    rebuilt = -(rec["particle_weights"][0][..., None] * s).sum(axis=1)
    np.testing.assert_allclose(rebuilt, rec["grad"][0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("estimator", ["reparam", "stl"])
def test_pathwise_weights_are_each_particles_pull_on_the_mean(estimator):
    rec = fixed_q_estimates("kl", "reverse", estimator, steps=50)
    sign = np.sign(rec["particles"][0] - MEAN)
    np.testing.assert_allclose(-(rec["particle_weights"][0] * sign).sum(1) / STD, rec["grad"][0][:, 0], rtol=1e-10)


def test_signs_of_particle_weights():
    rev_chi2 = fixed_q_estimates("chi2", "reverse", "score", steps=50)
    assert np.all(rev_chi2["particle_weights"] < 0)  # push only
    fwd_is = fixed_q_estimates("kl", "forward", "is", steps=50)
    assert np.all(fwd_is["particle_weights"] > 0)
    np.testing.assert_allclose(fwd_is["particle_weights"].sum(-1), 1.0)


def test_ess_is_between_one_and_k():
    ess = fixed_q_estimates("kl", "forward", "is", steps=200)["ess"]
    assert np.all((ess >= 1 - 1e-12) & (ess <= 8 + 1e-12))


@pytest.mark.parametrize("m", [0.5, 3.0])
def test_reparam_and_reinforce_variances_match_closed_forms(m):
    """p = N(0, 1), q = N(m, 1), z = m + eps. The pathwise mean term is -d/dz log p = z,
    variance 1 whatever m; REINFORCE's is (log q - log p) eps = m eps^2 + m^2 eps / 2,
    variance 2 m^2 + m^4 / 4, which grows without bound as q moves away from p."""
    p = Mixture.create([0.0], [1.0])
    eps = np.random.default_rng(3).standard_normal((1, 200_000))
    rep = E.kl_reverse_reparam(p, np.array([m]), np.array([1.0]), E.Noise(eps)).terms[0, :, 0]
    rf = E.kl_reverse_reinforce(p, np.array([m]), np.array([1.0]), E.Noise(eps)).terms[0, :, 0]
    for terms, var in [(rep, 1.0), (rf, 2 * m**2 + m**4 / 4)]:
        # the sample variance's standard error, from the fourth central moment
        se = np.sqrt((np.mean((terms - terms.mean()) ** 4) - terms.var() ** 2) / terms.size)
        assert abs(terms.var() - var) < Z * se
    if m > 2:
        assert rep.var() < rf.var() / 10


def test_sticking_the_landing_vanishes_at_q_equal_p_where_reparameterization_does_not():
    """p = N(0.4, 0.6^2) is in the family: at q = p every STL term is zero to
    rounding, for every sample; the pathwise terms are (eps/s, eps^2 - 1)."""
    p = Mixture.create([0.4], [0.6])
    eps = np.random.default_rng(4).standard_normal((1, 100_000))
    mean, std = np.array([0.4]), np.array([0.6])
    stl = E.kl_reverse_stl(p, mean, std, E.Noise(eps)).terms[0]
    rep = E.kl_reverse_reparam(p, mean, std, E.Noise(eps)).terms[0]
    assert np.abs(stl).max() < 1e-12
    np.testing.assert_allclose(rep, np.stack([eps[0] / 0.6, eps[0] ** 2 - 1.0], axis=-1), rtol=1e-10, atol=1e-12)
    # and away from q = p it is an unbiased estimate all the same (tested above); near p it is quiet
    near = E.kl_reverse_stl(p, mean + 0.05, std * 1.05, E.Noise(eps)).terms[0].var(0)
    far = E.kl_reverse_reparam(p, mean + 0.05, std * 1.05, E.Noise(eps)).terms[0].var(0)
    assert np.all(near < far / 50)


def test_leave_one_out_removes_the_constant_part_of_the_reward():
    """On a mode, log q - log p is nearly the constant -log(weight): without a
    baseline that constant multiplies the score and is pure noise; the
    leave-one-out baseline subtracts it."""
    from divcore.scenario.model import Start

    def var(baseline):
        cfg = run_config(estimator="reinforce", baseline=baseline, samples=8, steps=4000, lr=0.0, seed=2,
                         starts=(Start(2.0, 0.7),), record_particles=False)
        return runner.simulate(P, cfg)["grad"][0].var(0)

    loo, none = var("leave-one-out"), var("none")
    assert np.all(loo < none)
    assert loo[0] < 0.25 * none[0]  # the mean's term is almost all constant-times-score


def test_estimate_fields_have_batch_shapes():
    rng = np.random.default_rng(0)
    est = E.kl_forward_is(P, np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 0.5]), E.Noise(rng.standard_normal((3, 5))))
    assert est.grad.shape == (3, 2) and est.terms.shape == (3, 5, 2)
    assert est.particles.shape == est.coef.shape == (3, 5) and est.ess.shape == (3,)
    np.testing.assert_allclose(est.terms.mean(1), est.grad)


@pytest.mark.parametrize("direction,alpha", [("forward", -0.5), ("forward", 0.0), ("forward", 0.5),
                                             ("forward", 1.0), ("reverse", 0.3), ("reverse", 1.5)])
def test_alpha_importance_sampling_is_unbiased(direction, alpha):
    g = fixed_q_estimates("alpha", direction, "is", alpha=alpha)["grad"][0]
    se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
    truth = D.get("alpha", direction, alpha).grad(P, MEAN, STD)
    assert np.all(np.abs(g.mean(axis=0) - truth) < Z * se), (g.mean(0), truth, se)


def test_alpha_particle_weights_reproduce_the_gradient():
    rec = fixed_q_estimates("alpha", "forward", "is", steps=50, alpha=0.5)
    s = _scores(rec["particles"][0], MEAN, STD)
    rebuilt = -(rec["particle_weights"][0][..., None] * s).sum(axis=1)
    np.testing.assert_allclose(rebuilt, rec["grad"][0], rtol=1e-10, atol=1e-12)
