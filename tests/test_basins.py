"""Basin maps: labels, final states, and agreement with the optima the core finds."""

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import record_bytes, run_config, target_of
from divcore import runner
from divcore.core import basins, divergences
from divcore.core.target import Mixture
from divcore.scenario import ScenarioError, parse_scenario
from divcore.scenario.model import Basins, Start

P = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
T = target_of(P)
SMALL = Basins(size=7, mean=(-6.0, 5.0), std=(0.3, 5.0), steps=2000, tolerance=0.25)


def test_labels_pick_the_nearest_optimum_within_tolerance():
    om, os_ = np.array([-3.0, 2.0]), np.array([1.0, 0.5])
    mean = np.array([-3.0, 2.1, -0.5, 2.0, 9.0])
    std = np.array([1.0, 0.5, 0.8, 0.5 * np.exp(0.2), 1.0])
    diverged = np.array([False, False, False, False, True])
    got = basins.label(mean, std, diverged, om, os_, scale=1.0, tol=0.25)
    assert got.tolist() == [0, 1, basins.NOT_CONVERGED, 1, basins.DIVERGED]
    # just past the tolerance, in log std
    assert basins.label([2.0], [0.5 * np.exp(0.26)], [False], om, os_, 1.0, 0.25)[0] == basins.NOT_CONVERGED


def test_labels_without_optima_or_with_nan_states_are_not_converged():
    assert basins.label([0.0], [1.0], [False], [], [], 1.0).tolist() == [basins.NOT_CONVERGED]
    assert basins.label([np.nan], [1.0], [False], [0.0], [1.0], 1.0).tolist() == [basins.NOT_CONVERGED]


def test_final_state_averages_each_members_own_last_steps():
    S = 100
    n = basins.tail_length(S)
    mean = np.tile(np.arange(S + 1, dtype=float), (2, 1))
    std = np.exp(mean / 100)
    mean[1, 51:] = mean[1, 50]  # stopped at step 50: frozen afterwards
    std[1, 51:] = std[1, 50]
    # the ring a TailRecorder keeps: slot i % (n + 1) holds state i, a stopped member writes no more
    last = np.array([S, 50])
    ring = {k: np.empty((2, n + 1)) for k in ("mean", "std")}
    for b in range(2):
        for i in range(last[b] + 1):
            ring["mean"][b, i % (n + 1)], ring["std"][b, i % (n + 1)] = mean[b, i], std[b, i]
    got = basins.final_state(ring, last, average=True)
    np.testing.assert_allclose(got["mean"], [np.mean(np.arange(91, 101)), np.mean(np.arange(41, 51))])
    np.testing.assert_allclose(np.log(got["std"]), got["mean"] / 100)
    got = basins.final_state(ring, last, average=False)
    np.testing.assert_array_equal(got["mean"], [100.0, 50.0])


def test_fractions_cover_every_outcome():
    labels = np.array([[0, 0, 1], [basins.NOT_CONVERGED, basins.DIVERGED, 0]])
    f = basins.fractions(labels, 2)
    assert f == {0: 0.5, 1: 1 / 6, basins.NOT_CONVERGED: 1 / 6, basins.DIVERGED: 1 / 6}
    assert sum(f.values()) == pytest.approx(1.0)


def test_exact_labels_agree_with_the_optima_the_core_finds():
    """Every start of an exact map converges; each lands on the optimum it is
    labelled with, which is a stationary point, and both modes' basins show."""
    cfg = run_config(estimator="exact", lr=0.05, lr_decay=0.001)
    out = runner.basin_map(T, cfg, SMALL)
    found = runner.run_optima(P, runner.basin_config(cfg, SMALL))
    o = SimpleNamespace(mean=found["optima_mean"], std=found["optima_std"])
    np.testing.assert_array_equal(out["optima_mean"], o.mean)
    assert out["label"].shape == (SMALL.size, SMALL.size)
    assert set(np.unique(out["label"])) == set(range(len(o.mean)))
    for i in range(len(o.mean)):
        hit = out["label"] == i
        np.testing.assert_allclose(out["final_mean"][hit], o.mean[i], atol=1e-6)
        np.testing.assert_allclose(out["final_std"][hit], o.std[i], rtol=1e-6)
        g = divergences.get("kl", "reverse").grad(P, np.array([o.mean[i]]), np.array([o.std[i]]))
        assert np.linalg.norm(g) < 1e-6
    # a start on a mode's side of the valley goes to that mode
    means, stds = out["means"], out["stds"]
    j_left, j_right = np.argmin(np.abs(means + 3.0)), np.argmin(np.abs(means - 2.0))
    i_narrow = np.argmin(np.abs(stds - 0.8))
    left = np.argmin(np.abs(o.mean + 3.0))
    assert out["label"][i_narrow, j_left] == left and out["label"][i_narrow, j_right] == 1 - left


def test_each_start_is_the_run_made_alone_with_its_own_seed():
    cfg = run_config(estimator="reparam", samples=8, seed=5, steps=50)
    spec = Basins(size=3, mean=(-1.0, 1.0), std=(0.5, 2.0), steps=50, tolerance=0.25)
    out = runner.basin_map(T, cfg, spec)
    k = 2 * 3 + 1  # mean-major: third mean, second std
    alone = runner.run(T, run_config(estimator="reparam", samples=8, seed=5 + k, steps=50,
                                     starts=(Start(1.0, 1.0),)))
    window = slice(50 - basins.tail_length(50) + 1, 51)  # the start's last states, averaged (std in log)
    assert out["final_mean"][1, 2] == pytest.approx(alone["mean"][0, window].mean(), rel=1e-14)
    assert out["final_std"][1, 2] == pytest.approx(np.exp(np.log(alone["std"][0, window]).mean()), rel=1e-14)


def test_an_exact_start_is_the_run_made_alone_though_others_stop_earlier():
    """Exact maps skip the quadrature of starts that have converged; the others
    must not notice."""
    cfg = run_config(estimator="exact", lr=0.1, steps=3000)
    spec = Basins(size=4, mean=(-5.0, 4.0), std=(0.5, 3.0), steps=3000, tolerance=0.25)
    out = runner.basin_map(T, cfg, spec)
    assert len(np.unique(out["steps_taken"])) > 3  # the starts stop at different steps
    for i, j in ((0, 0), (2, 1), (3, 3)):
        alone = runner.run(T, run_config(estimator="exact", lr=0.1, steps=3000, seed=cfg.seed + 4 * j + i,
                                         starts=(Start(float(out["means"][j]), float(out["stds"][i])),)))
        assert out["steps_taken"][i, j] == alone["steps_taken"][0] and out["status"][i, j] == alone["status"][0]
        assert out["final_mean"][i, j] == alone["mean"][0, -1] and out["final_std"][i, j] == alone["std"][0, -1]


def test_monte_carlo_with_many_samples_finds_the_exact_basins():
    spec = Basins(size=7, mean=(-6.0, 5.0), std=(0.3, 5.0), steps=1500, tolerance=0.25)
    exact = runner.basin_map(T, run_config(estimator="exact", lr=0.05, lr_decay=0.001), spec)
    mc = runner.basin_map(T, run_config(estimator="reparam", samples=256, lr=0.05, lr_decay=0.001), spec)
    assert np.mean(mc["label"] == exact["label"]) >= 0.9


BASE = """title = "t"
[target]
components = [{ mean = -3.0, std = 0.9, weight = 0.5 }, { mean = 2.0, std = 0.7, weight = 0.5 }]
[[runs]]
name = "a"
divergence = "kl"
direction = "reverse"
start = { mean = 0.0, std = 1.0 }
"""


def test_basins_defaults_come_from_the_landscape_box():
    b = parse_scenario(BASE + "[basins]\n").basins
    assert (b.size, b.steps, b.tolerance) == (41, 2000, 0.25)
    assert b.mean == (-5.7, 4.1) and b.std[0] == pytest.approx(0.14)
    assert parse_scenario(BASE).basins is None
    b = parse_scenario(BASE + "[basins]\nsize = 5\nmean = [-1, 1]\nstd = [0.5, 2]\nsteps = 10\n").basins
    assert b == Basins(size=5, mean=(-1.0, 1.0), std=(0.5, 2.0), steps=10, tolerance=0.25)


@pytest.mark.parametrize("extra,where,message", [
    ("[basins]\nmean = [1, 1]\n", "basins.mean", "the range [1, 1] is empty; [lowest, highest] with lowest < highest"),
    ("[basins]\nstd = [0, 1]\n", "basins.std[0]", "std must be"),
    ("[basins]\nsize = 2\n", "basins.size", "size must be >= 3"),
    ("[basins]\nsize = 5\nsteps = 1000000\n", "basins.steps",
     "each block of 256 starts would hold their last 100001 states, about 3.1 GiB, more than 2 GiB; "
     "fewer steps (the last tenth of them is kept)"),
    ("[basins]\nsize = 1002\n", "basins.size", "<= 1001"),
    ("[basins]\nsize = 401\nsteps = 3000\n", "basins.size",
     'x K = 123495168000 for run "a" exceeds 100000000000 (an exact gradient counts as K = 256)'),
    ("[basins]\nmean = [1, 2, 3]\n", "basins.mean", "has 3 items, more than 2"),
    ("[basins]\ngrid = 3\n", "basins.grid", "unknown key"),
    ("[basins]\ntolerance = 0\n", "basins.tolerance", "> 0 and <= 10"),
])
def test_bad_basins_tables_fail_with_the_key(extra, where, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(BASE + extra)
    text = str(err.value)
    assert f": {where}: " in text and message in text and "\n" not in text


def test_basins_need_the_full_gaussian_family():
    with pytest.raises(ScenarioError, match=r': basins: run "a" uses family "gaussian-fixed-std"; basin maps need'):
        parse_scenario(BASE.replace('direction = "reverse"', 'direction = "reverse"\nfamily = "gaussian-fixed-std"')
                       + "[basins]\n")


def test_basin_seeds_must_stay_in_range():
    with pytest.raises(ScenarioError, match=r": basins.size: the map's 9 starts .* run seeds past"):
        parse_scenario(BASE.replace('direction = "reverse"', f'direction = "reverse"\nseed = {2**63 - 5}')
                       + "[basins]\nsize = 3\n")



@pytest.mark.parametrize("estimator", ["exact", "reinforce"])
def test_a_basin_map_split_into_1_4_or_16_blocks_gives_the_same_bytes(estimator):
    """Each start is its own run with its own seed, so the blocks a map is cut
    into (the tasks a build spreads over its workers, joined in grid order
    whatever order they finish in) cannot change it."""
    cfg = run_config(estimator=estimator, samples=8, lr=0.05)
    spec = Basins(size=8, mean=(-6.0, 5.0), std=(0.3, 5.0), steps=150, tolerance=0.25)
    assert_blocks_do_not_matter(T, cfg, spec)


def assert_blocks_do_not_matter(target, cfg, spec) -> None:
    whole = record_bytes(runner.basin_map(target, cfg, spec, block=spec.size**2))
    for blocks in (4, 16):
        pieces = runner.basin_blocks(cfg, spec, spec.size**2 // blocks)
        assert len(pieces) == blocks
        done = {sl.start: runner.basin_block(target, cfg, spec, sl) for sl in reversed(pieces)}
        joined = runner.basin_join(target, cfg, spec, [done[sl.start] for sl in pieces])
        assert record_bytes(joined) == whole, blocks
