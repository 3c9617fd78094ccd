"""A visual scene in its own pybullet client, seen through pybullet's software camera.

:class:`BulletScene` holds visual shapes only (coloured meshes and boxes, no collision shapes)
and renders them with ``ER_TINY_RENDERER`` (CPU, no display or GPU needed). It lives in a
client of its own, apart from the :class:`~moonshot.physics.bullet.BulletWorld` that answers
the simulation's ray casts and contacts: building or posing it can never change what a lidar
ray or a collision query returns, and a simulation that is never watched never builds one.

Mesh helpers turn footprints into flat-shaded triangle meshes (one vertex per face corner, so
each face gets its own normal and the software renderer shades it as one flat colour).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .bullet import BulletClient, pb
from .city.geometry import rect_corners


class BulletScene(BulletClient):
    """Coloured visual bodies and a camera, in a DIRECT pybullet client of their own."""

    def __init__(self) -> None:
        super().__init__()

    def add_mesh(self, vertices: np.ndarray, normals: np.ndarray, indices: np.ndarray,
                 rgba: Sequence[float]) -> int:
        """A static mesh body (world coordinates): ``vertices``/``normals`` ``(V, 3)``,
        ``indices`` ``(3T,)`` counterclockwise seen from outside. Returns the body id, or -1
        for an empty mesh."""
        if len(indices) == 0:
            return -1
        shape = pb.createVisualShape(
            pb.GEOM_MESH, vertices=np.asarray(vertices, float).tolist(),
            normals=np.asarray(normals, float).tolist(),
            indices=np.asarray(indices, int).tolist(), rgbaColor=list(rgba),
            physicsClientId=self.client)
        return pb.createMultiBody(0, -1, shape, physicsClientId=self.client)

    def add_boxes(self, half_extents: list, offsets: list, rgba: Sequence[float]) -> int:
        """A movable body made of boxes (``half_extents`` and ``offsets`` from its origin,
        3-sequences each), one colour; placed with :meth:`set_pose`."""
        shape = pb.createVisualShapeArray(
            [pb.GEOM_BOX] * len(half_extents), halfExtents=[list(h) for h in half_extents],
            visualFramePositions=[list(o) for o in offsets], physicsClientId=self.client)
        body = pb.createMultiBody(0, -1, shape, basePosition=[0, 0, -50],
                                  physicsClientId=self.client)
        self.set_color(body, rgba)
        return body

    def set_pose(self, body: int, x: float, y: float, z: float, yaw: float) -> None:
        pb.resetBasePositionAndOrientation(
            body, (x, y, z), (0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw)),
            physicsClientId=self.client)

    def set_color(self, body: int, rgba: Sequence[float]) -> None:
        """Recolour every shape of ``body``."""
        n = len(pb.getVisualShapeData(body, physicsClientId=self.client))
        for k in range(max(n, 1)):
            pb.changeVisualShape(body, -1, shapeIndex=k, rgbaColor=list(rgba),
                                 physicsClientId=self.client)

    def remove(self, body: int) -> None:
        if body >= 0:
            pb.removeBody(body, physicsClientId=self.client)

    def camera_image(self, eye: Sequence[float], target: Sequence[float], width: int,
                     height: int, fov: float = 60.0, near: float = 0.5, far: float = 250.0,
                     light_direction: Sequence[float] = (0.4, -0.6, 1.0),
                     ) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb (H, W, 3) uint8, empty (H, W) bool)`` seen from ``eye`` looking at
        ``target`` (z up); ``empty`` marks the pixels where nothing was drawn (the sky)."""
        view = pb.computeViewMatrix(list(eye), list(target), [0, 0, 1])
        proj = pb.computeProjectionMatrixFOV(fov, width / height, near, far)
        _, _, rgba, depth, _ = pb.getCameraImage(
            width, height, view, proj, renderer=pb.ER_TINY_RENDERER,
            lightDirection=list(light_direction), shadow=0, lightAmbientCoeff=0.55,
            lightDiffuseCoeff=0.5, lightSpecularCoeff=0.0,
            flags=pb.ER_NO_SEGMENTATION_MASK, physicsClientId=self.client)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3]
        # the cleared depth buffer reads 1 (0.99999994 in float32); anything drawn is nearer
        empty = np.asarray(depth, dtype=np.float32).reshape(height, width) > 1.0 - 1e-6
        return rgb, empty



# ---------------------------------------------------------------------------- meshes
Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # vertices (V, 3), normals (V, 3), indices


def merge(*meshes: Mesh) -> Mesh:
    """One mesh of several."""
    meshes = tuple(m for m in meshes if len(m[2]))
    if not meshes:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    verts, norms, idx, base = [], [], [], 0
    for v, n, i in meshes:
        verts.append(v)
        norms.append(n)
        idx.append(i + base)
        base += len(v)
    return np.concatenate(verts), np.concatenate(norms), np.concatenate(idx)


def flat_polygons(corners: np.ndarray, z: ArrayLike) -> Mesh:
    """Horizontal convex polygons ``(P, K, 2)`` at height ``z`` (a scalar or ``(P,)``),
    facing up (triangle fans)."""
    corners = np.asarray(corners, dtype=np.float64)
    p, k = corners.shape[:2]
    if p == 0:
        return merge()
    # counterclockwise seen from above, whatever order the corners come in
    area = np.sum(corners[:, :, 0] * np.roll(corners[:, :, 1], -1, axis=1)
                  - np.roll(corners[:, :, 0], -1, axis=1) * corners[:, :, 1], axis=1)
    corners = np.where((area < 0)[:, None, None], corners[:, ::-1], corners)
    zz = np.broadcast_to(np.asarray(z, float).reshape(-1, 1, 1), (p, k, 1))
    verts = np.concatenate([corners, zz], axis=2).reshape(-1, 3)
    fan = np.array([(0, j, j + 1) for j in range(1, k - 1)])
    idx = (fan[None] + k * np.arange(p)[:, None, None]).reshape(-1)
    norms = np.tile([0.0, 0.0, 1.0], (len(verts), 1))
    return verts, norms, idx


def rectangles(cx: ArrayLike, cy: ArrayLike, half_len: ArrayLike, half_wid: ArrayLike,
               yaw: ArrayLike, z: float) -> Mesh:
    """Flat rectangles (arrays of centres, half sizes and yaws) at height ``z``."""
    return flat_polygons(np.asarray(rect_corners(cx, cy, half_len, half_wid, yaw)).reshape(
        -1, 4, 2), z)


def discs(centres: np.ndarray, radii: np.ndarray, z: float, sides: int = 16) -> Mesh:
    """Flat regular polygons of ``sides`` sides around ``centres (N, 2)``."""
    a = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1)
    centres, radii = np.asarray(centres, float), np.asarray(radii, float)
    return flat_polygons(centres[:, None, :] + radii[:, None, None] * ring[None], z)


def segments(a: np.ndarray, b: np.ndarray, width: float, z: float,
             piece: float | None = None) -> Mesh:
    """Flat strips of ``width`` from points ``a`` to ``b`` (each ``(N, 2)``), cut into
    pieces at most ``piece`` m long if given (the software renderer scans the bounding box of
    every triangle: long thin slanted ones cost far more than their pixels)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if piece is not None and len(a):
        n = np.maximum(np.ceil(np.hypot(*(b - a).T) / piece).astype(np.int64), 1)
        k = np.repeat(np.arange(len(a)), n)
        j = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        f0, f1 = (j / n[k])[:, None], ((j + 1) / n[k])[:, None]
        a, b = a[k] + (b - a)[k] * f0, a[k] + (b - a)[k] * f1
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-6
    mid = (a + b)[keep] / 2
    return rectangles(mid[:, 0], mid[:, 1], length[keep] / 2, np.full(keep.sum(), width / 2),
                      np.arctan2(d[keep, 1], d[keep, 0]), z)


def prisms(corners: np.ndarray, z0: ArrayLike, z1: ArrayLike) -> tuple[Mesh, Mesh]:
    """Upright prisms over convex footprints ``(P, K, 2)`` from ``z0`` to ``z1`` (scalars or
    ``(P,)``): ``(walls, roofs)``, separate so that they can be coloured apart."""
    corners = np.asarray(corners, dtype=np.float64)
    p, k = corners.shape[:2]
    area = np.sum(corners[:, :, 0] * np.roll(corners[:, :, 1], -1, axis=1)
                  - np.roll(corners[:, :, 0], -1, axis=1) * corners[:, :, 1], axis=1)
    corners = np.where((area < 0)[:, None, None], corners[:, ::-1], corners)
    z0 = np.broadcast_to(np.asarray(z0, float), (p,))
    z1 = np.broadcast_to(np.asarray(z1, float), (p,))
    a, b = corners, np.roll(corners, -1, axis=1)  # each wall from a to b (counterclockwise)
    quad = np.stack([np.concatenate([a, np.broadcast_to(z0[:, None, None], (p, k, 1))], 2),
                     np.concatenate([b, np.broadcast_to(z0[:, None, None], (p, k, 1))], 2),
                     np.concatenate([b, np.broadcast_to(z1[:, None, None], (p, k, 1))], 2),
                     np.concatenate([a, np.broadcast_to(z1[:, None, None], (p, k, 1))], 2)],
                    axis=2)  # (P, K, 4, 3)
    d = b - a
    out = np.stack([d[..., 1], -d[..., 0], np.zeros((p, k))], axis=-1)  # outward (ccw)
    out /= np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-9)
    verts = quad.reshape(-1, 3)
    norms = np.repeat(out.reshape(-1, 3), 4, axis=0)
    tri = np.array([0, 1, 2, 0, 2, 3])
    idx = (tri[None] + 4 * np.arange(p * k)[:, None]).reshape(-1)
    walls = (verts, norms, idx)
    return walls, flat_polygons(corners, z1)
