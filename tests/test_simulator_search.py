"""The simulator-search baseline: CEM in a sealed copy of the env, counted like a planner."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import moonshot
from moonshot.agents.base import run_episode
from moonshot.agents.loading import resolve_agent
from moonshot.agents.simulator_search import SimulatorMPC, SimulatorSearch
from moonshot.envs.city_v1 import CityNavV1Env
from moonshot.envs.moon_launch import MoonLaunchEnv
from moonshot.envs.perception import Rehearsal
from moonshot.errors import ConfigError
from moonshot.evaluation.rollout import run_scenarios

REACHED_SOI = {"entered_soi", "flyby", "landed"}


def test_search_moon_evaluates_from_the_command_line(tmp_path):
    out = tmp_path / "eval"
    env = {**os.environ, "PYTHONPATH": str(Path(moonshot.__file__).parent.parent)}
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", "search:moon",
                          "--episodes", "20", "--split", "train", "--out", str(out)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    logs = list(out.glob("episodes/*/episodes.csv"))
    assert len(logs) == 1 and "simulator-search" in logs[0].parent.name
    rows = list(csv.DictReader(logs[0].open()))
    assert {int(r["model_rollouts"]) for r in rows} == {99}  # 3 iterations x 33 per launch
    first = [r for r in rows if r["trial"] == "1"]
    assert len(first) == 20
    assert sum(r["outcome"] in REACHED_SOI for r in first) >= 15


def test_a_rehearsal_is_a_sealed_copy_with_its_own_noise():
    env = MoonLaunchEnv(target="soi")
    env.reset(seed=4)
    before = env.np_random.bit_generator.state
    rehearsal = env.perceive("simulator")
    assert isinstance(rehearsal, Rehearsal)
    action = np.array([0.1, 0.0, 0.0], np.float32)
    infos = [rehearsal.rehearse(action)[1] for _ in range(2)]
    assert rehearsal.rehearsals == 2
    # the copy draws its own burn errors, and the real env's next draws stay untouched
    assert infos[0]["delta_v_kms"] != infos[1]["delta_v_kms"]
    assert env.np_random.bit_generator.state == before
    assert infos[0]["map_id"] == env.scenario.scenario_id[0]
    for name in ("scenario", "np_random", "env", "_step", "__dict__"):
        assert not hasattr(rehearsal, name)
    with pytest.raises(AttributeError):
        rehearsal.scenario = None


def test_search_counts_every_rehearsal_and_continues_on_a_retry():
    env = MoonLaunchEnv(target="landing", execution_error=30.0)
    agent = SimulatorSearch(population=10, iterations=2, elites=3)
    recs = run_scenarios(agent, env, n=6, seed=0, split="train", scenario_ids=range(6),
                         max_trials=3, progress=False)
    assert all(r.model_rollouts == 20 for r in recs)
    assert all(r.compute_s > 0 for r in recs)
    retried = [r.map_id for r in recs if r.trial == 2]
    assert retried  # with 30x the burn noise and 20 rehearsals, some launches miss
    key = ("train", retried[0])
    assert key in agent._search
    agent.forget()
    assert not agent._search


def test_search_takes_the_form_of_its_world_and_checks_its_options():
    spec = resolve_agent("search:moon:population=8,iterations=2")
    assert spec.agent.population == 8 and spec.agent.perception == "simulator"
    assert spec.label == "simulator-search" and spec.env_id == "moonshot/MoonLaunch-v1"
    assert isinstance(spec.agent, SimulatorSearch)
    city = resolve_agent("search:city:population=6,horizon=12,knots=3,replan=4")
    assert isinstance(city.agent, SimulatorMPC) and city.label == "simulator-search"
    assert city.env_id == "moonshot/CityNav-v1" and city.agent.perception == "simulator"
    with pytest.raises(ConfigError, match="replan"):
        resolve_agent("search:city:horizon=12,knots=3,replan=5")
    with pytest.raises(ConfigError, match="elites"):
        resolve_agent("search:moon:elites=50")
    with pytest.raises(ConfigError, match="popsize"):
        resolve_agent("search:moon:popsize=5")
    with pytest.raises(ConfigError, match="needs a world"):
        resolve_agent("search")


def test_evaluate_env_kwargs_reach_the_env_and_a_bad_one_writes_nothing(tmp_path, monkeypatch):
    """``moonshot evaluate --env-kwargs`` sets the task of agents that carry no env settings
    (``search:moon``, ``planner:moon``); a value the env refuses is an error before writing."""
    from moonshot.evaluation import experiments

    seen = []
    real = experiments.evaluate_agent

    def spy(spec, settings, out=None):
        seen.append(dict(spec.env_kwargs))
        return real(spec, settings, out=out)

    monkeypatch.setattr(experiments, "evaluate_agent", spy)
    experiments.evaluate_agents(["search:moon:population=8,elites=2,iterations=1"], ["train"], 2, 0,
                                tmp_path / "ok", progress=False, env_kwargs={"target": "soi"})
    assert seen == [{"target": "soi"}]
    out = tmp_path / "bad"
    env = {**os.environ, "PYTHONPATH": str(Path(moonshot.__file__).parent.parent)}
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", "planner:moon",
                          "--env-kwargs", "target=bogus", "--episodes", "2", "--out", str(out)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "target" in res.stderr and not out.exists()


def _cli_env():
    return {**os.environ, "PYTHONPATH": str(Path(moonshot.__file__).parent.parent)}


def test_search_city_drives_from_the_command_line_and_bills_its_rehearsals(tmp_path):
    out = tmp_path / "eval"
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", "search:city",
                          "--episodes", "2", "--split", "train", "--out", str(out)],
                         capture_output=True, text=True, env=_cli_env())
    assert res.returncode == 0, res.stderr[-2000:]
    logs = list(out.glob("episodes/*/episodes.csv"))
    assert len(logs) == 1 and "simulator-search" in logs[0].parent.name
    rows = list(csv.DictReader(logs[0].open()))
    assert len(rows) == 2
    for r in rows:
        decisions = -(-int(r["length"]) // 5)  # one search every replan=5 steps
        assert int(r["model_rollouts"]) == 24 * 2 * decisions  # population x iterations
        # each rehearsal takes up to 30 steps (fewer where its drive ends)
        assert 0 < int(r["model_steps"]) <= 30 * int(r["model_rollouts"])
        assert float(r["compute_s"]) > 0


def _traffic_trajectory(rehearse: bool, steps: int = 40) -> list[np.ndarray]:
    """The poses of the real env's traffic over ``steps`` steps of a fixed drive, with or
    without rehearsals (long ones: past the drives' ends) between the steps."""
    env = CityNavV1Env()
    env.reset(seed=7)
    rehearsal = env.perceive("simulator")
    rng = np.random.default_rng(1)
    poses = []
    for t in range(steps):
        if rehearse and t % 3 == 0:
            rehearsal.rehearse_plans(rng.uniform(-1, 1, (5, 60, 2)))
        env.step(np.array([0.6, 0.05 * np.sin(t / 5)]))
        poses.append(env._drives.batch.started(0).traffic.pose.copy())
    poses.append(env.np_random.random(3))  # the generator's next draws, too
    return poses


def test_rehearsals_leave_the_real_episode_unchanged():
    plain, rehearsed = _traffic_trajectory(False), _traffic_trajectory(True)
    for a, b in zip(plain, rehearsed, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_city_rehearsal_starts_from_the_live_state_and_repeats():
    env = CityNavV1Env()
    env.reset(seed=3)
    rehearsal = env.perceive("simulator")
    for _ in range(10):
        env.step(np.array([1.0, 0.0]))
    plans = np.zeros((4, 15, 2), np.float32)
    plans[:2, :, 0] = 1.0  # throttle on; the others coast
    returns, infos = rehearsal.rehearse_plans(plans)
    assert rehearsal.rehearsals == 4 and rehearsal.steps == 4 * 15
    assert returns[0] == returns[1] and returns[2] == returns[3]
    assert returns[0] > returns[2]  # more progress with the throttle on
    assert all(i["map_id"] == env.map_id for i in infos)
    # from where the real drive stands now (10 steps on), not from its start
    assert infos[0]["route_progress"] > env._drives.info(0, False, False)["route_progress"]
    again, _ = rehearsal.rehearse_plans(plans)
    np.testing.assert_array_equal(returns, again)
    for name in ("env", "_drives", "np_random", "__dict__"):
        assert not hasattr(rehearsal, name)


def test_search_city_counts_its_rollouts_and_steps():
    agent = SimulatorMPC(population=6, iterations=2, elites=2, horizon=10, knots=2, replan=5)
    env = CityNavV1Env()
    rec = run_episode(agent, env, seed=11)
    decisions = -(-rec.length // 5)
    assert rec.model_rollouts == 12 * decisions
    assert 0 < rec.model_steps <= 10 * rec.model_rollouts
    assert rec.compute_s > 0 and len(agent.decision_times) == decisions
