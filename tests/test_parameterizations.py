import numpy as np
import pytest

from divcore.core import parameterizations

NAMES = list(parameterizations.PARAMETERIZATIONS)
MEANS = np.array([-2.0, 0.0, 0.3, 4.0])
STDS = np.array([0.5, 1.0, 2.5, 0.1])


@pytest.mark.parametrize("name", NAMES)
def test_maps_round_trip(name):
    P = parameterizations.get(name)
    m, s = P.from_phi(P.to_phi(MEANS, STDS))
    np.testing.assert_allclose(m, MEANS, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s, STDS, rtol=1e-12)
    assert P.feasible(P.to_phi(MEANS, STDS)).all()


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_matches_finite_differences(name):
    P = parameterizations.get(name)
    phi = P.to_phi(MEANS, STDS)
    J = P.jacobian(phi)
    h = 1e-6
    for k in range(2):
        step = h * np.maximum(1.0, np.abs(phi[:, k]))
        plus, minus = phi.copy(), phi.copy()
        plus[:, k] += step
        minus[:, k] -= step
        theta = lambda f: np.stack([P.from_phi(f)[0], np.log(P.from_phi(f)[1])], -1)
        fd = (theta(plus) - theta(minus)) / (2 * step[:, None])
        np.testing.assert_allclose(J[:, :, k], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_fisher_inverse_is_the_inverse_of_the_fisher(name):
    P = parameterizations.get(name)
    phi = P.to_phi(MEANS, STDS)
    np.testing.assert_allclose(P.fisher(phi) @ P.fisher_inverse(phi), np.broadcast_to(np.eye(2), (4, 2, 2)), atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_fisher_is_the_covariance_of_the_score_in_phi(name):
    # F_phi = E_q[grad_phi log q grad_phi log q^T], by Gauss-Hermite over q
    P = parameterizations.get(name)
    x, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    for m, s in zip(MEANS, STDS):
        phi = P.to_phi(np.array([m]), np.array([s]))
        score_theta = np.stack([x / s, x * x - 1], -1)  # at z = m + s x
        score_phi = score_theta @ P.jacobian(phi)[0]
        F = (w[:, None, None] * score_phi[:, :, None] * score_phi[:, None, :]).sum(0)
        np.testing.assert_allclose(F, P.fisher(phi)[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_chain_rule_gives_the_gradient_in_phi(name):
    P = parameterizations.get(name)
    # f(theta) = a*mean + b*log std + mean*log std, grad_theta = (a + l, b + m)
    f = lambda m, s: 0.7 * m - 1.3 * np.log(s) + m * np.log(s)
    phi = P.to_phi(MEANS, STDS)
    g_theta = np.stack([0.7 + np.log(STDS), -1.3 + MEANS], -1)
    g_phi = P.grad_phi(phi, g_theta)
    h = 1e-6
    for k in range(2):
        step = h * np.maximum(1.0, np.abs(phi[:, k]))
        plus, minus = phi.copy(), phi.copy()
        plus[:, k] += step
        minus[:, k] -= step
        fd = (f(*P.from_phi(plus)) - f(*P.from_phi(minus))) / (2 * step)
        np.testing.assert_allclose(g_phi[:, k], fd, rtol=1e-6, atol=1e-7)


def test_constraints():
    assert not parameterizations.get("mu-sigma").feasible(np.array([0.0, -1.0]))
    assert not parameterizations.get("mu-tau").feasible(np.array([0.0, 0.0]))
    assert not parameterizations.get("natural").feasible(np.array([0.0, 0.5]))
    assert parameterizations.get("mu-logsigma").feasible(np.array([0.0, -30.0]))


def test_unknown_name():
    with pytest.raises(ValueError, match="allowed"):
        parameterizations.get("polar")


def test_the_family_refuses_non_finite_and_out_of_bounds_states_without_a_warning():
    from divcore.core import family

    mean = np.array([0.0, np.nan, np.inf, -np.inf, 2e6, 1.0, 1.0, 1.0, 1.0, 1.0])
    std = np.array([1.0, 1.0, 1.0, 1.0, 1.0, np.nan, np.inf, 1e-7, 2e6, 1e6])
    with np.errstate(all="raise"):
        ok = family.in_family(mean, std)
    assert ok.tolist() == [True] + [False] * 8 + [True]
