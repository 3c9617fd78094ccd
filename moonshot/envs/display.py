"""The window of ``render_mode="human"``: whether one can open here, and frames shown in it.

Gymnasium's env checker, RL Zoo's ``enjoy`` and many scripts make an env with
``render_mode="human"`` by default. Where no window can be opened (a CI runner, a server, a
container) the env still runs: :func:`human_window` warns, and the env draws nothing and its
``render()`` returns ``None``, the way a headless pygame env does with the dummy video driver.

matplotlib is imported only when a frame is shown.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, cast

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage


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


def show(frame: np.ndarray, viewer: AxesImage | None = None) -> AxesImage:
    """Show ``frame`` in a matplotlib window (the caller checked that a display exists): a new
    window when ``viewer`` is None, else the window of ``viewer``. Returns the viewer to pass
    next time."""
    import matplotlib.pyplot as plt

    if viewer is None:
        fig, ax = plt.subplots()
        ax.axis("off")
        viewer = ax.imshow(frame)
        plt.show(block=False)
    else:
        viewer.set_data(frame)
    plt.pause(0.001)
    return viewer


def close(viewer: AxesImage | None) -> None:
    """Close the window of ``viewer`` (from :func:`show`; None: nothing to close)."""
    if viewer is not None:
        import matplotlib.pyplot as plt

        # the image of show(): on plt.subplots' axes, so its figure is a Figure, not a SubFigure
        plt.close(cast("Figure", viewer.figure))
