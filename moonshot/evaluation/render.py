"""Render episodes of any agent in either world to GIF or MP4."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from .. import ENV_IDS, resolve_env_id
from ..agents.base import run_episode
from .transfer import resolve_agent

VIDEO_SUFFIXES = (".gif", ".mp4")


def write_video(frames: list[np.ndarray], path: Path, fps: int) -> Path:
    """Write RGB frames to a GIF or MP4 (by suffix), atomically."""
    import os
    import tempfile

    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported video file {path}: use one of {VIDEO_SUFFIXES}")
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".gif":
            imageio.mimsave(tmp, frames, format="GIF", duration=1000.0 / fps, loop=0)
        else:
            h, w = frames[0].shape[:2]
            even = [f[: h - h % 2, : w - w % 2] for f in frames]  # yuv420p needs even sizes
            imageio.mimsave(tmp, even, format="FFMPEG", fps=fps, codec="libx264",
                            quality=7, macro_block_size=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def moon_frames(agent_spec: str, split: str, episodes: int, seed: int,
                n_frames: int = 40) -> list[np.ndarray]:
    """Frames of ``episodes`` MoonLaunch scenarios: all of a planner's trials per scenario."""
    from ..envs.moon_render import flight_frames
    from .planning import scenario_ids

    spec = resolve_agent(agent_spec)
    kwargs = {**spec.env_kwargs, "split": split, "record_trajectory": True}
    env = gym.make(ENV_IDS["moon"], **kwargs).unwrapped
    frames: list[np.ndarray] = []
    is_planner = spec.label == "planner"
    for sid in scenario_ids(seed, episodes):
        trajs, infos = [], []
        for _trial in range(5 if is_planner else 1):
            rec = run_episode(spec.agent, env, seed=None, options={"scenario_id": int(sid)})
            trajs.append(rec.final_info["trajectory"])
            infos.append(rec.final_info)
            if rec.success:
                break
        frames += flight_frames(trajs, infos, env.physical_constants, n_frames=n_frames,
                                title=f"{spec.label} · {split} · scenario {sid}")
        frames += [frames[-1]] * 8  # hold the outcome
    env.close()
    return frames


CITY_VIEWS = {"top": "ego", "chase": "chase"}  # --view: the env's render_view


def city_frames(agent_spec: str, split: str, episodes: int, seed: int, every: int = 2,
                max_frames: int = 400, size: int = 360, view: str = "top") -> list[np.ndarray]:
    """Frames of ``episodes`` CityNav drives (every ``every``-th control step), top-down
    around the car (``view="top"``) or 3D from behind it (``"chase"``)."""
    if view not in CITY_VIEWS:
        raise ValueError(f"unknown CityNav view {view!r}; choose one of {list(CITY_VIEWS)}")
    spec = resolve_agent(agent_spec)
    kwargs = {**spec.env_kwargs, "split": split, "render_size": size,
              "render_view": CITY_VIEWS[view]}
    env = gym.make(ENV_IDS["city"], render_mode="rgb_array", **kwargs).unwrapped
    frames: list[np.ndarray] = []
    for i in range(episodes):
        ep: list[np.ndarray] = []
        run_episode(spec.agent, env, seed=seed + i, frames=ep, frame_every=every)
        sub = ep
        if len(sub) > max_frames:
            sub = sub[:: int(np.ceil(len(sub) / max_frames))]
        frames += sub + [ep[-1]] * 10
    env.close()
    return frames


def render_episodes(env: str, agent: str = "planner", split: str = "train", episodes: int = 1,
                    seed: int = 0, out: Path | str = "episode.gif",
                    fps: int | None = None, view: str = "top") -> Path:
    """Render ``episodes`` of ``agent`` (``"planner"`` or a training run folder) to ``out``.

    MoonLaunch: an animation of each flight in the inertial and the Earth–Moon rotating view;
    a planner's trials of one scenario follow each other, earlier ones faded. CityNav: a
    top-down view around the car with lanes, lights, traffic, lidar, route and a HUD
    (``view="top"``), or the 3D chase view from behind and above it (``view="chase"``); a
    GIF holds at most 400 frames, an MP4 up to 2,000.
    """
    env_id = resolve_env_id(env)
    out = Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported video file {out}: use one of {VIDEO_SUFFIXES}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    world = "moon" if env_id == ENV_IDS["moon"] else "city"
    spec = f"planner:{world}" if agent == "planner" else agent
    if world == "moon":
        if view != "top":
            raise ValueError(f"view {view!r} is a CityNav view; MoonLaunch renders its "
                             "inertial and rotating views (use the default view)")
        frames = moon_frames(spec, split, episodes, seed)
        fps = fps or 10
    else:
        frames = city_frames(spec, split, episodes, seed, view=view,
                             max_frames=2000 if out.suffix.lower() == ".mp4" else 400)
        fps = fps or 10
    return write_video(frames, out, fps)
