"""The body world's adaptation agent (``adapt:body``, Intelligent Trial and Error): its shipped
repertoire, a gait of it walking the real body, the GP's updates and stopping rule, forget(),
and the command line (what it may import: tests/test_information_rule.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import run_as_user

import moonshot_body
from moonshot.agents.base import run_episode
from moonshot.agents.loading import load_agent, resolve_agent
from moonshot.errors import ConfigError
from moonshot.worlds import World, get_world
from moonshot_body.agents.adapt import BodyAdapt
from moonshot_body.agents.gaits import (
    CONTROL_DT,
    DESCRIPTOR,
    GAIT_PARAMS,
    Repertoire,
    gait_actions,
)
from moonshot_body.anatomy import Design
from moonshot_body.observation import OBS_LAYOUT, OBS_SIZE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def repertoire() -> Repertoire:
    return Repertoire.load()


def test_the_shipped_repertoire_loads_finite_and_says_how_it_was_built(repertoire):
    n = len(repertoire.params)
    assert n >= 50  # a map, not a handful of gaits
    assert repertoire.params.shape == (n, len(GAIT_PARAMS))
    assert repertoire.descriptor.shape == (n, len(DESCRIPTOR))
    for arr in (repertoire.params, repertoire.descriptor, repertoire.performance):
        assert np.isfinite(arr).all()
    assert ((repertoire.params >= 0) & (repertoire.params <= 1)).all()
    meta = repertoire.meta
    assert meta["command"].startswith("python benchmarks/body_repertoire.py")
    assert isinstance(meta["seed"], int) and meta["imagined_walks"] > 0
    assert "body_model" in meta["model"]  # the agent's own model, not the simulator
    # MAP-Elites keeps diverse postures: the map spans more than one cell on every axis
    assert (np.ptp(repertoire.descriptor, axis=0) > 0.02).all()


def test_a_file_that_is_not_a_repertoire_is_refused_by_name(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, params=np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="bad.npz"):
        BodyAdapt(repertoire=str(bad))
    with pytest.raises(ConfigError, match="trial_s=-1"):
        BodyAdapt(trial_s=-1)
    with pytest.raises(ConfigError, match="alpha=1.5"):
        BodyAdapt(alpha=1.5)


def test_the_best_gait_walks_the_intact_real_body_towards_a_goal_ahead(repertoire):
    best = repertoire.params[int(np.argmax(repertoire.performance))]
    env = gym.make(moonshot_body.ENV_ID, goal_distance=3.0, goal_bearing_deg=0.0,
                   time_limit=3.0)
    design = Design()
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        start = float(obs[OBS_LAYOUT["goal_distance"]][0])
        for k in range(150):
            g = obs[OBS_LAYOUT["goal_direction"]]
            act = gait_actions(best, k * CONTROL_DT, math.atan2(g[1], g[0]), design)
            obs, _, term, trunc, info = env.step(act.astype(np.float32))
            assert not info["death"]
            if term or trunc:
                break
        assert start - info["goal_distance"] > 0.6, seed  # > 0.2 m/s towards the goal


def test_a_bad_trial_lowers_the_gaits_prediction_and_moves_the_next_choice():
    agent = BodyAdapt()
    prior = agent.gp.mean.copy()
    first = agent.choose()
    assert first == int(np.argmax(prior + agent.kappa * agent.gp.std))
    agent.gp.add(first, -1.0)  # it fell
    assert agent.gp.mean[first] < prior[first] - 0.3
    # its neighbours in posture are believed worse too, far gaits hardly moved
    dist = np.linalg.norm(agent.gp.x - agent.gp.x[first], axis=1)
    near, far = dist < 0.1, dist > 0.8
    assert (agent.gp.mean[near] < prior[near]).all()
    if far.any():
        assert np.abs(agent.gp.mean[far] - prior[far]).max() < 0.05
    second = agent.choose()
    assert second != first and agent.exploring


def test_the_stopping_rule_keeps_a_gait_that_performs_as_predicted():
    agent = BodyAdapt(alpha=0.9)
    first = agent.choose()
    agent.gp.add(first, float(agent.gp.prior[first]))
    assert agent.choose() == first and not agent.exploring


def test_forget_returns_to_the_prior():
    agent = BodyAdapt()
    first = agent.choose()
    for i in range(4):
        agent.gp.add(agent.choose(), -1.0 + 0.1 * i)
    assert agent.choose() != first
    agent.forget()
    assert np.array_equal(agent.gp.mean, agent.gp.prior) and agent.trials == []
    assert agent.choose() == first


def test_walks_count_their_trials_and_carry_them_over(repertoire):
    env = gym.make(moonshot_body.ENV_ID, goal_distance=1.0, time_limit=4.0, damage="short",
                   damage_leg="fl")
    agent = BodyAdapt(trial_s=1.0)
    agent.forget()
    first = run_episode(agent, env, seed=5)
    assert first.model_rollouts == repertoire.meta["imagined_walks"]  # charged once
    walk0 = [t for t in agent.trials if t[0] == 0]
    assert 1 <= len(walk0) <= first.length * CONTROL_DT / 1.0 + 1
    assert len(agent.gp.tried) == len(agent.trials)
    second = run_episode(agent, env, seed=6)
    assert second.model_rollouts == 0 and second.compute_s > 0
    # the first walk's trials are still known, first and in their order
    assert agent.gp.tried[:len(walk0)] == [t[1] for t in walk0]
    assert len(agent.gp.tried) == len(agent.trials) > len(walk0)


def test_the_world_names_its_agent_and_options_reach_it():
    assert "adapt" in get_world("body").agents
    agent = load_agent("adapt:body:trial_s=1.25,kappa=0.5")
    assert isinstance(agent, BodyAdapt) and agent.trial_s == 1.25 and agent.kappa == 0.5
    spec = resolve_agent("adapt:body")
    assert spec.env_id == moonshot_body.ENV_ID and spec.label == "adapt"
    with pytest.raises(ConfigError, match="bogus"):
        load_agent("adapt:body:bogus=1")
    with pytest.raises(ConfigError, match="adapt"):
        get_world("body").make_agent("adapd")
    with pytest.raises(ConfigError, match="planner"):
        World(name="w", title="W", env_id="x/W-v0", agents={"planner": "a:B"})


def test_evaluate_adapt_body_from_the_command_line(tmp_path):
    run_as_user(["-m", "moonshot", "evaluate", "adapt:body", "--episodes", "2", "--out", "ev",
                 "--env-kwargs", "time_limit=3", "goal_distance=1.0"], tmp_path,
                env={"MOONSHOT_WORLDS": "moonshot_body", "PYTHONPATH": str(ROOT)}, timeout=600)
    results = json.loads((tmp_path / "ev" / "transfer.json").read_text())["results"]
    assert {r["env"] for r in results} == {moonshot_body.ENV_ID}
    assert any("adapt" in json.dumps(r) for r in results)


def test_the_ablation_without_learning_keeps_the_imagined_best_gait():
    agent = load_agent("adapt:body:learn=false")
    assert agent.name == "adapt[no learning]"
    best = int(np.argmax(agent.gp.prior))
    env = gym.make(moonshot_body.ENV_ID, goal_distance=1.5, time_limit=3.0, damage="short",
                   damage_leg="fl")
    run_episode(agent, env, seed=3)
    assert agent.trials and {t[1] for t in agent.trials} == {best}
    assert agent.gp.tried == [] and not any(t[3] for t in agent.trials)
    with pytest.raises(ConfigError, match="learn='no'"):
        BodyAdapt(learn="no")  # type: ignore[arg-type]


def test_predict_before_a_walk_began_is_an_error():
    agent = BodyAdapt()
    obs = np.zeros(OBS_SIZE, np.float32)
    with pytest.raises(RuntimeError, match="begin_episode"):
        agent.predict(obs)


@pytest.mark.parametrize("worse", [0.8, 1.2])
def test_a_body_much_worse_than_imagined_stops_exploring(worse):
    # every gait performs ``worse`` m/s below its imagined performance, so that the best the
    # GP predicts turns negative; the rule must still stop (``alpha * top`` never did). The
    # bound: these bodies stop after 44-63 trials, a third of the 243 gaits.
    agent = BodyAdapt(alpha=0.9)
    for _ in range(80):
        gait = agent.choose()
        if not agent.exploring:
            break
        agent.gp.add(gait, float(agent.gp.prior[gait]) - worse)
    assert not agent.exploring, f"still exploring after {len(agent.gp.tried)} trials"
    top = float(agent.gp.mean.max())
    assert top < 0 and agent.gp.best_tried()[1] >= top - 0.1 * abs(top)


def test_the_same_gait_keeps_its_phase_from_trial_to_trial():
    agent = BodyAdapt(trial_s=0.6, learn=False)  # one gait, trial after trial
    obs = np.zeros(OBS_SIZE, np.float32)
    obs[OBS_LAYOUT["goal_distance"]] = 3.0
    obs[OBS_LAYOUT["goal_direction"]] = (1.0, 0.0)  # the goal ahead: bearing 0
    agent.begin_episode(None, obs, {})
    actions = [agent.predict(obs)[0] for _ in range(80)]  # 1.6 s: three trials
    assert len(agent.trials) == 2 and {t[1] for t in agent.trials} == {agent.gait}
    params = agent.repertoire.params[agent.gait]
    clock = gait_actions(params, np.arange(80) * agent.control_dt, np.zeros(80), Design())
    np.testing.assert_allclose(np.array(actions), clock, atol=1e-6)
    agent.begin_episode(None, obs, {})  # a new walk starts the cycle afresh
    np.testing.assert_allclose(agent.predict(obs)[0], clock[0], atol=1e-6)


def test_every_evaluation_pays_the_repertoire_once_on_its_first_walk(repertoire):
    agent = BodyAdapt()
    obs = np.zeros(OBS_SIZE, np.float32)
    obs[OBS_LAYOUT["goal_distance"]] = 3.0
    prior = repertoire.meta["imagined_walks"]

    def walk() -> int:
        before = agent.costs()
        agent.begin_episode(None, obs, {})
        agent.end_episode({})
        return (agent.costs() - before).model_rollouts

    assert agent.costs().model_rollouts == 0  # nothing before the first walk
    for _ in range(3):  # three evaluations, each starting with forget()
        agent.forget()
        assert [walk(), walk(), walk()] == [prior, 0, 0]
    agent.forget()
    agent.forget()  # forgetting twice owes the prior once
    assert [walk(), walk()] == [prior, 0]
