"""How video time maps to steps: slow where q moves fast.

Video time is spent in proportion to how far q travels, measured in
(mean / std, log std) where a step of 1 is the same visible change at every
width, plus a floor so that a run that sits still still ticks forward.
"""

from __future__ import annotations

import numpy as np

FLOOR = 0.15  # share of the time spread evenly over the steps


def step_times(means: list[np.ndarray], stds: list[np.ndarray], duration: float) -> np.ndarray:
    """For runs recorded in sync (each (S_r + 1,) states), the video time of each
    step 0..S, S the longest run; runs that end early hold their last state."""
    S = max(m.size for m in means) - 1
    if S == 0:
        return np.zeros(1)
    speed = np.zeros(S)
    for m, s in zip(means, stds):
        dm = np.diff(m) / s[:-1]
        dl = np.diff(np.log(s))
        d = np.nan_to_num(np.hypot(dm, dl), nan=0.0, posinf=0.0)
        speed[: d.size] += d
    total = speed.sum()
    weights = (1 - FLOOR) * (speed / total if total > 0 else np.full(S, 1.0 / S)) + FLOOR / S
    return np.concatenate([[0.0], np.cumsum(weights)]) * duration


def step_at(times: np.ndarray, t: float) -> int:
    """The last step whose time is <= t."""
    return int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, times.size - 1))
