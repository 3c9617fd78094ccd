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
    for needle in ("## MoonLaunch", "## CityNav", "Sample efficiency", "Transfer", "planner",
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
