"""The city in plan view: buildings and cars as rectangles (footprints), lidar rays and the
ego's contacts answered in 2D by compiled kernels, batched over many cities in one call.

Why 2D is exact here: every lidar ray is horizontal at ``RAY_HEIGHT`` (0.75 m) and every body
stands on the ground and is taller than that (buildings 8-40 m, cars 1.5 m), so a ray hits a
body exactly where it enters its footprint; the ego's box (0.01-1.51 m) overlaps every body
in height, so it touches a body exactly when their footprints touch.

What the kernels answer (Bullet's answers, exactly; ``tests/test_city_footprints.py``
checks them against :class:`~moonshot.physics.bullet.BulletWorld`):

* a ray reports the first footprint it *enters* within range, at the distance from its
  origin to the entry point (the range if none);
* a ray that starts strictly inside a footprint does not see that footprint (Bullet's convex
  cast reports no hit from inside, not even where the ray leaves the box); the ray goes on to
  the other footprints. Within about 1 mm of an edge Bullet's answer wavers (it may report
  a hit at 0), so no caller should depend on it;
* rays that only graze an edge or a corner miss;
* two footprints are in contact when they overlap or touch (distance 0).

The kernels are exact up to rounding; Bullet is not quite: its ray cast stops within about
1 mm of a surface (a GJK tolerance), which a grazing ray turns into centimetres along the ray
or, past a corner, into a different object; its box-box contacts miss overlaps shallower
than about 0.4 mm. Every Bullet answer lies within those tolerances of the kernels' answer.

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

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .footprint_kernels import (
    BAD_COUNT,
    BAD_MAP,
    NO_HIT,
    cast_kernel,
    cell_lists,
    contacts_kernel,
)

CELL = 10.0  # m: grid cell side (lots are 12-30 m wide; see benchmarks/bench_flat_lidar.py)


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
    # shadows tuple.count (mypy rejects that in a NamedTuple); kernels read it by this name
    count: np.ndarray  # type: ignore[assignment]  # (N,) int64
    half: np.ndarray  # (N, 2) float64: half length, half width

    @classmethod
    def single(cls, pose: ArrayLike, half: ArrayLike) -> Cars:
        """The cars of one city: ``pose (K, 3)``, ``half`` (half length, half width)."""
        pose = np.asarray(pose, dtype=np.float64).reshape(1, -1, 3)
        return cls(pose=pose, count=np.array([pose.shape[1]], dtype=np.int64),
                   half=np.asarray(half, dtype=np.float64).reshape(1, 2))


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
        :meth:`~moonshot.physics.city.bullet_city.CityWorld.classify`)."""
        if self.building[i] != NO_HIT:
            return "building"
        return "car" if self.car[i].any() else None


# ---------------------------------------------------------------------------- scenes
def footprint_rows(boxes: np.ndarray) -> np.ndarray:
    """``(B, 5)`` boxes ``cx, cy, half_length, half_width, yaw`` as ``(B, 6)`` footprint rows
    ``cx, cy, half_length, half_width, cos(yaw), sin(yaw)``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    return np.column_stack([boxes[:, :4], np.cos(boxes[:, 4]), np.sin(boxes[:, 4])])


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
    start, items = cell_lists(rects, float(lo[0]), float(lo[1]), float(cell), nx, ny)
    return Scene(rects=rects, first_rect=np.array([0, len(rects)], dtype=np.int64),
                 grid=np.array([[lo[0], lo[1], cell]]), shape=np.array([[nx, ny]]),
                 first_cell=np.array([0, nx * ny], dtype=np.int64), cell_start=start,
                 cell_rects=items)


def stack_scenes(scenes: Sequence[Scene]) -> Scene:
    """One scene holding the maps of ``scenes`` in order (map indices continue)."""

    # start of each scene's entries in the stacked array
    def offsets(counts: Iterable[int]) -> np.ndarray:
        return np.cumsum([0] + [int(c) for c in counts])

    rect0 = offsets(len(s.rects) for s in scenes)
    cell0 = offsets(s.first_cell[-1] for s in scenes)
    item0 = offsets(len(s.cell_rects) for s in scenes)

    # CSR-style pointer arrays: shift, drop each scene's end
    def ptr(field: str, base: np.ndarray) -> np.ndarray:
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


# ---------------------------------------------------------------------------- entry points
def _as(a: ArrayLike) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _cities(scene: Scene, city_map: ArrayLike, n: int, cars: Cars) -> tuple[np.ndarray, Cars]:
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


def _rays(scene: Scene, city_map: ArrayLike, origins: np.ndarray, directions: np.ndarray,
          ego: np.ndarray, angles: np.ndarray, max_range: ArrayLike, cars: Cars, n: int,
          r: int) -> RayHits:
    city_map, cars = _cities(scene, city_map, n, cars)
    out = RayHits(np.empty((n, r)), np.empty((n, r), dtype=np.int64),
                  np.empty((n, r), dtype=np.int64))
    ranges = np.asarray(max_range, dtype=np.float64)
    if ranges.ndim == 0:
        ranges = ranges.reshape(1, 1)
    elif ranges.shape != (n, r):
        raise ValueError(f"max_range must be a number or ({n}, {r}), got {ranges.shape}")
    ranges = np.ascontiguousarray(ranges)
    _raise(cast_kernel(scene, city_map, origins, directions, ego, angles, ranges, cars, *out),
           scene, cars)
    return out


def cast_rays(scene: Scene, city_map: ArrayLike, origins: ArrayLike, directions: ArrayLike,
              max_range: ArrayLike, cars: Cars) -> RayHits:
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


def lidar(scene: Scene, city_map: ArrayLike, ego: ArrayLike, angles: ArrayLike,
          max_range: float, cars: Cars) -> RayHits:
    """The lidar of ``N`` egos: from each ego's centre (``ego (N, 3+)``: x, y, heading, ...)
    along ``angles (R,)`` (rad, ego frame, counterclockwise from its heading), up to
    ``max_range`` metres. Returns :class:`RayHits` ``(N, R)``."""
    ego, angles = _as(ego), _as(angles).reshape(-1)
    if ego.ndim != 2 or ego.shape[1] < 3:
        raise ValueError(f"ego poses must be (N, 3) (x, y, heading), got {ego.shape}")
    return _rays(scene, city_map, _NO_RAYS, _NO_RAYS, ego, angles, float(max_range), cars,
                 ego.shape[0], len(angles))


def ego_contacts(scene: Scene, city_map: ArrayLike, ego: ArrayLike, ego_half: ArrayLike,
                 cars: Cars) -> Contacts:
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
    _raise(contacts_kernel(scene, city_map, ego, half, cars, *out), scene, cars)
    return out
