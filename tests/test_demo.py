"""The demo end to end on a tiny budget (the real budget runs in `moonshot demo`)."""

import pytest

from moonshot.cli import main
from moonshot.evaluation.demo import DemoBudget, run_demo


def test_demo_tiny_budget_writes_the_report(tmp_path, capfd):
    budget = DemoBudget(moon_ppo_timesteps=512, moon_seeds=2, moon_plan_scenarios=3,
                        moon_eval_scenarios=3, city_ppo_timesteps=256, city_seeds=1,
                        city_plan_episodes=1, city_eval_episodes=1, render=False)
    report = run_demo(tmp_path / "demo", budget=budget)
    text = report.read_text()
    for needle in ("## What this run found", "trained live", "*to 50%*", "## MoonLaunch",
                   "## CityNav", "Sample efficiency", "Transfer", "planner",
                   "ppo", "learning_curves.png", "transfer.png"):
        assert needle in text
    for sub in ("compare-moon", "compare-city", "transfer-moon", "transfer-city", "."):
        assert (tmp_path / "demo" / sub / "report.md").exists()
        assert (tmp_path / "demo" / sub / "report.html").stat().st_size > 1000
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "moonshot demo --out" in page and 'src="compare-moon/learning_curves.png"' in page
    assert (tmp_path / "demo" / "compare-moon" / "learning_curves.png").stat().st_size > 1000
    assert (tmp_path / "demo" / "runs" / "moon-ppo-s1" / "episodes.csv").exists()
    # Output to a file or a CI log (not a terminal, as under pytest): progress as plain
    # lines, never carriage-return frames (a demo log was once 113 KB of them).
    out, err = capfd.readouterr()
    assert "\r" not in out + err
    assert "ppo moon: 100% (2,048/2,048 steps)" in err  # one update of 8 x 256 launches
    assert "[1/7]" in out and "[7/7]" in out


def test_demo_help(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--full" in capsys.readouterr().out


def test_the_report_opens_with_what_the_run_found(tmp_path):
    """A paragraph computed from the run's tables, live and pretrained agents named as such,
    glossaries under the tables."""
    from moonshot.evaluation.demo import findings

    cmp_moon = {"rows": [
        {"agent": "ppo", "episodes": 300_000, "episodes_to_success_50": 271_026, "deaths": 5},
        {"agent": "planner", "episodes": 12, "scenarios": 10, "scenario_success_rate": 1.0,
         "trials_per_scenario": 1.2, "model_rollouts_per_scenario": 640.0, "deaths": 0}]}
    ev = {"results": [
        {"agent": "PPO (pretrained, 1M launches)", "split": "train", "success_rate": 0.9,
         "first_trial_success_rate": 0.8, "trials_per_scenario": 1.5},
        {"agent": "PPO (pretrained, 1M launches)", "split": "new", "success_rate": 0.5,
         "first_trial_success_rate": 0.4, "trials_per_scenario": 2.5}]}
    text = findings(cmp_moon, {"rows": []}, ev, {"results": []})
    assert "PPO (one seed) first reached 50% success while learning after 271,026 launches" \
        in text
    assert "the planner solved 100% of its 10 scenarios with 1.2 real launches and 640 " \
        "imagined rollouts each" in text
    assert "PPO (pretrained, 1M launches): 90% on training scenarios, 50% on new ones (40% " \
        "at the first trial)" in text


def test_the_findings_tell_the_city_planner_from_ppo():
    """The city planner's runs are named ``city_planner``: its row is the planner's sentence,
    not a second PPO seed (the demo said "PPO (2 seeds) ... 1 of 2 runs got there")."""
    from moonshot.evaluation.demo import _learning

    rows = [{"agent": "ppo", "episodes": 25, "episodes_to_success_50": None, "deaths": 18},
            {"agent": "city_planner", "episodes": 16, "episodes_to_success_50": 10,
             "scenario_success_rate": 1.0, "scenarios": 16, "trials_per_scenario": 1.0,
             "model_rollouts_per_scenario": 3000.0, "deaths": 0}]
    ppo, planner = _learning(rows, "drives")
    assert ppo.startswith("PPO (one seed) did not reach 50%") and "dying 18 times" in ppo
    assert planner.startswith("the planner solved 100% of its 16 scenarios")
