"""The batched runner on the plane: the record's keys and shapes (SPEC, "Two
dimensions"), members bit-identical to runs made alone, exact runs that end
stationary at an optimum the core finds, and Bishop's mean-field picture."""

import numpy as np
import pytest

from conftest import run_config
from divcore import runner
from divcore.core.bivariate import divergences as D
from divcore.scenario.model import Component2, Start2, Target

TARGET = Target((Component2((-2.0, -1.5), ((1.0, 0.3), (0.3, 0.8)), 0.5),
                 Component2((2.0, 1.5), ((0.8, -0.2), (-0.2, 1.0)), 0.5)))
START = Start2((0.5, 0.2), (1.5, 1.5), 0.0)
START_Q = (np.array(START.mean), np.linalg.cholesky(np.array(START.cov)))


def config(**kw):
    kw.setdefault("family", "gaussian")
    kw.setdefault("parameterization", "mean-logcholesky")
    kw.setdefault("starts", (START,))
    return run_config(**kw)


@pytest.mark.parametrize("family,P", [("gaussian", 5), ("gaussian-diag", 4)])
def test_record_has_the_planes_keys_and_shapes(family, P):
    cfg = config(family=family, estimator="reinforce", samples=8, steps=30, repeat=3)
    rec = runner.run(TARGET, cfg)
    B, S, K = 3, 30, 8
    shapes = {"mean": (B, S + 1, 2), "cov": (B, S + 1, 2, 2), "phi": (B, S + 1, P), "grad": (B, S, P),
              "divergence": (B, S + 1), "particles": (B, S, K, 2), "particle_weights": (B, S, K), "ess": (B, S),
              "status": (B,)}
    for key, shape in shapes.items():
        assert rec[key].shape == shape, key
    M = len(rec["optima_value"])
    assert M >= 1 and rec["optima_mean"].shape == (M, 2) and rec["optima_cov"].shape == (M, 2, 2)
    assert "std" not in rec and "optima_std" not in rec
    assert np.allclose(rec["mean"][:, 0], START.mean) and np.allclose(rec["cov"][:, 0], START.cov)
    if family == "gaussian-diag":
        assert np.all(rec["cov"][..., 0, 1] == 0)
    # the recorded divergence is the divergence of the recorded state
    div = D.get("kl", "reverse", family)
    i = 17
    assert rec["divergence"][1, i] == pytest.approx(
        float(div.value(runner.mixture(TARGET), rec["mean"][1, i], np.linalg.cholesky(rec["cov"][1, i]))), rel=1e-12)


@pytest.mark.parametrize("estimator", ["reparam", "data", "is"])
def test_members_of_a_batch_are_the_runs_made_alone(estimator):
    direction = "reverse" if estimator == "reparam" else "forward"
    starts = (START, Start2((-1.0, 1.0), (0.8, 1.2), 0.4))
    batch = runner.simulate(runner.mixture(TARGET), config(estimator=estimator, direction=direction,
                                                           starts=starts, repeat=2, steps=25))
    for b, (start, seed) in enumerate([(starts[0], 0), (starts[0], 1), (starts[1], 0), (starts[1], 1)]):
        alone = runner.simulate(runner.mixture(TARGET), config(estimator=estimator, direction=direction,
                                                               starts=(start,), seed=seed, steps=25))
        for key in ("phi", "grad", "particles", "particle_weights"):
            np.testing.assert_array_equal(batch[key][b], alone[key][0])


@pytest.fixture(scope="module")
def reverse_kl_optima():
    return runner.run_optima(runner.mixture(TARGET), config())


@pytest.mark.parametrize("parameterization,natural", [("mean-logcholesky", False), ("natural", True),
                                                      ("mean-logcholesky", True)])
def test_exact_reverse_kl_runs_end_at_a_stationary_optimum(parameterization, natural, reverse_kl_optima):
    cfg = config(parameterization=parameterization, natural_gradient=natural, optimizer="sgd" if natural else "adam",
                 lr=0.3 if natural else 0.1, lr_decay=0.0 if natural else 0.01, steps=1000)
    p = runner.mixture(TARGET)
    rec = runner.simulate(p, cfg)
    assert rec["status"][0] == runner.CONVERGED
    end_mean, end_cov = rec["mean"][0, -1], rec["cov"][0, -1]
    div = D.get("kl", "reverse", "gaussian")
    assert div.value(p, end_mean, np.linalg.cholesky(end_cov)) < div.value(p, *START_Q)
    means, covs = reverse_kl_optima["optima_mean"], reverse_kl_optima["optima_cov"]
    nearest = np.argmin(np.linalg.norm(means - end_mean, axis=1))
    assert np.allclose(end_mean, means[nearest], atol=1e-3)
    assert np.allclose(end_cov, covs[nearest], atol=1e-3)


def test_an_exact_runs_divergences_are_each_states_own():
    """The values its gradient steps computed are reused, bit for bit what
    evaluating each recorded state afresh gives."""
    from divcore.core.bivariate import parameterizations as PZ

    cfg = config(steps=25, parameterization="natural")
    rec = runner.run(TARGET, cfg)
    mean, L = PZ.get("natural", "gaussian").from_phi(rec["phi"][0])
    fresh = D.get("kl", "reverse", "gaussian").value(runner.mixture(TARGET), mean, L)
    np.testing.assert_array_equal(rec["divergence"][0], fresh)


def test_a_step_past_the_natural_constraint_stops_that_member_only():
    """REINFORCE in natural coordinates with a few samples: some steps leave eta2
    negative definite; those members stop with LEFT_FAMILY, the rest run on."""
    target = Target((Component2((0.0, 0.0), ((4.0, 0.0), (0.0, 4.0)), 1.0),))
    cfg = config(parameterization="natural", estimator="reinforce", samples=4, repeat=20, steps=200, lr=0.05)
    rec = runner.simulate(runner.mixture(target), cfg)
    assert set(np.unique(rec["status"])) <= {runner.RAN_ALL_STEPS, runner.LEFT_FAMILY}
    stopped = rec["status"] == runner.LEFT_FAMILY
    assert np.all(np.isfinite(rec["phi"])) and np.all(np.isfinite(rec["cov"]))
    assert np.all(rec["steps_taken"][~stopped] == 200)


# ------------------------------------------------------------ basin maps over starting means

from divcore.core import basins  # noqa: E402
from divcore.core.bivariate import gaussian  # noqa: E402
from divcore.scenario.model import Basins2  # noqa: E402


def test_a_plane_basin_map_sends_each_start_to_its_nearer_mode():
    """Reverse KL from a grid of starting means on a two-mode target: starts
    near a mode end in it; forward KL (one optimum) takes every start to it."""
    spec = Basins2(size=5, x=(-3.0, 3.0), y=(-2.5, 2.5), steps=150, tolerance=0.25)
    start = (Start2((0.0, 0.0), (0.6, 0.6), 0.0),)
    rev = runner.basin_map(TARGET, config(estimator="reparam", samples=16, lr=0.08, starts=start), spec)
    assert rev["label"].shape == (5, 5) and rev["final_mean"].shape == (5, 5, 2)
    assert rev["final_cov"].shape == (5, 5, 2, 2)
    near = {i: int(np.argmin(np.linalg.norm(rev["optima_mean"] - m, axis=1))) for i, m in
            enumerate(runner.mixture(TARGET).means)}
    # row i is y[i], column j is x[j]: the corners nearest each component's mean
    assert rev["label"][0, 0] == near[0] and rev["label"][-1, -1] == near[1]
    fwd = runner.basin_map(TARGET, config(direction="forward", starts=start), spec)
    assert (fwd["label"] == 0).all() and len(fwd["optima_value"]) == 1


def test_a_basin_maps_start_is_the_run_made_from_it_alone():
    spec = Basins2(size=3, x=(-1.0, 1.0), y=(-1.0, 1.0), steps=20, tolerance=0.25)
    cfg = config(estimator="reinforce", samples=8, seed=5)
    grid = runner.plane_basin_config(cfg, spec)
    assert grid.start_grid == (tuple(s.mean for s in grid.starts),) and len(grid.starts) == 9
    assert all(s.cov == START.cov for s in grid.starts)
    b = 7  # x[2], y[1]
    alone = runner.simulate(runner.mixture(TARGET), config(estimator="reinforce", samples=8, seed=5 + b,
                                                           starts=(grid.starts[b],), steps=20))
    m = runner.basin_map(TARGET, cfg, spec)
    assert grid.starts[b].mean == (1.0, 0.0)
    window = alone["mean"][0, -basins.tail_length(20):]
    np.testing.assert_allclose(m["final_mean"][1, 2], window.mean(axis=0), rtol=1e-12)


def test_plane_labels_measure_in_the_optimums_own_units():
    om = np.array([[0.0, 0.0], [10.0, 0.0]])
    oc = np.array([np.diag([1.0, 4.0]), np.diag([0.01, 0.01])])
    mean = np.array([[0.0, 0.4], [10.05, 0.0], [5.0, 0.0], [0.0, 0.0]])
    cov = np.array([np.diag([1.0, 4.0]), np.diag([0.01, 0.01]), np.eye(2), np.diag([1.0, 4.0])])
    lab = basins.plane_label(mean, cov, np.array([False, False, False, True]), om, oc, tol=0.25)
    # 0.4 along a sd of 2 is 0.2 sd: in; 0.05 along a sd of 0.1 is 0.5 sd: out
    assert lab.tolist() == [0, basins.NOT_CONVERGED, basins.NOT_CONVERGED, basins.DIVERGED]
    assert gaussian.distance(mean[0], cov[0], om[0], oc[0]) == pytest.approx(0.2)


def test_plane_final_state_averages_each_members_last_states():
    ring = {"mean": np.zeros((2, 3, 2)), "cov": np.tile(np.eye(2), (2, 3, 1, 1))}
    ring["mean"][0, :, 0] = [3.0, 4.0, 5.0]  # states 3, 4, 5 of member 0 (slot i % 3)
    ring["mean"][1, :, 0] = [9.0, 1.0, 2.0]  # member 1 stopped at step 1: states 0 and 1 only
    steps_taken = np.array([5, 1])
    last = basins.final_state(ring, steps_taken, average=False)["mean"]
    avg = basins.final_state(ring, steps_taken, average=True)
    assert last[:, 0].tolist() == [5.0, 1.0]
    assert avg["mean"][:, 0].tolist() == [4.5, 5.0] and np.allclose(avg["cov"], np.eye(2))


@pytest.mark.parametrize("estimator", ["exact", "reinforce"])
def test_a_plane_basin_map_split_into_1_4_or_16_blocks_gives_the_same_bytes(estimator):
    from test_basins import assert_blocks_do_not_matter

    cfg = config(estimator=estimator, samples=8, lr=0.05, starts=(Start2((0.0, 0.0), (0.8, 0.8), 0.0),))
    # the exact gradient's cubature costs: a smaller map, as many blocks
    size, steps = (4, 12) if estimator == "exact" else (8, 60)
    spec = Basins2(size=size, x=(-3.0, 3.0), y=(-2.0, 2.0), steps=steps, tolerance=0.25)
    assert_blocks_do_not_matter(TARGET, cfg, spec)
