"""The 3D chase view of CityNav (pybullet's software camera on a visual copy of the scene)."""

import json

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np

import moonshot  # noqa: F401  (registers the environments)
from moonshot.cli import main
from moonshot.envs.city_chase import COLORS


def _ego_pixels(frame: np.ndarray) -> float:
    """Share of the ego's red in the bottom middle of the frame, where the chase camera keeps
    the car."""
    n = frame.shape[0]
    box = frame[int(0.55 * n):int(0.8 * n), int(0.4 * n):int(0.6 * n)].astype(int)
    r, g, b = box[..., 0], box[..., 1], box[..., 2]
    red = (r > 120) & (g < 0.35 * r) & (b < 0.35 * r)
    return float(red.mean())


def test_chase_view_has_the_requested_size_moves_and_shows_the_ego():
    env = gym.make("moonshot/CityNav-v0", render_mode="rgb_array", render_view="chase",
                   render_size=120)
    env.reset(seed=3)
    first = env.render()
    assert first.shape == (120, 120, 3) and first.dtype == np.uint8
    for _ in range(15):
        env.step(np.array([1.0, 0.0], dtype=np.float32))
    later = env.render()
    assert later.shape == (120, 120, 3)
    changed = np.abs(first.astype(int) - later.astype(int)).sum(axis=2) > 30
    assert changed.mean() > 0.05  # the world went by
    assert _ego_pixels(first) > 0.3 and _ego_pixels(later) > 0.3
    sky = np.array(COLORS["sky_top"])
    assert np.abs(first[0].astype(int) - sky).sum(axis=1).min() < 60  # a sky above
    assert len(np.unique(later.reshape(-1, 3), axis=0)) > 30  # a scene, not a flat fill
    env.close()


def test_watching_a_drive_changes_nothing_in_it():
    """The visual scene lives in its own pybullet client: lidar, contacts, rewards are the
    same with the chase camera on as without any rendering."""
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (60, 2)).astype(np.float32)
    actions[:, 0] = np.abs(actions[:, 0])  # keep moving
    runs = []
    for view in (None, "chase"):
        env = gym.make("moonshot/CityNav-v0", render_mode=view and "rgb_array",
                       render_view=view or "ego", render_size=64)
        obs, _ = env.reset(seed=5)
        trace = [obs]
        for a in actions:
            obs, reward, terminated, truncated, info = env.step(a)
            if view:
                env.render()
            trace.append(np.append(obs, [reward, terminated, truncated]))
            if terminated or truncated:
                break
        runs.append(np.concatenate(trace))
        if view is None:
            assert env.unwrapped._renderer is None  # nothing built when nobody watches
        env.close()
    assert np.array_equal(runs[0], runs[1])


def test_render_city_chase_view_end_to_end(tmp_path):
    run = tmp_path / "short-planner"  # a planner run folder whose drives last 4 s
    run.mkdir()
    (run / "config.json").write_text(json.dumps({
        "command": "plan", "env": "moonshot/CityNav-v0", "env_kwargs": {"time_limit": 4.0}}))
    out = tmp_path / "drive.mp4"
    assert main(["render", "city", "--agent", str(run), "--view", "chase", "--out",
                 str(out), "--seed", "1"]) == 0
    frames = [np.asarray(f) for f in imageio.get_reader(str(out), format="FFMPEG")]
    assert 20 <= len(frames) <= 35  # 40 steps, every 2nd, and the last held
    assert frames[0].shape == (360, 360, 3)
    assert _ego_pixels(frames[0]) > 0.3
    assert main(["render", "moon", "--view", "chase", "--out", str(tmp_path / "m.gif")]) == 2
