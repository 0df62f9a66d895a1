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

import numpy as np

from .core import basins, divergences, estimators, family, optima, optimizers, parameterizations
from .core.target import Mixture
from .scenario.model import Basins, RunConfig, Start, Target

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
_EXACT_WIDTH = 256  # about the quadrature nodes per member of an exact gradient


def mixture(target: Target) -> Mixture:
    return Mixture.create(target.means, target.stds, target.weights)


class _Noise:
    """Per-member standard normals (and uniforms, for sampling p), drawn a chunk
    of steps at a time from one generator per distinct seed. Normals and
    uniforms come from separate streams of the seed, so the numbers a member
    sees never depend on chunk size, batch size or estimator."""

    def __init__(self, seeds: np.ndarray, samples: int, uniforms: bool):
        self.unique, self.member = np.unique(seeds, return_inverse=True)
        self.samples = samples
        self.normal = [np.random.Generator(np.random.PCG64([int(s), 0])) for s in self.unique]
        self.uniform = [np.random.Generator(np.random.PCG64([int(s), 1])) for s in self.unique] if uniforms else None

    def draw(self, steps: int):
        shape = (steps, self.samples)
        eps = np.stack([g.standard_normal(shape) for g in self.normal], axis=1)[:, self.member]
        if self.uniform is None:
            return eps, None
        u = np.stack([g.random(shape) for g in self.uniform], axis=1)[:, self.member]
        return eps, u


def _members(cfg: RunConfig):
    """Start and seed of each member: start-major, then repeat."""
    mean = np.repeat([s.mean for s in cfg.starts], cfg.repeat).astype(float)
    std = np.repeat([s.std for s in cfg.starts], cfg.repeat).astype(float)
    seeds = np.tile(cfg.seed + np.arange(cfg.repeat, dtype=np.int64), len(cfg.starts))
    return mean, std, seeds


def run_optima(p: Mixture, cfg: RunConfig) -> optima.Optima:
    div = divergences.get(cfg.divergence, cfg.direction, cfg.alpha)
    if cfg.family == "gaussian":
        return optima.find(p, div)
    # fixed std: the family differs per start std; report each one's minima in turn
    parts = [optima.find(p, div, fixed_std=s) for s in dict.fromkeys(s.std for s in cfg.starts)]
    return optima.Optima(*(np.concatenate([getattr(o, f) for o in parts]) for f in optima.Optima._fields))


def simulate(p: Mixture, cfg: RunConfig, progress=None, seeds: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Advance every member of the run; returns the per-step arrays (all but
    `divergence`, which `run` evaluates afterwards over all states at once).
    `seeds` overrides the members' seeds (one per member).

    Members are independent, so they are advanced in blocks sized to keep the
    (block, K) working arrays in cache: numpy's temporaries for a whole
    1024 x 64 batch fall out of cache and cost about twice as much per element.
    """
    mean0, std0, member_seeds = _members(cfg)
    seeds = member_seeds if seeds is None else np.asarray(seeds, dtype=np.int64)
    width = max(cfg.samples, 1) if cfg.estimator != "exact" else _EXACT_WIDTH
    block = max(1, _BLOCK_ELEMENTS // width)
    starts = range(0, mean0.size, block)
    parts = []
    for i, lo in enumerate(starts):
        sub = slice(lo, lo + block)
        tick = None if progress is None else (lambda t, S, i=i: progress(i * S + t, len(starts) * S))
        parts.append(_simulate_block(p, cfg, mean0[sub], std0[sub], seeds[sub], tick))
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([r[k] for r in parts]) for k in parts[0]}


def _simulate_block(p: Mixture, cfg: RunConfig, mean0, std0, seeds, progress) -> dict[str, np.ndarray]:
    param = parameterizations.get(cfg.parameterization)
    div = divergences.get(cfg.divergence, cfg.direction, cfg.alpha)
    free = family.free_mask(cfg.family)
    opt = optimizers.build(
        cfg.optimizer, param=param, free=free, natural=cfg.natural_gradient,
        clip=cfg.clip, lr=cfg.lr, lr_decay=cfg.lr_decay,
    )
    mc = cfg.estimator != "exact"
    estimate = estimators.get(cfg.divergence, cfg.direction, cfg.estimator) if mc else None
    extra = {"baseline": cfg.baseline} if cfg.estimator == "reinforce" else {}
    if cfg.divergence == "alpha":  # the estimators work with D_a(p ‖ q); D_a(q ‖ p) = D_(1-a)(p ‖ q)
        extra = {"alpha": cfg.alpha if cfg.direction == "forward" else 1.0 - cfg.alpha}
    needs_u = estimate in estimators.NEEDS_UNIFORMS

    B, S, K = mean0.size, cfg.steps, cfg.samples
    phi = param.to_phi(mean0, std0)
    state = opt.init(phi)
    noise = _Noise(seeds, K, needs_u) if mc else None

    rec_phi = np.empty((B, S + 1, 2))
    rec_phi[:, 0] = phi
    rec_grad = np.full((B, S, 2), np.nan)  # nan: steps never taken (the run stopped early)
    if mc:
        rec_ess = np.full((B, S), np.nan)
        if cfg.record_particles:
            rec_z = np.full((B, S, K), np.nan)
            rec_c = np.full((B, S, K), np.nan)
    status = np.zeros(B, dtype=np.int8)
    steps_taken = np.full(B, S, dtype=np.int64)
    active = np.ones(B, dtype=bool)

    masked = not free.all()
    for t in range(S):
        if mc and t % _NOISE_CHUNK == 0:
            eps_chunk, u_chunk = noise.draw(min(_NOISE_CHUNK, S - t))
        mean, std = param.from_phi(phi)
        if mc:
            args = (eps_chunk[t % _NOISE_CHUNK],) + ((u_chunk[t % _NOISE_CHUNK],) if needs_u else ())
            est = estimate(p, mean, std, *args, **extra)
            g = est.grad
        elif active.all():
            g = div.grad(p, mean, std)
        else:
            # converged members cost as much quadrature as moving ones: skip them
            # (basin maps run many starts that converge at very different steps)
            g = np.zeros_like(mean, shape=(B, 2))
            g[active] = div.grad(p, mean[active], std[active])
        if masked:
            g = np.where(free, g, 0.0)

        # every member is recorded; what a stopped member recorded is blanked after the loop
        rec_grad[:, t] = g
        if mc:
            rec_ess[:, t] = est.ess
            if cfg.record_particles:
                rec_z[:, t] = est.particles
                rec_c[:, t] = est.coef
        finite = np.isfinite(g).all(axis=1)
        if not finite.all():
            _stop(active, status, steps_taken, ~finite, NON_FINITE_GRADIENT, t)
            g = np.where(finite[:, None], g, 0.0)
        if not mc:
            _stop(active, status, steps_taken, np.hypot(g[:, 0], g[:, 1]) <= CONVERGENCE_TOL, CONVERGED, t)

        g_phi = param.grad_phi(phi, g)
        if masked:
            g_phi = np.where(free, g_phi, 0.0)
        step, state = opt.update(g_phi, state, phi)
        new_phi = phi + step
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ok = param.feasible(new_phi) & family.in_family(*param.from_phi(new_phi))
        if not ok.all():
            _stop(active, status, steps_taken, ~ok, LEFT_FAMILY, t)
        phi = new_phi if active.all() else np.where(active[:, None], new_phi, phi)
        rec_phi[:, t + 1] = phi
        if progress is not None:
            progress(t + 1, S)
        if not active.any():
            rec_phi[:, t + 2 :] = phi[:, None]
            break

    after = np.arange(S) > steps_taken[:, None]  # steps after a member stopped
    rec_grad[after] = np.nan
    if mc:
        rec_ess[after] = np.nan
        if cfg.record_particles:
            rec_z[after] = np.nan
            rec_c[after] = np.nan

    mean, std = param.from_phi(rec_phi)
    out = {
        "mean": mean,
        "std": std,
        "phi": rec_phi,
        "grad": rec_grad,
        "status": status,
        "steps_taken": steps_taken,
    }
    if mc:
        out["ess"] = rec_ess
        if cfg.record_particles:
            out["particles"] = rec_z
            out["particle_weights"] = rec_c
    return out


def _stop(active, status, steps_taken, which, code, step):
    which = which & active
    status[which] = code
    steps_taken[which] = step
    active &= ~which


def run(target: Target, cfg: RunConfig, progress=None) -> dict[str, np.ndarray]:
    """The full record of one run: trajectories and the optima they are drawn against."""
    p = mixture(target)
    out = simulate(p, cfg, progress)
    out["divergence"] = divergences.get(cfg.divergence, cfg.direction, cfg.alpha).value(p, out["mean"], out["std"])
    o = run_optima(p, cfg)
    out.update(optima_mean=o.mean, optima_std=o.std, optima_value=o.value)
    return out


def basin_config(cfg: RunConfig, spec: Basins) -> RunConfig:
    """The run started from every point of the map's grid, `spec.steps` steps each."""
    means, stds = basins.grid(spec.mean, spec.std, spec.size)
    return dataclasses.replace(
        cfg, starts=tuple(Start(float(m), float(s)) for m in means for s in stds),
        start_grid=(tuple(means.tolist()), tuple(stds.tolist())), steps=spec.steps, repeat=1,
        record_particles=False,
    )


def basin_map(target: Target, cfg: RunConfig, spec: Basins, progress=None) -> dict[str, np.ndarray]:
    """Which optimum the run reaches from each start of the map's grid.
    `label` and the final states are (n_std, n_mean) images, row i at stds[i]."""
    p = mixture(target)
    run_ = basin_config(cfg, spec)
    # every start is an independent run, with its own noise: where the outcome is
    # left to chance (near a basin's edge) the map shows it as speckle
    out = simulate(p, run_, progress, seeds=cfg.seed + np.arange(len(run_.starts), dtype=np.int64))
    mean, std = basins.final_state(out["mean"], out["std"], out["steps_taken"], average=run_.monte_carlo)
    o = run_optima(p, run_)
    diverged = np.isin(out["status"], (NON_FINITE_GRADIENT, LEFT_FAMILY))
    label = basins.label(mean, std, diverged, o.mean, o.std, float(np.sqrt(p.variance())), spec.tolerance)
    image = lambda a: a.reshape(spec.size, spec.size).T  # noqa: E731  (starts are mean-major)
    return {
        "means": np.asarray(run_.start_grid[0]), "stds": np.asarray(run_.start_grid[1]),
        "label": image(label), "final_mean": image(mean), "final_std": image(std),
        "status": image(out["status"]), "steps_taken": image(out["steps_taken"]),
        "optima_mean": o.mean, "optima_std": o.std, "optima_value": o.value,
    }
