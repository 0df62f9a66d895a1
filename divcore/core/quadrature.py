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
* panel edges go at each piece's level sets Q = top - t^2/2 (t = 1 .. 8, from
  the piece's highest point: a Gaussian's standard offsets where Q is concave,
  graded steps down an exponential where it is not), at each breakpoint
  graded by 1/D (D the jump in slope, the width over which r turns) and at
  the own offsets of each component whose mode lies under another's piece
  (there it is a bump in r).

Edges outside the mass are dropped, so states far from p's features pay only
for q's own panels. States carry different numbers of panels, so a rule is a
list of panels: their nodes, weights and the state each belongs to.
Accuracy is tested against mpmath in tests/test_divergences.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .family import logpdf as q_logpdf
from .target import Mixture

NODES = 10
_U, _W = np.polynomial.legendre.leggauss(NODES)
# drops t^2/2 below a piece's top (a Gaussian's t-std offsets), out to the tail cut
_STEPS = np.array([1, 2, 3, 4.5, 6, 8], dtype=float)
_LEVELS = 0.5 * _STEPS**2
# r turns from 0 to log 2 and back over about 1/D: graded out to where e^-64 is left
_JUMP_OFFSETS = np.array([-64, -24, -8, -3, -1, -0.3, 0.3, 1, 3, 8, 24, 64], dtype=float)
_COMPONENT_OFFSETS = np.array([-8, -4, -2, -1, 0, 1, 2, 4, 8], dtype=float)
TAIL = 46.0  # e^-46 ~ 1e-20 of the peak is left out (9.6 std of a Gaussian)


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
    each of the P + 1 pieces and its parameters, and `fixed`, the panel edges
    that depend on p alone: each breakpoint graded by the jump D in E's slope
    there, and the offsets of each component whose mode lies on a piece another
    one owns (there it is a bump in r)."""

    breaks: np.ndarray
    owners: np.ndarray
    lower: np.ndarray  # (P+1,) each piece's ends, -inf and inf outermost
    upper: np.ndarray
    mean: np.ndarray  # (P+1,) the owner's mean, std and log(w N) at its mean
    std: np.ndarray
    log_norm: np.ndarray
    fixed: np.ndarray


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
    fixed = np.concatenate([breaks, (breaks[:, None] + _JUMP_OFFSETS / jumps[:, None]).ravel(),
                            (p.means[hidden, None] + p.stds[hidden, None] * _COMPONENT_OFFSETS).ravel()])
    env = Envelope(breaks, owners, np.concatenate([[-np.inf], breaks]), np.concatenate([breaks, [np.inf]]),
                   p.means[owners], p.stds[owners], p.log_norm[owners], np.sort(fixed))
    for a in vars(env).values():
        a.setflags(write=False)
    return env


class Rule(NamedTuple):
    """A quadrature rule for a batch of states: node x and its dx-weight w,
    (panels, NODES), and the index of the state each panel belongs to (states
    own different numbers of panels, so nothing is padded). Per-state values
    reach the nodes as (panels, 1) columns that broadcast along a panel's
    nodes: a gather per node would cost more than the integrand."""

    x: np.ndarray
    w: np.ndarray
    state: np.ndarray
    shape: tuple

    def of(self, values):
        """A per-state array (e.g. the states' means) at every node, as a column per panel."""
        return np.broadcast_to(values, self.shape).ravel()[self.state][:, None]

    def sum(self, values):
        """The sum of `values` (one per node) over each state's nodes, shaped like the states."""
        n = int(np.prod(self.shape))
        values = np.broadcast_to(values, self.x.shape).ravel()
        return np.bincount(np.repeat(self.state, NODES), weights=values, minlength=n).reshape(self.shape)

    def total(self, f):
        """The rule applied to f's values at the nodes: sum(w * f) per state."""
        return self.sum(self.w * f)


def rule(p: Mixture, mean, std, *exponents) -> Rule:
    """The rule for ∫ exp(a log q + b log p) g with q = N(mean, std^2) (mean and
    std of one shape), for every (a, b) in `exponents` at once: its panels
    cover the mass of each."""
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    if mean.size == 1:
        return _one(p, float(mean.flat[0]), float(std.flat[0]), exponents)._replace(shape=mean.shape)
    return _batch(p, mean.reshape(-1, 1), std.reshape(-1, 1), exponents)._replace(shape=mean.shape)


def _batch(p: Mixture, m, s, exponents) -> Rule:
    return _panels(np.concatenate([_edges(p, m, s, a, b) for a, b in exponents], axis=1), (m.shape[0],))


@lru_cache(maxsize=16)
def _one(p: Mixture, mean: float, std: float, exponents) -> Rule:
    """One state's rule, kept: an optimizer asks for the value and the gradient
    at the same point."""
    out = _batch(p, np.array([[mean]]), np.array([[std]]), exponents)
    for a in out[:3]:
        a.setflags(write=False)
    return out


# q's own mass in its standard units: the same level sets, and the tail cut
_Q_OFFSETS = np.concatenate([_STEPS[_STEPS < np.sqrt(2 * TAIL)], [np.sqrt(2 * TAIL)]])
_Q_OFFSETS = np.concatenate([-_Q_OFFSETS[::-1], _Q_OFFSETS])


def _edges(p: Mixture, m, s, a: float, b: float):
    """Candidate panel edges (B, n) for one integrand, NaN where unused."""
    if a == 0.0:  # p^b alone: the same edges for every q
        x = _target_edges(p, b)
        return np.broadcast_to(x, (m.shape[0], x.size))
    if b == 0.0:
        # q^a alone: its mass is q's own, with p's features counted within it
        fixed = envelope(p).fixed
        reach = np.sqrt(2.0 * TAIL / a) * s
        return np.concatenate([m + (s / np.sqrt(a)) * _Q_OFFSETS,
                               np.where(np.abs(fixed - m) <= reach, fixed, np.nan)], axis=1)
    return _piece_edges(p, m, s, a, b)


@lru_cache(maxsize=64)
def _target_edges(p: Mixture, b: float) -> np.ndarray:
    x = _piece_edges(p, np.zeros((1, 1)), np.ones((1, 1)), 0.0, b)[0]
    x = x[~np.isnan(x)]
    x.setflags(write=False)
    return x


def _piece_edges(p: Mixture, m, s, a: float, b: float):
    """The general case: Q's level sets on every piece of the envelope."""
    env = envelope(p)
    mk, sk, ck = env.mean, env.std, env.log_norm
    lo, hi = env.lower, env.upper

    # Q on each piece (B, P+1): Q(x) = -A/2 (x - v)^2 + Q(v)
    A = a / s**2 + b / sk**2
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (a * m / s**2 + b * mk / sk**2) / A

    def Q(x, mk=mk, sk=sk, ck=ck):
        return a * q_logpdf(x, m, s) + b * (ck - 0.5 * ((x - mk) / sk) ** 2)

    with np.errstate(invalid="ignore", over="ignore"):
        finite_lo, finite_hi = np.isfinite(lo), np.isfinite(hi)
        q_lo, q_hi, q_v = Q(np.stack([np.where(finite_lo, lo, 0.0) + 0 * m, np.where(finite_hi, hi, 0.0) + 0 * m, v]))
        q_lo, q_hi = np.where(finite_lo, q_lo, -np.inf), np.where(finite_hi, q_hi, -np.inf)
        v_inside = (A > 0) & (v > lo) & (v < hi)
        top = np.where(v_inside, q_v, np.maximum(q_lo, q_hi))  # each piece's highest value
        level = np.max(top, axis=1, keepdims=True) - (TAIL + abs(b) * np.log(p.size))

        # each branch of each piece (left and right of v) inverted at its level sets:
        # the branch's highest point in the piece is v if the branch holds it, else
        # the piece's end nearest v; where A < 0, Q rises away from v to the far end
        side = np.array([-1.0, 1.0])[:, None, None]
        near = np.stack([q_hi, q_lo])
        holds_v = (v - np.stack([hi + 0 * m, lo + 0 * m])) * side > 0
        branch_top = np.where(A > 0, np.where(holds_v, q_v, near), np.stack([q_lo, q_hi]))
        drops = np.concatenate([branch_top[..., None] - _LEVELS, np.broadcast_to(level[..., None], branch_top.shape + (1,))], -1)
        radius = 2.0 * (q_v[..., None] - drops) / A[..., None]
        x = v[..., None] + side[..., None] * np.sqrt(np.maximum(radius, 0.0))
        ok = (drops >= level[..., None]) & (radius >= 0) & (x >= lo[:, None]) & (x <= hi[:, None])
        x = np.concatenate([np.where(ok, x, np.nan).transpose(1, 0, 2, 3).reshape(m.shape[0], -1),
                            np.broadcast_to(env.fixed, (m.shape[0], env.fixed.size))], axis=1)
        # keep only edges inside the mass: Q >= level on the piece holding them
        xs = np.where(np.isnan(x), 0.0, x)
        piece = np.searchsorted(env.breaks, xs)
        qx = Q(xs, mk[piece], sk[piece], ck[piece])
        return np.where(qx >= level - 1e-9 * np.abs(level), x, np.nan)


def _panels(x, shape) -> Rule:
    """The composite rule on each row's edges (NaN where unused)."""
    x = np.sort(x, axis=1)
    lo, hi = x[:, :-1], x[:, 1:]
    used = hi > lo  # false for NaN and for repeated edges
    state = np.broadcast_to(np.arange(x.shape[0])[:, None], lo.shape)[used]
    lo, half = lo[used][:, None], 0.5 * (hi[used][:, None] - lo[used][:, None])
    nodes = half * (1.0 + _U)
    nodes += lo
    return Rule(nodes, half * _W, state, shape)
