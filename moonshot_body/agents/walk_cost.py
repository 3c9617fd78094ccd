"""What a body planner wants of an imagined future: the cost the MPPI planners of the body
world (:mod:`.planner` over its MuJoCo model, :mod:`.pets` over its learned one) give it.

A future's cost is its distance to the goal along the way (where it ends counting most), how
far the torso sinks below its standing height or tips, and a large penalty for a fall (the
torso below :data:`SAFE_HEIGHT` or its up axis below :data:`SAFE_UPRIGHT`: a margin above
the env's rule). No model here: numpy arrays or torch tensors alike.
"""

from __future__ import annotations

from typing import Any

#: The torso height and tilt the planners treat as a fall (a margin above the env's rule).
SAFE_HEIGHT = 0.26
SAFE_UPRIGHT = 0.6
#: The cost of a fall (about ten metres' worth of distance).
FALL_COST = 20.0


def future_cost(dist: Any, height: Any, upright: Any, stand: float, ramp: Any) -> Any:
    """Cost of each future (``(..., horizon)`` arrays or tensors, the last axis its steps):
    ``dist`` to the goal (m), torso ``height`` (m), ``upright`` (the torso's up axis,
    vertical component); ``stand``: the standing height; ``ramp``: the weight of each step
    of the horizon in the mean distance. Without the fall penalty: :func:`fell`."""
    cost = (dist * ramp).mean(-1) + 2.0 * dist[..., -1]
    return cost + (2.0 * ((height - stand) ** 2).mean(-1) + 1.0 * (1.0 - upright).mean(-1))


def fell(height: Any, upright: Any) -> Any:
    """Whether each future (``(..., horizon)``) falls at some step."""
    return ((height < SAFE_HEIGHT) | (upright < SAFE_UPRIGHT)).any(-1)
