"""The body world (``moonshot_body``, a plug-in): BodyWalk-v0 as Gymnasium and SB3 check it,
bit-for-bit episodes, its held-out split, each shift level doing what its label says, falls
as deaths, the MPPI planner against a random policy, its sealed view, and every command on
the world through ``MOONSHOT_WORLDS`` in a subprocess."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio
import mujoco
import numpy as np
import pytest
from conftest import run_as_user, run_without

import moonshot_body
from moonshot.agents.base import run_episode
from moonshot.agents.loading import load_agent
from moonshot.envs.perception import PerceptionError
from moonshot.errors import ConfigError
from moonshot.runlog import read_episodes
from moonshot.worlds import get_world
from moonshot_body.agents.planner import BodyPlanner
from moonshot_body.anatomy import JOINTS, LEGS
from moonshot_body.builder import joint_strength
from moonshot_body.env import OBS_LAYOUT, SPLITS, BodyWalkEnv

ENV_ID = moonshot_body.ENV_ID
ROOT = Path(__file__).resolve().parents[1]
#: A near goal in a short walk: what the planner must reach at level 0 (tests stay fast).
NEAR = {"goal_distance": 1.0, "time_limit": 4.0}
FAST_PLANNER = {"samples": 16, "horizon": 15}


def test_the_env_passes_the_gymnasium_and_sb3_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(gym.make(ENV_ID).unwrapped, skip_render_check=True)
    sb3_check_env(BodyWalkEnv(), warn=False)


def _walk(env: gym.Env, seed: int, steps: int = 60) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    out, rng = [obs], np.random.default_rng(7)
    for _ in range(steps):
        obs, reward, term, trunc, _ = env.step(rng.uniform(-1, 1, 8).astype(np.float32))
        out += [obs, np.array([reward])]
        if term or trunc:
            break
    return out


def test_same_seed_same_episode_bit_for_bit():
    a, b = gym.make(ENV_ID, damage="short"), gym.make(ENV_ID, damage="short")
    first = _walk(a, 11)
    assert all(np.array_equal(x, y) for x, y in zip(first, _walk(b, 11), strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(first, _walk(a, 11), strict=True))
    assert not np.array_equal(first[0], _walk(a, 12)[0])
    # a scenario replays by its id, whatever the generator's state
    _, info = a.reset(seed=11)
    replay, _ = b.reset(seed=99, options={"scenario_id": info["map_id"]})
    assert np.array_equal(replay, first[0])


def test_the_new_split_holds_goals_and_terrain_outside_the_training_range():
    seen: dict[str, list] = {"train": [], "new": []}
    for split in seen:
        env = BodyWalkEnv(split=split)
        for seed in range(20):
            obs, _ = env.reset(seed=seed)
            d = env.perceive("oracle").ground  # every stone (the honest view: those near)
            bearing = math.degrees(abs(math.atan2(obs[OBS_LAYOUT["goal_direction"]][1],
                                                  obs[OBS_LAYOUT["goal_direction"]][0])))
            seen[split].append((float(obs[OBS_LAYOUT["goal_distance"]][0]), bearing,
                                float(np.max(d["stones"][:, 2]))))
    train, new = np.array(seen["train"]), np.array(seen["new"])
    lo, hi = SPLITS["train"]["goal_distance"]
    assert ((train[:, 0] >= lo - 0.05) & (train[:, 0] <= hi + 0.05)).all()
    assert (new[:, 0] > hi - 0.05).all()
    assert (train[:, 1] <= 91).all() and (new[:, 1] >= 99).all()
    assert train[:, 2].max() <= SPLITS["train"]["roughness"][1] < new[:, 2].min()


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("axis", ["damage", "payload", "friction", "slope"])
def test_each_shift_level_changes_the_body_or_the_ground_as_labelled(axis, level):
    world = get_world("body")
    settings = world.axis(axis).settings(level)
    base = BodyWalkEnv(damage_leg="fr")
    base.reset(seed=3)
    env = BodyWalkEnv(damage_leg="fr", **settings)
    obs, _ = env.reset(seed=3)
    m0, m = base.model, env.model
    leg = LEGS.index("fr")
    if axis == "damage":
        strength, nominal = joint_strength(m), joint_strength(m0)
        others = [i for i in range(len(JOINTS)) if i // 2 != leg]
        assert np.array_equal(strength[others], nominal[others])  # one leg only
        damage = settings["damage"]
        if damage == "weak":
            assert (strength[2 * leg:2 * leg + 2] < 0.5 * nominal[2 * leg:2 * leg + 2]).all()
        elif damage == "short":
            foot = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "fr_foot")
            assert np.linalg.norm(m.geom_pos[foot]) == pytest.approx(
                0.5 * np.linalg.norm(m0.geom_pos[foot]))
        else:
            assert m.nq == m0.nq - 1 and strength[2 * leg + 1] == 0.0
            assert mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "fr_foot") == -1
    elif axis == "payload":
        assert mujoco.mj_getTotalmass(m) == pytest.approx(
            mujoco.mj_getTotalmass(m0) + settings["payload_kg"])
    elif axis == "friction":
        assert m.geom_friction[0, 0] == settings["friction"] < m0.geom_friction[0, 0]
    else:  # the slope tilts gravity; the body's inertial sense shows it
        g = m.opt.gravity
        tilt = math.degrees(math.acos(-g[2] / np.linalg.norm(g)))
        assert tilt == pytest.approx(settings["slope_deg"])
        assert env.perceive().ground["slope_deg"] == pytest.approx(settings["slope_deg"])
    if not world.axis(axis).perceivable:  # the honest view is the blueprint, unchanged
        assert env.perceive().design == base.perceive().design


def test_a_fall_ends_the_walk_as_a_death():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    lift = np.array([0.0, 1.0] * 4, np.float32)  # every knee lifts its foot: the torso drops
    for _ in range(200):
        _, reward, term, trunc, info = env.step(lift)
        if term or trunc:
            break
    assert term and not trunc
    assert info["death"] and info["outcome"] == "fell" and not info["is_success"]
    assert reward < -5


def test_every_walk_ends_with_its_outcome_whatever_its_time_limit():
    # a time limit past the default 20 s (1000 steps) is walked in full, not cut without an
    # outcome by a registered TimeLimit
    for time_limit in (0.5, 21.0):
        env = gym.make(ENV_ID, time_limit=time_limit)
        env.reset(seed=1)
        stand, steps = np.zeros(8, np.float32), 0
        while True:
            _, _, term, trunc, info = env.step(stand)
            steps += 1
            if term or trunc:
                break
        assert trunc and not term and info["outcome"] == "timeout"
        assert steps == round(time_limit / 0.02)


def test_the_planner_reaches_a_near_goal_where_a_random_policy_does_not():
    env = BodyWalkEnv(**NEAR)
    planner = BodyPlanner(**FAST_PLANNER)
    planned = [run_episode(planner, env, seed=s) for s in range(4)]
    rng = np.random.default_rng(0)
    random = 0
    for s in range(4):
        env.reset(seed=s)
        while True:
            _, _, term, trunc, info = env.step(rng.uniform(-1, 1, 8).astype(np.float32))
            if term or trunc:
                random += info["is_success"]
                break
    assert sum(r.success for r in planned) >= 3 > random
    assert all(r.model_rollouts > 0 and r.model_steps >= 15 * r.model_rollouts
               for r in planned)  # imagined futures are counted, in env steps


def test_the_planner_sees_a_sealed_view_and_the_oracle_the_true_body():
    env = BodyWalkEnv(damage="missing", damage_leg="bl", **NEAR)
    obs, info = env.reset(seed=5)
    view = env.perceive("honest")
    for secret in ("changes", "env", "model", "data", "np_random", "scenario"):
        with pytest.raises(PerceptionError):
            getattr(view, secret)
    with pytest.raises(PerceptionError):
        view.goal = (0.0, 0.0)
    honest = BodyPlanner()
    oracle = load_agent("planner:body:model=oracle")  # as the command line names it
    assert isinstance(oracle, BodyPlanner) and oracle.model == "oracle"
    assert oracle.perception == "oracle" and "oracle" in oracle.name
    with pytest.raises(ConfigError, match="model='simulator'"):
        load_agent("planner:body:model=simulator")
    honest.begin_episode(view, obs, info)
    oracle.begin_episode(env.perceive("oracle"), obs, info)
    # the honest model is its own of the intact blueprint (not the simulator's: no head, no
    # foot spheres, its own joint damping); the oracle's is the simulator's, without the
    # missing shin
    assert honest._sim.nq == env.model.nq + 1 == oracle._sim.nq + 1
    assert honest._sim.ngeom != env.model.ngeom and \
        mujoco.mj_name2id(honest._sim, mujoco.mjtObj.mjOBJ_GEOM, "head") == -1
    assert not np.allclose(honest._sim.dof_damping[6:], env.model.dof_damping[6])
    assert honest._sim.opt.timestep == 2 * env.model.opt.timestep
    assert "BodyWalkEnv" not in repr(vars(honest))
    action, _ = honest.predict(obs)
    assert action.shape == (8,) and np.isfinite(action).all()


def test_the_honest_view_sees_a_surface_class_and_the_stones_near_it_the_oracle_all():
    from moonshot_body.env import SENSOR_RANGE, SURFACES

    env = BodyWalkEnv(friction=0.35, roughness=0.02)
    env.reset(seed=4)
    honest, oracle = env.perceive("honest").ground, env.perceive("oracle").ground
    assert oracle["friction"] == 0.35 and len(oracle["stones"]) == 40
    assert honest["surface"] == "muddy" != "dry" and honest["friction"] != 0.35
    assert honest["friction"] in {nominal for _, _, nominal in SURFACES}
    near = np.hypot(*(oracle["stones"][:, :2] - env.data.qpos[:2]).T) <= SENSOR_RANGE
    assert 0 < len(honest["stones"]) < 40
    np.testing.assert_array_equal(honest["stones"], oracle["stones"][near])
    # the stones in sight follow the body
    for _ in range(50):
        env.step(np.zeros(8, np.float32))
        env.data.qpos[:2] += 0.05  # carried along (a test of the view, not of walking)
    near = np.hypot(*(oracle["stones"][:, :2] - env.data.qpos[:2]).T) <= SENSOR_RANGE
    np.testing.assert_array_equal(env.perceive("honest").ground["stones"],
                                  oracle["stones"][near])
    # every class names its grip: a rough reading, never the exact ladder's value
    for level, (name, _, nominal) in zip((0.15, 0.35, 0.6, 1.0), SURFACES, strict=True):
        env = BodyWalkEnv(friction=level)
        env.reset(seed=0)
        assert env.perceive().ground["surface"] == name
        assert env.perceive().ground["friction"] == nominal != level


def test_a_missing_knee_does_not_show_in_the_first_observation():
    # level 3 of the damage ladder is labelled not perceivable: at reset the missing knee's
    # slot reads as an intact one does (no exact 0 among noisy joints)
    for seed in range(5):
        intact, missing = BodyWalkEnv(damage_leg="br"), \
            BodyWalkEnv(damage="missing", damage_leg="br")
        a, _ = intact.reset(seed=seed)
        b, _ = missing.reset(seed=seed)
        assert missing.model.nq == intact.model.nq - 1
        knee = OBS_LAYOUT["joint_angles"].start + 2 * LEGS.index("br") + 1
        assert b[knee] != 0.0
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(intact.perceive().state["qpos"],
                                      missing.perceive().state["qpos"])


def test_the_world_arrives_through_its_entry_point_only():
    from importlib.metadata import EntryPoint

    from moonshot.worlds import register_world
    from moonshot.worlds.plugins import ENTRY_POINT_GROUP, _load_entry_point

    tomllib = pytest.importorskip("tomllib", reason="Python 3.11 reads TOML")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = cfg["project"]["entry-points"][ENTRY_POINT_GROUP]["body"]
    assert target == "moonshot_body"
    # the entry point loads as moonshot loads an installed one (pip install re-declares it)
    ep = EntryPoint(name="body", value=target, group=ENTRY_POINT_GROUP)
    _load_entry_point(ep, "pyproject.toml of this checkout",
                      lambda world, module: register_world(world, replace=True, module=module))
    # moonshot's own package never names it: it is a plug-in
    builtin = (ROOT / "moonshot" / "worlds" / "__init__.py").read_text()
    assert "moonshot_body" not in builtin and "body" not in builtin.split("from . import")[-1]
    world = get_world("body")
    assert world.module == target and world.env_id == ENV_ID
    assert world.episode_steps({}) == 1000
    assert world.episode_steps({"time_limit": 4.0}) == 200
    assert world.default_hyperparams("ppo")["n_envs"] >= 1
    assert world.combined_axes and all(world.axis(a) for a in world.combined_axes)


def test_render_frames_with_mujoco_or_matplotlib():
    from moonshot_body.render import lines_frame

    env = BodyWalkEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame is not None and frame.dtype == np.uint8 and frame.shape[2] == 3
    assert frame.std() > 5  # a picture, not a blank
    lines = lines_frame(env.model, env.data)
    assert lines.shape[2] == 3 and lines.std() > 5
    env.close()


def test_human_mode_shows_every_step_and_runs_headless_without_a_display(monkeypatch):
    """``render_mode="human"`` (Gymnasium's checker and RL Zoo's ``enjoy`` ask for it): each
    reset and step shows the walk's frame in the window; without a display it warns and
    runs, drawing nothing."""
    monkeypatch.setattr("moonshot.envs.display.has_display", lambda: True)
    shown: list[np.ndarray] = []
    monkeypatch.setattr("moonshot.envs.display.show",
                        lambda frame, viewer=None: shown.append(frame) or "window")
    monkeypatch.setattr("moonshot.envs.display.close", lambda viewer: shown.append(viewer))
    env = gym.make(ENV_ID, render_mode="human")
    env.reset(seed=0)
    env.step(np.zeros(8, np.float32))
    assert env.render() is None
    assert len(shown) == 3 and all(f.ndim == 3 and f.std() > 5 for f in shown)  # reset,
    # step and the render() call
    env.close()
    assert shown[-1] == "window"  # the window it opened is closed
    monkeypatch.setattr("moonshot.envs.display.has_display", lambda: False)
    with pytest.warns(UserWarning, match="without a display"):
        headless = gym.make(ENV_ID, render_mode="human")
    headless.reset(seed=0)
    headless.step(np.zeros(8, np.float32))
    assert headless.render() is None


# --- every command, as a user runs it -------------------------------------------------
PLUGIN = {"MOONSHOT_WORLDS": "moonshot_body", "PYTHONPATH": str(ROOT)}


def moonshot(args: list[str], cwd: Path) -> str:
    return run_as_user(["-m", "moonshot", *args], cwd, env=dict(PLUGIN), timeout=600)


def test_every_command_runs_on_the_body_world(tmp_path):
    short = ["--env-kwargs", "time_limit=4", "goal_distance=1.0"]
    moonshot(["plan", "body", "--episodes", "2", "--out", "runs/plan", *short], tmp_path)
    log = read_episodes(tmp_path / "runs" / "plan")
    assert len(log["episode"]) == 2 and (log["model_rollouts"] > 0).all()
    cfg = json.loads((tmp_path / "runs" / "plan" / "config.json").read_text())
    assert cfg["modules"] == ["moonshot_body"] and cfg["env"] == ENV_ID
    moonshot(["shift", "body", "--agent", "planner:body", "--axis", "damage", "--level", "0",
              "2", "--episodes", "2", "--out", "runs/shift", "--no-progress", *short],
             tmp_path)
    shift = (tmp_path / "runs" / "shift" / "shift.csv").read_text()
    assert "damage" in shift and shift.count("\n") >= 3
    moonshot(["train", "body", "--algo", "ppo", "--timesteps", "2048", "--out", "runs/ppo",
              "--eval-episodes", "1", "--no-progress", "--env-kwargs", "time_limit=2"],
             tmp_path)
    moonshot(["evaluate", "runs/ppo", "--episodes", "2", "--out", "runs/ev"], tmp_path)
    results = json.loads((tmp_path / "runs" / "ev" / "transfer.json").read_text())["results"]
    assert {r["env"] for r in results} == {ENV_ID}
    moonshot(["render", "body", "--agent", "planner:body", "--out", "walk.gif"], tmp_path)
    assert len(imageio.mimread(tmp_path / "walk.gif")) > 5


def test_benchmark_rows_of_the_plugin_world_reach_the_table():
    from moonshot.evaluation.benchmark import markdown
    from moonshot.worlds import load_ref

    res = load_ref(get_world("body").benchmark)(1, 0.2, True, None)
    assert res["body_steps_per_s"] > 0 and res["body_steps_per_cpu_s"] > 0
    assert res["body_planner_decision_ms"] > 0
    table = markdown({"repeats": 1, "seconds_per_repeat": 0.2, **res})
    assert "`body_steps_per_s`" in table and "`repeats`" not in table


def test_the_planner_plans_where_the_env_cannot_be_imported():
    """Its model is its own (the blueprint's numbers, built by its own code,
    ``agents/body_model.py``): in a process where importing the env or the simulator's body
    builder raises, it plans the same first action from the same view."""
    env = BodyWalkEnv(**NEAR)
    obs, info = env.reset(seed=2)
    view = env.perceive()
    planner = BodyPlanner(**FAST_PLANNER)
    planner.begin_episode(view, obs, info)
    expected = planner.predict(obs)[0]
    code = f"""
from moonshot_body.agents.planner import BodyPlanner
p = BodyPlanner(**{FAST_PLANNER!r})
p.begin_episode(view, obs, info)
print(json.dumps(p.predict(obs)[0].tolist()))
"""
    planned = run_without(("moonshot_body.env", "moonshot_body.builder"), code, view, obs,
                          {"map_id": info["map_id"]})
    np.testing.assert_array_equal(np.array(planned, np.float32), expected)
