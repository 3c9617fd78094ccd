"""Choose MuJoCo's OpenGL backend before mujoco is first imported (it reads ``MUJOCO_GL``
once, on import)."""

from __future__ import annotations

import ctypes.util
import os
import sys


def choose_backend() -> None:
    """Headless (no ``DISPLAY``) and no choice made: EGL where libEGL exists. MuJoCo's
    default, GLFW, needs a display; and ``import mujoco`` fails when the backend named cannot
    load, so EGL is named only where its library is found. Elsewhere rendering falls back to
    matplotlib (:mod:`moonshot_body.render`)."""
    if "MUJOCO_GL" in os.environ or os.environ.get("DISPLAY"):
        return
    if "mujoco" not in sys.modules and ctypes.util.find_library("EGL"):
        os.environ["MUJOCO_GL"] = "egl"
