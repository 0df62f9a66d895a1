"""What a run needs of q in its dimension, so that one runner serves both.

A space (`Line` or `Plane`) holds a run's parameterization, divergence and
estimator for its dimension and exposes them over q's state as a tuple of
arrays with the batch axis first: (mean, std) on the line, (mean, L) on the
plane (L the Cholesky factor of q's covariance). The runner, its recorder and its
optimizer see only phi (B, P) and these methods.
"""

from __future__ import annotations

import numpy as np

from . import divergences, estimators, family, optima, parameterizations
from .bivariate import divergences as divergences2
from .bivariate import gaussian, optima as optima2
from .bivariate import parameterizations as parameterizations2
from .bivariate.target import Mixture2
from .target import Mixture


_MAX_SEEN = 1_000_000  # states whose exact value a run keeps from its gradient steps (~100 MB)


class _Space:
    """The maps every dimension shares, over q as a tuple of arrays."""

    param: object
    div: object
    _estimate: object

    def to_phi(self, q):
        return self.param.to_phi(*q)

    def q(self, phi):
        return self.param.from_phi(phi)

    def grad(self, p, q):
        return self.div.grad(p, *q)

    def estimate(self, p, q, noise):
        return self._estimate(p, *q, noise)


class Line(_Space):
    """q = N(mean, std^2); theta = (mean, log std)."""

    noise_shape: tuple[int, ...] = ()

    def __init__(self, cfg):
        self.cfg = cfg
        self.param = parameterizations.get(cfg.parameterization)
        self.div = divergences.get(cfg.divergence, cfg.direction, cfg.alpha)
        self.free = family.free_mask(cfg.family)
        self.size = 2
        self._estimate = estimators.bind(cfg.divergence, cfg.direction, cfg.estimator, cfg.alpha,
                                         baseline=cfg.baseline) if cfg.monte_carlo else None

    def starts(self, repeat: int):
        mean = np.repeat([s.mean for s in self.cfg.starts], repeat).astype(float)
        std = np.repeat([s.std for s in self.cfg.starts], repeat).astype(float)
        return mean, std

    def in_family(self, q):
        return family.in_family(*q)

    @staticmethod
    def norm(g):
        return np.hypot(g[:, 0], g[:, 1])

    def record(self, phi) -> dict[str, np.ndarray]:
        mean, std = self.param.from_phi(phi)
        return {"mean": mean, "std": std}

    def values(self, p, record) -> np.ndarray:
        return self.div.value(p, record["mean"], record["std"])

    def optima(self, p: Mixture) -> dict[str, np.ndarray]:
        if not family.FAMILIES[self.cfg.family].fixed_std:
            o = optima.find(p, self.div)
        else:  # the family differs per start std; report each one's minima in turn
            parts = [optima.find(p, self.div, fixed_std=s) for s in dict.fromkeys(s.std for s in self.cfg.starts)]
            o = optima.Optima(*(np.concatenate([getattr(x, f) for x in parts]) for f in optima.Optima._fields))
        return {"optima_mean": o.mean, "optima_std": o.std, "optima_value": o.value}


class Plane(_Space):
    """q = N(mean, L L^T) on the plane; theta as `core.bivariate.gaussian` lays it out."""

    noise_shape: tuple[int, ...] = (2,)

    def __init__(self, cfg):
        self.cfg = cfg
        self.family = gaussian.FAMILIES_2D[cfg.family]
        self.param = parameterizations2.get(cfg.parameterization, cfg.family)
        self.div = divergences2.get(cfg.divergence, cfg.direction, self.family, cfg.alpha)
        self.size = self.family.size
        self.free = np.ones(self.size, dtype=bool)
        self._seen: dict[bytes, float] = {}  # state -> value, from the exact gradient steps
        self._estimate = None
        if cfg.monte_carlo:
            fn = estimators.bind(cfg.divergence, cfg.direction, cfg.estimator, cfg.alpha, dim=2,
                                 baseline=cfg.baseline)
            self._estimate = lambda p, mean, L, noise: fn(p, self.family, mean, L, noise)

    def starts(self, repeat: int):
        mean = np.repeat([s.mean for s in self.cfg.starts], repeat, axis=0).astype(float)
        cov = np.repeat([s.cov for s in self.cfg.starts], repeat, axis=0).astype(float)
        return mean, np.linalg.cholesky(cov)

    def grad(self, p, q):
        """The exact gradient; its cubature gives each state's value as well,
        kept for `values` (bit for bit what evaluating the state again gives)."""
        value, g = self.div.evaluate(p, *q)
        if len(self._seen) < _MAX_SEEN:  # beyond that, values() evaluates the rest again
            self._seen.update(zip(self._keys(q), value.tolist()))
        return g

    @staticmethod
    def _keys(q):
        mean, L = q
        return [m.tobytes() + l.tobytes() for m, l in zip(mean, L)]

    def in_family(self, q):
        return gaussian.in_family(*q)

    @staticmethod
    def norm(g):
        return np.sqrt((g * g).sum(axis=1))

    def record(self, phi) -> dict[str, np.ndarray]:
        mean, L = self.param.from_phi(phi)
        return {"mean": mean, "cov": gaussian.covariance(L)}

    def values(self, p, record) -> np.ndarray:
        """The divergence of every recorded state: each distinct one once (a
        stopped member repeats its last), and those an exact step evaluated
        already not again."""
        phi = record["phi"]
        states, inverse = np.unique(phi.reshape(-1, phi.shape[-1]), axis=0, return_inverse=True)
        q = self.q(states)
        out = np.array([self._seen.get(k, np.nan) for k in self._keys(q)])
        self._seen.clear()
        todo = np.isnan(out)
        if todo.any():
            out[todo] = self.div.value(p, q[0][todo], q[1][todo])
        return out[inverse.ravel()].reshape(phi.shape[:-1])

    def optima(self, p: Mixture2) -> dict[str, np.ndarray]:
        o = optima2.find(p, self.div)
        return {"optima_mean": o.mean, "optima_cov": o.cov, "optima_value": o.value}


def for_run(cfg, dim: int) -> Line | Plane:
    return (Line if dim == 1 else Plane)(cfg)
