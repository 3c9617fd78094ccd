"""Traffic lights as the planner reads them: the colour it sees now, and the highway code's
published meaning - not the simulator's signal plans or its drivers' rule.

* **Its own stop line**: it crosses on a green it sees. On yellow - "stop, unless you are so
  close that stopping might be unsafe" - it goes on only when stopping would take more than
  ``YELLOW_BRAKE_SHARE`` of its own braking (a stop at half the brakes is a firm but safe
  stop). A light not in sight yet counts as red.
* **Other cars at their lines**: the planner assumes the worst plausible reading. On red a
  car stops unless it would need more than ``RED_BRAKE`` m/s² to do so, or it should be
  braking by now (more than ``SHOULD_BRAKE`` m/s² needed) and is not slowing: then it is
  expected to run the light. On yellow a car is expected to stop only if it can with a gentle
  ``YELLOW_BRAKE_OTHERS`` m/s²; otherwise it is expected to go on. A stopping car halts with
  its front ``STOP_SHORT`` m behind the line (the highway code: behind the line, where its
  driver can still see it).
"""

from __future__ import annotations

from ...physics.city.signals import GREEN, RED, YELLOW

YELLOW_BRAKE_SHARE = 0.5  # of the ego's braking: a yellow it can stop for this gently, it does
RED_BRAKE = 4.0  # m/s²: a car needing more to stop at its red is expected to run it
SHOULD_BRAKE = 2.0  # m/s²: a car needing this much to stop should visibly be slowing
NOT_SLOWING = -0.5  # m/s²: a car decelerating less than this is not braking
YELLOW_BRAKE_OTHERS = 2.0  # m/s²: on yellow, another car is expected to stop only this gently
STOP_SHORT = 1.0  # m: where a stopping car's front halts, behind its stop line (a driver stops
#                   about a metre short, to see the line)


def ego_goes_on_yellow(v: float, to_line: float, max_brake: float) -> bool:
    """Is the ego, at speed ``v``, ``to_line`` metres before its line, too close to stop on
    yellow with ``YELLOW_BRAKE_SHARE`` of its braking ``max_brake``?"""
    return v * v > 2.0 * YELLOW_BRAKE_SHARE * max_brake * max(to_line, 0.0)


def expects_stop(state: int, v: float, to_line: float, accel: float) -> bool:
    """Does the planner expect a car at speed ``v`` (measured acceleration ``accel``),
    ``to_line`` metres before its stop line, to stop for a light showing ``state``?"""
    if to_line < 0.0:
        return False
    need = v * v / (2.0 * max(to_line, 1e-3))
    if state == RED:
        return need <= RED_BRAKE and not (need > SHOULD_BRAKE and accel > NOT_SLOWING)
    if state == YELLOW:
        return need <= YELLOW_BRAKE_OTHERS
    return False


YIELD_AFTER = 2.0  # s: a car standing at its line this long after its light turned green yields


class LightMemory:
    """Since when each light in sight has shown green (as seen: a light first seen green may
    have just turned)."""

    def __init__(self) -> None:
        self._green_since: dict = {}

    def update(self, lights: dict, t: float) -> None:
        """Record the lights seen at time ``t`` (``{(node, phase): state}``)."""
        for key, state in lights.items():
            if state == GREEN:
                self._green_since.setdefault(key, t)
            else:
                self._green_since.pop(key, None)

    def standing_car_may_go(self, key: tuple[int, int], state: int | None, t: float) -> bool:
        """May a car standing at the line of light ``key`` (showing ``state``, ``None``: not
        in sight) pull away? Not at red or yellow; on green only if it turned green less than
        ``YIELD_AFTER`` s ago - a car that stands on green longer is yielding (to the ego, to
        a queue ahead); it is predicted again as soon as it moves."""
        if state is None:
            return True
        if state != GREEN:
            return False
        return t - self._green_since.get(key, t) < YIELD_AFTER
