"""Retries are an explicit evaluation setting (issue 27): a frozen agent that cannot learn from
a failure gets one trial per scenario, an agent that corrects from tracking data up to the
world's trials, ``--max-trials`` overrides both, and every table says which."""

import json

import pytest

from moonshot.agents import Agent
from moonshot.agents.episodes import scenario_set, trials_allowed
from moonshot.agents.loading import resolve_agent
from moonshot.cli import main
from moonshot.worlds import get_world

MOON, CITY = get_world("moon"), get_world("city")


@pytest.mark.parametrize("max_trials", [None, 2])
def test_a_frozen_policy_gets_one_trial_and_a_planner_the_worlds(tmp_path, max_trials):
    out = tmp_path / "ev"
    extra = [] if max_trials is None else ["--max-trials", str(max_trials)]
    assert main(["evaluate", "tests.user_agents:StraightShot", "planner:moon", "--split",
                 "train", "--episodes", "3", "--out", str(out), *extra]) == 0
    rows = {r["agent"].split(" ")[0]: r
            for r in json.loads((out / "transfer.json").read_text())["results"]}
    frozen, planner = rows["straight-shot"], rows["planner"]
    assert frozen["max_trials"] == (1 if max_trials is None else max_trials)
    assert planner["max_trials"] == (MOON.trials_per_scenario if max_trials is None
                                     else max_trials)
    # the straight shot never reaches the Moon, so it uses every trial it is allowed
    assert frozen["success_rate"] == 0 and frozen["trials_per_scenario"] == frozen["max_trials"]
    assert frozen["episodes"] == 3 * frozen["max_trials"]
    table = (out / "transfer.md").read_text()
    assert "trials allowed" in table.splitlines()[0]
    report = (out / "report.md").read_text()
    assert f"straight-shot {frozen['max_trials']}" in report


def test_the_rule_lives_in_one_place():
    assert MOON.replay_option is not None and MOON.trials_per_scenario > 1
    assert trials_allowed(MOON, None, learns_from_outcomes=False) == 1
    assert trials_allowed(MOON, None, learns_from_outcomes=True) == MOON.trials_per_scenario
    assert trials_allowed(MOON, 3, learns_from_outcomes=False) == 3
    # the legacy seed set keeps the rule its published figures were measured with
    assert trials_allowed(MOON, None, False, "legacy") == MOON.trials_per_scenario
    assert scenario_set(MOON, "train", 0, 4, learns_from_outcomes=False).max_trials == 1
    # a world that does not replay its scenarios has one trial whatever is asked
    assert trials_allowed(CITY, 5, learns_from_outcomes=True) == 1


def test_which_agents_learn_from_outcomes():
    assert Agent.learns_from_outcomes is False
    assert resolve_agent("planner:moon").agent.learns_from_outcomes
    assert resolve_agent("search:moon").agent.learns_from_outcomes
    assert resolve_agent("planner:city").agent.learns_from_outcomes
    assert not resolve_agent("tests.user_agents:StraightShot").agent.learns_from_outcomes
