"""Property tests of the city generator: valid, connected, routable, buildings off the roads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moonshot.physics.city.generator import (
    NEW_SEED_BASE,
    CityParams,
    city_params,
    generate_city,
)
from moonshot.physics.city.geometry import rect_corners, rect_segment_distance
from moonshot.physics.city.roads import CONNECTOR, roads_strongly_connected
from moonshot.physics.city.route import plan_route, shortest_costs

seeds = st.one_of(st.integers(0, 999), st.integers(NEW_SEED_BASE, 2**31 - 2))


def _check_city(city):
    g = city.lanes
    n = len(city.nodes)
    assert np.bincount(city.edges.ravel(), minlength=n).min() >= 2  # no dead ends
    assert roads_strongly_connected(g, len(city.road_from))
    for lane in range(g.n_road):  # every lane has a way out, and connectors join the lanes
        succ = g.successors(lane)
        assert len(succ) >= 1
        assert np.all(g.kind[succ] == CONNECTOR) and np.all(g.src[succ] == lane)
        for c in succ:
            assert np.allclose(g.pts[c, 0], g.pts[lane, -1])
            assert np.allclose(g.pts[c, -1], g.pts[g.dst[c], 0])
    assert np.all(g.length > 0)
    span = np.ptp(city.nodes, axis=0)
    assert 250 < span.max() < 1400
    # buildings clear the carriageway and its sidewalk
    p = city.params
    b = city.buildings
    corners = rect_corners(b[:, 0], b[:, 1], b[:, 2], b[:, 3], b[:, 4])
    for ax, ay, bx, by in city.road_segments:
        near = np.hypot(b[:, 0] - (ax + bx) / 2, b[:, 1] - (ay + by) / 2) < 200
        for c in corners[near]:
            assert rect_segment_distance(c, ax, ay, bx, by) >= p.half_width + p.sidewalk - 1e-6
    assert len(b) > 50


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, data=st.data())
def test_every_city_is_valid_and_routable(seed, data):
    city = generate_city(seed)
    _check_city(city)
    # every start/goal pair has a route: random pairs of spawn points
    g = city.lanes
    k = len(city.spawn_lane)
    for _ in range(3):
        i = data.draw(st.integers(0, k - 1))
        costs = shortest_costs(g, int(city.spawn_lane[i]), float(city.spawn_s[i]))
        assert np.all(np.isfinite(costs[0]))
        j = data.draw(st.integers(0, k - 1))
        route = plan_route(g, int(city.spawn_lane[i]), float(city.spawn_s[i]),
                           int(city.spawn_lane[j]), float(city.spawn_s[j]), costs=costs)
        assert np.allclose(route.points[0], city.lane_pose(city.spawn_lane[i],
                                                           city.spawn_s[i])[:2])
        assert np.allclose(route.goal, city.lane_pose(city.spawn_lane[j],
                                                      city.spawn_s[j])[:2])
        gaps = np.linalg.norm(np.diff(route.points, axis=0), axis=1)
        assert gaps.max() < 2.0  # continuous


@pytest.mark.parametrize("style", ["grid", "irregular"])
@pytest.mark.parametrize("lanes", [1, 2])
def test_styles_and_lanes(style, lanes):
    p = CityParams(style=style, lanes=lanes, block_min=70, block_max=130,
                   jitter=10 if style == "irregular" else 0,
                   missing_streets=0.15 if style == "irregular" else 0,
                   diagonals=0.15 if style == "irregular" else 0)
    city = generate_city(123, p)
    _check_city(city)
    assert city.lanes.lanes == lanes


def test_pure_and_styles_differ():
    a, b = generate_city(4), generate_city(4)
    assert np.array_equal(a.nodes, b.nodes) and np.array_equal(a.buildings, b.buildings)
    assert city_params(0).style == "grid" and city_params(1).style == "irregular"
    grid = generate_city(0)
    # a grid has only right angles; an irregular city has oblique roads
    d = grid.nodes[grid.edges[:, 1]] - grid.nodes[grid.edges[:, 0]]
    assert np.all(np.min(np.abs(d), axis=1) < 1e-9)
    irr = generate_city(1)
    d = irr.nodes[irr.edges[:, 1]] - irr.nodes[irr.edges[:, 0]]
    assert np.any(np.min(np.abs(d), axis=1) > 1.0)
    with pytest.raises(ValueError, match="style"):
        generate_city(0, CityParams(style="radial"))


def test_layouts_with_too_short_roads_are_redrawn():
    # These held-out seeds once drew a road too short for its stop lines and crashed a
    # training run's evaluation; they must now give valid cities, deterministically.
    from moonshot.physics.city.generator import generate_city

    for seed in (1000156, 1000167, 1000174, 1000281, 1000728, 1001383):
        a, b = generate_city(seed), generate_city(seed)
        assert np.array_equal(a.edges, b.edges) and len(a.spawn_lane) > 0
