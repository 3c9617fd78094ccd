"""Statistics and sample-efficiency metrics on known data and synthetic episode logs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moonshot.evaluation.efficiency import learning_curves, run_metrics
from moonshot.evaluation.stats import bootstrap_ci, bootstrap_diff_ci, iqm, rolling_rate
from moonshot.runlog import EpisodeLog, read_episodes, write_json


def test_iqm_on_known_data():
    assert iqm([1, 2, 3, 4]) == pytest.approx(2.5)  # middle half: 2 and 3
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # 3, 4, 5, 6
    # Outliers do not move it; the mean they do.
    assert iqm([0, 5, 5, 5, 5, 5, 5, 1000]) == pytest.approx(5.0)
    # n not divisible by 4: fractional weights (trimmed mean at 25%): [1..5] -> 3
    assert iqm([1, 2, 3, 4, 5]) == pytest.approx(3.0)
    assert np.isnan(iqm([]))


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=50), st.floats(-100, 100))
@settings(max_examples=50, deadline=None)
def test_iqm_is_a_robust_location_estimate(xs, shift):
    x = np.sort(np.array(xs))
    n = len(x)
    v = iqm(xs)
    # Between the order statistics bounding the middle half, shift-equivariant, order-free.
    lo, hi = x[int(np.floor(0.25 * n))], x[min(n - 1, int(np.ceil(0.75 * n)) - 1)]
    assert lo - 1e-9 <= v <= hi + 1e-9
    assert iqm(np.array(xs) + shift) == pytest.approx(v + shift, abs=1e-6)
    assert iqm(list(reversed(xs))) == pytest.approx(v)


def test_bootstrap_ci_covers_the_truth_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = rng.binomial(1, 0.3, 50)
    large = rng.binomial(1, 0.3, 5000)
    est, lo, hi = bootstrap_ci(small)
    assert lo <= est <= hi and lo < 0.3 < hi
    est2, lo2, hi2 = bootstrap_ci(large)
    assert lo2 < 0.3 < hi2
    assert (hi2 - lo2) < (hi - lo) / 5  # ~1/sqrt(100) as wide
    # Known binomial standard error: 95% interval ~ +-1.96*sqrt(p(1-p)/n)
    se = np.sqrt(0.3 * 0.7 / 5000)
    assert (hi2 - lo2) == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci([0.7]) == (0.7, 0.7, 0.7)


def test_bootstrap_diff_sees_a_real_gap_and_no_gap():
    a = np.array([1] * 90 + [0] * 10, float)
    b = np.array([1] * 40 + [0] * 60, float)
    g, lo, hi = bootstrap_diff_ci(a, b)
    assert g == pytest.approx(0.5) and lo > 0.3
    g0, lo0, hi0 = bootstrap_diff_ci(a, a)
    assert lo0 < 0 < hi0 or g0 == 0


def test_rolling_rate_is_nan_until_enough_and_then_windowed():
    r = rolling_rate([0, 0, 1, 1, 1, 1], window=4, min_count=3)
    assert np.isnan(r[:2]).all()
    np.testing.assert_allclose(r[2:], [1 / 3, 2 / 4, 3 / 4, 4 / 4])


def _synthetic_log(path, success, death, steps_per_episode=10, trial=None, map_id=None):
    with EpisodeLog(path / "episodes.csv") as log:
        for i, (s, d) in enumerate(zip(success, death, strict=True)):
            log.append(env_steps=(i + 1) * steps_per_episode, wall_time_s=0.5 * (i + 1),
                       length=steps_per_episode, success=s, death=d, split="train",
                       map_id=i if map_id is None else map_id[i],
                       trial=1 if trial is None else trial[i], **{"return": float(s)})
    return read_episodes(path)


def test_sample_efficiency_metrics_on_a_synthetic_log(tmp_path):
    # 200 failures (every 2nd a death), then 100 episodes at 60%, then 200 successes.
    rng = np.random.default_rng(1)
    mid = rng.permutation([1] * 60 + [0] * 40)
    success = [0] * 200 + list(mid) + [1] * 200
    death = [i % 2 == 0 for i in range(200)] + [not s for s in mid] + [0] * 200
    log = _synthetic_log(tmp_path, success, death)
    m = run_metrics(log, window=100)
    first = 200 + int(np.argmax(mid)) + 1
    assert m["episodes_to_first_success"] == first
    assert m["env_steps_to_first_success"] == first * 10
    assert m["deaths_before_first_success"] == 100 + int(np.sum(1 - mid[:first - 201]))
    assert 200 < m["episodes_to_success_50"] <= 300
    assert 300 < m["episodes_to_success_90"] <= 400
    assert m["deaths"] == 140
    assert m["final_success_rate"] == 1.0
    assert m["wall_s_to_success_90"] == pytest.approx(0.5 * m["episodes_to_success_90"])


def test_never_reaching_a_level_is_none_and_planner_trials_are_counted(tmp_path):
    log = _synthetic_log(tmp_path, [0] * 30, [1] * 30)
    m = run_metrics(log)
    assert m["episodes_to_first_success"] is None and m["deaths_before_first_success"] == 30
    d = tmp_path / "planner"
    # 3 scenarios: solved at trial 1, at trial 3, at trial 2.
    log2 = _synthetic_log(d, [1, 0, 0, 1, 0, 1], [0, 1, 1, 0, 1, 0],
                          trial=[1, 1, 2, 3, 1, 2], map_id=[5, 6, 6, 6, 7, 7])
    m2 = run_metrics(log2)
    assert m2["scenarios"] == 3 and m2["trials_per_scenario"] == pytest.approx(2.0)
    assert m2["scenario_success_rate"] == 1.0


def test_learning_curves_aggregate_seeds(tmp_path):
    runs = []
    for s in range(3):
        d = tmp_path / f"s{s}"
        rng = np.random.default_rng(s)
        p = np.linspace(0, 1, 400)
        _synthetic_log(d, list(rng.random(400) < p), [0] * 400)
        write_json(d / "config.json", {"train": {"algo": "ppo", "env": "moon", "seed": s,
                                                  "env_kwargs": {"target": "soi"}},
                                       "env_id": "moonshot/MoonLaunch-v0"})
        runs.append(d)
    curves = learning_curves(runs, window=50)
    (name, c), = curves.items()
    assert "ppo" in name and c["runs"] == 3
    ok = ~np.isnan(c["mean"])
    assert np.all(c["low"][ok] <= c["mean"][ok] + 1e-12)
    assert np.all(c["mean"][ok] <= c["high"][ok] + 1e-12)
    assert c["mean"][ok][-1] > 0.8 and c["x"][-1] == 400


def test_an_empty_log_has_no_levels_and_no_deaths(tmp_path):
    m = run_metrics(_synthetic_log(tmp_path, [], []))
    assert m["episodes"] == 0 and m["deaths_before_first_success"] == 0
    assert m["episodes_to_success_90"] is None
