"""REINFORCE's control variates: the registry of baselines b subtracted from
the reward log q - log p, each with the function that subtracts it.
Any b that does not depend on the sample it multiplies keeps the estimate
unbiased, because E_q[grad log q] = 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .registry import Choice, Option, Registry


def _leave_one_out(f):
    K = f.shape[1]
    return f - (f.sum(axis=1, keepdims=True) - f) / (K - 1)


@dataclass(frozen=True)
class Baseline(Choice):
    subtract: Callable = lambda f: f  # rewards (B, K) -> rewards minus the baseline


BASELINE = Option(
    "baseline",
    "Control variate b subtracted from log q - log p.",
    Registry("baseline", (
        Baseline("none", "no baseline", "b = 0"),
        Baseline("plus-one", "+1 term", "b = -1: the textbook derivation's grad log q (1 + log q - log p)",
                 subtract=lambda f: f + 1.0),
        Baseline("leave-one-out", "leave-one-out baseline",
                 "b_i = the mean of the other K - 1 samples' log q - log p", min_samples=2,
                 subtract=_leave_one_out),
    )),
    default="none",
)


def advantage(f, baseline: str):
    """The rewards f (B, K) with the named baseline subtracted."""
    return BASELINE.choices[baseline].subtract(f)
