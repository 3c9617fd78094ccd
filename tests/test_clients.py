"""Both envs driven by the third-party clients RL people already use (issue 19): Gymnasium's
vector envs with rendering, its env checker with its defaults, ``check_environments_match``,
pickling, ``RecordVideo``. RL Zoo has its own file (``test_zoo.py``)."""

import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.env_match import check_environments_match
from gymnasium.vector import AutoresetMode

import moonshot  # noqa: F401  (registers the envs)

ROOT = Path(__file__).resolve().parents[1]
MOON = "moonshot/MoonLaunch-v1"
CITY = "moonshot/CityNav-v0"
CITY_V1 = "moonshot/CityNav-v1"
# Small cities and few rays keep the CityNav cases at a second or two.
SMALL_CITY = {"traffic_cars": 4, "lidar_rays": 8, "render_size": 96}


def _kwargs(env_id: str) -> dict:
    return dict(SMALL_CITY) if env_id in (CITY, CITY_V1) else {}


def _episode_ends(env_id: str) -> int:
    return 1 if env_id == MOON else 3


VECTOR_CASES = [(MOON, v, m) for v in ("sync", "async")
                for m in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)]
VECTOR_CASES += [(CITY, "sync", AutoresetMode.NEXT_STEP), (CITY, "async", AutoresetMode.SAME_STEP)]


@pytest.mark.parametrize(("env_id", "vectorization", "mode"), VECTOR_CASES)
def test_gymnasium_vector_envs_record_frames(env_id, vectorization, mode):
    """Defect 1: MoonLaunch's variable-length trajectory info broke Sync/AsyncVectorEnv
    (``could not broadcast (120,9) into (195,9)``) as soon as a render mode was set."""
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=vectorization,
                        render_mode="rgb_array", vector_kwargs={"autoreset_mode": mode},
                        **_kwargs(env_id))
    try:
        envs.action_space.seed(0)
        obs, infos = envs.reset(seed=0)
        assert obs.shape == (2, *envs.single_observation_space.shape)
        for _ in range(3):
            obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert np.isfinite(rewards).all()
        frames = envs.render()
        assert len(frames) == 2 and all(f.ndim == 3 and f.dtype == np.uint8 for f in frames)
        if env_id == MOON:  # each env keeps its last flight, one call away
            trajs = envs.call("last_trajectory")
            assert len(trajs) == 2 and all(t.shape[1] == 9 and len(t) > 10 for t in trajs)
    finally:
        envs.close()


def test_the_frame_after_reset_shows_the_last_flight():
    """Defect 2: RL Zoo's record_video renders after the autoreset, and the frame after
    ``reset`` had no trajectory: videos of MoonLaunch showed no flight."""
    env = gym.make(MOON, render_mode="rgb_array")
    fresh = gym.make(MOON, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(np.array([0.0, 0.1, 0.0], np.float32))
    flight = env.unwrapped.last_trajectory()
    _, info = env.reset(seed=1)
    assert np.array_equal(env.unwrapped.last_trajectory(), flight)  # kept after reset
    after_reset = env.render()
    fresh.reset(options={"scenario_id": info["map_id"]})
    no_history = fresh.render()
    changed = np.abs(after_reset.astype(int) - no_history.astype(int)).sum(axis=2) > 30
    assert changed.sum() > 500, "the previous flight is drawn after reset"
    # without a render mode, nothing is traced (training speed is untouched)
    plain = gym.make(MOON)
    plain.reset(seed=0)
    _, _, _, _, info = plain.step(plain.action_space.sample())
    assert plain.unwrapped.last_trajectory() is None and "trajectory" not in info


def test_record_trajectory_still_puts_it_in_the_single_env_info():
    env = gym.make(MOON, record_trajectory=True)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(3, np.float32))
    assert info["trajectory"].shape[1] == 9
    np.testing.assert_array_equal(info["trajectory"], env.unwrapped.last_trajectory())


def _structure(infos: dict) -> dict:
    """Key -> kind of value (nested dicts recursed), masks and final_obs left out."""
    out = {}
    for key, val in infos.items():
        if key.startswith("_") or key == "final_obs":
            continue
        if isinstance(val, dict):
            out[key] = _structure(val)
        else:
            val = np.asarray(val)
            out[key] = (val.dtype.kind if val.dtype.kind != "i" else "int", val.shape[1:])
    return out


def test_native_vector_env_infos_have_the_single_env_keys():
    """Defect 3: the native batched env's reset infos lacked ``is_success`` and ``split``,
    its final infos ``split`` and ``target``. Compared with Gymnasium's own vectorization of
    the single env (same-step autoreset, like the native env)."""
    native = gym.make_vec(MOON, num_envs=3, vectorization_mode="vector_entry_point",
                          target="soi", split="new")
    sync = gym.make_vec(MOON, num_envs=3, vectorization_mode="sync", target="soi",
                        split="new", vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    _, n_reset = native.reset(seed=0)
    _, s_reset = sync.reset(seed=0)
    assert _structure(n_reset) == _structure(s_reset)
    assert list(n_reset["split"]) == ["new"] * 3 and not n_reset["is_success"].any()
    act = np.zeros((3, 3), np.float32)
    *_, n_step = native.step(act)
    *_, s_step = sync.step(act)
    assert _structure(n_step) == _structure(s_step)
    assert set(n_step["final_info"]) == set(s_step["final_info"])
    assert list(n_step["final_info"]["target"]) == ["soi"] * 3
    # the values agree launch by launch (same scenario, exact burns)
    single = gym.make(MOON, target="soi", split="new", execution_error=0.0)
    exact = gym.make_vec(MOON, num_envs=2, vectorization_mode="vector_entry_point",
                         target="soi", split="new", execution_error=0.0)
    _, reset_info = exact.reset(seed=3)
    *_, step_info = exact.step(np.zeros((2, 3), np.float32))
    for j in range(2):
        _, info0 = single.reset(options={"scenario_id": int(reset_info["map_id"][j])})
        assert info0 == {k: reset_info[k][j] for k in info0}
        _, _, _, _, info1 = single.step(np.zeros(3, np.float32))
        for key, val in info1.items():
            np.testing.assert_array_equal(step_info["final_info"][key][j], val)


@pytest.mark.parametrize("env_id", [MOON, CITY, CITY_V1])
def test_gymnasium_env_checker_with_its_defaults_without_a_display(env_id, monkeypatch):
    """Defect 5: ``check_env`` with its defaults makes the env in every render mode; on a
    machine without a display ``render_mode="human"`` raised. It now warns and runs."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("moonshot.envs.display.has_display", lambda: False)
    env = gym.make(env_id, render_mode="rgb_array", **_kwargs(env_id))
    check_env(env.unwrapped)
    with pytest.warns(UserWarning, match="without a display"):
        human = gym.make(env_id, render_mode="human", **_kwargs(env_id))
    human.reset(seed=0)
    human.step(human.action_space.sample())
    assert human.render() is None


@pytest.mark.parametrize("env_id", [MOON, CITY, CITY_V1])
def test_check_environments_match_and_pickling(env_id):
    kwargs = _kwargs(env_id)
    check_environments_match(gym.make(env_id, render_mode="rgb_array", **kwargs),
                             gym.make(env_id, render_mode="rgb_array", **kwargs),
                             num_steps=10, seed=0, skip_render=False)
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.step(np.zeros(env.action_space.shape, np.float32))
    twin = pickle.loads(pickle.dumps(env))
    action = np.full(env.action_space.shape, 0.3, np.float32)
    for _ in range(_episode_ends(env_id)):
        a, b = env.step(action), twin.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
        if a[2] or a[3]:
            break


def test_an_extra_installs_what_video_recording_needs():
    """Defect 6: ``RecordVideo`` needs moviepy, which no extra installed."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(req.startswith("moviepy") for req in extras["video"])
    for extra in ("video", "zoo", "tensorboard"):  # CI runs the tests that need them
        assert set(extras[extra]) <= set(extras["test"])


@pytest.mark.parametrize("env_id", [MOON, CITY])
def test_record_video(env_id, tmp_path):
    """Gymnasium's RecordVideo (moviepy, from the ``video`` extra) on both envs."""
    pytest.importorskip("moviepy", reason="pip install 'moonshot[video]'")
    env = gym.wrappers.RecordVideo(gym.make(env_id, render_mode="rgb_array", **_kwargs(env_id)),
                                   str(tmp_path), episode_trigger=lambda i: i < 2,
                                   video_length=6)
    env.reset(seed=0)
    for _ in range(6):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    env.close()
    videos = sorted(tmp_path.glob("*.mp4"))
    assert videos and all(v.stat().st_size > 1000 for v in videos)
