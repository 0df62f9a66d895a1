"""The variational family q: a Gaussian N(mean, std^2).

Gradients everywhere in divfit are taken with respect to theta = (mean, log std),
the coordinates in which q's Fisher information is diagonal, diag(1/std^2, 2)
(`Parameterization.fisher` carries it into the other coordinates).
A parameterization (see `parameterizations`) maps theta to the coordinates
the optimizer moves in.

`gaussian-fixed-std` frees only the mean; a family's `free` is the mask of
theta coordinates it lets move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registry import Registry
from .target import LOG_SQRT_2PI


@dataclass(frozen=True)
class Family:
    key: str
    label: str
    doc: str
    free: tuple[bool, bool]  # which of (mean, log std) move

    @property
    def fixed_std(self) -> bool:
        return not self.free[1]


FAMILIES = Registry("family", (
    Family("gaussian", "Gaussian", "q = N(mean, std^2), both free", (True, True)),
    Family("gaussian-fixed-std", "Gaussian with fixed std", "q = N(mean, std^2) with std held at its start",
           (True, False)),
), default="gaussian")

# Outside these bounds q is numerically degenerate; a trajectory that gets there
# has left the family (see runner status codes).
MAX_ABS_MEAN = 1e6
MIN_STD = 1e-6
MAX_STD = 1e6


def free_mask(family: str) -> np.ndarray:
    return np.array(FAMILIES[family].free)


def in_family(mean, std):
    """True where (mean, std) is a usable member of the family."""
    std = np.asarray(std)
    # the bounds are finite, so the comparisons are False at nan and +-inf
    # already (and comparing nan raises no floating-point warning)
    return (np.abs(mean) <= MAX_ABS_MEAN) & (std >= MIN_STD) & (std <= MAX_STD)


def logpdf(x, mean, std):
    """log N(x; mean, std^2), in place after the first quotient (the divergences
    call it on a million quadrature nodes at a time)."""
    z = (x - mean) / std
    z *= z
    z *= -0.5
    z -= np.log(std)
    z -= LOG_SQRT_2PI
    return z
