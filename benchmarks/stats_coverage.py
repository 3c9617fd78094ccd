"""Coverage of moonshot's 95% intervals, measured: the table in docs/statistics.md.

Rates: the exact coverage of each binomial interval, summed over every outcome k of n drives
(no simulation noise), at the three rates of the CI test and at the worst rate of a fine grid.
Seeds: simulated seed scores with a known mean (normal and three beta shapes), the Student-t
interval of :func:`moonshot.evaluation.stats.mean_ci_over_seeds` against the percentile
bootstrap that the tables used before. Aggregates and paired comparisons: simulated drives.

    python benchmarks/stats_coverage.py            # about a minute
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from moonshot.evaluation.stats import (
    mean_ci_over_seeds,
    paired_difference,
    proportion_ci,
    stratified_bootstrap_ci,
)


@functools.lru_cache
def _bounds(method: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    ivs = [proportion_ci(k, n, method) for k in range(n + 1)]
    return np.array([iv.low for iv in ivs]), np.array([iv.high for iv in ivs])


def rate_coverage(method: str, n: int, p: float) -> float:
    lo, hi = _bounds(method, n)
    return float(stats.binom.pmf(np.arange(n + 1), n, p)[(lo <= p) & (p <= hi)].sum())


def rates() -> None:
    print("| n drives | method | p = 0.05 | p = 0.5 | p = 0.95 | worst p in [0.01, 0.99] |")
    print("|---|---|---|---|---|---|")
    grid = np.linspace(0.01, 0.99, 197)
    for n in (20, 50, 200):
        for method, name in (("exact", "Clopper-Pearson"), ("wilson", "Wilson")):
            cells = [f"{rate_coverage(method, n, p):.1%}" for p in (0.05, 0.5, 0.95)]
            worst = min(grid, key=lambda p, m=method, k=n: rate_coverage(m, k, p))
            cells.append(f"{rate_coverage(method, n, worst):.1%} (p = {worst:.3f})")
            print(f"| {n} | {name} | " + " | ".join(cells) + " |")


SEED_SCORES = {"normal(0.5, 0.15)": (lambda r, s: r.normal(0.5, 0.15, s), 0.5),
               "beta(3, 5)": (lambda r, s: r.beta(3, 5, s), 3 / 8),
               "beta(2, 5)": (lambda r, s: r.beta(2, 5, s), 2 / 7),
               "beta(0.5, 3), J-shaped": (lambda r, s: r.beta(0.5, 3, s), 0.5 / 3.5)}


def seeds(reps: int = 20000, boot_reps: int = 2000, n_boot: int = 1000) -> None:
    rng = np.random.default_rng(0)
    print("| seed scores | seeds | Student-t (ours) | percentile bootstrap (before) |")
    print("|---|---|---|---|")
    for name, (draw, truth) in SEED_SCORES.items():
        for n in (3, 5, 10):
            x = draw(rng, (reps, n))
            ivs = [mean_ci_over_seeds(row) for row in x]
            t_cov = np.mean([iv.low <= truth <= iv.high for iv in ivs])
            sub = x[:boot_reps]
            idx = rng.integers(0, n, (boot_reps, n_boot, n))
            boot = np.take_along_axis(np.repeat(sub[:, None, :], n_boot, 1), idx, 2).mean(2)
            lo, hi = np.quantile(boot, [0.025, 0.975], axis=1)
            b_cov = np.mean((lo <= truth) & (truth <= hi))
            print(f"| {name} | {n} | {t_cov:.1%} | {b_cov:.1%} |")


def aggregates(reps: int = 1000) -> None:
    rng = np.random.default_rng(1)
    print("| seeds (30 drives each) | two-stage bootstrap | bootstrap over seeds only |")
    print("|---|---|---|")
    for k in (5, 10, 20):
        hits = np.zeros(2)
        for r in range(reps):
            drives = [rng.random(30) < p for p in rng.beta(6, 4, k)]
            for j, eps in enumerate((True, False)):
                iv = stratified_bootstrap_ci(drives, n_boot=1000, seed=r, resample_episodes=eps)
                hits[j] += iv.low <= 0.6 <= iv.high
        print(f"| {k} | {hits[0] / reps:.1%} | {hits[1] / reps:.1%} |")


def paired(reps: int = 2000, n: int = 50) -> None:
    rng = np.random.default_rng(2)
    print(f"| paired drives (n = {n}) | P(A only), P(B only) | Newcombe covers | "
          "exact McNemar rejects |")
    print("|---|---|---|---|")
    for both, a_only, b_only in ((0.5, 0.1, 0.1), (0.8, 0.05, 0.0), (0.3, 0.2, 0.05),
                                 (0.9, 0.0, 0.0)):
        truth = a_only - b_only
        tables = rng.multinomial(n, [both, a_only, b_only, 1 - both - a_only - b_only], reps)
        cache: dict[tuple, tuple[bool, bool]] = {}
        for t in map(tuple, tables):
            if t not in cache:
                a = np.repeat([1, 1, 0, 0], t)
                b = np.repeat([1, 0, 1, 0], t)
                c = paired_difference(a, b)
                cache[t] = (c.low <= truth <= c.high, c.p_value <= 0.05)
        cover = np.mean([cache[tuple(t)][0] for t in tables])
        reject = np.mean([cache[tuple(t)][1] for t in tables])
        print(f"| both {both} | {a_only}, {b_only} | {cover:.1%} | {reject:.1%} |")


if __name__ == "__main__":
    for part in (rates, seeds, aggregates, paired):
        part()
        print()
