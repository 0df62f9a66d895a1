"""Composite Gauss-Legendre quadrature placed where an integrand's mass is.

Every integral divfit needs has the form

    ∫ exp(a log q(x) + b log p(x)) g(x) dx

for a Gaussian q, the target mixture p, numbers a and b, and a slowly varying
g (a low-degree polynomial, or log p). The rule is derived from where that
mass lies rather than from q's and p's own scales, because the two can be far
apart: q^2/p can peak between two narrow components, or a hundred units away
where a wide component takes p's tail over from a narrow one.

log p is the upper envelope E(x) = max_k l_k(x) of the components' log
densities l_k = log(w_k N_k), plus a correction r = log p - E in [0, log C]
that is negligible away from the envelope's breakpoints and the components'
own bulks. On each piece of the envelope (owner k) the log-integrand is
therefore, up to b * r, the quadratic Q(x) = a log q(x) + b l_k(x), so:

* its maximum M over the line is at a piece's vertex or at a breakpoint;
* its mass lies where Q >= M - TAIL (TAIL counts the b log C slack), a union of
  at most two intervals per piece; everything outside is below e^-46 of the peak;
* panel edges go at each piece's level sets Q = top - t^2/2 (t = 1 .. 9.6, from
  the piece's highest point: a Gaussian's standard offsets where Q is concave,
  graded steps down an exponential where it is not), at each breakpoint
  graded by 1/D (D the jump in slope, the width over which r turns) and at
  the own offsets of each component whose mode lies under another's piece
  (there it is a bump in r).

Edges outside the mass are dropped, so states far from p's features pay only
for q's own panels. States carry different numbers of panels, so a rule is flat: nodes, weights and
the state each belongs to.
Accuracy is tested against mpmath in tests/test_divergences.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .target import LOG_SQRT_2PI, Mixture

NODES = 10
_U, _W = np.polynomial.legendre.leggauss(NODES)
# drops t^2/2 below a piece's top (a Gaussian's t-std offsets), out to the tail cut
_LEVELS = 0.5 * np.array([1, 2, 3, 4.5, 6, 8, 9.6]) ** 2
# r turns from 0 to log 2 and back over about 1/D: graded out to where e^-64 is left
_JUMP_OFFSETS = np.array([-64, -24, -8, -3, -1, -0.3, 0.3, 1, 3, 8, 24, 64], dtype=float)
_COMPONENT_OFFSETS = np.array([-8, -4, -2, -1, 0, 1, 2, 4, 8], dtype=float)
TAIL = 46.0  # e^-46 ~ 1e-20 of the peak is left out


def _crossings(p: Mixture) -> np.ndarray:
    """Every real root of l_i = l_j over all pairs of components."""
    out = []
    c, m, prec = p.log_norm, p.means, 1.0 / p.stds**2
    for i in range(p.size):
        for j in range(i + 1, p.size):
            A = 0.5 * (prec[j] - prec[i])
            B = m[i] * prec[i] - m[j] * prec[j]
            C = c[i] - c[j] - 0.5 * (m[i] ** 2 * prec[i] - m[j] ** 2 * prec[j])
            # A x^2 + B x + C = 0 (A = 0 when the stds are equal)
            if abs(A) < 1e-14 * max(prec[i], prec[j]):
                out += [] if B == 0 else [-C / B]
                continue
            disc = B * B - 4 * A * C
            if disc < 0:
                continue
            q = -0.5 * (B + np.copysign(np.sqrt(disc), B))
            out += [q / A] + ([C / q] if q != 0 else [])
    return np.unique(np.asarray(out, float))


@dataclass(frozen=True, eq=False)
class Envelope:
    """The pieces of E(x) = max_k l_k(x): breakpoints (P,), the component owning
    each of the P + 1 pieces, and the jump in E's slope at each breakpoint."""

    breaks: np.ndarray
    owners: np.ndarray
    jumps: np.ndarray
    # components whose mode lies on a piece another one owns: there they are a
    # bump in r, which gets panels of the component's own width
    hidden: np.ndarray

    @property
    def lower(self) -> np.ndarray:
        return np.concatenate([[-np.inf], self.breaks])

    @property
    def upper(self) -> np.ndarray:
        return np.concatenate([self.breaks, [np.inf]])


def _owner(p: Mixture, x) -> np.ndarray:
    terms = p.log_norm - 0.5 * ((np.asarray(x, float)[:, None] - p.means) / p.stds) ** 2
    return np.argmax(terms, axis=1)


@lru_cache(maxsize=64)
def envelope(p: Mixture) -> Envelope:
    roots = _crossings(p)
    if roots.size == 0:
        probe = np.array([0.0])
    else:
        gaps = np.diff(roots)
        probe = np.concatenate([[roots[0] - 1.0], roots[:-1] + 0.5 * gaps, [roots[-1] + 1.0]])
    owners = _owner(p, probe)
    change = np.nonzero(owners[1:] != owners[:-1])[0]
    breaks, owners = roots[change], owners[np.concatenate([[0], change + 1])]
    prec = 1.0 / p.stds**2
    left, right = owners[:-1], owners[1:]
    jumps = np.abs((breaks - p.means[left]) * prec[left] - (breaks - p.means[right]) * prec[right])
    hidden = np.nonzero(owners[np.searchsorted(breaks, p.means)] != np.arange(p.size))[0]
    for a in (breaks, owners, jumps, hidden):
        a.setflags(write=False)
    return Envelope(breaks, owners, jumps, hidden)


class Rule(NamedTuple):
    """A quadrature rule for a batch of states, flat: node x, its dx-weight w
    and the index of the state it belongs to (states own different numbers
    of nodes, so nothing is padded)."""

    x: np.ndarray
    w: np.ndarray
    state: np.ndarray
    shape: tuple

    def of(self, values):
        """A per-state array (e.g. the states' means) at every node."""
        return np.broadcast_to(values, self.shape).ravel()[self.state]

    def sum(self, values):
        """The sum of `values` (one per node) over each state's nodes, shaped like the states."""
        n = int(np.prod(self.shape))
        return np.bincount(self.state, weights=values, minlength=n).reshape(self.shape)

    def total(self, f):
        """The rule applied to f's values at the nodes: sum(w * f) per state."""
        return self.sum(self.w * f)


def rule(p: Mixture, mean, std, *exponents) -> Rule:
    """The rule for ∫ exp(a log q + b log p) g with q = N(mean, std^2) (mean and
    std of one shape), for every (a, b) in `exponents` at once: its panels
    cover the mass of each."""
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    m, s = mean.reshape(-1, 1), std.reshape(-1, 1)
    edges = np.concatenate([_edges(p, m, s, a, b) for a, b in exponents], axis=1)
    return _panels(edges, mean.shape)


def _edges(p: Mixture, m, s, a: float, b: float):
    """Candidate panel edges (B, n) for one integrand, NaN where unused."""
    env = envelope(p)
    k = env.owners
    mk, sk, ck = p.means[k], p.stds[k], p.log_norm[k]
    lo, hi = env.lower, env.upper

    # Q on each piece (B, P+1): Q(x) = -A/2 (x - v)^2 + Q(v)
    A = a / s**2 + b / sk**2
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (a * m / s**2 + b * mk / sk**2) / A

    def Q(x):
        return a * (-0.5 * ((x - m) / s) ** 2 - np.log(s) - LOG_SQRT_2PI) + b * (ck - 0.5 * ((x - mk) / sk) ** 2)

    with np.errstate(invalid="ignore", over="ignore"):
        q_lo, q_hi, q_v = Q(lo), Q(hi), Q(v)
        q_lo = np.where(np.isfinite(lo), q_lo, -np.inf)
        q_hi = np.where(np.isfinite(hi), q_hi, -np.inf)
        v_inside = (A > 0) & (v > lo) & (v < hi)
        top = np.where(v_inside, q_v, np.maximum(q_lo, q_hi))  # each piece's highest value
        level = np.max(top, axis=1, keepdims=True) - (TAIL + abs(b) * np.log(p.size))

        # each branch of each piece (left of v, right of v) as a level-set inverter
        pts = []
        for side in (-1.0, 1.0):
            # the highest point of this branch within the piece
            end = lo if side > 0 else hi
            if_concave = np.where((v - end) * side > 0, q_v, np.where(side > 0, q_lo, q_hi))
            # where A < 0, Q rises away from v: the branch's top is its far end
            branch_top = np.where(A > 0, if_concave, np.where(side > 0, q_hi, q_lo))
            drops = branch_top[..., None] - _LEVELS
            keep = drops >= level[..., None]
            radius = 2.0 * (q_v[..., None] - drops) / A[..., None]
            x = v[..., None] + side * np.sqrt(np.maximum(radius, 0.0))
            ok = keep & (radius >= 0) & (x >= lo[:, None]) & (x <= hi[:, None])
            pts.append(np.where(ok, x, np.nan).reshape(m.shape[0], -1))
            # the piece's mass boundary on this branch
            radius = 2.0 * (q_v - level) / A
            x = v + side * np.sqrt(np.maximum(radius, 0.0))
            ok = (radius >= 0) & (x >= lo) & (x <= hi)
            pts.append(np.where(ok, x, np.nan))
        # breakpoints graded by the width of r's turn, and the components' bumps
        if env.breaks.size:
            pts.append(np.broadcast_to((env.breaks[:, None] + _JUMP_OFFSETS / env.jumps[:, None]).ravel(),
                                       (m.shape[0], env.breaks.size * _JUMP_OFFSETS.size)))
            pts.append(np.broadcast_to(env.breaks, (m.shape[0], env.breaks.size)))
        h = env.hidden
        pts.append(np.broadcast_to((p.means[h, None] + p.stds[h, None] * _COMPONENT_OFFSETS).ravel(),
                                   (m.shape[0], h.size * _COMPONENT_OFFSETS.size)))
        x = np.concatenate(pts, axis=1)
        x = np.where(np.isfinite(x) & (np.abs(x) < 1e300), x, np.nan)
        # keep only edges inside the mass: Q >= level on the piece holding them
        piece = np.searchsorted(env.breaks, x)
        piece = np.where(np.isnan(x), 0, piece)
        xm = np.where(np.isnan(x), 0.0, x)
        qx = (a * (-0.5 * ((xm - m) / s) ** 2 - np.log(s) - LOG_SQRT_2PI)
              + b * (ck[piece] - 0.5 * ((xm - mk[piece]) / sk[piece]) ** 2))
        x = np.where(qx >= level - 1e-9 * np.abs(level), x, np.nan)
    return x




def _panels(x, shape) -> Rule:
    """The composite rule on each row's edges (NaN where unused)."""
    x = np.sort(x, axis=1)
    lo, hi = x[:, :-1], x[:, 1:]
    used = hi > lo  # false for NaN and for repeated edges
    state = np.broadcast_to(np.arange(x.shape[0])[:, None], lo.shape)[used]
    lo, half = lo[used][:, None], 0.5 * (hi[used][:, None] - lo[used][:, None])
    nodes = (lo + half * (1.0 + _U)).ravel()
    weights = (half * _W).ravel()
    return Rule(nodes, weights, np.repeat(state, NODES), shape)
