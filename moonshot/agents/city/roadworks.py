"""What a driver does about roadworks its map does not show: pass them on the other side.

The planner's map is the city's as published (stale: no roadworks). Its sensors report the
barriers they see (``view.works``, in line of sight within sensor range, as a driver sees
cones and fences). A barrier that stands on the rest of the route is remembered and the
route is bent around it: over a ramp before and after the barrier the route is shifted
sideways, towards the road's centre line (into the oncoming lane, or the next lane of a
two-lane road), far enough for the car to clear it. The planner then drives the bent route
with its usual checks - the oncoming cars it sees are predicted along their lanes, so it
waits behind the barrier while the other side is not clear - and keeps the barrier itself as
a standing obstacle (its rectangle) in every candidate's check.

Only the map (road centre lines), the barriers seen and the route are used; nothing of the
simulator's roadworks code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...physics.city.geometry import cumulative_length
from ...physics.city.route import Route

RAMP = 12.0  # m over which the route moves across, before and after a barrier
CLEARANCE = 0.6  # m between the car's side and a barrier it passes
PAST = 3.0  # m beyond each end of a barrier before the route moves back


def works_key(box: np.ndarray) -> tuple[int, int]:
    """A barrier's identity (its centre to the decimetre): seen again, it is known."""
    return int(round(10 * float(box[0]))), int(round(10 * float(box[1])))


def _side(map_: Any, box: np.ndarray) -> float:
    """+1 if the road's centre line lies to the left of the barrier (looking along it), -1
    if to the right: the side the road continues on."""
    a = map_.nodes[map_.edges[:, 0]]
    ab = map_.nodes[map_.edges[:, 1]] - a
    c = box[:2]
    t = np.clip(((c - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-9), 0.0, 1.0)
    q = a + t[:, None] * ab
    k = int(np.argmin(np.hypot(*(q - c).T)))
    left = np.array([-math.sin(box[4]), math.cos(box[4])])
    return 1.0 if float(left @ (q[k] - c)) >= 0.0 else -1.0


def bend_route(route: Route, map_: Any, box: np.ndarray, car_half_width: float,
               i_now: int) -> Route | None:
    """``route`` bent around the barrier ``box`` (``cx, cy, half_length, half_width, yaw``)
    if it stands on the route ahead of point ``i_now``; ``None`` if it is not in the way.
    The route keeps its points (moved sideways), so indices along it stay valid."""
    pts, cum = route.points, route.cum
    ahead = pts[i_now:]
    if len(ahead) < 2:
        return None
    j = i_now + int(np.argmin(np.hypot(*(ahead - box[:2]).T)))
    k1 = min(j + 1, len(pts) - 1)
    tangent = pts[k1] - pts[k1 - 1]
    tangent = tangent / max(float(np.hypot(*tangent)), 1e-9)
    normal = np.array([-tangent[1], tangent[0]])
    offset = float(normal @ (box[:2] - pts[j]))  # the barrier's centre, left of the route
    along = float(tangent @ (box[:2] - pts[j]))
    need = float(box[3]) + car_half_width + CLEARANCE
    if abs(offset) >= need or abs(along) > float(box[2]) + 2.0:
        return None  # beside the route, or not near it at all
    side = _side(map_, box)
    shift = offset + side * need  # where the car's centre passes, left of the route
    s_c = float(cum[j]) + along
    lo, hi = s_c - float(box[2]) - PAST, s_c + float(box[2]) + PAST
    u = np.clip(np.minimum(cum - (lo - RAMP), (hi + RAMP) - cum) / RAMP, 0.0, 1.0)
    w = u * u * (3.0 - 2.0 * u)  # smooth in and out
    heading = np.gradient(pts, axis=0)
    heading /= np.maximum(np.hypot(heading[:, 0], heading[:, 1]), 1e-9)[:, None]
    normals = np.column_stack([-heading[:, 1], heading[:, 0]])
    moved = pts + (w * shift)[:, None] * normals
    new_cum = cumulative_length(moved)
    stops = route.stops.copy()
    if len(stops):
        stops[:, 0] = np.interp(stops[:, 0], cum, new_cum)
    return Route(lanes=list(route.lanes), points=moved, cum=new_cum, stops=stops,
                 goal=route.goal.copy())


__all__ = ["bend_route", "works_key", "RAMP", "CLEARANCE"]
