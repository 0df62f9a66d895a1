"""A large batch's divergence values through `core.interpolant`: the same as
the quadrature state by state (which tests/test_divergences.py holds to a
50-digit reference), from a small share of its evaluations."""

import dataclasses
import zlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import run_config
from divcore import runner
from divcore.core import divergences as D
from divcore.core import interpolant
from divcore.core.target import Mixture
from divcore.scenario.model import Start

P = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])

AGREE = 1e-10  # relative, against the quadrature; the quadrature is within 1e-9 of the truth
KINDS = ["kl-reverse", "chi2-reverse", "alpha:-1", "alpha:-0.5", "alpha:0.5", "alpha:1.5", "alpha:2"]


def _divergence(kind):
    if kind.startswith("alpha"):
        return D.alpha(float(kind.split(":")[1]))
    return D.get(*kind.split("-"))


def _walks(rng, div, p, members, steps):
    """States as a run records them: members starting apart, each drifting by
    small steps in (mean, log std), some of them into the infinite region."""
    lo, hi = div.finite_std_range(p)
    lo, hi = max(lo, 0.03), min(hi, 6.0)
    m0 = rng.uniform(-12, 12, members)
    s0 = np.exp(rng.uniform(np.log(lo), np.log(hi), members))
    dm = rng.normal(0, 0.03, (steps, members)) * s0
    ds = rng.normal(0, 0.01, (steps, members))
    return m0 + np.cumsum(dm, axis=0), s0 * np.exp(np.cumsum(ds, axis=0))


def _compare(div, p, mean, std):
    got = div.value(p, mean, std)
    want = np.maximum(div._direct(p, mean.ravel(), std.ravel()), 0.0).reshape(mean.shape)
    np.testing.assert_allclose(got, want, rtol=AGREE, atol=0, err_msg=str((p.means, p.stds, p.weights)))


@pytest.mark.parametrize("kind", KINDS)
def test_large_batches_agree_with_the_quadrature_state_by_state(kind):
    # random targets of 1-8 components with stds from 0.05 to 3: runs' drifting
    # states and states strewn across a wide box (where little is smooth)
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    div = _divergence(kind)
    for _ in range(2):
        C = int(rng.integers(1, 9))
        p = Mixture.create(rng.uniform(-10, 10, C), np.exp(rng.uniform(np.log(0.05), np.log(3.0), C)),
                           rng.uniform(0.1, 1.0, C))
        _compare(div, p, *_walks(rng, div, p, members=4, steps=1500))
        lo, hi = div.finite_std_range(p)
        n = 3000
        _compare(div, p, rng.uniform(-15, 15, n),
                 np.exp(rng.uniform(np.log(max(lo, 0.03)), np.log(min(1.5 * hi, 6.0)), n)))


@pytest.mark.parametrize("divergence, direction, estimator, alpha, share",
                         [("kl", "reverse", "reinforce", None, 0.1), ("alpha", "reverse", "is", 0.5, 0.1),
                          # its states crowd the std where it turns infinite: rougher
                          ("chi2", "reverse", "score", None, 0.5)])
def test_a_recorded_run_costs_a_small_share_of_its_quadratures(divergence, direction, estimator, alpha, share):
    # two starts, 128 members each: what `divfit run` records
    cfg = run_config(divergence=divergence, direction=direction, estimator=estimator, alpha=alpha,
                     samples=16, steps=300, repeat=128, lr=0.05,
                     starts=(Start(-0.5, 0.9), Start(3.0, 0.5)))
    rec = runner.simulate(P, cfg)
    div = D.get(divergence, direction, alpha)
    finite = div.finite(P, rec["std"])
    mean, std = rec["mean"][finite], rec["std"][finite]
    evaluated = []

    def direct(m, s):
        evaluated.append(m.size)
        return div.value_fn(P, m, s)

    got = interpolant.values(direct, mean, std)
    want = div.value_fn(P, mean, std)
    assert np.max(np.abs(got - want) / want) <= AGREE
    assert mean.size > 30_000 and sum(evaluated) < share * mean.size, (sum(evaluated), mean.size)


def test_a_feature_between_every_grid_point_is_caught_by_the_checks():
    # T_64 - 1 vanishes at the Lobatto points of degrees 8, 16 and 32 over the
    # first box, so the samples alone look like a plane there
    rng = np.random.default_rng(0)
    mean, std = rng.uniform(-1, 1, 20_000), np.exp(rng.uniform(-0.5, 0.5, 20_000))
    lo, hi = mean.min(), mean.max()

    def direct(m, s):
        t = np.clip((2 * m - (lo + hi)) / (hi - lo), -1, 1)
        return 3.0 + m + np.log(s) + 1e-6 * (np.cos(64 * np.arccos(t)) - 1.0)

    got = interpolant.values(direct, mean, std)
    np.testing.assert_allclose(got, direct(mean, std), rtol=AGREE)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=6, max_size=6), st.floats(-5, 5), st.floats(0.01, 3),
       st.floats(-1, 1), st.integers(0, 2**32 - 1))
@example(c=[0.0, 0.0, 0.0, 0.0, 1.0, 0.0], centre=0.0, width=3.0, log_std=-1.0, seed=0)  # 5567 calls: not resolvable
def test_smooth_functions_are_reproduced_from_few_evaluations(c, centre, width, log_std, seed):
    rng = np.random.default_rng(seed)
    mean = centre + width * rng.uniform(-1, 1, 5000)
    std = np.exp(log_std + 0.5 * rng.uniform(-1, 1, 5000))

    def direct(m, s):
        v = np.log(s)
        return 300.0 + c[0] * m + c[1] * v + c[2] * m * v + c[3] * np.sin(m) + c[4] * np.exp(v) + c[5] * m**2

    calls = []
    got = interpolant.values(lambda m, s: (calls.append(m.size), direct(m, s))[1], mean, std)
    np.testing.assert_allclose(got, direct(mean, std), rtol=AGREE)
    # a smooth function looks like any other until a grid resolves it: only where the
    # finest affordable grid (degree 32, for 5000 states) is closer than a feature of
    # the narrowest q can be wide is it known smooth, and then it is cheap; elsewhere
    # what samples may be spent on fits it rejects is capped (WASTE, and the one
    # grid that was drawn when the cap was reached)
    finest = max(n for n in interpolant.DEGREES if interpolant.SHARE * (n + 1) ** 2 <= mean.size)
    box = ((mean.min(), mean.max()), (np.log(std).min(), np.log(std).max()))
    if interpolant._resolves(box, finest):
        assert sum(calls) < mean.size
    else:
        assert sum(calls) <= (1 + interpolant.WASTE) * mean.size + (finest + 1) ** 2


@settings(max_examples=25, deadline=None)
@given(st.floats(-5, 5), st.floats(0.5, 3), st.floats(-1, 0), st.integers(0, 2**32 - 1))
def test_a_batch_whose_features_could_hide_between_nodes_costs_at_most_the_waste_cap(centre, width, log_std, seed):
    # q narrow against the box, so that no grid the batch can afford resolves it, and
    # a function with features finer than any grid's spacing: the fits its boxes are
    # halved into until one resolves them are rejected, and their cost is capped
    rng = np.random.default_rng(seed)
    mean = centre + width * rng.uniform(-1, 1, 5000)
    std = np.exp(log_std + 0.5 * rng.uniform(-1, 1, 5000))
    calls = []

    def direct(m, s):
        calls.append(m.size)
        return 2.0 + np.sin(40.0 * m) + s

    got = interpolant.values(direct, mean, std)
    np.testing.assert_allclose(got, 2.0 + np.sin(40.0 * mean) + std, rtol=AGREE)
    assert sum(calls) <= (1 + interpolant.WASTE) * mean.size + (interpolant.DEGREES[-1] + 1) ** 2


def test_fixed_std_identical_and_odd_states(two_modes):
    div = D.get("kl", "reverse")
    mean = np.linspace(-4, 3, 5000)
    _compare(div, two_modes, mean, np.full_like(mean, 0.7))  # one variable
    _compare(div, two_modes, np.full(3000, 0.25), np.full(3000, 1.3))  # one state
    mean[17] = np.nan  # a state that is not one is the quadrature's business, and spoils no box
    _compare(div, two_modes, mean, np.full_like(mean, 0.7))


def test_a_narrow_component_between_the_nodes_is_not_interpolated_over():
    # p's narrow spike at 3 is a feature of width ~q's std in the mean; away
    # from it the value is a polynomial in the mean that a coarse grid fits
    # exactly, so only the grid's resolution keeps the spike from being missed
    p = Mixture.create([0.0, 3.0], [1.0, 0.01], [0.999, 0.001])
    rng = np.random.default_rng(0)
    mean = np.concatenate([rng.uniform(-5, 5, 4000), 3.0 + rng.uniform(-0.01, 0.01, 10)])
    std = rng.uniform(0.01, 0.02, mean.size)
    _compare(D.get("kl", "reverse"), p, mean, std)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, -0.0, 1.5, -2.0, np.inf, np.nan]) | st.floats(-3, 3),
                          st.sampled_from([0.5, 1.0, np.inf]) | st.floats(0.1, 2)), min_size=1, max_size=80),
       st.integers(0, 3))
def test_distinct_states_are_those_of_sorting_every_pair(states, repeats):
    # the means sorted alone find the few states that can repeat; the pairs of
    # those are sorted as before: each state once, and every state mapped back
    mean, std = (np.array(a, float) for a in zip(*states))
    mean, std = np.tile(mean, repeats + 1), np.tile(std, repeats + 1)
    got_m, got_s, inverse = D._distinct(mean, std)

    def pairs(m, s):  # m + 1j * s would make 0 * inf = nan of an infinite s
        out = np.empty(m.size, complex)
        out.real, out.imag = m, s
        return out

    want = np.unique(pairs(mean, std), equal_nan=False)
    assert got_m.size == got_s.size == want.size
    assert np.array_equal(got_m[inverse], mean, equal_nan=True) and np.array_equal(got_s[inverse], std)
    assert np.array_equal(np.sort_complex(pairs(got_m, got_s)), np.sort_complex(want), equal_nan=True)


def test_repeated_states_cost_one_quadrature_each():
    # members that have converged repeat their last state, here a hundred times
    rng = np.random.default_rng(1)
    mean, std = np.repeat(rng.uniform(-8, 8, 1000), 100), np.repeat(rng.uniform(0.05, 0.1, 1000), 100)
    evaluated = []
    kl = D.get("kl", "reverse")

    def counting(p, m, s):
        evaluated.append(np.size(m))
        return kl.value_fn(p, m, s)

    got = dataclasses.replace(kl, value_fn=counting).value(P, mean, std)
    np.testing.assert_allclose(got, kl._direct(P, mean, std), rtol=AGREE)
    assert sum(evaluated) <= 1.15 * 1000


def test_states_on_adjacent_floats_end_the_halving():
    # two means one ulp apart, where halving cannot separate them, and every fit rejected
    p = Mixture.create([-4.0, 0.0, 5.0], [0.5, 1.0, 0.7], [0.3, 0.4, 0.3])
    lo = -14.9
    while 0.5 * (lo + np.nextafter(lo, np.inf)) != np.nextafter(lo, np.inf):
        lo = np.nextafter(lo, np.inf)
    mean = np.where(np.arange(20_000) % 2 == 0, lo, np.nextafter(lo, np.inf))
    got = interpolant.values(lambda m, s: D.get("chi2", "reverse").value_fn(p, m, s), mean, np.full(mean.size, 1.3))
    assert np.isinf(got).all()
