"""The window of ``render_mode="human"``: whether one can open here, and frames shown in it.

matplotlib is imported only when a frame is shown.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def has_display() -> bool:
    """Whether a window can be opened here."""
    return os.name == "nt" or sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show(frame: np.ndarray, viewer=None):
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


def close(viewer) -> None:
    """Close the window of ``viewer`` (from :func:`show`; None: nothing to close)."""
    if viewer is not None:
        import matplotlib.pyplot as plt

        plt.close(viewer.figure)
