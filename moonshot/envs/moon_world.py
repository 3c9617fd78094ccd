"""Deprecated: the old home of MoonLaunch's settings (now :mod:`.moon_config`), its scenarios,
observation and launches (:mod:`.moon_core`) and its action mapping (:mod:`.moon_actions`).

Kept so that ``from moonshot.envs.moon_world import action_to_burn`` (and the rest) keeps
working for a while, with a :class:`DeprecationWarning` naming the new module.
"""

from __future__ import annotations

import warnings
from typing import Any


def _home(name: str) -> str | None:
    """The module that holds ``name`` now (``None``: none of them)."""
    import importlib

    for module in ("moon_config", "moon_actions", "moon_core"):
        if hasattr(importlib.import_module(f"moonshot.envs.{module}"), name):
            return f"moonshot.envs.{module}"
    return None


def __getattr__(name: str) -> Any:
    module = None if name.startswith("__") else _home(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    warnings.warn(f"moonshot.envs.moon_world.{name} moved to {module}.{name}",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), name)
