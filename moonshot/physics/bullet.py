"""One small wrapper around a pybullet client (DIRECT mode, no GUI): static boxes, posed
bodies, batched ray casts and contact queries.

Each :class:`BulletWorld` owns its own physics client, so several environments can live in one
process. The world is never stepped: bodies are placed (kinematically) and Bullet answers
geometric questions - what a ray hits, what the ego touches.

Collision groups: ``GROUP_STATIC`` (buildings), ``GROUP_CARS`` (traffic), ``GROUP_EGO`` and
``GROUP_GROUND``; rays and the ego's contacts see buildings and cars only.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np


def _import_pybullet_quietly() -> Any:
    """``import pybullet`` without its build banner (its C code prints it to the process's
    stderr on import: redirected to /dev/null for the import only; errors still raise)."""
    if "pybullet" in sys.modules:
        return sys.modules["pybullet"]
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedding host): import as it is
        import pybullet

        return pybullet
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import pybullet
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return pybullet


pb = _import_pybullet_quietly()

GROUP_STATIC, GROUP_CARS, GROUP_EGO, GROUP_GROUND = 1, 2, 4, 8
SEEN = GROUP_STATIC | GROUP_CARS
ANY = 0xFFFF
MAX_CHILDREN = 16
CELL = 10.0  # m


def _z_order(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Morton code of non-negative cell indices (interleaved bits)."""
    code = np.zeros_like(ix)
    for b in range(16):
        code |= ((ix >> b) & 1) << (2 * b) | ((iy >> b) & 1) << (2 * b + 1)
    return code


class BulletClient:
    """Owns one pybullet DIRECT client (several can live in one process) and disconnects it
    once, on ``close`` or when garbage-collected."""

    def __init__(self) -> None:
        self.client = pb.connect(pb.DIRECT)

    def close(self) -> None:
        if self.client is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: pybullet may be gone already
            pass


class BulletWorld(BulletClient):
    """A pybullet client with an unbounded ground plane; bodies are kinematic boxes."""

    def __init__(self) -> None:
        super().__init__()
        self._car_shapes: dict[tuple, int] = {}
        self.clear()

    def clear(self) -> None:
        """Remove every body; keep a fresh ground plane (``GEOM_PLANE``: unbounded)."""
        pb.resetSimulation(physicsClientId=self.client)
        self._car_shapes.clear()
        plane = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=self.client)
        self.ground = pb.createMultiBody(0, plane, physicsClientId=self.client)
        pb.setCollisionFilterGroupMask(self.ground, -1, GROUP_GROUND, 0,
                                       physicsClientId=self.client)

    def add_static_boxes(self, boxes: np.ndarray, heights: np.ndarray) -> list[int]:
        """Static boxes ``(B, 5)``: ``cx, cy, half_len, half_wid, yaw`` standing on the ground,
        ``heights (B,)`` tall, grouped into compound bodies of at most ``MAX_CHILDREN`` boxes
        (pybullet's limit per compound shape). Returns the body ids."""
        n = len(boxes)
        half = np.stack([boxes[:, 2], boxes[:, 3], heights / 2], axis=1)
        pos = np.stack([boxes[:, 0], boxes[:, 1], heights / 2], axis=1)
        yaw = boxes[:, 4]
        quat = np.stack([np.zeros(n), np.zeros(n), np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)
        # chunks of boxes consecutive along a Z-order curve are compact and few
        cell = np.floor((boxes[:, :2] - boxes[:, :2].min(axis=0)) / CELL).astype(np.int64)
        order = np.argsort(_z_order(cell[:, 0], cell[:, 1]), kind="stable")
        chunks = [order[k:k + MAX_CHILDREN] for k in range(0, n, MAX_CHILDREN)]
        bodies = []
        for idx in chunks:
            centre = pos[idx].mean(axis=0)
            shape = pb.createCollisionShapeArray(
                [pb.GEOM_BOX] * len(idx), halfExtents=half[idx].tolist(),
                collisionFramePositions=(pos[idx] - centre).tolist(),
                collisionFrameOrientations=quat[idx].tolist(), physicsClientId=self.client)
            body = pb.createMultiBody(0, shape, basePosition=centre.tolist(),
                                      physicsClientId=self.client)
            pb.setCollisionFilterGroupMask(body, -1, GROUP_STATIC, ANY,
                                           physicsClientId=self.client)
            bodies.append(body)
        return bodies

    def add_box_body(self, length: float, width: float, height: float, group: int) -> int:
        """A box body (placed later with :meth:`set_pose`). The ego (``GROUP_EGO``) gets a
        mass so that Bullet reports its contacts with static bodies."""
        key = (length, width, height)
        if key not in self._car_shapes:
            self._car_shapes[key] = pb.createCollisionShape(
                pb.GEOM_BOX, halfExtents=[length / 2, width / 2, height / 2],
                physicsClientId=self.client)
        mass = 1.0 if group == GROUP_EGO else 0.0
        body = pb.createMultiBody(mass, self._car_shapes[key], basePosition=[0, 0, -50],
                                  physicsClientId=self.client)
        mask = SEEN if group == GROUP_EGO else ANY  # rays filter with a default group
        pb.setCollisionFilterGroupMask(body, -1, group, mask, physicsClientId=self.client)
        return body

    def bounding_circle(self, body: int) -> tuple[float, float, float]:
        """``(x, y, radius)`` of a circle around the body's footprint (from its AABB)."""
        lo, hi = pb.getAABB(body, physicsClientId=self.client)
        return ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2,
                0.5 * math.hypot(hi[0] - lo[0], hi[1] - lo[1]))

    def set_pose(self, body: int, x: float, y: float, z: float, yaw: float) -> None:
        pb.resetBasePositionAndOrientation(body, (x, y, z), (0.0, 0.0, math.sin(0.5 * yaw),
                                                             math.cos(0.5 * yaw)),
                                           physicsClientId=self.client)

    def set_poses(self, bodies: list[int], xyz: list, quat: list) -> None:
        """Place many bodies: ``xyz`` and ``quat`` lists of 3- and 4-sequences."""
        c = self.client
        reset = pb.resetBasePositionAndOrientation
        for b, p, q in zip(bodies, xyz, quat, strict=True):
            reset(b, p, q, physicsClientId=c)

    def cast_rays(self, origins: list, ends: list) -> list:
        """Fractions (0..1) along each ray to the first building or car hit (1: nothing)."""
        hits = pb.rayTestBatch(origins, ends, numThreads=1, collisionFilterMask=SEEN,
                               physicsClientId=self.client)
        return [h[2] for h in hits]

    def ray_hits(self, origins: list, ends: list) -> tuple[np.ndarray, np.ndarray]:
        """For each ray, the body it hits first (-1: none) and the fraction along it."""
        hits = pb.rayTestBatch(origins, ends, numThreads=1, collisionFilterMask=SEEN,
                               physicsClientId=self.client)
        return (np.array([h[0] for h in hits], dtype=np.int64),
                np.array([h[2] for h in hits], dtype=np.float64))

    def touching(self, body: int, others: Iterable[int]) -> set[int]:
        """Which of ``others`` (body ids) ``body`` touches or penetrates now (narrow phase
        only: the caller pre-selects the bodies near it)."""
        c = self.client
        closest = pb.getClosestPoints
        return {o for o in others if closest(body, o, 0.0, physicsClientId=c)}
