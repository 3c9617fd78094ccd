"""The same lidar and contact questions asked of Bullet (the reference) and of the footprint
kernels (:mod:`moonshot.physics.city.footprints`), on random rays and ego poses in real
generated cities with random traffic-car poses. Used by ``tests/test_city_footprints.py``
and ``benchmarks/bench_flat_lidar.py``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pybullet as pb
from numba import njit

from moonshot.physics.bullet import GROUP_CARS, GROUP_EGO, SEEN, BulletWorld
from moonshot.physics.city import footprints as fp
from moonshot.physics.city.bullet_city import CAR_HEIGHT, RAY_HEIGHT
from moonshot.physics.city.footprint_kernels import separation
from moonshot.physics.city.generator import generate_city
from moonshot.physics.city.geometry import segments_distance
from moonshot.physics.city.traffic import CAR_LENGTH, CAR_WIDTH, IDM_CITY

CAR_HALF = (0.5 * float(IDM_CITY[CAR_LENGTH]), 0.5 * float(IDM_CITY[CAR_WIDTH]))
EGO_HALF = (2.25, 0.9)  # EgoParams: 4.5 x 1.8 m
EGO_Z = 0.5 * CAR_HEIGHT + 0.01  # as CityWorld places it


@dataclass
class Reference:
    """A city in Bullet (buildings as ``CityWorld`` loads them, ``cars`` car bodies, the ego)
    and in a footprint scene."""

    city: object
    bullet: BulletWorld
    buildings: list[int]
    circles: np.ndarray  # bounding circles of the building bodies (x, y, r)
    cars: list[int]
    ego: int
    scene: fp.Scene

    @classmethod
    def build(cls, seed: int, cars: int = 20) -> Reference:
        city = generate_city(seed)
        w = BulletWorld()
        bodies = w.add_static_boxes(city.buildings, city.building_height)
        circles = np.array([w.bounding_circle(b) for b in bodies]).reshape(-1, 3)
        car_ids = [w.add_box_body(2 * CAR_HALF[0], 2 * CAR_HALF[1], CAR_HEIGHT, GROUP_CARS)
                   for _ in range(cars)]
        ego = w.add_box_body(2 * EGO_HALF[0], 2 * EGO_HALF[1], CAR_HEIGHT, GROUP_EGO)
        return cls(city, w, bodies, circles, car_ids, ego, fp.build_scene(city.buildings))

    def place_cars(self, pose: np.ndarray) -> None:
        z = 0.5 * CAR_HEIGHT
        self.bullet.set_poses(self.cars, [(x, y, z) for x, y, _ in pose],
                              [(0.0, 0.0, math.sin(0.5 * h), math.cos(0.5 * h))
                               for _, _, h in pose])

    def bullet_rays(self, origins: np.ndarray, directions: np.ndarray, max_range: float):
        """Bullet's answer: distance, hit body id, hit point (x, y) per ray."""
        n = len(origins)
        z = np.full((n, 1), RAY_HEIGHT)
        ends = origins + max_range * directions
        res = pb.rayTestBatch(np.hstack([origins, z]).tolist(), np.hstack([ends, z]).tolist(),
                              numThreads=1, collisionFilterMask=SEEN,
                              physicsClientId=self.bullet.client)
        frac = np.array([h[2] for h in res])
        body = np.array([h[0] for h in res])
        point = np.array([h[3][:2] for h in res])
        return frac * max_range, body, point

    def bullet_contacts(self, ego: np.ndarray) -> tuple[bool, set[int]]:
        """Bullet's answer for an ego pose: touches a building?, which cars (indices)."""
        x, y, h = ego
        self.bullet.set_pose(self.ego, x, y, EGO_Z, h)
        reach = math.hypot(*EGO_HALF) + 0.5
        c = self.circles
        near = np.flatnonzero((c[:, 0] - x) ** 2 + (c[:, 1] - y) ** 2 < (c[:, 2] + reach) ** 2)
        hits = self.bullet.touching(self.ego, [self.buildings[k] for k in near] + self.cars)
        return bool(hits & set(self.buildings)), {k for k, b in enumerate(self.cars) if b in hits}

    def close(self) -> None:
        self.bullet.close()


def random_origins(city, rng: np.random.Generator, n: int) -> np.ndarray:
    """Half on the roads (a lane point, up to 4 m to either side), half anywhere in the city
    (many inside buildings)."""
    k = rng.integers(len(city.spawn_lane), size=n)
    road = np.array([city.lane_pose(int(city.spawn_lane[q]),
                                    float(city.spawn_s[q] + rng.uniform(-7, 7))) for q in k])
    side = rng.uniform(-4, 4, n)
    road = road[:, :2] + side[:, None] * np.stack([-np.sin(road[:, 2]), np.cos(road[:, 2])], 1)
    lo, hi = np.array(city.bounds[:2]), np.array(city.bounds[2:])
    anywhere = lo + rng.random((n, 2)) * (hi - lo)
    return np.where((rng.random(n) < 0.5)[:, None], road, anywhere)


def random_cars(rng: np.random.Generator, centre: np.ndarray, k: int, spread: float):
    """``k`` car poses around ``centre`` (within ``spread`` m), random headings."""
    r = spread * np.sqrt(rng.random(k))
    a = rng.uniform(0, 2 * np.pi, k)
    return np.stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a),
                     rng.uniform(-np.pi, np.pi, k)], 1)


@njit(cache=True)
def edge_distance(points, rects):
    """Per point: the distance to the nearest edge of any footprint row, and whether it lies
    strictly inside one (brute force)."""
    dist = np.full(points.shape[0], np.inf)
    inside = np.zeros(points.shape[0], dtype=np.bool_)
    for i in range(points.shape[0]):
        for b in range(rects.shape[0]):
            cx, cy, hx, hy, c, s = rects[b, 0], rects[b, 1], rects[b, 2], rects[b, 3], \
                rects[b, 4], rects[b, 5]
            rx, ry = points[i, 0] - cx, points[i, 1] - cy
            px, py = abs(c * rx + s * ry), abs(c * ry - s * rx)
            if px < hx and py < hy:
                inside[i] = True
                d = min(hx - px, hy - py)
            else:
                d = math.hypot(max(px - hx, 0.0), max(py - hy, 0.0))
            dist[i] = min(dist[i], d)
    return dist, inside


@njit(cache=True)
def _corners(r):
    out = np.empty((4, 2))
    for k in range(4):
        lx = r[2] if k == 0 or k == 3 else -r[2]
        ly = r[3] if k < 2 else -r[3]
        out[k, 0] = r[0] + r[4] * lx - r[5] * ly
        out[k, 1] = r[1] + r[5] * lx + r[4] * ly
    return out


@njit(cache=True)
def signed_distance(a, b):
    """Exact signed distance between two footprint rows: the gap if apart, minus the
    penetration depth if they overlap (separating axes give that exactly in 2D)."""
    sep = separation(a, b)
    if sep <= 0.0:
        return sep
    ca, cb = _corners(a), _corners(b)
    best = np.inf
    for i in range(4):
        for j in range(4):
            best = min(best, segments_distance(
                ca[i, 0], ca[i, 1], ca[(i + 1) % 4, 0], ca[(i + 1) % 4, 1],
                cb[j, 0], cb[j, 1], cb[(j + 1) % 4, 0], cb[(j + 1) % 4, 1]))
    return best


@njit(cache=True)
def _offset_to(r, me, ux, uy, gap):
    """Move footprint ``me`` from ``r``'s centre along unit ``(ux, uy)`` until its signed
    distance to ``r`` is ``gap`` (bisection to touching, then a few secant-free steps)."""
    lo, hi = 0.0, 40.0  # overlapping at the centre, apart 40 m out
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        me[0], me[1] = r[0] + mid * ux, r[1] + mid * uy
        if signed_distance(me, r) <= 0.0:
            lo = mid
        else:
            hi = mid
    s = hi
    for _ in range(4):  # the distance grows about as fast as the offset, near touching
        me[0], me[1] = r[0] + s * ux, r[1] + s * uy
        s += gap - signed_distance(me, r)
    me[0], me[1] = r[0] + s * ux, r[1] + s * uy
    return signed_distance(me, r)


@njit(cache=True)
def distances(me, rows, band):
    """Signed distance from footprint ``me`` to each of ``rows``: exact when at most
    ``band``, otherwise some number above ``band`` (the separating-axis gap)."""
    out = np.empty(rows.shape[0])
    for k in range(rows.shape[0]):
        out[k] = separation(me, rows[k])
        if out[k] <= band:
            out[k] = signed_distance(me, rows[k])
    return out


def on_boundary(point: np.ndarray, row: np.ndarray, tol: float) -> bool:
    """Is ``point`` within ``tol`` of an edge of footprint ``row``?"""
    return edge_distance(point.reshape(1, 2), row.reshape(1, 6))[0][0] <= tol


def car_rows(pose: np.ndarray, grow: float = 0.0) -> np.ndarray:
    return fp.footprint_rows(np.column_stack(
        [pose[:, :2], np.tile(np.add(CAR_HALF, grow), (len(pose), 1)), pose[:, 2]]))


@dataclass
class RayReport:
    """Bullet vs footprints on random rays. ``excluded``: origin within ``band`` of an edge
    (Bullet's answer is unreliable there); of the others, ``agree_exact`` within 1e-6 m,
    ``agree_band`` within ``band``; ``outside_bracket``: Bullet's distance not between the
    exact ones with every footprint grown and shrunk by ``band`` (Bullet's own tolerance);
    ``wrong_object``: Bullet's hit point (within ``band`` of ours) not within ``band`` of the
    edge of the object the footprints report."""

    band: float = 1e-3
    rays: int = 0
    excluded: int = 0
    origins_inside: int = 0
    hits: int = 0
    car_hits: int = 0
    agree_exact: int = 0
    agree_band: int = 0
    max_diff: float = 0.0
    outside_bracket: int = 0
    grazing: int = 0  # beyond ``band``: Bullet stopped short on the same object
    corners: int = 0  # beyond ``band``: a corner clipped by less than ``band``, seen by one
    wrong_object: int = 0
    largest: list = field(default_factory=list)  # (|diff|, hit distance) of the worst rays

    def summary(self) -> str:
        n = self.rays - self.excluded
        return (f"{self.rays} rays ({self.excluded} excluded: origin within "
                f"{self.band * 1e3:g} mm of an edge; {self.origins_inside} from inside a "
                f"footprint), {self.hits} hits ({self.car_hits} on cars): "
                f"{self.agree_exact / n:.4%} agree within 1e-6 m, {self.agree_band / n:.4%} "
                f"within {self.band * 1e3:g} mm, max |diff| {self.max_diff * 1e3:.3f} mm; "
                f"beyond {self.band * 1e3:g} mm: {self.grazing} grazing rays that Bullet stops "
                f"short on the same object, {self.corners} corners clipped by less than "
                f"{self.band * 1e3:g} mm seen by one engine only; Bullet outside the "
                f"+-{self.band * 1e3:g} mm bracket: {self.outside_bracket}; wrong object: "
                f"{self.wrong_object}")


def compare_rays(seed: int, trials: int, rays: int, rng: np.random.Generator,
                 max_range: float = 50.0, cars: int = 20,
                 report: RayReport | None = None) -> RayReport:
    """``trials`` car configurations in city ``seed`` with ``rays`` rays each (every ray
    from its own origin near the trial's centre, in a random direction), asked of both
    engines."""
    report = report or RayReport()
    band = report.band
    ref = Reference.build(seed, cars)
    try:
        centres = random_origins(ref.city, rng, trials)
        origins = centres[:, None, :] + rng.uniform(-6, 6, (trials, rays, 2))
        a = rng.uniform(0, 2 * np.pi, (trials, rays))
        directions = np.stack([np.cos(a), np.sin(a)], -1)
        car_pose = np.stack([random_cars(rng, c, cars, 25.0) for c in centres])
        city_map = np.zeros(trials, dtype=np.int64)

        def flat(grow):
            bld = ref.city.buildings + np.array([0, 0, grow, grow, 0])
            scene = ref.scene if grow == 0 else fp.build_scene(bld)
            traffic = fp.Cars(car_pose, np.full(trials, cars),
                              np.tile(np.add(CAR_HALF, grow), (trials, 1)))
            return fp.cast_rays(scene, city_map, origins, directions, max_range, traffic)

        exact, grown, shrunk = flat(0.0), flat(band), flat(-band)
        for t in range(trials):
            ref.place_cars(car_pose[t])
            dist, body, point = ref.bullet_rays(origins[t], directions[t], max_range)
            rows = car_rows(car_pose[t])
            edge, inside = edge_distance(origins[t], np.vstack([ref.scene.rects, rows]))
            keep = edge > band
            diff = np.abs(exact.distance[t] - dist)[keep]
            report.rays += rays
            report.excluded += int((~keep).sum())
            report.origins_inside += int((inside & keep).sum())
            report.hits += int((dist[keep] < max_range).sum())
            report.car_hits += int(np.isin(body[keep], ref.cars).sum())
            report.agree_exact += int((diff <= 1e-6).sum())
            report.agree_band += int((diff <= band).sum())
            report.max_diff = max(report.max_diff, float(diff.max(initial=0.0)))
            report.largest.extend(zip(diff[diff > band].tolist(),
                                      exact.distance[t][keep][diff > band].tolist(),
                                      strict=True))
            lo, hi = grown.distance[t] - 1e-9, shrunk.distance[t] + 1e-9
            report.outside_bracket += int(((dist < lo) | (dist > hi))[keep].sum())
            for j in np.flatnonzero(keep & ((dist < max_range) | (exact.building[t] >= 0)
                                             | (exact.car[t] >= 0))):
                b, c = exact.building[t, j], exact.car[t, j]
                row = ref.scene.rects[b] if b >= 0 else rows[c] if c >= 0 else None
                same = dist[j] < max_range and row is not None and \
                    on_boundary(point[j], row, band)
                if abs(exact.distance[t, j] - dist[j]) > band:
                    # judged by the bracket above: Bullet stopped short on the same object
                    # (a grazing ray), or a corner clipped by less than ``band`` was missed
                    # by one engine and not the other
                    report.grazing += int(same)
                    report.corners += int(not same)
                elif not same and dist[j] < max_range:
                    report.wrong_object += 1
    finally:
        ref.close()
    report.largest = sorted(report.largest, reverse=True)[:10]
    return report


@dataclass
class ContactReport:
    """Bullet vs footprints on ego poses: per (pose, buildings) and (pose, car) pair, does
    the ego touch? Pairs whose exact signed distance lies within ``band`` of 0 are
    ``excluded``; ``disagree`` lists the signed distances of the pairs the engines answer
    differently (``borderline`` those of all pairs, excluded or not, that disagree)."""

    band: float = 1e-3
    poses: int = 0
    pairs: int = 0
    excluded: int = 0
    touching: int = 0  # pairs Bullet says touch
    disagree: list = field(default_factory=list)
    borderline: list = field(default_factory=list)

    def summary(self) -> str:
        d = np.array(self.borderline)
        where = (f": {int((d < 0).sum())} overlapping by {-d.max() * 1e3:.3g}.."
                 f"{-d.min() * 1e3:.3g} mm that only the footprints call a contact, "
                 f"{int((d > 0).sum())} apart that only Bullet calls one") if len(d) else ""
        return (f"{self.poses} poses, {self.pairs} pairs ({self.touching} touching), "
                f"{self.excluded} within {self.band * 1e3:g} mm of touching excluded; "
                f"disagreements outside that band: {len(self.disagree)}; in all: "
                f"{len(self.borderline)}{where}")


def _pose_near(rng, r: np.ndarray, offset: float) -> np.ndarray:
    """An ego pose whose centre lies ``offset`` m out from a random edge point of footprint
    ``r`` (along the edge's normal), random heading."""
    u = rng.uniform(-1, 1, 2) * r[2:4]
    edge = rng.integers(4)
    u[edge % 2] = (1.0 if edge < 2 else -1.0) * (r[2 + edge % 2] + offset)
    return np.array([r[0] + r[4] * u[0] - r[5] * u[1], r[1] + r[5] * u[0] + r[4] * u[1],
                     rng.uniform(-np.pi, np.pi)])


def _touching_pose(rng, r: np.ndarray, gap: float) -> np.ndarray:
    """An ego pose ``gap`` m (signed) from touching footprint ``r``, from a random
    direction, random heading."""
    a, h = rng.uniform(-np.pi, np.pi, 2)
    me = fp.footprint_rows(np.array([[r[0], r[1], *EGO_HALF, h]]))[0]
    _offset_to(r, me, math.cos(a), math.sin(a), gap)
    return np.array([me[0], me[1], h])


def compare_contacts(seed: int, poses: int, rng: np.random.Generator, cars: int = 20,
                     touching: float = 0.25, report: ContactReport | None = None
                     ) -> ContactReport:
    """``poses`` ego poses in city ``seed``: half next to a random building, half next to a
    random car (the centre -0.5 .. 2.8 m out from a random edge point), ``cars`` cars around
    (random poses within 12 m); a fraction ``touching`` of them placed 10 um .. 3 cm (log-
    uniform, either side) from touching that building or car. Both engines say what the ego
    touches."""
    report = report or ContactReport()
    band = report.band
    ref = Reference.build(seed, cars)
    rects = ref.scene.rects
    try:
        ego = np.empty((poses, 3))
        car_pose = np.empty((poses, cars, 3))
        centres = random_origins(ref.city, rng, poses)
        for t in range(poses):
            car_pose[t] = random_cars(rng, centres[t], cars, 12.0)
            if t % 2 == 0:
                r = rects[rng.integers(len(rects))]
            else:
                r = car_rows(car_pose[t, rng.integers(cars)][None])[0]
            if rng.random() < touching:
                gap = rng.choice([-1, 1]) * 10 ** rng.uniform(-5, -1.5)
                ego[t] = _touching_pose(rng, r, gap)
            else:
                ego[t] = _pose_near(rng, r, rng.uniform(-0.5, 2.8))
            if t % 2 == 0:  # the cars around the ego
                car_pose[t] = random_cars(rng, ego[t, :2], cars, 12.0)
        flat = fp.ego_contacts(ref.scene, np.zeros(poses, dtype=np.int64), ego, EGO_HALF,
                               fp.Cars(car_pose, np.full(poses, cars),
                                       np.tile(CAR_HALF, (poses, 1))))
        for t in range(poses):
            ref.place_cars(car_pose[t])
            b_hit, c_hit = ref.bullet_contacts(ego[t])
            me = fp.footprint_rows(np.array([[*ego[t, :2], *EGO_HALF, ego[t, 2]]]))[0]
            near = rects[np.hypot(rects[:, 0] - ego[t, 0], rects[:, 1] - ego[t, 1]) < 45.0]
            rows = car_rows(car_pose[t])
            report.poses += 1
            pairs = [(distances(me, near, band).min(initial=np.inf), flat.building[t] >= 0,
                      b_hit)]
            pairs += zip(distances(me, rows, band), flat.car[t],
                         [k in c_hit for k in range(cars)], strict=True)
            for d, mine, theirs in pairs:
                report.pairs += 1
                report.touching += int(theirs)
                report.excluded += int(abs(d) <= band)
                if bool(mine) != bool(theirs):
                    report.borderline.append(float(d))
                    if abs(d) > band:
                        report.disagree.append(float(d))
    finally:
        ref.close()
    return report
