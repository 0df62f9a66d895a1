"""How video time maps to steps: slow where q moves fast.

Video time is spent in proportion to how far q travels, measured in
(mean / std, log std) where a step of 1 is the same visible change at every
width (on the plane: q's own standard deviations), plus a floor so that a run
that sits still still ticks forward.
"""

from __future__ import annotations

import numpy as np

from ..core.bivariate import gaussian

FLOOR = 0.15  # share of the time spread evenly over the steps


def line_speeds(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """How far q moves at each step of a run on the line: in (mean / std, log std)."""
    return np.hypot(np.diff(mean) / std[:-1], np.diff(np.log(std)))


def plane_speeds(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The same on the plane, (S+1, 2) means and (S+1, 2, 2) covariances: the
    mean's move in q's own standard deviations (its whitened length), and the
    change of each coordinate's log std and of the correlation."""
    return gaussian.distance(mean[1:], cov[1:], mean[:-1], cov[:-1])


def step_times(speeds: list[np.ndarray], duration: float) -> np.ndarray:
    """For runs recorded in sync, each moving `speeds[r]` (S_r,) at its steps,
    the video time of each step 0..S, S the longest run; runs that end early
    hold their last state."""
    S = max(d.size for d in speeds)
    if S == 0:
        return np.zeros(1)
    speed = np.zeros(S)
    for d in speeds:
        speed[: d.size] += np.nan_to_num(d, nan=0.0, posinf=0.0)
    total = speed.sum()
    weights = (1 - FLOOR) * (speed / total if total > 0 else np.full(S, 1.0 / S)) + FLOOR / S
    return np.concatenate([[0.0], np.cumsum(weights)]) * duration


def step_at(times: np.ndarray, t: float) -> int:
    """The last step whose time is <= t."""
    return int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, times.size - 1))
