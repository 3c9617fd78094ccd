"""Frames of the body world: MuJoCo's own renderer where OpenGL is available (EGL when
headless), else the body's capsules drawn as 3D lines with matplotlib."""

from __future__ import annotations

import os
from typing import Any

import mujoco
import numpy as np

WIDTH, HEIGHT = 480, 360


class _Fallback:
    """Marks that MuJoCo's renderer could not start in this process (no OpenGL)."""


def draw(model: mujoco.MjModel, data: mujoco.MjData, renderer: Any) -> tuple[np.ndarray, Any]:
    """One RGB frame of the body (camera following its torso); returns the frame and the
    renderer to pass to the next call (``None`` at first)."""
    if renderer is None:
        renderer = _Fallback()
        if os.environ.get("MUJOCO_GL") or os.environ.get("DISPLAY"):  # GLFW needs a display
            try:
                renderer = mujoco.Renderer(model, HEIGHT, WIDTH)
            except Exception:  # no OpenGL context after all: draw it ourselves
                pass
    if isinstance(renderer, _Fallback):
        return lines_frame(model, data), renderer
    renderer.update_scene(data, camera="track")
    return renderer.render().copy(), renderer


def lines_frame(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """The body as lines: each capsule from end to end, each sphere a dot, the goal a green
    ring, seen from behind and above the torso."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(WIDTH / 80, HEIGHT / 80), dpi=80)
    ax = fig.add_subplot(projection="3d")
    centre = data.xpos[1]
    for g in range(model.ngeom):
        if model.geom_bodyid[g] == 0:
            continue  # the ground and the stones
        pos, rot = data.geom_xpos[g], data.geom_xmat[g].reshape(3, 3)
        kind = model.geom_type[g]
        if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
            half = rot[:, 2] * model.geom_size[g, 1]
            a, b = pos - half, pos + half
            ax.plot([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], color="tab:orange", lw=4)
        elif kind == mujoco.mjtGeom.mjGEOM_SPHERE:
            size = 300 if model.geom_size[g, 0] > 0.1 else 30
            ax.scatter(*pos, s=size, color="tab:orange" if size > 30 else "k")
        else:
            ax.scatter(*pos, s=40, marker="s", color="tab:blue")
    goal = data.site_xpos[0]
    t = np.linspace(0, 2 * np.pi, 40)
    r = model.site_size[0, 0]
    ax.plot(goal[0] + r * np.cos(t), goal[1] + r * np.sin(t), 0 * t, color="tab:green")
    span = 1.2
    ax.set_xlim(centre[0] - span, centre[0] + span)
    ax.set_ylim(centre[1] - span, centre[1] + span)
    ax.set_zlim(0, 2 * span * 0.5)
    ax.view_init(elev=25, azim=-90)
    fig.canvas.draw()
    frame = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]
    plt.close(fig)
    return frame
