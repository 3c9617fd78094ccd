"""Render episodes of any agent in either world to GIF or MP4."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import gymnasium as gym
import numpy as np

from ..agents.base import run_episode
from ..agents.loading import AgentSpec, resolve_agent
from ..errors import ConfigError
from ..progress import progress as show_progress
from ..worlds import get_world, load_ref

if TYPE_CHECKING:
    from ..agents.episodes import ScenarioSet
    from ..envs.moon_launch import MoonLaunchEnv
    from ..worlds import World

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
            # imageio types ``ims`` as an invariant list[ArrayLike]; a list of arrays is one
            imageio.mimsave(tmp, frames,  # type: ignore[arg-type]
                            format="GIF", duration=1000.0 / fps, loop=0)
        else:
            h, w = frames[0].shape[:2]
            even = [f[: h - h % 2, : w - w % 2] for f in frames]  # yuv420p needs even sizes
            imageio.mimsave(tmp, even,  # type: ignore[arg-type]  # as above
                            format="FFMPEG", fps=fps, codec="libx264", quality=7,
                            macro_block_size=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def moon_frames(spec: AgentSpec, split: str, episodes: int, seed: int,
                view: str | None = None, n_frames: int = 40,
                max_frames: int | None = None,
                done: Callable[[], object] | None = None) -> list[np.ndarray]:
    """Frames of ``episodes`` MoonLaunch scenarios: every trial an agent takes at a scenario
    (a planner corrects between them), earlier ones faded."""
    from ..envs.moon_render import flight_frames

    world = get_world(spec.env_id)
    scenarios = _render_scenarios(world, split, seed, episodes)
    kwargs = {**spec.env_kwargs, "split": split, "record_trajectory": True}
    env = cast("MoonLaunchEnv", gym.make(spec.env_id, **kwargs).unwrapped)
    frames: list[np.ndarray] = []
    for sid in scenarios.ids or ():
        trajs, infos = [], []
        for _trial in range(scenarios.max_trials):
            rec = run_episode(spec.agent, env, seed=None, options=world.replay(int(sid)))
            trajs.append(rec.final_info["trajectory"])
            infos.append(rec.final_info)
            if rec.success:
                break
        frames += flight_frames(trajs, infos, env.physical_constants, n_frames=n_frames,
                                title=f"{spec.label} · {split} · scenario {sid}")
        frames += [frames[-1]] * 8  # hold the outcome
        if done is not None:
            done()
    env.close()
    return frames


def _render_scenarios(world: World, split: str, seed: int, episodes: int) -> ScenarioSet:
    """The scenarios ``moonshot render`` shows: those of a ``moonshot plan`` run with the same
    seed (the evaluation core's one rule, :func:`~moonshot.agents.episodes.scenario_set`,
    legacy seeds: a rendering is no figure, and its episodes stay those of earlier renders)."""
    from ..agents.episodes import scenario_set

    return scenario_set(world, split, seed, episodes, kind="run", seed_set="legacy")


CITY_VIEWS = {"top": "ego", "chase": "chase"}  # --view: the env's render_view


def city_frames(spec: AgentSpec, split: str, episodes: int, seed: int,
                view: str | None = None, every: int = 2, max_frames: int = 400,
                size: int = 360,
                done: Callable[[], object] | None = None) -> list[np.ndarray]:
    """Frames of ``episodes`` CityNav drives (every ``every``-th control step), top-down
    around the car (``view="top"``) or 3D from behind it (``"chase"``)."""
    view = view or "top"
    scenarios = _render_scenarios(get_world(spec.env_id), split, seed, episodes)
    kwargs = {**spec.env_kwargs, "split": split, "render_size": size,
              "render_view": CITY_VIEWS[view]}
    env = gym.make(spec.env_id, render_mode="rgb_array", **kwargs).unwrapped
    frames: list[np.ndarray] = []
    for i in range(episodes):
        ep: list[np.ndarray] = []
        run_episode(spec.agent, env, seed=scenarios.seed + i, frames=ep, frame_every=every)
        frames += _subsample(ep, 1, max_frames) + [ep[-1]] * 10
        if done is not None:
            done()
    env.close()
    return frames


def _subsample(ep: list[np.ndarray], every: int, max_frames: int) -> list[np.ndarray]:
    sub = ep[::every]
    if len(sub) > max_frames:
        sub = sub[:: int(np.ceil(len(sub) / max_frames))]
    return sub


def env_frames(spec: AgentSpec, split: str, episodes: int, seed: int,
               view: str | None = None, max_frames: int = 400,
               done: Callable[[], object] | None = None) -> list[np.ndarray]:
    """Any world's episodes through its own ``render_mode="rgb_array"`` frames: the
    renderer of a world that declares none. Replayed scenarios show every trial."""
    world = get_world(spec.env_id)
    env = gym.make(spec.env_id, render_mode="rgb_array",
                   **{**spec.env_kwargs, "split": split}).unwrapped
    scenarios = _render_scenarios(world, split, seed, episodes)
    ids = scenarios.ids
    frames: list[np.ndarray] = []
    try:
        for i in range(episodes):
            for _trial in range(scenarios.max_trials):
                ep: list[np.ndarray] = []
                options = world.replay(int(ids[i])) if ids is not None else None
                rec = run_episode(spec.agent, env,
                                  seed=scenarios.seed + i if ids is None else None,
                                  options=options, frames=ep)
                frames += _subsample(ep, 1, max_frames) + [ep[-1]] * 5
                if rec.success:
                    break
            if done is not None:
                done()
    finally:
        env.close()
    return frames


def render_episodes(env: str, agent: str = "planner", split: str = "train", episodes: int = 1,
                    seed: int = 0, out: Path | str = "episode.gif",
                    fps: int | None = None, view: str | None = None,
                    max_frames: int | None = None, progress: bool = False) -> Path:
    """Render ``episodes`` of ``agent`` (any agent spec: ``planner``, a run folder,
    ``module:Class``) in ``env`` (a world or env id) to ``out`` (GIF or MP4).

    Each world renders its own way (its declaration's ``frames``): MoonLaunch animates each
    flight in the inertial and the Earth–Moon rotating view, a planner's trials of one
    scenario one after the other; CityNav draws a top-down view around the car with lanes,
    lights, traffic, lidar, route and a HUD (``view="top"``), or the 3D chase view from
    behind and above it (``view="chase"``). A GIF holds at most 400 frames, an MP4 up to
    2,000. ``progress``: a progress display over the episodes (a world's own ``frames``
    function shows it if it takes ``done``, a callable called after each episode).
    """
    world = get_world(env)
    out = Path(out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"unsupported video file {out}: use one of {VIDEO_SUFFIXES}")
    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    if fps is not None and fps < 1:
        raise ConfigError(f"fps must be >= 1, got {fps}")
    if view is not None and view not in world.render_views:
        raise ConfigError(f"invalid view {view!r} for the {world.name} world; choose one of "
                          f"{list(world.render_views) or ['(none: the world has one view)']}")
    spec = resolve_agent(agent, env)
    frames_fn = load_ref(world.frames) if world.frames is not None else env_frames
    limit = max_frames or (2000 if out.suffix.lower() == ".mp4" else 400)
    bar = show_progress(episodes, f"render {world.name}", unit="episode",
                        enabled=progress)
    extra = {"done": bar.update} if "done" in inspect.signature(frames_fn).parameters else {}
    try:
        frames = frames_fn(spec, split, episodes, seed, view=view, max_frames=limit, **extra)
    finally:
        bar.close()
    return write_video(frames, out, fps or world.render_fps)
