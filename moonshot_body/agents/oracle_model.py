"""The body planner's *oracle* model: the true body, damage and payload included, built by the
simulator's own builder (:mod:`moonshot_body.builder`) from the env's ``oracle`` view, on the
true ground (exact grip, every stone). A labelled ablation (``planner:body:model=oracle``),
never a headline: it shows what the planner would do if it knew what no sensor of the body
says, in the simulator's own model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from ..anatomy import Changes, Design, Ground
from ..builder import build_model, set_ground


def true_changes(view: Any) -> Changes:
    """The changes of the true body, from an ``oracle`` perception view."""
    if getattr(view, "mode", None) != "oracle":
        raise ValueError("the oracle model needs the oracle perception view")
    return Changes(**dict(view.changes))


def true_model(view: Any, design: Design, timestep: float) -> mujoco.MjModel:
    """The simulator's model of the true body of an ``oracle`` view at ``timestep`` (s)."""
    return build_model(design, true_changes(view), timestep=timestep)


def place_true_ground(model: mujoco.MjModel, ground: Mapping[str, Any],
                      near: tuple[float, float] = (0.0, 0.0)) -> None:
    """Put the oracle view's (true) ground under ``model``, as the simulator does."""
    set_ground(model, Ground(friction=ground["friction"], slope_deg=ground["slope_deg"],
                             uphill=ground["uphill"], stones=np.asarray(ground["stones"])))
