"""Optimizers composed from small gradient transformations.

A `Transform` is a pair of pure functions over a batch of parameters phi of
shape (B, 2): `init(phi) -> state` and `update(g, state, phi) -> (g', state')`.
`chain` composes them left to right; the last one in a divfit optimizer scales
by the (negative) learning rate, so `phi + update` is the step. States are
tuples of arrays with the batch axis first, so a batch of trajectories is
advanced with array operations only. Every state is a named tuple (an
empty one for stateless transforms), so a run's optimizer state reads as what
it holds: `(EmptyState(), AdamState(count, m, v), ScheduleState(count))`.

The order for a run is: natural-gradient preconditioning (optional), norm
clipping (optional), then adam / momentum / sgd, then lr / (1 + lr_decay * t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from .parameterizations import Parameterization
from .registry import Registry


class Transform(NamedTuple):
    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any, np.ndarray], tuple[np.ndarray, Any]]


class EmptyState(NamedTuple):
    """The state of a transform that keeps none."""


class TraceState(NamedTuple):
    velocity: np.ndarray


class ScheduleState(NamedTuple):
    count: int  # steps taken so far


def chain(*transforms: Transform) -> Transform:
    def init(phi):
        return tuple(t.init(phi) for t in transforms)

    def update(g, state, phi):
        new_state = []
        for t, s in zip(transforms, state):
            g, s = t.update(g, s, phi)
            new_state.append(s)
        return g, tuple(new_state)

    return Transform(init, update)


def _stateless(fn) -> Transform:
    return Transform(lambda phi: EmptyState(), lambda g, state, phi: (fn(g, phi), state))


def natural_gradient(param: Parameterization, free: np.ndarray) -> Transform:
    """Precondition by q's Fisher information in phi, F_phi^{-1} g, on the free
    coordinates (for the fixed-std family only the mean's 1 x 1 block)."""
    mean_only = not bool(np.asarray(free)[1])
    return _stateless(lambda g, phi: param.natural_direction(phi, g, mean_only))


def clip_by_norm(max_norm: float) -> Transform:
    """Rescale each member's vector to norm <= max_norm (the vector itself when
    none exceeds it: transforms never write their input in place)."""

    def clip(g, phi):
        # no member can exceed the bound when the largest entry times sqrt(P)
        # does not (the margin covers the rounding of the norm below): most
        # steps of most runs, for two numpy calls
        bound = np.maximum.reduce(np.abs(g), axis=None, initial=0.0) * math.sqrt(g.shape[-1])
        if bound * (1.0 + 1e-12) <= max_norm:
            return g
        # scaled first: the squares of a huge (noisy, finite) gradient would overflow
        big = np.abs(g).max(-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # tiny rows: max_norm / norm is inf, unused
            norm = big * np.sqrt(((g / big) ** 2).sum(-1, keepdims=True))
            factor = np.where(norm > max_norm, max_norm / norm, 1.0)
        return g * factor

    return _stateless(clip)


class AdamState(NamedTuple):
    count: int
    m: np.ndarray
    v: np.ndarray


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam's direction m_hat / (sqrt(v_hat) + eps), bias-corrected."""

    # 0-d arrays: cheaper operands than scalars (see `core.target.EXP_FLOOR`)
    b1_, c1_, b2_, c2_, eps_ = map(np.array, (b1, 1 - b1, b2, 1 - b2, eps))

    def init(phi):
        return AdamState(0, np.zeros_like(phi), np.zeros_like(phi))

    def update(g, state, phi):
        count = state.count + 1
        m = b1_ * state.m + c1_ * g
        v = b2_ * state.v + c2_ * g * g
        m_hat = m / (1 - b1**count)
        v_hat = v / (1 - b2**count)
        return m_hat / (np.sqrt(v_hat) + eps_), AdamState(count, m, v)

    return Transform(init, update)


def trace(decay: float = 0.9) -> Transform:
    """Heavy-ball momentum: v <- decay * v + g."""

    def update(g, state, phi):
        velocity = decay * state.velocity + g
        return velocity, TraceState(velocity)

    return Transform(lambda phi: TraceState(np.zeros_like(phi)), update)


def identity() -> Transform:
    return _stateless(lambda g, phi: g)


def scale_by_schedule(lr: float, lr_decay: float) -> Transform:
    """Multiply by -lr / (1 + lr_decay * t), t = 0, 1, ... the step index."""

    def update(g, state, phi):
        t = state.count
        return g * (-lr / (1.0 + lr_decay * t)), ScheduleState(t + 1)

    return Transform(lambda phi: ScheduleState(0), update)


@dataclass(frozen=True)
class Optimizer:
    key: str
    label: str
    doc: str
    direction: Callable[[], Transform]  # the update direction, before the learning rate


OPTIMIZERS = Registry("optimizer", (
    Optimizer("adam", "Adam", "Adam (b1 = 0.9, b2 = 0.999)", scale_by_adam),
    Optimizer("sgd", "SGD", "plain gradient descent", identity),
    Optimizer("momentum", "momentum", "heavy-ball momentum (0.9)", trace),
), default="adam")


def build(
    optimizer: str,
    *,
    param: Parameterization,
    free: np.ndarray,
    natural: bool,
    clip: float,
    lr: float,
    lr_decay: float,
) -> Transform:
    """The run's optimizer, from its scenario settings."""
    direction = OPTIMIZERS[optimizer].direction()
    parts = []
    if natural:
        parts.append(natural_gradient(param, free))
    if clip > 0:
        parts.append(clip_by_norm(clip))
    parts += [direction, scale_by_schedule(lr, lr_decay)]
    return chain(*parts)
