"""The compiled Dijkstra gives exactly the textbook heapq algorithm's costs and predecessors
(the reference below is the code it replaced), so every drive is drawn as before."""

import heapq

import numpy as np
import pytest

from moonshot.physics.city.generator import generate_city
from moonshot.physics.city.roads import CONNECTOR
from moonshot.physics.city.route import LANE_CHANGE_COST, shortest_costs


def _siblings(g, lane):
    base = g.road[lane] * g.lanes
    return [base + k for k in range(g.lanes) if base + k != lane]


def reference_costs(g, start_lane, start_s):
    n = g.n_lanes
    cost = np.full(n, np.inf)
    prev = -np.ones(n, dtype=np.int64)
    heap = []
    for k, lane in enumerate([start_lane] + _siblings(g, start_lane)):
        base = g.length[lane] - start_s + (LANE_CHANGE_COST if k else 0.0)
        for c in g.successors(lane):
            c = int(c)
            if base < cost[c]:
                cost[c] = base
                prev[c] = lane if k == 0 else -2 - lane
                heapq.heappush(heap, (base, c))
    while heap:
        d, lane = heapq.heappop(heap)
        if d > cost[lane]:
            continue
        nxt = [(int(x), d + g.length[lane]) for x in g.successors(lane)]
        if g.kind[lane] != CONNECTOR:
            nxt += [(sib, d + LANE_CHANGE_COST) for sib in _siblings(g, lane)]
        for x, dx in nxt:
            if dx < cost[x]:
                cost[x] = dx
                prev[x] = lane
                heapq.heappush(heap, (dx, x))
    return cost, prev


@pytest.mark.parametrize("seed", [0, 1, 7, 1_000_003, 1_000_011, 1_000_042])
def test_compiled_dijkstra_is_the_reference(seed):
    city = generate_city(seed)
    g = city.lanes
    rng = np.random.default_rng(seed)
    for k in rng.choice(len(city.spawn_lane), 25, replace=False):
        lane, s = int(city.spawn_lane[k]), float(city.spawn_s[k])
        c1, p1 = shortest_costs(g, lane, s)
        c2, p2 = reference_costs(g, lane, s)
        assert c1.tobytes() == c2.tobytes() and np.array_equal(p1, p2)
