"""``sysid`` on CityNav: its fit recovers a car it was not told, its speed cap follows its
uncertainty, and a tiny training run writes a run folder (no pickles) that resumes exactly and
loads through ``moonshot evaluate``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from conftest import run_as_user
from hypothesis import given, settings
from hypothesis import strategies as st

from moonshot.agents.city.sysid import PRIOR, TRANSITION, WEATHER_CLASSES, CitySysID, fit_car
from moonshot.agents.config import TrainConfig
from moonshot.agents.training import train


def _drive(wheelbase: float, accel_gain: float, brake_gain: float, steer_gain: float,
           steer_rate: float, grip: float, n: int = 1500, seed: int = 0) -> np.ndarray:
    """Transitions of a bicycle car with a friction circle (explicit Euler, the centre of
    mass half-way) under random smooth actions: rows of ``TRANSITION``."""
    rng = np.random.default_rng(seed)
    dt, lr = 0.1, 0.5 * wheelbase
    x = y = h = steer = 0.0
    v = 5.0
    u_a = u_s = 0.0
    rows = []
    for _ in range(n):
        u_a = float(np.clip(0.9 * u_a + 0.3 * rng.normal(), -1, 1))
        u_s = float(np.clip(0.9 * u_s + 0.3 * rng.normal(), -1, 1))
        if v > 14.0:
            u_a = -abs(u_a)
        lim = steer_rate * dt
        s1 = float(np.clip(steer + np.clip(u_s * steer_gain - steer, -lim, lim), -steer_gain,
                           steer_gain))
        g = grip * 9.81
        a = float(np.clip(u_a * (accel_gain if u_a >= 0 else brake_gain), -g, g))
        beta = math.atan(0.5 * math.tan(s1))
        if v > 1e-9:
            room = math.sqrt(max(g * g - a * a, 0.0))
            if abs(v * v * math.sin(beta) / lr) > room:
                beta = math.copysign(math.asin(min(room * lr / (v * v), 1.0)), beta)
        v1 = max(v + a * dt, 0.0)
        vm = 0.5 * (v + v1)
        x1 = x + vm * math.cos(h + beta) * dt
        y1 = y + vm * math.sin(h + beta) * dt
        h1 = h + vm * math.sin(beta) / lr * dt
        rows.append([x, y, h, v, steer, u_a, u_s, x1, y1, h1, v1, s1, dt,
                     WEATHER_CLASSES.index("dry"), 0.0])
        x, y, h, v, steer = x1, y1, h1, v1, s1
    return np.array(rows)


@settings(max_examples=8, deadline=None)
@given(wheelbase=st.floats(2.2, 5.5), accel_gain=st.floats(1.2, 4.0),
       brake_gain=st.floats(3.0, 8.0), steer_gain=st.floats(0.3, 0.7))
def test_the_fit_recovers_a_car_it_was_not_told(wheelbase, accel_gain, brake_gain,
                                                 steer_gain):
    trans = _drive(wheelbase, accel_gain, brake_gain, steer_gain, steer_rate=0.5, grip=2.0)
    assert trans.shape[1] == len(TRANSITION)
    fit = fit_car(trans)
    assert abs(fit["wheelbase"] - wheelbase) < 0.02 * wheelbase
    assert abs(fit["accel_gain"] - accel_gain) < 0.02 * accel_gain
    assert abs(fit["brake_gain"] - brake_gain) < 0.02 * brake_gain
    assert abs(fit["steer_gain"] - steer_gain) < 0.02 * steer_gain
    assert abs(fit["steer_rate"] - 0.5) < 0.01


def test_the_fit_finds_a_slippery_roads_grip_from_its_slides():
    trans = _drive(2.7, 3.0, 6.0, 0.55, steer_rate=0.55, grip=0.25, n=3000)
    fit = fit_car(trans)
    # the tyres gave out: the grip is read where they did, not left at the prior 0.3
    assert abs(fit["grip"]["dry"] - 0.25) < 0.03
    # a road that never made them slide: the largest acceleration held is a lower bound
    held = fit_car(_drive(2.7, 3.0, 6.0, 0.2, steer_rate=0.55, grip=2.0))
    assert PRIOR["grip"] <= held["grip"]["dry"] < 2.0


def test_it_drives_slowly_until_its_fit_is_sure():
    agent = CitySysID()
    assert agent.speed_share() == agent.min_share
    agent.learn([(_drive(2.7, 3.0, 6.0, 0.55, 0.55, 2.0), np.zeros((0, 3)))])
    assert agent.speed_share() > 0.9
    assert agent.refits == 1 and agent.model_samples == 1500


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _cfg(tmp_path: Path, timesteps: int, name: str) -> TrainConfig:
    return TrainConfig(env="city", algo="sysid", timesteps=timesteps, seed=2,
                       out=str(tmp_path / name), progress=False, eval_every=1000,
                       eval_episodes=1, checkpoint_every=300)


def test_a_tiny_city_run_resumes_exactly_and_loads_through_evaluate(tmp_path):
    straight = train(_cfg(tmp_path, 1500, "straight"))
    train(_cfg(tmp_path, 600, "resumed"))
    resumed = train(_cfg(tmp_path, 1500, "resumed"), resume=True)
    timing = ("wall_time_s", "compute_s")
    a, b = _rows(straight / "episodes.csv"), _rows(resumed / "episodes.csv")
    assert len(a) == len(b) >= 2
    assert [{k: v for k, v in r.items() if k not in timing} for r in a] == \
        [{k: v for k, v in r.items() if k not in timing} for r in b]
    with np.load(straight / "model.npz", allow_pickle=False) as x, \
            np.load(resumed / "model.npz", allow_pickle=False) as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            np.testing.assert_array_equal(x[k], y[k])
    errors = _rows(straight / "model_error.csv")
    assert {r["split"] for r in errors} == {"train", "new"}
    assert all(int(r["n"]) > 0 and float(r["pos_err_m"]) >= 0 for r in errors)
    # no pickles: JSON, CSV and .npz arrays (read above with allow_pickle=False), the lock
    files = {p.name for p in straight.rglob("*") if p.is_file()}
    assert all(n.endswith((".json", ".npz", ".csv")) or n == ".lock" for n in files), files
    out = tmp_path / "eval"
    text = run_as_user(["-m", "moonshot", "evaluate", str(straight), "--episodes", "2",
                        "--split", "new", "--out", str(out)], cwd=tmp_path)
    assert "sysid" in text
    rows = _rows(next(out.rglob("episodes.csv")))
    assert len(rows) == 2 and all(r["agent"].startswith("sysid") for r in rows)
    assert all(int(r["model_rollouts"]) > 0 for r in rows)


def test_a_training_drive_tests_its_brakes_and_an_evaluation_drive_does_not():
    import gymnasium as gym

    from moonshot.agents import run_episode
    from moonshot.agents.city.sysid import TEST_STEPS

    env = gym.make("moonshot/CityNav-v1", split="train").unwrapped
    full = {}
    for training in (True, False):
        agent = CitySysID()
        agent.training = training
        run_episode(agent, env, seed=11)
        (trans, _), = agent.take_seen()
        u = trans[:, TRANSITION.index("u_accel")]
        full[training] = int(np.sum(u == -1.0))
        assert len(trans) > 50 and np.all(np.abs(u) <= 1.0)
    # one brake test of TEST_STEPS full-brake steps; the prior's grip (0.3 g) never asks
    # the full 4 m/s² of its believed brakes in an emergency stop
    assert 1 <= full[True] <= TEST_STEPS
    assert full[False] == 0
