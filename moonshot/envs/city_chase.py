"""The chase view of CityNav: the 3D scene seen from behind and above the ego.

The scene is built once per map in a :class:`~moonshot.physics.bullet_scene.BulletScene` (a
pybullet client of its own, visual shapes only): the ground, sidewalks and roads with their
centre lines, buildings in shades of grey, traffic-light poles and lamps that take the colour
of their signal, the route as a blue ribbon and a green post at the goal. Each frame poses the
traffic cars (coloured) and the ego (red), recolours the lamps whose signal changed and takes a
picture with pybullet's software renderer. Nothing of it touches the simulation's own pybullet
client, and nothing is built until a chase frame is asked for.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..physics.bullet_scene import BulletScene, discs, merge, prisms, segments
from ..physics.city.geometry import rect_corners
from ..physics.city.signals import GREEN, NO_LIGHT, RED, YELLOW
from ..physics.city.traffic import CAR_LENGTH, CAR_WIDTH

if TYPE_CHECKING:
    from ..physics.city.batch import DriveView
    from ..physics.city.bullet_city import CityWorld


def _rgba(rgb, a: float = 1.0) -> tuple[float, float, float, float]:
    return (rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, a)


COLORS = {
    "ground": (128, 160, 110), "sidewalk": (190, 190, 184), "road": (78, 80, 88),
    "center": (240, 200, 40), "stop": (235, 235, 235), "route": (50, 120, 255),
    "goal": (30, 200, 60), "pole": (55, 58, 64), "ego": (225, 30, 30),
    "sky_top": (120, 165, 225), "sky_low": (215, 228, 240),
    GREEN: (40, 230, 70), YELLOW: (255, 205, 20), RED: (240, 25, 25), NO_LIGHT: (40, 40, 40),
}
BUILDING_SHADES = ((150, 150, 156), (170, 166, 160), (128, 132, 140), (186, 184, 178))
CAR_COLORS = ((40, 80, 200), (235, 235, 230), (30, 150, 160), (250, 180, 40), (110, 60, 150),
              (60, 60, 66), (120, 190, 90))
CAR_HEIGHT, CABIN_HEIGHT = 0.9, 0.6  # m: body and cabin of the drawn cars
LAMP_HEIGHT = 4.6  # m
BEHIND, ABOVE, AHEAD, AIM = 11.0, 5.0, 9.0, 0.8  # m: the camera and where it looks
CAMERA_LAG = 0.4  # s
PIECE = 10.0  # m: long strips are drawn in pieces (see bullet_scene.segments)


class ChaseRenderer:
    """Frames of a :class:`~moonshot.physics.city.bullet_city.CityWorld` seen from behind its ego.

    ``size``: the image is ``size x size`` pixels; ``fov`` the vertical field of view
    (degrees); ``far`` how far the camera sees (m)."""

    def __init__(self, size: int = 360, fov: float = 62.0, far: float = 220.0):
        self.size, self.fov, self.far = int(size), float(fov), float(far)
        self.scene: BulletScene | None = None
        self._map_key: tuple | None = None
        self._route_key: tuple | None = None
        self._route_bodies: list[int] = []
        self._cars: list[int] = []
        self._ego = -1
        self._lamps = np.zeros(0, dtype=np.int64)
        self._lamp_road = np.zeros(0, dtype=np.int64)
        self._lamp_state = np.zeros(0, dtype=np.int64)
        self._cam_heading: float | None = None
        self._last_t = math.inf
        self._background = self._ground_and_sky()

    # ------------------------------------------------------------------ scene
    def _build_map(self, city) -> None:
        if self.scene is not None:
            self.scene.close()
        self.scene = sc = BulletScene()
        p, g = city.params, city.lanes
        segs = city.road_segments
        a, b = segs[:, :2], segs[:, 2:]
        for width, z, name in ((p.half_width + p.sidewalk, 0.02, "sidewalk"),
                               (p.half_width, 0.04, "road")):
            rad = (np.full(len(city.nodes), width + 1.0) if name == "sidewalk"
                   else width + (city.node_radius - p.half_width) * 0.3)
            sc.add_mesh(*merge(segments(a, b, 2 * width, z, PIECE), discs(city.nodes, rad, z)),
                        _rgba(COLORS[name]))
        # centre lines (between the two directions) and stop lines at the lane ends
        ends_a, ends_b = g.pts[:g.n_road, 0], g.pts[:g.n_road, -1]
        u = ends_b - ends_a
        u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-9)
        left = np.stack([-u[:, 1], u[:, 0]], axis=1)
        inner = g.index[:g.n_road] == g.lanes - 1
        edge = left[inner] * p.lane_width / 2
        sc.add_mesh(*segments(ends_a[inner] + edge, ends_b[inner] + edge, 0.25, 0.06, PIECE),
                    _rgba(COLORS["center"]))
        half = left * p.lane_width / 2
        sc.add_mesh(*segments(ends_b - half - 0.3 * u, ends_b + half - 0.3 * u, 0.4, 0.06),
                    _rgba(COLORS["stop"]))
        # buildings, in a few shades
        bx = city.buildings
        corners = rect_corners(bx[:, 0], bx[:, 1], bx[:, 2], bx[:, 3], bx[:, 4])
        shade = (np.arange(len(bx)) * 7919 + city.seed) % len(BUILDING_SHADES)
        for k, rgb in enumerate(BUILDING_SHADES):
            sel = shade == k
            walls, roofs = prisms(corners[sel], 0.0, city.building_height[sel])
            sc.add_mesh(*walls, _rgba(rgb))
            sc.add_mesh(*roofs, _rgba(tuple(int(0.8 * c) for c in rgb)))
        # traffic lights: a pole at the curb, an arm over the lanes, a lamp over each lane
        lit = np.flatnonzero(g.phase[:g.n_road] >= 0)
        right = -left[lit]
        stop = ends_b[lit] - 0.8 * u[lit]
        curb = stop + right * (p.lane_width * (g.index[lit][:, None] + 0.5) + 0.4)
        lamp_xy = stop  # over the middle of its lane
        poles = [prisms(rect_corners(curb[:, 0], curb[:, 1], 0.12, 0.12, 0.0), 0.0,
                        LAMP_HEIGHT + 0.5)[0]]
        arm_mid = (curb + lamp_xy) / 2
        arm_len = np.linalg.norm(curb - lamp_xy, axis=1) / 2 + 0.3
        arm_yaw = np.arctan2(right[:, 1], right[:, 0])
        poles.append(merge(*prisms(rect_corners(arm_mid[:, 0], arm_mid[:, 1], arm_len, 0.08,
                                                arm_yaw), LAMP_HEIGHT + 0.35,
                                   LAMP_HEIGHT + 0.5)))
        sc.add_mesh(*merge(*poles), _rgba(COLORS["pole"]))
        self._lamps = np.array([sc.add_boxes([(0.35, 0.35, 0.35)], [(0, 0, 0)],
                                             _rgba(COLORS[NO_LIGHT])) for _ in lit], dtype=int)
        for body, (lx, ly), yaw in zip(self._lamps, lamp_xy, arm_yaw, strict=True):
            sc.set_pose(int(body), lx, ly, LAMP_HEIGHT, yaw)
        self._lamp_road = g.road[lit]
        self._lamp_state = np.full(len(lit), NO_LIGHT - 1)
        self._cars, self._ego = [], -1
        self._route_key, self._route_bodies = None, []

    def _car_body(self, length: float, width: float, rgb) -> int:
        h, c = CAR_HEIGHT, CABIN_HEIGHT
        assert self.scene is not None  # built by the first draw()
        return self.scene.add_boxes(
            [(length / 2, width / 2, h / 2), (0.28 * length, 0.46 * width, c / 2)],
            [(0, 0, h / 2 + 0.15), (-0.08 * length, 0, h + 0.15 + c / 2)], _rgba(rgb))

    def _build_route(self, world) -> None:
        sc = self.scene
        assert sc is not None
        for body in self._route_bodies:
            sc.remove(body)
        pts = world.route.points
        gx, gy = world.route.goal
        ribbon = segments(pts[:-1], pts[1:], 0.9, 0.08)
        self._route_bodies = [
            sc.add_mesh(*merge(ribbon, discs(pts[1:-1], np.full(len(pts) - 2, 0.45), 0.08, 8)),
                        _rgba(COLORS["route"])),
            sc.add_mesh(*merge(*prisms(rect_corners(gx, gy, 0.6, 0.6, 0.0)[None], 0.0, 6.0)),
                        _rgba(COLORS["goal"]))]

    # ------------------------------------------------------------------ frames
    def draw(self, world: CityWorld | DriveView) -> np.ndarray:
        """An RGB frame ``(size, size, 3)`` of ``world`` now."""
        city, tr = world.city, world.traffic
        assert city is not None and tr is not None  # a drive has started
        key = (city.seed, city.params)
        if key != self._map_key:
            self._build_map(city)
            self._map_key = key
        sc = self.scene
        assert sc is not None
        route_key = (key, world.start_lane, world.start_s, world.goal_lane, world.goal_s)
        if route_key != self._route_key:
            self._build_route(world)
            self._route_key = route_key
        while len(self._cars) < tr.n:
            rgb = CAR_COLORS[len(self._cars) % len(CAR_COLORS)]
            self._cars.append(self._car_body(float(tr.idm[CAR_LENGTH]),
                                             float(tr.idm[CAR_WIDTH]), rgb))
        for k, body in enumerate(self._cars):
            if k < tr.n:
                cx, cy, ch = tr.pose[k]
                sc.set_pose(body, cx, cy, 0.0, ch)
            else:
                sc.set_pose(body, 0.0, 0.0, -50.0, 0.0)
        if self._ego < 0:
            p = world.ego_params
            self._ego = self._car_body(p.length, p.width, COLORS["ego"])
        x, y, h, _ = world.ego
        sc.set_pose(self._ego, x, y, 0.0, h)
        states = city.signals.states(world.t)[self._lamp_road]
        for k in np.flatnonzero(states != self._lamp_state).tolist():
            sc.set_color(int(self._lamps[k]), _rgba(COLORS[int(states[k])]))
        self._lamp_state = states
        return self._picture(world, x, y, h)

    def _picture(self, world, x: float, y: float, h: float) -> np.ndarray:
        # the camera swings after the car's heading, lagging by about CAMERA_LAG seconds
        # (no jolt on each steering input), however often frames are taken
        if self._cam_heading is None or world.t < self._last_t:
            self._cam_heading = h
        else:
            d = math.atan2(math.sin(h - self._cam_heading), math.cos(h - self._cam_heading))
            self._cam_heading += (1.0 - math.exp(-(world.t - self._last_t) / CAMERA_LAG)) * d
        self._last_t = world.t
        c, s = math.cos(self._cam_heading), math.sin(self._cam_heading)
        eye = (x - BEHIND * c, y - BEHIND * s, ABOVE)
        target = (x + AHEAD * c, y + AHEAD * s, AIM)
        assert self.scene is not None
        rgb, empty = self.scene.camera_image(eye, target, self.size, self.size, fov=self.fov,
                                             far=self.far)
        rgb = rgb.copy()
        rgb[empty] = self._background[empty]
        return rgb

    def _ground_and_sky(self) -> np.ndarray:
        """What the camera sees where no shape is drawn: the ground below the horizon
        (fading into haze with distance), the sky above. The camera never rolls or changes
        its pitch, so this is one image per size, computed row by row."""
        pitch = math.atan2(ABOVE - AIM, BEHIND + AHEAD)  # below the horizontal
        v = (np.arange(self.size) + 0.5) / self.size  # 0 at the top
        up = np.arctan((1.0 - 2.0 * v) * math.tan(math.radians(self.fov) / 2))
        elevation = up - pitch
        ground = np.array(COLORS["ground"], float)
        haze = np.array(COLORS["sky_low"], float)
        top = np.array(COLORS["sky_top"], float)
        dist = ABOVE / np.tan(np.clip(-elevation, 1e-6, None))
        fog = np.clip(dist / (2.0 * self.far), 0.0, 1.0)[:, None] ** 0.7
        below = ground * (1 - fog) + haze * fog
        t = np.clip(elevation / max(up[0] - pitch, 1e-6), 0.0, 1.0)[:, None]
        above = haze * (1 - t) + top * t
        rows = np.where((elevation < 0)[:, None], below, above).astype(np.uint8)
        return np.ascontiguousarray(np.broadcast_to(rows[:, None, :],
                                                    (self.size, self.size, 3)))

    def close(self) -> None:
        if self.scene is not None:
            self.scene.close()
            self.scene = None
        self._map_key = None
