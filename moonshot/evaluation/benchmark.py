"""Throughput of moonshot's environments, planners and training, next to peers, in one run.

Peers (optional extra ``bench``): Gymnasium's ``LunarLander-v3`` (Box2D) and highway-env's
``intersection-v0``. Every figure is a median over repeats, measured on one core in this
process (the vectorized CityNav figure uses one subprocess per core).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..runlog import atomic_write_text, write_json
from ..worlds import load_ref, worlds

if TYPE_CHECKING:
    from ..envs.city_v1 import CityNavV1Env


def _median_rate(fn: Callable[[float], tuple[int, float]], repeats: int,
                 seconds: float) -> float:
    """Median over ``repeats`` of ``count / elapsed`` from ``fn(seconds)``."""
    rates = []
    for _ in range(repeats):
        n, dt = fn(seconds)
        rates.append(n / dt)
    return float(np.median(rates))


def _random_steps(env, seconds: float, seed: int = 0) -> tuple[int, float]:
    env.reset(seed=seed)
    env.action_space.seed(seed)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        n += 1
        if term or trunc:
            env.reset()
    return n, time.perf_counter() - t0


def _make_measured(env_id: str, **kwargs):
    """``gym.make`` of an env the benchmark measures: the v0 versions on purpose (the
    figures are comparable across rounds), so Gymnasium's "out of date" warning is not shown
    (a user who makes a v0 env still sees it)."""
    import warnings

    import gymnasium as gym

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is out of date", category=DeprecationWarning)
        return gym.make(env_id, **kwargs)


def moon_figures(repeats: int, seconds: float, quick: bool = False,
                 workdir: Path | None = None) -> dict:
    """MoonLaunch: single and batched launches per second, the planner's plan time and (not
    ``quick``) PPO training throughput."""

    from ..envs.moon_vector import MoonLaunchVectorEnv

    env = _make_measured("moonshot/MoonLaunch-v0").unwrapped
    env.reset(seed=0)
    env.step(env.action_space.sample())  # compile / load the numba cache
    single = _median_rate(lambda s: _random_steps(env, s), repeats, seconds)

    vec = MoonLaunchVectorEnv(num_envs=256)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)

    def batched(s: float) -> tuple[int, float]:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < s:
            vec.step(rng.uniform(-1, 1, (256, 3)))
            n += 256
        return n, time.perf_counter() - t0

    out = {"moon_single_launches_per_s": single,
           "moon_single_launch_ms": 1e3 / single,
           "moon_vec256_launches_per_s": _median_rate(batched, repeats, seconds)}
    out.update(moon_planner_figures(10 if quick else 100))
    if not quick and workdir is not None:
        out.update(training_figures("moon", 200_000, workdir))
    return out


def city_figures(repeats: int, seconds: float, quick: bool = False,
                 workdir: Path | None = None) -> dict:
    """CityNav: steps per second of the single env (v1, and v0 beside it), of the batched v1
    env with 16 cities (and its ratio to the single env), map resets, the planner's decision
    time and (not ``quick``) PPO training throughput."""
    import gymnasium as gym

    out: dict = {}
    for version, key in (("v1", "city"), ("v0", "city_v0")):
        env = _make_measured(f"moonshot/CityNav-{version}", lidar_rays=32, traffic_cars=20)
        t0 = time.perf_counter()
        env.reset(seed=123)
        first_reset = time.perf_counter() - t0
        resets = []
        for k in range(5):
            t0 = time.perf_counter()
            env.reset(options={"map_seed": 1000 + k})
            resets.append(time.perf_counter() - t0)
        rate = _median_rate(partial(_random_steps, env), repeats, seconds)
        out.update({f"{key}_steps_per_s": rate, f"{key}_sim_s_per_wall_s": rate * 0.1,
                    f"{key}_first_reset_s": first_reset,
                    f"{key}_new_map_reset_ms": 1e3 * float(np.median(resets))})
        env.close()
    vec = gym.make_vec("moonshot/CityNav-v1", num_envs=16,
                       vectorization_mode="vector_entry_point", traffic_cars=20)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)

    def batched(s: float) -> tuple[int, float]:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < s:
            vec.step(rng.uniform(-1, 1, (16, 2)).astype(np.float32))
            n += 16
        return n, time.perf_counter() - t0

    out["city_vec16_steps_per_s"] = _median_rate(batched, repeats, seconds)
    out["city_vec16_over_single"] = out["city_vec16_steps_per_s"] / out["city_steps_per_s"]
    vec.close()
    out.update(city_planner_figures(50 if quick else 1000))
    if not quick and workdir is not None:
        out.update(training_figures("city", 204_800, workdir))
        # the old path beside it: CityNav-v0 in SB3's DummyVecEnv, one thread throughout
        out.update(training_figures("city", 81_920, workdir, env="moonshot/CityNav-v0",
                                    key="city_v0_1thread", update_threads=1, env_workers=1))
    return out


def moon_planner_figures(moon_scenarios: int) -> dict:

    from ..agents import MoonPlanner

    env = _make_measured("moonshot/MoonLaunch-v0").unwrapped
    planner = MoonPlanner()
    times = []
    for sid in range(moon_scenarios + 1):
        obs, info = env.reset(options={"scenario_id": sid})
        planner.begin_episode(env.perceive(), obs, info)
        t0 = time.process_time()
        planner.predict(obs)
        times.append(time.process_time() - t0)
    return {"moon_planner_plan_ms_median": 1e3 * float(np.median(times[1:]))}


def decision_times(env: Any, agent: Any, steps: int, seed: int = 0) -> np.ndarray:
    """CPU seconds of each of ``steps`` decisions of ``agent`` acting in ``env`` (unwrapped),
    from ``reset(seed)``, a new episode begun wherever one ends (a plug-in world's benchmark
    uses it too)."""
    from ..agents.base import perception_view

    obs, info = env.reset(seed=seed)
    agent.begin_episode(perception_view(agent, env), obs, info)
    dts = []
    for _ in range(steps):
        t0 = time.process_time()
        action, _ = agent.predict(obs)
        dts.append(time.process_time() - t0)
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            agent.end_episode(info)
            obs, info = env.reset()
            agent.begin_episode(perception_view(agent, env), obs, info)
    return np.array(dts)


def city_planner_figures(city_steps: int) -> dict:
    import gymnasium as gym

    from ..agents.city import CityPlanner

    cenv = cast("CityNavV1Env", gym.make("moonshot/CityNav-v1", split="new").unwrapped)
    dts = decision_times(cenv, CityPlanner(), city_steps)
    cenv.close()
    return {"city_planner_decision_ms_median": 1e3 * float(np.median(dts)),
            "city_planner_decision_ms_p95": 1e3 * float(np.percentile(dts, 95))}


def training_figures(world: str, steps: int, workdir: Path, env: str | None = None,
                     key: str | None = None, **settings: Any) -> dict:
    """PPO with the packaged defaults on ``world`` (or its env ``env``; ``settings``: other
    TrainConfig fields): env steps per second of the training alone (start-up and the two
    evaluations, before and after, left out)."""
    from ..agents.config import TrainConfig
    from ..agents.training import train
    from ..runlog import read_episodes, read_evaluations

    folder = workdir / f"train-{key or world}"
    train(TrainConfig(env=env or world, algo="ppo", timesteps=steps, out=str(folder), seed=0,
                      eval_every=10 * steps, eval_episodes=1, checkpoint_every=10 * steps,
                      progress=False, **settings))
    # from the end of the evaluation at step 0 to the last episode logged
    t_first = float(read_evaluations(folder)[1]["wall_time_s"])
    log = read_episodes(folder)
    seconds = float(log["wall_time_s"][-1]) - t_first
    return {f"{key or world}_ppo_train_steps_per_s":
            int(log["env_steps"][-1]) / max(seconds, 1e-9)}


def peer_figures(repeats: int, seconds: float) -> dict:
    """LunarLander-v3 and highway-env intersection-v0 with random actions, if installed."""
    import gymnasium as gym

    out: dict = {}
    try:
        env = gym.make("LunarLander-v3", continuous=True)
        out["lunarlander_steps_per_s"] = _median_rate(lambda s: _random_steps(env, s), repeats,
                                                      seconds)
        out["lunarlander_sim_s_per_wall_s"] = out["lunarlander_steps_per_s"] / 50.0  # 50 FPS
        env.close()
    except Exception as exc:  # not installed (Box2D) or broken: say so in the table
        out["lunarlander_error"] = f"{type(exc).__name__}: {exc}"[:200]
    try:
        import highway_env  # noqa: F401

        env = gym.make("intersection-v0", config={"action": {"type": "ContinuousAction"}})
        out["intersection_steps_per_s"] = _median_rate(lambda s: _random_steps(env, s), repeats,
                                                       seconds)
        freq = cast(Any, env.unwrapped).config.get("policy_frequency", 1)  # highway-env
        out["intersection_sim_s_per_wall_s"] = out["intersection_steps_per_s"] / freq
        env.close()
    except Exception as exc:
        out["intersection_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return out


ROWS = [
    ("MoonLaunch launch (`env.step`), single env", "moon_single_launch_ms", "ms"),
    ("MoonLaunch launches/s, single env", "moon_single_launches_per_s", "1/s"),
    ("MoonLaunch launches/s, batched env (256)", "moon_vec256_launches_per_s", "1/s"),
    ("CityNav-v1 steps/s, single env (32 rays, 20 cars)", "city_steps_per_s", "1/s"),
    ("CityNav-v1 simulated s per wall s, single env", "city_sim_s_per_wall_s", "x"),
    ("CityNav-v1 steps/s, batched env (16 cities)", "city_vec16_steps_per_s", "1/s"),
    ("CityNav-v1 batched (16) / single env", "city_vec16_over_single", "x"),
    ("CityNav-v0 steps/s, single env (Bullet lidar)", "city_v0_steps_per_s", "1/s"),
    ("CityNav-v1 reset on a new map", "city_new_map_reset_ms", "ms"),
    ("MoonPlanner plan per scenario, median", "moon_planner_plan_ms_median", "ms"),
    ("CityPlanner decision, median", "city_planner_decision_ms_median", "ms"),
    ("CityPlanner decision, 95th percentile", "city_planner_decision_ms_p95", "ms"),
    ("PPO training on MoonLaunch", "moon_ppo_train_steps_per_s", "steps/s"),
    ("PPO training on CityNav-v1 (packaged defaults)", "city_ppo_train_steps_per_s",
     "steps/s"),
    ("PPO training on CityNav-v0, one thread, single envs (the old path)",
     "city_v0_1thread_ppo_train_steps_per_s", "steps/s"),
    ("peer: LunarLander-v3 steps/s (random)", "lunarlander_steps_per_s", "1/s"),
    ("peer: LunarLander-v3 simulated s per wall s", "lunarlander_sim_s_per_wall_s", "x"),
    ("peer: highway-env intersection-v0 steps/s (random)", "intersection_steps_per_s", "1/s"),
    ("peer: intersection-v0 simulated s per wall s", "intersection_sim_s_per_wall_s", "x"),
]


def ratios(res: dict) -> dict:
    out = {}
    if "intersection_steps_per_s" in res and "city_steps_per_s" in res:
        out["CityNav / intersection-v0, steps per second"] = (
            res["city_steps_per_s"] / res["intersection_steps_per_s"])
        out["CityNav / intersection-v0, simulated seconds per wall second"] = (
            res["city_sim_s_per_wall_s"] / res["intersection_sim_s_per_wall_s"])
    if "lunarlander_steps_per_s" in res and "moon_vec256_launches_per_s" in res:
        out["MoonLaunch batched launches / LunarLander steps, per second"] = (
            res["moon_vec256_launches_per_s"] / res["lunarlander_steps_per_s"])
    return out


def _figure(v: float) -> str:
    return f"{v:,.3g}" if v < 100 else f"{v:,.0f}"


def markdown(res: dict) -> str:
    lines = ["| figure | value | unit |", "|---|---|---|"]
    for label, key, unit in ROWS:
        if key in res:
            lines.append(f"| {label} | {_figure(res[key])} | {unit} |")
    # figures of worlds this table does not name (a plug-in's), under their own keys
    named = {key for _, key, _ in ROWS} | {"repeats", "seconds_per_repeat"}
    for key, v in res.items():
        if key not in named and isinstance(v, (int, float)) and not isinstance(v, bool):
            lines.append(f"| `{key}` | {_figure(v)} | |")
    for key in ("lunarlander_error", "intersection_error"):
        if key in res:
            lines.append(f"| {key.split('_')[0]} not measured | {res[key]} | |")
    r = ratios(res)
    if r:
        lines += ["", "| ratio | value |", "|---|---|"]
        lines += [f"| {k} | {v:,.1f}x |" for k, v in r.items()]
    return "\n".join(lines) + "\n"


def run_benchmark(out: Path, quick: bool = False, progress: bool = True) -> dict:
    """Run every figure (``quick``: a smoke-sized run, under a minute) and write
    ``benchmark.json`` and ``benchmark.md`` into ``out``."""
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    repeats, seconds = (1, 0.5) if quick else (5, 3.0)
    res: dict = {"quick": quick, "machine": platform.platform(),
                 "python": platform.python_version(), "repeats": repeats,
                 "seconds_per_repeat": seconds}
    with tempfile.TemporaryDirectory() as tmp:
        for world in worlds():
            if world.benchmark is None:
                continue
            if progress:
                print(f"benchmark: {world.title} ...", flush=True)
            res.update(load_ref(world.benchmark)(repeats, seconds, quick, Path(tmp)))
        if progress:
            print("benchmark: peers ...", flush=True)
        res.update(peer_figures(repeats, seconds))
    res["ratios"] = ratios(res)
    write_json(out / "benchmark.json", res)
    md = markdown(res)
    atomic_write_text(out / "benchmark.md", md)
    return {"results": res, "markdown": md}
