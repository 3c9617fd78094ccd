"""Statistics for few-run RL comparisons: a thin, documented layer over :mod:`scipy.stats`.

Which interval for what (two-sided, 95% unless asked; docs/statistics.md has the figures):

* **A rate** (k successes, deaths or arrivals of n drives, launches or scenarios):
  :func:`proportion_ci`, Clopper-Pearson by default (``scipy.stats.binomtest``). It never
  collapses at the edges (200/200 gives [0.9818, 1], never [1, 1]) and its coverage is at
  least 95% at every n and p; Wilson (``method="wilson"``) is shorter but dips to 92.5% at
  n = 20, p = 0.05 (91% at its worst), where our tables live.
* **An agent's score over training seeds** (3 to 5 seeds, the usual case):
  :func:`mean_ci_over_seeds`, Student-t over the per-seed scores (``scipy.stats.t``). The seed
  is the unit of replication; drives inside a seed are not independent draws of the agent.
  A percentile bootstrap over 3 or 5 seeds covers about 75% and 84%, not 95%; the t interval
  covers 95% for normal seed scores and at least 93.5% for mildly skewed ones, but only 85%
  when most seeds score near 0 (measured: benchmarks/stats_coverage.py). Fewer than 10 seeds
  is flagged (:attr:`Interval.small_n`).
* **An aggregate over 10 or more seeds** with episodes inside each (mean or IQM):
  :func:`stratified_bootstrap_ci`, a two-stage bootstrap (seeds, then episodes within each
  seed), after Agarwal et al. (2021).
* **A beats B on the same scenarios** (paired 0/1 outcomes): :func:`paired_difference`,
  Newcombe's hybrid score interval for the paired difference and the exact McNemar test
  (``scipy.stats.binomtest`` on the discordant pairs), with the smallest difference the test
  would find at 80% power, so that a "no effect" sentence can say what it could have seen.
* **A beats B on different scenarios** (independent 0/1 outcomes: the train and the new
  split): :func:`independent_difference`, Newcombe's interval and Fisher's exact test.
* **A beats B over seeds** (independent runs): :func:`welch_difference`, Welch's t
  (``scipy.stats.ttest_ind``) with its detectable difference; numeric outcomes on the same
  scenarios (returns, times): :func:`paired_mean_difference`, the paired t-test.
* **A ladder of comparisons**: :func:`holm` adjusts their p-values (Holm 1979).
* **Several tasks or levels pooled**: :func:`iqm` (``scipy.stats.trim_mean``, as rliable),
  :func:`probability_of_improvement` and :func:`performance_profile` (with a band:
  :func:`performance_profile_ci`) (Agarwal et al. 2021).

rliable itself is not a dependency: it pulls arch, statsmodels, pandas, seaborn and absl-py for
what is a few lines over scipy.stats here, and its default interval is the percentile bootstrap
that under-covers at 3 to 5 seeds.

Reference: R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare (2021), "Deep
Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS.

Why one module of ~700 lines: every interval and test the reports use, with the reason each
is valid at its sample size, in one place a referee can read (docs/statistics.md); each
function is a thin call of scipy.stats.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

#: Fewer units than this and an interval is flagged as small-n in tables (docs/statistics.md).
SMALL_N = 10

_PROPORTION_METHODS = {"exact": "Clopper-Pearson", "clopper-pearson": "Clopper-Pearson",
                       "wilson": "Wilson"}


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval, the number of units behind it and the method.

    Unpacks like the old ``(estimate, low, high)`` tuples: ``est, lo, hi = interval``.

    :param estimate: the point estimate
    :param low: lower bound of the interval
    :param high: upper bound of the interval
    :param n: number of independent units the interval is computed over (seeds, drives,...)
    :param method: the interval's name, shown in tables ("Clopper-Pearson", "t", ...)
    :param unit: what ``n`` counts, shown in tables ("seeds", "drives", "scenarios")
    :param confidence: the nominal coverage
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str
    unit: str = "values"
    confidence: float = 0.95

    @property
    def small_n(self) -> bool:
        """Fewer than :data:`SMALL_N` units: the interval is wide and tables say so."""
        return self.n < SMALL_N

    @property
    def degenerate(self) -> bool:
        """No width (every unit equal under a t interval): tables print no interval then."""
        return not self.low < self.high

    def __iter__(self) -> Iterator[float]:
        return iter((self.estimate, self.low, self.high))

    def __str__(self) -> str:
        return format_interval(self)


@dataclass(frozen=True)
class Comparison:
    """A difference ``A - B`` with its interval, its test and what the test could detect.

    :param estimate: the estimated difference A - B
    :param low: lower bound of the difference's interval
    :param high: upper bound of the difference's interval
    :param n: pairs (paired tests) or the smaller group's size (independent groups)
    :param p_value: two-sided p-value of ``test`` (not adjusted for multiple comparisons:
        pass a ladder's p-values to :func:`holm`)
    :param test: the test's name, to be named in every sentence that uses it
    :param method: the interval's name
    :param detectable_difference: the smallest ``|A - B|`` the test finds with probability
        ``power`` at level ``alpha`` and this sample size (NaN when no difference reaches that
        power, e.g. fewer than 6 pairs for McNemar, or when the test is undefined)
    :param power: the power ``detectable_difference`` refers to
    :param alpha: the test's level
    :param unit: what ``n`` counts
    :param confidence: the interval's nominal coverage
    :param a_only: paired 0/1 data: pairs where only A succeeded (else ``None``)
    :param b_only: paired 0/1 data: pairs where only B succeeded (else ``None``)
    """

    estimate: float
    low: float
    high: float
    n: int
    p_value: float
    test: str
    method: str
    detectable_difference: float
    power: float = 0.8
    alpha: float = 0.05
    unit: str = "pairs"
    confidence: float = 0.95
    a_only: int | None = None
    b_only: int | None = None

    @property
    def interval(self) -> Interval:
        """The difference as an :class:`Interval` (for tables)."""
        return Interval(self.estimate, self.low, self.high, self.n, self.method, self.unit,
                        self.confidence)

    def claim(self, a: str = "A", b: str = "B", p_adjusted: float | None = None,
              higher_is_better: bool = True) -> str:
        """The sentence a report may print: it names the test, n and, for "no difference",
        the difference the test could have missed.

        :param a: name of A
        :param b: name of B
        :param p_adjusted: the Holm-adjusted p-value when this is one comparison of a ladder
        :param higher_is_better: ``False`` for deaths, times and other costs
        """
        p = self.p_value if p_adjusted is None else p_adjusted
        if not np.isfinite(p):
            return (f"{a} and {b} cannot be compared by the {self.test}: no spread in either "
                    f"(n = {self.n} {self.unit})")
        p_txt = f"p = {p:.3g}" + (" Holm-adjusted" if p_adjusted is not None else "")
        why = f"{self.test}, {p_txt}, n = {self.n} {self.unit}"
        if p <= self.alpha:
            winner, loser = (a, b) if (self.estimate > 0) == higher_is_better else (b, a)
            return f"{winner} beats {loser} by {abs(self.estimate):.3g} ({why})"
        mdd = self.detectable_difference
        miss = (f"; a difference below {mdd:.2g} would be missed more than "
                f"{1 - self.power:.0%} of the time" if np.isfinite(mdd) else
                f"; at this n the test finds no difference, however large, with "
                f"{self.power:.0%} power")
        return f"no difference detected between {a} and {b} ({why}{miss})"


# --- single rates and means ------------------------------------------------------------------
def proportion_ci(successes: int, n: int, method: str = "exact", confidence: float = 0.95,
                  unit: str = "episodes") -> Interval:
    """A rate ``successes / n`` and its binomial interval (``scipy.stats.binomtest``).

    :param successes: count of successes (or deaths, arrivals, ...), ``0 <= successes <= n``
    :param n: count of independent trials, ``n >= 1``
    :param method: ``"exact"`` (Clopper-Pearson, the default: coverage >= 95% at every n and
        p, never degenerate) or ``"wilson"`` (shorter; coverage dips below 95% near 0 and 1)
    :param confidence: nominal coverage
    :param unit: what ``n`` counts (shown in tables)
    """
    if method not in _PROPORTION_METHODS:
        raise ValueError(f"method={method!r}: accepted are {sorted(_PROPORTION_METHODS)}")
    k, n = operator.index(successes), operator.index(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"successes={k}, n={n}: need n >= 1 and 0 <= successes <= n")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence,
                                              method="exact" if method != "wilson" else "wilson")
    return Interval(k / n, float(ci.low), float(ci.high), n, _PROPORTION_METHODS[method],
                    unit, confidence)


def rate_ci(flags: ArrayLike, method: str = "exact", confidence: float = 0.95,
            unit: str = "episodes") -> Interval:
    """:func:`proportion_ci` of 0/1 (or bool) ``flags``, one per independent trial."""
    f = np.asarray(flags, dtype=np.float64).ravel()
    if not np.isin(f, (0.0, 1.0)).all():
        raise ValueError(f"flags must be 0/1 or bool; got values {np.unique(f)[:5]}")
    return proportion_ci(int(f.sum()), len(f), method, confidence, unit)


def _finite_1d(values: ArrayLike, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite numbers; got {x[~np.isfinite(x)][:3]}")
    return x


def mean_ci_over_seeds(values: ArrayLike, method: str = "t", confidence: float = 0.95,
                       unit: str = "seeds", n_boot: int = 9999, seed: int = 0) -> Interval:
    """The mean of per-seed scores (one value per training seed) and its interval.

    ``method="t"``: Student-t, ``mean +- t(n-1) * sd / sqrt(n)``. It needs ``n >= 2`` and is
    honest at 3 to 5 seeds: wide. ``method="bca"``: scipy's BCa bootstrap, for 10 or more
    seeds with skewed scores. Fewer than 10 seeds is flagged by :attr:`Interval.small_n`;
    seeds that all score the same give a :attr:`Interval.degenerate` interval that tables do
    not print as an interval.

    :param values: one score per seed (e.g. each seed's success rate over its drives)
    :param method: ``"t"`` or ``"bca"``
    :param confidence: nominal coverage
    :param unit: what ``n`` counts (shown in tables)
    :param n_boot: bootstrap resamples (``"bca"`` only)
    :param seed: bootstrap generator seed (``"bca"`` only)
    """
    x = _finite_1d(values)
    if len(x) < 2:
        raise ValueError(f"an interval over seeds needs at least 2 seeds; got {len(x)} "
                         "(report the single value without an interval)")
    names = {"t": "t", "bca": "BCa bootstrap"}
    if method not in names:
        raise ValueError(f"method={method!r}: accepted are 't' and 'bca'")
    m = float(x.mean())
    if np.ptp(x) == 0:  # equal seeds: no interval (the mean's rounding would fake one)
        return Interval(float(x[0]), float(x[0]), float(x[0]), len(x), names[method], unit,
                        confidence)
    if method == "t":
        sem = float(x.std(ddof=1)) / math.sqrt(len(x))
        half = _t_quantile((1 + confidence) / 2, len(x) - 1) * sem
        return Interval(m, m - half, m + half, len(x), "t", unit, confidence)
    lo, hi = _bootstrap((x,), _mean, confidence, n_boot, seed, fallback=m)
    return Interval(m, lo, hi, len(x), names[method], unit, confidence)


def mean_over_seeds(values: Iterable[float | None], confidence: float = 0.95) -> Interval:
    """The mean of per-seed scores with its Student-t interval (:func:`mean_ci_over_seeds`),
    for tables that take whatever seeds finished: missing (``None``/NaN) scores are left out,
    one seed gets its value with NaN bounds (no interval), none a NaN estimate."""
    x = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(x) < 2:
        est = float(x[0]) if len(x) else float("nan")
        return Interval(est, float("nan"), float("nan"), len(x), "t", "seeds", confidence)
    return mean_ci_over_seeds(x, confidence=confidence)


@functools.lru_cache(maxsize=256)
def _t_quantile(q: float, df: int) -> float:
    return float(stats.t.ppf(q, df))  # cached: scipy's call costs more than the interval


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _bootstrap(data: tuple, statistic: Callable, confidence: float, n_boot: int, seed: int,
               fallback: float, vectorized: bool = True,
               batch: int | None = None) -> tuple[float, float]:
    """scipy's BCa interval of 1-d samples; percentile where BCa is undefined (no spread in
    the jackknife); ``(fallback, fallback)`` when every resample is the same."""
    if all(np.ptp(d) == 0 for d in data) or min(len(d) for d in data) < 2:
        return fallback, fallback  # every resample equal: nothing to bootstrap
    rng = np.random.default_rng(seed)
    for method in ("BCa", "percentile"):
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            ci = stats.bootstrap(data, statistic, n_resamples=n_boot, confidence_level=confidence,
                                 method=method, vectorized=vectorized, batch=batch,
                                 random_state=rng).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            return float(ci.low), float(ci.high)
    return fallback, fallback


# --- aggregates (Agarwal et al. 2021) --------------------------------------------------------
def iqm(values: ArrayLike, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the values (``scipy.stats.trim_mean``
    cutting 25% at each end, as rliable defines it). NaN for no values.

    :param values: the scores
    :param axis: reduce along this axis (``None``: all values)
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    out = stats.trim_mean(x, 0.25, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


_STATISTICS: dict[str, Callable] = {"mean": lambda a: np.mean(a, axis=-1),
                                    "iqm": lambda a: stats.trim_mean(a, 0.25, axis=-1)}


def stratified_bootstrap_ci(scores_per_seed: Sequence, statistic: str = "mean",
                            confidence: float = 0.95, n_boot: int = 2000, seed: int = 0,
                            resample_episodes: bool = True, unit: str = "seeds") -> Interval:
    """The mean or IQM over seeds of each seed's mean episode score, with a two-stage
    bootstrap interval: resample seeds with replacement, then each drawn seed's episodes
    with replacement (as Agarwal et al. 2021 resample runs within each task).

    The seed is the unit: with fewer than 10 seeds a bootstrap cannot cover 95% (3 seeds have
    10 distinct resamples), so use :func:`mean_ci_over_seeds` there; the result is flagged
    :attr:`Interval.small_n`. Resampling episodes too adds their noise a second time, which
    makes the interval a little conservative (Davison and Hinkley 1997, section 3.8); pass
    ``resample_episodes=False`` to resample seeds only. scipy.stats.bootstrap resamples one
    level only, hence the two levels are drawn here.

    :param scores_per_seed: one array of episode scores per seed (lengths may differ)
    :param statistic: ``"mean"`` or ``"iqm"`` of the per-seed means
    :param confidence: nominal coverage (percentile interval)
    :param n_boot: bootstrap resamples
    :param seed: generator seed (the interval is deterministic given it)
    :param resample_episodes: also resample episodes within each drawn seed
    :param unit: what ``n`` counts (shown in tables)
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic={statistic!r}: accepted are {sorted(_STATISTICS)}")
    seeds = [_finite_1d(s, "scores_per_seed") for s in scores_per_seed]
    if len(seeds) < 2 or any(len(s) == 0 for s in seeds):
        raise ValueError(f"need at least 2 seeds with at least one episode each; got "
                         f"{[len(s) for s in seeds]} episodes per seed")
    stat = _STATISTICS[statistic]
    k = len(seeds)
    means = np.array([s.mean() for s in seeds])
    est = float(stat(means))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, k, size=(n_boot, k))
    boot = means[pick]
    if resample_episodes:
        for i, s in enumerate(seeds):
            hit = pick == i
            draws = rng.integers(0, len(s), size=(int(hit.sum()), len(s)))
            boot[hit] = s[draws].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(stat(boot), [alpha, 1 - alpha])
    name = "two-stage bootstrap" if resample_episodes else "bootstrap over seeds"
    return Interval(est, float(lo), float(hi), k, name, unit, confidence)


def _as_runs_by_tasks(scores: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(scores, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] < 1 or not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite scores shaped (runs,) or (runs, tasks); "
                         f"got shape {np.shape(scores)}")
    return x


def _improvement(x: np.ndarray, y: np.ndarray) -> Callable:
    """The statistic P(X > Y) + P(X = Y) / 2 per task, averaged over tasks, of resampled run
    indices (the Mann-Whitney U over nx * ny). scipy bootstraps 1-d data, so it resamples
    run indices and a run keeps its scores on all tasks together."""
    def statistic(ix: np.ndarray, iy: np.ndarray, axis: int = -1) -> np.ndarray:
        a = x[np.moveaxis(ix, axis, -1).astype(np.intp)]  # (..., nx, tasks)
        b = y[np.moveaxis(iy, axis, -1).astype(np.intp)]  # (..., ny, tasks)
        diff = a[..., :, None, :] - b[..., None, :, :]
        return ((diff > 0).mean(axis=(-3, -2)) + 0.5 * (diff == 0).mean(axis=(-3, -2))
                ).mean(axis=-1)
    return statistic


def probability_of_improvement(x_scores: ArrayLike, y_scores: ArrayLike, confidence: float = 0.95,
                               n_boot: int = 2000, seed: int = 0) -> Interval:
    """P(X > Y): the probability that a run of X beats a run of Y on a task, averaged over
    tasks (Agarwal et al. 2021), from the Mann-Whitney U statistic
    (``scipy.stats.mannwhitneyu``), with a bootstrap interval over runs
    (``scipy.stats.bootstrap``, BCa). A run keeps its scores on all tasks together.

    :param x_scores: X's scores shaped ``(runs,)`` or ``(runs, tasks)``
    :param y_scores: Y's scores on the same tasks, ``(runs,)`` or ``(runs, tasks)``
    :param confidence: nominal coverage
    :param n_boot: bootstrap resamples
    :param seed: generator seed
    """
    x, y = _as_runs_by_tasks(x_scores, "x_scores"), _as_runs_by_tasks(y_scores, "y_scores")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x_scores has {x.shape[1]} tasks, y_scores {y.shape[1]}")
    est = float(np.mean([stats.mannwhitneyu(x[:, t], y[:, t]).statistic / (len(x) * len(y))
                         for t in range(x.shape[1])]))
    per_resample = len(x) * len(y) * x.shape[1]  # the statistic compares every pair of runs
    lo, hi = _bootstrap((np.arange(len(x)), np.arange(len(y))), _improvement(x, y),
                        confidence, n_boot, seed, fallback=est,
                        batch=max(1, 4_000_000 // per_resample))
    return Interval(est, lo, hi, min(len(x), len(y)), "BCa bootstrap", "runs", confidence)


def performance_profile(scores: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """Run-score distribution (Agarwal et al. 2021): for each threshold tau, the fraction of
    runs whose score exceeds tau, averaged over tasks.

    :param scores: scores shaped ``(runs,)`` or ``(runs, tasks)``
    :param taus: thresholds
    """
    x = _as_runs_by_tasks(scores, "scores")
    t = np.asarray(taus, dtype=np.float64).ravel()
    return (x[None, :, :] > t[:, None, None]).mean(axis=1).mean(axis=1)


def performance_profile_ci(scores: ArrayLike, taus: ArrayLike, confidence: float = 0.95,
                           n_boot: int = 2000, seed: int = 0,
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`performance_profile` with a pointwise percentile-bootstrap band over runs
    (``scipy.stats.bootstrap``; a run keeps its scores on all tasks together), as Agarwal et
    al. (2021) draw it: ``(profile, low, high)``, one value per tau. Below 10 runs the band
    is too narrow (see docs/statistics.md); say so beside the plot.

    :param scores: scores shaped ``(runs,)`` or ``(runs, tasks)``
    :param taus: thresholds
    :param confidence: nominal pointwise coverage
    :param n_boot: bootstrap resamples
    :param seed: generator seed
    """
    x = _as_runs_by_tasks(scores, "scores")
    t = np.asarray(taus, dtype=np.float64).ravel()
    profile = performance_profile(x, t)
    if len(x) < 2:
        return profile, profile.copy(), profile.copy()

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        runs = x[np.moveaxis(idx, axis, -1).astype(np.intp)]  # (..., runs, tasks)
        above = runs[..., None, :, :] > t[:, None, None]  # (..., taus, runs, tasks)
        return np.moveaxis(above.mean(axis=(-2, -1)), -1, 0)  # (taus, ...)

    ci = stats.bootstrap((np.arange(len(x)),), statistic, n_resamples=n_boot,
                         confidence_level=confidence, method="percentile",
                         random_state=np.random.default_rng(seed)).confidence_interval
    return profile, np.asarray(ci.low, dtype=np.float64), np.asarray(ci.high, dtype=np.float64)


# --- comparisons ----------------------------------------------------------------------------
def mcnemar_power(n: int, discordance: float, difference: float, alpha: float = 0.05) -> float:
    """Power of the two-sided exact McNemar test with ``n`` pairs.

    Pairs are discordant with probability ``discordance`` (``P(A only) + P(B only)``) and
    ``difference = P(A only) - P(B only)`` (so ``|difference| <= discordance``); the test
    rejects where ``binomtest(k, D, 0.5)`` would, D being the discordant count.

    :param n: number of pairs
    :param discordance: probability that a pair is discordant
    :param difference: the true difference of the two success rates
    :param alpha: level of the test
    """
    if not 0 <= abs(difference) <= discordance <= 1:
        raise ValueError(f"need 0 <= |difference| <= discordance <= 1; got difference="
                         f"{difference}, discordance={discordance}")
    if discordance == 0:
        return 0.0
    d = np.arange(n + 1)
    c = _mcnemar_cutoffs(n, alpha)
    p_a = (discordance + difference) / (2 * discordance)  # P(A only | discordant)
    reject = stats.binom.cdf(c, d, p_a) + stats.binom.sf(d - c - 1, d, p_a)
    return float(np.sum(stats.binom.pmf(d, n, discordance) * np.where(c >= 0, reject, 0.0)))


@functools.lru_cache(maxsize=64)
def _mcnemar_cutoffs(n: int, alpha: float) -> np.ndarray:
    """For D = 0..n discordant pairs, the largest k with exact two-sided p-value
    ``2 * P(Binom(D, 1/2) <= k) <= alpha`` (-1: no k rejects); the test rejects at
    ``k <= c`` and at ``k >= D - c``, as ``binomtest(k, D, 0.5)`` does."""
    d = np.arange(n + 1)
    k = stats.binom.ppf(alpha / 2, d, 0.5)
    k = np.where(2 * stats.binom.cdf(k, d, 0.5) <= alpha * (1 + 1e-9), k, k - 1)
    return k.astype(np.int64)


def _smallest(power_of: Callable[[float], float], target: float, hi: float) -> float:
    """Smallest x in (0, hi] with power_of(x) >= target (bisection; NaN if none)."""
    if power_of(hi) < target:
        return float("nan")
    lo = 0.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if power_of(mid) >= target else (mid, hi)
    return hi


def paired_difference(a: ArrayLike, b: ArrayLike, confidence: float = 0.95, alpha: float = 0.05,
                      power: float = 0.8, unit: str = "scenarios") -> Comparison:
    """A - B for paired 0/1 outcomes (A and B on the same scenarios, drive by drive).

    * Interval: Newcombe's hybrid score ("square-and-add") interval for paired proportions
      (Newcombe 1998, method 10) built on scipy's Wilson intervals; it has width even when
      A and B agree on every scenario.
    * Test: the exact McNemar test, ``scipy.stats.binomtest`` on the discordant pairs.
    * Detectable difference: the smallest ``|A - B|`` the test finds with probability
      ``power`` at this n (:func:`mcnemar_power`), taking the observed discordance or, when
      that is smaller, the difference itself (the most favourable case: every discordant
      pair goes one way). A "no difference" claim is only as strong as this number.

    :param a: A's outcome per scenario (0/1 or bool)
    :param b: B's outcome on the same scenarios, in the same order
    :param confidence: the interval's nominal coverage
    :param alpha: the test's level
    :param power: the power at which the detectable difference is given
    :param unit: what a pair is (shown in claims)
    """
    x, y = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"a and b must be paired outcomes of the same scenarios; got lengths "
                         f"{len(x)} and {len(y)}")
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        raise ValueError("a and b must be 0/1 or bool outcomes")
    n = len(x)
    both, a_only = int(np.sum((x == 1) & (y == 1))), int(np.sum((x == 1) & (y == 0)))
    b_only, neither = int(np.sum((x == 0) & (y == 1))), int(np.sum((x == 0) & (y == 0)))
    p1, p2 = (both + a_only) / n, (both + b_only) / n
    _, l1, u1 = proportion_ci(both + a_only, n, "wilson", confidence)
    _, l2, u2 = proportion_ci(both + b_only, n, "wilson", confidence)
    # Newcombe's correlation estimate with its continuity correction (phi* of method 10).
    denom = math.sqrt((both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither))
    cross = both * neither - a_only * b_only
    phi = 0.0 if denom == 0 or 0 <= cross <= n / 2 else (
        (cross - n / 2 if cross > 0 else cross) / denom)
    est = p1 - p2
    low = est - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                              + (u2 - p2) ** 2))
    high = est + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                               + (p2 - l2) ** 2))
    disc = a_only + b_only
    p = float(stats.binomtest(a_only, disc, 0.5).pvalue) if disc else 1.0
    psi = disc / n
    mdd = _smallest(lambda d: mcnemar_power(n, max(psi, d), d, alpha), power, 1.0)
    return Comparison(est, max(-1.0, low), min(1.0, high), n, p, "exact McNemar test",
                      "Newcombe", mdd, power, alpha, unit, confidence, a_only, b_only)


def independent_difference(a: ArrayLike, b: ArrayLike, confidence: float = 0.95,
                           alpha: float = 0.05, power: float = 0.8,
                           unit: str = "scenarios") -> Comparison:
    """rate(A) - rate(B) for 0/1 outcomes of *different* scenarios (say, the train and new
    splits, whose seeds are disjoint): Newcombe's hybrid score interval for independent
    proportions (Newcombe 1998, method 10, on scipy's Wilson intervals) and Fisher's exact
    test (``scipy.stats.fisher_exact``). The detectable difference is approximate: Cohen's
    arcsine-scale effect from the pooled rate (NaN when no difference reaches the power).

    :param a: A's outcomes (0/1 or bool)
    :param b: B's outcomes, on scenarios of their own
    :param confidence: the interval's nominal coverage
    :param alpha: the test's level
    :param power: the power at which the detectable difference is given
    :param unit: what ``n`` counts (the smaller group's size)
    """
    x, y = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    if min(len(x), len(y)) == 0 or not (np.isin(x, (0.0, 1.0)).all()
                                        and np.isin(y, (0.0, 1.0)).all()):
        raise ValueError("a and b must be non-empty 0/1 or bool outcomes")
    ka, kb, na, nb = int(x.sum()), int(y.sum()), len(x), len(y)
    p1, l1, u1 = proportion_ci(ka, na, "wilson", confidence)
    p2, l2, u2 = proportion_ci(kb, nb, "wilson", confidence)
    est = p1 - p2
    low = est - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = est + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    p = float(stats.fisher_exact(np.array([[ka, na - ka], [kb, nb - kb]])).pvalue)
    # Detectable difference on the arcsine scale (Cohen's h), from the pooled rate towards
    # the middle: honest at the edges, where a normal approximation of rates claims too much.
    phi = math.asin(math.sqrt((ka + kb) / (na + nb)))
    h = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * math.sqrt(1 / na + 1 / nb)
    moves = [abs(math.sin(phi + d) ** 2 - math.sin(phi) ** 2) for d in (h, -h)
             if 0 <= phi + d <= math.pi / 2]
    mdd = float(min(moves)) if moves else float("nan")
    return Comparison(est, max(-1.0, low), min(1.0, high), min(na, nb), p,
                      "Fisher exact test", "Newcombe", mdd, power, alpha, unit, confidence)


def welch_difference(a: ArrayLike, b: ArrayLike, confidence: float = 0.95, alpha: float = 0.05,
                     power: float = 0.8, unit: str = "seeds") -> Comparison:
    """mean(A) - mean(B) over independent runs (one score per seed and agent), by Welch's t
    (``scipy.stats.ttest_ind(equal_var=False)``) and its interval. The detectable difference
    uses the observed standard deviations (noncentral t, ``scipy.stats.nct``); at 3 seeds
    per agent it is large, and a "no difference" sentence must say so.

    :param a: A's score per seed (at least 2)
    :param b: B's score per seed (at least 2)
    :param confidence: the interval's nominal coverage
    :param alpha: the test's level
    :param power: the power at which the detectable difference is given
    :param unit: what ``n`` counts
    """
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if min(len(x), len(y)) < 2:
        raise ValueError(f"Welch's t needs at least 2 runs per agent; got {len(x)} and {len(y)}")
    est = float(x.mean() - y.mean())
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    if se == 0:  # no spread at all: the test is undefined
        return Comparison(est, est, est, min(len(x), len(y)), float("nan"), "Welch t-test",
                          "Welch t", float("nan"), power, alpha, unit, confidence)
    res = stats.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(confidence)
    return Comparison(est, float(ci.low), float(ci.high), min(len(x), len(y)),
                      float(res.pvalue), "Welch t-test", "Welch t",
                      _t_detectable(se, float(res.df), alpha, power), power, alpha, unit,
                      confidence)


def paired_mean_difference(a: ArrayLike, b: ArrayLike, confidence: float = 0.95,
                           alpha: float = 0.05, power: float = 0.8,
                           unit: str = "scenarios") -> Comparison:
    """mean(A - B) for paired numeric outcomes (returns, times to goal, ... of A and B on the
    same scenarios) by the paired t-test (``scipy.stats.ttest_rel``) and its interval; the
    detectable difference uses the observed sd of the differences. The t-test assumes roughly
    normal differences, which the mean of 30 or more pairs satisfies for bounded scores.
    0/1 outcomes: use :func:`paired_difference` (exact McNemar).

    :param a: A's outcome per scenario
    :param b: B's outcome on the same scenarios, in the same order
    :param confidence: the interval's nominal coverage
    :param alpha: the test's level
    :param power: the power at which the detectable difference is given
    :param unit: what a pair is
    """
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"a and b must be paired outcomes of the same scenarios (at least 2); "
                         f"got lengths {len(x)} and {len(y)}")
    d = x - y
    est = float(d.mean())
    if np.ptp(d) == 0:  # identical differences: the test is undefined
        return Comparison(est, est, est, len(d), float("nan"), "paired t-test", "paired t",
                          float("nan"), power, alpha, unit, confidence)
    res = stats.ttest_rel(x, y)
    ci = res.confidence_interval(confidence)
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    return Comparison(est, float(ci.low), float(ci.high), len(d), float(res.pvalue),
                      "paired t-test", "paired t", _t_detectable(se, len(d) - 1.0, alpha, power),
                      power, alpha, unit, confidence)


def _t_detectable(se: float, df: float, alpha: float, power: float) -> float:
    """The difference a two-sided t-test with standard error ``se`` and ``df`` degrees of
    freedom finds with probability ``power`` (noncentral t, ``scipy.stats.nct``)."""
    crit = stats.t.ppf(1 - alpha / 2, df)

    def pw(delta: float) -> float:
        return float(stats.nct.sf(crit, df, delta / se) + stats.nct.cdf(-crit, df, delta / se))

    hi = se
    while pw(hi) < power:  # power rises with the difference: bracket, then solve
        hi *= 2
    return float(optimize.brentq(lambda delta: pw(delta) - power, 0.0, hi))


def holm(pvalues: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the input's order: the i-th smallest
    p-value times ``m - i + 1``, made monotone and capped at 1. Reject where the adjusted
    value is at most alpha; the family-wise error rate stays at most alpha.

    scipy has no Holm and statsmodels would add pandas and patsy for these lines; the test
    checks the example of Benjamini and Hochberg (1995).

    :param pvalues: the raw p-values of one family of comparisons (e.g. a ladder)
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p-values must lie in [0, 1]; got {p[~((p >= 0) & (p <= 1))][:3]}")
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


# --- display --------------------------------------------------------------------------------
def format_interval(iv: Interval, percent: bool = False, digits: int | None = None) -> str:
    """A table cell that states its method and n: ``"72% [64-80], n=5 seeds, t"``.

    Bounds are rounded outward (low down, high up), so a printed interval is never narrower
    than the computed one and never reads [100-100] unless it is degenerate, which is printed
    as ``"100% (no spread over 3 seeds)"``. Small n is marked: ``"n=3 seeds (<10), t"``.

    :param iv: the interval
    :param percent: print as percentages (for rates)
    :param digits: decimals (default: 0 for percentages, 3 otherwise)
    """
    scale, suffix = (100.0, "%") if percent else (1.0, "")
    d = (0 if percent else 3) if digits is None else digits
    q = 10.0 ** d
    n_txt = f"n={iv.n} {iv.unit}" + (f" (<{SMALL_N})" if iv.small_n else "")
    est = f"{iv.estimate * scale:.{d}f}{suffix}"
    if iv.degenerate:
        return f"{est} (no spread over {iv.n} {iv.unit}), {iv.method}"
    lo = math.floor(iv.low * scale * q + 1e-9) / q
    hi = math.ceil(iv.high * scale * q - 1e-9) / q
    sep = "-" if lo >= 0 else ", "  # "[-4-85]" would read as a range from -4 to -85
    return f"{est} [{lo:.{d}f}{sep}{hi:.{d}f}], {n_txt}, {iv.method}"


# --- not a statistic of uncertainty ----------------------------------------------------------
def rolling_rate(flags: ArrayLike, window: int, min_count: int = 10) -> np.ndarray:
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
