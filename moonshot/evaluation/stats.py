"""Statistics for few-run RL comparisons: bootstrap confidence intervals and the IQM.

Following Agarwal et al. (2021), "Deep Reinforcement Learning at the Edge of the Statistical
Precipice" (NeurIPS): report interval estimates, and prefer the interquartile mean (the mean of
the middle 50% of runs) to the mean or median when there are few runs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def iqm(values) -> float:
    """Interquartile mean: the mean of the values between the 25th and 75th percentiles,
    with fractional weights at the cut points (exactly the trimmed mean at 25%)."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = len(x)
    if n == 0:
        return float("nan")
    lo, hi = 0.25 * n, 0.75 * n
    # Weight of each order statistic i (covering [i, i+1)) inside [lo, hi].
    idx = np.arange(n)
    w = np.clip(np.minimum(idx + 1, hi) - np.maximum(idx, lo), 0.0, 1.0)
    return float(np.sum(w * x) / np.sum(w))


def bootstrap_ci(values, statistic: Callable[[np.ndarray], float] = np.mean,
                 confidence: float = 0.95, n_boot: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the statistic and its percentile-bootstrap interval."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    est = float(statistic(x))
    if len(x) == 1:
        return est, est, est
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    if statistic is np.mean:
        boots = x[idx].mean(axis=1)
    else:
        boots = np.array([statistic(x[i]) for i in idx])
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return est, float(lo), float(hi)


def bootstrap_diff_ci(a, b, confidence: float = 0.95, n_boot: int = 2000,
                      seed: int = 0) -> tuple[float, float, float]:
    """Difference of means ``mean(a) - mean(b)`` of two independent samples, with its
    percentile-bootstrap interval (each sample resampled on its own)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    est = float(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, len(a), size=(n_boot, len(a)))].mean(axis=1)
    db = b[rng.integers(0, len(b), size=(n_boot, len(b)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(da - db, [alpha, 1 - alpha])
    return est, float(lo), float(hi)


def rolling_rate(flags, window: int, min_count: int = 10) -> np.ndarray:
    """Rate of ``flags`` over the last ``window`` episodes at each episode; NaN until
    ``min(min_count, window, len)`` episodes exist (a partial window is used until then)."""
    f = np.asarray(flags, dtype=np.float64).ravel()
    n = len(f)
    if n == 0:
        return f
    c = np.concatenate([[0.0], np.cumsum(f)])
    i = np.arange(1, n + 1)
    start = np.maximum(0, i - window)
    rate = (c[i] - c[start]) / (i - start)
    rate[i < min(min_count, window, n)] = np.nan
    return rate
