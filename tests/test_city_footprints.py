"""The footprint kernels (2D lidar and contacts) answer what Bullet answers, batched over
cities, and agree with themselves whatever the grid."""

from __future__ import annotations

import math

import footprint_reference as ref
import numpy as np
import pytest

from moonshot.physics.bullet import GROUP_CARS, BulletWorld
from moonshot.physics.city import footprints as fp
from moonshot.physics.city.generator import generate_city

TRAIN, NEW = (0, 1, 2, 3), (1_000_000, 1_000_001, 1_000_002, 1_000_003)


def _no_cars(n: int) -> fp.Cars:
    return fp.Cars(np.zeros((n, 0, 3)), np.zeros(n, dtype=np.int64), np.ones((n, 2)))


# ---------------------------------------------------------------------------- against Bullet
def test_rays_match_bullet():
    """100,000 random rays (32 per car configuration, origins half on the roads, half
    anywhere: about a fifth start inside a building or car) in 8 cities of both splits."""
    rng = np.random.default_rng(16)
    report = ref.RayReport()
    for seed in TRAIN + NEW:
        ref.compare_rays(seed, 391, 32, rng, report=report)
    print(report.summary())
    assert report.rays >= 100_000
    assert report.excluded < 1e-3 * report.rays
    assert report.origins_inside > 0.1 * report.rays
    assert report.hits > 0.8 * report.rays and report.car_hits > 0.3 * report.rays
    # Bullet's ray cast stops within about 1 mm of a surface (a GJK tolerance), which a
    # grazing ray turns into centimetres along it: every Bullet distance lies between the
    # exact ones for footprints grown and shrunk by 1 mm, and nearly all agree within 1 mm
    assert report.outside_bracket == 0
    assert report.agree_band >= 0.999 * (report.rays - report.excluded)
    assert report.agree_exact >= 0.99 * (report.rays - report.excluded)
    assert report.wrong_object == 0


def test_contacts_match_bullet():
    """4,000 ego poses next to buildings and cars (a quarter within 3 cm of touching), 20
    cars around each: same contacts except within 1 mm of touching."""
    rng = np.random.default_rng(17)
    report = ref.ContactReport()
    for seed in (1, 2, 1_000_001, 1_000_002):
        ref.compare_contacts(seed, 1000, rng, report=report)
    print(report.summary())
    assert report.touching > 0.05 * report.pairs
    assert report.disagree == []
    assert report.excluded < 0.02 * report.pairs


def test_bullet_ignores_a_box_around_the_ray_origin():
    """What the kernels copy: Bullet's ray from inside a box reports nothing for that box
    (not where it leaves it), but does report the boxes beyond; from outside, the entry."""
    w = BulletWorld()
    try:
        w.add_static_boxes(np.array([[0.0, 0.0, 5.0, 3.0, 0.4]]), np.array([10.0]))
        car = w.add_box_body(4.5, 1.8, 1.5, GROUP_CARS)
        w.set_pose(car, 20.0, 0.0, 0.75, 0.0)
        assert w.cast_rays([(0.5, 0.2, 0.75)], [(50.5, 0.2, 0.75)])[0] == pytest.approx(
            (20.0 - 2.25 - 0.5) / 50.0)
        assert w.cast_rays([(20.0, 0.0, 0.75)], [(70.0, 0.0, 0.75)])[0] == 1.0
        assert w.cast_rays([(30.0, 0.0, 0.75)], [(-20.0, 0.0, 0.75)])[0] == pytest.approx(
            7.75 / 50.0)
    finally:
        w.close()


# ---------------------------------------------------------------------------- semantics
def test_ray_semantics_on_one_box():
    scene = fp.build_scene(np.array([[0.0, 0.0, 5.0, 3.0, 0.0], [20.0, 0.0, 1.0, 1.0, 0.0]]))
    o = np.array([[[-20.0, 0.0], [0.0, 0.0], [-5.0, 1.0], [5.0, 0.5], [-20.0, 3.0],
                   [-20.0, 3.0 - 1e-9], [3.0, 0.0]]])
    d = np.array([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0],
                   [-1.0, 0.0]]])
    hits = fp.cast_rays(scene, [0], o, d, 50.0, _no_cars(1))
    # outside; inside (sees only the box beyond); on an edge going in; on an edge going
    # out; grazing along an edge; just inside the edge; inside, towards nothing
    np.testing.assert_allclose(hits.distance[0], [15.0, 19.0, 0.0, 14.0, 50.0, 15.0, 50.0])
    np.testing.assert_array_equal(hits.building[0], [0, 1, 0, 1, -1, 0, -1])
    assert (hits.car == fp.NO_HIT).all()


def test_cars_hide_buildings_and_report_their_index():
    scene = fp.build_scene(np.array([[30.0, 0.0, 5.0, 5.0, 0.0]]))
    cars = fp.Cars.single([[100.0, 100.0, 0.0], [10.0, 0.0, math.pi / 2], [0.0, 0.0, 0.0]],
                          (2.25, 0.9))
    # origin inside car 2: it sees car 1 (heading north: 0.9 m half-width along x) first
    hits = fp.lidar(scene, [0], [[0.0, 0.0, 0.0]], [0.0, math.pi / 2], 50.0, cars)
    np.testing.assert_allclose(hits.distance[0], [10.0 - 0.9, 50.0])
    np.testing.assert_array_equal(hits.car[0], [1, -1])
    np.testing.assert_array_equal(hits.building[0], [-1, -1])
    # fewer live cars than rows: car 1 is not counted, the building is hit
    cars = cars._replace(count=np.array([1]))
    hits = fp.lidar(scene, [0], [[0.0, 0.0, 0.0]], [0.0], 50.0, cars)
    assert hits.distance[0, 0] == pytest.approx(25.0) and hits.building[0, 0] == 0


@pytest.mark.parametrize("cell", [3.0, 10.0, 37.0])
def test_grid_walk_equals_brute_force(cell):
    """Any cell size gives the answer of one cell holding everything, for rays from inside,
    from outside the grid and leaving it, in maps of both splits stacked in one scene."""
    cities = [generate_city(s) for s in (0, 1_000_001, 3)]
    scene = fp.city_scene(cities, cell)
    brute = fp.city_scene(cities, 1e5)
    rng = np.random.default_rng(int(cell))
    n, r = 60, 64
    city_map = rng.integers(len(cities), size=n)
    lo = np.array([cities[m].bounds[:2] for m in city_map]) - 100.0
    hi = np.array([cities[m].bounds[2:] for m in city_map]) + 100.0
    origins = lo[:, None] + rng.random((n, r, 2)) * (hi - lo)[:, None]
    a = rng.uniform(0, 2 * np.pi, (n, r))
    a[:, :8] = np.pi / 2 * rng.integers(4, size=(n, 8))  # along the grid lines' directions
    directions = np.stack([np.cos(a), np.sin(a)], -1)
    pose = origins[:, :20, :] + rng.uniform(-8, 8, (n, 20, 2))  # around some ray origins
    cars = fp.Cars(np.dstack([pose, a[:, 20:40]]), rng.integers(0, 21, n),
                   np.tile([2.25, 0.9], (n, 1)))
    max_range = rng.uniform(20, 400, (n, r))
    got = fp.cast_rays(scene, city_map, origins, directions, max_range, cars)
    want = fp.cast_rays(brute, city_map, origins, directions, max_range, cars)
    for a_, b_ in zip(got, want, strict=True):
        np.testing.assert_array_equal(a_, b_)
    assert (got.building >= 0).mean() > 0.3 and (got.car >= 0).sum() > 50
    # one city at a time: the same
    for i in range(0, n, 7):
        m = city_map[i]
        one = fp.cast_rays(fp.build_scene(cities[m].buildings, cell), [0], origins[i:i + 1],
                           directions[i:i + 1], max_range[i:i + 1],
                           fp.Cars(cars.pose[i:i + 1], cars.count[i:i + 1], cars.half[i:i + 1]))
        for a_, b_ in zip(one, got, strict=True):
            np.testing.assert_array_equal(a_[0], b_[i])
    # contacts too
    ego = np.column_stack([origins[:, 0], a[:, 0]])
    c1 = fp.ego_contacts(scene, city_map, ego, (2.25, 0.9), cars)
    c2 = fp.ego_contacts(brute, city_map, ego, (2.25, 0.9), cars)
    np.testing.assert_array_equal(c1.building, c2.building)
    np.testing.assert_array_equal(c1.car, c2.car)


def test_lidar_is_cast_rays_from_the_ego():
    city = generate_city(2)
    scene = fp.build_scene(city.buildings)
    rng = np.random.default_rng(3)
    n, angles = 16, np.linspace(0, 2 * np.pi, 32, endpoint=False)
    k = rng.integers(len(city.spawn_lane), size=n)
    ego = np.array([city.lane_pose(int(city.spawn_lane[q]), float(city.spawn_s[q]))
                    for q in k])
    cars = fp.Cars(np.stack([ref.random_cars(rng, e, 20, 30.0) for e in ego]),
                   np.full(n, 20), np.tile(ref.CAR_HALF, (n, 1)))
    hits = fp.lidar(scene, np.zeros(n, dtype=int), ego, angles, 50.0, cars)
    h = ego[:, 2:3] + angles
    rays = fp.cast_rays(scene, np.zeros(n, dtype=int), np.repeat(ego[:, None, :2], 32, 1),
                        np.stack([np.cos(h), np.sin(h)], -1), 50.0, cars)
    np.testing.assert_allclose(hits.distance, rays.distance, rtol=1e-12)  # rounding only
    np.testing.assert_array_equal(hits.building, rays.building)
    np.testing.assert_array_equal(hits.car, rays.car)


def test_contact_semantics():
    scene = fp.build_scene(np.array([[0.0, 0.0, 5.0, 3.0, 0.0], [0.0, 20.0, 5.0, 3.0, 0.0]]))
    cars = fp.Cars.single([[30.0, 0.0, 0.0], [0.0, 10.0, 0.0]], (2.25, 0.9))
    ego = np.array([[7.25, 0.0, 0.0],  # face to face with building 0: touching counts
                    [7.25 + 1e-9, 0.0, 0.0],  # a nanometre apart
                    [25.5, 0.3, 0.0],  # overlapping car 0 by 0.5 m
                    [0.0, 8.0, 0.0],  # between building 1 and car 1, touching neither
                    [0.0, 16.5, 0.0],  # overlapping building 1 and car 1? car 1: 1.6 m off
                    [2.0, 11.0, 0.3]])  # overlapping car 1
    n = len(ego)
    c = fp.ego_contacts(scene, np.zeros(n, dtype=int), ego, (2.25, 0.9),
                        fp.Cars(np.repeat(cars.pose, n, 0), np.full(n, 2),
                                np.repeat(cars.half, n, 0)))
    np.testing.assert_array_equal(c.building, [0, -1, -1, -1, 1, -1])
    np.testing.assert_array_equal(c.car, [[0, 0], [0, 0], [1, 0], [0, 0], [0, 0], [0, 1]])
    assert [c.kind(i) for i in range(n)] == ["building", None, "car", None, "building", "car"]


def test_bad_input_is_named():
    scene = fp.build_scene(np.zeros((0, 5)))
    with pytest.raises(ValueError, match="city_map"):
        fp.lidar(scene, [1], [[0.0, 0.0, 0.0]], [0.0], 50.0, _no_cars(1))
    with pytest.raises(ValueError, match="cars"):
        fp.lidar(scene, [0, 0], np.zeros((2, 3)), [0.0], 50.0, _no_cars(1))
    with pytest.raises(ValueError, match="origins"):
        fp.cast_rays(scene, [0], np.zeros((1, 3, 2)), np.zeros((1, 2, 2)), 50.0, _no_cars(1))
    hits = fp.lidar(scene, [0], [[0.0, 0.0, 0.0]], [0.0, 1.0], 50.0, _no_cars(1))
    assert (hits.distance == 50.0).all() and (hits.building == -1).all()
