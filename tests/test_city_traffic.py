"""Traffic never collides, stops for a car-like obstacle, and the bicycle model behaves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from moonshot.physics.city.ego import EgoParams, bicycle_step
from moonshot.physics.city.generator import generate_city
from moonshot.physics.city.traffic import (
    CAR_LENGTH,
    CAR_WIDTH,
    min_pair_clearance,
    spawn_traffic,
    step_traffic,
)


@pytest.mark.parametrize("seed", [0, 1, 1_000_004, 1_000_003])
def test_traffic_never_collides(seed):
    city = generate_city(seed)
    rng = np.random.default_rng(seed)
    tr = spawn_traffic(city, 40, rng)
    lanes_seen = set()
    moved = 0.0
    for k in range(2500):
        step_traffic(city, tr, 0.1 * k, 0.1, rng.random(tr.n))
        assert min_pair_clearance(tr.pose, tr.idm[CAR_LENGTH], tr.idm[CAR_WIDTH]) > 0.0, k
        lanes_seen.update(tr.lane.tolist())
        moved += tr.v.mean() * 0.1
    assert moved > 500.0  # traffic flows (about 5 m/s on average with the lights)
    assert len(lanes_seen) > 100
    assert np.all(tr.v >= 0) and np.all(tr.v <= tr.v0 + 1e-6)


def test_traffic_stops_behind_a_standing_ego():
    city = generate_city(2)
    g = city.lanes
    rng = np.random.default_rng(0)
    tr = spawn_traffic(city, 1, rng)
    lane = int(np.argmax(g.length[:g.n_road]))  # the longest road lane
    tr.lane[0], tr.s[0], tr.v[0] = lane, 5.0, 12.0
    x, y, h = city.lane_pose(lane, 60.0)
    ego = np.array([x, y, h, 0.0])
    for k in range(300):
        step_traffic(city, tr, 0.1 * k, 0.1, rng.random(1), ego)
        gap = math.hypot(tr.pose[0, 0] - x, tr.pose[0, 1] - y) - 4.5
        assert gap > 0.5
    assert tr.v[0] < 0.05 and tr.lane[0] == lane and 55.0 - tr.s[0] - 4.5 < 3.5


def test_bicycle_model():
    p = EgoParams()
    x = y = h = 0.0
    v = 10.0
    for _ in range(10):  # straight ahead for 1 s
        x, y, h, v = bicycle_step(x, y, h, v, 0.0, 0.0, 0.1, p)
    assert x == pytest.approx(10.0) and y == 0.0 and h == 0.0
    for _ in range(600):  # full left lock: a circle of radius wheelbase / tan(max_steer)
        x, y, h, v = bicycle_step(x, y, h, v, 0.0, p.max_steer, 0.01, p)
    beta = math.atan(p.rear_to_center / p.wheelbase * math.tan(p.max_steer))
    radius = p.rear_to_center / math.sin(beta)
    cx, cy = 10.0 - radius * math.sin(beta), radius * math.cos(beta)  # normal to the velocity
    assert math.hypot(x - cx, y - cy) == pytest.approx(radius, rel=0.02)
    x, y, h, v = bicycle_step(0, 0, 0, 1.0, -6.0, 0.0, 0.5, p)
    assert v == 0.0  # brakes to a stop, no reverse
