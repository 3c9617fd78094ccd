"""Plane geometry for the city: polylines, Bézier curves, oriented rectangles (compiled kernels).

Units are metres and radians; angles count counterclockwise from the x axis.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import ArrayLike


class Polyline(NamedTuple):
    """A polyline as compiled kernels take it: ``points (n, 2)`` and the arc length ``cum (n,)``
    at each of them."""

    points: np.ndarray
    cum: np.ndarray


def bezier_polyline(p0: ArrayLike, d0: ArrayLike, p1: ArrayLike, d1: ArrayLike,
                    n: int) -> np.ndarray:
    """``n`` points of the cubic Bézier leaving ``p0`` along unit ``d0``, arriving at ``p1``
    along unit ``d1`` (the handles are a third of the chord: a smooth, nearly circular turn).
    Batched: arguments of shape ``(..., 2)`` give ``(..., n, 2)``."""
    p0, d0, p1, d1 = (np.asarray(a, dtype=np.float64)[..., None, :] for a in (p0, d0, p1, d1))
    k = np.linalg.norm(p1 - p0, axis=-1, keepdims=True) / 3.0
    c0, c1 = p0 + k * d0, p1 - k * d1
    t = np.linspace(0.0, 1.0, n)[:, None]
    u = 1.0 - t
    return u**3 * p0 + 3 * u**2 * t * c0 + 3 * u * t**2 * c1 + t**3 * p1


def cumulative_length(pts: np.ndarray) -> np.ndarray:
    """Arc length at each vertex of a polyline ``(..., n, 2)`` (first entry 0)."""
    seg = np.linalg.norm(np.diff(pts, axis=-2), axis=-1)
    zero = np.zeros(seg.shape[:-1] + (1,))
    return np.concatenate([zero, np.cumsum(seg, axis=-1)], axis=-1)


def resample(pts: np.ndarray, spacing: float) -> np.ndarray:
    """The polyline ``pts`` resampled at (about) ``spacing`` metres, ends kept."""
    cum = cumulative_length(pts)
    n = max(2, int(math.ceil(cum[-1] / spacing)) + 1)
    s = np.linspace(0.0, cum[-1], n)
    return np.stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])], axis=1)


def rect_corners(cx: ArrayLike, cy: ArrayLike, half_len: ArrayLike, half_wid: ArrayLike,
                 yaw: ArrayLike) -> np.ndarray:
    """Corners (..., 4, 2) of oriented rectangles, counterclockwise."""
    cx, cy, half_len, half_wid, yaw = np.broadcast_arrays(cx, cy, half_len, half_wid, yaw)
    c, s = np.cos(yaw), np.sin(yaw)
    # local corners (+-half_len, +-half_wid), counterclockwise, then rotated by yaw
    ux = half_len[..., None] * np.array([1.0, -1.0, -1.0, 1.0])
    uy = half_wid[..., None] * np.array([1.0, 1.0, -1.0, -1.0])
    x = cx[..., None] + c[..., None] * ux - s[..., None] * uy
    y = cy[..., None] + s[..., None] * ux + c[..., None] * uy
    return np.stack([x, y], axis=-1)


@njit(cache=True)
def point_segment_distance(px: float, py: float, ax: float, ay: float, bx: float,
                           by: float) -> float:
    """Distance from point p to segment ab."""
    dx, dy = bx - ax, by - ay
    ll = dx * dx + dy * dy
    t = 0.0
    if ll > 0.0:
        t = ((px - ax) * dx + (py - ay) * dy) / ll
        t = min(1.0, max(0.0, t))
    ex, ey = ax + t * dx - px, ay + t * dy - py
    return math.sqrt(ex * ex + ey * ey)


@njit(cache=True)
def _cross(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@njit(cache=True)
def segments_distance(ax: float, ay: float, bx: float, by: float, cx: float, cy: float,
                      dx: float, dy: float) -> float:
    """Distance between segments ab and cd (0 if they cross)."""
    d1 = _cross(ax, ay, bx, by, cx, cy)
    d2 = _cross(ax, ay, bx, by, dx, dy)
    d3 = _cross(cx, cy, dx, dy, ax, ay)
    d4 = _cross(cx, cy, dx, dy, bx, by)
    if d1 * d2 < 0.0 and d3 * d4 < 0.0:
        return 0.0
    return min(min(point_segment_distance(ax, ay, cx, cy, dx, dy),
                   point_segment_distance(bx, by, cx, cy, dx, dy)),
               min(point_segment_distance(cx, cy, ax, ay, bx, by),
                   point_segment_distance(dx, dy, ax, ay, bx, by)))


@njit(cache=True)
def _inside_convex(px: float, py: float, corners: np.ndarray) -> bool:
    # corners counterclockwise: inside if left of every edge
    for k in range(4):
        a = corners[k]
        b = corners[(k + 1) % 4]
        if _cross(a[0], a[1], b[0], b[1], px, py) < 0.0:
            return False
    return True


@njit(cache=True)
def rect_segment_distance(corners: np.ndarray, ax: float, ay: float, bx: float,
                          by: float) -> float:
    """Distance between a rectangle (4, 2 counterclockwise corners) and segment ab."""
    if _inside_convex(ax, ay, corners) or _inside_convex(bx, by, corners):
        return 0.0
    best = 1e18
    for k in range(4):
        a = corners[k]
        b = corners[(k + 1) % 4]
        best = min(best, segments_distance(a[0], a[1], b[0], b[1], ax, ay, bx, by))
    return best


@njit(cache=True)
def _projections(c1: np.ndarray, c2: np.ndarray, poly: np.ndarray,
                 k: int) -> tuple[float, float, float, float]:
    """Intervals ``lo1, hi1, lo2, hi2`` of rectangles ``c1`` and ``c2`` (4, 2) projected on
    the normal of edge ``k`` of ``poly`` (one of the two): a separating-axis candidate."""
    ex = poly[k + 1, 0] - poly[k, 0]
    ey = poly[k + 1, 1] - poly[k, 1]
    n = math.sqrt(ex * ex + ey * ey)
    ax, ay = -ey / n, ex / n
    lo1 = hi1 = c1[0, 0] * ax + c1[0, 1] * ay
    lo2 = hi2 = c2[0, 0] * ax + c2[0, 1] * ay
    for j in range(1, 4):
        p = c1[j, 0] * ax + c1[j, 1] * ay
        lo1, hi1 = min(lo1, p), max(hi1, p)
        q = c2[j, 0] * ax + c2[j, 1] * ay
        lo2, hi2 = min(lo2, q), max(hi2, q)
    return lo1, hi1, lo2, hi2


@njit(cache=True)
def rects_overlap(c1: np.ndarray, c2: np.ndarray, margin: float) -> bool:
    """Separating-axis test: do two rectangles (4, 2) come closer than ``margin`` (approx.)?"""
    for poly in (c1, c2):
        for k in range(2):  # a rectangle has two edge directions
            lo1, hi1, lo2, hi2 = _projections(c1, c2, poly, k)
            if hi1 + margin <= lo2 or hi2 + margin <= lo1:
                return False
    return True


@njit(cache=True)
def rects_clearance(c1: np.ndarray, c2: np.ndarray) -> float:
    """Separating-axis clearance of two rectangles (4, 2): the widest gap between their
    projections on the edge normals (negative: they overlap)."""
    sep = -1e9
    for poly in (c1, c2):
        for k in range(2):
            lo1, hi1, lo2, hi2 = _projections(c1, c2, poly, k)
            sep = max(sep, max(lo2 - hi1, lo1 - hi2))
    return sep


@njit(cache=True)
def place_rects(corners: np.ndarray, radius: np.ndarray, segments: np.ndarray,
                clearance: np.ndarray, gap: float) -> np.ndarray:
    """Greedy placement: keep each candidate rectangle (in order) that stays ``clearance[e]``
    away from every segment ``e`` (rows ``ax, ay, bx, by``) and ``gap`` away from those kept
    before it. Returns a boolean mask over the candidates."""
    m = corners.shape[0]
    keep = np.zeros(m, dtype=np.bool_)
    kept = np.empty(m, dtype=np.int64)
    nk = 0
    for i in range(m):
        cx = 0.25 * (corners[i, 0, 0] + corners[i, 1, 0] + corners[i, 2, 0] + corners[i, 3, 0])
        cy = 0.25 * (corners[i, 0, 1] + corners[i, 1, 1] + corners[i, 2, 1] + corners[i, 3, 1])
        ok = True
        for e in range(segments.shape[0]):
            ax, ay, bx, by = segments[e, 0], segments[e, 1], segments[e, 2], segments[e, 3]
            # cheap reject: centre far from the segment's neighbourhood
            if point_segment_distance(cx, cy, ax, ay, bx, by) > radius[i] + clearance[e]:
                continue
            if rect_segment_distance(corners[i], ax, ay, bx, by) < clearance[e]:
                ok = False
                break
        if not ok:
            continue
        for q in range(nk):
            j = kept[q]
            dx = cx - 0.25 * (corners[j, 0, 0] + corners[j, 1, 0] + corners[j, 2, 0]
                              + corners[j, 3, 0])
            dy = cy - 0.25 * (corners[j, 0, 1] + corners[j, 1, 1] + corners[j, 2, 1]
                              + corners[j, 3, 1])
            if dx * dx + dy * dy > (radius[i] + radius[j] + gap) ** 2:
                continue
            if rects_overlap(corners[i], corners[j], gap):
                ok = False
                break
        if ok:
            keep[i] = True
            kept[nk] = i
            nk += 1
    return keep


@njit(cache=True)
def polyline_point(pts: np.ndarray, cum: np.ndarray, s: float) -> tuple[float, float, float]:
    """Position and heading at arc length ``s`` along a polyline (clamped to its ends)."""
    n = pts.shape[0]
    k = 0
    while k < n - 2 and cum[k + 1] <= s:
        k += 1
    seg = cum[k + 1] - cum[k]
    t = 0.0 if seg <= 0.0 else (s - cum[k]) / seg
    t = min(1.0, max(0.0, t))
    dx = pts[k + 1, 0] - pts[k, 0]
    dy = pts[k + 1, 1] - pts[k, 1]
    x, y = pts[k, 0] + t * dx, pts[k, 1] + t * dy
    j = k
    while dx == 0.0 and dy == 0.0 and j > 0:  # a zero-length end segment: heading from before
        j -= 1
        dx = pts[j + 1, 0] - pts[j, 0]
        dy = pts[j + 1, 1] - pts[j, 1]
    return x, y, math.atan2(dy, dx)


@njit(cache=True)
def nearest_segment_distance(segments: np.ndarray, x: float, y: float) -> float:
    """Distance from ``(x, y)`` to the nearest of ``segments`` (rows ``ax, ay, bx, by``)."""
    best = 1e18
    for e in range(segments.shape[0]):
        d = point_segment_distance(x, y, segments[e, 0], segments[e, 1], segments[e, 2],
                                   segments[e, 3])
        best = min(best, d)
    return best
