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
from moonshot.agents.loading import resolve_agent
from moonshot.agents.simulator_search import SimulatorSearch
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


def test_search_is_for_one_step_worlds_and_checks_its_options():
    spec = resolve_agent("search:moon:population=8,iterations=2")
    assert spec.agent.population == 8 and spec.agent.perception == "simulator"
    assert spec.label == "simulator-search" and spec.env_id == "moonshot/MoonLaunch-v1"
    with pytest.raises(ConfigError, match="one step"):
        resolve_agent("search:city")
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
