"""CityNav-v0: API checkers, determinism, bad input, outcomes, rendering."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import moonshot  # noqa: F401  (registers the environments)
from moonshot.envs.city_nav import CityNavEnv
from moonshot.errors import ConfigError


@pytest.mark.parametrize("split", ["train", "new"])
def test_checkers_pass(split):
    env = gym.make("moonshot/CityNav-v0", split=split)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(CityNavEnv(split=split), warn=False)
    env.close()


def _rollout(seed, split="train", steps=150):
    env = gym.make("moonshot/CityNav-v0", split=split)
    obs, info = env.reset(seed=seed)
    act_rng = np.random.default_rng(123)
    out = [obs]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(act_rng.uniform(-1, 1, 2).astype(np.float32))
        out.append(np.append(obs, [r, term, trunc]))
        if term or trunc:
            break
    traffic = env.unwrapped.traffic.pose.copy()
    env.close()
    return out, info, traffic


@pytest.mark.parametrize("split", ["train", "new"])
def test_same_seed_same_episode(split):
    a, ia, ta = _rollout(7, split)
    b, ib, tb = _rollout(7, split)
    assert len(a) == len(b)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert np.array_equal(ta, tb) and ia["map_id"] == ib["map_id"]
    c, ic, _ = _rollout(8, split)
    assert ic["map_id"] != ia["map_id"] or not np.array_equal(a[0], c[0])


def test_map_selection():
    env = gym.make("moonshot/CityNav-v0", num_train_maps=3)
    ids = {env.reset(seed=s)[1]["map_id"] for s in range(20)}
    assert ids <= {0, 1, 2} and len(ids) > 1
    env = gym.make("moonshot/CityNav-v0", split="new")
    ids = {env.reset(seed=s)[1]["map_id"] for s in range(5)}
    assert all(i >= 1_000_000 for i in ids)
    _, info = env.reset(seed=0, options={"map_seed": 5})
    assert info["map_id"] == 5
    env = gym.make("moonshot/CityNav-v0", map_seed=9)
    assert env.reset(seed=1)[1]["map_id"] == 9


def test_bad_action_and_config():
    env = gym.make("moonshot/CityNav-v0")
    env.reset(seed=0)
    for bad in ([np.nan, 0.0], [0.0, np.inf]):
        with pytest.raises(ValueError, match="finite"):
            env.step(np.array(bad, dtype=np.float32))
    with pytest.raises(ConfigError, match="traffic_cars") as e:
        gym.make("moonshot/CityNav-v0", trafic_cars=3)
    assert "trafic_cars" in str(e.value) and "lidar_rays" in str(e.value)
    with pytest.raises(ConfigError, match="split"):
        gym.make("moonshot/CityNav-v0", split="test")
    with pytest.raises(ConfigError, match="map_seed"):
        env.reset(options={"map_sed": 1})


def test_crash_arrival_and_info():
    env = gym.make("moonshot/CityNav-v0", traffic_cars=0, map_seed=0)
    obs, info = env.reset(seed=3)
    assert {"is_success", "death", "map_id", "route_progress"} <= set(info)
    for _ in range(400):  # full throttle, hard left: off the road into a building
        obs, r, term, trunc, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
        assert {"is_success", "death", "map_id", "route_progress", "reward_terms"} <= set(info)
        if term or trunc:
            break
    assert term and info["outcome"] == "crashed" and info["death"] and info["crash"] == "building"
    assert r == pytest.approx(sum(info["reward_terms"].values()))
    assert r < -9


def test_navigation_flag_and_render():
    env = gym.make("moonshot/CityNav-v0", navigation=False, render_mode="rgb_array", lidar_rays=16)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16 + 23,)
    assert np.all(obs[16 + 5:16 + 18] == 0)
    frame = env.render()
    assert frame.shape == (480, 480, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 5
    env.unwrapped.config["render_view"] = "city"
    assert env.render().shape == (480, 480, 3)


def test_human_render_without_display(monkeypatch):
    monkeypatch.setattr("moonshot.envs.display.has_display", lambda: False)
    with pytest.warns(UserWarning, match="without a display"):
        env = CityNavEnv(render_mode="human", traffic_cars=2)
    env.reset(seed=0)  # runs headless: no window, no frame
    env.step(np.zeros(2, np.float32))
    assert env.render() is None


def _togo(env) -> float:
    w = env.unwrapped.world
    return w.route.length - w.route_s + w.route_offset


@pytest.mark.parametrize("steer", [0.0, 0.4, -1.0])
def test_progress_reward_is_a_potential_of_the_distance_to_go(steer):
    """Progress pays the shrinking of the distance still to go (rest of the route + distance
    from it): it sums to the net change, so no detour earns more than the route, and driving
    away from the route costs."""
    env = gym.make("moonshot/CityNav-v0", traffic_cars=0, reward_progress=1.0)
    env.reset(seed=5)
    start, total, lost = _togo(env), 0.0, False
    for _ in range(150):
        _, _, term, trunc, info = env.step(np.array([0.3, steer], np.float32))
        total += info["reward_terms"]["progress"]
        lost |= info["reward_terms"]["progress"] < -0.05
        if term or trunc:
            break
    assert total == pytest.approx(start - _togo(env), abs=1e-9)
    if steer == -1.0:  # circling to the right leaves the route: some steps must cost
        assert lost
    env.close()


def test_route_offset_is_the_distance_to_the_route():
    from moonshot.physics.city.route import project_on_route

    pts = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [20.0, 10.0]])
    cum = np.array([0.0, 10.0, 20.0, 30.0])
    for (x, y), s, off in (((5.0, 3.0), 5.0, 3.0), ((15.0, -2.0), 15.0, 2.0),
                           ((23.0, 14.0), 30.0, 5.0),  # past the end: to the end point
                           ((-4.0, 3.0), 0.0, 5.0)):  # before the start: to the start
        _, s_got, off_got = project_on_route(pts, cum, x, y, 0, 0, 10)
        assert s_got == pytest.approx(s) and off_got == pytest.approx(off)


def _reckless(obs, n=32):
    """Full throttle, steering at the route point 10 m ahead, lights ignored."""
    x, y = obs[n + 7], obs[n + 8]
    return np.array([1.0, np.clip(3.0 * np.arctan2(y, x), -1, 1)], np.float32)


def test_red_lights_run_are_counted_for_a_reckless_driver_and_never_for_the_planner():
    from moonshot.evaluation.planning import make_planner

    env = gym.make("moonshot/CityNav-v0", traffic_cars=0)
    planner = make_planner("city")
    counts = {"reckless": 0, "planner": 0}
    for seed in range(4):
        for who in counts:
            obs, info = env.reset(seed=seed)
            assert info["red_lights_run"] == 0
            if who == "planner":
                planner.begin_episode(env.unwrapped.perceive(), obs, info)
            steps_on_red, done = 0, False
            while not done:
                act = planner.predict(obs)[0] if who == "planner" else _reckless(obs)
                obs, _, term, trunc, info = env.step(act)
                steps_on_red += info["ran_red_light"]
                done = term or trunc
            assert info["red_lights_run"] == steps_on_red
            counts[who] += steps_on_red
    env.close()
    assert counts["planner"] == 0 and counts["reckless"] >= 1


def test_rule_penalties_are_opt_in_and_paid_per_violation():
    env = gym.make("moonshot/CityNav-v0", traffic_cars=0, reward_red_light=-5.0,
                   reward_speeding=-0.1)
    obs, info = env.reset(seed=0)
    paid = {"red_light": 0.0, "speeding": 0.0}
    speeding_steps, done = 0, False
    while not done:
        obs, _, term, trunc, info = env.step(_reckless(obs))
        for k in paid:
            paid[k] += info["reward_terms"][k]
        speeding_steps += info["speeding"]
        done = term or trunc
    assert info["red_lights_run"] >= 1 and speeding_steps >= 1
    assert paid["red_light"] == pytest.approx(-5.0 * info["red_lights_run"])
    assert paid["speeding"] == pytest.approx(-0.1 * speeding_steps)
    default = gym.make("moonshot/CityNav-v0", traffic_cars=0)
    default.reset(seed=0)
    terms = default.step(np.zeros(2, np.float32))[4]["reward_terms"]
    assert terms["red_light"] == 0.0 and terms["speeding"] == 0.0
