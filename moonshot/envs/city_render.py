"""Top-down frames of CityNav by direct numpy rasterization (no plotting library per frame);
the 3D chase view lives in :mod:`moonshot.envs.city_chase`.

The static city (sidewalks, roads, lane markings, buildings) is rasterized once per map at
0.5 m per pixel; each frame crops it around the ego (or shrinks it to the whole city) and draws
the route, the lights, the traffic, the ego and its lidar rays on top. North is up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..physics.city.geometry import rect_corners
from ..physics.city.signals import GREEN, RED, YELLOW
from ..physics.city.traffic import CAR_LENGTH, CAR_WIDTH
from . import display

if TYPE_CHECKING:  # imported on the first chase frame only (it loads pybullet)
    from matplotlib.image import AxesImage

    from ..physics.city.batch import DriveView
    from ..physics.city.bullet_city import CityWorld
    from .city_chase import ChaseRenderer

MPP = 0.5  # metres per pixel of the background
EGO_VIEW = 120.0  # m across in the ego view

Color = tuple[int, int, int]  # RGB

COLORS: dict[object, Color] = {
    "ground": (196, 214, 170), "sidewalk": (205, 205, 200), "road": (70, 72, 78),
    "marking": (235, 235, 235), "center": (240, 200, 40), "building": (150, 120, 105),
    "roof": (120, 95, 85), "route": (60, 140, 255), "car": (60, 90, 200), "ego": (230, 40, 40),
    "lidar": (255, 140, 0), "goal": (30, 200, 60), "works": (230, 90, 20),
    GREEN: (40, 220, 60), YELLOW: (250, 210, 30), RED: (235, 30, 30),
}


class _View:
    """A raster window: top-left corner ``(x0, y0)`` in the world, ``mpp`` metres per pixel."""

    def __init__(self, img: np.ndarray, x0: float, y0: float, mpp: float) -> None:
        self.img, self.x0, self.y0, self.mpp = img, x0, y0, mpp

    def to_px(self, xy: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        xy = np.asarray(xy, dtype=np.float64)
        return (xy[..., 0] - self.x0) / self.mpp, (self.y0 - xy[..., 1]) / self.mpp

    def fill_poly(self, poly: ArrayLike, color: Color) -> None:
        """Fill a convex polygon (k, 2 world coordinates)."""
        c, r = self.to_px(poly)
        h, w = self.img.shape[:2]
        c0, c1 = max(int(np.floor(c.min())), 0), min(int(np.ceil(c.max())), w)
        r0, r1 = max(int(np.floor(r.min())), 0), min(int(np.ceil(r.max())), h)
        if c0 >= c1 or r0 >= r1:
            return
        cc, rr = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        sign = np.sign(np.sum(c * np.roll(r, -1) - np.roll(c, -1) * r)) or 1.0
        inside = np.ones(cc.shape, dtype=bool)
        for k in range(len(c)):
            k1 = (k + 1) % len(c)
            cross = (c[k1] - c[k]) * (rr - r[k]) - (r[k1] - r[k]) * (cc - c[k])
            inside &= sign * cross >= 0
        self.img[r0:r1, c0:c1][inside] = color

    def fill_disc(self, xy: ArrayLike, radius: float, color: Color) -> None:
        c, r = self.to_px(xy)
        rad = radius / self.mpp
        h, w = self.img.shape[:2]
        c0, c1 = max(int(c - rad), 0), min(int(c + rad) + 1, w)
        r0, r1 = max(int(r - rad), 0), min(int(r + rad) + 1, h)
        if c0 >= c1 or r0 >= r1:
            return
        cc, rr = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        self.img[r0:r1, c0:c1][(cc - c) ** 2 + (rr - r) ** 2 <= rad * rad] = color

    def dots(self, xy: ArrayLike, color: Color, width: int = 1) -> None:
        """Set the pixels under world points ``xy (n, 2)`` (``width`` px squares)."""
        c, r = self.to_px(xy)
        c, r = c.astype(np.int64), r.astype(np.int64)
        h, w = self.img.shape[:2]
        for dr in range(width):
            for dc in range(width):
                rr, cc = r + dr - width // 2, c + dc - width // 2
                ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
                self.img[rr[ok], cc[ok]] = color

    def line(self, a: ArrayLike, b: ArrayLike, color: Color, width: int = 1,
             dash: float | None = None) -> None:
        p, q = np.asarray(a, float), np.asarray(b, float)
        n = max(2, int(np.linalg.norm(q - p) / (0.5 * self.mpp)))
        t = np.linspace(0, 1, n)[:, None]
        pts = p + (q - p) * t
        if dash:
            s = t[:, 0] * np.linalg.norm(q - p)
            pts = pts[(s % (2 * dash)) < dash]
        self.dots(pts, color, width)


def _background(city) -> _View:
    x0, y0, x1, y1 = city.bounds
    w, h = int(np.ceil((x1 - x0) / MPP)), int(np.ceil((y1 - y0) / MPP))
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[:] = COLORS["ground"]
    v = _View(img, x0, y1, MPP)
    p = city.params
    segs = city.road_segments
    for width, color in ((p.half_width + p.sidewalk, "sidewalk"), (p.half_width, "road")):
        for ax, ay, bx, by in segs:
            d = np.array([bx - ax, by - ay])
            length = np.linalg.norm(d)
            v.fill_poly(rect_corners((ax + bx) / 2, (ay + by) / 2, length / 2, width,
                                     np.arctan2(d[1], d[0])), COLORS[color])
        for node, rad in zip(city.nodes, city.node_radius, strict=True):
            v.fill_disc(node, width + (rad - p.half_width) * 0.3 if color == "road"
                        else width + 1.0, COLORS[color])
    g = city.lanes
    for lane in range(g.n_road):  # centre line (yellow) and lane separators (white dashes)
        a, b = g.pts[lane, 0], g.pts[lane, -1]
        u = (b - a) / np.linalg.norm(b - a)
        left = np.array([-u[1], u[0]])
        edge = left * p.lane_width / 2
        if g.index[lane] == g.lanes - 1:
            v.line(a + edge, b + edge, COLORS["center"], dash=None if g.lanes > 1 else 3.0)
        else:
            v.line(a + edge, b + edge, COLORS["marking"], dash=3.0)
        v.line(b - left * p.lane_width / 2, b + left * p.lane_width / 2, COLORS["marking"], 2)
    bx = city.buildings
    corners = rect_corners(bx[:, 0], bx[:, 1], bx[:, 2], bx[:, 3], bx[:, 4])
    inner = rect_corners(bx[:, 0], bx[:, 1], bx[:, 2] - 1.0, bx[:, 3] - 1.0, bx[:, 4])
    for c, ci in zip(corners, inner, strict=True):
        v.fill_poly(c, COLORS["building"])
        v.fill_poly(ci, COLORS["roof"])
    return v


class CityRenderer:
    """Draws frames of a :class:`~moonshot.physics.city.bullet_city.CityWorld`."""

    def __init__(self, size: int = 480):
        self.size = size
        self._bg_key: tuple | None = None
        self._bg: _View | None = None
        self._viewer: AxesImage | None = None  # the human-render window (display.show)
        self._chase: ChaseRenderer | None = None

    def draw(self, world: CityWorld | DriveView, view: str = "ego") -> np.ndarray:
        if view == "chase":  # the 3D view, built on its first frame
            if self._chase is None:
                from .city_chase import ChaseRenderer

                self._chase = ChaseRenderer(self.size)
            return self._chase.draw(world)
        city = world.city
        assert city is not None  # a drive has started
        key = (city.seed, city.params)
        if key != self._bg_key:
            self._bg, self._bg_key = _background(city), key
        bg = self._bg
        assert bg is not None
        if view == "ego":
            half = EGO_VIEW / 2
            x, y = world.ego[:2]
            x0, y1 = x - half, y + half
            n = int(EGO_VIEW / MPP)
            img = np.empty((n, n, 3), dtype=np.uint8)
            img[:] = COLORS["ground"]
            c0 = int(round((x0 - bg.x0) / MPP))
            r0 = int(round((bg.y0 - y1) / MPP))
            h, w = bg.img.shape[:2]
            rs, cs = max(r0, 0), max(c0, 0)
            re, ce = min(r0 + n, h), min(c0 + n, w)
            if rs < re and cs < ce:
                img[rs - r0:re - r0, cs - c0:ce - c0] = bg.img[rs:re, cs:ce]
            v = _View(img, bg.x0 + c0 * MPP, bg.y0 - r0 * MPP, MPP)
            width = 2
        else:
            step = max(1, int(np.ceil(max(bg.img.shape[:2]) / self.size)))
            v = _View(bg.img[::step, ::step].copy(), bg.x0, bg.y0, MPP * step)
            width = 1
        self._overlay(v, world, width)
        return self._fit(v.img)

    def _overlay(self, v: _View, world, width: int) -> None:
        city, g, route = world.city, world.city.lanes, world.route
        ahead = route.cum >= world.route_s
        v.dots(route.points[ahead], COLORS["route"], width)
        v.fill_disc(route.goal, 3.0, COLORS["goal"])
        states = city.signals.states(world.t)
        lit = np.flatnonzero(g.phase[:g.n_road] >= 0)
        for lane in lit:
            v.fill_disc(g.pts[lane, -1], 1.2, COLORS[int(states[g.road[lane]])])
        works = getattr(world, "works", None)  # CityNav-v1's roadworks (v0 has none)
        works = works.boxes if works is not None else np.zeros((0, 5))
        for cx, cy, hl, hw, yaw in works:  # roadworks' barriers: red and white
            v.fill_poly(rect_corners(cx, cy, hl, hw, yaw), COLORS["works"])
            v.fill_poly(rect_corners(cx, cy, max(hl - 0.5, 0.1), max(hw - 0.5, 0.1), yaw),
                        COLORS["marking"])
        tr = world.traffic
        length, wid = tr.idm[CAR_LENGTH], tr.idm[CAR_WIDTH]
        for x, y, h in tr.pose:
            v.fill_poly(rect_corners(x, y, length / 2, wid / 2, h), COLORS["car"])
        x, y, h, _ = world.ego
        if width > 1:
            for ang, d in zip(world.lidar_angles, world.lidar, strict=True):
                v.line((x, y), (x + d * np.cos(h + ang), y + d * np.sin(h + ang)),
                       COLORS["lidar"], 1)
        p = world.ego_params
        scale = 1.0 if width > 1 else 2.0  # keep the ego visible on the city map
        v.fill_poly(rect_corners(x, y, scale * p.length / 2, scale * p.width / 2, h),
                    COLORS["ego"])

    def _fit(self, img: np.ndarray) -> np.ndarray:
        """Pad to a square and scale to ``size`` (nearest neighbour)."""
        h, w = img.shape[:2]
        n = max(h, w)
        sq = np.empty((n, n, 3), dtype=np.uint8)
        sq[:] = COLORS["ground"]
        sq[(n - h) // 2:(n - h) // 2 + h, (n - w) // 2:(n - w) // 2 + w] = img
        idx = (np.arange(self.size) * n / self.size).astype(np.int64)
        return np.ascontiguousarray(sq[idx][:, idx])

    def show(self, frame: np.ndarray) -> None:
        self._viewer = display.show(frame, self._viewer)

    def close(self) -> None:
        if self._chase is not None:
            self._chase.close()
            self._chase = None
        display.close(self._viewer)
        self._viewer = None
