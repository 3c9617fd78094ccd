"""``pets`` on CityNav: its learned models' data are right, it learns on a tiny budget in a
small world (held-out model error falls, it drives better than untrained), a run resumes
exactly and loads through ``moonshot evaluate``, it logs its costs, and it plans and learns
through an env that offers only ``reset``, ``step`` and ``perceive``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from conftest import run_as_user
from hypothesis import given, settings
from hypothesis import strategies as st

from moonshot.agents.city.pets import (
    DRIVER_INPUTS,
    CityPETS,
    car_targets,
    driver_samples,
    step_car,
)
from moonshot.agents.city.sysid import TRANSITION
from moonshot.agents.config import TrainConfig
from moonshot.agents.training import train

#: A small world: short routes, little traffic (drives of a few hundred steps).
SMALL = {"route_length": [80.0, 130.0], "traffic_cars": 6}
#: A small agent (fast to fit and to plan).
SMALL_HP = {"members": 3, "hidden": 32, "driver_hidden": 16, "fit_steps": 200,
            "max_fit_steps": 400, "population": 4}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _cfg(tmp_path: Path, timesteps: int, name: str, **kw) -> TrainConfig:
    kw.setdefault("hyperparams", dict(SMALL_HP))
    return TrainConfig(env="city", algo="pets", timesteps=timesteps, seed=4,
                       out=str(tmp_path / name), progress=False, env_kwargs=dict(SMALL), **kw)


@settings(max_examples=25, deadline=None)
@given(x=st.floats(-500, 500), y=st.floats(-500, 500), h=st.floats(-math.pi, math.pi),
       dx=st.floats(-3, 3), dy=st.floats(-3, 3), dh=st.floats(-0.3, 0.3))
def test_the_car_models_targets_are_steps_in_the_cars_frame(x, y, h, dx, dy, dh):
    row = np.zeros((1, len(TRANSITION)))
    t = {k: i for i, k in enumerate(TRANSITION)}
    row[0, [t["x"], t["y"], t["h"]]] = x, y, h
    h1 = (h + dh + math.pi) % (2 * math.pi) - math.pi
    row[0, [t["x1"], t["y1"], t["h1"]]] = x + dx, y + dy, h1
    back = step_car(np.array([[x, y, h]]), car_targets(row))[0]
    np.testing.assert_allclose(back[:2], [x + dx, y + dy], atol=1e-9)
    assert abs((back[2] - h1 + math.pi) % (2 * math.pi) - math.pi) < 1e-9


def test_driver_samples_follow_a_car_one_and_two_seconds_on():
    feats = np.zeros(len(DRIVER_INPUTS) - 1)
    rows = [[7, tick, 5.0 + 0.1 * tick, *feats] for tick in range(0, 40, 2)]
    rows += [[8, 0, 3.0, *feats]]  # a car never seen again: no label
    out = driver_samples(np.array(rows), dt=0.1)
    assert len(out) == 10  # ticks 0..18 have ticks +10 and +20
    np.testing.assert_allclose(out[:, -2:], [[1.0, 2.0]] * 10)
    np.testing.assert_allclose(out[:, 0], 5.0 + 0.1 * np.arange(0, 20, 2))


def test_pets_learns_in_a_small_city_and_logs_its_costs(tmp_path):
    run = train(_cfg(tmp_path, 1200, "run", eval_every=1200, eval_episodes=3))
    evals = _rows(run / "evaluations.csv")
    assert [int(r["env_steps"]) for r in evals][:2] == [0, 0] and len(evals) == 4
    before, after = evals[:2], evals[2:]
    # untrained it wanders (a random throttle, below half the limit); trained it plans
    assert sum(float(r["success_rate"]) for r in after) >= \
        sum(float(r["success_rate"]) for r in before)
    assert sum(float(r["death_rate"]) for r in after) == 0
    assert sum(float(r["mean_return"]) for r in after) > \
        sum(float(r["mean_return"]) for r in before)
    # the car model's error on the evaluation drives' steps (never learned from) falls
    errors = _rows(run / "model_error.csv")
    assert {r["split"] for r in errors} == {"train", "new"}
    for split in ("train", "new"):
        first, last = (r for r in (errors[0 if split == "train" else 1],
                                   errors[-2 if split == "train" else -1]))
        assert int(first["n"]) > 0 and int(last["refits"]) >= 2
        assert float(last["pos_err_m"]) < 0.5 * float(first["pos_err_m"])
        assert float(last["speed_err_ms"]) < 0.5 * float(first["speed_err_ms"])
    episodes = _rows(run / "episodes.csv")
    assert len(episodes) >= 3 and all(r["agent"] == "pets" for r in episodes)
    # the first two drives wander; every later one imagines candidates and pays for its refit
    assert all(int(r["model_rollouts"]) > 0 and int(r["model_steps"]) > 0
               and float(r["compute_s"]) > 0 for r in episodes[2:])
    assert int(episodes[0]["model_steps"]) > 0  # the first refit's transitions
    files = {p.name for p in run.rglob("*") if p.is_file()}
    assert all(n.endswith((".json", ".npz", ".csv")) or n == ".lock" for n in files), files


def test_a_tiny_pets_run_resumes_exactly_and_loads_through_evaluate(tmp_path):
    # one wandering drive, then planned ones: the resume crosses a planned drive
    common = {"eval_every": 800, "eval_episodes": 1, "checkpoint_every": 200,
              "hyperparams": {**SMALL_HP, "random_drives": 1}}
    straight = train(_cfg(tmp_path, 800, "straight", **common))
    train(_cfg(tmp_path, 300, "resumed", **common))  # stops after the first drive
    resumed = train(_cfg(tmp_path, 800, "resumed", **common), resume=True)
    timing = ("wall_time_s", "compute_s")
    a, b = _rows(straight / "episodes.csv"), _rows(resumed / "episodes.csv")
    assert len(a) == len(b) >= 2 and int(a[-1]["model_rollouts"]) > 0  # a planned drive
    assert [{k: v for k, v in r.items() if k not in timing} for r in a] == \
        [{k: v for k, v in r.items() if k not in timing} for r in b]
    # the resumed run also evaluated where its first budget ended; the rest agrees
    a, b = _rows(straight / "model_error.csv"), _rows(resumed / "model_error.csv")
    steps = {r["env_steps"] for r in a}
    assert len(a) >= 4 and a == [r for r in b if r["env_steps"] in steps]
    with np.load(straight / "model.npz", allow_pickle=False) as x, \
            np.load(resumed / "model.npz", allow_pickle=False) as y:
        assert sorted(x.files) == sorted(y.files)
        assert any(k.startswith("car/") for k in x.files)
        for k in x.files:
            np.testing.assert_array_equal(x[k], y[k])
    out = tmp_path / "eval"
    text = run_as_user(["-m", "moonshot", "evaluate", str(straight), "--episodes", "1",
                        "--split", "new", "--out", str(out)], cwd=tmp_path)
    assert "pets" in text
    rows = _rows(next(out.rglob("episodes.csv")))
    assert len(rows) == 1 and rows[0]["agent"].startswith("pets")
    assert int(rows[0]["model_rollouts"]) > 0


def test_pets_plans_and_learns_through_a_sealed_env():
    import gymnasium as gym
    from test_perception import SealedEnv

    from moonshot.agents import run_episode

    agent = CityPETS(seed=1, **SMALL_HP)
    agent.training = True
    env = SealedEnv(gym.make("moonshot/CityNav-v1", **SMALL).unwrapped)
    for i in range(3):
        rec = run_episode(agent, env, seed=30 + i)
        agent.learn(agent.take_seen())
    assert agent.refits == 3 and agent.drives == 3 and len(agent.data["trans"]) > 20
    assert rec.model_rollouts > 0


def test_the_information_rule_covers_pets():
    from test_information_rule import AGENTS, violations

    assert (AGENTS / "city" / "pets.py").exists()
    assert not {v for v in violations() if v[0] == "city/pets.py"}


def test_a_column_constant_in_training_does_not_blow_up_a_new_value():
    # the training maps share one speed limit; a new map's limit once made the driver model
    # predict speed changes of 10^5 m/s (a near-zero spread in the normalization)
    import torch

    from moonshot.agents.ensemble import Ensemble

    model = Ensemble(3, 1, 2, 16, 2, generator=torch.Generator().manual_seed(0))
    x = np.random.default_rng(0).normal(size=(200, 3))
    x[:, 1] = 13.9
    model.fit(x, 2.0 * x[:, :1], 300, np.random.default_rng(1))
    x[:, 1] = 16.7
    with torch.no_grad():
        mean, _ = model(torch.as_tensor(x[:20], dtype=torch.float32))
    assert float(mean.abs().max()) < 100.0
