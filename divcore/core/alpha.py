"""The alpha-divergence's integrands, written without cancellation for every a
(the limits a -> 0 and a -> 1 included), shared by every dimension.

With r = log p - log q, 1 - ∫ p^a q^(1-a) = -E_q[expm1(a r)] for a <= 1/2 and
-E_p[expm1(-(1-a) r)] above; where a r (or -(1-a) r) is large the product
is formed in logs instead. Gradients weight the score by
expm1(a r)/a q (a <= 1/2), which tends to the reverse-KL weight r q, or by
p^a q^(1-a) / a.
"""

from __future__ import annotations

import numpy as np


def expm1_over(a: float, t):
    """expm1(a t) / a, exactly t at a = 0."""
    return t if a == 0.0 else np.expm1(a * t) / a


def value_terms(logq, logp, a: float):
    """(term, scale): D_a = ∫ term / scale. Call under np.errstate(over, invalid) ignored."""
    r = logp - logq
    if a <= 0.5:
        term = np.where(a * r < 1.0, np.exp(logq) * -expm1_over(a, r),
                        (np.exp(logq) - np.exp(logq + a * r)) / (a if a != 0.0 else 1.0))
        return term, 1.0 - a
    b = 1.0 - a
    term = np.where(-b * r < 1.0, np.exp(logp) * -expm1_over(b, -r),
                    (np.exp(logp) - np.exp(logp - b * r)) / (b if b != 0.0 else 1.0))
    return term, a


def score_weights(logq, logp, a: float):
    """c with grad D_a = -∫ c grad log q. Call under np.errstate(over, invalid) ignored."""
    if a <= 0.5:
        r = logp - logq
        return np.where(a * r < 1.0, np.exp(logq) * expm1_over(a, r),
                        (np.exp(logq + a * r) - np.exp(logq)) / (a if a != 0.0 else 1.0))
    return np.exp(a * logp + (1.0 - a) * logq) / a
