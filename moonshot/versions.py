"""Versions of moonshot and the libraries behind a run, read without importing them (a
planner run must not load torch just to record which torch is installed)."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("numpy", "numba", "gymnasium", "stable_baselines3", "torch", "pybullet")


def versions() -> dict[str, str]:
    """``{"moonshot": ..., "python": ..., "numpy": ..., ...}`` (``"missing"`` if absent)."""
    from . import __version__

    out = {"moonshot": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out
