"""Tensor-product Gauss-Legendre cubature placed where an integrand's mass is.

Every integral the 2-D divergences need has the form

    ∫ exp(a log q(x) + b log p(x)) g(x) dx

for q = N(mean, L L^T), the target mixture p, numbers a and b, and a slowly
varying g. The rule is built per state in a frame x = centre + T u: q's
whitened frame (centre = mean, T = L) or, for b < 0, the frame of the
integrand's peak (centre at the peak, found by Newton ascent, T scaled to the
Hessian there): q^2/p can peak on the ridge where one component takes p's
tail over from another, and a grid aligned with that ridge resolves it.

Where the mass is. With l_k = log(w_k N_k), each "piece" a log q + b l_k is a
quadratic. Since max_k l_k <= log p <= max_k l_k + log C:

* b = 0: the integrand is q^a: an ellipse at level TAIL below its peak;
* b > 0: it is below C^b max_k exp(piece_k), inside the union of the pieces'
  ellipses at level F - TAIL - b log C (F the integrand's largest value
  found at the candidate points: q's mean, each component's, each piece's
  vertex);
* b < 0: it is below min_k exp(piece_k), inside every concave piece's ellipse
  at level F - TAIL and inside the star, found ray by ray from the frame's
  centre, where every piece is above that level (the only bound when no
  piece is concave yet the integral is finite: every direction has a piece
  that decays).

Everything outside the box is below e^-TAIL of the peak. Panels are marched
across the box along each axis, each no wider than every feature near it
allows: WIDTH times the feature's narrowest sd at its centre (a thin ellipse
lying across the axis is crossed within that), widening by GROWTH per
marginal sd away from it. The features: q, each component of p, each concave
piece's vertex and the peak. NODES Gauss-Legendre nodes per panel and axis.

Where p's components take over from one another, log p bends, and so does
p^b unless b is a whole number >= 0 (chi2(q‖p)'s 1/p, D_a's p^a): such rules,
and those asked for with `kinks` (integrands that hold log p itself, as
KL(q‖p)'s E_q[log p] and its gradient), get panels there too (see "where log
p bends" below).

A rule is flat: nodes, weights (q's frame Jacobian included) and how many
nodes each state has, with nodes of one state contiguous.
Accuracy is tested against a fine trapezoid rule in tests/test_bivariate.py.
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import numpy as np

from .target import LOG_2PI, Mixture2

NODES = 12
_U, _W = np.polynomial.legendre.leggauss(NODES)
TAIL = 46.0
WIDTH = 1.5
GROWTH = 0.5
# a thin feature across a long axis (q far wider than a component, along it) would
# ask for panels without end: past this many per axis they are sized more
# loosely (see `_edges`)
MAX_PANELS = 150
_RAYS = np.linspace(0.0, 2.0 * np.pi, 720, endpoint=False)


class Rule(NamedTuple):
    x: np.ndarray  # (N, 2) nodes
    w: np.ndarray  # (N,) weights
    counts: np.ndarray  # (n,) how many nodes each state has
    starts: np.ndarray  # (n,) the first node of each state

    def of(self, values):
        """A per-state array (n, ...) taken to the nodes (a state's nodes are
        contiguous, so this is a repeat: 2-3x cheaper than a gather)."""
        return np.repeat(np.asarray(values), self.counts, axis=0)

    def sum(self, values):
        """Per-state sums of values (N, ...) times the weights: (n, ...)."""
        v = np.asarray(values)
        w = self.w.reshape((-1,) + (1,) * (v.ndim - 1))
        return np.add.reduceat(v * w, self.starts, axis=0)


def _frame(p: Mixture2, mean, L, centre, T):
    """q and p's components in the frame x = centre + T u: means (C + 1, 2) and
    covariances (C + 1, 2, 2), q last."""
    Ti = np.linalg.inv(T)
    m = np.concatenate([p.means, mean[None]]) - centre
    S = np.concatenate([p.covs, (L @ L.T)[None]])
    return m @ Ti.T, Ti @ S @ Ti.T


def _log_norms(S, log_w):
    """Each component's log(w_k N_k) at its own mean, then q's log density at its mean (C + 1,)."""
    return np.append(log_w, 0.0) - LOG_2PI - 0.5 * np.log(np.linalg.det(S))


def _log_densities(u, m, S, log_w):
    """log(w_k N_k) for every component and log q at points u (..., 2): (..., C + 1)."""
    P = np.linalg.inv(S)
    d = u[..., None, :] - m
    quad = np.einsum("...ki,kij,...kj->...k", d, P, d)
    return _log_norms(S, log_w) - 0.5 * quad


def _log_integrand(u, m, S, log_w, a, b):
    """a log q + b log p in the frame, at points u (..., 2)."""
    lk = _log_densities(u, m, S, log_w)
    comp = lk[..., :-1]
    top = comp.max(-1)
    return a * lk[..., -1] + b * (top + np.log(np.exp(comp - top[..., None]).sum(-1)))


def _pieces(m, S, log_w, a, b):
    """Each piece a log q + b l_k as (matrix, linear, constant) of -u'Au/2 + h'u + c."""
    P = np.linalg.inv(S)
    Pm = np.einsum("kij,kj->ki", P, m)
    c = _log_norms(S, log_w) - 0.5 * np.einsum("ki,ki->k", m, Pm)
    A = a * P[-1] + b * P[:-1]
    h = a * Pm[-1] + b * Pm[:-1]
    return A, h, a * c[-1] + b * c[:-1]


def _ascend(u, m, S, log_w, a, b, iterations: int = 40):
    """Climb a log q + b log p from u by damped Newton steps: its peak can sit on
    the boundary where one component takes p's tail over from another, away
    from every candidate. Returns the peak, the value there and the Hessian."""
    P = np.linalg.inv(S)

    def local(u):
        lk = _log_densities(u, m, S, log_w)
        g = -np.einsum("kij,kj->ki", P, u - m)  # each density's gradient
        comp = lk[:-1]
        r = np.exp(comp - comp.max())
        r /= r.sum()
        gp = r @ g[:-1]
        Hp = np.einsum("k,kij->ij", r, -P[:-1] + g[:-1, :, None] * g[:-1, None, :]) - np.outer(gp, gp)
        value = a * lk[-1] + b * (comp.max() + np.log(np.exp(comp - comp.max()).sum()))
        return value, a * g[-1] + b * gp, -a * P[-1] + b * Hp

    value, grad, H = local(u)
    for _ in range(iterations):
        neg = np.all(np.linalg.eigvalsh(H) < 0)
        step = np.linalg.solve(H, -grad) if neg else grad / max(1.0, np.abs(H).max())
        for _ in range(30):
            v2, g2, H2 = local(u + step)
            if v2 >= value:
                break
            step = step / 2
        else:
            break
        done = abs(v2 - value) <= 1e-12 * max(1.0, abs(value))
        u, value, grad, H = u + step, v2, g2, H2
        if done:
            break
    return u, value, H


def _ellipse_box(A, h, c, level):
    """Bounding boxes (lo, hi) of {-u^T A u / 2 + h^T u + c >= level} for concave pieces."""
    Ai = np.linalg.inv(A)
    centre = Ai @ h
    top = c + 0.5 * h @ centre
    r2 = 2.0 * (top - level)
    if r2 < 0:
        return None
    half = np.sqrt(r2 * np.diag(Ai))
    return centre - half, centre + half


def _ray_box(A, h, c, level):
    """Bounding box of the points t v (t >= 0) where every piece is >= level:
    along each ray the reach is the least, over pieces, of the last t at which
    that piece is still above the level."""
    v = np.stack([np.cos(_RAYS), np.sin(_RAYS)], axis=1)  # (R, 2)
    qa = np.einsum("ri,kij,rj->rk", v, A, v)  # piece(t v) = c + g t - qa t^2 / 2
    g = v @ h.T
    d = c - level  # >= 0 needed at t = 0 for the ray to start inside
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = g * g + 2.0 * qa * d
        root = np.where(qa > 0, (g + np.sqrt(np.maximum(disc, 0.0))) / qa, np.inf)
        root = np.where((qa == 0) & (g < 0), d / -g, root)
        root = np.where((qa > 0) & (disc < 0), 0.0, root)
    reach = np.maximum(root.min(axis=1), 0.0) * 1.05
    if not np.all(np.isfinite(reach)):
        return None
    pts = v * reach[:, None]
    return np.minimum(pts.min(0), 0.0), np.maximum(pts.max(0), 0.0)


def _feature(centre, cov):
    """A Gaussian-shaped feature: its centre, its marginal sds, its narrowest
    sd, and per axis the sd of its slices along lines parallel to that axis
    (1 / sqrt(precision_aa): what a line of nodes along the axis crosses)."""
    return centre, np.sqrt(np.diag(cov)), float(np.sqrt(np.linalg.eigvalsh(cov)[0])), \
        1.0 / np.sqrt(np.diag(np.linalg.inv(cov)))


def _box_and_features(m, S, log_w, a, b):
    """The box holding the integrand's mass and the (centre, sd) of its features."""
    C = m.shape[0] - 1
    A, h, c = _pieces(m, S, log_w, a, b)
    concave = _concave(A)
    centres = [np.linalg.solve(A[k], h[k]) for k in concave]
    features = [_feature(m[k], S[k]) for k in range(C)]
    features += [_feature(ck, np.linalg.inv(A[k])) for k, ck in zip(concave, centres)]
    if a > 0:
        features.append(_feature(m[-1], S[-1] / a))
    if b == 0:
        half = np.sqrt(2.0 * TAIL / a * np.diag(S[-1]))
        return (m[-1] - half, m[-1] + half), features
    if b > 0:
        level = _largest(m, S, log_w, a, b, centres) - TAIL - b * np.log(C)
        boxes = [bx for k in concave if (bx := _ellipse_box(A[k], h[k], c[k], level)) is not None]
        lo = np.min([bx[0] for bx in boxes], axis=0)
        hi = np.max([bx[1] for bx in boxes], axis=0)
        return (lo, hi), features
    peak, F, H = _peak(m, S, log_w, a, b, centres)
    if np.all(np.linalg.eigvalsh(H) < 0):
        features.append(_feature(peak, np.linalg.inv(-H)))
    level = F - TAIL
    boxes = [bx for k in concave if (bx := _ellipse_box(A[k], h[k], c[k], level)) is not None]
    ray = _ray_box(A, h, c, level)
    if ray is not None:
        boxes.append(ray)
    if not boxes:  # callers decide finiteness first (divergences.tails_finite)
        raise ValueError("the integrand's mass is unbounded: the integral is infinite at this q")
    lo = np.max([bx[0] for bx in boxes], axis=0)
    hi = np.min([bx[1] for bx in boxes], axis=0)
    return (lo, hi), features


def _candidates(m, centres):
    """Where the integrand's peak may be: the frame's centre, every component's
    mean and q's, and every concave piece's vertex."""
    return np.concatenate([np.zeros((1, 2)), m] + [ck[None] for ck in centres])


def _largest(m, S, log_w, a, b, centres):
    """The log-integrand's largest value at the candidates (`_candidates`)."""
    return float(_log_integrand(_candidates(m, centres), m, S, log_w, a, b).max())


def _top(m, S, log_w, a, b):
    """The log-integrand's largest value found at the candidates (its peak
    itself where that is one of them: the frame's centre in the peak frame
    for b < 0)."""
    A, h, _ = _pieces(m, S, log_w, a, b)
    return _largest(m, S, log_w, a, b, [np.linalg.solve(A[k], h[k]) for k in _concave(A)])


def _concave(A):
    return [k for k in range(len(A)) if np.all(np.linalg.eigvalsh(A[k]) > 0)]


def _peak(m, S, log_w, a, b, centres):
    """The integrand's peak (b < 0): Newton ascent from the best candidate. Returns
    the peak, the log-integrand there and its Hessian."""
    cand = _candidates(m, centres)
    best = cand[np.argmax(_log_integrand(cand, m, S, log_w, a, b))]
    return _ascend(best, m, S, log_w, a, b)


def _peak_frame(p: Mixture2, mean, L, a, b):
    """For b < 0: the frame centred on the integrand's peak with axes along its
    Hessian's eigenvectors, scaled to unit curvature (a ridge along a boundary
    between components is then aligned with the grid), or None."""
    m, S = _frame(p, mean, L, mean, L)
    log_w = np.log(p.weights)
    A, h, _ = _pieces(m, S, log_w, a, b)
    peak, _, H = _peak(m, S, log_w, a, b, [np.linalg.solve(A[k], h[k]) for k in _concave(A)])
    lam, V = np.linalg.eigh(-H)
    if not np.all(lam > 0):
        return None
    return mean + L @ peak, L @ V / np.sqrt(lam)


def _edges(lo, hi, features, axis):
    """Panel edges from lo to hi, each panel no wider than every feature allows
    where it starts: WIDTH times the feature's narrowest sd (a thin ellipse
    lying across the axis is crossed within that) near its centre, growing by
    GROWTH per marginal sd away from it; marched outwards in both directions
    from the narrowest feature's centre. Where that asks for more than
    MAX_PANELS, the sd of the feature's slices along the axis stands for its
    narrowest (a thin ellipse lying along the axis is crossed by the lines
    along it within far more), and where even that asks for more, no panel is
    narrower than the axis over MAX_PANELS."""
    centres = np.array([c[axis] for c, _, _, _ in features])
    spans = np.array([s[axis] for _, s, _, _ in features])

    def march(narrow, floor, most):
        def width(x):
            return max(floor, float(np.min(narrow * (WIDTH + GROWTH * np.abs(x - centres) / spans))))

        start = float(np.clip(centres[np.argmin(narrow)], lo, hi))
        right, left = [start], [start]
        while right[-1] < hi and len(right) + len(left) <= most:
            right.append(min(hi, right[-1] + width(right[-1])))
        while left[-1] > lo and len(right) + len(left) <= most:
            left.append(max(lo, left[-1] - width(left[-1])))
        done = right[-1] >= hi and left[-1] <= lo
        return left, right, done

    narrowest = np.array([n for _, _, n, _ in features])
    slices = np.array([c[axis] for _, _, _, c in features])
    left, right, done = march(narrowest, 0.0, MAX_PANELS + 2)
    if not done:
        left, right, done = march(slices, 0.0, MAX_PANELS + 2)
    if not done:
        left, right, _ = march(slices, (hi - lo) / MAX_PANELS, np.inf)
    e = np.array(left[::-1] + right[1:])
    return e[np.concatenate([[True], np.diff(e) > 0])]


def _axis_nodes(edges):
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * _U).ravel(), (half[:, None] * _W).ravel()


def _state(p: Mixture2, mean, L, exponents, kinks: bool = False):
    centre, T = mean, L
    for a, b in exponents:
        if b < 0 and (frame := _peak_frame(p, mean, L, a, b)) is not None:
            centre, T = frame
            break
    log_w = np.log(p.weights)
    if kinks:
        m, S = _frame(p, mean, L, centre, T)
        T = T @ _across_kink(m, S, log_w, exponents)
    m, S = _frame(p, mean, L, centre, T)
    lo, hi, feats = np.full(2, np.inf), np.full(2, -np.inf), []
    for a, b in exponents:
        (l, h), f = _box_and_features(m, S, log_w, a, b)
        lo, hi = np.minimum(lo, l), np.maximum(hi, h)
        feats += f
    edges0, edges1 = _edges(lo[0], hi[0], feats, 0), _edges(lo[1], hi[1], feats, 1)
    if kinks:
        level, pieces = _level(m, S, log_w, exponents), _component_pieces(m, S, log_w)
        u1, w1 = _axis_nodes(_outer_edges(pieces, edges0, edges1, level))
        (t, s), w = _kinked_lines(pieces, edges0, u1, w1, level)
    else:
        u0, w0 = _axis_nodes(edges0)
        u1, w1 = _axis_nodes(edges1)
        t, s = (a.ravel() for a in np.meshgrid(u0, u1, indexing="ij"))
        w = np.outer(w0, w1).ravel()
    # x = centre + T u, a coordinate a row (`rule` concatenates the states' nodes
    # into one (N, 2) array): a (N, 2) @ (2, 2) product is several times slower
    x = np.empty((2, t.size))
    for k in range(2):
        np.multiply(t, T[k, 0], out=x[k])
        x[k] += s * T[k, 1]
        x[k] += centre[k]
    return x.T, w * abs(np.linalg.det(T))


# ---------------------------------------------------------------- where log p bends
#
# log p = log sum_k exp(l_k) follows the largest l_k and, where two components
# take over from one another, turns from one's slope to the other's within a
# strip of width about 1 / |grad (l_i - l_j)| (its complex singularities sit
# pi / |grad (l_i - l_j)| off the crossing). Panels sized to q and p's
# components alone step over a narrow strip: E_q[log p] was typically 1e-8
# off, and 2e-5 where a strip ran along the panels through q's centre. With
# `kinks`, the frame is turned so that the inner lines cross every strip near
# the integrand's mass as steeply as one direction allows (`_across_kink`), and
# every inner line gets panel edges at its own crossings, graded out from
# each: the first panel 3 / |slope difference| wide, then each reaching four times as far (a panel
# from r + d to r + 4d has the singularity 5/3 half-widths from its centre or
# more, where 12 Gauss-Legendre nodes are exact to ~1e-11 of the panel's part),
# until the panel the crossing falls in is as wide. On 100 random states these
# settings and finer ones (2 / |slope difference|, threefold; crossings out
# to q at e^-36) gave the same errors, 1e-12 in value. p^b (b < 0, or not
# whole) has its singularities at the same places: chi2(q‖p) and D_a were up
# to 1.8e-6 off without these panels on a random search, 1e-13 with them.
# Each line integrates exactly so; the outer axis then integrates the lines'
# integrals, which turn within a strip's width of every line along which a
# strip runs (a curving strip touches some line whatever the turn) and of
# every line through a point where three components meet (`_outer_edges`):
# graded panels there too took KL(q‖p) on 120 random states from 4.4e-7 at
# worst (in gradient; 1.4e-8 and 8.5e-9 on two more) to 6e-12.

KINK_GAP = 20.0  # a crossing of components this far below the largest l_k bends log p by < e^-20
KINK_TAIL = 25.0  # nor is one placed where the integrand is below e^-25 of its peak
_FIRST = 3.0  # the first panel from a crossing: this many strip half-widths wide
_RATIO = 4.0  # each panel out from a crossing this many times the last one's reach
_MAX_STEPS = 40
# the outer axis's panels are for strips within OUTER_GAP of p's top, where the integrand
# is within e^-OUTER_TAIL of its peak: left to the shared panels, a strip on top inside q's
# mass was 4e-7 off at worst, one e^-8 below the top bends log p 3e-4 times as much, and
# one at e^-16 of the peak weighs 1e-7 times as much
OUTER_GAP = 8.0
OUTER_TAIL = 16.0


def _component_pieces(m, S, log_w):
    """p's components' log densities in the frame as (P, m, c): l_k(u) = c_k - (u - m_k)' P_k (u - m_k) / 2
    (the frame's Jacobian is left out: it is the same for every component)."""
    P = np.linalg.inv(S[:-1])
    return P, m[:-1], _log_norms(S, log_w)[:-1]


def _level(m, S, log_w, exponents):
    """u (..., 2) -> how far below its peak the integrand is there, the most
    of any exponent pair's (0 at the peak; q^a's, b = 0, is -a/2 times the
    squared distance from q's mean in q's metric, r^2 in q's own frame)."""
    Pq = np.linalg.inv(S[-1])
    tops = [None if b == 0 else _top(m, S, log_w, a, b) for a, b in exponents]

    def one(u, a, b, top):
        if b == 0:
            d = u - m[-1]
            return -0.5 * a * np.einsum("...i,ij,...j->...", d, Pq, d)
        return _log_integrand(u, m, S, log_w, a, b) - top

    def level(u):
        return np.max([one(u, a, b, top) for (a, b), top in zip(exponents, tops)], axis=0)

    return level


def _at(P, mu, c, u, k):
    """l_k and its gradient at points u (n, s, 2) for components k (n,), row r
    of the points with component k[r]: (n, s) and (n, s, 2)."""
    d = u - mu[k][:, None]
    g = -np.einsum("pij,psj->psi", P[k], d)
    return c[k][:, None] + 0.5 * np.einsum("psi,psi->ps", d, g), g


_STRIP_STARTS = np.stack(np.meshgrid(*2 * [np.linspace(-3.0, 3.0, 5)], indexing="ij"), -1).reshape(-1, 2)
_ANGLES = np.radians(np.arange(0.0, 180.0, 5.0))


def _across_kink(m, S, log_w, exponents):
    """A rotation R (2 x 2) such that, in the frame turned by it, the inner lines
    cross the strips near the integrand's mass (where two components on top
    of p cross) as steeply as one direction allows: the lines get panels at
    their own crossings (`_kinked_lines`), but a strip running along them is
    left to panels sized to q and p. The strips are found by Newton's steps
    onto l_i = l_j, for every pair, from a grid over the frame's centre (q's
    mass, or the peak's) and from each pair (a, b > 0)'s vertices, where its
    mass is; the direction (in 5 degree steps) minimises the sum over the
    points found, weighted by the integrand there (`_level`), of 1 / cos^2
    of the angle to the strip's normal (floored at cos 0.05). One straight
    strip: its normal; two at right angles: their bisector."""
    P, mu, c = _component_pieces(m, S, log_w)
    C = c.size
    if C < 2:
        return np.eye(2)
    level = _level(m, S, log_w, exponents)
    starts = [_STRIP_STARTS]
    for a, b in exponents:
        if b > 0:
            A, h, _ = _pieces(m, S, log_w, a, b)
            starts += [np.linalg.solve(A[k], h[k])[None] for k in _concave(A)]
    starts = np.concatenate(starts)
    i, j = np.triu_indices(C, 1)
    u = np.broadcast_to(starts, (i.size,) + starts.shape).copy()  # (pairs, starts, 2)

    pieces = functools.partial(_at, P, mu, c)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(20):
            (li, gi), (lj, gj) = pieces(u, i), pieces(u, j)
            g = gi - gj
            step = ((li - lj) / (g * g).sum(-1))[..., None] * g
            step = np.where(np.isfinite(step), step, 0.0)
            u = u - step
            if np.abs(step).max() <= 1e-9 * max(1.0, np.abs(u[np.isfinite(u)]).max(initial=0.0)):
                break  # the points' own test below (|l_i - l_j|) decides which are on a strip
        (li, gi), (lj, gj) = pieces(u, i), pieces(u, j)
        g = gi - gj
        norm = np.sqrt((g * g).sum(-1))
        d_all = u[..., None, :] - mu  # (pairs, starts, C, 2)
        top = (c - 0.5 * np.einsum("psci,cij,pscj->psc", d_all, P, d_all)).max(-1)
        here = level(np.where(np.isfinite(u), u, 0.0))
        on = (np.isfinite(u).all(-1) & (norm > 0) & (np.abs(li - lj) <= 1e-6 * np.maximum(1.0, np.abs(li)))
              & (li >= top - KINK_GAP) & (here >= -KINK_TAIL))
    if not on.any():
        return np.eye(2)
    n = g[on] / norm[on][:, None]
    # at most the peak's: a level above 0 means the peak was not found (the integral is infinite there)
    weight = np.exp(np.minimum(here[on], 0.0))
    cosines = np.abs(n @ np.stack([np.cos(_ANGLES), np.sin(_ANGLES)]))  # (points, angles)
    best = _ANGLES[np.argmin(weight @ (1.0 / np.maximum(cosines, 0.05) ** 2))]
    return np.array([[np.cos(best), -np.sin(best)], [np.sin(best), np.cos(best)]])


def _local_width(edges, x):
    """The width of the panel (of `edges`) each of x falls in (the first's or the last's outside)."""
    return np.diff(edges)[np.clip(np.searchsorted(edges, x) - 1, 0, edges.size - 2)]


def _graded(edges, roots, slope):
    """Panel edges graded out from each root (roots,): the root, then both ways
    _FIRST / slope, then _RATIO times as far each time, out to the width of
    the shared panel (of `edges`) the root falls in; (roots, 2 _MAX_STEPS + 3),
    nan where a root needs fewer."""
    local = _local_width(edges, roots)
    with np.errstate(divide="ignore"):
        first = _FIRST / slope
        steps = np.clip(np.ceil(np.log(np.maximum(local / first, 1.0)) / np.log(_RATIO)), 0, _MAX_STEPS)
    k = np.arange(_MAX_STEPS + 1)
    offsets = first[:, None] * _RATIO ** k  # (roots, K)
    offsets = np.where(k <= steps.astype(int)[:, None], offsets, np.nan)
    return np.concatenate([roots[:, None], roots[:, None] - offsets, roots[:, None] + offsets], axis=1)


def _line_coefficients(pieces, s):
    """On the lines u = (t, s): each component's l_k = alpha_k t^2 + beta_k t + gamma_k,
    as alpha (C,), beta and gamma (lines, C)."""
    P, mu, c = pieces
    e = np.asarray(s)[:, None] - mu[:, 1]
    alpha = -0.5 * P[:, 0, 0]
    beta = P[:, 0, 0] * mu[:, 0] - P[:, 0, 1] * e
    gamma = c - 0.5 * (P[:, 0, 0] * mu[:, 0] ** 2 - 2.0 * P[:, 0, 1] * mu[:, 0] * e + P[:, 1, 1] * e * e)
    return alpha, beta, gamma


def _triple_points(pieces):
    """Where three of p's components meet near the frame's centre: Newton's
    steps onto l_i = l_j = l_k for every triple from a grid over the frame
    (as `_across_kink`'s). Returns the points (n, 2), the steepest of the
    three strips' slopes across the outer axis there (n,) and one component
    of each (n,); the same meeting found from several starts is merged by
    `_outer_edges`."""
    P, mu, c = pieces
    i, j, k = (np.array(x, dtype=int) for x in zip(*itertools.combinations(range(c.size), 3)))
    u = np.broadcast_to(_STRIP_STARTS, (i.size,) + _STRIP_STARTS.shape).copy()  # (triples, starts, 2)

    piece = functools.partial(_at, P, mu, c)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        moving = np.ones(u.shape[:-1], dtype=bool)
        for _ in range(30):
            (li, gi), (lj, gj), (lk, gk) = piece(u, i), piece(u, j), piece(u, k)
            F = np.stack([li - lj, li - lk], -1)
            J = np.stack([gi - gj, gi - gk], -2)  # (triples, starts, 2, 2): rows the two differences' gradients
            det = J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0]
            step = np.stack([J[..., 1, 1] * F[..., 0] - J[..., 0, 1] * F[..., 1],
                             J[..., 0, 0] * F[..., 1] - J[..., 1, 0] * F[..., 0]], -1) / det[..., None]
            step = np.where(np.isfinite(step) & moving[..., None], step, 0.0)
            u = u - step
            moving &= np.abs(step).max(-1) > 1e-9 * np.maximum(1.0, np.abs(u).max(-1))
            if not moving.any():
                break
        (li, gi), (lj, gj), (lk, gk) = piece(u, i), piece(u, j), piece(u, k)
        J = np.stack([gi - gj, gi - gk], -2)
        det = J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0]
        slope = np.max(np.abs(np.stack([gi - gj, gi - gk, gj - gk])[..., 1]), axis=0)
        # where two of them are the same component shape, l_i - l_j never turns: no meeting
        met = (np.isfinite(u).all(-1) & (np.abs(det) > 0) & (slope > 0) & np.isfinite(slope)
               & (np.abs(li - lj) <= 1e-6 * np.maximum(1.0, np.abs(li)))
               & (np.abs(li - lk) <= 1e-6 * np.maximum(1.0, np.abs(li))))
    first = np.broadcast_to(i[:, None], met.shape)[met]
    return u[met], slope[met], first


def _outer_edges(pieces, edges0, edges1, level):
    """The outer axis's edges (edges1) with panels graded out from every line
    s* where the inner integral, as a function of s, turns within a strip's
    width: where a strip runs along the line (a strip that curves touches
    some inner line, whatever the turn; there the line's two crossings meet)
    and where three components meet (a strip ends there, and the crossings
    on top change pair). The crossings of a pair along line s are the roots
    of A t^2 + B(s) t + G(s), B linear and G quadratic in s, so the lines
    they meet on are the roots of the discriminant B^2 - 4 A G, a quadratic
    in s; three components meet where Newton's steps onto l_i = l_j = l_k
    end (`_triple_points`). Each is kept where its pair is on top of p and
    the integrand within e^-KINK_TAIL of its peak, as the crossings are; the
    panels start 3 / (the strip's slope across s) wide there."""
    P, mu, c = pieces
    C = c.size
    if C < 2:
        return edges1
    # l_i - l_j along line s: A t^2 + (b0 + b1 s) t + (g0 + g1 s + g2 s^2), from each
    # component's l_k = c_k - (u - mu_k)' P_k (u - mu_k) / 2
    i, j = np.triu_indices(C, 1)
    Pm = np.einsum("kij,kj->ki", P, mu)
    d = lambda x: x[i] - x[j]  # noqa: E731
    A, b1, b0 = d(-0.5 * P[:, 0, 0]), d(-P[:, 0, 1]), d(Pm[:, 0])
    g2, g1, g0 = d(-0.5 * P[:, 1, 1]), d(Pm[:, 1]), d(c - 0.5 * np.einsum("ki,ki->k", mu, Pm))
    q2, q1, q0 = b1 * b1 - 4.0 * A * g2, 2.0 * b0 * b1 - 4.0 * A * g1, b0 * b0 - 4.0 * A * g0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        disc = q1 * q1 - 4.0 * q2 * q0
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        qq = -0.5 * (q1 + np.copysign(sq, q1))
        quadratic = np.abs(q2) > 1e-14 * np.maximum(np.abs(q1), 1e-300)
        s = np.stack([np.where(quadratic, qq / q2, -q0 / q1), np.where(quadratic, q0 / qq, np.nan)], -1)  # (pairs, 2)
        b0, b1, g1, g2, A = (x[:, None] for x in (b0, b1, g1, g2, A))
        t = -(b0 + b1 * s) / (2.0 * A)  # the double root, where they meet
        slope = np.abs(b1 * t + g1 + 2.0 * g2 * s)
        ok = np.isfinite(s) & np.isfinite(t) & (slope > 0) & np.isfinite(slope)
    pair = np.broadcast_to(np.arange(i.size)[:, None], s.shape)[ok]
    u, slope, first = np.stack([t[ok], s[ok]], -1), slope[ok], i[pair]
    if C > 2:
        u3, slope3, first3 = _triple_points(pieces)
        u, slope, first = np.concatenate([u, u3]), np.concatenate([slope, slope3]), np.concatenate([first, first3])
    inside = (u[:, 1] > edges1[0]) & (u[:, 1] < edges1[-1]) & (u[:, 0] > edges0[0]) & (u[:, 0] < edges0[-1])
    u, slope, first = u[inside], slope[inside], first[inside]
    if not u.size:
        return edges1
    d = u[:, None] - mu
    lk = c - 0.5 * np.einsum("nki,kij,nkj->nk", d, P, d)
    on_top = lk[np.arange(first.size), first] >= lk.max(-1) - OUTER_GAP
    # a strip the shared panel it falls in is no wider than needs no panels of its own
    keep = on_top & (_FIRST / slope < _local_width(edges1, u[:, 1])) & (level(u) >= -OUTER_TAIL)
    if not keep.any():
        return edges1
    roots, slope = _merged(u[keep, 1], slope[keep])
    extra = np.clip(_graded(edges1, roots, slope).ravel(), edges1[0], edges1[-1])
    e = np.unique(np.concatenate([edges1, extra[np.isfinite(extra)]]))
    return e[np.concatenate([[True], np.diff(e) > 1e-12 * max(1.0, e[-1] - e[0])])]


def _merged(roots, slope):
    """Roots closer than the first panel graded out from either as one, the steeper kept."""
    order = np.lexsort((-slope, roots))
    roots, slope = roots[order], slope[order]
    keep = [0]
    for k in range(1, roots.size):
        last = keep[-1]
        if roots[k] - roots[last] < _FIRST / max(slope[k], slope[last]):
            if slope[k] > slope[last]:
                keep[-1] = k
        else:
            keep.append(k)
    return roots[keep], slope[keep]


def _kinked_lines(pieces, edges0, u1, w1, level):
    """Nodes and weights of lines at the outer nodes u1 (weights w1), each with
    the inner edges `edges0` plus its own crossings (where the integrand is
    within e^-KINK_TAIL of its peak, by `level`) and the panels graded out
    from them."""
    C = pieces[2].size
    lo, hi = edges0[0], edges0[-1]
    n = u1.size
    if C > 1:
        alpha, beta, gamma = _line_coefficients(pieces, u1)
        i, j = np.triu_indices(C, 1)
        A = np.broadcast_to(alpha[i] - alpha[j], (n, i.size))
        B, G = beta[:, i] - beta[:, j], gamma[:, i] - gamma[:, j]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            disc = B * B - 4.0 * A * G
            sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
            qq = -0.5 * (B + np.copysign(sq, B))
            quadratic = np.abs(A) > 1e-14 * np.maximum(np.abs(B), 1e-300)
            r1 = np.where(quadratic, qq / A, -G / B)
            r2 = np.where(quadratic, G / qq, np.nan)
            roots = np.stack([r1, r2], axis=-1)  # (n, pairs, 2)
            slope = np.abs(2.0 * A[..., None] * roots + B[..., None])
            l_at = (alpha * roots[..., None] ** 2 + beta[:, None, None, :] * roots[..., None]
                    + gamma[:, None, None, :])  # (n, pairs, 2, C)
            top = l_at.max(-1)
            li = np.take_along_axis(l_at, np.broadcast_to(i[None, :, None, None], l_at.shape[:-1] + (1,)), -1)[..., 0]
            keep = (np.isfinite(roots) & (roots > lo) & (roots < hi) & (slope > 0) & np.isfinite(slope)
                    & (li >= top - KINK_GAP))
            at = np.stack([np.where(keep, roots, 0.0), np.broadcast_to(u1[:, None, None], roots.shape)], -1)
            keep &= level(at) >= -KINK_TAIL
        roots, slope = roots[keep], slope[keep]  # flat, with the line of each
        line = np.broadcast_to(np.arange(n)[:, None, None], keep.shape)[keep]
    else:
        roots = slope = line = np.zeros(0)
    extra = _graded(edges0, roots, slope)
    # every line's edges: the shared ones, then its crossings' (nan-padded to the most any line has)
    per_line = np.bincount(line.astype(int), minlength=n) if roots.size else np.zeros(n, int)
    width = int(per_line.max()) * extra.shape[1] if roots.size else 0
    grid = np.full((n, edges0.size + width), np.nan)
    grid[:, : edges0.size] = edges0
    if roots.size:
        order = np.argsort(line, kind="stable")
        rank = np.arange(order.size) - np.repeat(np.cumsum(per_line) - per_line, per_line)
        cols = edges0.size + rank[:, None] * extra.shape[1] + np.arange(extra.shape[1])
        grid[line[order][:, None], cols] = np.clip(extra[order], lo, hi)
    grid.sort(axis=1)  # nan last
    left, right = grid[:, :-1], grid[:, 1:]
    with np.errstate(invalid="ignore"):
        panel = right - left > 1e-12 * max(1.0, hi - lo)  # False at nan
    mid, half = 0.5 * (left + right)[panel], 0.5 * (right - left)[panel]
    line = np.broadcast_to(np.arange(n)[:, None], panel.shape)[panel]  # each panel's line
    t = (mid[:, None] + half[:, None] * _U).ravel()
    return (t, np.repeat(u1[line], NODES)), ((half * w1[line])[:, None] * _W).ravel()


def bends(exponents) -> bool:
    """Whether some exp(a log q + b log p) bends where p's components take over
    from one another: p^b does unless b is a whole number >= 0 (a sum of
    Gaussians' products)."""
    return any(b < 0 or b != int(b) for _, b in exponents)


def rule(p: Mixture2, mean, L, *exponents, kinks: bool = False) -> Rule:
    """One rule for states (mean (n, 2), L (n, 2, 2)) covering the mass of every
    exp(a log q + b log p) in `exponents` (pairs (a, b)), with panels where
    p's components take over from one another if it bends there (`bends`)
    or if `kinks`: the integrand holds log p itself (E_q[log p], and its
    score-weighted gradient)."""
    kinks = kinks or bends(exponents)
    mean = np.asarray(mean, float).reshape(-1, 2)
    L = np.asarray(L, float).reshape(-1, 2, 2)
    xs, ws, counts = [], [], []
    for i in range(mean.shape[0]):
        x, w = _state(p, mean[i], L[i], exponents, kinks)
        xs.append(x)
        ws.append(w)
        counts.append(w.size)
    counts = np.array(counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return Rule(np.concatenate(xs), np.concatenate(ws), counts, starts)
