"""How noisy is each gradient estimator, and how does that fall with K?

For a target p and a fixed q = N(mean, std^2), `measure` draws R independent
estimates of the gradient (one batch of R members, each with its own K
samples) and compares them with the exact gradient: bias, variance, mean
squared error and the signal-to-noise ratio |E g| / sd(g), per coordinate of
theta = (mean, log std), each with its standard error. Estimates are
independent across repetitions, so the standard errors are the usual ones:

- bias: sd / sqrt(R);
- variance: sqrt((m4 - var^2) / R), m4 the fourth central moment;
- MSE = mean of (g - g*)^2: sd of the squared errors / sqrt(R);
- SNR = |mean| / sd: by the delta method, sqrt((1 + SNR^2 / 2) / R) for
  near-Gaussian estimates (reported as a guide, not a bound).

Seeds: repetition r of (estimator, K) draws from PCG64([seed, K, r_block])
streams, so each cell of the table is reproducible on its own; in `table`
each case's seed is offset by a hash of what it measures (divergence,
direction, alpha, estimator, baseline), so adding an estimator to the
registry leaves every other row's numbers as they were.
"""

from __future__ import annotations

import itertools
import zlib
from typing import NamedTuple

import numpy as np

from . import divergences, estimators
from .target import Mixture

_BLOCK = 4096  # repetitions per batch: (R, K) arrays stay small


class Cell(NamedTuple):
    """Statistics of one estimator at one K, each of shape (2,) over (mean, log std)."""

    mean: np.ndarray
    bias: np.ndarray
    bias_se: np.ndarray
    variance: np.ndarray
    variance_se: np.ndarray
    mse: np.ndarray
    mse_se: np.ndarray
    snr: np.ndarray
    snr_se: np.ndarray


def estimates(p: Mixture, mean: float, std: float, divergence: str, direction: str, estimator: str, K: int,
              repeats: int, seed: int = 0, alpha: float | None = None, baseline: str = "none") -> np.ndarray:
    """(repeats, 2) independent gradient estimates at q = N(mean, std^2)."""
    fn = estimators.bind(divergence, direction, estimator, alpha, baseline=baseline)
    needs_u = estimators.ESTIMATORS[estimator].needs_uniforms
    out = np.empty((repeats, 2))
    for i, start in enumerate(range(0, repeats, _BLOCK)):
        n = min(_BLOCK, repeats - start)
        rng = np.random.Generator(np.random.PCG64([seed, K, i]))
        eps = rng.standard_normal((n, K))
        noise = estimators.Noise(eps, rng.random((n, K)) if needs_u else None)
        m, s = np.full(n, float(mean)), np.full(n, float(std))
        with np.errstate(over="ignore", invalid="ignore"):
            out[start : start + n] = fn(p, m, s, noise).grad
    return out


def summarise(g: np.ndarray, exact: np.ndarray) -> Cell:
    """Bias, variance, MSE and SNR of estimates `g` (R, 2) against `exact` (2,)."""
    R = len(g)
    mu = g.mean(axis=0)
    dev = g - mu
    var = (dev**2).mean(axis=0) * R / (R - 1)
    sd = np.sqrt(var)
    m4 = (dev**4).mean(axis=0)
    sq = (g - exact) ** 2
    snr = np.abs(mu) / sd
    return Cell(
        mean=mu, bias=mu - exact, bias_se=sd / np.sqrt(R),
        variance=var, variance_se=np.sqrt(np.maximum(m4 - var**2, 0.0) / R),
        mse=sq.mean(axis=0), mse_se=sq.std(axis=0, ddof=1) / np.sqrt(R),
        snr=snr, snr_se=np.sqrt((1.0 + 0.5 * snr**2) / R),
    )


def measure(p: Mixture, mean: float, std: float, divergence: str, direction: str, estimator: str,
            ks, repeats: int, seed: int = 0, alpha: float | None = None, baseline: str = "none") -> list[Cell]:
    """One `Cell` per K in `ks`."""
    exact = divergences.get(divergence, direction, alpha).grad(p, mean, std)
    return [summarise(estimates(p, mean, std, divergence, direction, estimator, int(K), repeats, seed, alpha,
                                baseline), exact) for K in ks]


STATS = Cell._fields


def cases(runs) -> list[dict]:
    """Every Monte Carlo estimator for every (divergence, direction, alpha) the
    runs use, in the order the runs first use them; an estimator with options
    once per combination of their choices (REINFORCE once per baseline)."""
    out, seen = [], set()
    for run in runs:
        key = (run["divergence"], run["direction"], run.get("alpha"))
        if key in seen:
            continue
        seen.add(key)
        for name in estimators.for_pair(*key[:2]):
            est = estimators.ESTIMATORS[name]
            if not est.monte_carlo:
                continue
            for combo in itertools.product(*(o.choices.values() for o in est.options)):
                settings = {o.key: c.key for o, c in zip(est.options, combo)}
                out.append({"divergence": key[0], "direction": key[1], "alpha": key[2], "estimator": name,
                            "baseline": settings.get("baseline", estimators.BASELINE.default)})
    return out


def _min_samples(case: dict) -> int:
    """The least K a case's estimator and option choices work with."""
    est = estimators.ESTIMATORS[case["estimator"]]
    return max((o.choices[case[o.key]].min_samples for o in est.options), default=1)


def _case_seed(seed: int, case: dict) -> int:
    """The seed of one case: `seed` offset by a hash of the case's identity, not its position."""
    identity = "/".join(str(case[k]) for k in ("divergence", "direction", "alpha", "estimator", "baseline"))
    return (seed + zlib.crc32(identity.encode())) % 2**63


def cell(p: Mixture, mean: float, std: float, case: dict, K: int, repeats: int, seed: int = 0) -> Cell | None:
    """The statistics of one case at one K (None where the estimator cannot run
    with K samples: leave-one-out at K = 1). Each cell draws from its own
    streams, so cells can be measured in any order, anywhere."""
    if K < _min_samples(case):
        return None
    exact = exact_grad(p, mean, std, case)
    return summarise(estimates(p, mean, std, case["divergence"], case["direction"], case["estimator"], K, repeats,
                               _case_seed(seed, case), case["alpha"], case["baseline"]), exact)


def exact_grad(p: Mixture, mean: float, std: float, case: dict) -> np.ndarray:
    return divergences.get(case["divergence"], case["direction"], case["alpha"]).grad(p, mean, std)


def join(p: Mixture, mean: float, std: float, cases_: list[dict], ks, cells: list[Cell | None]) -> dict:
    """The table from its cells (case-major, then K): every statistic as an
    array (case, K, coordinate), plus the exact gradients (case, coordinate).
    A cell an estimator cannot fill is nan."""
    ks = [int(k) for k in ks]
    out = {name: np.full((len(cases_), len(ks), 2), np.nan) for name in STATS}
    out["exact"] = np.array([exact_grad(p, mean, std, case) for case in cases_]).reshape(len(cases_), 2)
    for (c, j), found in zip(itertools.product(range(len(cases_)), range(len(ks))), cells):
        if found is not None:
            for name, value in zip(STATS, found):
                out[name][c, j] = value
    out["samples"] = np.array(ks)
    return out


def table(p: Mixture, mean: float, std: float, cases_: list[dict], ks, repeats: int, seed: int = 0) -> dict:
    """Every cell of every case, measured here one after another (the build
    spreads them over its workers); see `join`."""
    cells = [cell(p, mean, std, case, int(K), repeats, seed) for case in cases_ for K in ks]
    return join(p, mean, std, cases_, ks, cells)
