"""The variational family q: a Gaussian N(mean, std^2).

Gradients everywhere in divfit are taken with respect to theta = (mean, log std),
the coordinates in which q's Fisher information is diagonal, diag(1/std^2, 2)
(`Parameterization.fisher` carries it into the other coordinates).
A parameterization (see `parameterizations`) maps theta to the coordinates
the optimizer moves in.

`gaussian-fixed-std` frees only the mean; `FREE[family]` is the mask of
theta coordinates a family lets move.
"""

from __future__ import annotations

import numpy as np

from .target import LOG_SQRT_2PI

FAMILIES = ("gaussian", "gaussian-fixed-std")
FREE = {
    "gaussian": np.array([True, True]),
    "gaussian-fixed-std": np.array([True, False]),
}

# Outside these bounds q is numerically degenerate; a trajectory that gets there
# has left the family (see runner status codes).
MAX_ABS_MEAN = 1e6
MIN_STD = 1e-6
MAX_STD = 1e6


def free_mask(family: str) -> np.ndarray:
    try:
        return FREE[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; allowed: {', '.join(FAMILIES)}") from None


def in_family(mean, std):
    """True where (mean, std) is a usable member of the family."""
    mean = np.asarray(mean)
    std = np.asarray(std)
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(mean)
            & np.isfinite(std)
            & (np.abs(mean) <= MAX_ABS_MEAN)
            & (std >= MIN_STD)
            & (std <= MAX_STD)
        )


def logpdf(x, mean, std):
    z = (x - mean) / std
    return -0.5 * z * z - np.log(std) - LOG_SQRT_2PI
