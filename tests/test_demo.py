"""The demo end to end on a tiny budget (the real budget runs in `moonshot demo`)."""

import importlib.util
import re
from pathlib import Path

import pytest
from conftest import ROOT, run_as_user

from moonshot.cli import main

#: The demo's budget cut to seconds (every step still runs).
TINY = {"moon_ppo_timesteps": 512, "moon_seeds": 2, "moon_plan_scenarios": 3,
        "moon_eval_scenarios": 3, "city_ppo_timesteps": 256, "city_seeds": 1,
        "city_plan_episodes": 1, "city_eval_episodes": 1, "render": False}


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory) -> tuple[Path, str]:
    """A demo on the tiny budget, run once in a subprocess: its folder and its output."""
    folder = tmp_path_factory.mktemp("tiny") / "demo"
    code = ("from pathlib import Path\n"
            "from moonshot.evaluation.demo import DemoBudget, run_demo\n"
            f"run_demo(Path({str(folder)!r}), budget=DemoBudget(**{TINY!r}))\n")
    return folder, run_as_user(["-c", code], folder.parent, timeout=900)


def test_demo_tiny_budget_writes_the_report(tiny_demo):
    demo, output = tiny_demo
    text = (demo / "report.md").read_text()
    for needle in ("## What this run found", "trained live", "*to 50%*", "## MoonLaunch",
                   "## CityNav", "Sample efficiency", "Transfer", "planner",
                   "ppo", "learning_curves.png", "transfer.png"):
        assert needle in text
    for sub in ("compare-moon", "compare-city", "transfer-moon", "transfer-city", "."):
        assert (demo / sub / "report.md").exists()
        assert (demo / sub / "report.html").stat().st_size > 1000
    page = (demo / "report.html").read_text()
    assert "moonshot demo --out" in page and 'src="compare-moon/learning_curves.png"' in page
    assert (demo / "compare-moon" / "learning_curves.png").stat().st_size > 1000
    assert (demo / "runs" / "moon-ppo-s1" / "episodes.csv").exists()
    # Output to a file or a CI log (not a terminal): progress as plain lines, never
    # carriage-return frames (a demo log was once 113 KB of them).
    assert "\r" not in output
    assert "ppo moon: 100% (2,048/2,048 steps)" in output  # one update of 8 x 256 launches
    assert "[1/7]" in output and "[7/7]" in output


def _figures(demo: Path, doc: Path, *flags: str, returncode: int = 0) -> str:
    return run_as_user([str(ROOT / "benchmarks" / "readme_figures.py"), str(demo), "--doc",
                        str(doc), *flags], doc.parent, returncode=returncode)


def _shape(block: str) -> list[str]:
    """A demo block without its figures: the prose and each row's world and kind of agent."""
    head, _, table = block.partition("\n\n")
    rows = [line.split(" | ")[:2] for line in table.splitlines() if line.startswith("| ")]
    return [re.sub(r"\d[\d,.]*", "N", " ".join(head.split()))] + [
        f"{world} {re.sub(r'[^A-Za-z ].*', '', agent).strip()}" for world, agent in rows]


def test_the_readme_demo_figures_are_rederived_from_a_demo_run(tiny_demo, tmp_path):
    """``benchmarks/readme_figures.py`` renders the README's demo block from a demo folder,
    accepts it as written and refuses a figure changed by hand (exit 1, with the diff)."""
    demo, _ = tiny_demo
    readme = (ROOT / "README.md").read_text()
    spec = importlib.util.spec_from_file_location(
        "readme_figures", ROOT / "benchmarks" / "readme_figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    stated = figures.stated_block(readme)
    assert stated is not None, "README.md has no demo block between the markers"
    # the README's block (the real demo's figures) has the shape this code renders
    assert _shape(stated) == _shape(figures.demo_block(demo))
    doc = tmp_path / "README.md"
    doc.write_text(readme)
    assert "(stated)" in _figures(demo, doc, returncode=1)  # the tiny run's figures differ
    _figures(demo, doc, "--write")
    assert "every demo figure matches" in _figures(demo, doc)
    assert doc.read_text().replace(figures.demo_block(demo), stated) == readme
    by_hand = doc.read_text().replace(", 1.00 launches", ", 1.50 launches", 1)
    assert by_hand != doc.read_text()
    doc.write_text(by_hand)
    diff = _figures(demo, doc, returncode=1)
    assert "-| MoonLaunch | planner" in diff and ", 1.50 launches" in diff
    assert "+| MoonLaunch | planner" in diff and ", 1.00 launches" in diff
    doc.write_text(readme.replace(figures.BEGIN, ""))
    assert "no demo block" in _figures(demo, doc, returncode=1)


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
