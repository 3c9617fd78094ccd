"""Top-down picture of a MoonLaunch flight (matplotlib, only imported when rendering)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..physics.constants import DAY, R_EARTH, R_MOON
from .display import has_display, show  # noqa: F401  (their former home)

if TYPE_CHECKING:
    from .moon_core import Scenarios

_SIZE_PX = 600
_SPACE = "#0b0d17"


def _figure(size_px: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100, facecolor=_SPACE)
    return fig, fig.add_axes((0, 0, 1, 1))


def _earth_and_orbit(ax, a: float) -> None:
    """Style ``ax`` as space 1.25 lunar orbits across, with the Earth and the Moon's orbit
    (semi-major axis ``a``, km)."""
    from matplotlib.patches import Circle

    ax.set_facecolor(_SPACE)
    ax.set_aspect("equal")
    ax.axis("off")
    lim = 1.25 * a
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    # Earth drawn enlarged (x4) so that it is visible at this scale; the Moon at x4 too.
    ax.add_patch(Circle((0, 0), 4 * R_EARTH, color="#2e6fd8", zorder=3))
    th = np.linspace(0, 2 * np.pi, 256)
    ax.plot(a * np.cos(th), a * np.sin(th), color="#444a5c", lw=0.8, ls="--", zorder=1)


def _to_rgb(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def render_launch(scenario: Scenarios | None, info: dict | None, constants: dict,
                  size_px: int = _SIZE_PX,
                  trajectories: list | None = None,
                  previous: tuple[dict, np.ndarray | None] | None = None) -> np.ndarray:
    """RGB frame ``(size_px, size_px, 3)``: Earth, the Moon's orbit and path, the rocket's
    trajectory (or several, for a planner's trials) and the closest approach.

    ``info`` is the launch's step info (``None`` before the launch); ``previous`` the
    ``(info, trajectory)`` of the launch before, drawn faded with its outcome while this
    scenario waits for its burn, so that frames taken after an autoreset (RL Zoo's videos,
    vector envs) still show every flight.
    """
    from matplotlib.patches import Circle

    fig, ax = _figure(size_px)
    a = constants.get("moon_semi_major_axis", 384400.0)
    _earth_and_orbit(ax, a)
    trajs = list(trajectories or [])
    if info is not None and "trajectory" in info and not trajectories:
        trajs = [info["trajectory"]]
    colors = ["#ffb000", "#ff5e5b", "#7bd389", "#c38dff", "#4cc9f0"]
    for i, tr in enumerate(trajs):
        if len(tr):
            ax.plot(tr[:, 1], tr[:, 2], color=colors[i % len(colors)], lw=1.2, zorder=4)
    if trajs and len(trajs[-1]):
        tr = trajs[-1]
        ax.plot(tr[:, 5], tr[:, 6], color="#aaaaaa", lw=2.0, alpha=0.6, zorder=2)
        ax.add_patch(Circle((tr[-1, 5], tr[-1, 6]), 4 * R_MOON, color="#d8d8d8", zorder=5))
    elif scenario is not None:
        ang = float(scenario.moon_angle[0])
        ax.add_patch(Circle((a * np.cos(ang), a * np.sin(ang)), 4 * R_MOON, color="#d8d8d8",
                            zorder=5))
    text = "MoonLaunch: choose the burn"
    if info is not None and "outcome" in info:
        text = _outcome_text(info)
        if trajs and len(trajs[-1]):
            _mark_closest(ax, trajs[-1], info, alpha=1.0)
    elif previous is not None and previous[1] is not None and len(previous[1]):
        last_info, tr = previous
        assert tr is not None  # checked above (mypy does not narrow through the unpacking)
        ax.plot(tr[:, 1], tr[:, 2], color=colors[0], lw=1.2, alpha=0.8, zorder=4)
        ax.plot(tr[:, 5], tr[:, 6], color="#aaaaaa", lw=1.5, alpha=0.25, zorder=2)
        ax.add_patch(Circle((tr[-1, 5], tr[-1, 6]), 4 * R_MOON, color="#d8d8d8", alpha=0.35,
                            zorder=5))
        _mark_closest(ax, tr, last_info, alpha=0.5)
        text += "\nlast launch: " + _outcome_text(last_info)
    ax.text(0.02, 0.97, text, transform=ax.transAxes, color="white", fontsize=9, va="top",
            family="monospace")
    return _to_rgb(fig)


def _outcome_text(info: dict) -> str:
    return (f"{info['outcome']}   closest {info['closest_approach_km']:,.0f} km   "
            f"t {info['time_of_flight_days']:.2f} d   dv {info['delta_v_kms']:.3f} km/s")


def _mark_closest(ax, tr: np.ndarray, info: dict, alpha: float) -> None:
    """A cross at the rocket's closest approach to the Moon."""
    t_c = info["time_of_flight_days"] * DAY
    k = int(np.clip(np.searchsorted(tr[:, 0], t_c), 0, len(tr) - 1))
    ax.plot(tr[k, 1], tr[k, 2], "x", color="white", ms=9, mew=2, alpha=alpha, zorder=6)


def flight_frames(trajectories: list[np.ndarray], infos: list[dict], constants: dict,
                  n_frames: int = 40, size_px: int = 480, title: str = "") -> list[np.ndarray]:
    """Animation frames of one or more launches (a planner's trials, in order): the inertial
    view (left) and the Earth–Moon rotating view (right, Moon fixed on the +x axis), the Moon
    moving, a time label and each trial's outcome. Earlier trials stay drawn, faded."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    a = constants.get("moon_semi_major_axis", 384400.0)
    colors = ["#ffb000", "#ff5e5b", "#7bd389", "#c38dff", "#4cc9f0"]
    frames = []
    per_trial = max(4, n_frames // max(1, len(trajectories)))
    for k, (tr, info) in enumerate(zip(trajectories, infos, strict=True)):
        t_end = tr[-1, 0]
        for f in range(per_trial):
            t_now = t_end * (f + 1) / per_trial
            m = int(np.searchsorted(tr[:, 0], t_now, side="right"))
            fig = Figure(figsize=(2 * size_px / 100, size_px / 100), dpi=100,
                         facecolor=_SPACE)
            for panel in (0, 1):
                ax = fig.add_axes((panel * 0.5, 0, 0.5, 0.92))
                _earth_and_orbit(ax, a)
                ax.text(0.5, 0.02, "inertial" if panel == 0 else "rotating with the Moon",
                        transform=ax.transAxes, color="#9aa0b4", fontsize=8, ha="center")
                for j in range(k + 1):
                    tj = trajectories[j] if j < k else tr[:max(m, 1)]
                    xy = _view(tj, panel)
                    ax.plot(xy[:, 0], xy[:, 1], color=colors[j % len(colors)],
                            lw=1.4 if j == k else 0.8, alpha=1.0 if j == k else 0.45, zorder=4)
                if panel == 0:  # the Moon's path so far
                    ax.plot(tr[:max(m, 1), 5], tr[:max(m, 1), 6], color="#aaaaaa", lw=2,
                            alpha=0.5, zorder=2)
                cur = tr[min(max(m, 1), len(tr)) - 1]
                moon = _view(cur[None, :], panel, moon=True)[0]
                ax.add_patch(Circle(moon, 4 * R_MOON, color="#d8d8d8", zorder=5))
                rocket = _view(cur[None, :], panel)[0]
                ax.plot(*rocket, "o", color=colors[k % len(colors)], ms=4, zorder=6)
            label = f"{title}  trial {k + 1}/{len(trajectories)}   t = {t_now / DAY:5.2f} d"
            if f == per_trial - 1:
                label += f"   {info['outcome']} ({info['closest_approach_km']:,.0f} km)"
            fig.text(0.01, 0.96, label, color="white", fontsize=10, family="monospace")
            frames.append(_to_rgb(fig))
    return frames


def _view(rows: np.ndarray, panel: int, moon: bool = False) -> np.ndarray:
    """Positions of the rocket (or the Moon) in the inertial (0) or rotating (1) view."""
    x, y = (rows[:, 5], rows[:, 6]) if moon else (rows[:, 1], rows[:, 2])
    if panel == 0:
        return np.column_stack([x, y])
    ang = np.arctan2(rows[:, 6], rows[:, 5])
    c, s = np.cos(-ang), np.sin(-ang)
    return np.column_stack([c * x - s * y, s * x + c * y])
