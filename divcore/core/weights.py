"""Self-normalised importance weights, shared by the estimators of every dimension."""

from __future__ import annotations

import numpy as np

from .target import EXP_FLOOR


def normalised(logw):
    """w_i / sum_j w_j along the samples axis (1) from log weights (B, K)."""
    # the floor keeps exp out of its slow subnormal range; a relative weight of
    # e^-60 instead of something smaller is zero for every purpose here
    # the ufuncs' reduce, not the methods: the same sums without a Python wrapper
    w = np.exp(np.maximum(logw - np.maximum.reduce(logw, axis=1, keepdims=True), EXP_FLOOR))
    w /= np.add.reduce(w, axis=1, keepdims=True)
    return w


def ess(logw):
    """The effective sample size 1 / sum(wbar^2) of each row."""
    w = normalised(logw)
    return 1.0 / np.einsum("bk,bk->b", w, w)
