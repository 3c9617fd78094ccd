"""The simulator-search baseline: CEM in a sealed copy of the env, counted like a planner."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import moonshot
from moonshot.agents.base import run_episode
from moonshot.agents.loading import resolve_agent
from moonshot.agents.simulator_search import SimulatorMPC, SimulatorSearch
from moonshot.envs.city_v1 import CityNavV1Env
from moonshot.envs.moon_launch import MoonLaunchEnv
from moonshot.envs.perception import Rehearsal
from moonshot.errors import ConfigError
from moonshot.evaluation.rollout import run_scenarios

REACHED_SOI = {"entered_soi", "flyby", "landed"}


def test_search_moon_evaluates_from_the_command_line(tmp_path):
    out = tmp_path / "eval"
    env = {**os.environ, "PYTHONPATH": str(Path(moonshot.__file__).parent.parent)}
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", "search:moon",
                          "--episodes", "20", "--split", "train", "--out", str(out)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    logs = list(out.glob("episodes/*/episodes.csv"))
    assert len(logs) == 1 and "simulator-search" in logs[0].parent.name
    rows = list(csv.DictReader(logs[0].open()))
    assert {int(r["model_rollouts"]) for r in rows} == {99}  # 3 iterations x 33 per launch
    first = [r for r in rows if r["trial"] == "1"]
    assert len(first) == 20
    assert sum(r["outcome"] in REACHED_SOI for r in first) >= 15


def test_a_rehearsal_is_a_sealed_copy_with_its_own_noise():
    env = MoonLaunchEnv(target="soi")
    env.reset(seed=4)
    before = env.np_random.bit_generator.state
    rehearsal = env.perceive("simulator")
    assert isinstance(rehearsal, Rehearsal)
    action = np.array([0.1, 0.0, 0.0], np.float32)
    infos = [rehearsal.rehearse(action)[1] for _ in range(2)]
    assert rehearsal.rehearsals == 2
    # the copy draws its own burn errors, and the real env's next draws stay untouched
    assert infos[0]["delta_v_kms"] != infos[1]["delta_v_kms"]
    assert env.np_random.bit_generator.state == before
    assert infos[0]["map_id"] == env.scenario.scenario_id[0]
    for name in ("scenario", "np_random", "env", "_step", "__dict__"):
        assert not hasattr(rehearsal, name)
    with pytest.raises(AttributeError):
        rehearsal.scenario = None


def test_search_counts_every_rehearsal_and_continues_on_a_retry():
    env = MoonLaunchEnv(target="landing", execution_error=30.0)
    agent = SimulatorSearch(population=10, iterations=2, elites=3)
    recs = run_scenarios(agent, env, n=6, seed=0, split="train", scenario_ids=range(6),
                         max_trials=3, progress=False)
    assert all(r.model_rollouts == 20 for r in recs)
    assert all(r.compute_s > 0 for r in recs)
    retried = [r.map_id for r in recs if r.trial == 2]
    assert retried  # with 30x the burn noise and 20 rehearsals, some launches miss
    key = ("train", retried[0])
    assert key in agent._search
    agent.forget()
    assert not agent._search


def test_search_takes_the_form_of_its_world_and_checks_its_options():
    spec = resolve_agent("search:moon:population=8,iterations=2")
    assert spec.agent.population == 8 and spec.agent.perception == "simulator"
    assert spec.label == "simulator-search" and spec.env_id == "moonshot/MoonLaunch-v1"
    assert isinstance(spec.agent, SimulatorSearch)
    city = resolve_agent("search:city:population=6,horizon=12,knots=3,replan=4")
    assert isinstance(city.agent, SimulatorMPC) and city.label == "simulator-search"
    assert city.env_id == "moonshot/CityNav-v1" and city.agent.perception == "simulator"
    with pytest.raises(ConfigError, match="replan"):
        resolve_agent("search:city:horizon=12,knots=3,replan=5")
    with pytest.raises(ConfigError, match="elites"):
        resolve_agent("search:moon:elites=50")
    with pytest.raises(ConfigError, match="popsize"):
        resolve_agent("search:moon:popsize=5")
    with pytest.raises(ConfigError, match="needs a world"):
        resolve_agent("search")


def test_evaluate_env_kwargs_reach_the_env_and_a_bad_one_writes_nothing(tmp_path, monkeypatch):
    """``moonshot evaluate --env-kwargs`` sets the task of agents that carry no env settings
    (``search:moon``, ``planner:moon``); a value the env refuses is an error before writing."""
    from moonshot.evaluation import experiments, transfer

    seen = []
    real = transfer.evaluate_agent

    def spy(spec, settings, out=None):
        seen.append(dict(spec.env_kwargs))
        return real(spec, settings, out=out)

    monkeypatch.setattr(transfer, "evaluate_agent", spy)  # the evaluation core's call
    experiments.evaluate_agents(["search:moon:population=8,elites=2,iterations=1"], ["train"], 2, 0,
                                tmp_path / "ok", progress=False, env_kwargs={"target": "soi"})
    assert seen == [{"target": "soi"}]
    out = tmp_path / "bad"
    env = {**os.environ, "PYTHONPATH": str(Path(moonshot.__file__).parent.parent)}
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", "planner:moon",
                          "--env-kwargs", "target=bogus", "--episodes", "2", "--out", str(out)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "target" in res.stderr and not out.exists()


def _cli_env():
    return {**os.environ, "PYTHONPATH": str(Path(moonshot.__file__).parent.parent)}


def test_search_city_drives_from_the_command_line_and_bills_its_rehearsals(tmp_path):
    out = tmp_path / "eval"
    res = subprocess.run([sys.executable, "-m", "moonshot", "evaluate", "search:city",
                          "--episodes", "2", "--split", "train", "--out", str(out)],
                         capture_output=True, text=True, env=_cli_env())
    assert res.returncode == 0, res.stderr[-2000:]
    logs = list(out.glob("episodes/*/episodes.csv"))
    assert len(logs) == 1 and "simulator-search" in logs[0].parent.name
    rows = list(csv.DictReader(logs[0].open()))
    assert len(rows) == 2
    for r in rows:
        decisions = -(-int(r["length"]) // 5)  # one search every replan=5 steps
        assert int(r["model_rollouts"]) == 24 * 2 * decisions  # population x iterations
        # each rehearsal takes up to 30 steps (fewer where its drive ends)
        assert 0 < int(r["model_steps"]) <= 30 * int(r["model_rollouts"])
        assert float(r["compute_s"]) > 0


def _traffic_trajectory(rehearse: bool, steps: int = 40) -> list[np.ndarray]:
    """The poses of the real env's traffic over ``steps`` steps of a fixed drive, with or
    without rehearsals (long ones: past the drives' ends) between the steps."""
    env = CityNavV1Env()
    env.reset(seed=7)
    rehearsal = env.perceive("simulator")
    rng = np.random.default_rng(1)
    poses = []
    for t in range(steps):
        if rehearse and t % 3 == 0:
            rehearsal.rehearse_plans(rng.uniform(-1, 1, (5, 60, 2)))
        env.step(np.array([0.6, 0.05 * np.sin(t / 5)]))
        poses.append(env._drives.batch.started(0).traffic.pose.copy())
    poses.append(env.np_random.random(3))  # the generator's next draws, too
    return poses


def test_rehearsals_leave_the_real_episode_unchanged():
    plain, rehearsed = _traffic_trajectory(False), _traffic_trajectory(True)
    for a, b in zip(plain, rehearsed, strict=True):
        np.testing.assert_array_equal(a, b)


def _twin(rehearsal):
    """The twin CityDrives inside a rehearsal (a test may look; an agent has no reason to)."""
    cells = [c.cell_contents for c in rehearsal._Rehearsal__play.__closure__]
    return next(c[0] for c in cells if isinstance(c, list) and c)


def _rehearse_at(seed: int, steps: int, plans: np.ndarray, calls: int = 1):
    """A fresh env's rehearsal after ``steps`` real steps: ``calls`` calls' returns and infos,
    and the twin's traffic poses after the last."""
    env = CityNavV1Env()
    env.reset(seed=seed)
    rehearsal = env.perceive("simulator")
    for _ in range(steps):
        env.step(np.array([1.0, 0.0]))
    out = [rehearsal.rehearse_plans(plans) for _ in range(calls)]
    poses = [_twin(rehearsal).batch.started(k).traffic.pose.copy() for k in range(len(plans))]
    return env, rehearsal, out, poses


def test_a_city_rehearsal_starts_from_the_live_state_and_repeats():
    plans = np.zeros((4, 15, 2), np.float32)
    plans[:2, :, 0] = 1.0  # throttle on; the others coast
    env, rehearsal, out, poses = _rehearse_at(3, 10, plans, calls=2)
    (returns, infos), (second, _) = out
    assert rehearsal.rehearsals == 8 and rehearsal.steps == 8 * 15
    assert returns[0] == returns[1] and returns[2] == returns[3]
    assert returns[0] > returns[2]  # more progress with the throttle on
    assert all(i["map_id"] == env.map_id for i in infos)
    # from where the real drive stands now (10 steps on), not from its start
    assert infos[0]["route_progress"] > env._drives.info(0, False, False)["route_progress"]
    # the same plans meet the same traffic: the twin's cars end where they did
    np.testing.assert_array_equal(poses[2], poses[3])
    # a second run, in a new env and process state, repeats the first call exactly
    _, _, again, again_poses = _rehearse_at(3, 10, plans, calls=2)
    np.testing.assert_array_equal(returns, again[0][0])
    np.testing.assert_array_equal(second, again[1][0])
    for a, b in zip(poses, again_poses, strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("env", "_drives", "np_random", "__dict__"):
        assert not hasattr(rehearsal, name)


def test_identical_plans_of_one_call_meet_the_same_traffic():
    """One seed per call, for every plan of it: identical plans end identically, down to
    every traffic car (long plans: past the point where the traffic's draws matter)."""
    plans = np.tile(np.array([0.3, 0.0], np.float32), (4, 80, 1))
    _, _, [(returns, infos)], poses = _rehearse_at(5, 3, plans)
    assert len(set(returns.tolist())) == 1 and all(i == infos[0] for i in infos)
    for p in poses[1:]:
        np.testing.assert_array_equal(p, poses[0])


def _reachable(obj, seen: dict[int, object], depth: int = 0) -> None:
    """Every object reachable from ``obj``: attributes (``__dict__`` and slots), items of
    containers, a function's closure cells and defaults, a bound method's ``__self__``
    (not modules, classes or a function's globals: the code, not a state)."""
    if depth > 40 or id(obj) in seen or isinstance(obj, (type, type(np), str, bytes, int,
                                                         float, bool, type(None))):
        return
    seen[id(obj)] = obj
    nxt: list = []
    if isinstance(obj, dict):
        nxt += list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        nxt += list(obj)
    elif isinstance(obj, np.ndarray):
        nxt += list(obj.ravel()) if obj.dtype == object else []
    if callable(obj) and hasattr(obj, "__closure__"):
        nxt += [c.cell_contents for c in obj.__closure__ or ()]
        nxt += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
    if hasattr(obj, "__self__"):
        nxt.append(obj.__self__)
    if hasattr(obj, "__dict__"):
        nxt.append(vars(obj))
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            for attr in (name, f"_{cls.__name__.lstrip('_')}{name}"):
                if hasattr(obj, attr):
                    nxt.append(getattr(obj, attr))
    for o in nxt:
        _reachable(o, seen, depth + 1)


def test_a_city_rehearsal_reaches_nothing_of_the_real_episode():
    env = CityNavV1Env(lidar_noise=0.5)
    env.reset(seed=2)
    rehearsal = env.perceive("simulator")
    env.step(np.array([0.5, 0.0]))
    rehearsal.rehearse_plans(np.zeros((3, 5, 2), np.float32))  # the twin built, too
    seen: dict[int, object] = {}
    _reachable(rehearsal, seen)
    live = {id(x): name for name, x in [
        ("env", env), ("drives", env._drives), ("batch", env._drives.batch),
        ("np_random", env.np_random), ("bit generator", env.np_random.bit_generator),
        ("lidar noise", env._drives._noise[0]), ("world", env.world),
        ("traffic", env._drives.batch.started(0).traffic), ("ego", env._drives.batch.ego),
        ("config", env.config), ("action space", env.action_space),
        ("route", env._drives.batch.started(0).route),
        ("route points", env._drives.batch.started(0).route.points),
        ("start pose", env._drives.batch.started(0).ego)]}
    assert [live[i] for i in seen if i in live] == []
    from moonshot.envs.city_drives import CityDrives

    twins = [o for o in seen.values() if isinstance(o, CityDrives)]
    assert len(twins) == 1 and twins[0] is not env._drives  # the walk does reach the twin
    # its lidar noise is a generator of its own: no copy of the real one's state is kept
    states = [o for o in seen.values() if isinstance(o, dict) and "noise" in o]
    assert states and all(o["noise"] is None for o in states)
    assert twins[0]._noise[0] is not None


def test_search_city_scenario_repeats_whatever_ran_before():
    """Scenario k's drive is the same evaluated alone or after others (a resumed or partial
    evaluation equals the full one)."""
    def agent():
        return SimulatorMPC(population=4, iterations=1, elites=2, horizon=10, knots=2,
                            replan=5)

    def key(rec):
        return (rec.map_id, rec.ret, rec.length, rec.outcome, rec.final_info,
                rec.model_rollouts, rec.model_steps)

    alone = run_episode(agent(), CityNavV1Env(time_limit=8.0), seed=12)
    a, env = agent(), CityNavV1Env(time_limit=8.0)
    run_episode(a, env, seed=11)
    after = run_episode(a, env, seed=12)
    assert key(alone) == key(after)


def test_search_moon_scenario_repeats_whatever_ran_before():
    """At a MoonLaunch scenario the search launches the same burns searched alone or after
    others, first try and retry alike (its draws and the rehearsals' burn errors are seeded by
    the scenario and the trial, not by what this agent or env did before; the real launch's
    own burn error is the env's, and the evaluation seeds it)."""
    def burns(ids):
        agent, env, out = SimulatorSearch(population=6, iterations=2, elites=2), \
            MoonLaunchEnv(target="soi"), []
        for i in ids:
            obs, info = env.reset(options={"scenario_id": i})
            agent.begin_episode(env.perceive(agent.perception), obs, info)
            out.append(agent.predict(obs)[0].tolist())
            env.step(out[-1])
        return out

    assert burns([7, 7]) == burns([3, 5, 7, 7])[2:]


def test_the_warm_start_moves_on_by_the_steps_executed():
    from moonshot.agents.simulator_search import advance

    plan = np.arange(12, dtype=np.float64).reshape(6, 2)
    # whole knots: shifted, the end repeated
    np.testing.assert_array_equal(advance(plan, 5, 30, 5), np.r_[plan[1:], plan[-1:]])
    np.testing.assert_array_equal(advance(plan, 5, 30, 0), plan)
    # 2 of a knot's 5 steps executed: each knot now covers 3 steps of its own, 2 of the next
    moved = advance(plan, 5, 30, 2)
    np.testing.assert_allclose(moved[0], 0.6 * plan[0] + 0.4 * plan[1])
    np.testing.assert_allclose(moved[-1], plan[-1])
    assert not np.array_equal(moved, plan)  # replan < one knot moves the warm start too


def test_search_city_counts_its_rollouts_and_steps():
    agent = SimulatorMPC(population=6, iterations=2, elites=2, horizon=10, knots=2, replan=5)
    env = CityNavV1Env()
    rec = run_episode(agent, env, seed=11)
    decisions = -(-rec.length // 5)
    assert rec.model_rollouts == 12 * decisions
    assert 0 < rec.model_steps <= 10 * rec.model_rollouts
    assert rec.compute_s > 0 and len(agent.decision_times) == decisions


def test_search_refuses_a_world_without_a_simulator_and_names_those_with_one():
    with pytest.raises(ConfigError,
                       match=r"CityNav-v0.*no simulator.*city \(moonshot/CityNav-v1\)"):
        resolve_agent("search:city", env="moonshot/CityNav-v0")
    import moonshot_body  # noqa: F401  (a plug-in world: importing it registers it)

    with pytest.raises(ConfigError, match=r"BodyWalk-v0.*no simulator.*moon \(moonshot/"):
        resolve_agent("search:body")
    assert isinstance(resolve_agent("search:city").agent, SimulatorMPC)
