"""Agents that learn their own model (pets, sysid): they learn on a tiny budget, resume
exactly, load as agents, log their costs and model error, keep no pickles, and do not touch
the simulator's code."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_as_user

from moonshot.agents.config import TrainConfig
from moonshot.agents.training import train
from moonshot.errors import ConfigError

#: The agents' own modules: none may import the simulator (physics, envs' dynamics) or a
#: planner's model.
OWN_MODULES = ("moon_newton", "moon_sysid", "moon_pets", "learned_moon", "ensemble", "shooting",
               "model_learning")
FORBIDDEN = ("moonshot.physics", "moonshot.envs", "moonshot.agents.moon_planner",
             "moonshot.agents.city_planner")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _cfg(tmp_path: Path, algo: str, timesteps: int, name: str, **kw) -> TrainConfig:
    return TrainConfig(env="moon", algo=algo, timesteps=timesteps, seed=3,
                       out=str(tmp_path / name), env_kwargs={"target": "soi"},
                       progress=False, **kw)


def _absolute(module: str, level: int, package: str) -> str:
    if level == 0:
        return module
    parts = package.split(".")[: len(package.split(".")) - level + 1]
    return ".".join(parts + ([module] if module else []))


@pytest.mark.parametrize("name", OWN_MODULES)
def test_learned_model_agents_do_not_import_the_simulator(name):
    path = ROOT / "moonshot" / "agents" / f"{name}.py"
    tree = ast.parse(path.read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, "moonshot.agents")
            imported += [base] + [f"{base}.{a.name}" for a in node.names]
    bad = [m for m in imported if m.startswith(FORBIDDEN)]
    assert not bad, f"{name} imports simulator or planner code: {bad}"


def test_pets_learns_on_a_tiny_budget_and_logs_its_costs(tmp_path):
    hp = {"random_launches": 40, "hidden": 64, "fit_steps": 300, "first": 400,
          "population": 200, "iterations": 3}
    run = train(_cfg(tmp_path, "pets", 160, "pets", eval_every=80, eval_episodes=30,
                     hyperparams=hp))
    evals = [r for r in _rows(run / "evaluations.csv") if r["split"] == "train"]
    assert [int(r["env_steps"]) for r in evals] == [0, 80, 160]
    # untrained (random launches) against learned: success rises
    assert float(evals[-1]["success_rate"]) > float(evals[0]["success_rate"]) + 0.2
    episodes = _rows(run / "episodes.csv")
    assert len(episodes) == 160 and all(r["agent"] == "pets" for r in episodes)
    planned = episodes[40:]  # after the random launches: imagined ones and compute
    assert all(int(r["model_rollouts"]) > 0 for r in planned)
    assert sum(float(r["compute_s"]) for r in planned) > 0
    errors = _rows(run / "model_error.csv")
    assert {r["split"] for r in errors} == {"train", "new"}
    first, last = (float(r["signed_miss_err_km"]) for r in (errors[0], errors[-2]))
    assert last < first  # the model's error on held-out real launches falls
    assert not list(run.rglob("*.pkl")) and not list(run.rglob("*.zip"))


def test_sysid_fits_a_wrong_prior_back_from_a_few_launches(tmp_path):
    from moonshot.agents.model_learning import load_learned_agent
    from moonshot.runlog import read_json

    # a wrong start: the Moon's GM x1.5, a 20 m/s slow burn, burning 60 s late
    prior = [float(np.log(1.5)), 0.0, -20.0, 0.0, 60.0]
    run = train(_cfg(tmp_path, "sysid", 12, "sysid", eval_every=12, eval_episodes=6,
                     hyperparams={"prior": prior, "scan_points": 32}))
    agent = load_learned_agent(run, read_json(run / "config.json"))
    # the prior pulls towards itself (sigma 5 m/s, 30 s); the launches pull back to the truth
    assert abs(agent.theta[2]) < 12.0 and abs(agent.theta[4]) < 20.0
    errors = _rows(run / "model_error.csv")
    before = [float(r["signed_miss_err_km"]) for r in errors if r["env_steps"] == "0"]
    after = [float(r["signed_miss_err_km"]) for r in errors if r["env_steps"] == "12"]
    assert np.mean(after) < np.mean(before)
    episodes = _rows(run / "episodes.csv")
    assert all(int(r["model_rollouts"]) > 0 for r in episodes)


@pytest.mark.parametrize("algo,budget,hp", [
    ("pets", 60, {"random_launches": 20, "hidden": 32, "fit_steps": 50, "first": 100,
                  "population": 50, "iterations": 2}),
    ("sysid", 8, {"scan_points": 24}),
])
def test_resume_is_exact(tmp_path, algo, budget, hp):
    common = {"eval_every": budget // 2, "eval_episodes": 3, "checkpoint_every": budget // 4,
              "hyperparams": hp}
    straight = train(_cfg(tmp_path, algo, budget, "straight", **common))
    train(_cfg(tmp_path, algo, budget // 2, "resumed", **common))
    resumed = train(_cfg(tmp_path, algo, budget, "resumed", **common), resume=True)
    timing = ("wall_time_s", "compute_s")
    for name in ("episodes.csv", "model_error.csv"):
        a, b = _rows(straight / name), _rows(resumed / name)
        assert len(a) == len(b) > 0
        strip = [{k: v for k, v in r.items() if k not in timing} for r in a]
        assert strip == [{k: v for k, v in r.items() if k not in timing} for r in b]
    a, b = _rows(straight / "evaluations.csv"), _rows(resumed / "evaluations.csv")
    assert [{k: v for k, v in r.items() if k != "wall_time_s"} for r in a] == \
        [{k: v for k, v in r.items() if k != "wall_time_s"} for r in b]
    with np.load(straight / "model.npz") as x, np.load(resumed / "model.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            np.testing.assert_array_equal(x[k], y[k])


def test_a_learned_model_run_loads_through_moonshot_evaluate(tmp_path):
    run = train(_cfg(tmp_path, "sysid", 2, "run", eval_every=2, eval_episodes=2,
                     hyperparams={"scan_points": 24}))
    out = tmp_path / "eval"
    text = run_as_user(["-m", "moonshot", "evaluate", str(run), "--episodes", "3",
                        "--split", "new", "--out", str(out)], cwd=tmp_path)
    assert "sysid" in text
    rows = _rows(next(out.rglob("episodes.csv")))
    assert rows and all(r["agent"].startswith("sysid") for r in rows)
    assert all(int(r["model_rollouts"]) > 0 for r in rows)


def test_model_algorithms_are_refused_where_not_built(tmp_path, monkeypatch):
    from moonshot.agents import model_learning
    from moonshot.errors import ConfigError

    # every world has both today: a world without pets, as a plug-in world may be
    monkeypatch.setitem(model_learning.AGENTS, "city",
                        {"sysid": model_learning.AGENTS["city"]["sysid"]})
    with pytest.raises(ConfigError, match="not built for the city world"):
        train(TrainConfig(env="city", algo="pets", timesteps=10, out=str(tmp_path / "c"),
                          progress=False))
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError, match="rejects the hyperparameters"):
        train(_cfg(tmp_path, "sysid", 2, "bad", hyperparams={"nonsense": 1}))
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("algo", ["sysid", "pets"])
def test_learned_model_agents_plan_and_learn_through_a_sealed_env(algo):
    import gymnasium as gym
    from test_perception import SealedEnv

    from moonshot.agents import run_episode
    from moonshot.agents.model_learning import make_agent

    hp = {"scan_points": 24} if algo == "sysid" else {
        "random_launches": 4, "hidden": 16, "fit_steps": 10, "first": 50, "population": 20,
        "iterations": 1, "elites": 5}
    agent = make_agent("moon", algo, 0, hp)
    agent.training = True
    env = SealedEnv(gym.make("moonshot/MoonLaunch-v1", target="soi").unwrapped)
    for i in range(6):
        rec = run_episode(agent, env, seed=i)
        agent.learn(agent.take_seen())
    assert agent.refits > 0 and len(agent.data["obs"]) == 6
    assert rec.model_rollouts > 0


def test_the_shift_ladder_logs_a_learned_models_error_per_level(tmp_path):
    from moonshot.evaluation.shift import run_shift

    run = train(_cfg(tmp_path, "sysid", 1, "run", eval_every=1, eval_episodes=1,
                     hyperparams={"scan_points": 24}))
    run_shift("moon", [str(run)], axes=["altitude"], episodes=2, seed=5,
              out=tmp_path / "shift", progress=False)
    rows = _rows(tmp_path / "shift" / "model_error.csv")
    assert [int(r["level"]) for r in rows] == [0, 1, 2, 3]
    assert all(int(r["n"]) >= 2 and float(r["signed_miss_err_km"]) >= 0 for r in rows)


def test_a_learner_relearns_along_an_axis_from_where_its_run_stopped(tmp_path):
    """The relearning cost of an agent that learns its own model: it keeps learning from its
    final agent (data, fit, counters) in the shifted world, and its episodes there are
    counted as an SB3 fine-tune's are."""
    from moonshot.agents.model_learning import load_learned_agent
    from moonshot.evaluation.transfer import relearning_cost
    from moonshot.runlog import read_episodes, read_json
    from moonshot.worlds import get_world

    run = train(_cfg(tmp_path, "sysid", 8, "sysid", eval_every=8, eval_episodes=4,
                     hyperparams={"scan_points": 24}))
    before = load_learned_agent(run, read_json(run / "config.json"))
    shifted = get_world("moon").axis("burn_bias").settings(3)
    res = relearning_cost(run, timesteps=6, out=tmp_path / "relearn", window=3,
                          progress=False, split="train", env_overrides=shifted,
                          tolerance=0.05)
    out = tmp_path / "relearn"
    cfg = read_json(out / "config.json")
    assert cfg["train"]["init_from"].endswith("model.json")
    assert cfg["resolved_hyperparams"] == read_json(run / "config.json")["resolved_hyperparams"]
    assert cfg["train"]["env_kwargs"]["burn_bias"] == shifted["burn_bias"]
    log = read_episodes(out)
    assert len(log["episode"]) == res["finetune_episodes"] == 6
    after = load_learned_agent(out, cfg)
    # it went on from the run's agent: the run's launches and the six new ones in its data
    rows = {k: len(v) for k, v in before.data.items()}
    assert rows and all(len(after.data[k]) == n + 6 for k, n in rows.items()), rows
    assert after.model_samples > before.model_samples
    assert after.refits > before.refits
    # a learner is refused a model file of another kind, before anything is written
    with pytest.raises(ConfigError, match="model.json"):
        relearn_cfg = _cfg(tmp_path, "sysid", 4, "bad", init_from=str(run / "model.npz"))
        train(relearn_cfg)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigError, match="not of pets"):
        train(_cfg(tmp_path, "pets", 4, "bad2", init_from=str(run / "model.json")))
    assert not (tmp_path / "bad2").exists()


def test_a_ladder_in_worker_processes_is_the_ladder_of_one_process(tmp_path):
    """`moonshot shift --workers 2` (a learned-model run and a planner, two levels, cells in
    spawned processes) writes the rows, episodes and model errors of `--workers 1`: every
    cell's agent starts afresh there, so nothing may carry over from one cell to the next in
    one process either."""
    run = train(_cfg(tmp_path, "sysid", 2, "run", eval_every=2, eval_episodes=2,
                     hyperparams={"scan_points": 24}))
    got = {}
    for workers in (1, 2):
        out = tmp_path / f"shift{workers}"
        run_as_user(["-m", "moonshot", "shift", "moon", "--agent", str(run), "--agent",
                     "planner", "--axis", "altitude", "--level", "0", "2", "--episodes", "3",
                     "--env-kwargs", "target=soi", "--workers", str(workers), "--no-progress",
                     "--out", str(out)], cwd=tmp_path)
        logs = {p.parent.name: [{k: v for k, v in r.items()
                                 if k not in ("wall_time_s", "compute_s")}
                                for r in _rows(p)]
                for p in sorted((out / "episodes").glob("*/episodes.csv"))}
        got[workers] = (_rows(out / "shift.csv"), _rows(out / "model_error.csv"), logs)
    assert len(got[2][2]) == 4 and len(got[2][1]) == 2  # 2 agents x 2 levels; sysid's errors
    assert got[1] == got[2]
