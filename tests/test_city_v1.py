"""CityNav-v1: tyres and a steering rack, the batched env, its settings."""

import math

import gymnasium as gym
import numpy as np
import pytest

import moonshot  # noqa: F401
from moonshot.envs.city_perception import weather_of
from moonshot.envs.city_v1 import CityNavV1Env, CityNavVectorEnv
from moonshot.errors import ConfigError
from moonshot.physics.city.ego import VEHICLES, EgoParams, G, bicycle_update, tyre_update


@pytest.mark.parametrize("friction", [0.9, 0.6, 0.3, 0.1])
def test_full_lock_at_top_speed_stays_within_the_friction_circle(friction):
    car = tuple(EgoParams().bicycle)
    x = y = h = steer = 0.0
    v = 16.7
    worst = 0.0
    for _ in range(80):
        x1, y1, h1, v1, steer = tyre_update(x, y, h, v, steer, 0.0, 0.55, 0.1, car,
                                            (friction, 0.55))
        dh = (h1 - h + math.pi) % (2 * math.pi) - math.pi
        worst = max(worst, abs(v * dh / 0.1))
        x, y, h, v = x1, y1, h1, v1
    assert worst <= friction * G * 1.05
    assert worst >= friction * G * 0.9 or friction * G > 16.7**2 * 0.2  # it does turn hard
    # v0's car: full lock at top speed is about 6 g
    _, _, h2, _ = bicycle_update(0.0, 0.0, 0.0, 16.7, 0.0, 0.55, 0.1, car)
    assert 16.7 * h2 / 0.1 > 5 * G


def test_the_wheels_turn_at_the_steering_rate_and_braking_is_limited_by_grip():
    car = tuple(EgoParams().bicycle)
    steer = 0.0
    for _ in range(5):
        *_, steer = tyre_update(0.0, 0.0, 0.0, 5.0, steer, 0.0, 0.55, 0.1, car, (0.9, 0.55))
    assert steer == pytest.approx(5 * 0.055)
    _, _, _, v, _ = tyre_update(0.0, 0.0, 0.0, 10.0, 0.0, -6.0, 0.0, 0.1, car, (0.1, 0.55))
    assert v == pytest.approx(10.0 - 0.1 * G * 0.1)  # ice: 0.98 m/s², not 6


@pytest.mark.parametrize("settings", [{}, {"road_friction": [0.3, 0.9],
                                           "observe_friction": True}])
def test_the_batched_env_drives_the_single_envs_drives(settings):
    n, steps = 4, 300
    vec = gym.make_vec("moonshot/CityNav-v1", num_envs=n, vectorization_mode="vector_entry_point",
                       traffic_cars=25, **settings)
    assert isinstance(vec.unwrapped, CityNavVectorEnv)
    rng = np.random.default_rng(7)
    acts = rng.uniform(-0.3, 1.0, (steps, n, 2)).astype(np.float32)
    obs, _ = vec.reset(seed=20)
    vobs, vrew, ends = [obs], [], 0
    for t in range(steps):
        obs, r, term, trunc, info = vec.step(acts[t])
        vobs.append(obs)
        vrew.append(r)
        ends += int((term | trunc).sum())
    assert ends > 0  # the autoreset is exercised
    vobs, vrew = np.array(vobs), np.array(vrew)
    for i in range(n):
        env = gym.make("moonshot/CityNav-v1", traffic_cars=25, **settings)
        obs, _ = env.reset(seed=20 + i)
        sobs, srew = [obs], []
        for t in range(steps):
            obs, r, term, trunc, _ = env.step(acts[t, i])
            srew.append(r)
            if term or trunc:
                obs, _ = env.reset()
            sobs.append(obs)
        assert np.array_equal(np.array(sobs), vobs[:, i]), i
        assert np.array_equal(np.array(srew), vrew[:, i]), i


def test_v1_passes_the_checkers_and_v0_stays_registered():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check

    for split in ("train", "new"):
        env = gym.make("moonshot/CityNav-v1", split=split).unwrapped
        check_env(env, skip_render_check=True)
        sb3_check(env)
    assert gym.spec("moonshot/CityNav-v0").entry_point.endswith("CityNavEnv")


@pytest.mark.parametrize("settings", [{}, {"road_friction": [0.1, 0.9]}])
def test_same_seed_same_drive_and_state_round_trip(settings):
    env = CityNavV1Env(**settings)
    env.reset(seed=4)
    for _ in range(50):
        env.step(np.array([0.5, 0.1], np.float32))
    state = env.get_state()
    a = [env.step(np.array([0.4, -0.2], np.float32))[0] for _ in range(40)]
    mu = env.road_friction
    env.reset(seed=5)  # another drive (another road, with a range) in between
    env.set_state(state)
    assert env.road_friction == mu
    b = [env.step(np.array([0.4, -0.2], np.float32))[0] for _ in range(40)]
    assert np.array_equal(np.array(a), np.array(b))


def test_a_friction_range_draws_one_road_per_drive_and_can_be_observed():
    fixed = CityNavV1Env()
    ranged = CityNavV1Env(road_friction=[0.2, 0.8], observe_friction=True)
    assert ranged.observation_space.shape[0] == fixed.observation_space.shape[0] + 1
    seen = []
    for seed in range(12):
        obs0, info0 = fixed.reset(seed=seed)
        obs, info = ranged.reset(seed=seed)
        mu = ranged.road_friction
        assert 0.2 <= mu <= 0.8 and obs[-1] == np.float32(mu)
        # the planner's view: the weather of the same road (the oracle's: the coefficient)
        assert ranged.perceive().weather == weather_of(mu)
        assert ranged.perceive("oracle").road_friction == mu
        # the same drive (map, route, traffic) as on the fixed road: only the grip differs
        assert np.array_equal(obs[:-1], obs0) and info["map_id"] == info0["map_id"]
        assert ranged.observation_space.contains(obs)
        seen.append(mu)
        a = np.array([1.0, 0.0], np.float32)
        for _ in range(20):
            obs, *_ = ranged.step(a)
            assert obs[-1] == np.float32(mu)  # constant through the drive
    assert len(set(seen)) == len(seen) and max(seen) - min(seen) > 0.3
    again = CityNavV1Env(road_friction=[0.2, 0.8], observe_friction=True)
    again.reset(seed=3)
    ranged.reset(seed=3)
    assert again.road_friction == ranged.road_friction  # the seed fixes the road
    # the objects observation carries it too; a fixed road observed is that number
    obs, _ = CityNavV1Env(observation="objects", observe_friction=True,
                          road_friction=0.45).reset(seed=0)
    assert obs[-1] == np.float32(0.45)


def test_the_grip_drawn_is_the_grip_driven():
    """Braking hard from speed on the drawn road decelerates at that road's limit."""
    env = CityNavV1Env(road_friction=[0.1, 0.3], traffic_cars=0)
    env.reset(seed=2)
    for _ in range(40):
        env.step(np.array([1.0, 0.0], np.float32))
    v0 = env.world.ego[3]
    env.step(np.array([-1.0, 0.0], np.float32))
    assert v0 - env.world.ego[3] == pytest.approx(env.road_friction * G * env.dt, rel=1e-6)


@pytest.mark.parametrize("value", [[0.9, 0.3], [0, 0.5], [0.5, 3], [0.5], "wet", None,
                                   [0.2, 0.4, 0.6]])
def test_bad_friction_ranges_are_named(value):
    with pytest.raises(ConfigError, match="road_friction"):
        CityNavV1Env(road_friction=value)


def test_observe_friction_must_be_a_bool():
    with pytest.raises(ConfigError, match="observe_friction"):
        CityNavV1Env(observe_friction="yes")


@pytest.mark.parametrize("key,value", [
    ("lidar_range", 0), ("lidar_range", -5), ("time_limit", 0), ("goal_radius", -1),
    ("route_length", [600, 250]), ("route_length", [-5, 10]), ("render_size", 0),
    ("lidar_rays", 2.5), ("traffic_cars", 10**9), ("traffic_cars", -1),
    ("road_friction", 0), ("vehicle", "bus"), ("observation", "pixels"), ("layout", "maze"),
    ("driving_side", "middle"), ("map_seed", -3), ("num_train_maps", 0)])
def test_bad_settings_name_their_key(key, value):
    with pytest.raises(ConfigError, match=key):
        CityNavV1Env(**{key: value})
    if key in moonshot.envs.CityNavEnv.default_config():
        with pytest.raises(ConfigError, match=key):
            moonshot.envs.CityNavEnv(**{key: value})


@pytest.mark.parametrize("bad", ["x", -3, 2**40, 1.5])
def test_bad_map_seed_option_is_named(bad):
    env = CityNavV1Env()
    with pytest.raises(ConfigError, match="map_seed"):
        env.reset(seed=0, options={"map_seed": bad})


def test_objects_observation_is_what_the_driver_sees():
    from moonshot.agents import CityPlanner

    env = CityNavV1Env(observation="objects", traffic_cars=60, objects=5)
    lay = env.observation_layout
    assert env.observation_space.shape == (lay.size,) and "lidar" not in lay.slices
    obs, info = env.reset(seed=1)
    view = env.perceive()
    driver = CityPlanner()
    driver.begin_episode(view, obs, info)
    seen = 0
    for _ in range(300):
        obs, _, term, trunc, _ = env.step(driver.predict(obs)[0])
        cars = obs[lay.slices["objects"]].reshape(5, 7)
        present = int(cars[:, 0].sum())
        assert present == min(5, len(view.cars))
        assert np.all(cars[:present, 1:3] ** 2 <= 1.0)  # within sensor range
        seen += present > 0
        assert env.observation_space.contains(obs)
        if term or trunc:
            break
    assert seen > 0


@pytest.mark.parametrize("settings", [{"layout": "t_junctions"}, {"driving_side": "left"},
                                      {"vehicle": "truck"}, {"road_friction": 0.3},
                                      {"lidar_noise": 1.0}])
def test_shifted_worlds_run(settings):
    env = CityNavV1Env(**settings)
    obs, info = env.reset(seed=2)
    for _ in range(20):
        obs, r, term, trunc, info = env.step(np.array([0.5, 0.0], np.float32))
        assert np.isfinite(r) and env.observation_space.contains(obs)
        if term or trunc:
            break
    if "vehicle" in settings:
        assert env.perceive().vehicle == VEHICLES["truck"]


def test_left_hand_traffic_mirrors_the_city():
    from moonshot.physics.city.drive import cached_city

    right, left = cached_city(5), cached_city(5, "default", "left")
    assert np.allclose(left.nodes[:, 0], -right.nodes[:, 0])
    assert np.allclose(left.lanes.pts[..., 0], -right.lanes.pts[..., 0])
    assert np.array_equal(left.lanes.succ_idx, right.lanes.succ_idx)


def test_a_batch_split_across_worker_processes_drives_the_same_episodes():
    from moonshot.agents.vec import WorkerVecEnv, make_vec_env

    one = make_vec_env("city", 6, seed=3, env_kwargs={"time_limit": 5.0})
    two = make_vec_env("city", 6, seed=3, env_kwargs={"time_limit": 5.0}, workers=2)
    try:
        assert isinstance(two, WorkerVecEnv)
        a, b = one.reset(), two.reset()
        assert np.array_equal(a, b)
        rng = np.random.default_rng(0)
        for _ in range(60):  # past the 5 s time limit: autoresets on both
            act = rng.uniform(-1, 1, (6, 2)).astype(np.float32)
            oa, ra, da, ia = one.step(act)
            ob, rb, db, ib = two.step(act)
            assert np.array_equal(oa, ob) and np.array_equal(ra, rb) and np.array_equal(da, db)
            assert [i.get("outcome") for i in ia] == [i.get("outcome") for i in ib]
        state = two.get_state()
        two.set_state(state)
        assert len(state) == 2
    finally:
        one.close()
        two.close()


def test_a_failing_or_dead_worker_is_an_error_not_a_hang():
    import os
    import signal

    from moonshot.agents.vec import WorkerError, make_vec_env

    vec = make_vec_env("city", 4, seed=0, env_kwargs={"time_limit": 5.0}, workers=2)
    try:
        vec.reset()
        with pytest.raises(WorkerError, match="failed:(.|\n)*Error"):
            vec.step(np.zeros((4, 7), dtype=np.float32))  # not the action shape
        os.kill(vec._procs[1].pid, signal.SIGKILL)
        with pytest.raises(WorkerError, match="died"):
            vec.reset()
    finally:
        vec.close()
    with pytest.raises(WorkerError, match="traffic_cars"):
        make_vec_env("city", 4, seed=0, env_kwargs={"traffic_cars": -5}, workers=2)


def test_worker_processes_are_opt_in_and_only_where_episodes_stay_the_same():
    from moonshot.agents.config import TrainConfig, env_workers

    assert env_workers(TrainConfig(env="city"), "moonshot/CityNav-v1", 8) == 1
    assert env_workers(TrainConfig(env="city", env_workers=2), "moonshot/CityNav-v1", 8) == 2
    # MoonLaunch's batched env seeds its slots on their own too (seed + i)
    assert env_workers(TrainConfig(env="moon", env_workers=2), "moonshot/MoonLaunch-v1",
                       256) == 2
    with pytest.raises(ValueError, match="CityNav-v0 cannot split"):  # no native vector env
        env_workers(TrainConfig(env="city", env_workers=2), "moonshot/CityNav-v0", 8)


def test_a_fixed_road_is_a_condition_of_the_task_a_range_is_training_randomization():
    city = moonshot.get_world("city")
    assert city.evaluation_kwargs({"road_friction": 0.3, "traffic_cars": 5}) == {
        "road_friction": 0.3, "traffic_cars": 5}  # trained on snow: evaluated on snow
    assert city.evaluation_kwargs({"road_friction": [0.3, 0.9], "observe_friction": True}) == {
        "observe_friction": True}  # randomized: evaluated on the split's own road


def test_restoring_a_drive_restores_its_road_for_the_planner_and_reads_older_states():
    env = CityNavV1Env(road_friction=[0.1, 0.9])
    env.reset(seed=4)
    view = env.perceive("oracle")
    state = env.get_state()
    mu = env.road_friction
    env.reset(seed=9)
    assert env.perceive("oracle").road_friction != mu
    env.set_state(state)
    assert env.perceive("oracle") is view and view.road_friction == mu == env.road_friction
    assert env.perceive().weather == weather_of(mu)
    # a state saved before the road was per drive (no "friction"): the configured road
    fixed = CityNavV1Env(road_friction=0.6)
    fixed.reset(seed=1)
    old = fixed.get_state()
    del old["drive"]["friction"]
    fixed.reset(seed=2)
    fixed.set_state(old)
    assert fixed.road_friction == 0.6
