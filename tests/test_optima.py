import numpy as np
import pytest

from divcore.core import divergences as D
from divcore.core import optima
from divcore.core.target import Mixture

KEYS = [pair for pair in D.pairs() if not D.DIVERGENCES[pair[0]].has_alpha]


def assert_stationary_minima(p, div, o, fixed=False):
    for m, s, v in zip(o.mean, o.std, o.value):
        g = div.grad(p, m, s)
        g = g[:1] if fixed else g
        assert np.linalg.norm(g) <= 1e-6 * max(1.0, abs(v))
        assert v == pytest.approx(float(div.value(p, m, s)))
        if not fixed:
            assert np.all(np.linalg.eigvalsh(optima.hessian(p, div, m, np.log(s))) > 0)
    assert np.all(np.diff(o.value) >= 0), "global first"


@pytest.mark.parametrize("key", KEYS)
def test_a_gaussian_target_is_its_own_unique_optimum(key):
    p = Mixture.create([1.5], [0.8])
    o = optima.find(p, D.get(*key))
    assert len(o.mean) == 1
    assert o.mean[0] == pytest.approx(1.5, abs=1e-6) and o.std[0] == pytest.approx(0.8, rel=1e-6)
    assert abs(o.value[0]) < 1e-9


def test_forward_kl_is_moment_matching(two_modes):
    o = optima.find(two_modes, D.get("kl", "forward"))
    assert o.mean[0] == pytest.approx(-0.5) and o.std[0] ** 2 == pytest.approx(two_modes.variance())
    assert_stationary_minima(two_modes, D.get("kl", "forward"), o)


@pytest.mark.parametrize("key", [("kl", "reverse"), ("chi2", "reverse")])
def test_well_separated_modes_give_a_reverse_minimum_on_each(key):
    p = Mixture.create([-5.0, 5.0], [1.0, 0.5], [0.4, 0.6])
    div = D.get(*key)
    o = optima.find(p, div)
    assert_stationary_minima(p, div, o)
    for m, s in [(-5.0, 1.0), (5.0, 0.5)]:
        near = np.abs(o.mean - m) < 0.1
        assert near.any() and o.std[near][0] == pytest.approx(s, rel=0.05)
    # on separated modes reverse KL's minimum is at about -log(weight): the heavier mode wins
    assert abs(o.mean[0] - 5.0) < 0.1


@pytest.mark.parametrize("key", KEYS)
def test_every_optimum_is_a_stationary_minimum(key, three_modes):
    div = D.get(*key)
    o = optima.find(three_modes, div)
    assert len(o.mean) >= 1
    assert_stationary_minima(three_modes, div, o)


def test_reverse_kl_finds_minima_that_are_not_on_a_mode(two_modes):
    """Between two moderately separated modes reverse KL also has a broad local
    minimum covering both: the search must not assume one minimum per mode."""
    o = optima.find(two_modes, D.get("kl", "reverse"))
    assert len(o.mean) == 3
    assert np.sum(o.std > 2.0) == 1


def test_no_local_minimum_is_missed_on_a_fine_grid(three_modes):
    """Every grid point that is lower than all its neighbours lies next to a reported minimum."""
    div = D.get("kl", "reverse")
    o = optima.find(three_modes, div)
    m = np.linspace(-6, 5, 221)
    ls = np.linspace(np.log(0.2), np.log(5), 121)
    M, L = np.meshgrid(m, ls)
    V = div.value(three_modes, M, np.exp(L))
    inner = V[1:-1, 1:-1]
    is_min = np.ones_like(inner, bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                is_min &= inner < V[1 + di : V.shape[0] - 1 + di, 1 + dj : V.shape[1] - 1 + dj]
    for i, j in zip(*np.nonzero(is_min)):
        d = np.hypot((o.mean - M[i + 1, j + 1]) / 0.05, (np.log(o.std) - L[i + 1, j + 1]) / 0.027)
        assert d.min() < 3, (M[i + 1, j + 1], np.exp(L[i + 1, j + 1]))


def test_fixed_std_minima_are_over_the_mean_only(two_modes):
    div = D.get("kl", "reverse")
    o = optima.find(two_modes, div, fixed_std=0.8)
    assert np.all(o.std == 0.8) and len(o.mean) == 2
    assert_stationary_minima(two_modes, div, o, fixed=True)


def test_fixed_std_with_an_infinite_divergence_has_no_minima(two_modes):
    assert len(optima.find(two_modes, D.get("chi2", "reverse"), fixed_std=2.0).mean) == 0


def test_a_found_optimum_is_remembered_by_value_and_handed_out_as_a_copy():
    """Runs of a scene share their target and divergence: the second search is a
    look-up (the same numbers as searching afresh), whatever Mixture object asks,
    and what one caller does to its arrays does not reach the next."""
    div = D.get("kl", "reverse")
    fresh = optima._find(Mixture.create([-3.0, 2.0], [0.9, 0.7]), div, None)
    first = optima.find(Mixture.create([-3.0, 2.0], [0.9, 0.7]), div)
    first.mean[:] = 99.0
    again = optima.find(Mixture.create([-3.0, 2.0], [0.9, 0.7]), div)
    for a, b in zip(again, fresh):
        assert a.tobytes() == b.tobytes()
    other = optima.find(Mixture.create([-3.0, 2.5], [0.9, 0.7]), div)  # another target is searched
    assert not np.allclose(other.mean[:2], fresh.mean[:2])


@pytest.mark.parametrize("key", [("kl", "reverse"), ("chi2", "reverse")])
def test_every_start_descends_in_the_batch_as_it_would_alone(key, three_modes):
    """The starts share each evaluation but nothing else: a start's descent is
    its own, whichever others are in the batch (and some stop early)."""
    div = D.get(*key)
    lo, hi = optima._log_std_bounds(three_modes, div)
    starts = np.array(optima._starts(three_modes, lo, hi, None))
    box = (-100.0, 100.0), (lo, hi)
    together = optima._descend(three_modes, div, starts, None, *box)
    for k in range(0, len(starts), 7):
        alone = optima._descend(three_modes, div, starts[k : k + 1], None, *box)
        np.testing.assert_allclose([a[0] for a in alone], [t[k] for t in together], rtol=1e-9, atol=1e-12)
    reached = optima._distinct(zip(*(a.tolist() for a in together)), 1e-8)
    assert len(reached) < len(starts) and all(div.finite(three_modes, np.exp(ls)) for _, ls in reached)
