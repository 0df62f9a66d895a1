"""The batched runner: one run of a scenario -> the arrays of its trajectory record.

All B members of a run (its `starts` grid times `repeat` seeds) advance
together as (B, ...) arrays; there is no Python loop over members or samples
in a step. Each member draws its noise from its own seeded generator, so a
member of a batch is bit-for-bit the run made alone with its start and seed.

A member stops (and its recorded state stays where it was) when it converges
(exact gradients only), when its gradient is not finite, or when a step
would take q out of the family; `status` says which, `steps_taken` when.
Arrays after a member stopped hold nan (gradients, particles, ESS) or the
frozen state (mean, std, phi, divergence).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, NamedTuple

import numpy as np

from .core import basins, estimators, optimizers, space, weights
from .core.bivariate.target import Mixture2
from .core.target import Mixture
from .scenario.model import Basins, Basins2, RunConfig, Start, Start2, Target

RAN_ALL_STEPS, CONVERGED, NON_FINITE_GRADIENT, LEFT_FAMILY = 0, 1, 2, 3
STATUS = {
    RAN_ALL_STEPS: "ran all steps",
    CONVERGED: "converged (exact gradient norm <= 1e-9)",
    NON_FINITE_GRADIENT: "stopped: non-finite gradient",
    LEFT_FAMILY: "stopped: the step left the family's constraints",
}
CONVERGENCE_TOL = 1e-9
_NOISE_CHUNK = 64  # steps of noise drawn at a time; any size gives the same numbers
_BLOCK_ELEMENTS = 8192  # members x samples advanced together (see `simulate`)
_ESS_ELEMENTS = 4 * _BLOCK_ELEMENTS  # log weights turned into ESS together (see `Recorder`)
_EXACT_WIDTH = 256  # about the quadrature nodes per member of an exact gradient


def mixture(target: Target) -> Mixture | Mixture2:
    if target.dim == 2:
        return Mixture2.create(target.means, target.covs, target.weights)
    return Mixture.create(target.means, target.stds, target.weights)


class _Noise:
    """Per-member standard normals (and uniforms, for sampling p), drawn a chunk
    of steps at a time from one generator per distinct seed. Normals and
    uniforms come from separate streams of the seed, so the numbers a member
    sees never depend on chunk size, batch size or estimator."""

    def __init__(self, seeds: np.ndarray, samples: int, uniforms: bool, shape: tuple[int, ...] = ()):
        self.unique, self.member = np.unique(seeds, return_inverse=True)
        self.samples, self.shape = samples, shape  # shape: each sample's, () on the line, (2,) on the plane
        self.normal = [np.random.Generator(np.random.PCG64([int(s), 0])) for s in self.unique]
        self.uniform = [np.random.Generator(np.random.PCG64([int(s), 1])) for s in self.unique] if uniforms else None

    def draw(self, steps: int):
        shape = (steps, self.samples)
        eps = np.stack([g.standard_normal(shape + self.shape) for g in self.normal], axis=1)[:, self.member]
        if self.uniform is None:
            return eps, None
        u = np.stack([g.random(shape) for g in self.uniform], axis=1)[:, self.member]
        return eps, u


def _members(cfg: RunConfig, sp) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Start (q's state) and seed of each member: start-major, then repeat."""
    seeds = np.tile(cfg.seed + np.arange(cfg.repeat, dtype=np.int64), len(cfg.starts))
    return sp.starts(cfg.repeat), seeds


class RunState(NamedTuple):
    """Where every member of a run is after `t` steps."""

    phi: np.ndarray  # (B, P) q in the run's parameterization
    opt: Any  # the optimizer's state (named tuples, batch axis first)
    active: np.ndarray  # (B,) bool: still moving
    status: np.ndarray  # (B,) int8 status code, RAN_ALL_STEPS while active
    steps_taken: np.ndarray  # (B,) int64 the step a member stopped at (S while active)
    t: int
    q: tuple | None = None  # q's state at phi, where the last step computed it already


class StepInfo(NamedTuple):
    """What one step measured, for the recorder."""

    grad: np.ndarray  # (B, P) the gradient estimate used, as estimated (non-finite included)
    estimate: estimators.Estimate | None  # a Monte Carlo step's samples, weights and ESS


class Kernel(NamedTuple):
    """`init(q0) -> state` and `step(state, noise) -> (state, info)`: a run
    as pure functions over a small state, in the manner of blackjax's kernels.
    q0 is q's starting state in the run's dimension (see `core.space`)."""

    init: Callable[[tuple[np.ndarray, ...]], RunState]
    step: Callable[[RunState, estimators.Noise | None], tuple[RunState, StepInfo]]


def kernel(p: Mixture | Mixture2, cfg: RunConfig, sp=None) -> Kernel:
    """The run's step. A member stops (and keeps its state) when its gradient is
    not finite, when a step would take q out of the family, or, with exact
    gradients, when it has converged. `sp` is the run's `core.space` (made
    here if not given)."""
    sp = sp or space.for_run(cfg, p.dim)
    param, free = sp.param, sp.free
    masked = not free.all()
    opt = optimizers.build(
        cfg.optimizer, param=param, free=free, natural=cfg.natural_gradient,
        clip=cfg.clip, lr=cfg.lr, lr_decay=cfg.lr_decay,
    )
    mc = cfg.monte_carlo
    S = cfg.steps

    def init(q0) -> RunState:
        phi = sp.to_phi(q0)
        B = phi.shape[0]
        return RunState(phi, opt.init(phi), np.ones(B, dtype=bool), np.zeros(B, dtype=np.int8),
                        np.full(B, S, dtype=np.int64), 0)

    def step(state: RunState, noise: estimators.Noise | None) -> tuple[RunState, StepInfo]:
        phi, active, t = state.phi, state.active, state.t
        status, steps_taken = state.status, state.steps_taken
        q = sp.q(phi) if state.q is None else state.q
        est = None
        if mc:
            est = sp.estimate(p, q, noise)
            g = est.grad
        elif active.all():
            g = sp.grad(p, q)
        else:
            # converged members cost as much quadrature as moving ones: skip them
            # (basin maps run many starts that converge at very different steps)
            g = np.zeros_like(phi)
            g[active] = sp.grad(p, tuple(a[active] for a in q))
        if masked:
            g = np.where(free, g, 0.0)
        info = StepInfo(g, est)

        if not np.isfinite(g).all():
            finite = np.isfinite(g).all(axis=1)
            active, status, steps_taken = _stop(active, status, steps_taken, ~finite, NON_FINITE_GRADIENT, t)
            g = np.where(finite[:, None], g, 0.0)
        if not mc:
            converged = sp.norm(g) <= CONVERGENCE_TOL
            active, status, steps_taken = _stop(active, status, steps_taken, converged, CONVERGED, t)

        g_phi = param.grad_phi(phi, g)
        if masked:
            g_phi = np.where(free, g_phi, 0.0)
        update, opt_state = opt.update(g_phi, state.opt, phi)
        new_phi = phi + update
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            new_q = sp.q(new_phi)
            ok = param.feasible(new_phi) & sp.in_family(new_q)
        if not ok.all():
            active, status, steps_taken = _stop(active, status, steps_taken, ~ok, LEFT_FAMILY, t)
        if active.all():
            return RunState(new_phi, opt_state, active, status, steps_taken, t + 1, new_q), info
        phi = np.where(active[:, None], new_phi, phi)
        return RunState(phi, opt_state, active, status, steps_taken, t + 1), info

    return Kernel(init, step)


def _stop(active, status, steps_taken, which, code, step):
    """Stop the still active members in `which` at `step` with status `code`."""
    which = which & active
    if not which.any():
        return active, status, steps_taken
    return active & ~which, np.where(which, np.int8(code), status), np.where(which, step, steps_taken)


class Recorder:
    """Keeps every state and every step's measurements: the trajectory record."""

    def __init__(self, cfg: RunConfig, state: RunState, steps: int, sp):
        (B, P), S, K = state.phi.shape, steps, cfg.samples
        self.mc, self.particles = cfg.monte_carlo, cfg.record_particles
        self.sp = sp
        self.phi = np.empty((B, S + 1, P))
        self.phi[:, 0] = state.phi
        self.grad = np.full((B, S, P), np.nan)  # nan: steps never taken (the run stopped early)
        self.ess = np.full((B, S), np.nan) if self.mc else None
        # each step's log weights, until a chunk of them is turned into ESS at
        # once: a chunk of steps for a few members, a step for a block of many
        # (the ESS's temporaries of a bigger chunk fall out of cache)
        chunk = max(1, min(S, _NOISE_CHUNK, _ESS_ELEMENTS // max(B * K, 1)))
        self.logw = np.empty((B, chunk, K)) if self.mc else None
        self.ess_done = 0  # steps whose ESS is in self.ess
        self.z = np.full((B, S, K) + sp.noise_shape, np.nan) if self.particles else None
        self.c = np.full((B, S, K), np.nan) if self.particles else None

    def record(self, state: RunState, info: StepInfo) -> None:
        """After step t = state.t - 1: every member is recorded; what a stopped
        member recorded is blanked in `finish`."""
        t = state.t - 1
        self.grad[:, t] = info.grad
        if self.mc:
            self.logw[:, t - self.ess_done] = info.estimate.logw
            if t + 1 - self.ess_done == self.logw.shape[1]:
                self._flush_ess(t + 1)
        if self.particles:
            self.z[:, t] = info.estimate.particles
            self.c[:, t] = info.estimate.coef
        self.phi[:, t + 1] = state.phi

    def _flush_ess(self, t: int) -> None:
        """The ESS of steps ess_done .. t - 1 from their log weights, as one
        array of rows: for a single trajectory this is one set of numpy calls
        per chunk instead of one per step (the same numbers, row by row)."""
        lo, (B, _, K) = self.ess_done, self.logw.shape
        n = t - lo
        self.ess[:, lo:t] = weights.ess(self.logw[:, :n].reshape(B * n, K)).reshape(B, n)
        self.ess_done = t

    def finish(self, state: RunState) -> dict[str, np.ndarray]:
        if self.mc and state.t > self.ess_done:
            self._flush_ess(state.t)
        self.phi[:, state.t + 1 :] = state.phi[:, None]  # all members stopped early: frozen from there on
        S = self.grad.shape[1]
        after = np.arange(S) > state.steps_taken[:, None]  # steps after a member stopped
        self.grad[after] = np.nan
        out = {**self.sp.record(self.phi), "phi": self.phi, "grad": self.grad, "status": state.status,
               "steps_taken": state.steps_taken}
        if self.mc:
            self.ess[after] = np.nan
            out["ess"] = self.ess
        if self.particles:
            self.z[after] = np.nan
            self.c[after] = np.nan
            out["particles"], out["particle_weights"] = self.z, self.c
        return out


class TailRecorder:
    """Keeps only each member's last `tail` + 1 states, for sweeps that judge
    where runs end: memory grows with the members, not the steps. Slot
    i % (tail + 1) of `ring` holds a member's state i; a member that stopped
    writes no more, so its slots keep the states before it stopped."""

    def __init__(self, cfg: RunConfig, state: RunState, steps: int, sp, tail: int):
        self.n = tail
        self.ring = np.empty((state.phi.shape[0], tail + 1, state.phi.shape[1]))
        self.ring[:, 0] = state.phi

    def record(self, state: RunState, info: StepInfo) -> None:
        slot = state.t % (self.n + 1)
        self.ring[:, slot] = np.where(state.active[:, None], state.phi, self.ring[:, slot])

    def finish(self, state: RunState) -> dict[str, np.ndarray]:
        return {"ring": self.ring, "status": state.status, "steps_taken": state.steps_taken}


def simulate(p: Mixture | Mixture2, cfg: RunConfig, progress=None, seeds: np.ndarray | None = None,
             recorder: Callable | None = None, sp=None, members: slice | None = None) -> dict[str, np.ndarray]:
    """Advance every member of the run (or those in `members`, a slice of them);
    returns what the recorder keeps (by default the whole record but
    `divergence`, which `run` evaluates afterwards over all states at once).
    `seeds` overrides the members' seeds (one per member advanced);
    `recorder(cfg, state, steps, sp)` makes the recorder of a block; `sp` is
    the run's `core.space` (made here if not given).

    Members are independent, so they are advanced in blocks sized to keep the
    (block, K) working arrays in cache: numpy's temporaries for a whole
    1024 x 64 batch fall out of cache and cost about twice as much per element.
    """
    sp = sp or space.for_run(cfg, p.dim)
    q0, member_seeds = _members(cfg, sp)
    if members is not None:
        q0, member_seeds = tuple(a[members] for a in q0), member_seeds[members]
    seeds = member_seeds if seeds is None else np.asarray(seeds, dtype=np.int64)
    width = max(cfg.samples, 1) if cfg.monte_carlo else _EXACT_WIDTH
    block = max(1, _BLOCK_ELEMENTS // width)
    starts = range(0, len(seeds), block)
    parts = []
    for i, lo in enumerate(starts):
        sub = slice(lo, lo + block)
        tick = None if progress is None else (lambda t, S, i=i: progress(i * S + t, len(starts) * S))
        parts.append(_simulate_block(p, cfg, sp, tuple(a[sub] for a in q0), seeds[sub], tick,
                                     recorder or Recorder))
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([r[k] for r in parts]) for k in parts[0]}


def _simulate_block(p, cfg: RunConfig, sp, q0, seeds, progress, recorder) -> dict[str, np.ndarray]:
    S = cfg.steps
    k = kernel(p, cfg, sp)
    state = k.init(q0)
    rec = recorder(cfg, state, S, sp)
    noise = _Noise(seeds, cfg.samples, estimators.ESTIMATORS[cfg.estimator].needs_uniforms, sp.noise_shape) \
        if cfg.monte_carlo else None
    for t in range(S):
        step_noise = None
        if noise is not None:
            if t % _NOISE_CHUNK == 0:
                normal, uniform = noise.draw(min(_NOISE_CHUNK, S - t))
            i = t % _NOISE_CHUNK
            step_noise = estimators.Noise(normal[i], None if uniform is None else uniform[i])
        active = state.active
        state, info = k.step(state, step_noise)
        rec.record(state, info)
        if progress is not None:
            progress(t + 1, S)
        if state.active is not active and not state.active.any():  # a new array only when a member stopped
            break
    return rec.finish(state)


def run_optima(p: Mixture | Mixture2, cfg: RunConfig) -> dict[str, np.ndarray]:
    """Every local minimum of the run's divergence over its family, global first,
    as the record's optima_* arrays."""
    return space.for_run(cfg, p.dim).optima(p)


def member_blocks(cfg: RunConfig, block: int) -> list[slice]:
    """A run's members (start-major, then repeat) in slices of at most `block`."""
    n = len(cfg.starts) * cfg.repeat
    return [slice(lo, min(lo + block, n)) for lo in range(0, n, block)]


def run_block(target: Target, cfg: RunConfig, members: slice, progress=None) -> dict[str, np.ndarray]:
    """The record of the members in `members` (without the optima): their
    trajectories and the divergence of every state. Members are independent,
    so a run split into blocks anywhere gives the bytes of the run made whole."""
    p = mixture(target)
    sp = space.for_run(cfg, p.dim)
    out = simulate(p, cfg, progress, sp=sp, members=members)  # sp sees every exact gradient's value
    out["divergence"] = sp.values(p, out)  # ... and values() reuses them
    return out


def run_join(target: Target, cfg: RunConfig, blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The whole record from its blocks (in member order) and the optima they are drawn against."""
    out = dict(blocks[0]) if len(blocks) == 1 else {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    out.update(run_optima(mixture(target), cfg))
    return out


def run(target: Target, cfg: RunConfig, progress=None) -> dict[str, np.ndarray]:
    """The full record of one run: trajectories and the optima they are drawn against."""
    return run_join(target, cfg, [run_block(target, cfg, slice(None), progress)])


def basin_config(cfg: RunConfig, spec: Basins | Basins2) -> RunConfig:
    """The run started from every point of the map's grid, `spec.steps` steps each."""
    if isinstance(spec, Basins2):
        return plane_basin_config(cfg, spec)
    means, stds = basins.grid(spec.mean, spec.std, spec.size)
    return dataclasses.replace(
        cfg, starts=tuple(Start(float(m), float(s)) for m in means for s in stds),
        start_grid=(tuple(means.tolist()), tuple(stds.tolist())), steps=spec.steps, repeat=1,
        record_particles=False,
    )


def plane_basin_config(cfg: RunConfig, spec: Basins2) -> RunConfig:
    """The run started from every mean of the map's grid (x-major), each with the
    run's start covariance, `spec.steps` steps each."""
    s0 = cfg.starts[0]
    means = tuple((float(x), float(y)) for x in np.linspace(*spec.x, spec.size) for y in np.linspace(*spec.y, spec.size))
    return dataclasses.replace(cfg, starts=tuple(Start2(m, s0.std, s0.corr) for m in means), start_grid=(means,),
                               steps=spec.steps, repeat=1, record_particles=False)


def basin_blocks(cfg: RunConfig, spec: Basins | Basins2, block: int = basins.BLOCK) -> list[slice]:
    """A map's starts in slices of at most `block`: the independent pieces
    `basin_block` runs (in any order, anywhere) and `basin_join` puts together."""
    n = spec.size * spec.size
    return [slice(lo, min(lo + block, n)) for lo in range(0, n, block)]


def basin_block(target: Target, cfg: RunConfig, spec: Basins | Basins2, members: slice,
                progress=None) -> dict[str, np.ndarray]:
    """Where the map's starts in `members` end: each start's final state (its
    tail average for Monte Carlo runs), status and step count. Every start is an
    independent run with its own seed (cfg.seed + its index on the grid), so
    the values do not depend on how the starts are split into blocks: where the
    outcome is left to chance (near a basin's edge) the map shows it as speckle.
    Only each start's last states are kept: memory grows with the starts, not
    the steps."""
    p = mixture(target)
    run_ = basin_config(cfg, spec)
    sp = space.for_run(run_, p.dim)
    seeds = cfg.seed + np.arange(members.start, members.stop, dtype=np.int64)
    out = simulate(p, run_, progress, seeds=seeds, members=members, sp=sp,
                   recorder=functools.partial(TailRecorder, tail=basins.tail_length(spec.steps)))
    final = basins.final_state(sp.record(out["ring"]), out["steps_taken"], average=run_.monte_carlo)
    return {**{f"final_{k}": v for k, v in final.items()}, "status": out["status"], "steps_taken": out["steps_taken"]}


def basin_join(target: Target, cfg: RunConfig, spec: Basins | Basins2, blocks: list[dict]) -> dict[str, np.ndarray]:
    """The map from its blocks' final states (in grid order): each start labelled
    by the optimum it reached. `label` and the final states are (n_std, n_mean)
    images, row i at stds[i] (on the plane: (n_y, n_x), row i at y[i])."""
    p = mixture(target)
    run_ = basin_config(cfg, spec)
    out = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    diverged = np.isin(out["status"], (NON_FINITE_GRADIENT, LEFT_FAMILY))
    o = run_optima(p, run_)
    if p.dim == 2:
        label = basins.plane_label(out["final_mean"], out["final_cov"], diverged, o["optima_mean"],
                                   o["optima_cov"], spec.tolerance)
        image = lambda a: np.swapaxes(a.reshape((spec.size, spec.size) + a.shape[1:]), 0, 1)  # noqa: E731  (x-major)
        return {"x": np.linspace(*spec.x, spec.size), "y": np.linspace(*spec.y, spec.size),
                "label": image(label), **{k: image(v) for k, v in out.items()}, **o}
    label = basins.label(out["final_mean"], out["final_std"], diverged, o["optima_mean"], o["optima_std"],
                         float(np.sqrt(p.variance())), spec.tolerance)
    image = lambda a: a.reshape(spec.size, spec.size).T  # noqa: E731  (starts are mean-major)
    return {"means": np.asarray(run_.start_grid[0]), "stds": np.asarray(run_.start_grid[1]),
            "label": image(label), **{k: image(v) for k, v in out.items()}, **o}


def basin_map(target: Target, cfg: RunConfig, spec: Basins | Basins2, block: int = basins.BLOCK) -> dict[str, np.ndarray]:
    """Which optimum the run reaches from each start of the map's grid: its
    blocks of starts run one after another here (the build spreads them over
    its workers)."""
    return basin_join(target, cfg, spec, [basin_block(target, cfg, spec, sl) for sl in basin_blocks(cfg, spec, block)])
