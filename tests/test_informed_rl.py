"""RL with the planner's information (docs/protocol.md): objects and grip in the observation,
memory as a frame stack (RL Zoo's ``frame_stack``) or an LSTM (``--algo ppo_lstm``), trained,
saved in a run folder and evaluated as they were trained."""

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np

import moonshot  # noqa: F401 (registers the envs)
from moonshot.agents import load_agent
from moonshot.agents.base import run_episode

INFORMED = ["observation=objects", "observe_friction=true", "time_limit=8"]


def _train(out, *args):
    res = subprocess.run([sys.executable, "-m", "moonshot", "train", "city", "--timesteps",
                          "256", "--eval-episodes", "1", "--no-progress", "--out", str(out),
                          "--env-kwargs", *INFORMED, *map(str, args)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


def test_ppo_lstm_trains_on_objects_and_grip_and_evaluates(tmp_path):
    run = _train(tmp_path / "lstm", "--algo", "ppo_lstm", "--hyperparams", "n_steps=32",
                 "batch_size=64")
    agent = load_agent(str(run))
    assert agent.recurrent and not agent.batched  # its memory runs one drive at a time
    env = gym.make("moonshot/CityNav-v1", observation="objects", observe_friction=True,
                   time_limit=8.0).unwrapped
    a = run_episode(agent, env, seed=11)
    b = run_episode(agent, env, seed=11)  # the memory starts afresh with each drive
    assert (a.ret, a.length, a.outcome) == (b.ret, b.length, b.outcome)
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", str(run), "--split",
                          "train", "--episodes", "2", "--out", str(tmp_path / "ev")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = json.loads((tmp_path / "ev" / "transfer.json").read_text())["results"]
    assert rows[0]["episodes"] == 2


def test_a_frame_stack_round_trips_through_the_run_folder(tmp_path):
    """The agent loaded from the folder stacks its observations as VecFrameStack did in
    training: the same actions, step for step, as the model behind a VecFrameStack."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    run = _train(tmp_path / "stack", "--algo", "ppo", "--hyperparams", "frame_stack=3",
                 "n_steps=32", "batch_size=64")
    assert json.loads((run / "config.json").read_text())["frame_stack"] == 3
    agent = load_agent(str(run))
    assert agent.frame_stack == 3 and not agent.batched
    kw = {"observation": "objects", "observe_friction": True, "time_limit": 8.0}
    venv = VecFrameStack(DummyVecEnv([lambda: gym.make("moonshot/CityNav-v1", **kw)]), 3)
    venv.seed(5)
    obs = venv.reset()
    single = gym.make("moonshot/CityNav-v1", **kw)
    o, info = single.reset(seed=5)
    agent.begin_episode(None, o, info)
    steps = 0
    for _ in range(30):
        expected, _ = agent.model.predict(obs, deterministic=True)
        action, _ = agent.predict(o)
        np.testing.assert_array_equal(action, expected[0])
        obs, _, done, _ = venv.step(expected)
        o, _, term, trunc, _ = single.step(action)
        steps += 1
        if done[0] or term or trunc:
            break
    assert steps > 3


def _tiny(name: str) -> dict:
    """A shipped results spec at CI scale, on dev seeds (as development runs it)."""
    from importlib import resources

    import yaml

    spec = yaml.safe_load(resources.files("moonshot").joinpath("sweeps", name).read_text())
    spec.update(seed_set="dev", seeds=[0], evaluate={"splits": ["train", "new"],
                                                     "episodes": 1, "seed": 0})
    spec["shift"] = {"axes": [next(iter(_world(spec).shift_axes))], "levels": [0, 1],
                     "episodes": 1}
    if spec["world"] == "city":
        spec["env_kwargs"] = {**spec.get("env_kwargs", {}), "time_limit": 6.0}
    for agent in spec["agents"]:
        if "algo" in agent:
            agent.update(timesteps=256, eval_episodes=1, n_envs=2)
            agent.setdefault("hyperparams", {})
            if agent["algo"] in ("ppo", "ppo_lstm", "a2c"):
                agent["hyperparams"].update(n_steps=64, batch_size=64)
            else:
                agent["hyperparams"].update(learning_starts=64, buffer_size=1000)
        else:
            agent["episodes"] = 1
    return spec


def _world(spec):
    from moonshot.worlds import get_world

    return get_world(spec["world"])


def test_the_informed_results_specs_run_at_ci_scale(tmp_path):
    """Every cell of the shipped informed specs (one seed, 256 steps, one drive or scenario
    per split and level) trains or plans, evaluates on dev seeds and walks a ladder."""
    from moonshot.evaluation.sweep import expand
    from moonshot.evaluation.sweep.cells import execute_cell

    for name in ("city-rl-informed.yaml", "moon-rl-informed.yaml"):
        cells = expand(_tiny(name))
        assert {c.seed_set for c in cells} == {"dev"}
        for cell in cells:
            result = execute_cell(cell, tmp_path / name / cell.id)
            assert {r["split"] for r in result["transfer"]} == {"train", "new"}
            assert [r["level"] for r in result["shift"]] == [0, 1]
            assert json.loads((tmp_path / name / cell.id / "eval" / "transfer.json")
                              .read_text())["seed_set"] == "dev"
