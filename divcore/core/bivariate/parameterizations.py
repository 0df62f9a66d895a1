"""The coordinates phi the optimizer moves q in, on the plane.

| name               | phi                                                   | constraint |
|--------------------|-------------------------------------------------------|------------|
| `mean-logcholesky` | theta itself (see `gaussian`)                         | none       |
| `natural`          | (eta1 = Sigma^-1 mean, eta2 = -Sigma^-1 / 2): its lower entries, or its diagonal for the mean-field family | eta2 negative definite |

A parameterization is bound to a family (`PARAMETERIZATIONS_2D[key].bind(family)`),
which fixes theta. Each gives both maps, the chain rule grad_phi = J^T grad_theta
with J = d theta / d phi, and the natural-gradient direction F_phi^-1 g
computed as (d phi / d theta) F_theta^-1 (d phi / d theta)^T g, so that no Fisher matrix in phi
(whose natural-coordinate entries span many orders) is ever formed or inverted.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from ..registry import Registry
from .gaussian import FAMILIES_2D, Family2, cholesky


@dataclass(frozen=True)
class Param2:
    key: str
    label: str
    doc: str
    constraint: str
    family: Family2 | None = None  # set by bind

    def bind(self, family: str | Family2) -> "Param2":
        fam = family if isinstance(family, Family2) else FAMILIES_2D[family]
        return Param2(self.key, self.label, self.doc, self.constraint, fam)

    @property
    def natural(self) -> bool:
        return self.key == "natural"

    def to_phi(self, mean, L):
        theta = self.family.theta(mean, L)
        if not self.natural:
            return theta
        mean = np.asarray(mean, float)
        prec = np.linalg.inv(np.asarray(L, float) @ np.swapaxes(L, -1, -2))
        eta1 = np.einsum("...ij,...j->...i", prec, mean)
        return np.concatenate([eta1, -0.5 * self._lower(prec)], axis=-1)

    def from_phi(self, phi):
        """(mean, L) from phi."""
        phi = np.asarray(phi, float)
        if not self.natural:
            return self.family.unpack(phi)
        prec = self._matrix(-2.0 * phi[..., 2:])
        # the inverse written out: a precision that is not positive definite (a
        # step past the constraint) gives a nan factor, not an error for the batch
        det = prec[..., 0, 0] * prec[..., 1, 1] - prec[..., 0, 1] ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = np.stack([np.stack([prec[..., 1, 1], -prec[..., 0, 1]], -1),
                            np.stack([-prec[..., 1, 0], prec[..., 0, 0]], -1)], -2) / det[..., None, None]
            return np.einsum("...ij,...j->...i", cov, phi[..., :2]), cholesky(cov)

    def feasible(self, phi):
        phi = np.asarray(phi)
        if not self.natural:
            return np.isfinite(phi).all(-1)
        e = phi[..., 2:]
        with np.errstate(invalid="ignore"):
            if self.family.diagonal:
                return (e[..., 0] < 0) & (e[..., 1] < 0)
            return (e[..., 0] < 0) & (e[..., 0] * e[..., 2] - e[..., 1] ** 2 > 0)

    def dphi_dtheta(self, phi):
        """d phi / d theta (..., P, P), in closed form: with Lambda = Sigma^-1,
        d eta1 = d Lambda mean + Lambda d mean, d eta2 = -d Lambda / 2, and
        d Lambda = -Lambda dSigma Lambda."""
        P = self.family.size
        if not self.natural:
            return np.broadcast_to(np.eye(P), np.shape(phi)[:-1] + (P, P))
        mean, L = self.from_phi(phi)
        prec = -2.0 * self._matrix(phi[..., 2:])
        dL = self.family._dL(L)
        dS = dL @ np.swapaxes(L, -1, -2)[..., None, :, :]
        dS = dS + np.swapaxes(dS, -1, -2)
        dprec = -(prec[..., None, :, :] @ dS @ prec[..., None, :, :])  # (..., P-2, 2, 2)
        J = np.zeros(np.shape(phi)[:-1] + (P, P))
        J[..., :2, :2] = prec
        J[..., :2, 2:] = np.swapaxes(np.einsum("...kij,...j->...ki", dprec, mean), -1, -2)
        J[..., 2:, 2:] = np.swapaxes(-0.5 * self._lower(dprec), -1, -2)
        return J

    def grad_phi(self, phi, grad_theta):
        """grad_phi = J^T grad_theta, J = d theta / d phi = (d phi / d theta)^-1."""
        if not self.natural:
            return grad_theta
        A = np.swapaxes(self.dphi_dtheta(phi), -1, -2)
        return np.linalg.solve(A, grad_theta[..., None])[..., 0]

    def natural_direction(self, phi, g, mean_only: bool = False):
        """F_phi^-1 g = (d phi / d theta) F_theta^-1 (d phi / d theta)^T g. (`mean_only`
        is the line's fixed-std family; on the plane every coordinate moves.)"""
        Jp = self.dphi_dtheta(phi)
        _, L = self.from_phi(phi)
        g_theta = np.einsum("...ji,...j->...i", Jp, g)
        d_theta = np.linalg.solve(self.family.fisher(L), g_theta[..., None])[..., 0]
        return np.einsum("...ij,...j->...i", Jp, d_theta)

    def _lower(self, M):
        """The free entries of symmetric M (..., 2, 2): (11, 21, 22), or (11, 22) if diagonal."""
        idx = ((0, 0), (1, 1)) if self.family.diagonal else ((0, 0), (1, 0), (1, 1))
        return np.stack([M[..., i, j] for i, j in idx], axis=-1)

    def _matrix(self, v):
        """The symmetric matrix with free entries v (inverse of `_lower`)."""
        M = np.zeros(np.shape(v)[:-1] + (2, 2))
        M[..., 0, 0], M[..., 1, 1] = v[..., 0], v[..., -1]
        if not self.family.diagonal:
            M[..., 1, 0] = M[..., 0, 1] = v[..., 1]
        return M


PARAMETERIZATIONS_2D = Registry("parameterization", (
    Param2("mean-logcholesky", "(mean, log-Cholesky)", "theta itself: the mean and Sigma's Cholesky factor "
           "with its diagonal in logs", "none"),
    Param2("natural", "natural parameters (η₁, η₂)", "eta1 = Sigma^-1 mean, eta2 = -Sigma^-1 / 2",
           "eta2 negative definite"),
), default="mean-logcholesky")


def get(name: str, family: str) -> Param2:
    return PARAMETERIZATIONS_2D[name].bind(family)
