"""The information rule, enforced: planners get a perception view, never the env; an honest
view holds nothing private and refuses to give it; the oracle is the only way to it."""

import gc
import types

import gymnasium as gym
import numpy as np
import pytest

import moonshot  # noqa: F401
from moonshot.agents import CityPlanner, MoonPlanner, run_episode
from moonshot.envs.perception import PerceptionError
from moonshot.physics.city.bullet_city import CityWorld
from moonshot.physics.city.signals import Signals
from moonshot.physics.city.traffic import Traffic


class SealedEnv:
    """An env that lets its user call reset, step and perceive, and nothing else: any other
    attribute (the world, the traffic, the random generator, the lights' plans) raises."""

    def __init__(self, env):
        object.__setattr__(self, "_env", env)

    @property
    def unwrapped(self):
        return self

    def reset(self, **kw):
        return self._env.reset(**kw)

    def step(self, action):
        return self._env.step(action)

    def perceive(self, mode="honest"):
        return self._env.perceive(mode)

    def __getattr__(self, name):
        raise AssertionError(f"the agent reached into the env for {name!r}")


def _reachable(root, depth: int = 6) -> list:
    """Objects reachable from ``root`` through references (modules and classes aside)."""
    seen, frontier, out = {id(root)}, [root], []
    for _ in range(depth):
        nxt = []
        for obj in frontier:
            for ref in gc.get_referents(obj):
                if id(ref) in seen or isinstance(ref, (type, types.ModuleType,
                                                       types.FunctionType)):
                    continue
                seen.add(id(ref))
                out.append(ref)
                nxt.append(ref)
        frontier = nxt
    return out


@pytest.mark.parametrize("env_id", ["moonshot/CityNav-v0", "moonshot/CityNav-v1"])
def test_the_city_planner_drives_through_a_sealed_env(env_id):
    env = gym.make(env_id, split="new", traffic_cars=20).unwrapped
    rec = run_episode(CityPlanner(), SealedEnv(env), seed=3)
    assert rec.outcome == "arrived" and rec.model_rollouts > 0


def test_moon_planner_plans_through_a_sealed_env():
    env = gym.make("moonshot/MoonLaunch-v1", target="soi").unwrapped
    rec = run_episode(MoonPlanner(), SealedEnv(env), seed=1)
    assert rec.success and rec.model_rollouts > 0


@pytest.mark.parametrize("env_id", ["moonshot/CityNav-v0", "moonshot/CityNav-v1"])
def test_an_honest_city_view_holds_nothing_private(env_id):
    from moonshot.physics.city.batch import CityBatch

    env = gym.make(env_id, traffic_cars=30).unwrapped
    env.reset(seed=5)
    view = env.perceive("honest")
    for name in ("traffic", "signals", "np_random", "world", "route", "city"):
        with pytest.raises(PerceptionError, match="honest"):
            getattr(view, name)
    with pytest.raises(PerceptionError):
        view.cars = None  # read-only
    with pytest.raises(ValueError):
        view.cars[0, 0] = 1.0  # arrays are read-only too
    reached = _reachable(view)
    assert not any(isinstance(o, (gym.Env, CityWorld, CityBatch, Traffic, Signals,
                                  np.random.Generator)) for o in reached)
    assert not any(hasattr(o, "node_offset") for o in reached)  # no signal plan either
    # it sees what is in sight only: never more cars than the oracle, and the ones it sees
    # are the true ones
    oracle = env.perceive("oracle")
    for _ in range(30):
        env.step(np.array([0.3, 0.0], np.float32))
        assert len(view.cars) <= len(oracle.cars)
        for car in view.cars:
            assert np.min(np.abs(oracle.cars[:, :2] - car[:2]).sum(axis=1)) < 1e-9
        assert set(view.lights) <= set(oracle.lights)
    assert oracle.traffic is not None and oracle.signals is not None


@pytest.mark.parametrize("env_id", ["moonshot/CityNav-v0", "moonshot/CityNav-v1"])
def test_sensor_range_and_buildings_hide_cars(env_id):
    env = gym.make(env_id, traffic_cars=60).unwrapped
    hidden = in_range = 0
    for seed in range(3):
        env.reset(seed=seed)
        view, oracle = env.perceive(), env.perceive("oracle")
        for _ in range(60):
            env.step(np.array([0.2, 0.0], np.float32))
            x, y = view.ego[:2]
            d = np.hypot(*(oracle.cars[:, :2] - [x, y]).T)
            assert np.all(np.hypot(view.cars[:, 0] - x, view.cars[:, 1] - y) < 50.0)
            in_range += int(np.sum(d < 50.0))
            hidden += int(np.sum(d < 50.0)) - len(view.cars)
    assert 0 < hidden < in_range  # some cars within range stand behind buildings


def test_moon_view_is_the_published_constants():
    env = gym.make("moonshot/MoonLaunch-v1").unwrapped
    env.reset(seed=0)
    view = env.perceive()
    assert set(view.constants) >= {"gm_earth", "gm_moon", "moon_soi"}
    with pytest.raises(PerceptionError):
        view.moon_eccentricity  # noqa: B018 - the honest view has no exact ellipse
    assert env.perceive("oracle").moon_eccentricity == pytest.approx(0.0549)
    assert not any(isinstance(o, np.random.Generator) for o in _reachable(view))
