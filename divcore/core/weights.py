"""Self-normalised importance weights, shared by the estimators of every dimension."""

from __future__ import annotations

import numpy as np


def normalised(logw):
    """w_i / sum_j w_j along the samples axis (1) from log weights (B, K)."""
    # the floor keeps exp out of its slow subnormal range; a relative weight of
    # e^-60 instead of something smaller is zero for every purpose here
    w = np.exp(np.maximum(logw - logw.max(axis=1, keepdims=True), -60.0))
    return w / w.sum(axis=1, keepdims=True)


def ess(logw):
    """The effective sample size 1 / sum(wbar^2) of each row."""
    w = normalised(logw)
    return 1.0 / np.einsum("bk,bk->b", w, w)
