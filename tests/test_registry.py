"""Worlds and agents as plug-ins: a third world and a user's agent through the command line,
without any change to moonshot itself."""

import json

import imageio.v2 as imageio
import line_world
import pytest

from moonshot.agents import load_agent, resolve_agent
from moonshot.cli import main
from moonshot.errors import ConfigError
from moonshot.runlog import read_episodes
from moonshot.worlds import World, display_env, get_world, register_world, worlds


@pytest.fixture
def line():
    world = line_world.register()
    yield world
    line_world.unregister()


def test_a_third_world_runs_through_every_command(line, tmp_path, capsys):
    plan, ppo = tmp_path / "plan", tmp_path / "ppo"
    assert main(["plan", "line", "--episodes", "3", "--out", str(plan), "--seed", "1"]) == 0
    log = read_episodes(plan)
    assert log["success"].all() and set(log["agent"]) == {"planner"}
    assert main(["train", "line", "--timesteps", "128", "--out", str(ppo), "--eval-episodes",
                 "2", "--no-progress"]) == 0
    assert len(read_episodes(ppo)["episode"]) >= 4
    ev = tmp_path / "ev"
    assert main(["evaluate", str(ppo), str(plan), "planner:line", "--episodes", "2", "--out",
                 str(ev)]) == 0
    data = json.loads((ev / "transfer.json").read_text())
    assert {r["env"] for r in data["results"]} == {line_world.ENV_ID}
    planner_rows = [r for r in data["results"] if r["agent"] == "planner"]
    assert all(r["success_rate"] == 1.0 for r in planner_rows)
    assert main(["compare", str(ppo), str(plan), "--out", str(tmp_path / "cmp")]) == 0
    rows = json.loads((tmp_path / "cmp" / "efficiency.json").read_text())["runs"]
    assert {r["env"] for r in rows} == {"Line"}
    gif = tmp_path / "line.gif"
    assert main(["render", "line", "--agent", "planner", "--out", str(gif)]) == 0
    assert len(imageio.mimread(gif)) > 3


def test_a_user_agent_class_is_evaluated_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", "user_agents:StraightShot", "--episodes", "2", "--split", "train",
                 "--out", str(out)]) == 0
    res = json.loads((out / "transfer.json").read_text())["results"]
    assert [r["agent"] for r in res] == ["straight-shot"] and res[0]["scenarios"] == 2
    # an agent that does not say its world needs --env, and then runs
    assert main(["evaluate", "user_agents:NoWorld", "--episodes", "1", "--out", str(out)]) == 2
    assert "--env" in capsys.readouterr().err
    assert main(["evaluate", "user_agents:NoWorld", "--env", "moon", "--episodes", "1",
                 "--split", "train", "--out", str(out)]) == 0
    for bad, needle in (("user_agents:NotAnAgent", "not a moonshot Agent"),
                        ("no_such_module:Agent", "cannot import"),
                        ("user_agents:Missing", "has no")):
        assert main(["evaluate", bad, "--env", "moon", "--out", str(out)]) == 2
        assert needle in capsys.readouterr().err


@pytest.mark.parametrize("command", [["plan", "mars"], ["train", "mars"],
                                     ["render", "mars"]])
def test_unknown_world_names_the_known_ones(command, tmp_path, capsys):
    assert main([*command, "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert "mars" in err and "moon" in err and "city" in err and "Traceback" not in err


def test_registry_lookups_and_errors():
    assert get_world("moon") is get_world("moonshot/MoonLaunch-v0")
    assert [w.name for w in worlds()][:2] == ["moon", "city"]
    assert display_env("moonshot/CityNav-v1") == "CityNav"
    assert display_env("moonshot/CityNav-v0") == "CityNav-v0"
    assert display_env("someone/Else-v3") == "someone/Else-v3"
    with pytest.raises(ConfigError, match="registered already"):
        register_world(World(name="moon", title="x", env_id="x/Y-v0"))
    with pytest.raises(ConfigError, match="belong to world 'moon'"):
        register_world(World(name="moon2", title="x", env_id="moonshot/MoonLaunch-v0"))
    with pytest.raises(ConfigError, match="replay_option"):
        World(name="z", title="z", env_id="z/Z-v0", trials_per_scenario=3)
    with pytest.raises(ConfigError, match="no default hyperparameters for 'dqn'"):
        get_world("moon").default_hyperparams("dqn")


def test_agent_specs_resolve_to_the_right_world():
    spec = resolve_agent("planner:moon")
    assert spec.env_id == "moonshot/MoonLaunch-v1" and spec.kind == "planner"
    assert type(load_agent("planner", env="city")).__name__ == "CityPlanner"
    with pytest.raises(ConfigError, match="needs a world"):
        resolve_agent("planner")
    with pytest.raises(ConfigError, match="not in the city world"):
        resolve_agent("user_agents:StraightShot", env="city")
    with pytest.raises(FileNotFoundError, match="module:Class"):
        resolve_agent("no/such/folder")


class _Cautious(line_world.LinePlanner):
    """A second agent of the line world: steps of at most ``step``."""

    name = "cautious"

    def __init__(self, step: float = 0.1):
        self.step = step


def test_a_world_names_its_own_agents_and_every_other_form_still_resolves(line, tmp_path):
    import dataclasses

    register_world(dataclasses.replace(line, agents={"cautious": _Cautious}), replace=True)
    agent = load_agent("cautious:line:step=0.05")
    assert isinstance(agent, _Cautious) and agent.step == 0.05
    assert resolve_agent("cautious:line").env_id == line_world.ENV_ID
    assert resolve_agent("planner:line").kind == "planner"
    with pytest.raises(ConfigError, match="bad cautious option"):
        load_agent("cautious:line:speed=2")
    # a module:Class spec is not mistaken for an agent of a world
    assert resolve_agent("user_agents:StraightShot").kind == "class"
    assert main(["evaluate", "cautious:line", "--episodes", "2", "--split", "train", "--out",
                 str(tmp_path / "ev")]) == 0
    with pytest.raises(ConfigError, match="planner"):
        dataclasses.replace(line, agents={"planner": _Cautious})
    # a world's model learner is one moonshot's trainer knows (not sent to SB3 by mistake)
    with pytest.raises(ConfigError, match="learner 'dreamer'"):
        dataclasses.replace(line, learners={"dreamer": _Cautious})
