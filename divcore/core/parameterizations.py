"""The four coordinate systems phi in which q's parameters can be optimised.

| name          | phi                                  | constraint |
|---------------|--------------------------------------|------------|
| `mu-sigma`    | (mean, std)                          | std > 0    |
| `mu-logsigma` | (mean, log std)                      | none       |
| `mu-tau`      | (mean, tau = 1 / std^2)              | tau > 0    |
| `natural`     | (eta1 = mean/std^2, eta2 = -1/(2 std^2)) | eta2 < 0 |

Each provides both maps, the Jacobian J = d theta / d phi with
theta = (mean, log std) (so that grad_phi = J^T grad_theta), and q's Fisher
information inverse in phi, F_phi^{-1} = J^{-1} F_theta^{-1} J^{-T}.
All functions take and return arrays with a trailing axis of size 2 and any
leading (batch) axes.

In every parameterization phi[1] alone fixes std (d log std / d phi[0] = 0),
so the fixed-std family is "phi[1] does not move".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .registry import Registry


def _pair(a, b):
    return np.stack([np.asarray(a, float), np.asarray(b, float)], axis=-1)


@dataclass(frozen=True)
class Parameterization:
    key: str
    label: str  # for readers, e.g. "(μ, log σ)"
    axes_plain: tuple[str, str]  # the axis names, Unicode
    axes_tex: tuple[str, str]  # the axis names, mathtext
    # phi as monomials, for pages that map (mean, std) themselves:
    # phi0 = mean * std^a, phi1 = c * std^b, or log std where b is None
    monomials: tuple[float, float, float | None]
    to_phi: Callable  # (mean, std) -> phi
    from_phi: Callable  # phi -> (mean, std)
    # phi -> (d mean/d phi0, d mean/d phi1, d log std/d phi1); d log std/d phi0 = 0 in all four
    jacobian_entries: Callable
    feasible: Callable  # phi -> bool: inside the constraint
    constraint: str
    is_theta: bool = False  # phi is theta itself, so the chain rule is the identity

    def jacobian(self, phi):
        """J = d(mean, log std)/d phi, shape (..., 2, 2)."""
        zero = np.zeros_like(phi[..., 0])
        a, b, c = np.broadcast_arrays(*self.jacobian_entries(phi), zero)[:3]
        return np.stack([np.stack([a, b], -1), np.stack([zero, c], -1)], -2)

    def grad_phi(self, phi, grad_theta):
        """Chain rule: grad_phi = J^T grad_theta (grad_theta itself where phi is
        theta: not to be written in place)."""
        if self.is_theta:
            return grad_theta
        a, b, c = self.jacobian_entries(phi)
        g0, g1 = grad_theta[..., 0], grad_theta[..., 1]
        shape = np.shape(grad_theta)
        if np.shape(phi) != shape:
            shape = np.broadcast_shapes(np.shape(phi), shape)
        out = np.empty(shape)
        out[..., 0] = a * g0
        out[..., 1] = b * g0 + c * g1
        return out

    def fisher(self, phi):
        """q's Fisher information in phi: F_phi = J^T F_theta J, F_theta = diag(1/std^2, 2)."""
        a, b, c = self.jacobian_entries(phi)
        _, std = self.from_phi(phi)
        prec = 1.0 / std**2
        f00, f01, f11 = np.broadcast_arrays(a * a * prec, a * b * prec, b * b * prec + 2.0 * c * c)
        return np.stack([np.stack([f00, f01], -1), np.stack([f01, f11], -1)], -2)

    def natural_direction(self, phi, g, mean_only: bool = False):
        """F_phi^{-1} g, as J^{-1} F_theta^{-1} J^{-T} g with J upper triangular:
        two back-substitutions and a diagonal scaling. Forming F_phi and solving
        would cancel terms of size mean^2 std^4 in the natural parameterization."""
        a, b, c = self.jacobian_entries(phi)
        _, std = self.from_phi(phi)
        g0, g1 = g[..., 0], g[..., 1]
        u0 = g0 / a  # J^T u = g
        if mean_only:  # only phi[0] moves: F_phi restricted to it is a^2 / std^2
            return np.stack(np.broadcast_arrays(std**2 * u0 / a, np.zeros_like(g0)), axis=-1)
        u1 = (g1 - b * u0) / c
        v0, v1 = std**2 * u0, 0.5 * u1  # F_theta^{-1} = diag(std^2, 1/2)
        d1 = v1 / c  # J d = v
        d0 = (v0 - b * d1) / a
        return np.stack(np.broadcast_arrays(d0, d1), axis=-1)

    def fisher_inverse(self, phi):
        """F_phi^{-1} = J^{-1} F_theta^{-1} J^{-T}."""
        return np.linalg.inv(self.fisher(phi))


def _mu_sigma():
    return Parameterization(
        "mu-sigma", "(μ, σ)", ("μ", "σ"), (r"$\mu$", r"$\sigma$"), (0.0, 1.0, 1.0),
        to_phi=lambda m, s: _pair(m, s),
        from_phi=lambda p: (p[..., 0], p[..., 1]),
        jacobian_entries=lambda p: (1.0, 0.0, 1.0 / p[..., 1]),
        feasible=lambda p: p[..., 1] > 0,
        constraint="std > 0",
    )


def _mu_logsigma():
    return Parameterization(
        "mu-logsigma", "(μ, log σ)", ("μ", "log σ"), (r"$\mu$", r"$\log\,\sigma$"), (0.0, 1.0, None),
        to_phi=lambda m, s: _pair(m, np.log(s)),
        from_phi=lambda p: (p[..., 0], np.exp(p[..., 1])),
        jacobian_entries=lambda p: (1.0, 0.0, 1.0),
        feasible=lambda p: np.isfinite(p[..., 1]),
        constraint="none (log std is any real)",
        is_theta=True,
    )


def _mu_tau():
    return Parameterization(
        "mu-tau", "(μ, precision τ = 1/σ²)", ("μ", "τ = 1/σ²"), (r"$\mu$", r"$\tau = 1/\sigma^2$"), (0.0, 1.0, -2.0),
        to_phi=lambda m, s: _pair(m, 1.0 / np.square(s)),
        from_phi=lambda p: (p[..., 0], 1.0 / np.sqrt(p[..., 1])),
        # log std = -log(tau) / 2
        jacobian_entries=lambda p: (1.0, 0.0, -0.5 / p[..., 1]),
        feasible=lambda p: p[..., 1] > 0,
        constraint="tau > 0",
    )


def _natural_from(p):
    var = -0.5 / p[..., 1]
    return p[..., 0] * var, np.sqrt(var)


def _natural_entries(p):
    # mean = -eta1 / (2 eta2) = eta1 var,  log std = -log(-2 eta2) / 2
    var = -0.5 / p[..., 1]
    return var, 2.0 * p[..., 0] * var * var, var


def _natural():
    return Parameterization(
        "natural", "natural parameters (η₁, η₂)", ("η₁ = μ/σ²", "η₂ = −1/(2σ²)"),
        (r"$\eta_1 = \mu/\sigma^2$", r"$\eta_2 = -1/(2\sigma^2)$"), (-2.0, -0.5, -2.0),
        to_phi=lambda m, s: _pair(m / np.square(s), -0.5 / np.square(s)),
        from_phi=_natural_from,
        jacobian_entries=_natural_entries,
        feasible=lambda p: p[..., 1] < 0,
        constraint="eta2 < 0",
    )


PARAMETERIZATIONS = Registry("parameterization", (_natural(), _mu_sigma(), _mu_logsigma(), _mu_tau()),
                             default="mu-logsigma")


def get(name: str) -> Parameterization:
    return PARAMETERIZATIONS[name]
