"""Composite Gauss-Legendre quadrature on panels placed where integrands bend.

Every integral divfit needs is of a Gaussian q (or q^2) against a function of
log p. Such an integrand is smooth except on three length scales, and a
panel boundary is put on each:

* q's own scale: mean + std * T for T in `Q_OFFSETS` (out to 12 std, where
  q's mass is below 1e-32 of the total);
* each component's scale: m_j + s_j * {0, +-1, +-3, +-8};
* the crossovers of two components in log p: where w_i N_i = w_j N_j, log p
  turns from one parabola to the other over a width 1 / D, D being the jump
  in slope there, which is tiny when modes are narrow and far apart. Panels
  are graded at r + {0, +-1, +-6, +-36} / D so each piece is smooth.

The target's breakpoints do not depend on q and are computed once per target.
Each panel carries `NODES` Gauss-Legendre nodes; the number of panels is the
same for every member of a batch, so a batch is one (B, N) array of nodes.
Accuracy (1e-6 relative, in practice ~1e-12) is tested against adaptive
quadrature in tests/test_divergences.py.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .target import Mixture

NODES = 10
_U, _W = np.polynomial.legendre.leggauss(NODES)
Q_OFFSETS = np.array([-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12], dtype=float)
_COMPONENT_OFFSETS = np.array([-8, -3, -1, 0, 1, 3, 8], dtype=float)
_CROSSOVER_OFFSETS = np.array([-36, -6, -1, 0, 1, 6, 36], dtype=float)


def panels(breaks):
    """Nodes and weights of the composite rule on sorted breakpoints (..., P+1)."""
    a = breaks[..., :-1, None]
    half = 0.5 * (breaks[..., 1:, None] - a)
    x = a + half * (1.0 + _U)
    w = half * _W
    shape = breaks.shape[:-1] + (-1,)
    return x.reshape(shape), w.reshape(shape)


def _crossovers(p: Mixture) -> list[tuple[float, float]]:
    """Roots of log(w_i N_i) = log(w_j N_j) and the slope jump there."""
    out = []
    c, m, prec = p.log_norm, p.means, 1.0 / p.stds**2
    for i in range(p.size):
        for j in range(i + 1, p.size):
            A = 0.5 * (prec[j] - prec[i])
            B = m[i] * prec[i] - m[j] * prec[j]
            C = c[i] - c[j] - 0.5 * (m[i] ** 2 * prec[i] - m[j] ** 2 * prec[j])
            # A x^2 + B x + C = 0 (A = 0 when the stds are equal)
            if abs(A) < 1e-14 * max(prec[i], prec[j]):
                roots = [] if B == 0 else [-C / B]
            else:
                disc = B * B - 4 * A * C
                if disc < 0:
                    continue
                sq = np.sqrt(disc)
                q = -0.5 * (B + np.copysign(sq, B))
                roots = [q / A] + ([C / q] if q != 0 else [])
            for r in roots:
                jump = abs((r - m[i]) * prec[i] - (r - m[j]) * prec[j])
                out.append((r, jump))
    return out


@lru_cache(maxsize=64)
def target_breaks(p: Mixture) -> np.ndarray:
    pts = [p.means[:, None] + p.stds[:, None] * _COMPONENT_OFFSETS]
    for r, jump in _crossovers(p):
        pts.append(r + _CROSSOVER_OFFSETS / max(jump, 1e-300) if jump > 0 else np.array([r]))
    out = np.sort(np.concatenate([np.ravel(a) for a in pts]))
    out.setflags(write=False)
    return out


def rule(p: Mixture, centres, scales, lo, hi):
    """Nodes and weights on [lo, hi] (each shape (B,)), with panel edges at
    centre_k + scale_k * Q_OFFSETS for every (centre, scale) pair given
    (arrays of shape (B, n)) and at the target's own breakpoints."""
    lo = np.asarray(lo, float)[..., None]
    hi = np.asarray(hi, float)[..., None]
    own = centres[..., :, None] + scales[..., :, None] * Q_OFFSETS
    own = own.reshape(own.shape[:-2] + (-1,))
    tb = np.broadcast_to(target_breaks(p), lo.shape[:-1] + target_breaks(p).shape)
    breaks = np.concatenate([lo, hi, own, tb], axis=-1)
    breaks = np.clip(breaks, lo, hi)
    breaks.sort(axis=-1)
    return panels(breaks)
