"""Footprint lidar and contacts (moonshot.physics.city.footprints) vs pybullet (not run in CI).

    python benchmarks/bench_flat_lidar.py [--maps 16] [--poses 200] [--cells] [--validate]

On ``--maps`` generated cities (half of them train seeds 0.., half new seeds 1,000,000..), at
``--poses`` ego poses per city on the roads (``city.spawn_lane/spawn_s``, ``city.lane_pose``)
with 20 cars on the lanes around each (random spawn points within 60 m):

* lidar, one city per call: 32 rays from the ego's centre, range 50 m. pybullet: what
  ``CityWorld._cast_lidar`` does (ray ends from the heading, ``rayTestBatch``), with the cars
  already placed; also with the 20 cars placed first (``set_poses``), which the footprints
  never need. Footprints: one ``footprints.lidar`` call (the car poses are an argument);
* lidar, all cities in one call (``footprints.lidar`` with ``N = maps``) vs one
  ``rayTestBatch`` per city (a Bullet client holds one city);
* contacts: ``CityWorld``'s pre-selection of nearby bodies and ``getClosestPoints`` vs
  ``footprints.ego_contacts`` (one city, then all cities per call), in ego poses per second;
* building a map's scene: ``BulletWorld.add_static_boxes`` plus bounding circles (what
  ``CityWorld.load`` does) vs ``footprints.build_scene``.

Engines alternate A/B three times (load on shared cores drifts); each figure is the median of
the three. ``--cells`` adds the footprint lidar at other grid cell sizes; ``--validate`` runs
the comparison of ``tests/test_city_footprints.py`` at full size (100,000 rays, 20,000 ego
poses) and prints its summary.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's moonshot; the reference

from moonshot.physics.bullet import GROUP_CARS, GROUP_EGO, BulletWorld  # noqa: E402
from moonshot.physics.city import footprints as fp  # noqa: E402
from moonshot.physics.city.bullet_city import CAR_HEIGHT, RAY_HEIGHT  # noqa: E402
from moonshot.physics.city.generator import NEW_SEED_BASE, generate_city  # noqa: E402

RAYS, RANGE, CARS = 32, 50.0, 20
CAR_HALF = (2.25, 0.9)
EGO_HALF = (2.25, 0.9)


def seeds(n: int) -> list[int]:
    return [k // 2 if k % 2 == 0 else NEW_SEED_BASE + k // 2 for k in range(n)]


def sample(city, rng: np.random.Generator, poses: int) -> tuple[np.ndarray, np.ndarray]:
    """Ego poses ``(P, 3)`` on the roads; car poses ``(P, CARS, 3)`` on spawn points within
    60 m of the ego (the nearest ones if fewer)."""
    spawn = np.array([city.lane_pose(int(ln), float(s))
                      for ln, s in zip(city.spawn_lane, city.spawn_s, strict=True)])
    ego = spawn[rng.integers(len(spawn), size=poses)]
    cars = np.empty((poses, CARS, 3))
    for p in range(poses):
        d = np.hypot(*(spawn[:, :2] - ego[p, :2]).T)
        near = np.flatnonzero((d < 60.0) & (d > 1.0))
        if len(near) < CARS:
            near = np.argsort(d)[1:CARS + 1]
        cars[p] = spawn[rng.choice(near, CARS, replace=False)]
    return ego, cars


class BulletCity:
    """A city as ``CityWorld`` holds it: buildings, car bodies, the ego."""

    def __init__(self, city):
        self.world = w = BulletWorld()
        t0 = time.perf_counter()
        bodies = w.add_static_boxes(city.buildings, city.building_height)
        self.circles = np.array([w.bounding_circle(b) for b in bodies]).reshape(-1, 3)
        self.build_time = time.perf_counter() - t0
        self.buildings = np.asarray(bodies)
        self.cars = [w.add_box_body(2 * CAR_HALF[0], 2 * CAR_HALF[1], CAR_HEIGHT, GROUP_CARS)
                     for _ in range(CARS)]
        self.ego = w.add_box_body(2 * EGO_HALF[0], 2 * EGO_HALF[1], CAR_HEIGHT, GROUP_EGO)
        angles = np.linspace(0.0, 2 * np.pi, RAYS, endpoint=False)
        self.ray_cos, self.ray_sin = RANGE * np.cos(angles), RANGE * np.sin(angles)
        self.ray_z = np.full(RAYS, RAY_HEIGHT)

    def place(self, cars: np.ndarray) -> None:
        z = 0.5 * CAR_HEIGHT
        self.world.set_poses(self.cars, [(x, y, z) for x, y, _ in cars],
                             [(0.0, 0.0, math.sin(0.5 * h), math.cos(0.5 * h))
                              for _, _, h in cars])

    def lidar(self, ego: np.ndarray) -> np.ndarray:  # CityWorld._cast_lidar
        x, y, h = ego
        c, s = math.cos(h), math.sin(h)
        dx = self.ray_cos * c - self.ray_sin * s
        dy = self.ray_sin * c + self.ray_cos * s
        ends = np.stack([x + dx, y + dy, self.ray_z], 1).tolist()
        return np.asarray(self.world.cast_rays([(x, y, RAY_HEIGHT)] * RAYS, ends)) * RANGE

    def contacts(self, ego: np.ndarray, cars: np.ndarray) -> set[int]:  # CityWorld.step
        x, y, h = ego
        self.world.set_pose(self.ego, x, y, 0.5 * CAR_HEIGHT + 0.01, h)
        reach = 0.5 * math.hypot(2 * EGO_HALF[0], 2 * EGO_HALF[1]) + 0.5
        bc = self.circles
        near = (bc[:, 0] - x) ** 2 + (bc[:, 1] - y) ** 2 < (bc[:, 2] + reach) ** 2
        out = self.buildings[near].tolist()
        close = (cars[:, 0] - x) ** 2 + (cars[:, 1] - y) ** 2 < (2 * reach + 0.5) ** 2
        out += [self.cars[i] for i in np.flatnonzero(close)]
        return self.world.touching(self.ego, out)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def alternate(a, b, rounds: int = 3) -> tuple[float, float]:
    """Median seconds of ``a()`` and ``b()`` run alternately ``rounds`` times each."""
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(timed(a))
        tb.append(timed(b))
    return float(np.median(ta)), float(np.median(tb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=16)
    ap.add_argument("--poses", type=int, default=200)
    ap.add_argument("--cells", action="store_true", help="also other grid cell sizes")
    ap.add_argument("--validate", action="store_true", help="100,000-ray comparison")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cities = [generate_city(s) for s in seeds(args.maps)]
    n, poses = len(cities), args.poses
    samples = [sample(c, rng, poses) for c in cities]
    ego = np.stack([s[0] for s in samples], 1)  # (P, n, 3)
    cars = np.stack([s[1] for s in samples], 1)  # (P, n, CARS, 3)
    angles = np.linspace(0.0, 2 * np.pi, RAYS, endpoint=False)
    half = np.tile(CAR_HALF, (n, 1))
    count = np.full(n, CARS)
    bullet = [BulletCity(c) for c in cities]

    # scene build times (median over maps), warm-up of the compiled kernels
    fp.build_scene(cities[0].buildings)
    build_flat = float(np.median([timed(lambda c=c: fp.build_scene(c.buildings))
                                  for c in cities]))
    build_bullet = float(np.median([b.build_time for b in bullet]))
    scene = fp.city_scene(cities)
    maps = np.arange(n)
    one = [fp.Cars(cars[p, i:i + 1], count[:1], half[:1]) for p in range(poses)
           for i in range(n)]
    fp.lidar(scene, [0], ego[0, :1], angles, RANGE, one[0])
    fp.ego_contacts(scene, [0], ego[0, :1], EGO_HALF, one[0])

    # a check that both engines see the same scenes here
    for i in range(n):
        bullet[i].place(cars[0, i])
        flat = fp.lidar(scene, [i], ego[0, i:i + 1], angles, RANGE, one[i]).distance[0]
        assert np.abs(flat - bullet[i].lidar(ego[0, i])).max() < 0.05, "scenes differ"

    def bullet_rays_placed():  # cars placed beforehand, outside the timing
        total = 0.0
        for p in range(poses):
            for i in range(n):
                bullet[i].place(cars[p, i])
                t0 = time.perf_counter()
                bullet[i].lidar(ego[p, i])
                total += time.perf_counter() - t0
        return total

    def bullet_rays_and_cars():
        for p in range(poses):
            for i in range(n):
                bullet[i].place(cars[p, i])
                bullet[i].lidar(ego[p, i])

    def flat_single():
        k = 0
        for p in range(poses):
            for i in range(n):
                fp.lidar(scene, maps[i:i + 1], ego[p, i:i + 1], angles, RANGE, one[k])
                k += 1

    batches = [fp.Cars(cars[p], count, half) for p in range(poses)]

    def flat_batched():
        for p in range(poses):
            fp.lidar(scene, maps, ego[p], angles, RANGE, batches[p])

    def bullet_contacts():
        total = 0.0
        for p in range(poses):
            for i in range(n):
                bullet[i].place(cars[p, i])
                t0 = time.perf_counter()
                bullet[i].contacts(ego[p, i], cars[p, i])
                total += time.perf_counter() - t0
        return total

    def flat_contacts_single():
        k = 0
        for p in range(poses):
            for i in range(n):
                fp.ego_contacts(scene, maps[i:i + 1], ego[p, i:i + 1], EGO_HALF, one[k])
                k += 1

    def flat_contacts_batched():
        for p in range(poses):
            fp.ego_contacts(scene, maps, ego[p], EGO_HALF, batches[p])

    calls = poses * n
    runs = {  # name: seconds of one run (the Bullet ones time their queries only)
        "bullet rays": bullet_rays_placed, "flat 1": lambda: timed(flat_single),
        "bullet rays+cars": lambda: timed(bullet_rays_and_cars),
        "flat N": lambda: timed(flat_batched), "bullet contacts": bullet_contacts,
        "flat contacts 1": lambda: timed(flat_contacts_single),
        "flat contacts N": lambda: timed(flat_contacts_batched)}
    seconds = {k: [] for k in runs}
    for _ in range(3):  # alternate the engines: load on shared cores drifts
        for k, run in runs.items():
            seconds[k].append(run())
    rate = {k: (calls * (1 if "contacts" in k else RAYS)) / float(np.median(v))
            for k, v in seconds.items()}
    rows = [("lidar, 1 city per call (rays/s)", rate["flat 1"], rate["bullet rays"]),
            (f"lidar, {n} cities per call (rays/s)", rate["flat N"], rate["bullet rays"]),
            ("lidar + placing 20 cars (rays/s)", rate["flat 1"], rate["bullet rays+cars"]),
            ("contacts, 1 city per call (egos/s)", rate["flat contacts 1"],
             rate["bullet contacts"]),
            (f"contacts, {n} cities per call (egos/s)", rate["flat contacts N"],
             rate["bullet contacts"])]
    print(f"{n} maps ({sum(s < NEW_SEED_BASE for s in seeds(n))} train, the rest new), "
          f"{poses} ego poses each, {RAYS} rays of {RANGE:g} m, {CARS} cars within 60 m; "
          f"median of 3 alternating runs (pybullet: one call per city)")
    print(f"{'':40s} {'footprints':>12s} {'pybullet':>12s} {'ratio':>8s}")
    for label, f, b in rows:
        print(f"{label:40s} {f:12,.0f} {b:12,.0f} {f / b:7.1f}x")
    print(f"{'scene build per map (ms)':40s} {build_flat * 1e3:12.2f} "
          f"{build_bullet * 1e3:12.2f} {build_bullet / build_flat:7.1f}x")
    print(f"buildings per map: {np.median([len(c.buildings) for c in cities]):.0f} (median); "
          f"grid cells of {fp.CELL:g} m: {scene.first_cell[-1] // n} per map, "
          f"{len(scene.cell_rects) / len(scene.rects):.1f} cells per building")

    if args.cells:
        print("\nfootprint lidar by grid cell size (rays/s, all cities per call):")
        for cell in (5.0, 8.0, 10.0, 15.0, 20.0, 30.0):
            sc = fp.city_scene(cities, cell)

            def run(sc=sc):
                for p in range(poses):
                    fp.lidar(sc, maps, ego[p], angles, RANGE, batches[p])

            run()
            t = float(np.median([timed(run) for _ in range(3)]))
            print(f"  cell {cell:4.0f} m: {calls * RAYS / t:14,.0f}")

    for b in bullet:
        b.world.close()

    if args.validate:
        import footprint_reference as ref

        vrng = np.random.default_rng(16)
        rays = ref.RayReport()
        contacts = ref.ContactReport()
        for seed in seeds(8):
            ref.compare_rays(seed, 391, 32, vrng, report=rays)
            ref.compare_contacts(seed, 2500, vrng, report=contacts)
        print("\nvalidation against Bullet:")
        print("  rays:", rays.summary())
        print("  largest |differences| (m) with the exact hit distance:",
              ", ".join(f"{d:.3f} at {t:.2f}" for d, t in rays.largest[:5]))
        print("  contacts:", contacts.summary())


if __name__ == "__main__":
    main()
