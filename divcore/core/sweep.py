"""Optima as a function of a divergence's parameter: every local minimum of
D_a(p ‖ q) over the Gaussian family, for each a of a grid (Minka 2005, fig. 1:
where the global optimum stops covering p and jumps onto a mode)."""

from __future__ import annotations

import numpy as np

from . import divergences, optima
from .target import Mixture

DEFAULT_ALPHAS = np.round(np.linspace(-1.0, 2.0, 61), 10)


def alpha_optima(p: Mixture, alphas=DEFAULT_ALPHAS) -> dict[str, np.ndarray]:
    """For each a: the minima's means, stds and values (global first), padded
    with nan to the largest count, and the count. The alphas are found one
    after another here; the build spreads them over its workers (`at`, `join`)."""
    alphas = np.asarray(alphas, dtype=float)
    return join(alphas, [at(p, a) for a in alphas])


def at(p: Mixture, a: float) -> dict[str, np.ndarray]:
    """Every local minimum of D_a(p ‖ q): means, stds, values, global first."""
    o = optima.find(p, divergences.alpha(float(a)))
    return {"mean": np.asarray(o.mean), "std": np.asarray(o.std), "value": np.asarray(o.value)}


def join(alphas, found: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    alphas = np.asarray(alphas, dtype=float)
    width = max(1, max(len(o["mean"]) for o in found))
    out = {k: np.full((len(alphas), width), np.nan) for k in ("mean", "std", "value")}
    for i, o in enumerate(found):
        for k in out:
            out[k][i, : len(o["mean"])] = o[k]
    out["alpha"] = alphas
    out["count"] = np.array([len(o["mean"]) for o in found])
    return out


def jumps(sweep: dict[str, np.ndarray], tol: float = 0.1) -> np.ndarray:
    """The a's between grid points where the global optimum's mean moves by more
    than `tol` times p's spread: the global minimum changed basins there."""
    m = sweep["mean"][:, 0]
    a = sweep["alpha"]
    step = np.abs(np.diff(m))
    scale = np.nanmax(sweep["std"][:, 0])
    where = np.nonzero(step > tol * scale)[0]
    return 0.5 * (a[where] + a[where + 1])
