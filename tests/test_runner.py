"""The batched runner: record layout, convergence, batch = single, determinism, stopping."""

import numpy as np
import pytest

from conftest import record_bytes, run_config, target_of
from divcore import runner, trajectory
from divcore.core import divergences as D
from divcore.core.target import Mixture
from divcore.scenario.model import Start

P = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
T = target_of(P)


def test_record_has_the_arrays_and_shapes_of_the_spec():
    cfg = run_config(estimator="reinforce", steps=30, samples=5, repeat=3)
    rec = runner.run(T, cfg)
    B, S, K = 3, 30, 5
    shapes = {"mean": (B, S + 1), "std": (B, S + 1), "phi": (B, S + 1, 2), "divergence": (B, S + 1),
              "grad": (B, S, 2), "particles": (B, S, K), "particle_weights": (B, S, K), "ess": (B, S),
              "status": (B,), "steps_taken": (B,)}
    for key, shape in shapes.items():
        assert rec[key].shape == shape, key
    M = rec["optima_mean"].shape[0]
    assert M >= 1 and rec["optima_std"].shape == rec["optima_value"].shape == (M,)
    assert np.all(rec["mean"][:, 0] == 0.5) and np.all(rec["std"][:, 0] == 1.0)
    np.testing.assert_allclose(rec["divergence"], D.kl_reverse(P, rec["mean"], rec["std"]), rtol=1e-12)


def test_exact_runs_have_no_monte_carlo_arrays_and_record_particles_false_drops_particles():
    assert "particles" not in runner.run(T, run_config(steps=5)) and "ess" not in runner.run(T, run_config(steps=5))
    rec = runner.run(T, run_config(estimator="reparam", steps=5, record_particles=False))
    assert "particles" not in rec and "particle_weights" not in rec and rec["ess"].shape == (1, 5)


@pytest.mark.parametrize("divergence,direction,start", [
    ("kl", "forward", (0.0, 1.5)), ("kl", "reverse", (1.0, 1.0)), ("chi2", "forward", (0.0, 2.0)), ("chi2", "reverse", (-2.0, 1.0)),
])
@pytest.mark.parametrize("parameterization,natural,optimizer", [
    ("mu-logsigma", False, "adam"), ("natural", True, "sgd"), ("mu-sigma", True, "momentum"), ("mu-tau", False, "adam"),
])
def test_exact_runs_converge_to_a_reported_optimum(divergence, direction, start, parameterization, natural, optimizer):
    cfg = run_config(divergence=divergence, direction=direction, starts=(Start(*start),), steps=3000, lr=0.05,
                     lr_decay=0.001, parameterization=parameterization, natural_gradient=natural, optimizer=optimizer)
    rec = runner.run(T, cfg)
    m, s = rec["mean"][0, -1], rec["std"][0, -1]
    d = np.hypot(rec["optima_mean"] - m, np.log(rec["optima_std"] / s))
    assert d.min() < 1e-3, (m, s, rec["optima_mean"], rec["optima_std"])
    # the divergence decreased overall and ends at that optimum's value
    assert rec["divergence"][0, -1] == pytest.approx(rec["optima_value"][d.argmin()], abs=1e-6)


def test_a_converged_member_stops_and_its_state_stays():
    rec = runner.run(T, run_config(divergence="kl", direction="forward", steps=4000, lr=0.1))
    assert rec["status"][0] == runner.CONVERGED
    t = rec["steps_taken"][0]
    assert t < 4000
    assert np.all(rec["mean"][0, t:] == rec["mean"][0, t]) and np.all(np.isnan(rec["grad"][0, t + 1 :]))
    assert np.linalg.norm(rec["grad"][0, t]) <= runner.CONVERGENCE_TOL


@pytest.mark.parametrize("estimator", ["exact", "reinforce", "reparam"])
def test_a_member_of_a_batch_equals_the_same_run_alone(estimator):
    grid = dict(starts=tuple(Start(m, s) for m in (-1.0, 0.5) for s in (0.7, 1.3)), start_grid=((-1.0, 0.5), (0.7, 1.3)))
    batch = runner.run(T, run_config(estimator=estimator, steps=150, repeat=3, seed=10, **grid))
    b = 2 * 3 + 1  # the third start (0.5, 0.7), second seed
    alone = runner.run(T, run_config(estimator=estimator, steps=150, seed=11, starts=(Start(0.5, 0.7),)))
    for key in ("mean", "std", "phi", "grad", "divergence") + (("particles", "particle_weights", "ess") if estimator != "exact" else ()):
        np.testing.assert_array_equal(batch[key][b], alone[key][0], err_msg=key)


@pytest.mark.parametrize("estimator", ["exact", "reinforce", "data"])
@pytest.mark.parametrize("block", [1, 5, 11])
def test_a_run_split_into_blocks_of_members_gives_the_bytes_of_the_whole(estimator, block):
    """A big `repeat` is spread over a build's workers in blocks of members;
    joined in member order, they are the record the run makes whole."""
    grid = dict(starts=tuple(Start(m, s) for m in (-1.0, 0.5) for s in (0.7, 1.3)), start_grid=((-1.0, 0.5), (0.7, 1.3)))
    cfg = run_config(estimator=estimator, direction="forward" if estimator == "data" else "reverse", steps=80,
                     repeat=3, seed=4, **grid)
    pieces = runner.member_blocks(cfg, block)
    assert [sl.stop - sl.start for sl in pieces[:-1]] == [block] * (len(pieces) - 1) and pieces[-1].stop == 12
    joined = runner.run_join(T, cfg, [runner.run_block(T, cfg, sl) for sl in pieces])
    assert record_bytes(joined) == record_bytes(runner.run(T, cfg))


def test_same_file_same_bytes(tmp_path):
    cfg = run_config(estimator="data", direction="forward", steps=100, repeat=2)
    for name in ("a", "b"):
        trajectory.save(tmp_path / f"{name}.npz", runner.run(T, cfg), {"x": 1})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    other = runner.run(T, run_config(estimator="data", direction="forward", steps=100, repeat=2, seed=1))
    assert not np.array_equal(other["particles"], runner.run(T, cfg)["particles"])


def test_round_trip_through_npz(tmp_path):
    rec = runner.run(T, run_config(estimator="is", direction="forward", steps=20))
    path = trajectory.save(tmp_path / "r.npz", rec, {"run": {"name": "r"}})
    back = trajectory.load(path)
    assert back["config"] == {"run": {"name": "r"}}
    for k, v in rec.items():
        np.testing.assert_array_equal(back[k], v)


def test_a_non_finite_gradient_stops_only_that_member():
    # reverse chi2 is infinite for std^2 >= 2 * 0.9^2: the second start has no gradient
    cfg = run_config(divergence="chi2", direction="reverse", steps=50, starts=(Start(-2.0, 0.8), Start(0.0, 1.5)))
    rec = runner.run(T, cfg)
    assert list(rec["status"]) == [runner.RAN_ALL_STEPS, runner.NON_FINITE_GRADIENT]
    assert rec["steps_taken"][1] == 0 and np.all(rec["mean"][1] == 0.0) and rec["divergence"][1, 0] == np.inf
    assert np.all(np.isfinite(rec["grad"][0]))


def test_a_step_out_of_the_family_stops_the_member_at_its_last_valid_state():
    # plain SGD with a huge rate throws sigma below zero in the mu-sigma parameterization
    cfg = run_config(optimizer="sgd", parameterization="mu-sigma", lr=50.0, clip=0.0, steps=20,
                     starts=(Start(0.0, 0.5), Start(-3.0, 0.9)), divergence="kl", direction="reverse")
    rec = runner.run(T, cfg)
    assert rec["status"][0] == runner.LEFT_FAMILY
    t = rec["steps_taken"][0]
    assert np.all(rec["std"][0] > 0) and np.all(rec["mean"][0, t:] == rec["mean"][0, t])
    assert np.all(np.isfinite(rec["divergence"][0]))


def test_fixed_std_family_moves_only_the_mean():
    cfg = run_config(family="gaussian-fixed-std", parameterization="natural", natural_gradient=True, steps=300,
                     starts=(Start(0.0, 1.2),), estimator="reparam")
    rec = runner.run(T, cfg)
    assert np.all(rec["std"] == 1.2) and np.all(rec["grad"][..., 1] == 0)
    assert np.all(rec["optima_std"] == 1.2) and rec["mean"][0, -1] != 0.0


def test_zero_learning_rate_keeps_q_fixed():
    rec = runner.run(T, run_config(estimator="reinforce", lr=0.0, steps=40))
    assert np.all(rec["mean"] == 0.5) and np.all(rec["std"] == 1.0)
    assert np.unique(rec["grad"][0, :, 0]).size == 40  # a fresh estimate every step


def test_noise_does_not_depend_on_how_it_is_chunked(monkeypatch):
    cfg = run_config(estimator="data", direction="forward", steps=70, lr=0.0)
    a = runner.simulate(P, cfg)["particles"]
    monkeypatch.setattr(runner, "_NOISE_CHUNK", 7)
    np.testing.assert_array_equal(runner.simulate(P, cfg)["particles"], a)


@pytest.mark.parametrize("estimator,direction", [("is", "forward"), ("reinforce", "reverse"), ("reparam", "reverse")])
def test_the_recorded_ess_is_each_steps_own_estimate_of_it(estimator, direction):
    """The recorder turns a chunk of steps' log weights into ESS at once; each
    value is the ESS of that step's own samples, bit for bit, and a member that
    stopped records none after it stopped (here steps = 150: chunks of 64, 64, 22)."""
    cfg = run_config(estimator=estimator, direction=direction, steps=150, repeat=2, lr=0.05,
                     starts=(Start(0.5, 1.0), Start(-1.0, 0.6)))
    rec = runner.simulate(P, cfg)
    sp = runner.space.for_run(cfg, 1)
    k = runner.kernel(P, cfg, sp)
    q0, seeds = runner._members(cfg, sp)
    state = k.init(q0)
    noise = runner._Noise(seeds, cfg.samples, False)
    normal, _ = noise.draw(cfg.steps)
    for t in range(cfg.steps):
        state, info = k.step(state, runner.estimators.Noise(normal[t]))
        np.testing.assert_array_equal(rec["ess"][:, t], info.estimate.ess, err_msg=f"step {t}")


def test_a_stopped_members_ess_is_blank_from_the_step_after_it_stopped():
    # plain SGD with a huge rate throws the first member's sigma below zero
    cfg = run_config(optimizer="sgd", parameterization="mu-sigma", lr=50.0, clip=0.0, steps=100,
                     estimator="reparam", starts=(Start(0.0, 0.5), Start(-3.0, 0.9)))
    rec = runner.simulate(P, cfg)
    t = rec["steps_taken"][0]
    assert rec["status"][0] == runner.LEFT_FAMILY and t < 99
    assert np.all(np.isfinite(rec["ess"][0, : t + 1])) and np.all(np.isnan(rec["ess"][0, t + 1 :]))
