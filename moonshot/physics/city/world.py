"""Deprecated: the old home of :mod:`.drive` (the draw of a drive) and :mod:`.bullet_city`
(:class:`~moonshot.physics.city.bullet_city.CityWorld`).

Kept because training checkpoints pickled before the split name ``Drive`` here, so that
``--resume`` of such a run still works; import from the new modules.
"""

from __future__ import annotations

import warnings
from typing import Any

_MOVED = {"DT": "drive", "Drive": "drive", "draw_drive": "drive", "cached_city": "drive",
          "CityWorld": "bullet_city", "CAR_HEIGHT": "bullet_city", "RAY_HEIGHT": "bullet_city",
          "LIGHT_HEIGHT": "bullet_city"}


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(name)
    import importlib

    module = f"moonshot.physics.city.{_MOVED[name]}"
    warnings.warn(f"moonshot.physics.city.world.{name} moved to {module}.{name}",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), name)
