"""The compiled kernels behind :mod:`.footprints` (read that module's docstring first): a ray
entering a footprint, the separating-axis gap of two footprints, and the batched lidar and
contact kernels, which take the :class:`~.footprints.Scene` and :class:`~.footprints.Cars`
bundles as they are.

The helpers take all rays of a city in one call: a compiled call per ray (its arrays'
reference counts touched each time) cost about as much as the ray itself.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from .footprints import Cars, Scene

NO_HIT = -1
BAD_MAP, BAD_COUNT = 1, 2  # kernel status: a city names no map of the scene; a bad count
EPS = 1e-9  # m: grid cells take a footprint that comes this close (gridding stays conservative)


@njit(cache=True)
def rect_meets_cell(r: np.ndarray, x0: float, y0: float, cell: float) -> bool:
    """Does footprint row ``r`` overlap (or come within ``EPS`` of) the axis-aligned square
    ``[x0, x0 + cell] x [y0, y0 + cell]``? Separating axes: the square's two, the footprint's
    two."""
    cx, cy, hx, hy, c, s = r[0], r[1], r[2], r[3], r[4], r[5]
    h = 0.5 * cell
    dx, dy = x0 + h - cx, y0 + h - cy
    if abs(dx) > hx * abs(c) + hy * abs(s) + h + EPS:
        return False
    if abs(dy) > hx * abs(s) + hy * abs(c) + h + EPS:
        return False
    if abs(dx * c + dy * s) > hx + h * (abs(c) + abs(s)) + EPS:
        return False
    return abs(-dx * s + dy * c) <= hy + h * (abs(c) + abs(s)) + EPS


@njit(cache=True)
def cell_lists(rects: np.ndarray, x0: float, y0: float, cell: float, nx: int,
               ny: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR cell lists of a grid: ``start (nx * ny + 1,)``, ``items`` (footprint rows)."""
    n = rects.shape[0]
    box = np.empty((n, 4), dtype=np.int64)  # cell range of each footprint's bounding box
    for b in range(n):
        cx, cy, hx, hy, c, s = rects[b, 0], rects[b, 1], rects[b, 2], rects[b, 3], \
            rects[b, 4], rects[b, 5]
        ex = hx * abs(c) + hy * abs(s) + EPS
        ey = hx * abs(s) + hy * abs(c) + EPS
        box[b, 0] = max(0, int(math.floor((cx - ex - x0) / cell)))
        box[b, 1] = max(0, int(math.floor((cy - ey - y0) / cell)))
        box[b, 2] = min(nx - 1, int(math.floor((cx + ex - x0) / cell)))
        box[b, 3] = min(ny - 1, int(math.floor((cy + ey - y0) / cell)))
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    for b in range(n):
        for iy in range(box[b, 1], box[b, 3] + 1):
            for ix in range(box[b, 0], box[b, 2] + 1):
                if rect_meets_cell(rects[b], x0 + ix * cell, y0 + iy * cell, cell):
                    start[iy * nx + ix + 1] += 1
    for k in range(nx * ny):
        start[k + 1] += start[k]
    items = np.empty(start[nx * ny], dtype=np.int64)
    fill = start[:-1].copy()
    for b in range(n):
        for iy in range(box[b, 1], box[b, 3] + 1):
            for ix in range(box[b, 0], box[b, 2] + 1):
                if rect_meets_cell(rects[b], x0 + ix * cell, y0 + iy * cell, cell):
                    items[fill[iy * nx + ix]] = b
                    fill[iy * nx + ix] += 1
    return start, items


@njit(cache=True, inline="always")
def ray_entry(ox: float, oy: float, dx: float, dy: float, cx: float, cy: float, hx: float,
              hy: float, c: float, s: float) -> float:
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
def separation(a: np.ndarray, b: np.ndarray) -> float:
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
def _car_rows(pose: np.ndarray, n: int, half: np.ndarray, lo_x: float, lo_y: float,
              hi_x: float, hi_y: float, rows: np.ndarray, index: np.ndarray) -> int:
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


@njit(cache=True)
def _nearest_cars(rows: np.ndarray, nc: int, ox: np.ndarray, oy: np.ndarray, dx: np.ndarray,
                  dy: np.ndarray, shared_origin: bool, best: np.ndarray,
                  hit: np.ndarray) -> None:
    """Lower ``best (R,)`` to the nearest car each ray enters (its row in ``hit``). Rays
    from one origin (``shared_origin``) test only the cars whose bounding circle's cone of
    view holds them; other rays test the circle itself."""
    for k in range(nc):
        cx, cy, rad = rows[k, 0], rows[k, 1], rows[k, 6]
        if shared_origin:
            wx, wy = cx - ox[0], cy - oy[0]
            dist = math.sqrt(wx * wx + wy * wy)
            cone = -2.0  # the origin lies inside the circle: every direction may hit
            if dist > rad:
                wx, wy = wx / dist, wy / dist
                cone = math.sqrt(1.0 - (rad / dist) ** 2)  # cos of the half-angle
        for j in range(best.shape[0]):
            if shared_origin:
                if dx[j] * wx + dy[j] * wy < cone or dist - rad >= best[j]:
                    continue
            else:
                wx, wy = cx - ox[j], cy - oy[j]
                along = wx * dx[j] + wy * dy[j]
                if along + rad < 0.0 or along - rad >= best[j] or \
                        abs(wx * dy[j] - wy * dx[j]) > rad:
                    continue
            t = ray_entry(ox[j], oy[j], dx[j], dy[j], cx, cy, rows[k, 2], rows[k, 3], rows[k, 4],
                       rows[k, 5])
            if t < best[j]:
                best[j], hit[j] = t, k


@njit(cache=True)
def _nearest_buildings(rects: np.ndarray, start: np.ndarray, items: np.ndarray, grid: tuple,
                       ox: np.ndarray, oy: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                       best: np.ndarray, building: np.ndarray, stamp: np.ndarray,
                       ray_id: int) -> int:
    """Lower ``best (R,)`` to the nearest building each ray enters (its index in
    ``building``, else ``NO_HIT``). ``grid``: the map's ``x0, y0, cell, nx, ny, first cell,
    first footprint`` (:func:`_map_grid`). Each ray walks the grid cells it crosses (DDA);
    ``stamp`` (per building of the map) marks the buildings the current ray (numbered from
    ``ray_id`` on) has tested already. Returns the next ray number. (One call per city, so
    that the arrays' reference counts are touched once, not once per ray.)"""
    x0, y0, cell, nx, ny, base, r0 = grid
    x1, y1 = x0 + nx * cell, y0 + ny * cell
    for j in range(best.shape[0]):
        ray_id += 1
        building[j] = NO_HIT
        px, py, ux, uy, tmax = ox[j], oy[j], dx[j], dy[j], best[j]
        inv_x = 1.0 / ux if ux != 0.0 else math.inf
        inv_y = 1.0 / uy if uy != 0.0 else math.inf
        t0 = 0.0
        if not (x0 <= px <= x1 and y0 <= py <= y1):  # start where the ray enters the grid
            t1 = tmax
            if ux != 0.0:
                ta, tb = (x0 - px) * inv_x, (x1 - px) * inv_x
                t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
            elif not x0 <= px <= x1:
                continue
            if uy != 0.0:
                ta, tb = (y0 - py) * inv_y, (y1 - py) * inv_y
                t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
            elif not y0 <= py <= y1:
                continue
            if t0 > t1:
                continue
        ix = min(max(int(math.floor((px + t0 * ux - x0) / cell)), 0), nx - 1)
        iy = min(max(int(math.floor((py + t0 * uy - y0) / cell)), 0), ny - 1)
        # ray distance to the next vertical / horizontal cell boundary, and between them
        step_x, tx, ddx = 0, math.inf, math.inf
        if ux > 0.0:
            step_x, tx, ddx = 1, (x0 + (ix + 1) * cell - px) * inv_x, cell * inv_x
        elif ux < 0.0:
            step_x, tx, ddx = -1, (x0 + ix * cell - px) * inv_x, -cell * inv_x
        step_y, ty, ddy = 0, math.inf, math.inf
        if uy > 0.0:
            step_y, ty, ddy = 1, (y0 + (iy + 1) * cell - py) * inv_y, cell * inv_y
        elif uy < 0.0:
            step_y, ty, ddy = -1, (y0 + iy * cell - py) * inv_y, -cell * inv_y
        while True:
            k = base + iy * nx + ix
            for q in range(start[k], start[k + 1]):
                b = items[q]
                if stamp[b - r0] == ray_id:
                    continue
                stamp[b - r0] = ray_id
                t = ray_entry(px, py, ux, uy, rects[b, 0], rects[b, 1], rects[b, 2], rects[b, 3],
                           rects[b, 4], rects[b, 5])
                if t < tmax:
                    tmax = t
                    building[j] = b - r0
            if tmax <= min(tx, ty):  # no later cell holds a nearer entry
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
        best[j] = tmax
    return ray_id


@njit(cache=True)
def _map_grid(scene: Scene, m: int) -> tuple:
    """The grid of map ``m`` as one tuple (read once per city, not per ray)."""
    return (scene.grid[m, 0], scene.grid[m, 1], scene.grid[m, 2], scene.shape[m, 0],
            scene.shape[m, 1], scene.first_cell[m], scene.first_rect[m])


@njit(cache=True)
def _check_cities(scene: Scene, city_map: np.ndarray, cars: Cars) -> int:
    """0, or the status naming the first problem with the cities' maps or car counts."""
    for i in range(city_map.shape[0]):
        if city_map[i] < 0 or city_map[i] >= scene.grid.shape[0]:
            return BAD_MAP
        if cars.count[i] < 0 or cars.count[i] > cars.pose.shape[1]:
            return BAD_COUNT
    return 0


@njit(cache=True)
def _max_rects(scene: Scene) -> int:
    most = 0
    for m in range(scene.grid.shape[0]):
        most = max(most, scene.first_rect[m + 1] - scene.first_rect[m])
    return most


@njit(cache=True)
def cast_kernel(scene: Scene, city_map: np.ndarray, origins: np.ndarray,
                directions: np.ndarray, ego: np.ndarray, angles: np.ndarray,
                max_range: np.ndarray, cars: Cars, distance: np.ndarray, building: np.ndarray,
                car: np.ndarray) -> int:
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
    rects, start, items = scene.rects, scene.cell_start, scene.cell_rects
    ox, oy, dx, dy = np.empty(r), np.empty(r), np.empty(r), np.empty(r)
    best = np.empty(r)
    hit = np.empty(r, dtype=np.int64)
    hb = np.empty(r, dtype=np.int64)
    ray_id = 0
    for i in range(n):
        grid = _map_grid(scene, city_map[i])
        ch, sh = (math.cos(ego[i, 2]), math.sin(ego[i, 2])) if lidar else (1.0, 0.0)
        for j in range(r):
            best[j] = max_range[i, j] if per_ray else max_range[0, 0]
            hit[j] = NO_HIT
            if lidar:
                ox[j], oy[j] = ego[i, 0], ego[i, 1]
                dx[j], dy[j] = ch * ray_cos[j] - sh * ray_sin[j], sh * ray_cos[j] + ch * ray_sin[j]
            else:
                ox[j], oy[j] = origins[i, j, 0], origins[i, j, 1]
                dx[j], dy[j] = directions[i, j, 0], directions[i, j, 1]
        # the cars that any of this city's rays can reach (within the rays' bounding box)
        reach = 0.0
        lo_x, lo_y, hi_x, hi_y = math.inf, math.inf, -math.inf, -math.inf
        for j in range(r):
            reach = max(reach, best[j])
            lo_x, hi_x = min(lo_x, ox[j]), max(hi_x, ox[j])
            lo_y, hi_y = min(lo_y, oy[j]), max(hi_y, oy[j])
        nc = _car_rows(cars.pose[i], cars.count[i], cars.half[i], lo_x - reach, lo_y - reach,
                       hi_x + reach, hi_y + reach, rows, index)
        _nearest_cars(rows, nc, ox, oy, dx, dy, lidar, best, hit)
        ray_id = _nearest_buildings(rects, start, items, grid, ox, oy, dx, dy, best, hb,
                                  stamp, ray_id)
        for j in range(r):
            distance[i, j] = best[j]
            building[i, j] = hb[j]
            car[i, j] = index[hit[j]] if hit[j] != NO_HIT and hb[j] == NO_HIT else NO_HIT
    return 0


@njit(cache=True)
def contacts_kernel(scene: Scene, city_map: np.ndarray, ego: np.ndarray, ego_half: np.ndarray,
                    cars: Cars, building: np.ndarray, car: np.ndarray) -> int:
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
        ex = me[2] * abs(c) + me[3] * abs(s) + EPS
        ey = me[2] * abs(s) + me[3] * abs(c) + EPS
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
