"""Basin maps: which optimum each start of a grid ends in.

A start "reaches" an optimum when its final state is nearer to it than to any
other optimum and within `tol` of it, distances taken in the coordinates
(mean / sd(p), log std): they mean the same for every target and favour
neither wide nor narrow optima. Monte Carlo runs never
settle exactly; their final state is the average over the last `TAIL` of their
steps (Polyak averaging), which cancels the optimizer's jitter around a
minimum but not a drift away from one. A start that ends near no optimum did
not converge; one whose run stopped on a non-finite gradient or left the family
diverged.
"""

from __future__ import annotations

import numpy as np

from .bivariate import gaussian

NOT_CONVERGED, DIVERGED = -1, -2
OUTCOMES = {NOT_CONVERGED: "did not converge", DIVERGED: "diverged"}
TAIL = 0.1
DEFAULT_TOL = 0.25


def grid(mean_range, std_range, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` means evenly spaced and `size` stds evenly spaced in log std."""
    return np.linspace(*mean_range, size), np.geomspace(*std_range, size)


BLOCK = 256  # starts per task of a map (the build's unit of work); any size gives the same bytes
_STATE_FLOATS = {1: 2 + 2, 2: 5 + 6}  # a state in the run's coordinates and as recorded (mean, std or cov)


def task_bytes(steps: int, dim: int, block: int = BLOCK) -> int:
    """About the most memory one task of a map holds: its starts' tail rings,
    as run and as recorded, and the window averaged over (2x for numpy's
    temporaries). Not the steps: only the tail is kept."""
    return 2 * block * (tail_length(steps) + 1) * _STATE_FLOATS[dim] * 8 * 2


def tail_length(steps: int) -> int:
    """How many of a run's last states `final_state` averages."""
    return max(1, int(round(TAIL * steps)))


def final_state(ring: dict[str, np.ndarray], steps_taken: np.ndarray, average: bool,
                geometric: tuple[str, ...] = ("std",)) -> dict[str, np.ndarray]:
    """Each member's final state from a tail ring of its states (arrays
    (B, n + 1, ...), slot i % (n + 1) holding state i, e.g. "mean" and "std" on
    the line, "mean" and "cov" on the plane): the state at `steps_taken`, or
    with `average` the mean over the window (steps_taken - n, steps_taken]
    (Polyak averaging; the arrays named in `geometric` averaged in log).
    A member that stopped early averages the states it reached."""
    B, slots = next(iter(ring.values())).shape[:2]
    rows = np.arange(B)
    if not average:
        last = steps_taken % slots
        return {k: a[rows, last] for k, a in ring.items()}
    n = slots - 1
    idx = steps_taken[:, None] - np.arange(n)[None, :]
    ok = idx >= 0
    slot = np.where(ok, idx, 0) % slots
    out = {}
    for k, a in ring.items():
        v = a[rows[:, None], slot]  # (B, n, ...)
        shape = (B, n) + (1,) * (v.ndim - 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(v) if k in geometric else v
            mean = np.where(ok.reshape(shape), v, 0.0).sum(axis=1) / ok.sum(axis=1).reshape((B,) + shape[2:])
        out[k] = np.exp(mean) if k in geometric else mean
    return out


def label(mean, std, diverged, optima_mean, optima_std, scale: float, tol: float = DEFAULT_TOL) -> np.ndarray:
    """The index of the optimum each final state (mean, std) lies within `tol`
    of (nearest first), NOT_CONVERGED if none, DIVERGED where `diverged`."""
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    om, os_ = np.asarray(optima_mean, float), np.asarray(optima_std, float)
    out = np.full(mean.shape, NOT_CONVERGED, dtype=np.int8)
    if om.size:
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.hypot((mean[..., None] - om) / scale, np.log(std[..., None]) - np.log(os_))
        d = np.where(np.isfinite(d), d, np.inf)
        nearest = d.argmin(axis=-1)
        hit = np.take_along_axis(d, nearest[..., None], axis=-1)[..., 0] <= tol
        out[hit] = nearest[hit]
    out[np.asarray(diverged, bool)] = DIVERGED
    return out


def fractions(labels: np.ndarray, n_optima: int) -> dict[int, float]:
    """The share of starts with each outcome: every optimum index, then
    NOT_CONVERGED and DIVERGED."""
    labels = np.asarray(labels).ravel()
    keys = list(range(n_optima)) + [NOT_CONVERGED, DIVERGED]
    return {k: float(np.mean(labels == k)) for k in keys}


# ------------------------------------------------------------ on the plane


def plane_label(mean, cov, diverged, optima_mean, optima_cov, tol: float = DEFAULT_TOL) -> np.ndarray:
    """As `label`, with distances in each optimum's own units (`gaussian.distance`)."""
    out = np.full(len(mean), NOT_CONVERGED, dtype=np.int8)
    if len(optima_mean):
        d = np.stack([gaussian.distance(mean, cov, m, c) for m, c in zip(optima_mean, optima_cov)], axis=-1)
        d = np.where(np.isfinite(d), d, np.inf)
        near = d.argmin(axis=-1)
        out = np.where(d.min(axis=-1) <= tol, near, NOT_CONVERGED).astype(np.int8)
    return np.where(diverged, DIVERGED, out).astype(np.int8)
