"""Monte Carlo estimators on the plane: unbiasedness (or consistency) against the
exact 2-D gradient with tolerances from the measured standard error; particle
coefficients consistent with the gradient; sticking the landing's zero variance."""

from types import SimpleNamespace

import numpy as np
import pytest

from divcore.core import estimators as E
from divcore.core.bivariate import divergences as D
from divcore.core.bivariate import gaussian as G
from divcore.core.bivariate.target import Mixture2

P = Mixture2.create([[-2.0, 0.0], [2.0, 1.0]], [[[1.0, 0.6], [0.6, 1.0]], [[0.49, -0.25], [-0.25, 1.44]]],
                    [0.4, 0.6])
MEAN = np.array([0.3, 0.2])
L = np.array([[0.9, 0.0], [0.3, 0.8]])  # every divergence finite here, q^2/p light-tailed
WIDE = np.array([[3.0, 0.0], [0.5, 2.5]])  # wider than p: bounded weights, for consistency
Z = 4.5
UNBIASED = [
    ("kl", "forward", "data", "none", None),
    ("kl", "reverse", "reinforce", "none", None),
    ("kl", "reverse", "reinforce", "plus-one", None),
    ("kl", "reverse", "reinforce", "leave-one-out", None),
    ("kl", "reverse", "reparam", "none", None),
    ("kl", "reverse", "stl", "none", None),
    ("chi2", "reverse", "score", "none", None),
    ("alpha", "forward", "is", "none", 0.5),
    ("alpha", "reverse", "is", "none", 0.3),
]


def estimates(divergence, direction, estimator, baseline="none", alpha=None, family="gaussian", L=L, K=8,
              n=20000, seed=3):
    """n independent K-sample estimates at one q, as one batch."""
    fam = G.FAMILIES_2D[family]
    fn = E.bind(divergence, direction, estimator, alpha, dim=2, baseline=baseline)
    rng = np.random.default_rng(seed)
    noise = SimpleNamespace(normal=rng.standard_normal((n, K, 2)), uniform=rng.random((n, K)))
    return fn(P, fam, np.broadcast_to(MEAN, (n, 2)), np.broadcast_to(L, (n, 2, 2)), noise)


@pytest.mark.parametrize("family", ["gaussian", "gaussian-diag"])
@pytest.mark.parametrize("divergence,direction,estimator,baseline,alpha", UNBIASED)
def test_unbiased_estimators_average_to_the_exact_gradient(divergence, direction, estimator, baseline, alpha,
                                                           family):
    Lf = L if family == "gaussian" else np.diag(np.diag(L))
    est = estimates(divergence, direction, estimator, baseline, alpha, family, Lf)
    g = est.grad
    se = g.std(axis=0, ddof=1) / np.sqrt(len(g))
    truth = D.get(divergence, direction, family, alpha).grad(P, MEAN, Lf)
    assert np.all(np.abs(g.mean(0) - truth) < Z * se), (g.mean(0), truth, se)
    assert est.terms.shape == (len(g), 8, G.FAMILIES_2D[family].size)
    assert np.allclose(est.terms.mean(1), g)


@pytest.mark.parametrize("divergence", ["kl", "chi2"])
def test_self_normalised_importance_sampling_is_consistent(divergence):
    """Its bias shrinks with K: at K = 512 the estimate is within a few standard errors."""
    truth = D.get(divergence, "forward", "gaussian").grad(P, MEAN, WIDE)
    small = estimates(divergence, "forward", "is", L=WIDE, K=2, n=4000).grad
    big = estimates(divergence, "forward", "is", L=WIDE, K=512, n=1000).grad
    err_small = np.abs(small.mean(0) - truth).max()
    err_big = np.abs(big.mean(0) - truth)
    se_big = big.std(0, ddof=1) / np.sqrt(len(big))
    assert np.all(err_big < Z * se_big + 1e-3 * np.abs(truth).max())
    assert err_big.max() < err_small


def test_score_coefficients_reproduce_the_gradient():
    """For score-type estimators -grad = sum_i coef_i score_i."""
    fam = G.FAMILIES_2D["gaussian"]
    for args in [("kl", "reverse", "reinforce", "none", None), ("chi2", "reverse", "score", "none", None),
                 ("kl", "forward", "is", "none", None), ("alpha", "forward", "is", "none", 0.5)]:
        est = estimates(*args, n=50)
        eps = np.linalg.solve(L, (est.particles - MEAN)[..., None])[..., 0]
        rebuilt = -np.einsum("bk,bkp->bp", est.coef, fam.score_parts(eps, L))
        assert np.allclose(rebuilt, est.grad, rtol=1e-10, atol=1e-12), args


def test_sticking_the_landing_vanishes_where_q_is_p():
    """p Gaussian and q = p: every STL term is zero, reparameterization's are not."""
    cov = np.array([[1.3, 0.4], [0.4, 0.8]])
    p = Mixture2.create([MEAN], [cov])
    Lp = np.linalg.cholesky(cov)
    fam = G.FAMILIES_2D["gaussian"]
    rng = np.random.default_rng(0)
    noise = SimpleNamespace(normal=rng.standard_normal((200, 16, 2)), uniform=None)
    args = (p, fam, np.broadcast_to(MEAN, (200, 2)), np.broadcast_to(Lp, (200, 2, 2)), noise)
    stl = E.bind("kl", "reverse", "stl", dim=2)(*args)
    reparam = E.bind("kl", "reverse", "reparam", dim=2)(*args)
    assert np.abs(stl.terms).max() < 1e-12
    assert reparam.terms.std(axis=(0, 1)).min() > 0.5


def test_effective_sample_size_is_between_one_and_k():
    est = estimates("kl", "forward", "is", n=500, K=16)
    assert np.all((est.ess >= 1 - 1e-12) & (est.ess <= 16 + 1e-9))
