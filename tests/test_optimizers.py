import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from divcore.core import optimizers as O
from divcore.core import parameterizations


def run(transform, grads, phi=None):
    phi = np.zeros((1, 2)) if phi is None else phi
    state = transform.init(phi)
    out = []
    for g in grads:
        u, state = transform.update(np.atleast_2d(g), state, phi)
        out.append(u[0])
    return np.array(out)


def test_adam_matches_its_definition():
    grads = np.array([[1.0, -2.0], [0.5, 0.1], [-3.0, 0.0]])
    got = run(O.scale_by_adam(), grads)
    m = v = np.zeros(2)
    for t, g in enumerate(grads, 1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(got[t - 1], expected, rtol=1e-12)
    # the first bias-corrected Adam step has unit size per coordinate
    np.testing.assert_allclose(np.abs(got[0]), 1.0, rtol=1e-6)


def test_momentum_accumulates():
    got = run(O.trace(0.5), np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(got[:, 0], [1.0, 1.5, 1.75])


def test_schedule_decays_the_learning_rate():
    got = run(O.scale_by_schedule(0.1, 0.5), np.ones((3, 2)))
    np.testing.assert_allclose(got[:, 0], [-0.1, -0.1 / 1.5, -0.1 / 2.0])


def test_clip_bounds_the_norm_and_keeps_the_direction():
    g = np.array([[3.0, 4.0], [0.3, 0.4]])
    out, _ = O.clip_by_norm(1.0).update(g, (), g)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4]])


def test_clip_handles_gradients_whose_squares_overflow():
    g = np.array([[3e200, -4e200], [0.0, 0.0]])
    with np.errstate(all="raise"):
        out, _ = O.clip_by_norm(1.0).update(g, (), g)
    np.testing.assert_allclose(out, [[0.6, -0.8], [0.0, 0.0]])


@pytest.mark.parametrize("name", list(parameterizations.PARAMETERIZATIONS))
def test_natural_gradient_is_the_same_step_in_every_parameterization(name):
    """F_phi^{-1} grad_phi maps to the same theta-direction whatever phi is:
    J (F_phi^{-1} J^T g_theta) = F_theta^{-1} g_theta."""
    P = parameterizations.get(name)
    mean, std = np.array([0.7, -2.0]), np.array([1.3, 0.4])
    phi = P.to_phi(mean, std)
    g_theta = np.array([[0.3, -1.1], [2.0, 0.5]])
    d_phi, _ = O.natural_gradient(P, np.array([True, True])).update(P.grad_phi(phi, g_theta), (), phi)
    d_theta = np.einsum("bij,bj->bi", P.jacobian(phi), d_phi)
    np.testing.assert_allclose(d_theta, g_theta / np.stack([1 / std**2, np.full(2, 2.0)], -1), rtol=1e-10)


@pytest.mark.parametrize("name", list(parameterizations.PARAMETERIZATIONS))
def test_natural_gradient_for_a_fixed_std_moves_only_the_mean_by_std_squared_times_grad(name):
    P = parameterizations.get(name)
    mean, std = np.array([0.7]), np.array([1.3])
    phi = P.to_phi(mean, std)
    g_phi = np.where([True, False], P.grad_phi(phi, np.array([[0.4, 0.0]])), 0.0)
    d_phi, _ = O.natural_gradient(P, np.array([True, False])).update(g_phi, (), phi)
    assert d_phi[0, 1] == 0.0
    np.testing.assert_allclose(P.jacobian(phi)[0, 0, 0] * d_phi[0, 0], std[0] ** 2 * 0.4, rtol=1e-10)


def test_build_orders_the_transforms():
    P = parameterizations.get("mu-logsigma")
    opt = O.build("sgd", param=P, free=np.array([True, True]), natural=False, clip=1.0, lr=0.5, lr_decay=0.0)
    phi = np.zeros((1, 2))
    u, _ = opt.update(np.array([[30.0, 40.0]]), opt.init(phi), phi)
    np.testing.assert_allclose(u, [[-0.3, -0.4]])
    with pytest.raises(ValueError, match="allowed"):
        O.build("rmsprop", param=P, free=np.array([True, True]), natural=False, clip=0, lr=0.1, lr_decay=0)


@pytest.mark.parametrize("mean,std", [(1000.0, 1e-3), (1000.0, 1e-5), (1e5, 3e-6)])
def test_natural_gradient_stays_exact_where_the_fisher_matrix_is_ill_conditioned(mean, std):
    """In natural coordinates F_phi has entries of size mean^2 std^4 and determinant
    2 std^6: the direction must not be computed through it. Reference: exact
    rational arithmetic on the same float inputs."""
    from fractions import Fraction as Q

    P = parameterizations.get("natural")
    phi = P.to_phi(np.array([mean]), np.array([std]))
    g_phi = np.array([[0.3, -1.1]])
    d_phi, _ = O.natural_gradient(P, np.array([True, True])).update(g_phi, (), phi)
    e1, e2 = Q(phi[0, 0]), Q(phi[0, 1])
    var = Q(-1, 2) / e2
    a, b, c = var, 2 * e1 * var * var, var  # J = [[a, b], [0, c]]
    F = [[a * a / var, a * b / var], [a * b / var, b * b / var + 2 * c * c]]
    det = F[0][0] * F[1][1] - F[0][1] ** 2
    g0, g1 = Q(0.3), Q(-1.1)
    exact = [(F[1][1] * g0 - F[0][1] * g1) / det, (F[0][0] * g1 - F[0][1] * g0) / det]
    np.testing.assert_allclose(d_phi[0], [float(x) for x in exact], rtol=1e-9)


def _clip_reference(g, max_norm):
    """The clip's definition, for every member: g * min(1, max_norm / |g|)."""
    big = np.abs(g).max(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        norm = big * np.sqrt(((g / big) ** 2).sum(-1, keepdims=True))
        return g * np.where(norm > max_norm, max_norm / norm, 1.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=6),
       st.sampled_from([1e-3, 0.3, 1.0, 5.0, 1e3]))
def test_clip_is_its_definition_bit_for_bit(rows, max_norm):
    """Whether or not the clip takes its shortcut (no entry large enough for any
    norm to exceed the bound), the result is the definition's, bit for bit."""
    g = np.array(rows)
    out, _ = O.clip_by_norm(max_norm).update(g, (), g)
    np.testing.assert_array_equal(out, _clip_reference(g, max_norm))
    assert np.all(np.hypot(out[:, 0], out[:, 1]) <= max_norm * (1 + 1e-12))


def test_clip_at_its_bound_and_just_above_it():
    for g in (np.array([[3.0, 4.0]]), np.array([[5.0, 0.0]]), np.array([[5.0 / np.sqrt(2)] * 2]),
              np.array([[np.nextafter(5.0, 6.0), 0.0]]), np.array([[np.nan, 1.0]])):
        out, _ = O.clip_by_norm(5.0).update(g, (), g)
        np.testing.assert_array_equal(out, _clip_reference(g, 5.0))
