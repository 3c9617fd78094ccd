"""The city in plan view: buildings and cars as rectangles (footprints), lidar rays and the
ego's contacts answered in 2D by compiled kernels, batched over many cities in one call.

Why 2D is exact here: every lidar ray is horizontal at ``RAY_HEIGHT`` (0.75 m) and every body
stands on the ground and is taller than that (buildings 8-40 m, cars 1.5 m), so a ray hits a
body exactly where it enters its footprint; the ego's box (0.01-1.51 m) overlaps every body
in height, so it touches a body exactly when their footprints touch.

What the kernels answer (Bullet's answers; ``tests/test_city_footprints.py`` checks them
against :class:`~moonshot.physics.bullet.BulletWorld`):

* a ray reports the first footprint it *enters* within range, at the distance from its
  origin to the entry point (the range if none);
* a ray that starts strictly inside a footprint does not see that footprint (Bullet's convex
  cast reports no hit from inside, not even where the ray leaves the box); the ray goes on to
  the other footprints. Bullet's answer is unreliable within about 1 mm of an edge (it may
  report 0 there), so no caller should depend on it;
* rays that only graze an edge or a corner miss;
* two footprints are in contact when they overlap or touch (distance 0).

A *scene* is the buildings of one or more maps, built once per map: arrays only (rows of
``cx, cy, half_length, half_width, cos(yaw), sin(yaw)``) and a uniform grid whose cells list
the footprints that overlap them (CSR). A ray visits only the cells it crosses (2D DDA,
Amanatides & Woo 1987) and stops at the first cell that ends beyond its nearest hit; the
ego's contacts test only the cells under its bounding box. Traffic cars move every step, so
they are not gridded: each city's few cars are tested directly, behind a bounding-circle
reject.

Batching: scenes of several maps are stacked (:func:`stack_scenes`), and each city of a batch
names its map (``city_map (N,)``, several cities may share a map). Cars come as ``(N, K, 3)``
poses with a count per city (:class:`Cars`). Outputs are ``(N, R)`` per ray or ``(N,)`` per
city. Building indices in outputs are rows of that map's ``city.buildings``; car indices are
rows of that city's car poses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit

CELL = 10.0  # m: grid cell side (lots are 12-30 m wide; see benchmarks/bench_flat_lidar.py)
NO_HIT = -1
_EPS = 1e-9  # m: cells take a footprint that comes this close (gridding stays conservative)


class Scene(NamedTuple):
    """The buildings of ``M`` maps, stacked. Map ``m`` owns the footprint rows
    ``first_rect[m]:first_rect[m + 1]`` and the grid cells ``first_cell[m]:first_cell[m + 1]``
    (cell ``(ix, iy)`` is ``first_cell[m] + iy * shape[m, 0] + ix``)."""

    rects: np.ndarray  # (B, 6) float64: cx, cy, half_length, half_width, cos(yaw), sin(yaw)
    first_rect: np.ndarray  # (M + 1,) int64
    grid: np.ndarray  # (M, 3) float64: x0, y0 (lower-left corner of the grid), cell side
    shape: np.ndarray  # (M, 2) int64: cells along x and y
    first_cell: np.ndarray  # (M + 1,) int64
    cell_start: np.ndarray  # (C + 1,) int64: CSR offsets into cell_rects
    cell_rects: np.ndarray  # (E,) int64: global footprint rows, per cell

    @property
    def n_maps(self) -> int:
        return len(self.grid)


class Cars(NamedTuple):
    """The traffic of ``N`` cities: car ``k < count[i]`` of city ``i`` is a box centred at
    ``pose[i, k, :2]``, heading ``pose[i, k, 2]``, of half extents ``half[i]``."""

    pose: np.ndarray  # (N, K, 3) float64: x, y, heading
    count: np.ndarray  # (N,) int64
    half: np.ndarray  # (N, 2) float64: half length, half width


class RayHits(NamedTuple):
    """Per ray ``(N, R)``: ``distance`` to the first hit (the range if none), and what was hit:
    ``building`` (row of the map's buildings) or ``car`` (row of the city's cars), ``NO_HIT``
    (-1) in the other one or both."""

    distance: np.ndarray
    building: np.ndarray
    car: np.ndarray


class Contacts(NamedTuple):
    """Per city: ``building (N,)`` the lowest-numbered building the ego touches (``NO_HIT`` if
    none); ``car (N, K)`` which cars it touches."""

    building: np.ndarray
    car: np.ndarray

    def kind(self, i: int) -> str | None:
        """``"building"``, ``"car"`` or None for city ``i`` (a building wins, as in
        :meth:`~moonshot.physics.city.world.CityWorld.classify`)."""
        if self.building[i] != NO_HIT:
            return "building"
        return "car" if self.car[i].any() else None


# ---------------------------------------------------------------------------- building scenes
def footprint_rows(boxes: np.ndarray) -> np.ndarray:
    """``(B, 5)`` boxes ``cx, cy, half_length, half_width, yaw`` as ``(B, 6)`` footprint rows
    ``cx, cy, half_length, half_width, cos(yaw), sin(yaw)``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    return np.column_stack([boxes[:, :4], np.cos(boxes[:, 4]), np.sin(boxes[:, 4])])


@njit(cache=True)
def _rect_meets_cell(r, x0, y0, cell):
    """Does footprint row ``r`` overlap (or come within ``_EPS`` of) the axis-aligned square
    ``[x0, x0 + cell] x [y0, y0 + cell]``? Separating axes: the square's two, the footprint's
    two."""
    cx, cy, hx, hy, c, s = r[0], r[1], r[2], r[3], r[4], r[5]
    h = 0.5 * cell
    dx, dy = x0 + h - cx, y0 + h - cy
    if abs(dx) > hx * abs(c) + hy * abs(s) + h + _EPS:
        return False
    if abs(dy) > hx * abs(s) + hy * abs(c) + h + _EPS:
        return False
    if abs(dx * c + dy * s) > hx + h * (abs(c) + abs(s)) + _EPS:
        return False
    return abs(-dx * s + dy * c) <= hy + h * (abs(c) + abs(s)) + _EPS


@njit(cache=True)
def _cell_lists(rects, x0, y0, cell, nx, ny):
    """CSR cell lists of a grid: ``start (nx * ny + 1,)``, ``items`` (footprint rows)."""
    n = rects.shape[0]
    box = np.empty((n, 4), dtype=np.int64)  # cell range of each footprint's bounding box
    for b in range(n):
        cx, cy, hx, hy, c, s = rects[b, 0], rects[b, 1], rects[b, 2], rects[b, 3], \
            rects[b, 4], rects[b, 5]
        ex = hx * abs(c) + hy * abs(s) + _EPS
        ey = hx * abs(s) + hy * abs(c) + _EPS
        box[b, 0] = max(0, int(math.floor((cx - ex - x0) / cell)))
        box[b, 1] = max(0, int(math.floor((cy - ey - y0) / cell)))
        box[b, 2] = min(nx - 1, int(math.floor((cx + ex - x0) / cell)))
        box[b, 3] = min(ny - 1, int(math.floor((cy + ey - y0) / cell)))
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    for b in range(n):
        for iy in range(box[b, 1], box[b, 3] + 1):
            for ix in range(box[b, 0], box[b, 2] + 1):
                if _rect_meets_cell(rects[b], x0 + ix * cell, y0 + iy * cell, cell):
                    start[iy * nx + ix + 1] += 1
    for k in range(nx * ny):
        start[k + 1] += start[k]
    items = np.empty(start[nx * ny], dtype=np.int64)
    fill = start[:-1].copy()
    for b in range(n):
        for iy in range(box[b, 1], box[b, 3] + 1):
            for ix in range(box[b, 0], box[b, 2] + 1):
                if _rect_meets_cell(rects[b], x0 + ix * cell, y0 + iy * cell, cell):
                    items[fill[iy * nx + ix]] = b
                    fill[iy * nx + ix] += 1
    return start, items


def build_scene(buildings: np.ndarray, cell: float = CELL) -> Scene:
    """The scene of one map: ``buildings (B, 5)`` rows ``cx, cy, half_length, half_width,
    yaw`` (``city.buildings``), gridded in square cells of ``cell`` metres."""
    rects = footprint_rows(buildings)
    if len(rects):
        ex = rects[:, 2] * np.abs(rects[:, 4]) + rects[:, 3] * np.abs(rects[:, 5])
        ey = rects[:, 2] * np.abs(rects[:, 5]) + rects[:, 3] * np.abs(rects[:, 4])
        lo = np.array([(rects[:, 0] - ex).min(), (rects[:, 1] - ey).min()]) - cell
        hi = np.array([(rects[:, 0] + ex).max(), (rects[:, 1] + ey).max()]) + cell
    else:
        lo, hi = np.zeros(2), np.full(2, cell)
    nx, ny = (int(v) for v in np.maximum(np.ceil((hi - lo) / cell), 1))
    start, items = _cell_lists(rects, float(lo[0]), float(lo[1]), float(cell), nx, ny)
    return Scene(rects=rects, first_rect=np.array([0, len(rects)], dtype=np.int64),
                 grid=np.array([[lo[0], lo[1], cell]]), shape=np.array([[nx, ny]]),
                 first_cell=np.array([0, nx * ny], dtype=np.int64), cell_start=start,
                 cell_rects=items)


def stack_scenes(scenes: Sequence[Scene]) -> Scene:
    """One scene holding the maps of ``scenes`` in order (map indices continue)."""

    def offsets(counts):  # start of each scene's entries in the stacked array
        return np.cumsum([0] + [int(c) for c in counts])

    rect0 = offsets(len(s.rects) for s in scenes)
    cell0 = offsets(s.first_cell[-1] for s in scenes)
    item0 = offsets(len(s.cell_rects) for s in scenes)

    def ptr(field, base):  # CSR-style pointer arrays: shift, drop each scene's end
        return np.concatenate([getattr(s, field)[:-1] + b for s, b in
                               zip(scenes, base[:-1], strict=True)] + [base[-1:]])

    return Scene(rects=np.concatenate([s.rects for s in scenes]).reshape(-1, 6),
                 first_rect=ptr("first_rect", rect0),
                 grid=np.concatenate([s.grid for s in scenes]),
                 shape=np.concatenate([s.shape for s in scenes]),
                 first_cell=ptr("first_cell", cell0),
                 cell_start=ptr("cell_start", item0),
                 cell_rects=np.concatenate([s.cell_rects + b for s, b in
                                            zip(scenes, rect0[:-1], strict=True)]))


def city_scene(cities: Sequence, cell: float = CELL) -> Scene:
    """The stacked scene of ``cities`` (:class:`~.generator.City`), map ``m`` = ``cities[m]``."""
    return stack_scenes([build_scene(c.buildings, cell) for c in cities])


def single_city(pose: np.ndarray, half) -> Cars:
    """:class:`Cars` of one city: ``pose (K, 3)``, ``half`` = (half length, half width)."""
    pose = np.asarray(pose, dtype=np.float64).reshape(1, -1, 3)
    return Cars(pose=pose, count=np.array([pose.shape[1]], dtype=np.int64),
                half=np.asarray(half, dtype=np.float64).reshape(1, 2))


# ---------------------------------------------------------------------------- kernels
@njit(cache=True, inline="always")
def _entry(ox, oy, dx, dy, cx, cy, hx, hy, c, s):
    """Distance along the ray from ``o`` along unit ``d`` at which it enters the footprint
    (centre, half extents, cos/sin of yaw); inf if it misses, grazes or starts inside."""
    rx, ry = ox - cx, oy - cy
    px, py = c * rx + s * ry, c * ry - s * rx  # origin and direction in the footprint's frame
    ux, uy = c * dx + s * dy, c * dy - s * dx
    near, far = -math.inf, math.inf
    if ux != 0.0:
        inv = 1.0 / ux
        t1, t2 = (-hx - px) * inv, (hx - px) * inv
        near, far = min(t1, t2), max(t1, t2)
    elif abs(px) >= hx:
        return math.inf
    if uy != 0.0:
        inv = 1.0 / uy
        t1, t2 = (-hy - py) * inv, (hy - py) * inv
        near, far = max(near, min(t1, t2)), min(far, max(t1, t2))
    elif abs(py) >= hy:
        return math.inf
    if near < 0.0 or near >= far:
        return math.inf
    return near


@njit(cache=True)
def separation(a, b):
    """Signed separating-axis gap between footprint rows ``a`` and ``b`` (``cx, cy,
    half_length, half_width, cos, sin``): the largest gap along the four edge normals;
    ``<= 0``: they overlap or touch (then minus the smallest overlap along those axes)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    ca, sa, cb, sb = a[4], a[5], b[4], b[5]
    cr = abs(ca * cb + sa * sb)  # |cos|, |sin| of the relative yaw
    sr = abs(ca * sb - sa * cb)
    gap = abs(dx * ca + dy * sa) - a[2] - (b[2] * cr + b[3] * sr)
    gap = max(gap, abs(dy * ca - dx * sa) - a[3] - (b[2] * sr + b[3] * cr))
    gap = max(gap, abs(dx * cb + dy * sb) - b[2] - (a[2] * cr + a[3] * sr))
    return max(gap, abs(dy * cb - dx * sb) - b[3] - (a[2] * sr + a[3] * cr))


@njit(cache=True)
def _car_rows(pose, n, half, lo_x, lo_y, hi_x, hi_y, rows, index):
    """Footprint rows (plus the bounding radius, column 6) of those of a city's first ``n``
    cars that reach into the box ``[lo_x, hi_x] x [lo_y, hi_y]``; ``index`` receives their
    car numbers. Returns how many."""
    rad = math.hypot(half[0], half[1])
    m = 0
    for k in range(n):
        x, y = pose[k, 0], pose[k, 1]
        if x + rad < lo_x or x - rad > hi_x or y + rad < lo_y or y - rad > hi_y:
            continue
        rows[m, 0], rows[m, 1], rows[m, 2], rows[m, 3] = x, y, half[0], half[1]
        rows[m, 4], rows[m, 5] = math.cos(pose[k, 2]), math.sin(pose[k, 2])
        rows[m, 6] = rad
        index[m] = k
        m += 1
    return m


@njit(cache=True, inline="always")
def _first_car(rows, n, ox, oy, dx, dy, best):
    """Nearest car entered before ``best``: ``(distance, car)`` (``best, NO_HIT`` if none)."""
    hit = NO_HIT
    for k in range(n):
        wx, wy = rows[k, 0] - ox, rows[k, 1] - oy
        along, rad = wx * dx + wy * dy, rows[k, 6]
        if along + rad < 0.0 or along - rad >= best or abs(wx * dy - wy * dx) > rad:
            continue
        t = _entry(ox, oy, dx, dy, rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3], rows[k, 4],
                   rows[k, 5])
        if t < best:
            best, hit = t, k
    return best, hit


@njit(cache=True, inline="always")
def _first_building(scene, m, ox, oy, dx, dy, best, stamp, ray_id):
    """Nearest building of map ``m`` entered before ``best``: ``(distance, building)``.
    Walks the grid cells along the ray (DDA); ``stamp`` (per building of the map) marks
    the buildings this ray (``ray_id``) has tested already."""
    rects, start, items = scene.rects, scene.cell_start, scene.cell_rects
    x0, y0, cell = scene.grid[m, 0], scene.grid[m, 1], scene.grid[m, 2]
    nx, ny = scene.shape[m, 0], scene.shape[m, 1]
    base, r0 = scene.first_cell[m], scene.first_rect[m]
    inv_x = 1.0 / dx if dx != 0.0 else math.inf
    inv_y = 1.0 / dy if dy != 0.0 else math.inf
    x1, y1 = x0 + nx * cell, y0 + ny * cell
    t0 = 0.0
    if not (x0 <= ox <= x1 and y0 <= oy <= y1):  # start where the ray enters the grid
        t1 = best
        if dx != 0.0:
            ta, tb = (x0 - ox) * inv_x, (x1 - ox) * inv_x
            t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
        elif not x0 <= ox <= x1:
            return best, NO_HIT
        if dy != 0.0:
            ta, tb = (y0 - oy) * inv_y, (y1 - oy) * inv_y
            t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
        elif not y0 <= oy <= y1:
            return best, NO_HIT
        if t0 > t1:
            return best, NO_HIT
    ix = min(max(int(math.floor((ox + t0 * dx - x0) / cell)), 0), nx - 1)
    iy = min(max(int(math.floor((oy + t0 * dy - y0) / cell)), 0), ny - 1)
    # ray distance to the next vertical / horizontal cell boundary, and between boundaries
    step_x, tx, ddx = 0, math.inf, math.inf
    if dx > 0.0:
        step_x, tx, ddx = 1, (x0 + (ix + 1) * cell - ox) * inv_x, cell * inv_x
    elif dx < 0.0:
        step_x, tx, ddx = -1, (x0 + ix * cell - ox) * inv_x, -cell * inv_x
    step_y, ty, ddy = 0, math.inf, math.inf
    if dy > 0.0:
        step_y, ty, ddy = 1, (y0 + (iy + 1) * cell - oy) * inv_y, cell * inv_y
    elif dy < 0.0:
        step_y, ty, ddy = -1, (y0 + iy * cell - oy) * inv_y, -cell * inv_y
    hit = NO_HIT
    while True:
        k = base + iy * nx + ix
        for q in range(start[k], start[k + 1]):
            b = items[q]
            if stamp[b - r0] == ray_id:
                continue
            stamp[b - r0] = ray_id
            t = _entry(ox, oy, dx, dy, rects[b, 0], rects[b, 1], rects[b, 2], rects[b, 3],
                       rects[b, 4], rects[b, 5])
            if t < best:
                best, hit = t, b - r0
        if best <= min(tx, ty):  # no later cell holds a nearer entry
            break
        if tx < ty:
            ix += step_x
            tx += ddx
            if ix < 0 or ix >= nx:
                break
        else:
            iy += step_y
            ty += ddy
            if iy < 0 or iy >= ny:
                break
    return best, hit


BAD_MAP, BAD_COUNT = 1, 2  # kernel status: a city names no map of the scene; a bad count


@njit(cache=True)
def _check_cities(scene, city_map, cars):
    """0, or the status naming the first problem with the cities' maps or car counts."""
    for i in range(city_map.shape[0]):
        if city_map[i] < 0 or city_map[i] >= scene.grid.shape[0]:
            return BAD_MAP
        if cars.count[i] < 0 or cars.count[i] > cars.pose.shape[1]:
            return BAD_COUNT
    return 0


@njit(cache=True)
def _max_rects(scene):
    most = 0
    for m in range(scene.grid.shape[0]):
        most = max(most, scene.first_rect[m + 1] - scene.first_rect[m])
    return most


@njit(cache=True)
def _cast_kernel(scene, city_map, origins, directions, ego, angles, max_range, cars,
                 distance, building, car):
    """Rays of ``N`` cities into ``distance``, ``building``, ``car`` ``(N, R)``: given by
    ``origins``/``directions (N, R, 2)`` or, if those are empty, by the ego poses ``(N, 3+)``
    and ``angles (R,)`` in the ego frame (lidar); ``max_range`` ``(N, R)`` or ``(1, 1)``.
    Returns 0 or a status (``BAD_*``)."""
    status = _check_cities(scene, city_map, cars)
    if status:
        return status
    n, r = distance.shape
    lidar = origins.shape[0] == 0
    per_ray = max_range.shape[0] > 1 or max_range.shape[1] > 1
    stamp = np.zeros(_max_rects(scene), dtype=np.int64)
    rows = np.empty((cars.pose.shape[1], 7))
    index = np.empty(cars.pose.shape[1], dtype=np.int64)
    ray_cos, ray_sin = np.cos(angles), np.sin(angles)
    ray_id = 0
    for i in range(n):
        m = city_map[i]
        if lidar:
            ch, sh = math.cos(ego[i, 2]), math.sin(ego[i, 2])
        # the cars that any of this city's rays can reach
        reach = max_range[0, 0]
        if lidar:
            lo_x, lo_y, hi_x, hi_y = ego[i, 0], ego[i, 1], ego[i, 0], ego[i, 1]
        else:
            lo_x, lo_y, hi_x, hi_y = math.inf, math.inf, -math.inf, -math.inf
            for j in range(r):
                lo_x, hi_x = min(lo_x, origins[i, j, 0]), max(hi_x, origins[i, j, 0])
                lo_y, hi_y = min(lo_y, origins[i, j, 1]), max(hi_y, origins[i, j, 1])
        if per_ray:
            for j in range(r):
                reach = max(reach, max_range[i, j])
        nc = _car_rows(cars.pose[i], cars.count[i], cars.half[i], lo_x - reach, lo_y - reach,
                       hi_x + reach, hi_y + reach, rows, index)
        for j in range(r):
            ray_id += 1
            if lidar:
                ox, oy = ego[i, 0], ego[i, 1]
                dx, dy = ch * ray_cos[j] - sh * ray_sin[j], sh * ray_cos[j] + ch * ray_sin[j]
            else:
                ox, oy = origins[i, j, 0], origins[i, j, 1]
                dx, dy = directions[i, j, 0], directions[i, j, 1]
            best, hc = _first_car(rows, nc, ox, oy, dx, dy,
                                  max_range[i, j] if per_ray else max_range[0, 0])
            best, hb = _first_building(scene, m, ox, oy, dx, dy, best, stamp, ray_id)
            distance[i, j] = best
            building[i, j] = hb
            car[i, j] = index[hc] if hc != NO_HIT and hb == NO_HIT else NO_HIT
    return 0


@njit(cache=True)
def _contacts_kernel(scene, city_map, ego, ego_half, cars, building, car):
    """The ego's contacts in ``N`` cities into ``building (N,)`` and ``car (N, K)``;
    ``ego_half`` ``(N, 2)`` or ``(1, 2)``. Returns 0 or a status (``BAD_*``)."""
    status = _check_cities(scene, city_map, cars)
    if status:
        return status
    rects, start, items = scene.rects, scene.cell_start, scene.cell_rects
    stamp = np.zeros(_max_rects(scene), dtype=np.int64)
    me = np.empty(6)
    other = np.empty(6)
    for i in range(ego.shape[0]):
        m = city_map[i]
        c, s = math.cos(ego[i, 2]), math.sin(ego[i, 2])
        q = i if ego_half.shape[0] > 1 else 0
        me[0], me[1], me[2], me[3], me[4], me[5] = ego[i, 0], ego[i, 1], ego_half[q, 0], \
            ego_half[q, 1], c, s
        ex = me[2] * abs(c) + me[3] * abs(s) + _EPS
        ey = me[2] * abs(s) + me[3] * abs(c) + _EPS
        x0, y0, cell = scene.grid[m, 0], scene.grid[m, 1], scene.grid[m, 2]
        nx, ny = scene.shape[m, 0], scene.shape[m, 1]
        base, r0 = scene.first_cell[m], scene.first_rect[m]
        ix0 = max(int(math.floor((me[0] - ex - x0) / cell)), 0)
        ix1 = min(int(math.floor((me[0] + ex - x0) / cell)), nx - 1)
        iy0 = max(int(math.floor((me[1] - ey - y0) / cell)), 0)
        iy1 = min(int(math.floor((me[1] + ey - y0) / cell)), ny - 1)
        hit = NO_HIT
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                k = base + iy * nx + ix
                for q in range(start[k], start[k + 1]):
                    b = items[q]
                    if stamp[b - r0] == i + 1:
                        continue
                    stamp[b - r0] = i + 1
                    if (hit == NO_HIT or b - r0 < hit) and separation(me, rects[b]) <= 0.0:
                        hit = b - r0
        building[i] = hit
        half = cars.half[i]
        reach = (math.hypot(me[2], me[3]) + math.hypot(half[0], half[1])) ** 2
        for k in range(cars.count[i]):
            p = cars.pose[i, k]
            touch = False
            if (p[0] - me[0]) ** 2 + (p[1] - me[1]) ** 2 <= reach:
                other[0], other[1], other[2], other[3] = p[0], p[1], half[0], half[1]
                other[4], other[5] = math.cos(p[2]), math.sin(p[2])
                touch = separation(me, other) <= 0.0
            car[i, k] = touch
    return 0


# ---------------------------------------------------------------------------- entry points
def _as(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _cities(scene: Scene, city_map, n: int, cars: Cars) -> tuple[np.ndarray, Cars]:
    """``city_map`` and ``cars`` as the kernels take them, their shapes checked (values are
    checked in the kernels: see :func:`_raise`)."""
    city_map = np.ascontiguousarray(city_map, dtype=np.int64).reshape(-1)
    pose, count, half = _as(cars.pose), np.ascontiguousarray(cars.count, dtype=np.int64), \
        _as(cars.half)
    if len(city_map) != n:
        raise ValueError(f"city_map has {len(city_map)} entries for {n} cities")
    if pose.ndim != 3 or pose.shape[0] != n or pose.shape[2] != 3 or count.shape != (n,) \
            or half.shape != (n, 2):
        raise ValueError(f"cars do not describe {n} cities: pose {pose.shape}, count "
                         f"{count.shape}, half {half.shape}; expected (N, K, 3), (N,), (N, 2)")
    return city_map, Cars(pose, count, half)


def _raise(status: int, scene: Scene, cars: Cars) -> None:
    if status == BAD_MAP:
        raise ValueError(f"city_map holds maps outside 0..{scene.n_maps - 1}")
    if status == BAD_COUNT:
        raise ValueError(f"car counts must lie in 0..{cars.pose.shape[1]}, got {cars.count}")


_NO_RAYS = np.zeros((0, 0, 2))
_NO_EGO = np.zeros((0, 3))
_NO_ANGLES = np.zeros(0)


def _rays(scene, city_map, origins, directions, ego, angles, max_range, cars, n, r):
    city_map, cars = _cities(scene, city_map, n, cars)
    out = RayHits(np.empty((n, r)), np.empty((n, r), dtype=np.int64),
                  np.empty((n, r), dtype=np.int64))
    ranges = np.asarray(max_range, dtype=np.float64)
    if ranges.ndim == 0:
        ranges = ranges.reshape(1, 1)
    elif ranges.shape != (n, r):
        raise ValueError(f"max_range must be a number or ({n}, {r}), got {ranges.shape}")
    ranges = np.ascontiguousarray(ranges)
    _raise(_cast_kernel(scene, city_map, origins, directions, ego, angles, ranges, cars, *out),
           scene, cars)
    return out


def cast_rays(scene: Scene, city_map, origins, directions, max_range, cars: Cars) -> RayHits:
    """Cast rays in ``N`` cities: ``origins``, unit ``directions`` ``(N, R, 2)``, up to
    ``max_range`` (m; a number or ``(N, R)``), through the buildings of map ``city_map[i]``
    of ``scene`` and the cars of city ``i``. Returns :class:`RayHits` ``(N, R)``."""
    origins, directions = _as(origins), _as(directions)
    if origins.ndim != 3 or origins.shape[2] != 2 or directions.shape != origins.shape:
        raise ValueError(f"origins {origins.shape} and directions {directions.shape} must "
                         f"both be (N, R, 2)")
    n, r = origins.shape[:2]
    return _rays(scene, city_map, origins, directions, _NO_EGO, _NO_ANGLES, max_range,
                 cars, n, r)


def lidar(scene: Scene, city_map, ego, angles, max_range: float, cars: Cars) -> RayHits:
    """The lidar of ``N`` egos: from each ego's centre (``ego (N, 3+)``: x, y, heading, ...)
    along ``angles (R,)`` (rad, ego frame, counterclockwise from its heading), up to
    ``max_range`` metres. Returns :class:`RayHits` ``(N, R)``."""
    ego, angles = _as(ego), _as(angles).reshape(-1)
    if ego.ndim != 2 or ego.shape[1] < 3:
        raise ValueError(f"ego poses must be (N, 3) (x, y, heading), got {ego.shape}")
    return _rays(scene, city_map, _NO_RAYS, _NO_RAYS, ego, angles, float(max_range), cars,
                 ego.shape[0], len(angles))


def ego_contacts(scene: Scene, city_map, ego, ego_half, cars: Cars) -> Contacts:
    """What the ego's footprint (centre and heading ``ego (N, 3+)``, half length and half
    width ``ego_half``: ``(2,)`` or ``(N, 2)``) touches or overlaps in each of ``N`` cities:
    the buildings of map ``city_map[i]`` and the cars of city ``i``."""
    ego, half = _as(ego), _as(ego_half)
    if ego.ndim != 2 or ego.shape[1] < 3:
        raise ValueError(f"ego poses must be (N, 3) (x, y, heading), got {ego.shape}")
    n = ego.shape[0]
    half = half.reshape(1, 2) if half.shape == (2,) else half
    if half.shape not in ((1, 2), (n, 2)):
        raise ValueError(f"ego_half must be (2,) or ({n}, 2), got {half.shape}")
    city_map, cars = _cities(scene, city_map, n, cars)
    out = Contacts(np.empty(n, dtype=np.int64), np.zeros((n, cars.pose.shape[1]), dtype=bool))
    _raise(_contacts_kernel(scene, city_map, ego, half, cars, *out), scene, cars)
    return out
