"""``render_mode="human"`` on machines with and without a screen.

Gymnasium's env checker, RL Zoo's ``enjoy`` and many scripts make an env with
``render_mode="human"`` by default. Where no window can be opened (a CI runner, a server, a
container) the env still runs: it warns, draws nothing and ``render()`` returns ``None``,
the way a headless pygame env does with the dummy video driver.
"""

from __future__ import annotations

import os
import sys

import gymnasium as gym


def has_display() -> bool:
    """Whether a window can be opened here."""
    return os.name == "nt" or sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def human_window(env_name: str) -> bool:
    """Whether ``render_mode="human"`` of ``env_name`` can show a window; warns when not."""
    if has_display():
        return True
    gym.logger.warn(f"{env_name}: render_mode='human' without a display (DISPLAY is unset): "
                    "the env runs but draws no window; use render_mode='rgb_array' for frames")
    return False
