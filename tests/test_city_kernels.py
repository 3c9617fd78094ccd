"""Kernel argument bundles: views share the city's arrays, and kernels read them by name
whether they come as NamedTuples or as plain tuples."""

from __future__ import annotations

import numpy as np

from moonshot.physics.city.ego import EgoParams, bicycle_step, bicycle_update
from moonshot.physics.city.generator import generate_city
from moonshot.physics.city.signals import light_state
from moonshot.physics.city.traffic import spawn_traffic, step_traffic, traffic_step


def test_views_share_the_arrays():
    city = generate_city(3)
    g, sg = city.lanes, city.signals
    assert all(getattr(g.arrays, f) is getattr(g, f) for f in g.arrays._fields)
    assert g.arrays is g.arrays  # built once per city
    assert sg.arrays.node_offset is sg.node_offset and sg.arrays.green == sg.green
    tr = spawn_traffic(city, 5, np.random.default_rng(0))
    assert all(getattr(tr.state, f) is getattr(tr, f) for f in tr.state._fields)


def test_kernels_take_views_or_plain_tuples():
    city = generate_city(1_000_004)
    rng = np.random.default_rng(4)
    a = spawn_traffic(city, 30, rng)
    b = a.copy()
    ego = np.array([*city.lane_pose(2, 15.0), 2.0])
    for k in range(50):
        rand = rng.random(a.n)
        step_traffic(city, a, 0.1 * k, 0.1, rand, ego)  # plain tuples
        traffic_step(b.state, b.idm, city.lanes.arrays, city.signals.arrays, ego, True, rand,
                     0.1 * k, 0.1, b.bold)  # NamedTuples
    assert np.array_equal(a.pose, b.pose) and np.array_equal(a.v, b.v)
    sg = city.signals
    node = int(np.argmax(sg.node_phases))
    assert light_state(sg.arrays, node, 0, 7.0) == light_state(tuple(sg.arrays), node, 0, 7.0)
    p = EgoParams()
    assert bicycle_step(1, 2, 0.3, 5, 1, 0.2, 0.1, p) == \
        bicycle_update(1.0, 2.0, 0.3, 5.0, 1.0, 0.2, 0.1, p.bicycle)
