"""`make bench`: speed of the numerical core, as ratios measured in one run.

Prints trajectory-steps per second of the batched runner for every Monte Carlo
estimator against the bare numpy work no implementation can avoid (drawing the
normals, evaluating log p and log q at the samples), single-trajectory speed,
exact-gradient speed, the cost of optima and a landscape for the default
scene, and the time of each basin map of the basins scene. Timings are the
best of three repeats (seven for the short single-trajectory runs); no test
asserts on them.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from divcore import runner
from divcore.core import divergences, landscape, optima, parameterizations
from divcore.scenario import load_scenario
from divcore.scenario.model import RunConfig, Start

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "forward-reverse-kl.toml"
MC = [
    ("kl", "forward", "is"), ("kl", "forward", "data"), ("kl", "reverse", "reinforce"),
    ("kl", "reverse", "reparam"), ("chi2", "forward", "is"), ("chi2", "reverse", "score"),
]
# The live browser widget on this machine class (for reference, from the issue).
WIDGET = {"reinforce": 69_000, "exact kl reverse": 23_000}


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def config(base: RunConfig, **kw) -> RunConfig:
    return dataclasses.replace(base, **kw)


def bare_numpy(p, B, K, steps):
    """Draw B x K normals and evaluate log p and log q there, `steps` times."""
    rng = np.random.default_rng(0)
    mean, std = np.zeros(B), np.ones(B)
    logc = np.log(p.weights) - np.log(p.stds) - 0.5 * np.log(2 * np.pi)

    def work():
        for _ in range(steps):
            eps = rng.standard_normal((B, K))
            z = mean[:, None] + std[:, None] * eps
            comps = [c - 0.5 * ((z - m) / s) ** 2 for m, s, c in zip(p.means, p.stds, logc)]
            logp = comps[0]
            for c in comps[1:]:
                logp = np.logaddexp(logp, c)
            logq = -0.5 * eps * eps - np.log(std)[:, None]
        return logp, logq

    return work


def hand_inlined(p, cfg):
    """One REINFORCE trajectory on reverse KL with norm clipping and Adam, as
    plain numpy calls in one loop: the runner's arithmetic without its
    checks, records or composition (each step still draws its noise, as the
    runner's chunks do). What no implementation stepping one member at a time
    with numpy can beat."""
    K, S, lr, clip = cfg.samples, cfg.steps, cfg.lr, cfg.clip
    comps = list(zip(p.means, p.stds, np.log(p.weights) - np.log(p.stds) - 0.5 * np.log(2 * np.pi)))

    def work():
        rng = np.random.default_rng(0)
        phi, m, v = np.array([cfg.starts[0].mean, np.log(cfg.starts[0].std)]), np.zeros(2), np.zeros(2)
        for t in range(S):
            eps = rng.standard_normal(K)
            std = np.exp(phi[1])
            z = phi[0] + std * eps
            logs = [c - 0.5 * ((z - mu) / s) ** 2 for mu, s, c in comps]
            top = np.max(logs, axis=0)
            f = -0.5 * eps * eps - phi[1] - top - np.log(np.sum(np.exp(np.subtract(logs, top)), axis=0))
            g = np.array([(f * eps).mean() / std, (f * (eps * eps - 1.0)).mean()])
            norm = np.sqrt(g @ g)
            if norm > clip:
                g *= clip / norm
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            phi = phi - lr * (m / (1 - 0.9 ** (t + 1))) / (np.sqrt(v / (1 - 0.999 ** (t + 1))) + 1e-8)
            if not (abs(phi[0]) <= 1e6 and -13.8 <= phi[1] <= 13.8):
                break
        return phi

    return work


def row(label, value, unit="", note=""):
    print(f"  {label:<44} {value:>14} {unit:<16} {note}")


def main() -> int:
    scn = load_scenario(SCENE)
    p = runner.mixture(scn.target)
    base = config(scn.runs[1], starts=(Start(-0.5, 0.8),), lr=0.01, lr_decay=0.0, record_particles=False)
    B, K, S = 1024, 64, 300  # the case: `divfit run` of 1024 members, 300 steps
    print(f"divfit bench: target of {SCENE.name} (2 components), numpy {np.__version__}\n")

    print(f"batched runner, B = {B}, K = {K}, {S} steps (trajectory-steps/s)")
    t_bare, _ = best(bare_numpy(p, B, K, S))
    bare_rate = B * S / t_bare
    row("bare numpy: normals + log p + log q", f"{bare_rate:,.0f}", "traj-steps/s")
    for div, direction, est in MC:
        cfg = config(base, divergence=div, direction=direction, estimator=est, samples=K, steps=S, repeat=B)
        t_step, _ = best(lambda: runner.simulate(p, cfg))
        # each repeat pays its own optima search, as a process's first run does
        t_run, _ = best(lambda: (optima._MEMO.found.clear(), runner.run(scn.target, cfg)))
        row(f"{div} {direction} {est}", f"{B * S / t_step:,.0f}", "traj-steps/s",
            f"{t_step / t_bare:.2f}x bare; recording the divergence of every state "
            f"{t_run / t_bare:.2f}x bare (aim <= 2x)")

    print(f"\none trajectory, K = {K} (steps/s)")
    S1 = 3000
    for div, direction, est in MC:
        cfg = config(base, divergence=div, direction=direction, estimator=est, samples=K, steps=S1, repeat=1)
        t, _ = best(lambda: runner.simulate(p, cfg), repeat=7)  # 0.2 s each: a busy neighbour shows
        note = f"widget: {WIDGET[est]:,}/s ({WIDGET[est] * t / S1:.1f}x ours)" if est in WIDGET else ""
        row(f"{div} {direction} {est}", f"{S1 / t:,.0f}", "steps/s", note)
    reinforce = config(base, estimator="reinforce", samples=K, steps=S1, repeat=1)
    t_run, _ = best(lambda: runner.simulate(p, reinforce), repeat=7)
    t_floor, _ = best(hand_inlined(p, reinforce), repeat=7)
    row("kl reverse reinforce, hand-inlined numpy", f"{S1 / t_floor:,.0f}", "steps/s",
        f"the runner {t_floor / t_run:.2f}x its speed (no checks, records or composition: "
        "numpy's per-call floor on this machine)")

    print("\nexact gradients (steps/s for one trajectory; trajectory-steps/s for B = 1024)")
    for div, direction in [pr for pr in divergences.pairs() if not divergences.DIVERGENCES[pr[0]].has_alpha]:
        single = config(base, divergence=div, direction=direction, estimator="exact", samples=0, steps=S1, repeat=1)
        t1, _ = best(lambda: runner.simulate(p, single))
        batch = config(single, steps=20, repeat=1024)
        tb, _ = best(lambda: runner.simulate(p, batch), repeat=1)
        key = f"exact {div} {direction}"
        note = f"widget: {WIDGET[key]:,}/s ({WIDGET[key] * t1 / S1:.1f}x ours)" if key in WIDGET else ""
        row(key, f"{S1 / t1:,.0f} | {1024 * 20 / tb:,.0f}", "steps/s | batched", note)

    print(f"\ndefault scene ({SCENE.name})")
    for run in scn.runs:
        div = divergences.get(run.divergence, run.direction)
        param = parameterizations.get(run.parameterization)
        t_opt, o = best(lambda: (optima._MEMO.found.clear(), optima.find(p, div))[1], repeat=2)  # a search, not a look-up
        t_land, _ = best(lambda: landscape.default(p, div, param, n=60), repeat=2)
        row(f"{run.name}: optima ({len(o.mean)} minima)", f"{t_opt * 1e3:,.0f}", "ms")
        row(f"{run.name}: 60 x 60 landscape", f"{t_land * 1e3:,.0f}", "ms")

    basins_scene = load_scenario(ROOT / "scenes" / "basins.toml")
    spec = basins_scene.basins
    n = spec.size**2 * spec.steps
    print(f"\nbasin maps of {basins_scene.name}.toml: {spec.size} x {spec.size} starts, {spec.steps} steps "
          "(aim for K = 64: well under a minute, 20 s)")
    for run in basins_scene.runs:
        t, _ = best(lambda: runner.basin_map(basins_scene.target, run, spec), repeat=1)
        K = run.samples
        bare = f"{t * bare_rate / n * 64 / K:.2f}x the bare numpy work at K = {K}" if K else ""
        row(f"{run.name}", f"{t:,.1f}", "s", bare)
    plane()
    return 0


PLANE_TARGET = ((-2.0, -1.5), ((1.0, 0.3), (0.3, 0.8))), ((2.0, 1.5), ((0.8, -0.2), (-0.2, 1.0)))


def bare_plane(p, B, K, steps):
    """The 2-D floor: draw B x K x 2 normals, move them by q's factor, and evaluate
    log p (each component's quadratic form, log-sum-exp) and log q there."""
    rng = np.random.default_rng(0)
    mean, L = np.zeros((B, 2)), np.broadcast_to(np.eye(2), (B, 2, 2))
    prec = np.linalg.inv(p.covs)
    logc = p.log_norm

    def work():
        for _ in range(steps):
            eps = rng.standard_normal((B, K, 2))
            z = mean[:, None] + np.einsum("bij,bkj->bki", L, eps)
            logp = None
            for m, P, c in zip(p.means, prec, logc):
                d = z - m
                term = c - 0.5 * (P[0, 0] * d[..., 0] ** 2 + 2 * P[0, 1] * d[..., 0] * d[..., 1]
                                  + P[1, 1] * d[..., 1] ** 2)
                logp = term if logp is None else np.logaddexp(logp, term)
            logq = -0.5 * (eps * eps).sum(-1) - np.log(L[:, 0, 0] * L[:, 1, 1])[:, None]
        return logp, logq

    return work


def plane():
    """The runner on the plane against its numpy floor, and the exact gradient's cost."""
    from divcore.core.bivariate import divergences as divergences2
    from divcore.scenario.model import Component2, Start2, Target

    target = Target(tuple(Component2(m, c, 0.5) for m, c in PLANE_TARGET))
    p = runner.mixture(target)
    B, K, S = 256, 64, 50
    print(f"\ntwo dimensions: a 2-component target, full-covariance q (P = 5), B = {B}, K = {K}, {S} steps")
    t_bare, _ = best(bare_plane(p, B, K, S))
    row("bare numpy: normals + log p + log q", f"{B * S / t_bare:,.0f}", "traj-steps/s")
    base = RunConfig(name="b", divergence="kl", direction="reverse", estimator="exact", baseline="none",
                     family="gaussian", parameterization="mean-logcholesky",
                     starts=(Start2((0.3, 0.2), (1.2, 0.9), 0.2),), start_grid=None, optimizer="adam",
                     natural_gradient=False, clip=5.0, lr=0.01, lr_decay=0.0, steps=S, samples=K, seed=0, repeat=B,
                     record_particles=False)
    for div, direction, est in MC:
        cfg = config(base, divergence=div, direction=direction, estimator=est)
        t, _ = best(lambda: runner.simulate(p, cfg))
        row(f"{div} {direction} {est}", f"{B * S / t:,.0f}", "traj-steps/s", f"{t / t_bare:.2f}x bare (aim <= 2x)")
    S1 = 200
    for div, direction in [("kl", "reverse"), ("kl", "forward"), ("chi2", "reverse")]:
        cfg = config(base, divergence=div, direction=direction, estimator="exact", samples=0, repeat=1, steps=S1)
        t, _ = best(lambda: runner.simulate(p, cfg), repeat=1)
        row(f"exact {div} {direction}: one trajectory", f"{S1 / t:,.0f}", "steps/s")
    d = divergences2.get("kl", "reverse", "gaussian")
    means = np.column_stack([np.linspace(-1, 1, 50), np.zeros(50)])
    Ls = np.broadcast_to(np.array([[1.2, 0.0], [0.2, 0.9]]), (50, 2, 2))
    t, _ = best(lambda: d.value(p, means, Ls), repeat=2)
    row("KL(q||p) value by cubature", f"{t / 50 * 1e3:.1f}", "ms per state")


if __name__ == "__main__":
    sys.exit(main())
