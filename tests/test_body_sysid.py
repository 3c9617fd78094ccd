"""The body world's ``sysid`` agent: a belief about the body fitted from its own motion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import moonshot_body
from moonshot_body.agents import body_model
from moonshot_body.agents.body_model import INTACT, Belief
from moonshot_body.agents.sysid import NQ, BodySysID, informative
from moonshot_body.anatomy import LEGS, Design

ROOT = Path(__file__).resolve().parents[1]


def _walk_some(agent: BodySysID, steps: int, **env_kwargs) -> BodySysID:
    """``steps`` control steps of one walk (a far goal, so that it does not end early)."""
    env = gym.make(moonshot_body.ENV_ID, goal_distance=3.0, **env_kwargs).unwrapped
    obs, info = env.reset(seed=3)
    agent.begin_episode(env.perceive(agent.perception), obs, info)
    for _ in range(steps):
        action, _ = agent.predict(obs)
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            break
    return agent


@pytest.mark.parametrize("leg", ["fl", "br"])
def test_a_short_shin_is_found_on_its_leg_within_two_seconds_of_walking(leg):
    agent = _walk_some(BodySysID(seed=0, refit_every=25, min_steps=25), 101,
                       damage="short", damage_leg=leg)
    shin = dict(zip(LEGS, agent.belief.shin, strict=True))
    # the damaged shin is half its length; the others are believed (near) whole
    assert shin[leg] < 0.75, shin
    assert all(v > shin[leg] + 0.2 for k, v in shin.items() if k != leg), shin


def test_the_intact_body_is_believed_intact():
    agent = _walk_some(BodySysID(seed=0), 101)
    assert min(agent.belief.shin) > 0.8, agent.belief
    assert agent.belief.payload_kg < 1.5, agent.belief


def test_the_next_walk_plans_in_the_body_found_and_forget_returns_to_the_spec_sheet():
    agent = _walk_some(BodySysID(seed=0), 60, damage="short", damage_leg="fl")
    found = agent.belief
    assert found != INTACT
    agent.end_episode({})
    agent = _walk_some(agent, 1, damage="short", damage_leg="fl")  # the next walk's start
    assert agent.belief == found and agent._sim is agent._replayer.model(found)
    agent.forget()
    assert agent.belief == INTACT


def test_training_and_evaluation_keep_their_own_beliefs():
    """An evaluation's last walk does not carry into the next training walk."""
    agent = _walk_some(BodySysID(seed=0), 60, damage="short", damage_leg="fl")
    found = agent.belief
    agent.training = True
    assert agent.belief == INTACT
    agent.training = False
    assert agent.belief == found


@pytest.mark.parametrize("bad", [{"refit_every": 0}, {"window": 1}, {"candidates": 0},
                                 {"min_steps": 0}, {"rounds": 0}, {"prior_weight": -1.0}])
def test_bad_options_are_refused_with_their_name(bad):
    from moonshot.errors import ConfigError

    with pytest.raises(ConfigError, match=next(iter(bad))):
        BodySysID(**bad)


def test_the_env_resumes_between_walks_from_its_state():
    env = gym.make(moonshot_body.ENV_ID).unwrapped
    env.reset(seed=5)
    state = env.get_state()
    first = env.reset()[0]
    env.reset(seed=99)
    env.set_state(state)
    assert np.array_equal(env.reset()[0], first)
    with pytest.raises(ValueError, match="only 'rng'"):
        env.set_state({"rng": state["rng"], "walk": 1})


def test_the_intact_belief_builds_the_planners_own_model():
    d = Design()
    a, b = body_model.build(d, 0.01, 0.12), body_model.build(d, 0.01, 0.12, INTACT)
    assert np.array_equal(a.body_mass, b.body_mass) and np.array_equal(a.geom_size, b.geom_size)
    short = body_model.build(d, 0.01, 0.12, Belief(shin=(0.5, 1.0, 1.0, 1.0), payload_kg=2.0))
    assert short.body_mass.sum() == pytest.approx(a.body_mass.sum() + 2.0 - 0.5 * d.shin_mass)


def test_a_joint_whose_encoder_never_moves_is_left_out_of_the_fit():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(20, NQ + 14))
    states[:, 7 + 1] = 0.3  # fl_knee reads its start angle
    states[:, NQ + 6 + 1] = 0.0  # ... and no velocity
    flags = informative(states)
    assert not flags[1] and flags[[0, *range(2, 8)]].all()


def test_train_from_the_command_line(tmp_path):
    env = {"PYTHONPATH": str(ROOT), "MOONSHOT_WORLDS": "moonshot_body", "PATH": "/usr/bin:/bin"}
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "moonshot", "train", "body", "--algo", "sysid",
           "--timesteps", "150", "--eval-episodes", "1", "--env-kwargs", "time_limit=1.5",
           "--no-progress", "--out", str(run)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = json.loads((run / "model.json").read_text())
    assert model["refits"] >= 1 and len(model["numerics"]) == 2
    assert (run / "model_error.csv").read_text().count("\n") >= 3


def test_what_it_learned_survives_a_checkpoint_without_pickles(tmp_path):
    from moonshot.agents.model_learning import load_agent_state, save_agent

    agent = _walk_some(BodySysID(seed=0), 60, damage="short", damage_leg="bl")
    agent.end_episode({})
    agent.learn(agent.take_seen())
    assert agent.refits == 1 and agent.model_samples == 60
    assert agent.take_seen() == []
    save_agent(agent, tmp_path / "a")
    again = BodySysID(seed=0)
    load_agent_state(again, tmp_path / "a")
    assert again.belief == agent.belief
    assert np.array_equal(again.numerics, agent.numerics)
    assert np.array_equal(again.data, agent.data) and again.data[:, 0].max() == 0


def test_the_relearning_benchmark_writes_its_tables(tmp_path):
    """benchmarks/body_adaptation.py on a tiny budget: every walk logged, a summary row per
    agent, the plot; the agent learns nothing across walks here (the planner)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import body_adaptation
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "adapt"
    assert body_adaptation.main(["planner:body", "--walks", "2", "--legs", "fl",
                                 "--out", str(out)]) == 0
    walks = (out / "walks.csv").read_text().splitlines()
    assert len(walks) == 1 + 2 + 2  # header, two intact walks, two damaged
    summary = (out / "summary.md").read_text()
    assert "planner" in summary and "Clopper-Pearson" in summary
    assert (out / "adaptation.png").stat().st_size > 0
