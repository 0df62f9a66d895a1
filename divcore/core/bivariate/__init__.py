"""The numerical core in two dimensions: a mixture target on the plane, Gaussian
q with full or diagonal covariance, their divergences, exact gradients and
Monte Carlo estimators.

It mirrors the one-dimensional modules one level up (target, family,
parameterizations, divergences, estimators, optima) and shares their
registries of names: a divergence, direction or estimator means the same in
both dimensions. Gradients are taken w.r.t. theta, q's mean followed by the
logs of its Cholesky factor's diagonal (and, for the full family, its
off-diagonal entry), see `gaussian`.
"""
