"""Optimizers composed from small gradient transformations.

A `Transform` is a pair of pure functions over a batch of parameters phi of
shape (B, 2): `init(phi) -> state` and `update(g, state, phi) -> (g', state')`.
`chain` composes them left to right; the last one in a divfit optimizer scales
by the (negative) learning rate, so `phi + update` is the step. States are
tuples of arrays with the batch axis first, so a batch of trajectories is
advanced with array operations only.

The order for a run is: natural-gradient preconditioning (optional), norm
clipping (optional), then adam / momentum / sgd, then lr / (1 + lr_decay * t).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .parameterizations import Parameterization


class Transform(NamedTuple):
    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any, np.ndarray], tuple[np.ndarray, Any]]


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
    return Transform(lambda phi: (), lambda g, state, phi: (fn(g, phi), state))


def natural_gradient(param: Parameterization, free: np.ndarray) -> Transform:
    """Precondition by q's Fisher information in phi, F_phi^{-1} g, on the free
    coordinates (for the fixed-std family only the mean's 1 x 1 block)."""
    mean_only = not bool(np.asarray(free)[1])
    return _stateless(lambda g, phi: param.natural_direction(phi, g, mean_only))


def clip_by_norm(max_norm: float) -> Transform:
    """Rescale each member's vector to norm <= max_norm."""

    def clip(g, phi):
        # scaled first: the squares of a huge (noisy, finite) gradient would overflow
        big = np.abs(g).max(-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
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

    def init(phi):
        return AdamState(0, np.zeros_like(phi), np.zeros_like(phi))

    def update(g, state, phi):
        count = state.count + 1
        m = b1 * state.m + (1 - b1) * g
        v = b2 * state.v + (1 - b2) * g * g
        m_hat = m / (1 - b1**count)
        v_hat = v / (1 - b2**count)
        return m_hat / (np.sqrt(v_hat) + eps), AdamState(count, m, v)

    return Transform(init, update)


def trace(decay: float = 0.9) -> Transform:
    """Heavy-ball momentum: v <- decay * v + g."""

    def update(g, velocity, phi):
        velocity = decay * velocity + g
        return velocity, velocity

    return Transform(np.zeros_like, update)


def identity() -> Transform:
    return _stateless(lambda g, phi: g)


def scale_by_schedule(lr: float, lr_decay: float) -> Transform:
    """Multiply by -lr / (1 + lr_decay * t), t = 0, 1, ... the step index."""

    def update(g, t, phi):
        return g * (-lr / (1.0 + lr_decay * t)), t + 1

    return Transform(lambda phi: 0, update)


DIRECTIONS = {"adam": scale_by_adam, "momentum": trace, "sgd": identity}


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
    try:
        direction = DIRECTIONS[optimizer]()
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(DIRECTIONS)}") from None
    parts = []
    if natural:
        parts.append(natural_gradient(param, free))
    if clip > 0:
        parts.append(clip_by_norm(clip))
    parts += [direction, scale_by_schedule(lr, lr_decay)]
    return chain(*parts)
